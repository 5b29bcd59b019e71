//! The watch cache of the long-running server (`serve`, `demo`): per
//! cluster, a reflector (kube-runtime's watcher feeding a reflector store)
//! for each kind the pack's read-only steps list: pods, pod events, nodes,
//! deployments and the cluster-autoscaler's status ConfigMap.
//!
//! * Bounded: `managedFields` and the `last-applied-configuration`
//!   annotation are dropped before an object is stored, and only pod
//!   events and the one autoscaler ConfigMap are watched.
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
use k8s_openapi::api::apps::v1::Deployment;
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
}

/// One kind's store and its health.
pub struct Reflected<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    health: Arc<Mutex<Health>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Reflected<K> {
    /// The objects and the cache's age, when the store has synced and its
    /// watch is healthy; `None` means "ask the API server".
    pub fn snapshot(&self) -> Option<(Vec<Arc<K>>, Duration)> {
        let h = self.health.lock().ok()?;
        if !h.synced || h.failing {
            return None;
        }
        let age = h.seen.map(|s| s.elapsed()).unwrap_or_default();
        drop(h);
        Some((self.store.state(), age))
    }
}

/// A cluster's stores.
pub struct ClusterCache {
    pub pods: Reflected<Pod>,
    /// Events whose involved object is a Pod.
    pub events: Reflected<Event>,
    pub nodes: Reflected<Node>,
    pub deployments: Reflected<Deployment>,
    /// Only `STATUS_CONFIGMAP`.
    pub autoscaler_status: Reflected<ConfigMap>,
}

/// Every configured cluster's stores, by cluster name.
#[derive(Default)]
pub struct WatchCache {
    clusters: BTreeMap<String, Arc<ClusterCache>>,
}

impl WatchCache {
    /// Start the reflectors of every cluster of `clusters` (with opsbot's own
    /// client, never an impersonating one); they stop when `stop` is cancelled.
    pub fn start(clusters: &ClusterSet, stop: &CancellationToken) -> WatchCache {
        let mut out = BTreeMap::new();
        for name in clusters.names() {
            let Ok(client) = clusters.get(&name) else {
                continue;
            };
            let (ns, cm) = STATUS_CONFIGMAP;
            let cache = ClusterCache {
                pods: reflect(
                    &name,
                    Api::all(client.clone()),
                    watcher::Config::default(),
                    stop,
                ),
                events: reflect(
                    &name,
                    Api::all(client.clone()),
                    watcher::Config::default().fields("involvedObject.kind=Pod"),
                    stop,
                ),
                nodes: reflect(
                    &name,
                    Api::all(client.clone()),
                    watcher::Config::default(),
                    stop,
                ),
                deployments: reflect(
                    &name,
                    Api::all(client.clone()),
                    watcher::Config::default(),
                    stop,
                ),
                autoscaler_status: reflect(
                    &name,
                    Api::namespaced(client.clone(), ns),
                    watcher::Config::default().fields(&format!("metadata.name={cm}")),
                    stop,
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
}

/// Drop what no step reads and what makes objects big.
fn strip<K: ResourceExt>(obj: &mut K) {
    obj.managed_fields_mut().clear();
    let annotations = obj.annotations_mut();
    for a in DROPPED_ANNOTATIONS {
        annotations.remove(*a);
    }
}

/// Spawn the task that keeps one store: the watcher's events applied to the
/// store's writer, the whole watcher re-created (a full list) every `RESYNC`.
fn reflect<K>(
    cluster: &str,
    api: Api<K>,
    config: watcher::Config,
    stop: &CancellationToken,
) -> Reflected<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, mut writer) = reflector::store::<K>();
    let health = Arc::new(Mutex::new(Health::default()));
    let (h, stop, cluster) = (health.clone(), stop.clone(), cluster.to_string());
    let kind = K::kind(&()).to_string();
    tokio::spawn(async move {
        loop {
            let stream = watcher(api.clone(), config.clone())
                .default_backoff()
                .modify(strip::<K>);
            let mut stream = std::pin::pin!(stream);
            let resync = tokio::time::sleep(RESYNC);
            let mut resync = std::pin::pin!(resync);
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = &mut resync => break,
                    n = stream.next() => n,
                };
                let Some(next) = next else { break };
                match next {
                    Ok(event) => {
                        writer.apply_watcher_event(&event);
                        let mut h = h.lock().unwrap_or_else(|p| p.into_inner());
                        match event {
                            watcher::Event::Init | watcher::Event::InitApply(_) => {}
                            watcher::Event::InitDone => {
                                h.synced = true;
                                h.failing = false;
                                h.seen = Some(Instant::now());
                            }
                            watcher::Event::Apply(_) | watcher::Event::Delete(_) => {
                                h.failing = false;
                                h.seen = Some(Instant::now());
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(cluster = %cluster, kind = %kind, error = %e, "watch cache: watch failed, retrying");
                        h.lock().unwrap_or_else(|p| p.into_inner()).failing = true;
                    }
                }
            }
        }
    });
    Reflected { store, health }
}
