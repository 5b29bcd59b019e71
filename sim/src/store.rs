//! The object store of one simulated cluster: JSON objects keyed by
//! (resource, namespace, name), one global resourceVersion counter, and the
//! change history that watches replay from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use super::discovery::{self, ResourceDef};
use super::status::ApiError;

/// How many past changes a watch can resume from before getting 410 Gone.
const HISTORY: usize = 20_000;

/// `(store key, namespace or "", name)`.
pub type Key = (String, String, String);

/// How a new object is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum New {
    /// Stored and told to watches.
    Create,
    /// Validated and filled in, not stored.
    DryRun,
    /// Stored as part of the starting state, told to no watch.
    Seed,
}

/// One page of a list (see [`Store::list_page`]).
pub struct Page {
    pub items: Vec<Value>,
    /// The store's resourceVersion when the page was read.
    pub rv: u64,
    /// How many matching objects follow the page.
    pub remaining: usize,
}

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: &'static str,
    pub resource: String,
    pub namespace: String,
    pub object: Value,
    /// The object before a MODIFIED change (watches with selectors turn
    /// "stopped matching" into DELETED and "started matching" into ADDED).
    pub old: Option<Value>,
}

#[derive(Default)]
struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
    /// The rv below which history was dropped.
    compacted: u64,
}

/// The shared, lock-protected object store (locks are never held across `.await`).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<Arc<Change>>,
    /// Woken on every change so the controller reconciles.
    pub changed: Arc<Notify>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// RFC 3339 "now" as the apiserver writes timestamps.
pub fn now_ts() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Store {
    /// An empty store at resourceVersion 1.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        let inner = Inner {
            rv: 1,
            ..Default::default()
        };
        Store {
            inner: Arc::new(Mutex::new(inner)),
            tx,
            changed: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    /// One object.
    pub fn get(&self, res: &str, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(res.to_string(), ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a resource (in one namespace, or all when `ns` is None), and the list rv.
    pub fn list(&self, res: &str, ns: Option<&str>) -> (Vec<Value>, u64) {
        let g = self.lock();
        let out = of(&g, res, ns).map(|(_, v)| v.clone()).collect();
        (out, g.rv)
    }

    /// Like [`Store::list`], cloning only the objects `keep` accepts: the
    /// controller's passes over a namespace of thousands of user pods copy
    /// the few it manages, not all of them.
    pub fn list_where(
        &self,
        res: &str,
        ns: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let g = self.lock();
        of(&g, res, ns)
            .filter(|(_, v)| keep(v))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One page of a list: the objects `keep` accepts after the key `after`
    /// (`(namespace, name)`, exclusive), at most `limit` of them copied, and
    /// how many more there are (counted, not copied). A namespaced list walks
    /// only its namespace's range, and a page copies only its own objects, so
    /// paging through a cluster of thousands of pods costs one pass, not one
    /// copy of every pod per page.
    pub fn list_page(
        &self,
        res: &str,
        ns: Option<&str>,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
        keep: impl Fn(&Value) -> bool,
    ) -> Page {
        use std::ops::Bound;
        let g = self.lock();
        let start = match (after, ns) {
            (Some((n, name)), _) => {
                Bound::Excluded((res.to_string(), n.to_string(), name.to_string()))
            }
            (None, Some(n)) => Bound::Included((res.to_string(), n.to_string(), String::new())),
            (None, None) => Bound::Included((res.to_string(), String::new(), String::new())),
        };
        let mut page = Page {
            items: Vec::new(),
            rv: g.rv,
            remaining: 0,
        };
        let matching = g
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|((r, n, _), _)| r == res && ns.is_none_or(|want| want == n))
            .map(|(_, v)| v)
            .filter(|v| keep(v));
        for v in matching {
            if limit.is_some_and(|l| page.items.len() >= l) {
                page.remaining += 1;
            } else {
                page.items.push(v.clone());
            }
        }
        page
    }

    /// Look at every object of `res` (in `ns`, or all) without copying any.
    pub fn for_each(&self, res: &str, ns: Option<&str>, mut visit: impl FnMut(&Value)) {
        let g = self.lock();
        of(&g, res, ns).for_each(|(_, v)| visit(v));
    }

    /// Subscribe to changes, and get the history after `since` (None when it was compacted away).
    pub fn watch_from(
        &self,
        since: u64,
    ) -> (broadcast::Receiver<Arc<Change>>, Option<Vec<Arc<Change>>>) {
        let g = self.lock();
        let rx = self.tx.subscribe();
        if since < g.compacted {
            return (rx, None);
        }
        let past = g.history.iter().filter(|c| c.rv > since).cloned().collect();
        (rx, Some(past))
    }

    fn record(
        &self,
        g: &mut Inner,
        kind: &'static str,
        res: &str,
        ns: &str,
        obj: Value,
        old: Option<Value>,
    ) {
        let c = Arc::new(Change {
            old,
            rv: g.rv,
            kind,
            resource: res.to_string(),
            namespace: ns.to_string(),
            object: obj,
        });
        g.history.push_back(c.clone());
        if g.history.len() > HISTORY {
            if let Some(old) = g.history.pop_front() {
                g.compacted = old.rv;
            }
        }
        let _ = self.tx.send(c);
        self.changed.notify_one();
    }

    /// Drop the change history, as etcd compaction does: watches from any
    /// earlier resourceVersion then get 410 Expired.
    pub fn compact(&self) {
        let mut g = self.lock();
        g.history.clear();
        g.compacted = g.rv;
    }

    /// Fill server-side fields and store a new object (or only validate it on `dry_run`).
    pub fn create(
        &self,
        def: &ResourceDef,
        ns: &str,
        obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let how = if dry_run { New::DryRun } else { New::Create };
        self.put_new(def, ns, obj, how)
    }

    fn put_new(
        &self,
        def: &ResourceDef,
        ns: &str,
        mut obj: Value,
        how: New,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        if obj.get("metadata").is_none_or(|m| !m.is_object()) {
            obj["metadata"] = json!({});
        }
        let mut name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        if name.is_empty() {
            if let Some(prefix) = obj["metadata"]["generateName"].as_str() {
                name = format!("{prefix}{}", random_suffix(5));
                obj["metadata"]["name"] = json!(name);
            }
        }
        if name.is_empty() {
            return Err(ApiError::invalid(
                def.kind,
                "",
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
        validate_name(def, &name)?;
        if def.namespaced {
            obj["metadata"]["namespace"] = json!(ns);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let key = (def.store_key().to_string(), ns.to_string(), name.clone());
        let mut g = self.lock();
        if g.objects.contains_key(&key) {
            return Err(ApiError::already_exists(def.group, def.plural, &name));
        }
        let m = &mut obj["metadata"];
        if m.get("uid").is_none() {
            m["uid"] = json!(new_uid());
        }
        if m.get("creationTimestamp").is_none_or(Value::is_null) {
            m["creationTimestamp"] = json!(now_ts());
        }
        if obj.get("spec").is_some() && obj["metadata"].get("generation").is_none() {
            obj["metadata"]["generation"] = json!(1);
        }
        if how == New::DryRun {
            return Ok(obj);
        }
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        if how == New::Seed {
            // The seed is the state a watch starts from, not a change it
            // replays: a watch from before it gets 410 and lists again.
            g.objects.insert(key, obj);
            g.compacted = g.rv;
            return Ok(Value::Null);
        }
        g.objects.insert(key, obj.clone());
        self.record(&mut g, "ADDED", def.store_key(), ns, obj.clone(), None);
        Ok(obj)
    }

    /// Replace an object; a given resourceVersion that is not current is a 409 Conflict.
    pub fn update(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = (
            def.store_key().to_string(),
            ns.to_string(),
            name.to_string(),
        );
        let mut g = self.lock();
        let Some(old) = g.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(def.group, def.plural, name));
        };
        if let Some(rv) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if !rv.is_empty()
                && Some(rv)
                    != old
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
            {
                return Err(ApiError::conflict(def.group, def.plural, name));
            }
        }
        if obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_some_and(|n| n != name)
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                obj["metadata"]["name"].as_str().unwrap_or("")
            )));
        }
        obj["apiVersion"] = json!(def.api_version());
        obj["kind"] = json!(def.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        for f in [
            "uid",
            "creationTimestamp",
            "name",
            "namespace",
            "deletionTimestamp",
        ] {
            match old["metadata"].get(f) {
                Some(v) => obj["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = obj["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        let gen = old.pointer("/metadata/generation").and_then(Value::as_i64);
        if let Some(gen) = gen {
            let bumped = old.get("spec") != obj.get("spec");
            obj["metadata"]["generation"] = json!(if bumped { gen + 1 } else { gen });
        }
        if dry_run {
            return Ok(obj);
        }
        // A terminating object whose last finalizer is removed goes away.
        let finalizers_empty = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        if old["metadata"].get("deletionTimestamp").is_some() && finalizers_empty {
            g.objects.remove(&key);
            self.record(&mut g, "DELETED", def.store_key(), ns, obj.clone(), None);
        } else {
            g.objects.insert(key, obj.clone());
            self.record(
                &mut g,
                "MODIFIED",
                def.store_key(),
                ns,
                obj.clone(),
                Some(old),
            );
        }
        Ok(obj)
    }

    /// Delete (or mark Terminating when finalizers remain). Returns the object as last seen.
    pub fn delete(
        &self,
        def: &ResourceDef,
        ns: &str,
        name: &str,
        grace: Option<i64>,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = (
            def.store_key().to_string(),
            ns.to_string(),
            name.to_string(),
        );
        let mut g = self.lock();
        let Some(mut obj) = g.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(def.group, def.plural, name));
        };
        if dry_run {
            return Ok(obj);
        }
        let before = obj.clone();
        let has_finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        if has_finalizers {
            if obj["metadata"].get("deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!(now_ts());
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace.unwrap_or(0));
            }
            g.objects.insert(key, obj.clone());
            self.record(
                &mut g,
                "MODIFIED",
                def.store_key(),
                ns,
                obj.clone(),
                Some(before),
            );
        } else {
            g.objects.remove(&key);
            self.record(&mut g, "DELETED", def.store_key(), ns, obj.clone(), None);
        }
        Ok(obj)
    }

    /// Store a seed object as written (fills uid/rv/timestamps only).
    pub fn seed(&self, obj: Value) -> anyhow::Result<()> {
        self.add(obj, New::Create)
    }

    /// [`Store::seed`] for the state a cluster starts in, before anything
    /// watches it: no change history is kept for it (a watch from before it
    /// gets 410 Gone and lists), so a 10,000-pod fleet is not copied twice.
    pub fn load(&self, obj: Value) -> anyhow::Result<()> {
        self.add(obj, New::Seed)
    }

    fn add(&self, obj: Value, how: New) -> anyhow::Result<()> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("");
        let kind = obj["kind"].as_str().unwrap_or("");
        let def = discovery::by_kind(api_version, kind).ok_or_else(|| {
            anyhow::anyhow!(
                "unsupported apiVersion/kind {api_version}/{kind}: the simulator serves {}",
                supported_kinds()
            )
        })?;
        let ns = if def.namespaced {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        self.put_new(def, &ns, obj, how)
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        Ok(())
    }
}

/// The objects of `res` in `ns` (all namespaces: `None`), in key order: a
/// namespace's objects are one range of the map, walked without passing
/// the other namespaces' (a cluster of a hundred namespaces of a hundred
/// pods each walks a hundred, not ten thousand, per namespace asked).
fn of<'a>(
    g: &'a Inner,
    res: &'a str,
    ns: Option<&'a str>,
) -> impl Iterator<Item = (&'a Key, &'a Value)> + 'a {
    let start = (res.to_string(), ns.unwrap_or("").to_string(), String::new());
    g.objects
        .range(start..)
        .take_while(move |((r, n, _), _)| r == res && ns.is_none_or(|want| want == n))
}

fn supported_kinds() -> String {
    discovery::RESOURCES
        .iter()
        .map(|r| format!("{}/{}", r.api_version(), r.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A random lowercase alphanumeric suffix as generateName uses (`hub-7d9f8-x2k4p`).
pub fn random_suffix(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| CHARS[r.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn validate_name(def: &ResourceDef, name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok || def.plural == "nodes" && !name.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            def.kind,
            name,
            "metadata.name",
            &format!("Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        ))
    }
}
