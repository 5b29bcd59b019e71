//! One cluster's objects: JSON documents keyed by (resource, namespace,
//! name), a resourceVersion counter shared by all of them, and a history of
//! changes that watches replay from and follow.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::status::ApiError;

/// How many changes a watch can resume from; older versions get 410 Gone.
const HISTORY: usize = 20_000;

/// One change, as a watch reports it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub resource: String,
    pub kind: &'static str,
    pub object: Value,
}

type Key = (String, String, String);

/// The objects of one simulated cluster.
pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Change>,
    tx: broadcast::Sender<Change>,
}

impl Default for Store {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(8192);
        Store {
            objects: BTreeMap::new(),
            rv: 1000,
            history: VecDeque::new(),
            tx,
        }
    }
}

/// The API server's timestamp format.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

fn key(resource: &str, obj: &Value) -> Key {
    (
        resource.to_string(),
        obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        obj["metadata"]["name"].as_str().unwrap_or_default().to_string(),
    )
}

impl Store {
    /// The current resourceVersion (for lists).
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// Oldest resourceVersion a watch may resume from.
    pub fn oldest(&self) -> u64 {
        self.history.front().map(|c| c.rv - 1).unwrap_or(self.rv)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Changes after `rv` of `resource`, in order.
    pub fn since(&self, resource: &str, rv: u64) -> Vec<Change> {
        self.history
            .iter()
            .filter(|c| c.rv > rv && c.resource == resource)
            .cloned()
            .collect()
    }

    pub fn get(&self, resource: &str, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(resource.to_string(), ns.to_string(), name.to_string()))
    }

    /// Objects of a resource, in one namespace or all, sorted by namespace and name.
    pub fn list(&self, resource: &str, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .range((resource.to_string(), String::new(), String::new())..)
            .take_while(|((r, _, _), _)| r == resource)
            .filter(|((_, n, _), _)| ns.is_none_or(|want| n == want))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every object in a namespace, of every resource (namespace deletion).
    pub fn in_namespace(&self, ns: &str) -> Vec<(String, Value)> {
        self.objects
            .iter()
            .filter(|((_, n, _), _)| n == ns)
            .map(|((r, _, _), v)| (r.clone(), v.clone()))
            .collect()
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, resource: &str, kind: &'static str, object: Value) {
        let change = Change {
            rv: self.rv,
            resource: resource.to_string(),
            kind,
            object,
        };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        let _ = self.tx.send(change);
    }

    /// Create: fill server fields, refuse duplicates.
    pub fn create(&mut self, resource: &str, group: &str, mut obj: Value) -> Result<Value, ApiError> {
        let k = key(resource, &obj);
        if self.objects.contains_key(&k) {
            return Err(ApiError::already_exists(resource, group, &k.2));
        }
        let rv = self.bump();
        let meta = obj["metadata"].as_object_mut().ok_or_else(|| ApiError::bad_request("metadata is required"))?;
        meta.entry("uid").or_insert_with(|| json!(uid()));
        meta.entry("creationTimestamp").or_insert_with(|| json!(now()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        if obj.get("spec").is_some() && obj["metadata"].get("generation").is_none() {
            obj["metadata"]["generation"] = json!(1);
        }
        self.objects.insert(k, obj.clone());
        self.record(resource, "ADDED", obj.clone());
        Ok(obj)
    }

    /// Replace an existing object. With `expected_rv`, a stale version is a
    /// conflict; the generation moves when the spec changes.
    pub fn update(&mut self, resource: &str, group: &str, mut obj: Value, expected_rv: Option<&str>) -> Result<Value, ApiError> {
        let k = key(resource, &obj);
        let Some(old) = self.objects.get(&k) else {
            return Err(ApiError::not_found(resource, group, &k.2));
        };
        if let Some(want) = expected_rv.filter(|v| !v.is_empty()) {
            if old["metadata"]["resourceVersion"].as_str() != Some(want) {
                return Err(ApiError::conflict(resource, group, &k.2));
            }
        }
        let generation = old["metadata"]["generation"].as_i64();
        let spec_changed = old.get("spec") != obj.get("spec");
        let (uid, created) = (old["metadata"]["uid"].clone(), old["metadata"]["creationTimestamp"].clone());
        let rv = self.bump();
        obj["metadata"]["uid"] = uid;
        obj["metadata"]["creationTimestamp"] = created;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if let Some(g) = generation {
            obj["metadata"]["generation"] = json!(if spec_changed { g + 1 } else { g });
        }
        self.objects.insert(k, obj.clone());
        self.record(resource, "MODIFIED", obj.clone());
        Ok(obj)
    }

    /// Remove for good.
    pub fn remove(&mut self, resource: &str, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self.objects.remove(&(resource.to_string(), ns.to_string(), name.to_string()))?;
        let rv = self.bump();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.record(resource, "DELETED", obj.clone());
        Some(obj)
    }
}

/// A fresh uid in the API server's format.
pub fn uid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name, "namespace": "ns" }, "spec": {} })
    }

    #[test]
    fn create_fills_server_fields_and_refuses_duplicates() {
        let mut s = Store::default();
        let p = s.create("pods", "", pod("a")).unwrap();
        assert!(p["metadata"]["uid"].is_string());
        assert_eq!(p["metadata"]["generation"], 1);
        assert_eq!(s.create("pods", "", pod("a")).unwrap_err().code, 409);
    }

    #[test]
    fn stale_resource_version_update_is_a_409_conflict() {
        let mut s = Store::default();
        let p = s.create("pods", "", pod("a")).unwrap();
        let rv = p["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let mut next = p.clone();
        next["spec"]["x"] = json!(1);
        let updated = s.update("pods", "", next.clone(), Some(&rv)).unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        let e = s.update("pods", "", next, Some(&rv)).unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
    }

    #[test]
    fn history_replays_changes_after_a_version() {
        let mut s = Store::default();
        let start = s.rv();
        s.create("pods", "", pod("a")).unwrap();
        s.remove("pods", "ns", "a").unwrap();
        let kinds: Vec<&str> = s.since("pods", start).iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec!["ADDED", "DELETED"]);
    }
}
