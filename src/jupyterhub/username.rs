//! JupyterHub usernames as KubeSpawner puts them into pod names and labels.
//!
//! KubeSpawner has had two slug schemes (its `kubespawner/slugs.py`), and a
//! fleet runs both side by side:
//!
//! - `escape` (KubeSpawner <= 6, z2jh 3.x, and 7 with `slug_scheme="escape"`):
//!   `escapism.escape(name, safe=a-z0-9, escape_char='-').lower()`: every
//!   character outside `[a-z0-9]` becomes `-` followed by the two hex digits
//!   of each of its UTF-8 bytes, so `bob.jones` -> `bob-2ejones`.
//! - `safe` (KubeSpawner 7, z2jh 4.x): a name that is already valid is kept
//!   (`bob-smith`), any other becomes `<stripped>---<first 8 hex of
//!   sha256(name)>` (`jo.doe@uni.org` -> `jo-doe-uni-org---80507681`); what
//!   is valid differs between object names (pods) and label values.
//!
//! Every release also writes the raw name into the annotation
//! `hub.jupyter.org/username`, which is what [`super::server_pod`] looks at
//! first. Support people type the name users know; opsbot finds the pod.

use std::fmt;

/// KubeSpawner's `escape` slug of a name (see the module doc).
pub fn escape_username(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("-{b:02x}"));
            }
        }
    }
    out
}

/// Length of the hash suffix of a `safe` slug.
const HASH_LENGTH: usize = 8;

/// What a `safe` slug must be valid as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugKind {
    /// An object name (RFC 1035 and 1123 DNS label): pod and PVC names.
    Object,
    /// A label value: `hub.jupyter.org/username` and `.../servername`.
    Label,
}

/// A `safe` slug cannot be made that short (KubeSpawner raises `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot make safe names shorter than 12 characters (asked for {0})")]
pub struct SlugTooShort(pub usize);

fn is_valid(kind: SlugKind, s: &str) -> bool {
    let n = s.chars().count();
    match kind {
        SlugKind::Object => {
            (1..=63).contains(&n)
                && s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        SlugKind::Label => {
            s.is_empty()
                || (n <= 63
                    && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        }
    }
}

/// The lower-cased name with every run of characters outside `[a-z0-9]`
/// replaced by one `-`, cut to `max_length`, starting with a letter, never
/// empty (KubeSpawner's `_extract_safe_name`).
fn extract_safe_name(name: &str, max_length: usize) -> String {
    let lower = name.to_lowercase();
    let mut replaced = String::with_capacity(lower.len());
    let mut in_run = false;
    for c in lower.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            replaced.push(c);
            in_run = false;
        } else if !in_run {
            replaced.push('-');
            in_run = true;
        }
    }
    // All ASCII from here on, so byte slicing is character slicing.
    let trimmed = replaced.trim_start_matches('-');
    let mut safe = trimmed[..trimmed.len().min(max_length)]
        .trim_end_matches('-')
        .to_string();
    if !safe.is_empty() && !safe.starts_with(|c: char| c.is_ascii_lowercase()) {
        let keep = max_length.saturating_sub(2).min(safe.len());
        safe = format!("x-{}", &safe[..keep]);
    }
    if safe.is_empty() {
        safe.push('x');
    }
    safe
}

/// `<stripped>---<hash>` in at most `max_length` characters (`strip_and_hash`).
fn strip_and_hash(name: &str, max_length: usize) -> Result<String, SlugTooShort> {
    use sha2::{Digest, Sha256};
    let name_length = max_length
        .checked_sub(HASH_LENGTH + 3)
        .filter(|n| *n >= 1)
        .ok_or(SlugTooShort(max_length))?;
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    Ok(format!(
        "{}---{}",
        extract_safe_name(name, name_length),
        &hash[..HASH_LENGTH]
    ))
}

/// KubeSpawner 7's `safe_slug(name, is_valid, max_length)`: the name itself
/// when it is valid (and short enough) and holds no `--`, else the stripped
/// name and a hash (32 characters at most unless `max_length` says otherwise).
pub fn safe_slug_with(
    name: &str,
    kind: SlugKind,
    max_length: Option<usize>,
) -> Result<String, SlugTooShort> {
    if !name.contains("--")
        && is_valid(kind, name)
        && max_length.is_none_or(|m| name.chars().count() <= m)
    {
        return Ok(name.to_string());
    }
    strip_and_hash(name, max_length.unwrap_or(32))
}

/// The `safe` slug with KubeSpawner's defaults (never too short to fail).
pub fn safe_slug(name: &str, kind: SlugKind) -> String {
    safe_slug_with(name, kind, None).unwrap_or_else(|_| name.to_string())
}

/// KubeSpawner 7's `{user_server}` under the `safe` scheme, as used in pod
/// and PVC names: the user's slug, `--` and the server's when there is one
/// (both at most 48 characters), hashed as one when that gets too long.
pub fn safe_user_server(user: &str, server: &str) -> String {
    const MAX: usize = 48;
    let user_slug = safe_slug_with(user, SlugKind::Object, Some(MAX)).unwrap_or_default();
    if server.is_empty() {
        return user_slug;
    }
    let server_slug = safe_slug_with(server, SlugKind::Object, Some(MAX)).unwrap_or_default();
    let joined = format!("{user_slug}--{server_slug}");
    if joined.len() > MAX {
        multi_slug(&[user, server], MAX)
    } else {
        joined
    }
}

/// KubeSpawner's `multi_slug`: components joined by `--`, one hash of all
/// of them (separated by the byte 0xFF) at the end.
fn multi_slug(names: &[&str], max_length: usize) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            hasher.update([0xFF]);
        }
        hasher.update(n.as_bytes());
    }
    let hash = hex::encode(hasher.finalize());
    let per_name = (max_length - (HASH_LENGTH + 1)) / names.len();
    let parts: Vec<String> = names
        .iter()
        .map(|n| extract_safe_name(n, per_name.saturating_sub(2).max(2)))
        .collect();
    format!("{}---{}", parts.join("--"), &hash[..HASH_LENGTH])
}

/// A JupyterHub username as typed, with the server it names (`alice:gpu`
/// is user `alice`, named server `gpu`) and its `escape` slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// As JupyterHub knows it (`bob.jones`), without the server part.
    pub raw: String,
    /// As the `escape` scheme puts it in pod names and labels (`bob-2ejones`).
    pub escaped: String,
    /// The named server after `:`; `None` for the default server.
    pub server: Option<String>,
}

/// Why a username cannot be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username cannot be empty")]
    Empty,
    #[error("a username cannot contain control characters or spaces")]
    Control,
    #[error("a username is at most 255 characters")]
    TooLong,
    /// `.` and `..` are path steps, not names: in the hub's API URL
    /// (`/users/../server`) they would address another resource.
    #[error("`.` and `..` are not usernames")]
    DotSegment,
    /// Characters that mean something in a URL path or query, so a name
    /// holding one could not be the name JupyterHub stores.
    #[error("a username cannot contain `{0}`")]
    Reserved(char),
    /// The part after `:` in `user:server` is not a server name.
    #[error("the server name after `:` is not one ({0}); write user:server such as alice:gpu")]
    Server(Box<UsernameError>),
}

/// Characters JupyterHub names never hold that would split or re-route a
/// URL (`a/b`, `%2e%2e`, `x?y`, `x#y`, `a\b`).
const RESERVED: &[char] = &['/', '\\', '%', '?', '#'];

impl Username {
    /// Check and escape; `user:server` names a named server.
    pub fn new(input: &str) -> Result<Username, UsernameError> {
        let (raw, server) = match input.split_once(':') {
            Some((user, server)) => {
                check(server).map_err(|e| UsernameError::Server(Box::new(e)))?;
                (user, Some(server.to_string()))
            }
            None => (input, None),
        };
        check(raw)?;
        Ok(Username {
            raw: raw.to_string(),
            escaped: escape_username(raw),
            server,
        })
    }

    /// The names JupyterHub may have stored for what was typed: as typed,
    /// then lower-cased (JupyterHub's default `normalize_username`).
    pub fn candidates(&self) -> Vec<String> {
        let mut out = vec![self.raw.clone()];
        let lower = self.raw.to_lowercase();
        if lower != self.raw {
            out.push(lower);
        }
        out
    }

    /// The server name, `""` for the default server.
    pub fn server_name(&self) -> &str {
        self.server.as_deref().unwrap_or("")
    }

    /// The user's server pod under the `escape` scheme:
    /// `jupyter-<escaped>` or `jupyter-<escaped>--<escaped server>`.
    pub fn pod_name(&self) -> String {
        match &self.server {
            Some(s) => format!("jupyter-{}--{}", self.escaped, escape_username(s)),
            None => format!("jupyter-{}", self.escaped),
        }
    }

    /// What playbook templates see as a `user` parameter:
    /// `{name, escaped, pod, server, input}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.raw,
            "escaped": self.escaped,
            "pod": self.pod_name(),
            "server": self.server_name(),
            "input": self.display(),
        })
    }

    /// `alice` or `alice:gpu`, as typed.
    pub fn display(&self) -> String {
        match &self.server {
            Some(s) => format!("{}:{s}", self.raw),
            None => self.raw.clone(),
        }
    }
}

/// The checks every username (and server name) passes.
fn check(raw: &str) -> Result<(), UsernameError> {
    if raw.is_empty() {
        return Err(UsernameError::Empty);
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(UsernameError::Control);
    }
    if raw.chars().count() > 255 {
        return Err(UsernameError::TooLong);
    }
    if raw == "." || raw == ".." {
        return Err(UsernameError::DotSegment);
    }
    if let Some(c) = raw.chars().find(|c| RESERVED.contains(c) || *c == ':') {
        return Err(UsernameError::Reserved(c));
    }
    Ok(())
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_rewrite_the_hub_api_path_are_refused() {
        for bad in [".", "..", "a/b", "%2e%2e", "", "x?y", "x#y", "a\\b"] {
            assert!(Username::new(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Username::new(&"a".repeat(300)), Err(UsernameError::TooLong));
        for good in ["bob.jones", "carol@uni.edu", "josé", "名", "...x", "a-b"] {
            assert!(Username::new(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn safe_names_are_unchanged() {
        assert_eq!(escape_username("alice"), "alice");
        assert_eq!(escape_username("user42"), "user42");
    }

    #[test]
    fn punctuation_is_hex_escaped_like_kubespawner() {
        assert_eq!(escape_username("bob.jones"), "bob-2ejones");
        assert_eq!(escape_username("carol@uni.edu"), "carol-40uni-2eedu");
        assert_eq!(
            escape_username("a-b"),
            "a-2db",
            "the escape character itself is escaped"
        );
        assert_eq!(escape_username("a_b"), "a-5fb");
    }

    #[test]
    fn uppercase_is_escaped_then_lowercased() {
        assert_eq!(escape_username("Alice"), "-41lice");
    }

    #[test]
    fn non_ascii_escapes_each_utf8_byte() {
        assert_eq!(escape_username("josé"), "jos-c3-a9");
        assert_eq!(escape_username("名"), "-e5-90-8d");
    }

    /// `tests/test_slugs.py::test_safe_slug` of jupyterhub/kubespawner.
    #[test]
    fn safe_slugs_match_kubespawners_own_examples() {
        let x = |n: usize| "x".repeat(n);
        let cases: Vec<(String, String)> = vec![
            ("jupyter-alex".into(), "jupyter-alex".into()),
            ("jupyter-Alex".into(), "jupyter-alex---3a1c285c".into()),
            ("jupyter-üni".into(), "jupyter-ni---a5aaf5dd".into()),
            ("endswith-".into(), "endswith---165f1166".into()),
            ("-start".into(), "start---f587e2dc".into()),
            (
                "username--servername".into(),
                "username-servername---d957f1de".into(),
            ),
            (
                "start---f587e2dc".into(),
                "start-f587e2dc---cc5bb9c9".into(),
            ),
            (x(63), x(63)),
            (x(64), "xxxxxxxxxxxxxxxxxxxxx---7ce10097".into()),
            (x(65), "xxxxxxxxxxxxxxxxxxxxx---9537c5fd".into()),
            ("".into(), "x---e3b0c442".into()),
        ];
        for (name, expected) in cases {
            assert_eq!(safe_slug(&name, SlugKind::Object), expected, "{name:?}");
        }
    }

    /// `test_safe_slug_max_length`.
    #[test]
    fn safe_slugs_respect_a_maximum_length_like_kubespawner() {
        let x = |n: usize| "x".repeat(n);
        assert_eq!(
            safe_slug_with(&x(16), SlugKind::Object, Some(16)).unwrap(),
            x(16)
        );
        assert_eq!(
            safe_slug_with(&x(17), SlugKind::Object, Some(16)).unwrap(),
            "xxxxx---d04fd59f"
        );
        assert_eq!(
            safe_slug_with(&x(16), SlugKind::Object, Some(11)),
            Err(SlugTooShort(11))
        );
        assert_eq!(
            safe_slug_with(&x(16), SlugKind::Object, Some(12)).unwrap(),
            "x---9c572959"
        );
    }

    /// `test_safe_slug_label`.
    #[test]
    fn safe_label_slugs_match_kubespawners_own_examples() {
        let x = |n: usize| "x".repeat(n);
        let cases: Vec<(String, String)> = vec![
            ("".into(), "".into()),
            ("x".into(), "x".into()),
            ("-x".into(), "x---a4209624".into()),
            ("x-".into(), "x---c8b60efc".into()),
            (x(63), x(63)),
            (x(64), "xxxxxxxxxxxxxxxxxxxxx---7ce10097".into()),
            (x(65), "xxxxxxxxxxxxxxxxxxxxx---9537c5fd".into()),
        ];
        for (name, expected) in cases {
            assert_eq!(safe_slug(&name, SlugKind::Label), expected, "{name:?}");
        }
    }

    #[test]
    fn the_issues_examples_slug_as_z2jh_4_does() {
        assert_eq!(safe_slug("bob-smith", SlugKind::Object), "bob-smith");
        assert_eq!(
            safe_slug("jo.doe@uni.org", SlugKind::Label),
            "jo-doe-uni-org---80507681"
        );
        // Dots are valid in a label value, not in an object name.
        assert_eq!(safe_slug("bob.smith", SlugKind::Label), "bob.smith");
        assert!(safe_slug("bob.smith", SlugKind::Object).starts_with("bob-smith---"));
        assert_eq!(safe_user_server("alice", "gpu"), "alice--gpu");
        assert_eq!(safe_user_server("alice", ""), "alice");
    }

    #[test]
    fn a_named_server_is_split_off_and_checked_too() {
        let u = Username::new("alice:gpu").unwrap();
        assert_eq!(
            (u.raw.as_str(), u.server.as_deref()),
            ("alice", Some("gpu"))
        );
        assert_eq!(u.pod_name(), "jupyter-alice--gpu");
        assert_eq!(u.to_string(), "alice:gpu");
        assert!(matches!(
            Username::new("alice:"),
            Err(UsernameError::Server(_))
        ));
        assert!(Username::new("alice:a:b").is_err());
        assert!(Username::new(":gpu").is_err());
    }

    #[test]
    fn upper_case_input_is_also_tried_lower_cased() {
        let u = Username::new("Alice").unwrap();
        assert_eq!(u.candidates(), ["Alice", "alice"]);
        assert_eq!(Username::new("bob").unwrap().candidates(), ["bob"]);
    }

    #[test]
    fn usernames_make_pod_names_and_reject_garbage() {
        let u = Username::new("bob.jones").unwrap();
        assert_eq!(u.pod_name(), "jupyter-bob-2ejones");
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(Username::new("a b"), Err(UsernameError::Control));
    }
}
