//! The `diagnose` step: gather the [`Evidence`] about one user's server from
//! the cluster and ask the catalogue of known failures what is wrong.
//!
//! The catalogue is `playbooks/knowledge/jupyterhub.yaml`, embedded in the
//! binary with `include_str!` and parsed once (a bad embedded file is caught by
//! this module's test). A step may name another directory of catalogue files
//! with `catalogue: <dir>`; that directory is read on each run, so editing it
//! needs no restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use futures::StreamExt;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cached::{cache_field, with_watch, Reader};
use super::kube::{client, from_kube, summarise};
use super::{check_args, parse_args, ActionCall, ActionError, ActionSpec, Permission, Target};
use crate::jupyterhub::diagnose::autoscaler::{self, STATUS_CONFIGMAP, STATUS_KEY};
use crate::jupyterhub::diagnose::{pool_of, Catalogue, Evidence, NodeRequests, Part, PoolCapacity};

/// The catalogue shipped with opsbot, used when a step names none.
const BUILTIN_CATALOGUE: &str = include_str!("../../playbooks/knowledge/jupyterhub.yaml");

/// How many log lines of each container instance the engine sees.
const LOG_TAIL: i64 = 50;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiagnoseArgs {
    cluster: String,
    namespace: String,
    /// The user as typed (`alice`, `Alice`, `alice:gpu`); found however
    /// the hub named the pod (see `kube.user_server`).
    user: String,
    /// A directory of catalogue files replacing the built-in one.
    #[serde(default)]
    catalogue: Option<String>,
    /// The hub, so its REST API (when configured) is asked for the spawn's
    /// progress: a failed spawn ("Spawn failed: Timeout") as the hub saw it.
    #[serde(default)]
    hub: Option<String>,
}

/// How long the hub's progress stream is read (it stays open while a spawn is pending).
const PROGRESS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingArgs {
    cluster: String,
    namespace: String,
    #[serde(default)]
    catalogue: Option<String>,
}

/// The `diagnose` and `diagnose.pending` step kinds.
pub fn actions() -> Vec<ActionSpec> {
    vec![
        pending_spec(),
        ActionSpec {
            name: "diagnose",
            mutates: false,
            idempotent: false,
            check: check_args::<DiagnoseArgs>,
            permissions: |_| {
                vec![
                    Permission::new("list", "", "pods"),
                    Permission::new("list", "", "persistentvolumeclaims"),
                    Permission::new("list", "", "events"),
                    Permission::new("get", "", "pods/log"),
                    Permission::new("list", "", "nodes"),
                    autoscaler_status_permission(),
                ]
            },
            describe: |a| {
                let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                Target {
                    verb: "diagnose".into(),
                    target: format!(
                        "v1 pods {}/user={} @{}",
                        s("namespace"),
                        s("user"),
                        s("cluster")
                    ),
                }
            },
            run: Arc::new(|c| Box::pin(run(c))),
        },
    ]
}

/// `diagnose.pending`: every Pending user server of a namespace, each
/// explained by the catalogue and grouped by finding, so "12 users cannot
/// start" reads as two causes rather than twelve pods.
fn pending_spec() -> ActionSpec {
    ActionSpec {
        name: "diagnose.pending",
        mutates: false,
        idempotent: false,
        check: check_args::<PendingArgs>,
        permissions: |_| {
            with_watch(vec![
                Permission::new("list", "", "pods"),
                Permission::new("list", "", "events"),
                Permission::new("list", "", "nodes"),
                autoscaler_status_permission(),
            ])
        },
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target {
                verb: "diagnose".into(),
                target: format!("v1 pods {}/phase=Pending @{}", s("namespace"), s("cluster")),
            }
        },
        run: Arc::new(|c| Box::pin(pending(c))),
    }
}

/// Reading the cluster-autoscaler's status, and only that ConfigMap.
fn autoscaler_status_permission() -> Permission {
    Permission::named("get", "", "configmaps", STATUS_CONFIGMAP.1)
}

/// The node pools with what the cluster autoscaler says about them. Its
/// status is best effort: a cluster without one, an unreadable or garbled
/// status leave every pool's scaling unknown rather than failing the step.
pub(crate) async fn pools(
    reader: &Reader,
    nodes: &[Node],
    used: &NodeRequests,
) -> Vec<PoolCapacity> {
    let mut pools = used.pools(nodes);
    let (namespace, name) = STATUS_CONFIGMAP;
    let status = match reader.autoscaler_status(namespace, name).await {
        Ok(cm) => cm.and_then(|cm| cm.data?.remove(STATUS_KEY)),
        Err(e) => {
            tracing::debug!(error = %e, "cluster-autoscaler status not readable");
            None
        }
    };
    match status.as_deref().map(autoscaler::parse_status) {
        Some(Ok(groups)) => autoscaler::apply(&mut pools, &groups),
        Some(Err(e)) => tracing::warn!(error = %e, "cluster-autoscaler status ignored"),
        None => {}
    }
    pools
}

/// The catalogue a step names, or the built-in one.
pub(crate) fn catalogue_for(
    dir: Option<&str>,
) -> Result<std::borrow::Cow<'static, Catalogue>, ActionError> {
    match dir.filter(|d| !d.is_empty()) {
        Some(dir) => Catalogue::load_dir(Path::new(dir))
            .map(std::borrow::Cow::Owned)
            .map_err(|d| ActionError::Invalid(format!("catalogue {dir}: {d}"))),
        None => builtin_catalogue()
            .map(std::borrow::Cow::Borrowed)
            .map_err(ActionError::Failed),
    }
}

/// The user servers that are Pending (and not being deleted), asked of the
/// API server with a field selector so the Running majority never travels.
pub(crate) fn pending_servers() -> ListParams {
    ListParams::default()
        .labels("component=singleuser-server")
        .fields("status.phase=Pending")
}

/// The pods that hold room on their node (the API server leaves out finished ones).
const NOT_FINISHED: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// Up to this many nodes to count, a list per node (field selector on
/// `spec.nodeName`) reads fewer pods than one list of the cluster's.
const PER_NODE_UP_TO: usize = 32;

/// What a pending answer shows of each server's finding.
const PENDING_SHOWS: [Part; 2] = [Part::Title, Part::Fix];

/// The node pools for the answers about `stuck` (the pending servers of one
/// cluster, any namespaces): every pool of `nodes`, with the room used on it
/// counted only where it can change what an answer shows (see
/// [`Catalogue::pools_shown`]): a server that waits on an image, a volume or
/// a taint reads no pod, and one that asks more than a node of some pool
/// has does not read that pool. The pods of those pools' nodes are read a
/// node at a time while they are few, else in one list of the cluster's.
/// The other pools' free room is their allocatable, which no shown text reads.
pub(crate) async fn pending_pools(
    reader: &Reader,
    catalogue: &Catalogue,
    stuck: &[&Pod],
    events: &[Event],
    nodes: &[Node],
) -> Result<Vec<PoolCapacity>, ActionError> {
    let empty = NodeRequests::default().pools(nodes);
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for pod in stuck {
        let ev = Evidence {
            events: events_about(events, pod),
            pod: Some((*pod).clone()),
            logs: Vec::new(),
            previous_logs: Vec::new(),
            hub_logs: Vec::new(),
            node: node_of(pod, nodes),
            pools: empty.clone(),
            now: chrono::Utc::now(),
        };
        wanted.extend(catalogue.pools_shown(&ev, &PENDING_SHOWS));
    }
    if wanted.is_empty() {
        return Ok(empty);
    }
    let on: Vec<&str> = nodes
        .iter()
        .filter(|n| wanted.contains(&pool_of(n)))
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    let used = node_requests_on(reader, &on, nodes.len()).await?;
    Ok(pools(reader, nodes, &used).await)
}

/// The node of `nodes` that `pod` is bound to.
fn node_of(pod: &Pod, nodes: &[Node]) -> Option<Node> {
    let name = pod.spec.as_ref()?.node_name.as_deref()?;
    nodes
        .iter()
        .find(|x| x.metadata.name.as_deref() == Some(name))
        .cloned()
}

/// The events of `events` about `pod` (same name and namespace).
pub(crate) fn events_about(events: &[Event], pod: &Pod) -> Vec<Event> {
    events
        .iter()
        .filter(|e| {
            e.involved_object.name == pod.metadata.name
                && e.metadata.namespace == pod.metadata.namespace
        })
        .cloned()
        .collect()
}

/// [`node_requests`] counted on the nodes `on` only (of a cluster of `all`
/// nodes): a list per node while they are few and not all of them, else
/// the cluster's list (or the watch cache, which has every pod at hand).
pub(crate) async fn node_requests_on(
    reader: &Reader,
    on: &[&str],
    all: usize,
) -> Result<NodeRequests, ActionError> {
    let mut used = NodeRequests::default();
    if on.is_empty() {
        return Ok(used);
    }
    if on.len() >= all || on.len() > PER_NODE_UP_TO {
        return node_requests(reader).await;
    }
    let lp = ListParams::default().fields(NOT_FINISHED);
    if reader.visit_cached::<Pod>(None, &lp, |p| used.add(p)) {
        return Ok(used);
    }
    let client = &reader.client;
    let on: Vec<String> = on.iter().map(|n| n.to_string()).collect();
    let read = futures::stream::iter(on)
        .map(|node: String| async move {
            let lp = ListParams::default().fields(&format!("spec.nodeName={node},{NOT_FINISHED}"));
            let mut pods = Vec::new();
            let view = |p: requests::PodRequests| pods.push(p.into_pod());
            super::fleet::list_pages_as(client, "/api/v1/pods", &lp, view)
                .await
                .map(|()| pods)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    for pods in read {
        pods?.iter().for_each(|p| used.add(p));
    }
    Ok(used)
}

/// The requests of every pod of the cluster per node (for the pools' free
/// room), read page by page; finished pods are left out by the API server.
pub(crate) async fn node_requests(reader: &Reader) -> Result<NodeRequests, ActionError> {
    let mut used = NodeRequests::default();
    let lp = ListParams::default().fields(NOT_FINISHED);
    let cached = reader.visit_cached::<Pod>(None, &lp, |p| used.add(p));
    if !cached {
        let view = |p: requests::PodRequests| used.add(&p.into_pod());
        super::fleet::list_pages_as(&reader.client, "/api/v1/pods", &lp, view).await?;
    }
    Ok(used)
}

/// The part of a pod [`NodeRequests`] counts, decoded without the rest
/// (environment, volumes, probes, statuses: most of a pod's bytes).
mod requests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    use serde::Deserialize;

    type Amounts = Option<BTreeMap<String, Quantity>>;

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub(super) struct PodRequests {
        metadata: Option<Meta>,
        spec: Option<Spec>,
        status: Option<Status>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Meta {
        owner_references: Option<Vec<Owner>>,
        annotations: Option<BTreeMap<String, serde::de::IgnoredAny>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Owner {
        kind: String,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Spec {
        node_name: Option<String>,
        containers: Option<Vec<Requesting>>,
        init_containers: Option<Vec<Requesting>>,
        overhead: Amounts,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Requesting {
        resources: Option<Resources>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Resources {
        requests: Amounts,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Status {
        phase: Option<String>,
    }

    impl PodRequests {
        /// A `Pod` holding only these fields, for the one way pods are counted.
        pub(super) fn into_pod(self) -> Pod {
            let container = |r: Requesting| Container {
                resources: Some(ResourceRequirements {
                    requests: r.resources.and_then(|r| r.requests),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let mirror = "kubernetes.io/config.mirror";
            let meta = self.metadata.unwrap_or_default();
            let spec = self.spec.unwrap_or_default();
            Pod {
                metadata: ObjectMeta {
                    owner_references: Some(
                        meta.owner_references
                            .into_iter()
                            .flatten()
                            .map(|o| OwnerReference {
                                kind: o.kind,
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    annotations: meta
                        .annotations
                        .is_some_and(|a| a.contains_key(mirror))
                        .then(|| BTreeMap::from([(mirror.to_string(), String::new())])),
                    ..Default::default()
                },
                spec: Some(PodSpec {
                    node_name: spec.node_name,
                    containers: spec
                        .containers
                        .into_iter()
                        .flatten()
                        .map(container)
                        .collect(),
                    init_containers: Some(
                        spec.init_containers
                            .into_iter()
                            .flatten()
                            .map(container)
                            .collect(),
                    ),
                    overhead: spec.overhead,
                    ..Default::default()
                }),
                status: Some(PodStatus {
                    phase: self.status.and_then(|s| s.phase),
                    ..Default::default()
                }),
            }
        }
    }
}

/// Every node of the cluster, page by page.
pub(crate) async fn all_nodes(reader: &Reader) -> Result<Vec<Node>, ActionError> {
    let mut nodes = Vec::new();
    reader
        .list::<Node>(None, &ListParams::default(), |n| nodes.push(n))
        .await?;
    Ok(nodes)
}

async fn pending(call: ActionCall) -> Result<Value, ActionError> {
    let a: PendingArgs = parse_args(&call.args)?;
    let catalogue = catalogue_for(a.catalogue.as_deref())?;
    let reader = Reader::new(&call, &a.cluster)?;
    let ns = Some(a.namespace.as_str());
    let mut stuck: Vec<Pod> = Vec::new();
    reader
        .list::<Pod>(ns, &pending_servers(), |p| {
            if p.metadata.deletion_timestamp.is_none() {
                stuck.push(p);
            }
        })
        .await?;
    let mut out = if stuck.is_empty() {
        explain_pending(&catalogue, Vec::new(), &[], &[], &[])
    } else {
        let mut events: Vec<Event> = Vec::new();
        reader
            .list::<Event>(
                ns,
                &ListParams::default().fields("involvedObject.kind=Pod"),
                |e| events.push(e),
            )
            .await?;
        let nodes = all_nodes(&reader).await?;
        let refs: Vec<&Pod> = stuck.iter().collect();
        let pools = pending_pools(&reader, &catalogue, &refs, &events, &nodes).await?;
        explain_pending(&catalogue, stuck, &events, &nodes, &pools)
    };
    out["cache"] = cache_field(reader.freshness());
    Ok(out)
}

/// The pending servers of one hub explained by the catalogue and grouped by
/// finding (`{count, groups, pods}`); `events` may hold other pods' events.
pub(crate) fn explain_pending(
    catalogue: &Catalogue,
    stuck: Vec<Pod>,
    events: &[Event],
    all_nodes: &[Node],
    pools: &[PoolCapacity],
) -> Value {
    if stuck.is_empty() {
        return json!({ "count": 0, "groups": [], "pods": [] });
    }
    let now = chrono::Utc::now();
    // (finding id, title, fix) → the pods it explains, in first-seen order.
    let mut groups: Vec<(String, String, String, Vec<Value>)> = Vec::new();
    let mut summaries = Vec::new();
    for pod in stuck {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = node_of(&pod, all_nodes);
        let summary = summarise("Pod", &serde_json::to_value(&pod).unwrap_or_default());
        // The raw name (annotation), else the slug (label), `:server` for a named server.
        let user =
            crate::jupyterhub::server_pod::owner(&pod.metadata).unwrap_or_else(|| name.clone());
        let ev = Evidence {
            events: events_about(events, &pod),
            pod: Some(pod),
            logs: Vec::new(),
            previous_logs: Vec::new(),
            hub_logs: Vec::new(),
            node,
            pools: pools.to_vec(),
            now,
        };
        let diagnosis = catalogue.diagnose(&ev);
        let (id, title, fix, matched) = match diagnosis.top() {
            Some(f) => (
                f.id.clone(),
                f.title.clone(),
                f.fix.clone(),
                f.matched.clone(),
            ),
            None => (
                "unknown".to_string(),
                "Pending for a reason the catalogue does not know".to_string(),
                format!("Look at `triage <hub> {user}` and the pod's events."),
                diagnosis.phase.clone(),
            ),
        };
        let entry = json!({
            "user": user,
            "pod": name,
            "age": summary["age"],
            "age_seconds": summary["age_seconds"],
            "state": diagnosis.phase,
            "matched": matched,
        });
        summaries.push(entry.clone());
        match groups.iter_mut().find(|g| g.0 == id) {
            Some(g) => g.3.push(entry),
            None => groups.push((id, title, fix, vec![entry])),
        }
    }
    // Biggest group first: the cause that blocks most people.
    groups.sort_by_key(|g| std::cmp::Reverse(g.3.len()));
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(id, title, fix, pods)| {
            json!({ "id": id, "title": title, "fix": fix, "count": pods.len(), "pods": pods })
        })
        .collect();
    json!({ "count": summaries.len(), "groups": groups, "pods": summaries })
}

/// How many lines of the hub's log are searched for the user.
const HUB_LOG_TAIL: i64 = 2000;
/// How many of the hub's lines about the user the engine sees (the newest).
const HUB_LOG_KEEP: usize = 20;

/// The hub's progress events for the user's default server, when the hub
/// has a configured API: best effort (no API, a named server, an error: none).
async fn spawn_progress(
    call: &ActionCall,
    hub: Option<&str>,
    user: &crate::jupyterhub::username::Username,
    pod: Option<&Pod>,
) -> Vec<crate::jupyterhub::api::SpawnProgress> {
    let Some(hub) = hub.filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    if user.server.is_some() {
        return Vec::new();
    }
    let Ok(api) = call.clusters.hub_api(hub) else {
        return Vec::new();
    };
    // The name the hub stores: the pod's annotation, else as typed.
    let name = pod
        .and_then(|p| {
            p.metadata
                .annotations
                .as_ref()?
                .get(crate::jupyterhub::server_pod::USERNAME_KEY)
                .cloned()
        })
        .unwrap_or_else(|| user.raw.clone());
    match api.spawn_progress(&name, PROGRESS_WAIT).await {
        Ok(events) => events,
        Err(e) => {
            tracing::debug!(error = %e, "spawn progress not read");
            Vec::new()
        }
    }
}

/// The claims a pod mounts.
fn claims_of(p: &Pod) -> Vec<String> {
    p.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|v| Some(v.persistent_volume_claim.as_ref()?.claim_name.clone()))
        .collect()
}

/// The hub's own log lines about this user: best effort (no hub pod, no
/// permission, no log: none), newest last.
async fn hub_log_lines(
    pods: &Api<Pod>,
    lookup: &crate::jupyterhub::server_pod::Lookup,
) -> Vec<String> {
    let Ok(hubs) = pods
        .list(&ListParams::default().labels("component=hub"))
        .await
    else {
        return Vec::new();
    };
    let Some(name) = hubs.items.into_iter().find_map(|p| p.metadata.name) else {
        return Vec::new();
    };
    let lp = LogParams {
        container: Some("hub".into()),
        tail_lines: Some(HUB_LOG_TAIL),
        ..Default::default()
    };
    let Ok(text) = pods.logs(&name, &lp).await else {
        return Vec::new();
    };
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| lookup.mentioned_in(l))
        .map(str::to_string)
        .collect();
    let skip = lines.len().saturating_sub(HUB_LOG_KEEP);
    lines.drain(..skip);
    lines
}

/// The built-in catalogue, parsed once.
pub fn builtin_catalogue() -> Result<&'static Catalogue, String> {
    static CAT: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CAT.get_or_init(|| {
        Catalogue::from_str("playbooks/knowledge/jupyterhub.yaml", BUILTIN_CATALOGUE)
            .map_err(|d| d.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

async fn run(call: ActionCall) -> Result<Value, ActionError> {
    let a: DiagnoseArgs = parse_args(&call.args)?;
    let catalogue = catalogue_for(a.catalogue.as_deref())?;
    let client = client(&call, &a.cluster)?;
    let user = super::user_server::username(&a.user)?;
    let found = super::user_server::find(&client, &a.namespace, &user).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &a.namespace);
    let pod = found.pod.as_ref().map(|(p, _)| p.clone());

    // Events about the pod, its volume claims, and (when the pod is gone)
    // any pod the user's server may have been: an eviction outlives its pod.
    let mut about: Vec<String> = match &pod {
        Some(p) => p.metadata.name.clone().into_iter().collect(),
        None => found.lookup.pod_names(),
    };
    about.extend(found.claims.iter().cloned());
    if let Some(p) = &pod {
        about.extend(claims_of(p));
    }
    let events: Vec<Event> = Api::<Event>::namespaced(client.clone(), &a.namespace)
        .list(&ListParams::default())
        .await
        .map_err(from_kube)?
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object
                .name
                .as_ref()
                .is_some_and(|n| about.contains(n))
        })
        .collect();
    let mut logs = Vec::new();
    let mut previous_logs = Vec::new();
    let mut node = None;
    if let Some(p) = &pod {
        let name = p.metadata.name.clone().unwrap_or_default();
        // Logs are best effort: a Pending pod has none, a fresh one no previous.
        for (previous, out) in [(false, &mut logs), (true, &mut previous_logs)] {
            let lp = LogParams {
                container: Some("notebook".into()),
                tail_lines: Some(LOG_TAIL),
                previous,
                ..Default::default()
            };
            if let Ok(text) = pods.logs(&name, &lp).await {
                *out = text.lines().map(str::to_string).collect();
            }
        }
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            let nodes: Api<Node> = Api::all(client.clone());
            node = nodes.get_opt(&n).await.ok().flatten();
        }
    }
    let mut hub_logs = hub_log_lines(&pods, &found.lookup).await;
    let progress = spawn_progress(&call, a.hub.as_deref(), &user, pod.as_ref()).await;
    hub_logs.extend(
        progress
            .iter()
            .filter(|p| p.failed)
            .map(|p| format!("spawn progress: {}", p.message)),
    );
    // Everything of this step is read from the API server: a person's
    // diagnosis is not worth a stale answer.
    let reader = Reader::direct(client.clone());
    let all_nodes = all_nodes(&reader).await?;
    let used = node_requests(&reader).await?;
    let pools = pools(&reader, &all_nodes, &used).await;

    let pod_summary = pod
        .as_ref()
        .map(|p| summarise("Pod", &serde_json::to_value(p).unwrap_or_default()));
    let ev = Evidence {
        pod,
        events,
        logs,
        previous_logs,
        hub_logs,
        node,
        pools,
        now: chrono::Utc::now(),
    };
    let diagnosis = catalogue.diagnose(&ev);
    let mut out = diagnosis.to_json();
    out["pod"] = pod_summary.unwrap_or(Value::Null);
    out["found"] = json!(out["pod"].is_object());
    out["progress"] = json!(progress);
    let lookup = found.to_json();
    for key in ["how", "claims", "tried", "closest"] {
        out[key] = lookup[key].clone();
    }
    out["top"] = diagnosis
        .top()
        .map(|_| out["findings"][0].clone())
        .unwrap_or(Value::Null);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requests_view_of_a_pod_counts_on_its_node_what_the_whole_pod_does() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "n", "annotations": {"kubernetes.io/config.mirror": "x"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u"}]},
            "spec": {"nodeName": "node-a",
                     "containers": [{"name": "a", "image": "i", "env": [{"name": "E", "value": "v"}],
                                     "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}},
                                    {"name": "b", "image": "i", "resources": null}],
                     "initContainers": [{"name": "init", "image": "i", "resources": {"requests": {"cpu": "2"}}}],
                     "overhead": {"memory": "10Mi"}},
            "status": {"phase": "Running", "containerStatuses": []}
        });
        let whole: Pod = serde_json::from_value(pod.clone()).unwrap();
        let view: requests::PodRequests = serde_json::from_value(pod).unwrap();
        let (mut a, mut b) = (NodeRequests::default(), NodeRequests::default());
        a.add(&whole);
        b.add(&view.into_pod());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(format!("{b:?}").contains("2000"), "{b:?}");
        let bare: requests::PodRequests =
            serde_json::from_value(json!({"metadata": null})).unwrap();
        let mut c = NodeRequests::default();
        c.add(&bare.into_pod());
        assert_eq!(format!("{c:?}"), format!("{:?}", NodeRequests::default()));
    }

    #[test]
    fn the_embedded_catalogue_parses() {
        let cat = builtin_catalogue().unwrap();
        assert!(cat.entries().iter().any(|e| e.id.contains("image")));
    }

    #[test]
    fn diagnose_args_reject_unknown_fields() {
        let spec = actions()
            .into_iter()
            .find(|s| s.name == "diagnose")
            .unwrap();
        assert!((spec.check)(&json!({"cluster": "c", "namespace": "n", "user": "u"})).is_ok());
        assert!((spec.check)(&json!({"cluster": "c", "namespace": "n", "usr": "u"})).is_err());
    }
}
