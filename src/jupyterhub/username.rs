//! JupyterHub usernames as KubeSpawner puts them into pod names and labels.
//!
//! KubeSpawner's (legacy, still default for existing deployments) scheme is
//! `escapism.escape(name, safe=a-z0-9, escape_char='-').lower()`: every
//! character outside `[a-z0-9]` becomes `-` followed by the two hex digits
//! of each of its UTF-8 bytes, so `bob.jones` → `bob-2ejones` and the pod is
//! `jupyter-bob-2ejones`. Support people type the name users know; opsbot
//! finds the pod.

use std::fmt;

/// KubeSpawner's escaping of a username (see the module doc).
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

/// A JupyterHub username, raw and escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// As JupyterHub knows it (`bob.jones`).
    pub raw: String,
    /// As it appears in pod names and labels (`bob-2ejones`).
    pub escaped: String,
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
}

/// Characters JupyterHub names never hold that would split or re-route a
/// URL (`a/b`, `%2e%2e`, `x?y`, `x#y`, `a\b`).
const RESERVED: &[char] = &['/', '\\', '%', '?', '#'];

impl Username {
    /// Check and escape.
    pub fn new(raw: &str) -> Result<Username, UsernameError> {
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
        if let Some(c) = raw.chars().find(|c| RESERVED.contains(c)) {
            return Err(UsernameError::Reserved(c));
        }
        Ok(Username {
            raw: raw.to_string(),
            escaped: escape_username(raw),
        })
    }

    /// The user's default server pod: `jupyter-<escaped>`.
    pub fn pod_name(&self) -> String {
        format!("jupyter-{}", self.escaped)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
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

    #[test]
    fn usernames_make_pod_names_and_reject_garbage() {
        let u = Username::new("bob.jones").unwrap();
        assert_eq!(u.pod_name(), "jupyter-bob-2ejones");
        assert_eq!(Username::new(""), Err(UsernameError::Empty));
        assert_eq!(Username::new("a b"), Err(UsernameError::Control));
    }
}
