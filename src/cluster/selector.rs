//! Label and field selectors matched against cached objects the way the API
//! server matches them, so a list answered from the watch cache selects the
//! same objects as the list it replaces. A selector this module cannot
//! parse (or a field it does not know) is `None`: the caller then asks the
//! API server instead of guessing.

use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Missing(String),
}

/// A parsed label selector (`component=hub,tier!=web,app in (a,b),!gone`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector(Vec<Label>);

/// Split on the commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

impl LabelSelector {
    /// Parse the selector as the API takes it; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let mut reqs = Vec::new();
        for part in split_top(s).into_iter().map(str::trim) {
            if part.is_empty() {
                continue;
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Label::Missing(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                Label::Ne(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                Label::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                Label::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Label::NotIn(k.trim().to_string(), set_values(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Label::In(k.trim().to_string(), set_values(rest)?)
            } else {
                Label::Exists(part.to_string())
            };
            let key = match &req {
                Label::Eq(k, _)
                | Label::Ne(k, _)
                | Label::In(k, _)
                | Label::NotIn(k, _)
                | Label::Exists(k)
                | Label::Missing(k) => k,
            };
            if !valid_key(key) {
                return None;
            }
            reqs.push(req);
        }
        Some(LabelSelector(reqs))
    }

    /// True when `labels` satisfy every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
        self.0.iter().all(|r| match r {
            Label::Eq(k, v) => get(k) == Some(v.as_str()),
            Label::Ne(k, v) => get(k) != Some(v.as_str()),
            Label::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Label::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            Label::Exists(k) => get(k).is_some(),
            Label::Missing(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector (`status.phase!=Failed,spec.nodeName=n1`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse `field=value`, `field==value` and `field!=value` terms.
    pub fn parse(s: &str) -> Option<Self> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else {
                let (f, v) = part.split_once('=')?;
                (f, true, v)
            };
            terms.push((field.trim().to_string(), equal, value.trim().to_string()));
        }
        Some(FieldSelector(terms))
    }

    /// Whether the selector requires `field` to equal `value`.
    pub fn requires(&self, field: &str, value: &str) -> bool {
        self.0
            .iter()
            .any(|(f, eq, v)| f == field && *eq && v == value)
    }

    /// Match with `field` giving an object's field value (`""` when unset,
    /// as the API server compares it); `None` when a field is unknown.
    pub fn matches(&self, field: impl Fn(&str) -> Option<String>) -> Option<bool> {
        let mut all = true;
        for (f, eq, v) in &self.0 {
            let actual = field(f)?;
            all &= (actual == *v) == *eq;
        }
        Some(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_match_as_the_api_server_does() {
        let l = labels(&[("component", "singleuser-server"), ("tier", "gpu")]);
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(m("component=singleuser-server"));
        assert!(m("component==singleuser-server,tier=gpu"));
        assert!(!m("component=hub"));
        assert!(m("component!=hub"));
        assert!(m("tier in (cpu, gpu)"));
        assert!(!m("tier notin (gpu)"));
        assert!(m("missing notin (x)"));
        assert!(m("tier") && !m("!tier") && m("!missing"));
        assert!(m(""));
        assert!(!LabelSelector::parse("component=hub").unwrap().matches(None));
        assert!(LabelSelector::parse("component!=hub")
            .unwrap()
            .matches(None));
        assert_eq!(LabelSelector::parse("a b c"), None);
    }

    #[test]
    fn field_selectors_match_known_fields_and_refuse_unknown_ones() {
        let field = |f: &str| match f {
            "status.phase" => Some("Pending".to_string()),
            "spec.nodeName" => Some(String::new()),
            _ => None,
        };
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(field);
        assert_eq!(m("status.phase=Pending"), Some(true));
        assert_eq!(
            m("status.phase!=Succeeded,status.phase!=Failed"),
            Some(true)
        );
        assert_eq!(m("status.phase==Running"), Some(false));
        assert_eq!(m("spec.nodeName="), Some(true));
        assert_eq!(m("spec.nodeName!="), Some(false));
        assert_eq!(m("status.podIP=1.2.3.4"), None);
        assert_eq!(FieldSelector::parse("nonsense"), None);
        let f = FieldSelector::parse("involvedObject.kind=Pod,involvedObject.name=x").unwrap();
        assert!(f.requires("involvedObject.kind", "Pod"));
        assert!(!f.requires("involvedObject.kind", "Node"));
    }
}
