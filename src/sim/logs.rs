//! Pod logs from seeded text (`sim.yaml` `logs:`), with the query options
//! kubectl sends (`container`, `tailLines`, `previous`, `timestamps`).

use serde::Deserialize;

/// Log text for pods matching (namespace, name glob, container).
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LogSpec {
    pub namespace: String,
    /// Exact name or a glob with `*`.
    pub pod: String,
    pub container: Option<String>,
    pub text: String,
    pub previous: Option<String>,
}

/// `*` globbing (the only wildcard seeds use).
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else { return false };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

/// The log text for one container, or None when nothing was seeded.
pub fn find<'a>(
    specs: &'a [LogSpec],
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Option<&'a str> {
    specs
        .iter()
        .filter(|s| {
            s.namespace == ns
                && glob(&s.pod, pod)
                && s.container.as_deref().is_none_or(|c| c == container)
        })
        .find_map(|s| {
            if previous {
                s.previous.as_deref()
            } else {
                Some(s.text.as_str())
            }
        })
}

/// Apply `tailLines`.
pub fn tail(text: &str, tail_lines: Option<usize>) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = tail_lines
        .map(|n| lines.len().saturating_sub(n))
        .unwrap_or(0);
    let mut out = lines[start..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
