//! Steps that answer for many hubs at once (`pending all`, `fleet status`):
//! fanned out by cluster, not by hub. Each cluster is asked once per kind,
//! across namespaces, with server-side label and field selectors, page by
//! page (`limit`/`continue`), and the pages are folded into what the answer
//! needs (the pending servers, a count per namespace) instead of held. The
//! clusters are asked in parallel, a bounded number at a time, each under
//! its own deadline, so one that fails or hangs is reported by name (for
//! each of its hubs) while the others answer.
//!
//! The output has the shape of a `foreach` step (`results` of `{item, ok,
//! output, error}` in the order of the hubs given, `ok`, `failed`, `count`),
//! so result templates read it the same way and the executor reports a
//! partial failure the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cached::{cache_field, with_watch, Reader};
use super::diagnose::{all_nodes, catalogue_for, explain_pending, pending_pools, pending_servers};
use super::kube::{from_kube, summarise};
use super::{check_args, parse_args, parse_duration, ActionCall, ActionError, ActionSpec};
use super::{Permission, Target};

/// Objects per list page: a page of pods is a few MiB at most.
pub(crate) const PAGE: u32 = 500;

/// Clusters asked at the same time.
const CONCURRENCY: usize = 4;

/// How long one cluster may take (all its lists, one retry included).
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(20);

/// The step's arguments as written (`hubs` is still a template then):
/// only their names are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArgs {
    #[serde(rename = "hubs")]
    _hubs: IgnoredAny,
    #[serde(default, rename = "concurrency")]
    _concurrency: Option<IgnoredAny>,
    #[serde(default, rename = "cluster_timeout")]
    _cluster_timeout: Option<IgnoredAny>,
    #[serde(default, rename = "catalogue")]
    _catalogue: Option<IgnoredAny>,
}

/// The rendered arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetArgs {
    /// Hubs as the `hubs` parameter resolves them: `{name, cluster, namespace, ...}`.
    hubs: Vec<Value>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    cluster_timeout: Option<String>,
    /// `fleet.pending` only: a directory of catalogue files.
    #[serde(default)]
    catalogue: Option<String>,
}

/// The `fleet.pending` and `fleet.status` step kinds.
pub fn actions() -> Vec<ActionSpec> {
    vec![
        ActionSpec {
            name: "fleet.pending",
            mutates: false,
            idempotent: false,
            check: check_args::<RawArgs>,
            permissions: |_| {
                with_watch(vec![
                    Permission::new("list", "", "pods"),
                    Permission::new("list", "", "events"),
                    Permission::new("list", "", "nodes"),
                    Permission::named(
                        "get",
                        "",
                        "configmaps",
                        crate::jupyterhub::diagnose::autoscaler::STATUS_CONFIGMAP.1,
                    ),
                ])
            },
            describe: |a| Target {
                verb: "diagnose".into(),
                target: format!("v1 pods phase=Pending @{}", clusters_of(a)),
            },
            run: Arc::new(|c| Box::pin(pending(c))),
        },
        ActionSpec {
            name: "fleet.status",
            mutates: false,
            idempotent: false,
            check: check_args::<RawArgs>,
            permissions: |_| {
                with_watch(vec![
                    Permission::new("list", "apps", "deployments"),
                    Permission::new("list", "", "pods"),
                ])
            },
            describe: |a| Target {
                verb: "list".into(),
                target: format!(
                    "apps/v1 deployments component=hub, v1 pods phase=Running @{}",
                    clusters_of(a)
                ),
            },
            run: Arc::new(|c| Box::pin(status(c))),
        },
    ]
}

/// The distinct clusters of rendered `hubs`, in order (`?` before rendering).
fn clusters_of(args: &Value) -> String {
    let Some(hubs) = args["hubs"].as_array() else {
        return "?".into();
    };
    let mut seen = Vec::new();
    for c in hubs.iter().filter_map(|h| h["cluster"].as_str()) {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    seen.join(",")
}

/// The one paging loop: `fetch` reads the page `lp` names (`PAGE` objects)
/// and says its items and the continue token; each item goes to `each` as
/// it arrives, so memory holds one page whatever the cluster's size.
pub(crate) async fn pages<T, F, Fut>(
    lp: &ListParams,
    mut fetch: F,
    mut each: impl FnMut(T),
) -> Result<(), ActionError>
where
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), kube::Error>>,
{
    let mut lp = lp.clone().limit(PAGE);
    loop {
        let (items, next) = fetch(lp.clone()).await.map_err(from_kube)?;
        items.into_iter().for_each(&mut each);
        match next.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// Every object `lp` selects, page by page (see [`pages`]).
pub(crate) async fn list_pages<K>(
    api: &Api<K>,
    lp: &ListParams,
    each: impl FnMut(K),
) -> Result<(), ActionError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let fetch = |lp: ListParams| async move {
        let page = api.list(&lp).await?;
        Ok((page.items, page.metadata.continue_))
    };
    pages(lp, fetch, each).await
}

/// Like [`list_pages`] for the objects at `path` (e.g. `/api/v1/pods`), each
/// decoded as `T`: a view with only the fields a step reads, so a cluster's
/// thousands of pods are parsed past, not built field by field into
/// `k8s_openapi` objects and dropped.
pub(crate) async fn list_pages_as<T: DeserializeOwned>(
    client: &kube::Client,
    path: &str,
    lp: &ListParams,
    each: impl FnMut(T),
) -> Result<(), ActionError> {
    #[derive(serde::Deserialize)]
    struct Page<T> {
        #[serde(default)]
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
        #[serde(default = "Vec::new")]
        items: Vec<T>,
    }
    let fetch = |lp: ListParams| async move {
        let req = kube::core::Request::new(path)
            .list(&lp)
            .map_err(kube::Error::BuildRequest)?;
        let page: Page<T> = client.request(req).await?;
        Ok((page.items, page.metadata.continue_))
    };
    pages(lp, fetch, each).await
}

/// A hub's cluster and namespace (as the `hubs` parameter gives them).
fn place(hub: &Value) -> Result<(String, String), ActionError> {
    match (hub["cluster"].as_str(), hub["namespace"].as_str()) {
        (Some(c), Some(n)) => Ok((c.to_string(), n.to_string())),
        _ => Err(ActionError::Invalid(format!(
            "hubs: {hub} has no cluster and namespace"
        ))),
    }
}

/// Ask each cluster of `hubs` once with `ask(client, namespaces)`, which
/// answers per namespace; clusters in parallel (bounded), each under the
/// deadline and retried once on a transient failure. Returns the fan-out
/// shaped output, one result per hub in the order given.
async fn per_cluster<F, Fut>(call: &ActionCall, ask: F) -> Result<Value, ActionError>
where
    F: Fn(Reader, BTreeSet<String>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, Value>, ActionError>>,
{
    let a: FleetArgs = parse_args(&call.args)?;
    let deadline = match a.cluster_timeout.as_deref() {
        Some(t) => parse_duration("cluster_timeout", t)?,
        None => CLUSTER_TIMEOUT,
    };
    let mut clusters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for hub in &a.hubs {
        let (cluster, ns) = place(hub)?;
        clusters.entry(cluster).or_default().insert(ns);
    }
    let ask = &ask;
    type Answer = Result<(HashMap<String, Value>, Option<Duration>), String>;
    let answers: HashMap<String, Answer> = futures::stream::iter(clusters)
        .map(|(cluster, namespaces)| async move {
            let answer = async {
                let reader = Reader::new(call, &cluster)?;
                let by_ns = match ask(reader.clone(), namespaces.clone()).await {
                    Err(e) if e.retry_hint().is_some() => {
                        let reader = Reader::new(call, &cluster)?;
                        let by_ns = ask(reader.clone(), namespaces).await?;
                        return Ok((by_ns, reader.freshness()));
                    }
                    other => other?,
                };
                Ok::<_, ActionError>((by_ns, reader.freshness()))
            };
            let answer = match tokio::time::timeout(deadline, answer).await {
                Ok(Ok(by_ns)) => Ok(by_ns),
                Ok(Err(e)) => Err(format!("cluster {cluster}: {e}")),
                Err(_) => Err(format!(
                    "cluster {cluster}: no answer within {}",
                    humantime::format_duration(deadline)
                )),
            };
            (cluster, answer)
        })
        .buffer_unordered(a.concurrency.unwrap_or(CONCURRENCY).max(1))
        .collect()
        .await;
    let mut results = Vec::with_capacity(a.hubs.len());
    let (mut ok, mut failed) = (0, 0);
    // The oldest cache answered from, when every cluster that answered did.
    let mut oldest: Option<Option<Duration>> = None;
    for hub in a.hubs {
        let (cluster, ns) = place(&hub)?;
        match &answers[&cluster] {
            Ok((by_ns, age)) => {
                ok += 1;
                oldest = Some(match (oldest, age) {
                    (None, age) => *age,
                    (Some(Some(o)), Some(age)) => Some(o.max(*age)),
                    _ => None,
                });
                let mut output = by_ns.get(&ns).cloned().unwrap_or(Value::Null);
                if output.is_object() {
                    output["cache"] = cache_field(*age);
                }
                results.push(json!({ "item": hub, "ok": true, "output": output, "error": null }));
            }
            Err(e) => {
                failed += 1;
                results.push(json!({ "item": hub, "ok": false, "output": null, "error": e }));
            }
        }
    }
    Ok(json!({
        "results": results, "ok": ok, "failed": failed, "count": ok + failed,
        "cache": cache_field(oldest.flatten()),
    }))
}

/// `fleet.pending`: per hub, what `diagnose.pending` answers for it.
async fn pending(call: ActionCall) -> Result<Value, ActionError> {
    let a: FleetArgs = parse_args(&call.args)?;
    let catalogue = catalogue_for(a.catalogue.as_deref())?;
    let catalogue = &catalogue;
    per_cluster(&call, |reader, namespaces| async move {
        // The pending servers of the hubs asked about, the rest dropped as read.
        let mut stuck: HashMap<String, Vec<Pod>> = HashMap::new();
        reader
            .list::<Pod>(None, &pending_servers(), |p| {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                if p.metadata.deletion_timestamp.is_none() && namespaces.contains(&ns) {
                    stuck.entry(ns).or_default().push(p);
                }
            })
            .await?;
        let mut out: HashMap<String, Value> = HashMap::new();
        if stuck.is_empty() {
            for ns in namespaces {
                out.insert(ns, explain_pending(catalogue, Vec::new(), &[], &[], &[]));
            }
            return Ok(out);
        }
        // Independent: asked at the same time. The pools' room is read
        // after, and only where the answers need it (`pending_pools`).
        let (events, nodes) = futures::try_join!(events_of(&reader, &stuck), all_nodes(&reader))?;
        let all: Vec<&Pod> = stuck.values().flatten().collect();
        let pools = pending_pools(&reader, catalogue, &all, &events, &nodes).await?;
        for ns in namespaces {
            let pods = stuck.remove(&ns).unwrap_or_default();
            out.insert(
                ns,
                explain_pending(catalogue, pods, &events, &nodes, &pools),
            );
        }
        Ok(out)
    })
    .await
}

/// Above this many lists for one cluster's pending servers, one list of the
/// cluster's pod events is cheaper.
const EVENT_LISTS_UP_TO: usize = 200;

/// Up to this many pending servers in a namespace, a list per server (field
/// selector on its name) reads less than the namespace's pod events.
const PER_POD_UP_TO: usize = 2;

/// The events of the `stuck` pods, in as few reads of as few events as the
/// spread allows: per namespace, a list per pod while it has few stuck ones
/// (which on a busy namespace avoids reading everyone's events), else one
/// list of the namespace's pod events; a few lists at a time; and one list
/// of the whole cluster's pod events when that would take too many lists.
async fn events_of(
    reader: &Reader,
    stuck: &HashMap<String, Vec<Pod>>,
) -> Result<Vec<Event>, ActionError> {
    let wanted: HashSet<(String, String)> = stuck
        .iter()
        .flat_map(|(ns, pods)| {
            pods.iter()
                .map(move |p| (ns.clone(), p.metadata.name.clone().unwrap_or_default()))
        })
        .collect();
    // (namespace, Some(pod) for a per-pod list, None for the namespace's)
    let mut lists: Vec<(String, Option<String>)> = Vec::new();
    for (ns, pods) in stuck {
        if pods.len() <= PER_POD_UP_TO {
            lists.extend(pods.iter().map(|p| {
                (
                    ns.clone(),
                    Some(p.metadata.name.clone().unwrap_or_default()),
                )
            }));
        } else {
            lists.push((ns.clone(), None));
        }
    }
    let keep = |e: &Event| {
        wanted.contains(&(
            e.metadata.namespace.clone().unwrap_or_default(),
            e.involved_object.name.clone().unwrap_or_default(),
        ))
    };
    let mut events: Vec<Event> = Vec::new();
    if lists.len() > EVENT_LISTS_UP_TO {
        let lp = ListParams::default().fields("involvedObject.kind=Pod");
        reader
            .list::<Event>(None, &lp, |e| {
                if keep(&e) {
                    events.push(e);
                }
            })
            .await?;
        return Ok(events);
    }
    let read = futures::stream::iter(lists)
        .map(|(ns, pod)| async move {
            let fields = match &pod {
                Some(name) => format!("involvedObject.kind=Pod,involvedObject.name={name}"),
                None => "involvedObject.kind=Pod".to_string(),
            };
            let mut events = Vec::new();
            reader
                .list::<Event>(Some(&ns), &ListParams::default().fields(&fields), |e| {
                    events.push(e)
                })
                .await
                .map(|()| events)
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    for list in read {
        events.extend(list?.into_iter().filter(|e| keep(e)));
    }
    Ok(events)
}

/// `fleet.status`: per hub, its hub Deployment (summarised as `kube.list`
/// does, `null` when there is none) and how many user servers are Running.
async fn status(call: ActionCall) -> Result<Value, ActionError> {
    per_cluster(&call, |reader, namespaces| async move {
        let mut hubs: HashMap<String, Value> = HashMap::new();
        reader
            .list::<Deployment>(None, &ListParams::default().labels("component=hub"), |d| {
                let ns = d.metadata.namespace.clone().unwrap_or_default();
                if namespaces.contains(&ns) && !hubs.contains_key(&ns) {
                    let mut v = serde_json::to_value(&d).unwrap_or_default();
                    v["kind"] = json!("Deployment");
                    hubs.insert(ns, summarise("Deployment", &v));
                }
            })
            .await?;
        let mut running: HashMap<String, usize> = HashMap::new();
        let lp = ListParams::default()
            .labels("component=singleuser-server")
            .fields("status.phase=Running");
        // Names only: a count needs no pod bodies.
        reader
            .list_meta::<Pod>(None, &lp, |m| {
                // A server being deleted is Terminating, not running (as `kube.list` says).
                if m.deletion_timestamp.is_some() {
                    return;
                }
                if let Some(ns) = m.namespace.as_deref() {
                    if namespaces.contains(ns) {
                        *running.entry(ns.to_string()).or_default() += 1;
                    }
                }
            })
            .await?;
        Ok(namespaces
            .into_iter()
            .map(|ns| {
                let v = json!({
                    "hub": hubs.remove(&ns),
                    "running": running.get(&ns).copied().unwrap_or(0),
                });
                (ns, v)
            })
            .collect())
    })
    .await
}
