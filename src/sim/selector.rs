//! Label and field selectors, with the API server's syntax: `a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a` for labels; `path=v`,
//! `path==v`, `path!=v` on any dotted field path for fields.

use serde_json::Value;

/// One parsed requirement.
#[derive(Debug, Clone, PartialEq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (all requirements must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<Req>);

/// Split on commas that are not inside parentheses.
fn terms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c);
            }
            ')' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

fn set(values: &str) -> Result<Vec<String>, String> {
    let v = values.trim();
    let inner = v
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set like (a,b), got {v:?}"))?;
    Ok(inner.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

impl LabelSelector {
    /// Parse; the error reads like the API server's.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for t in terms(s) {
            if let Some(k) = t.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = t.split_once("!=") {
                reqs.push(Req::Ne(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = t.split_once("==") {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = t.split_once('=') {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = t.split_once(" notin ") {
                reqs.push(Req::NotIn(k.trim().into(), set(v)?));
            } else if let Some((k, v)) = t.split_once(" in ") {
                reqs.push(Req::In(k.trim().into(), set(v)?));
            } else if t.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                reqs.push(Req::Exists(t));
            } else {
                return Err(format!("unable to parse requirement: {t:?}"));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse `a.b=c,d!=e`.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut out = Vec::new();
        for t in terms(s) {
            let (k, eq, v) = if let Some((k, v)) = t.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = t.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = t.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!("invalid selector: '{t}'; can't understand '{t}'"));
            };
            out.push((k.trim().to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether the object's fields satisfy every requirement. Missing
    /// fields compare as the empty string, as the API server does.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for part in path.split('.') {
                cur = &cur[part];
            }
            let have = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({ "metadata": { "name": "hub-1", "labels": { "app": "jupyterhub", "component": "hub" } },
                "spec": { "nodeName": "n1" }, "status": { "phase": "Running" } })
    }

    #[test]
    fn label_selectors_support_every_operator() {
        let o = obj();
        for (sel, want) in [
            ("app=jupyterhub", true),
            ("app==jupyterhub,component=hub", true),
            ("component!=proxy", true),
            ("component in (hub, proxy)", true),
            ("component notin (hub)", false),
            ("release notin (x)", true),
            ("app", true),
            ("!release", true),
            ("!app", false),
            ("app=other", false),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&o), want, "{sel}");
        }
    }

    #[test]
    fn field_selectors_walk_dotted_paths() {
        let o = obj();
        assert!(FieldSelector::parse("metadata.name=hub-1,spec.nodeName=n1").unwrap().matches(&o));
        assert!(FieldSelector::parse("status.phase!=Failed").unwrap().matches(&o));
        assert!(!FieldSelector::parse("status.phase==Pending").unwrap().matches(&o));
        assert!(FieldSelector::parse("spec.unschedulable!=true").unwrap().matches(&o));
    }

    #[test]
    fn malformed_selector_is_an_error() {
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(FieldSelector::parse("justaword").is_err());
    }
}
