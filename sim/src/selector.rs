//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`) and field
//! selectors (`metadata.name`, `spec.nodeName`, `status.phase`, `involvedObject.*`...).

use serde_json::Value;

/// One parsed label requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(pub Vec<Req>);

/// Split on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let rest = rest.trim();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    /// Parse `a=b,c!=d,e in (x,y),!f`; the error says which term is malformed.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for term in split_top(s) {
            let t = term.trim();
            if t.is_empty() {
                continue;
            }
            if let Some(k) = t.strip_prefix('!') {
                reqs.push(Req::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = t.split_once("!=") {
                reqs.push(Req::NotEq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = t.split_once("==") {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = t.split_once('=') {
                reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
            } else if let Some(i) = t.find(" notin ") {
                let vals = set_values(&t[i + 7..]).ok_or_else(|| {
                    format!("unable to parse requirement: {t:?}: expected `key notin (a,b)`")
                })?;
                reqs.push(Req::NotIn(t[..i].trim().into(), vals));
            } else if let Some(i) = t.find(" in ") {
                let vals = set_values(&t[i + 4..]).ok_or_else(|| {
                    format!("unable to parse requirement: {t:?}: expected `key in (a,b)`")
                })?;
                reqs.push(Req::In(t[..i].trim().into(), vals));
            } else if t.contains(' ') || t.contains('(') {
                return Err(format!("unable to parse requirement: {t:?}"));
            } else {
                reqs.push(Req::Exists(t.to_string()));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::NotEq(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector (`=`, `==`, `!=` on dotted paths), each path
/// split once at parse time: a list with a selector checks every object of
/// the resource, so matching allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    /// Parse `metadata.name=x,status.phase!=Running`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        let path = |k: &str| k.trim().split('.').map(str::to_string).collect();
        for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Some((k, v)) = t.split_once("!=") {
                out.push((path(k), false, v.trim().to_string()));
            } else if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                out.push((path(k), true, v.trim().to_string()));
            } else {
                return Err(format!("invalid selector: '{t}'; can't understand '{t}'"));
            }
        }
        Ok(FieldSelector(out))
    }

    /// Whether the object's field values satisfy every term (missing = "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let got = path.iter().try_fold(obj, |v, key| v.get(key.as_str()));
            let same = match got {
                Some(Value::String(s)) => s == want,
                Some(Value::Bool(b)) => want == if *b { "true" } else { "false" },
                Some(Value::Number(n)) => n.to_string() == *want,
                Some(Value::Null) | None => want.is_empty(),
                _ => want.is_empty(),
            };
            same == *eq
        })
    }
}
