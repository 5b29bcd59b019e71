//! One simulated cluster's state: its objects, users, logs, injected faults
//! and the requests it has seen. [`SimCluster`] is the handle tests use to
//! change it while it runs.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use super::controller;
use super::seed::{ClusterSeed, FaultRule, LogSpec, SimSettings, UserSpec};
use super::store::Store;

/// One request the simulator answered (or refused), for tests to inspect.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Who authenticated (the token's user).
    pub user: String,
    /// Whom they acted as (`Impersonate-User`).
    pub impersonated: Option<String>,
    pub status: u16,
    pub body: Option<Value>,
}

/// Everything one simulated API server knows.
pub struct ClusterState {
    /// The cluster (and kubeconfig context) name.
    pub name: String,
    pub version: String,
    pub users: Vec<UserSpec>,
    pub logs: Vec<LogSpec>,
    store: Mutex<Store>,
    faults: Mutex<Vec<FaultRule>>,
    requests: Mutex<Vec<RecordedRequest>>,
    rollout_delay: Mutex<Duration>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Namespaces every cluster has.
const BUILTIN_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl ClusterState {
    /// Load a seed into a fresh store and settle its workloads.
    pub fn new(seed: &ClusterSeed) -> anyhow::Result<Arc<ClusterState>> {
        let SimSettings { version, rollout_delay, users, faults, logs } = seed.settings.clone();
        let mut store = Store::default();
        let mut namespaces: Vec<String> = BUILTIN_NAMESPACES.iter().map(|s| s.to_string()).collect();
        for o in &seed.objects {
            if let Some(ns) = o["metadata"]["namespace"].as_str() {
                if !namespaces.iter().any(|n| n == ns) {
                    namespaces.push(ns.to_string());
                }
            }
        }
        let seeded_ns: Vec<&str> = seed
            .objects
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect();
        for ns in &namespaces {
            if !seeded_ns.contains(&ns.as_str()) {
                let obj = json!({ "apiVersion": "v1", "kind": "Namespace",
                                  "metadata": { "name": ns, "labels": { "kubernetes.io/metadata.name": ns } },
                                  "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": "Active" } });
                store.create("namespaces", "", obj).map_err(|e| anyhow::anyhow!(e.message))?;
            }
        }
        let mut ordered: Vec<&Value> = seed.objects.iter().filter(|o| o["kind"] == "Namespace").collect();
        ordered.extend(seed.objects.iter().filter(|o| o["kind"] == "Node"));
        ordered.extend(seed.objects.iter().filter(|o| o["kind"] != "Namespace" && o["kind"] != "Node"));
        for o in ordered {
            let kind = o["kind"].as_str().unwrap_or_default();
            let Some(res) = super::resources::by_kind(kind) else {
                anyhow::bail!("cluster {}: {kind} `{}` is not a kind the simulator serves", seed.name, o["metadata"]["name"]);
            };
            let mut obj = o.clone();
            if obj.get("apiVersion").is_none() {
                obj["apiVersion"] = json!(res.api_version());
            }
            if res.namespaced && obj["metadata"]["namespace"].is_null() {
                obj["metadata"]["namespace"] = json!("default");
            }
            controller::apply_defaults(&mut obj);
            if kind == "Namespace" && obj["status"].is_null() {
                obj["status"] = json!({ "phase": "Active" });
            }
            store
                .create(res.store_key(), res.group, obj)
                .map_err(|e| anyhow::anyhow!("cluster {}: {}", seed.name, e.message))?;
        }
        if store.get("customresourcedefinitions", "", "daskclusters.gateway.dask.org").is_none() {
            let _ = store.create("customresourcedefinitions", "apiextensions.k8s.io", super::resources::dask_crd());
        }
        link_events(&mut store);
        controller::sync(&mut store, true);
        Ok(Arc::new(ClusterState {
            name: seed.name.clone(),
            version,
            users,
            logs,
            store: Mutex::new(store),
            faults: Mutex::new(faults),
            requests: Mutex::new(Vec::new()),
            rollout_delay: Mutex::new(rollout_delay),
        }))
    }

    /// The store, locked (never across an await).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn rollout_delay(&self) -> Duration {
        *lock(&self.rollout_delay)
    }

    pub fn record(&self, r: RecordedRequest) {
        lock(&self.requests).push(r);
    }

    /// The first fault matching this request, consuming one of its `times`.
    pub fn take_fault(&self, verb: &str, resource: &str, namespace: Option<&str>) -> Option<FaultRule> {
        let mut faults = lock(&self.faults);
        let pos = faults.iter().position(|f| {
            let hit = |list: &[String], x: &str| list.is_empty() || list.iter().any(|v| v == "*" || v == x);
            hit(&f.verbs, verb) && hit(&f.resources, resource) && hit(&f.namespaces, namespace.unwrap_or(""))
        })?;
        let rule = faults[pos].clone();
        tracing::debug!(cluster = %self.name, verb, resource, "simulator: injecting a fault");
        if let Some(n) = faults[pos].times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                faults.remove(pos);
            }
        }
        Some(rule)
    }

    /// Run the controllers after a write; new pods turn Ready after the delay.
    pub fn settle(self: &Arc<Self>) {
        let starting = controller::sync(&mut self.store(), false);
        if starting.is_empty() {
            return;
        }
        let me = self.clone();
        let delay = self.rollout_delay();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut store = me.store();
            controller::mark_ready(&mut store, &starting);
            controller::sync(&mut store, false);
        });
    }
}

/// Seeded events name their object; give them its uid and apiVersion, as
/// real events carry (`kubectl describe` selects events by uid).
fn link_events(store: &mut Store) {
    for ev in store.list("events", None) {
        let inv = &ev["involvedObject"];
        if inv["uid"].is_string() {
            continue;
        }
        let Some(res) = inv["kind"].as_str().and_then(super::resources::by_kind) else { continue };
        let ns = inv["namespace"].as_str().unwrap_or_default();
        let name = inv["name"].as_str().unwrap_or_default();
        let Some(target) = store.get(res.store_key(), if res.namespaced { ns } else { "" }, name).cloned() else { continue };
        let mut next = ev.clone();
        next["involvedObject"]["uid"] = target["metadata"]["uid"].clone();
        next["involvedObject"]["apiVersion"] = serde_json::json!(res.api_version());
        let _ = store.update("events", "", next, None);
    }
}

/// A handle on a running simulated cluster, for tests.
#[derive(Clone)]
pub struct SimCluster {
    pub(super) state: Arc<ClusterState>,
}

impl SimCluster {
    /// Inject a failure for matching requests from now on.
    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.state.faults).push(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }

    /// How long restarted or scaled workloads take to become ready.
    pub fn set_rollout_delay(&self, d: Duration) {
        *lock(&self.state.rollout_delay) = d;
    }

    /// A copy of one object (tests assert on cluster state directly).
    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state.store().get(resource, namespace, name).cloned()
    }

    /// Copies of a resource's objects in a namespace (or all).
    pub fn objects(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.state.store().list(resource, namespace)
    }
}
