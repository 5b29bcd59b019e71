//! Read-only lists answered from the watch cache when the server keeps one
//! (see `cluster::cache`), else from the API server page by page. A
//! [`Reader`] remembers the oldest cache it answered from, so a step can say
//! how fresh its answer is (`"cache": {"age_seconds": N}`).
//!
//! The cache holds what opsbot's own service account sees: a step acting
//! as a person (impersonation) always asks the API server, so that person's
//! RBAC applies. Mutations and dry runs never come here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use kube::api::{Api, ListParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::fleet::{list_pages, pages};
use super::kube::client;
use super::{ActionCall, ActionError, Permission};
use crate::cluster::cache::{ClusterCache, Reflected};
use crate::cluster::selector::{FieldSelector, LabelSelector};

/// A kind the watch cache keeps, and how its fields are selected.
pub(crate) trait Cached:
    Resource<DynamicType = ()>
    + Clone
    + DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    fn reflected(cache: &ClusterCache) -> &Reflected<Self>;
    /// The API of the namespace (`None`: all namespaces).
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self>;
    /// The value of a field selector's field (`""` when unset); `None`:
    /// not a field this kind is selected by here.
    fn field(&self, field: &str) -> Option<String>;
    /// Whether the store holds every object a list with `fields` selects
    /// (the events store keeps only pod events).
    fn covers(_fields: &FieldSelector) -> bool {
        true
    }
    /// The object as JSON: whole, or (`whole` false) only what its summary
    /// reads (`kube::summary`), leaving out the big parts no summary shows
    /// (a pod's spec, a workload's pod template, a node's image list).
    /// Serialising those for every listed object was most of what a list
    /// from the cache cost.
    fn json(&self, whole: bool) -> Value {
        let _ = whole;
        serde_json::to_value(self).unwrap_or_default()
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// An object's JSON for its summary, serialised from borrowed parts of
/// the cached object (copying the metadata and status first, only to
/// serialise and drop them, doubled the cost of a list from the cache).
#[derive(serde::Serialize)]
struct Slim<'a, S, T> {
    metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<S>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a T>,
}

/// What a pod's summary reads of its spec.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SlimPodSpec<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    node_name: Option<&'a str>,
    containers: Vec<Named<'a>>,
}

#[derive(serde::Serialize)]
struct Named<'a> {
    name: &'a str,
}

/// What a workload's summary reads of its spec.
#[derive(serde::Serialize)]
struct Replicas {
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<i32>,
}

fn namespaced<K>(client: kube::Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match ns {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

fn meta_field<K: Resource>(obj: &K, field: &str) -> Option<String> {
    let m = obj.meta();
    match field {
        "metadata.name" => Some(m.name.clone().unwrap_or_default()),
        "metadata.namespace" => Some(m.namespace.clone().unwrap_or_default()),
        _ => None,
    }
}

impl Cached for Pod {
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        namespaced(client, ns)
    }
    fn reflected(cache: &ClusterCache) -> &Reflected<Self> {
        &cache.pods
    }
    fn field(&self, field: &str) -> Option<String> {
        match field {
            "status.phase" => Some(
                self.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
            ),
            "spec.nodeName" => Some(
                self.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default(),
            ),
            _ => meta_field(self, field),
        }
    }
    fn json(&self, whole: bool) -> Value {
        if whole {
            return to_json(self);
        }
        // The summary reads the node and how many containers there are.
        let spec = self.spec.as_ref().map(|s| SlimPodSpec {
            node_name: s.node_name.as_deref(),
            containers: s
                .containers
                .iter()
                .map(|c| Named { name: &c.name })
                .collect(),
        });
        to_json(&Slim {
            metadata: &self.metadata,
            spec,
            status: self.status.as_ref(),
        })
    }
}

impl Cached for Event {
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        namespaced(client, ns)
    }
    fn reflected(cache: &ClusterCache) -> &Reflected<Self> {
        &cache.events
    }
    fn field(&self, field: &str) -> Option<String> {
        let o = &self.involved_object;
        let s = |v: &Option<String>| Some(v.clone().unwrap_or_default());
        match field {
            "involvedObject.kind" => s(&o.kind),
            "involvedObject.name" => s(&o.name),
            "involvedObject.namespace" => s(&o.namespace),
            "involvedObject.uid" => s(&o.uid),
            "reason" => s(&self.reason),
            "type" => s(&self.type_),
            _ => meta_field(self, field),
        }
    }
    fn covers(fields: &FieldSelector) -> bool {
        fields.requires("involvedObject.kind", "Pod")
    }
}

impl Cached for Node {
    fn api(client: kube::Client, _ns: Option<&str>) -> Api<Self> {
        Api::all(client)
    }
    fn reflected(cache: &ClusterCache) -> &Reflected<Self> {
        &cache.nodes
    }
    fn field(&self, field: &str) -> Option<String> {
        meta_field(self, field)
    }
    fn json(&self, whole: bool) -> Value {
        if whole {
            return to_json(self);
        }
        // Every image the node holds: long, and no summary shows it.
        let mut slim = Node {
            metadata: self.metadata.clone(),
            spec: self.spec.clone(),
            status: self.status.clone(),
        };
        if let Some(s) = slim.status.as_mut() {
            s.images = None;
        }
        to_json(&slim)
    }
}

impl Cached for Deployment {
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        namespaced(client, ns)
    }
    fn reflected(cache: &ClusterCache) -> &Reflected<Self> {
        &cache.deployments
    }
    fn field(&self, field: &str) -> Option<String> {
        meta_field(self, field)
    }
    fn json(&self, whole: bool) -> Value {
        if whole {
            return to_json(self);
        }
        // The summary reads the replicas wanted, not the pod template.
        let replicas = Some(Replicas {
            replicas: self.spec.replicas,
        });
        to_json(&Slim {
            metadata: &self.metadata,
            spec: replicas,
            status: self.status.as_ref(),
        })
    }
}

impl Cached for StatefulSet {
    fn api(client: kube::Client, ns: Option<&str>) -> Api<Self> {
        namespaced(client, ns)
    }
    fn reflected(cache: &ClusterCache) -> &Reflected<Self> {
        &cache.statefulsets
    }
    fn field(&self, field: &str) -> Option<String> {
        meta_field(self, field)
    }
    fn json(&self, whole: bool) -> Value {
        if whole {
            return to_json(self);
        }
        let replicas = Some(Replicas {
            replicas: self.spec.replicas,
        });
        to_json(&Slim {
            metadata: &self.metadata,
            spec: replicas,
            status: self.status.as_ref(),
        })
    }
}

/// Whether the watch cache keeps objects of `kind` (as `kube.*` names it):
/// its `kube.list` and `kube.get` steps also declare `watch`.
pub(crate) fn cached_kind(kind: &str) -> bool {
    ["Pod", "Event", "Node", "Deployment", "StatefulSet"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(kind))
}

/// A `kube.list` or `kube.get` answered from the watch cache: the objects
/// of `kind` in `ns` (`None`: all namespaces, or a cluster-scoped kind)
/// that `lp` selects, as JSON, in the API server's order (namespace, then
/// name), with the cache's age. `None` means "ask the API server": a dry
/// run, a step acting as a person (impersonation), no cache (`opsbot run`,
/// a run that changes something), a kind not cached, a store not synced,
/// not watching or over its cap, or a selector the cache cannot match.
pub(crate) fn from_cache(
    call: &ActionCall,
    cluster: &str,
    kind: &str,
    ns: Option<&str>,
    lp: &ListParams,
) -> Option<(Vec<Value>, Duration)> {
    if call.dry_run || call.impersonate.is_some() {
        return None;
    }
    let cache = call.clusters.cache(cluster)?;
    match kind.to_ascii_lowercase().as_str() {
        "pod" => json_of::<Pod>(&cache, ns, lp, call.whole_objects),
        "event" => json_of::<Event>(&cache, ns, lp, call.whole_objects),
        "node" => json_of::<Node>(&cache, None, lp, call.whole_objects),
        "deployment" => json_of::<Deployment>(&cache, ns, lp, call.whole_objects),
        "statefulset" => json_of::<StatefulSet>(&cache, ns, lp, call.whole_objects),
        _ => None,
    }
}

/// A `kube.events` of namespace `ns` answered from the watch cache, as
/// JSON, with the cache's age: a Pod's events (all of them, or one pod's by
/// `name`) from the pod events store; with `warnings_only`, the warnings of
/// every other kind too, from the warnings store. `None` ("ask the API
/// server") for Normal events of other kinds, which are not kept, and
/// whenever [`from_cache`] would say so.
pub(crate) fn events_from_cache(
    call: &ActionCall,
    cluster: &str,
    ns: &str,
    kind: Option<&str>,
    name: Option<&str>,
    warnings_only: bool,
) -> Option<(Vec<Value>, Duration)> {
    if call.dry_run || call.impersonate.is_some() {
        return None;
    }
    let cache = call.clusters.cache(cluster)?;
    let pods = kind.is_none_or(|k| k == "Pod");
    let others = kind != Some("Pod");
    if others && !warnings_only {
        return None;
    }
    let mut stores = Vec::new();
    if pods {
        stores.push(cache.events.snapshot()?);
    }
    if others {
        stores.push(cache.warnings.snapshot()?);
    }
    let age = stores.iter().map(|(_, age)| *age).max().unwrap_or_default();
    let s = |v: &Option<String>| v.as_deref().unwrap_or("").to_string();
    let items = stores
        .into_iter()
        .flat_map(|(objects, _)| objects)
        .filter(|e| {
            let o = &e.involved_object;
            e.metadata.namespace.as_deref() == Some(ns)
                && (!warnings_only || e.type_.as_deref() == Some("Warning"))
                && kind.is_none_or(|k| s(&o.kind) == k)
                && name.is_none_or(|n| s(&o.name) == n)
        })
        .map(|e| serde_json::to_value(&*e).unwrap_or_default())
        .collect();
    Some((items, age))
}

fn json_of<K: Cached>(
    cache: &ClusterCache,
    ns: Option<&str>,
    lp: &ListParams,
    whole: bool,
) -> Option<(Vec<Value>, Duration)> {
    let (objects, age) = K::reflected(cache).snapshot()?;
    let mut selected = select(objects, ns, lp)?;
    let key = |o: &Arc<K>| {
        let m = o.meta();
        (m.namespace.clone(), m.name.clone())
    };
    selected.sort_by_key(key);
    if let Some(n) = lp.limit.filter(|n| *n > 0) {
        selected.truncate(n as usize);
    }
    let items = selected.iter().map(|o| o.json(whole)).collect();
    Some((items, age))
}

/// The objects of `snapshot` that `ns`, `lp`'s selectors select, or `None`
/// when the selectors cannot be matched here.
pub(crate) fn select<K: Cached>(
    objects: Vec<Arc<K>>,
    ns: Option<&str>,
    lp: &ListParams,
) -> Option<Vec<Arc<K>>> {
    let labels = LabelSelector::parse(lp.label_selector.as_deref().unwrap_or(""))?;
    let fields = FieldSelector::parse(lp.field_selector.as_deref().unwrap_or(""))?;
    if !K::covers(&fields) {
        return None;
    }
    let mut out = Vec::new();
    for o in objects {
        let m = o.meta();
        if ns.is_some_and(|ns| m.namespace.as_deref() != Some(ns)) {
            continue;
        }
        if labels.matches(m.labels.as_ref()) && fields.matches(|f| o.field(f))? {
            out.push(o);
        }
    }
    Some(out)
}

/// Reads of one cluster for one step.
#[derive(Clone)]
pub(crate) struct Reader {
    pub client: kube::Client,
    cache: Option<Arc<ClusterCache>>,
    /// The oldest cache age answered from; `listed` when any read was not.
    age: Arc<Mutex<(Option<Duration>, bool)>>,
}

impl Reader {
    /// A reader of `cluster` for `call`: the cache only without impersonation.
    pub fn new(call: &ActionCall, cluster: &str) -> Result<Reader, ActionError> {
        let client = client(call, cluster)?;
        let cache = match call.impersonate {
            Some(_) => None,
            None => call.clusters.cache(cluster),
        };
        Ok(Reader {
            client,
            cache,
            age: Arc::default(),
        })
    }

    /// A reader that always asks the API server.
    pub fn direct(client: kube::Client) -> Reader {
        Reader {
            client,
            cache: None,
            age: Arc::default(),
        }
    }

    fn note(&self, age: Option<Duration>) {
        let mut a = self.age.lock().unwrap_or_else(|p| p.into_inner());
        match age {
            Some(age) => a.0 = Some(a.0.map_or(age, |o| o.max(age))),
            None => a.1 = true,
        }
    }

    /// What was selected from the cache, if it can answer.
    fn cached<K: Cached>(&self, ns: Option<&str>, lp: &ListParams) -> Option<Vec<Arc<K>>> {
        let (objects, age) = K::reflected(self.cache.as_deref()?).snapshot()?;
        let selected = select(objects, ns, lp)?;
        self.note(Some(age));
        Some(selected)
    }

    /// Hand what the cache selects to `each` by reference (no copy) and say
    /// `true`; `false` (nothing visited, the read noted as listed) when the
    /// cache cannot answer, for a caller that lists in a cheaper shape of its own.
    pub fn visit_cached<K: Cached>(
        &self,
        ns: Option<&str>,
        lp: &ListParams,
        mut each: impl FnMut(&K),
    ) -> bool {
        match self.cached::<K>(ns, lp) {
            Some(objects) => {
                objects.iter().for_each(|o| each(o));
                true
            }
            None => {
                self.note(None);
                false
            }
        }
    }

    /// Every object of kind `K` in `ns` (all namespaces: `None`) that `lp`
    /// selects, handed to `each`.
    pub async fn list<K: Cached>(
        &self,
        ns: Option<&str>,
        lp: &ListParams,
        mut each: impl FnMut(K),
    ) -> Result<(), ActionError> {
        if let Some(objects) = self.cached::<K>(ns, lp) {
            objects.into_iter().for_each(|o| each((*o).clone()));
            return Ok(());
        }
        self.note(None);
        let api = K::api(self.client.clone(), ns);
        list_pages(&api, lp, each).await
    }

    /// Like [`Reader::list`] for a step that needs only metadata: from the
    /// API server, names and labels only (`list_metadata`).
    pub async fn list_meta<K: Cached>(
        &self,
        ns: Option<&str>,
        lp: &ListParams,
        mut each: impl FnMut(&kube::api::ObjectMeta),
    ) -> Result<(), ActionError> {
        if let Some(objects) = self.cached::<K>(ns, lp) {
            objects.iter().for_each(|o| each(o.meta()));
            return Ok(());
        }
        self.note(None);
        let api = K::api(self.client.clone(), ns);
        let fetch = |lp: ListParams| {
            let api = &api;
            async move {
                let page = api.list_metadata(&lp).await?;
                Ok((page.items, page.metadata.continue_))
            }
        };
        pages(lp, fetch, |p| each(&p.metadata)).await
    }

    /// The ConfigMap `name` of `namespace` when it is the autoscaler status
    /// the cache keeps, else from the API server.
    pub async fn autoscaler_status(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<ConfigMap>, kube::Error> {
        if let Some((objects, age)) = self
            .cache
            .as_deref()
            .and_then(|c| c.autoscaler_status.snapshot())
        {
            self.note(Some(age));
            return Ok(objects
                .into_iter()
                .find(|c| {
                    c.metadata.namespace.as_deref() == Some(namespace)
                        && c.metadata.name.as_deref() == Some(name)
                })
                .map(|c| (*c).clone()));
        }
        self.note(None);
        Api::<ConfigMap>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await
    }

    /// `{"age_seconds": N}` when every read so far came from the cache.
    pub fn freshness(&self) -> Option<Duration> {
        let a = self.age.lock().unwrap_or_else(|p| p.into_inner());
        match *a {
            (Some(age), false) => Some(age),
            _ => None,
        }
    }
}

/// A read-only step's permissions plus the `watch` the server's cache
/// needs on what it lists (and on the ConfigMap it gets by name): `serve`
/// and `demo` watch these to answer the step from the cache.
pub(crate) fn with_watch(mut permissions: Vec<Permission>) -> Vec<Permission> {
    // The one object got by name is watched with a `metadata.name` field
    // selector, which its watcher also lists with.
    let watches: Vec<Permission> = permissions
        .iter()
        .filter(|p| p.verb == "list" || (p.verb == "get" && p.name.is_some()))
        .flat_map(|p| {
            let verbs: &[&str] = if p.verb == "get" {
                &["list", "watch"]
            } else {
                &["watch"]
            };
            verbs.iter().map(|v| Permission {
                verb: (*v).into(),
                ..p.clone()
            })
        })
        .collect();
    permissions.extend(watches);
    permissions
}

/// The `cache` field of a step's output: `{"age_seconds": N}`, or null.
pub(crate) fn cache_field(age: Option<Duration>) -> Value {
    match age {
        Some(age) => json!({ "age_seconds": age.as_secs() }),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, name: &str, labels: &[(&str, &str)], phase: &str) -> Arc<Pod> {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns,
                "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
            "spec": {"containers": []},
            "status": {"phase": phase},
        }))
        .unwrap();
        p.metadata.uid = Some(name.into());
        Arc::new(p)
    }

    fn names(v: Option<Vec<Arc<Pod>>>) -> Vec<String> {
        v.unwrap()
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn cached_pods_are_selected_as_the_api_server_selects_them() {
        let server = [("component", "singleuser-server")];
        let pods = vec![
            pod("a", "jupyter-x", &server, "Pending"),
            pod("a", "jupyter-y", &server, "Running"),
            pod("b", "jupyter-z", &server, "Pending"),
            pod("a", "hub", &[("component", "hub")], "Pending"),
        ];
        let lp = ListParams::default()
            .labels("component=singleuser-server")
            .fields("status.phase=Pending");
        assert_eq!(
            names(select(pods.clone(), None, &lp)),
            ["jupyter-x", "jupyter-z"]
        );
        assert_eq!(names(select(pods.clone(), Some("a"), &lp)), ["jupyter-x"]);
        let lp = ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed");
        assert_eq!(names(select(pods.clone(), Some("a"), &lp)).len(), 3);
        let lp = ListParams::default().fields("metadata.namespace=b");
        assert_eq!(names(select(pods.clone(), None, &lp)), ["jupyter-z"]);
        // A field not matched here: the API server is asked instead.
        let lp = ListParams::default().fields("status.podIP=10.0.0.1");
        assert!(select(pods, None, &lp).is_none());
    }

    #[test]
    fn a_summary_from_the_slim_json_is_the_summary_from_the_whole_object() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "jupyter-x", "namespace": "a", "labels": {"component": "singleuser-server"},
                "creationTimestamp": "2026-12-01T00:00:00Z",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u", "controller": true}]},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "notebook", "image": "jupyter/scipy", "env": [{"name": "A", "value": "b"}],
                 "resources": {"requests": {"memory": "1Gi"}}},
                {"name": "sidecar", "image": "busybox"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "notebook", "ready": true, "restartCount": 2, "image": "jupyter/scipy", "imageID": "",
                 "state": {"running": {"startedAt": "2026-12-01T00:01:00Z"}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]},
        }))
        .unwrap();
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "hub", "namespace": "a"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"c": "hub"}},
                "template": {"spec": {"containers": [{"name": "hub", "image": "k8s-hub"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2},
        }))
        .unwrap();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"cloud.google.com/gke-nodepool": "user"}},
            "spec": {"unschedulable": true, "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}],
                "images": [{"names": ["jupyter/scipy"], "sizeBytes": 1}]},
        }))
        .unwrap();
        fn same<K: Cached>(kind: &str, o: &K) {
            let summary = |whole: bool| {
                let mut s = crate::actions::kube::summary(kind, o.json(whole), false);
                // Read from the clock, a moment apart.
                s.as_object_mut().unwrap().remove("age_seconds");
                s
            };
            assert_eq!(summary(false), summary(true), "{kind}");
        }
        same("Pod", &pod);
        same("Deployment", &deployment);
        same("Node", &node);
        let statefulset: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "db", "namespace": "a"},
            "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"c": "db"}},
                "template": {"spec": {"containers": [{"name": "db", "image": "postgres"}]}}},
            "status": {"replicas": 3, "readyReplicas": 3},
        }))
        .unwrap();
        same("StatefulSet", &statefulset);
        assert!(pod.json(false)["spec"]["containers"][0]
            .get("env")
            .is_none());
        assert!(node.json(false)["status"].get("images").is_none());
    }

    #[test]
    fn the_events_store_answers_only_lists_of_pod_events() {
        let e: Event = serde_json::from_value(json!({
            "metadata": {"name": "e1", "namespace": "a"},
            "involvedObject": {"kind": "Pod", "name": "jupyter-x"},
        }))
        .unwrap();
        let events = vec![Arc::new(e)];
        let lp =
            ListParams::default().fields("involvedObject.kind=Pod,involvedObject.name=jupyter-x");
        assert_eq!(select(events.clone(), Some("a"), &lp).unwrap().len(), 1);
        let lp = ListParams::default().fields("involvedObject.kind=Pod,involvedObject.name=other");
        assert_eq!(select(events.clone(), Some("a"), &lp).unwrap().len(), 0);
        assert!(select(events, None, &ListParams::default()).is_none());
    }
}
