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

/// The query options of `pods/log` that shape the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogQuery {
    pub tail_lines: Option<usize>,
    /// Seeded lines are taken to be one second apart, the last one written now.
    pub since_seconds: Option<u64>,
    pub timestamps: bool,
}

/// Apply `sinceSeconds`, `tailLines` and `timestamps` to seeded text.
pub fn render(text: &str, q: LogQuery) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let now = chrono::Utc::now();
    let mut start = q
        .since_seconds
        .map(|s| n.saturating_sub(s as usize))
        .unwrap_or(0);
    if let Some(t) = q.tail_lines {
        start = start.max(n.saturating_sub(t));
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate().skip(start) {
        if q.timestamps {
            let at = now - chrono::Duration::seconds((n - 1 - i) as i64);
            out.push_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            out.push(' ');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
