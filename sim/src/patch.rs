//! Patch application: JSON merge patch, JSON patch, and the strategic merge
//! patch kubectl sends (lists of named items merge by name).

use serde_json::Value;

use super::status::ApiError;

/// How a PATCH body is to be applied, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchKind {
    /// The patch kind for a Content-Type, or 415 for anything else.
    pub fn from_content_type(ct: &str) -> Result<Self, ApiError> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        match ct {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchKind::Apply),
            other => Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"))),
        }
    }
}

/// Apply `body` to `doc` in place.
pub fn apply(doc: &mut Value, kind: PatchKind, body: &[u8]) -> Result<(), ApiError> {
    match kind {
        PatchKind::Json => {
            let p: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(doc, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })
        }
        PatchKind::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::merge(doc, &p);
            Ok(())
        }
        PatchKind::Apply => {
            let p: Value = serde_yaml::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            strategic(doc, &p);
            Ok(())
        }
        PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            strategic(doc, &p);
            Ok(())
        }
    }
}

/// Strategic merge: like merge patch, but arrays of objects carrying a
/// `name` (containers, env, ports, volumes) or `type` (conditions) merge by that key.
pub fn strategic(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, pv) in p {
                if k.starts_with("$") {
                    continue;
                }
                if pv.is_null() {
                    d.remove(k);
                    continue;
                }
                match d.get_mut(k) {
                    Some(dv) => strategic(dv, pv),
                    None => {
                        let mut fresh = Value::Null;
                        strategic(&mut fresh, pv);
                        d.insert(k.clone(), fresh);
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(p)) if merge_key(p).is_some() && merge_key(d).is_some() => {
            let key = merge_key(p).unwrap_or("name");
            for item in p {
                let id = item.get(key).cloned();
                match d.iter_mut().find(|x| x.get(key) == id.as_ref()) {
                    Some(existing) => strategic(existing, item),
                    None => d.push(item.clone()),
                }
            }
        }
        (d, p) => {
            let mut p = p.clone();
            strip_directives(&mut p);
            *d = p;
        }
    }
}

fn strip_directives(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, _| !k.starts_with('$'));
        m.retain(|_, v| !v.is_null());
        for x in m.values_mut() {
            strip_directives(x);
        }
    } else if let Value::Array(a) = v {
        a.iter_mut().for_each(strip_directives);
    }
}

fn merge_key(items: &[Value]) -> Option<&'static str> {
    if items.is_empty() {
        return Some("name");
    }
    ["name", "type", "containerPort"]
        .into_iter()
        .find(|k| items.iter().all(|i| i.get(*k).is_some()))
}
