//! The watch cache of the long-running server (`serve`, `demo`): per
//! cluster, a reflector (kube-runtime's watcher feeding a reflector store)
//! for each kind the pack's read-only steps list: pods, pod events, the
//! warning events of other kinds, nodes, deployments, statefulsets and the
//! cluster-autoscaler's status ConfigMap.
//!
//! * Bounded: `managedFields` and the `last-applied-configuration`
//!   annotation are dropped before an object is stored, and only pod
//!   events, other kinds' warnings and the one autoscaler ConfigMap are
//!   watched (a cluster's Normal events of other kinds are most of its
//!   events and no cached step reads them). A cluster keeps
//!   at most `clusters[].watch_cache_max_objects` objects (all kinds
//!   together, [`DEFAULT_MAX_OBJECTS`] unless set): the kind whose list or
//!   event would go above it is marked over the cap, its store is emptied
//!   (never kept partly) and its reads go to the API server; it is tried
//!   again at the next resync. A warning is logged once per kind and
//!   `/metrics` shows it (`opsbot_watch_cache_over_cap`).
//! * Resynced: the watcher re-lists by itself when its watch desyncs (410
//!   Gone, a dropped stream, with backoff); on top of that each reflector
//!   re-lists in full every [`RESYNC`], which also bounds how old a quiet
//!   cluster's cache can be said to be.
//! * Honest: a store counts as usable only after its first full list and
//!   while its watch is healthy; its age is the time since its last event
//!   or list. Steps read it through `actions::cached`, which falls back to
//!   listing from the API server when it is not usable; mutations and dry
//!   runs never read it.
//!
//! `opsbot run` (one shot) starts no cache and always lists.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::ClusterSet;
use crate::jupyterhub::diagnose::autoscaler::STATUS_CONFIGMAP;

/// How often every store re-lists in full even when its watch is healthy.
pub const RESYNC: Duration = Duration::from_secs(300);

/// The default per-cluster cap on cached objects (all kinds together); the
/// config owns it, as it fills in what a cluster leaves unset.
pub use crate::config::DEFAULT_WATCH_CACHE_MAX_OBJECTS as DEFAULT_MAX_OBJECTS;

/// Annotations too big to keep for what the steps read.
const DROPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// What a reflector's task last saw.
#[derive(Default)]
struct Health {
    /// Time of the last event or completed list.
    seen: Option<Instant>,
    /// The watch failed after `seen` (the watcher is retrying).
    failing: bool,
    /// A first full list has completed.
    synced: bool,
    /// The store was emptied because the cluster's cap was reached.
    over_cap: bool,
    /// Objects in the store now.
    count: usize,
}

/// What `/metrics` says of one kind's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindState {
    pub kind: &'static str,
    /// Synced, watch healthy, under the cap: reads answer from it.
    pub usable: bool,
    pub over_cap: bool,
    pub objects: usize,
}

/// A cluster's object budget: the count of every kind's store.
struct Budget {
    cap: usize,
    counts: Mutex<BTreeMap<&'static str, usize>>,
}

impl Budget {
    /// Record that `kind` holds (or is about to hold) `n` objects; `false`
    /// when the cluster's total would then be above the cap.
    fn set(&self, kind: &'static str, n: usize) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let others: usize = counts
            .iter()
            .filter(|(k, _)| **k != kind)
            .map(|(_, n)| *n)
            .sum();
        if others + n > self.cap {
            counts.insert(kind, 0);
            return false;
        }
        counts.insert(kind, n);
        true
    }
}

/// One kind's store and its health.
pub struct Reflected<K: Resource<DynamicType = ()> + Clone + 'static> {
    /// The store's name in `/metrics`, logs and the cluster's budget (the
    /// kind, unless a kind has two stores).
    kind: &'static str,
    store: Store<K>,
    health: Arc<Mutex<Health>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Reflected<K> {
    /// The objects and the cache's age, when the store has synced and its
    /// watch is healthy; `None` means "ask the API server".
    pub fn snapshot(&self) -> Option<(Vec<Arc<K>>, Duration)> {
        let h = self.health.lock().ok()?;
        if !h.synced || h.failing || h.over_cap {
            return None;
        }
        let age = h.seen.map(|s| s.elapsed()).unwrap_or_default();
        drop(h);
        Some((self.store.state(), age))
    }
}

impl<K: Resource<DynamicType = ()> + k8s_openapi::Resource + Clone + 'static> Reflected<K> {
    /// The store's health for `/metrics`.
    pub fn state(&self) -> KindState {
        let h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        KindState {
            kind: self.kind,
            usable: h.synced && !h.failing && !h.over_cap,
            over_cap: h.over_cap,
            objects: h.count,
        }
    }
}

/// A cluster's stores.
pub struct ClusterCache {
    pub pods: Reflected<Pod>,
    /// Events whose involved object is a Pod.
    pub events: Reflected<Event>,
    /// Warning events of every other kind (a hub's Deployment, a PVC, a
    /// Service): with `events`, every warning of a namespace.
    pub warnings: Reflected<Event>,
    pub nodes: Reflected<Node>,
    pub deployments: Reflected<Deployment>,
    pub statefulsets: Reflected<StatefulSet>,
    /// Only `STATUS_CONFIGMAP`.
    pub autoscaler_status: Reflected<ConfigMap>,
}

impl ClusterCache {
    /// Every store's health, for `/metrics`.
    pub fn states(&self) -> Vec<KindState> {
        vec![
            self.pods.state(),
            self.events.state(),
            self.warnings.state(),
            self.nodes.state(),
            self.deployments.state(),
            self.statefulsets.state(),
            self.autoscaler_status.state(),
        ]
    }
}

/// Every configured cluster's stores, by cluster name.
#[derive(Default)]
pub struct WatchCache {
    clusters: BTreeMap<String, Arc<ClusterCache>>,
}

impl WatchCache {
    /// Start the reflectors of every cluster of `clusters` (with opsbot's own
    /// client, never an impersonating one), each cluster holding at most
    /// `max_objects(cluster)` objects; they stop when `stop` is cancelled.
    pub fn start(
        clusters: &ClusterSet,
        max_objects: impl Fn(&str) -> usize,
        stop: &CancellationToken,
    ) -> WatchCache {
        let mut out = BTreeMap::new();
        for name in clusters.names() {
            let Ok(client) = clusters.get(&name) else {
                continue;
            };
            let (ns, cm) = STATUS_CONFIGMAP;
            let budget = Arc::new(Budget {
                cap: max_objects(&name),
                counts: Mutex::default(),
            });
            let r = Reflector {
                cluster: &name,
                budget: &budget,
                stop,
            };
            let cache = ClusterCache {
                pods: r.reflect(Api::all(client.clone()), watcher::Config::default()),
                events: r.reflect_as(
                    "Event",
                    Api::all(client.clone()),
                    watcher::Config::default().fields("involvedObject.kind=Pod"),
                ),
                warnings: r.reflect_as(
                    "WarningEvent",
                    Api::all(client.clone()),
                    watcher::Config::default().fields("type=Warning,involvedObject.kind!=Pod"),
                ),
                nodes: r.reflect(Api::all(client.clone()), watcher::Config::default()),
                deployments: r.reflect(Api::all(client.clone()), watcher::Config::default()),
                statefulsets: r.reflect(Api::all(client.clone()), watcher::Config::default()),
                autoscaler_status: r.reflect(
                    Api::namespaced(client.clone(), ns),
                    watcher::Config::default().fields(&format!("metadata.name={cm}")),
                ),
            };
            out.insert(name, Arc::new(cache));
        }
        WatchCache { clusters: out }
    }

    /// The stores of cluster `name`.
    pub fn cluster(&self, name: &str) -> Option<Arc<ClusterCache>> {
        self.clusters.get(name).cloned()
    }

    /// Every cluster's stores, by name.
    pub fn clusters(&self) -> impl Iterator<Item = (&String, &Arc<ClusterCache>)> {
        self.clusters.iter()
    }
}

/// Drop what no step reads and what makes objects big.
fn strip<K: ResourceExt>(obj: &mut K) {
    obj.managed_fields_mut().clear();
    let annotations = obj.annotations_mut();
    for a in DROPPED_ANNOTATIONS {
        annotations.remove(*a);
    }
}

/// What every store of one cluster shares.
struct Reflector<'a> {
    cluster: &'a str,
    budget: &'a Arc<Budget>,
    stop: &'a CancellationToken,
}

impl Reflector<'_> {
    /// Spawn the task that keeps one store: the watcher's events applied to
    /// the store's writer, the whole watcher re-created (a full list) every
    /// `RESYNC`. A list or event that takes the cluster above its cap
    /// empties the store and marks it over the cap until the next resync.
    fn reflect<K>(&self, api: Api<K>, config: watcher::Config) -> Reflected<K>
    where
        K: Resource<DynamicType = ()>
            + k8s_openapi::Resource
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        self.reflect_as(K::KIND, api, config)
    }

    /// [`Reflector::reflect`] for a kind kept in more than one store, each
    /// under its own name.
    fn reflect_as<K>(
        &self,
        kind: &'static str,
        api: Api<K>,
        config: watcher::Config,
    ) -> Reflected<K>
    where
        K: Resource<DynamicType = ()>
            + k8s_openapi::Resource
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let (store, writer) = reflector::store::<K>();
        let health = Arc::new(Mutex::new(Health::default()));
        let task = Task {
            kind,
            api,
            config,
            writer,
            store: store.clone(),
            health: health.clone(),
            budget: self.budget.clone(),
            cluster: self.cluster.to_string(),
            stop: self.stop.clone(),
            warned: false,
            warned_forbidden: false,
        };
        tokio::spawn(task.run());
        Reflected {
            kind,
            store,
            health,
        }
    }
}

/// The state of one store's task.
struct Task<K: Resource<DynamicType = ()> + Clone + 'static> {
    /// The store's name (see [`Reflected`]).
    kind: &'static str,
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    store: Store<K>,
    health: Arc<Mutex<Health>>,
    budget: Arc<Budget>,
    cluster: String,
    stop: CancellationToken,
    /// The over-cap warning was logged.
    warned: bool,
    /// The forbidden-watch warning was logged.
    warned_forbidden: bool,
}

impl<K> Task<K>
where
    K: Resource<DynamicType = ()>
        + k8s_openapi::Resource
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    async fn run(mut self) {
        loop {
            let stream = watcher(self.api.clone(), self.config.clone())
                .default_backoff()
                .modify(strip::<K>);
            let mut stream = std::pin::pin!(stream);
            let resync = tokio::time::sleep(RESYNC);
            let mut resync = std::pin::pin!(resync);
            // Objects of the list in progress.
            let mut listing = 0usize;
            loop {
                let next = tokio::select! {
                    _ = self.stop.cancelled() => return,
                    _ = &mut resync => break,
                    n = stream.next() => n,
                };
                let Some(next) = next else { break };
                let event = match next {
                    Ok(event) => event,
                    Err(e) => {
                        let forbidden = matches!(&e, watcher::Error::WatchStartFailed(kube::Error::Api(s)) if s.code == 403);
                        if forbidden && !self.warned_forbidden {
                            self.warned_forbidden = true;
                            tracing::warn!(cluster = %self.cluster, kind = self.kind, error = %e, "watch cache: the cluster forbids watching {}; its reads list from the API server (give opsbot `watch` on it to cache it)", self.kind);
                        } else {
                            tracing::debug!(cluster = %self.cluster, kind = self.kind, error = %e, "watch cache: watch failed, retrying");
                        }
                        self.health().failing = true;
                        continue;
                    }
                };
                let fits = match &event {
                    watcher::Event::Init => {
                        listing = 0;
                        true
                    }
                    watcher::Event::InitApply(_) => {
                        listing += 1;
                        self.budget.set(self.kind, listing)
                    }
                    watcher::Event::InitDone => self.budget.set(self.kind, listing),
                    // An update keeps the count; only a new object adds one.
                    watcher::Event::Apply(o) => {
                        let known = self.store.get(&reflector::ObjectRef::from_obj(o)).is_some();
                        known || self.budget.set(self.kind, self.store.len() + 1)
                    }
                    watcher::Event::Delete(_) => true,
                };
                if !fits {
                    self.over_cap();
                    // Wait for the next resync (or the end) with nothing kept.
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = &mut resync => {}
                    }
                    break;
                }
                self.writer.apply_watcher_event(&event);
                let count = self.store.len();
                let mut h = self.health();
                match event {
                    watcher::Event::Init | watcher::Event::InitApply(_) => {}
                    watcher::Event::InitDone => {
                        h.synced = true;
                        h.failing = false;
                        h.over_cap = false;
                        h.seen = Some(Instant::now());
                    }
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) => {
                        h.failing = false;
                        h.seen = Some(Instant::now());
                    }
                }
                h.count = count;
                drop(h);
                if matches!(event, watcher::Event::Delete(_)) {
                    self.budget.set(self.kind, count);
                }
            }
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empty the store (an empty list replaces it) and stop answering
    /// from it; say so once.
    fn over_cap(&mut self) {
        self.writer.apply_watcher_event(&watcher::Event::Init);
        self.writer.apply_watcher_event(&watcher::Event::InitDone);
        self.budget.set(self.kind, 0);
        {
            let mut h = self.health();
            h.over_cap = true;
            h.count = 0;
        }
        if !self.warned {
            self.warned = true;
            tracing::warn!(
                cluster = %self.cluster,
                kind = self.kind,
                max_objects = self.budget.cap,
                "watch cache: the cluster holds more objects than watch_cache_max_objects; {} are not cached and are listed from the API server (tried again at each resync)",
                self.kind
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clusters_budget_refuses_the_kind_that_would_go_above_its_cap() {
        let b = Budget {
            cap: 10,
            counts: Mutex::default(),
        };
        assert!(b.set("Pod", 6));
        assert!(b.set("Node", 4));
        // One more pod would make 11: refused, and the pods no longer count.
        assert!(!b.set("Pod", 7));
        assert!(b.set("Deployment", 6));
        // The kind's own earlier count is replaced, not added to.
        assert!(b.set("Node", 3));
        assert!(b.set("Node", 4));
        assert!(!b.set("Node", 5));
    }
}
