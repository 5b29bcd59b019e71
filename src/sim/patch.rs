//! PATCH bodies by content type: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902), strategic merge patch (lists of named things merge by their
//! key, as for containers, env, volumes, ports, conditions, tolerations),
//! and server-side apply (treated as a strategic merge of the applied fields).

use serde_json::Value;

/// The patch flavours clients send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl Kind {
    pub fn from_content_type(ct: &str) -> Option<Kind> {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        Some(match ct {
            "application/merge-patch+json" => Kind::Merge,
            "application/json-patch+json" => Kind::Json,
            "application/strategic-merge-patch+json" => Kind::Strategic,
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Kind::Apply,
            _ => return None,
        })
    }
}

/// Apply a patch body to `target`.
pub fn apply(kind: Kind, target: &Value, body: &[u8]) -> Result<Value, String> {
    let mut out = target.clone();
    match kind {
        Kind::Json => {
            let p: json_patch::Patch = serde_json::from_slice(body).map_err(|e| format!("invalid JSON patch: {e}"))?;
            json_patch::patch(&mut out, &p).map_err(|e| format!("the JSON patch does not apply: {e}"))?;
        }
        Kind::Merge => {
            let p: Value = serde_json::from_slice(body).map_err(|e| format!("invalid merge patch: {e}"))?;
            json_patch::merge(&mut out, &p);
        }
        Kind::Strategic => {
            let p: Value = serde_json::from_slice(body).map_err(|e| format!("invalid strategic merge patch: {e}"))?;
            strategic(&mut out, &p);
        }
        Kind::Apply => {
            let p: Value = serde_yaml::from_slice(body).map_err(|e| format!("invalid apply patch: {e}"))?;
            strategic(&mut out, &p);
        }
    }
    Ok(out)
}

/// The keys lists of objects are merged by.
const MERGE_KEYS: &[&str] = &["name", "type", "containerPort", "key", "mountPath", "ip"];

fn merge_key(items: &[Value]) -> Option<&'static str> {
    MERGE_KEYS
        .iter()
        .copied()
        .find(|k| !items.is_empty() && items.iter().all(|i| i.get(*k).is_some()))
}

/// Strategic merge: objects merge recursively, `null` deletes, lists of
/// keyed objects merge by key, other lists are replaced.
pub fn strategic(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if k.starts_with("$") {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else if let Some(existing) = t.get_mut(k) {
                    strategic(existing, v);
                } else {
                    let mut fresh = Value::Null;
                    strategic(&mut fresh, v);
                    t.insert(k.clone(), fresh);
                }
            }
        }
        (Value::Array(t), Value::Array(p)) => {
            let Some(mk) = merge_key(p).filter(|mk| t.iter().all(|i| i.get(*mk).is_some())) else {
                *t = p.clone();
                return;
            };
            for item in p {
                match t.iter_mut().find(|x| x.get(mk) == item.get(mk)) {
                    Some(existing) => strategic(existing, item),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_patch_merges_containers_by_name_and_sets_annotations() {
        let target = json!({ "spec": { "template": { "metadata": {}, "spec": { "containers": [
            { "name": "hub", "image": "a" }, { "name": "sidecar", "image": "b" } ] } } } });
        let patch = br#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}},"spec":{"containers":[{"name":"hub","image":"c"}]}}}}"#;
        let out = apply(Kind::Strategic, &target, patch).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["image"], "c");
        assert_eq!(out["spec"]["template"]["spec"]["containers"][1]["image"], "b");
        assert_eq!(out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"], "now");
    }

    #[test]
    fn merge_and_json_patches_follow_their_rfcs() {
        let target = json!({ "spec": { "unschedulable": true, "x": 1 } });
        let out = apply(Kind::Merge, &target, br#"{"spec":{"unschedulable":null}}"#).unwrap();
        assert_eq!(out, json!({ "spec": { "x": 1 } }));
        let out = apply(Kind::Json, &target, br#"[{"op":"replace","path":"/spec/x","value":2}]"#).unwrap();
        assert_eq!(out["spec"]["x"], 2);
        assert!(apply(Kind::Json, &target, br#"[{"op":"remove","path":"/nope"}]"#).is_err());
    }
}
