//! Which pod (and which PVCs) are a user's server, however the hub named it.
//!
//! A fleet mixes KubeSpawner releases and settings, so one user's pod may be
//! found by any of these, tried in this order:
//!
//! 1. the annotation `hub.jupyter.org/username`, the raw name in every
//!    release (as typed, then lower-cased as JupyterHub normalises it);
//! 2. the label `hub.jupyter.org/username` under the `escape` scheme
//!    (KubeSpawner <= 6) and under the `safe` scheme (KubeSpawner 7);
//! 3. the object name (`jupyter-<slug>` for pods, `claim-<slug>` for PVCs)
//!    under either scheme, for deployments that removed the label and
//!    predate the annotation.
//!
//! The server is matched the same way: the annotation
//! `hub.jupyter.org/servername` (absent for the default server), else the
//! label of that name, else the `--<server>` suffix of the object name.
//! When nothing matches, [`Lookup::tried`] says what was looked for and
//! [`closest`] names the users that do have objects, nearest first.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::username::{escape_username, safe_slug, safe_user_server, SlugKind, Username};

/// The annotation (and label) carrying the user name.
pub const USERNAME_KEY: &str = "hub.jupyter.org/username";
/// The annotation (and label) carrying the server name.
pub const SERVERNAME_KEY: &str = "hub.jupyter.org/servername";

/// How an object was recognised as the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    Annotation,
    EscapeLabel,
    SafeLabel,
    Name,
}

impl How {
    /// For people: "annotation hub.jupyter.org/username".
    pub fn describe(self) -> &'static str {
        match self {
            How::Annotation => "annotation hub.jupyter.org/username",
            How::EscapeLabel => "label hub.jupyter.org/username (KubeSpawner <= 6 escape scheme)",
            How::SafeLabel => "label hub.jupyter.org/username (KubeSpawner 7 safe scheme)",
            How::Name => "object name",
        }
    }
}

/// What a user's objects may look like, computed once per lookup.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// Raw names (as typed, lower-cased).
    names: Vec<String>,
    escape_labels: Vec<String>,
    safe_labels: Vec<String>,
    server: String,
    server_labels: Vec<String>,
    /// `<slug>` and `<slug>--<server slug>` forms, without the `jupyter-`/`claim-` prefix.
    name_slugs: Vec<String>,
}

impl Lookup {
    pub fn new(user: &Username) -> Lookup {
        let names = user.candidates();
        let server = user.server_name().to_string();
        let escape_labels = dedup(names.iter().map(|n| escape_username(n)));
        let safe_labels = dedup(names.iter().map(|n| safe_slug(n, SlugKind::Label)));
        let server_labels = if server.is_empty() {
            vec![String::new()]
        } else {
            dedup(
                [
                    escape_username(&server),
                    safe_slug(&server, SlugKind::Label),
                ]
                .into_iter(),
            )
        };
        let name_slugs = dedup(names.iter().flat_map(|n| {
            let escaped = escape_username(n);
            let escaped = if server.is_empty() {
                escaped
            } else {
                format!("{escaped}--{}", escape_username(&server))
            };
            [escaped, safe_user_server(n, &server)]
        }));
        Lookup {
            names,
            escape_labels,
            safe_labels,
            server,
            server_labels,
            name_slugs,
        }
    }

    /// How `meta` belongs to this user's server, if it does. `prefix` is
    /// the object-name prefix of its kind (`jupyter-` for pods, `claim-` for
    /// PVCs); `with_server`: whether the object is per server (pods) or per
    /// user (a home PVC is shared by every server of the user unless named
    /// per server).
    pub fn matches(&self, meta: &ObjectMeta, prefix: &str, with_server: bool) -> Option<How> {
        let annotation = meta.annotations.as_ref().and_then(|a| a.get(USERNAME_KEY));
        let label = meta.labels.as_ref().and_then(|l| l.get(USERNAME_KEY));
        let user = if let Some(a) = annotation {
            self.names.iter().any(|n| n == a).then_some(How::Annotation)
        } else if let Some(l) = label {
            if self.escape_labels.contains(l) {
                Some(How::EscapeLabel)
            } else if self.safe_labels.contains(l) {
                Some(How::SafeLabel)
            } else {
                None
            }
        } else {
            None
        };
        match user {
            Some(how) if !with_server || self.server_matches(meta) => Some(how),
            Some(_) => None,
            None if annotation.is_none() && label.is_none() => self.name_matches(meta, prefix),
            None => None,
        }
    }

    fn server_matches(&self, meta: &ObjectMeta) -> bool {
        let annotation = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(SERVERNAME_KEY));
        let label = meta.labels.as_ref().and_then(|l| l.get(SERVERNAME_KEY));
        match (annotation, label) {
            (Some(a), _) => *a == self.server,
            (None, Some(l)) => self.server_labels.contains(l),
            // KubeSpawner <= 6 wrote no server label, and a named server
            // always has the annotation: the object name decides.
            (None, None) => {
                let name = meta.name.as_deref().unwrap_or("");
                if self.server.is_empty() {
                    // `---<hash>` ends a safe slug; `--<server>` a named server.
                    let unhashed = match name.rsplit_once("---") {
                        Some((head, hash)) if hash.len() == 8 => head,
                        _ => name,
                    };
                    !unhashed.contains("--")
                } else {
                    self.server_labels
                        .iter()
                        .any(|s| name.ends_with(&format!("--{s}")))
                }
            }
        }
    }

    fn name_matches(&self, meta: &ObjectMeta, prefix: &str) -> Option<How> {
        let rest = meta.name.as_deref()?.strip_prefix(prefix)?;
        self.name_slugs
            .iter()
            .any(|s| s == rest)
            .then_some(How::Name)
    }

    /// The pod names the user's server may have had (`jupyter-<slug>`
    /// under either scheme): what events about a pod that is gone name.
    pub fn pod_names(&self) -> Vec<String> {
        self.name_slugs
            .iter()
            .map(|s| format!("jupyter-{s}"))
            .collect()
    }

    /// Whether a log line is about this user: it holds a raw name as a
    /// word, or one of the pod names.
    pub fn mentioned_in(&self, line: &str) -> bool {
        self.pod_names().iter().any(|p| line.contains(p.as_str()))
            || self.names.iter().any(|n| {
                line.match_indices(n.as_str()).any(|(at, _)| {
                    let before = line[..at].chars().next_back();
                    let after = line[at + n.len()..].chars().next();
                    let edge = |c: Option<char>| {
                        c.is_none_or(|c| !(c.is_alphanumeric() || "._@-".contains(c)))
                    };
                    edge(before) && (edge(after) || after == Some(':') || after == Some('\''))
                })
            })
    }

    /// For people: each way a match was looked for.
    pub fn tried(&self) -> Vec<String> {
        let mut out = vec![format!(
            "annotation {USERNAME_KEY}={}",
            self.names.join(" or ")
        )];
        if self.escape_labels == self.safe_labels {
            out.push(format!(
                "label {USERNAME_KEY}={} (escape and safe schemes)",
                self.escape_labels.join(" or ")
            ));
        } else {
            out.push(format!(
                "label {USERNAME_KEY}={} (escape scheme) or {} (safe scheme)",
                self.escape_labels.join(" or "),
                self.safe_labels.join(" or ")
            ));
        }
        out.push(format!(
            "pod name {}",
            self.name_slugs
                .iter()
                .map(|s| format!("jupyter-{s}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
        if !self.server.is_empty() {
            out.push(format!("server {SERVERNAME_KEY}={}", self.server));
        }
        out
    }
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// The user an object belongs to, as a person would type it: the
/// annotation's raw name, else the label (a slug), with `:server` for a
/// named server.
pub fn owner(meta: &ObjectMeta) -> Option<String> {
    let get = |key: &str| {
        [&meta.annotations, &meta.labels]
            .into_iter()
            .find_map(|m| m.as_ref()?.get(key).filter(|v| !v.is_empty()).cloned())
    };
    let user = get(USERNAME_KEY)?;
    Some(match get(SERVERNAME_KEY) {
        Some(server) => format!("{user}:{server}"),
        None => user,
    })
}

/// Up to `n` of `known` closest to what was typed, nearest first; names
/// too far from it to be a typo are left out.
pub fn closest(typed: &str, known: &BTreeSet<String>, n: usize) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut scored: Vec<(f64, &String)> = known
        .iter()
        .map(|k| (strsim::jaro_winkler(&typed, &k.to_lowercase()), k))
        .filter(|(score, _)| *score >= 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|(_, k)| k.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn meta(name: &str, annotations: &[(&str, &str)], labels: &[(&str, &str)]) -> ObjectMeta {
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ObjectMeta {
            name: Some(name.into()),
            annotations: map(annotations),
            labels: map(labels),
            ..Default::default()
        }
    }

    fn lookup(typed: &str) -> Lookup {
        Lookup::new(&Username::new(typed).unwrap())
    }

    #[test]
    fn an_escape_labelled_pod_of_kubespawner_6_is_found() {
        let m = meta("jupyter-bob-2dsmith", &[], &[(USERNAME_KEY, "bob-2dsmith")]);
        assert_eq!(
            lookup("bob-smith").matches(&m, "jupyter-", true),
            Some(How::EscapeLabel)
        );
    }

    #[test]
    fn a_safe_labelled_pod_of_kubespawner_7_is_found_valid_or_hashed() {
        let valid = meta("jupyter-bob-smith", &[], &[(USERNAME_KEY, "bob-smith")]);
        assert_eq!(
            lookup("bob-smith").matches(&valid, "jupyter-", true),
            Some(How::SafeLabel)
        );
        let hashed = meta(
            "jupyter-jo-doe-uni-org---80507681",
            &[],
            &[(USERNAME_KEY, "jo-doe-uni-org---80507681")],
        );
        assert_eq!(
            lookup("jo.doe@uni.org").matches(&hashed, "jupyter-", true),
            Some(How::SafeLabel)
        );
    }

    #[test]
    fn the_annotation_wins_and_a_pod_without_the_label_is_found_by_it() {
        let m = meta("jupyter-x", &[(USERNAME_KEY, "jo.doe@uni.org")], &[]);
        assert_eq!(
            lookup("jo.doe@uni.org").matches(&m, "jupyter-", true),
            Some(How::Annotation)
        );
        // Another user's annotation is not overridden by a label that happens to match.
        let other = meta(
            "jupyter-bob",
            &[(USERNAME_KEY, "bobby")],
            &[(USERNAME_KEY, "bob")],
        );
        assert_eq!(lookup("bob").matches(&other, "jupyter-", true), None);
    }

    #[test]
    fn upper_case_input_finds_the_lower_cased_user() {
        let m = meta(
            "jupyter-alice",
            &[(USERNAME_KEY, "alice")],
            &[(USERNAME_KEY, "alice")],
        );
        assert_eq!(
            lookup("Alice").matches(&m, "jupyter-", true),
            Some(How::Annotation)
        );
    }

    #[test]
    fn a_named_server_is_told_from_the_default_one() {
        let default = meta(
            "jupyter-alice",
            &[(USERNAME_KEY, "alice")],
            &[(SERVERNAME_KEY, "")],
        );
        let gpu = meta(
            "jupyter-alice--gpu",
            &[(USERNAME_KEY, "alice"), (SERVERNAME_KEY, "gpu")],
            &[(SERVERNAME_KEY, "gpu")],
        );
        assert!(lookup("alice:gpu")
            .matches(&gpu, "jupyter-", true)
            .is_some());
        assert!(lookup("alice:gpu")
            .matches(&default, "jupyter-", true)
            .is_none());
        assert!(lookup("alice")
            .matches(&default, "jupyter-", true)
            .is_some());
        assert!(lookup("alice").matches(&gpu, "jupyter-", true).is_none());
        // An escape-era pod with no server annotation or label: by its name.
        let old = meta("jupyter-alice--gpu", &[], &[(USERNAME_KEY, "alice")]);
        assert!(lookup("alice:gpu")
            .matches(&old, "jupyter-", true)
            .is_some());
        assert!(lookup("alice").matches(&old, "jupyter-", true).is_none());
    }

    #[test]
    fn without_label_or_annotation_the_object_name_decides() {
        let pod = meta("jupyter-bob-2ejones", &[], &[]);
        assert_eq!(
            lookup("bob.jones").matches(&pod, "jupyter-", true),
            Some(How::Name)
        );
        let claim = meta("claim-bob-2ejones", &[], &[]);
        assert_eq!(
            lookup("bob.jones").matches(&claim, "claim-", false),
            Some(How::Name)
        );
        assert_eq!(lookup("bob").matches(&pod, "jupyter-", true), None);
    }

    #[test]
    fn the_closest_users_are_named_nearest_first_and_strangers_left_out() {
        let known: BTreeSet<String> = ["alice", "alicia", "bob.jones", "zed"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(closest("alcie", &known, 3), ["alice", "alicia"]);
        assert!(closest("qqqq", &known, 3).is_empty());
    }

    #[test]
    fn what_was_tried_names_every_scheme() {
        let t = lookup("jo.doe@uni.org").tried().join("\n");
        assert!(t.contains("jo-2edoe-40uni-2eorg"), "{t}");
        assert!(t.contains("jo-doe-uni-org---80507681"), "{t}");
        assert!(
            t.contains("annotation hub.jupyter.org/username=jo.doe@uni.org"),
            "{t}"
        );
    }
}
