//! Per-pool free capacity computed from nodes and the pods on them, so the
//! step that gathers [`Evidence`](super::Evidence) can fill `pools` the same
//! way everywhere.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::{bytes, cpu_millis};
use super::{PoolCapacity, PoolTaint};

/// Node labels naming a node's pool, most specific (cloud) first; the
/// JupyterHub purpose label is the fallback on clusters without pools.
pub const POOL_LABELS: [&str; 5] = [
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "kubernetes.azure.com/agentpool",
    "hub.jupyter.org/node-purpose",
    "k8s.dask.org/node-purpose",
];

/// The pool a node belongs to (`"default"` when it carries no pool label).
pub fn pool_of(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    POOL_LABELS
        .iter()
        .find_map(|k| labels.and_then(|l| l.get(*k)).cloned())
        .unwrap_or_else(|| "default".to_string())
}

/// A node can take a new pod: Ready=True and not cordoned.
fn schedulable(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let cordoned = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    ready && !cordoned
}

/// What a pod holds on its node for scheduling: the sum of its containers'
/// requests or its largest init container's, whichever is bigger (as the
/// scheduler counts it), plus pod overhead.
pub fn pod_requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let req = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        (
            r.and_then(|r| r.get("cpu"))
                .and_then(|q| cpu_millis(&q.0))
                .unwrap_or(0),
            r.and_then(|r| r.get("memory"))
                .and_then(|q| bytes(&q.0))
                .unwrap_or(0),
        )
    };
    let (mut cpu, mut mem) = spec
        .containers
        .iter()
        .map(req)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    for init in spec.init_containers.iter().flatten() {
        let (c, m) = req(init);
        cpu = cpu.max(c);
        mem = mem.max(m);
    }
    if let Some(o) = spec.overhead.as_ref() {
        cpu += o.get("cpu").and_then(|q| cpu_millis(&q.0)).unwrap_or(0);
        mem += o.get("memory").and_then(|q| bytes(&q.0)).unwrap_or(0);
    }
    (cpu, mem)
}

/// A pod every node of its kind runs (DaemonSet or static/mirror pod): a
/// fresh node carries it too, so it is not room a user pod can have.
fn runs_on_every_node(pod: &Pod) -> bool {
    let daemon = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet");
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    daemon || mirror
}

/// Taints that describe a node's condition (`not-ready`, `unreachable`,
/// `unschedulable`, cloud `uninitialized`) rather than what the pool is for.
fn lifecycle_taint(key: &str) -> bool {
    key.starts_with("node.kubernetes.io/") || key.starts_with("node.cloudprovider.kubernetes.io/")
}

fn quantity(
    list: Option<&BTreeMap<String, Quantity>>,
    key: &str,
    parse: fn(&str) -> Option<i64>,
) -> i64 {
    list.and_then(|a| a.get(key))
        .and_then(|q| parse(&q.0))
        .unwrap_or(0)
}

/// Free room per pool: for each pool, the largest free cpu and memory on one
/// schedulable node (allocatable minus the requests of the non-finished pods
/// bound to it), what a fresh node would offer, with ready/total node counts,
/// the labels and taints all its nodes share. Pools come out sorted by name,
/// [`Scaling::Unknown`](super::Scaling::Unknown) until [`super::autoscaler::apply`] says otherwise.
pub fn pool_capacity(nodes: &[Node], pods: &[Pod]) -> Vec<PoolCapacity> {
    let mut used = NodeRequests::default();
    for pod in pods {
        used.add(pod);
    }
    used.pools(nodes)
}

/// The requests of the non-finished pods bound to each node, added up one
/// pod at a time, so a cluster's pods can be read page by page and dropped.
#[derive(Debug, Clone, Default)]
pub struct NodeRequests {
    /// node → (requests of all its pods, requests of its per-node pods)
    used: BTreeMap<String, [(i64, i64); 2]>,
}

impl NodeRequests {
    /// Count one pod (a Succeeded or Failed one, or one on no node, adds nothing).
    pub fn add(&mut self, pod: &Pod) {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded") | Some("Failed")) {
            return;
        }
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            let (c, m) = pod_requests(pod);
            let e = self.used.entry(node.to_string()).or_default();
            e[0].0 += c;
            e[0].1 += m;
            if runs_on_every_node(pod) {
                e[1].0 += c;
                e[1].1 += m;
            }
        }
    }

    /// [`pool_capacity`] of these nodes with the requests counted so far.
    pub fn pools(&self, nodes: &[Node]) -> Vec<PoolCapacity> {
        let used = &self.used;
        let mut pools: BTreeMap<String, PoolCapacity> = BTreeMap::new();
        // pool → (largest allocatable, largest per-node pods' requests)
        let mut shapes: BTreeMap<String, [(i64, i64); 2]> = BTreeMap::new();
        for node in nodes {
            let name = pool_of(node);
            let labels = node.metadata.labels.clone().unwrap_or_default();
            let taints: Vec<PoolTaint> = node
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .filter(|t| t.effect != "PreferNoSchedule" && !lifecycle_taint(&t.key))
                .map(|t| PoolTaint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: t.effect.clone(),
                })
                .collect();
            let p = pools.entry(name.clone()).or_insert_with(|| PoolCapacity {
                name,
                labels: labels.clone(),
                taints: taints.clone(),
                ..Default::default()
            });
            // What every node shares: a per-node label (hostname, zone) drops out.
            p.labels.retain(|k, v| labels.get(k) == Some(v));
            p.taints.retain(|t| taints.contains(t));
            p.nodes += 1;
            let alloc = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
            let cpu = quantity(alloc, "cpu", cpu_millis);
            let mem = quantity(alloc, "memory", bytes);
            let [(uc, um), (dc, dm)] = node
                .metadata
                .name
                .as_deref()
                .and_then(|n| used.get(n))
                .copied()
                .unwrap_or_default();
            // A new node: the biggest allocatable less the heaviest per-node
            // load seen in the pool (a node may be missing some of those pods).
            let shape = shapes.entry(p.name.clone()).or_default();
            *shape = [
                (shape[0].0.max(cpu), shape[0].1.max(mem)),
                (shape[1].0.max(dc), shape[1].1.max(dm)),
            ];
            p.new_node_cpu_m = shape[0].0 - shape[1].0;
            p.new_node_memory = shape[0].1 - shape[1].1;
            if !schedulable(node) {
                continue;
            }
            p.nodes_ready += 1;
            p.largest_free_cpu_m = p.largest_free_cpu_m.max(cpu - uc);
            p.largest_free_memory = p.largest_free_memory.max(mem - um);
        }
        pools.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, pool: &str, cpu: &str, mem: &str, ready: &str, cordoned: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {
                "cloud.google.com/gke-nodepool": pool,
                "hub.jupyter.org/node-purpose": "user"
            }},
            "spec": {"unschedulable": cordoned},
            "status": {
                "allocatable": {"cpu": cpu, "memory": mem},
                "conditions": [{"type": "Ready", "status": ready}]
            }
        }))
        .unwrap()
    }

    fn pod(node: &str, cpu: &str, mem: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("p-{node}-{cpu}")},
            "spec": {"nodeName": node, "containers": [
                {"name": "notebook", "resources": {"requests": {"cpu": cpu, "memory": mem}}},
                {"name": "sidecar", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
            ], "initContainers": [
                {"name": "block-cloud-metadata", "resources": {"requests": {"cpu": "50m", "memory": "8Gi"}}}
            ]},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn pod_requests_count_the_bigger_of_containers_and_init() {
        let p = pod("n", "900m", "1Gi", "Running");
        assert_eq!(pod_requests(&p), (1000, 8 << 30));
    }

    #[test]
    fn free_room_is_per_pool_on_the_emptiest_schedulable_node() {
        let nodes = [
            node("a1", "user-small", "3920m", "12Gi", "True", false),
            node("a2", "user-small", "3920m", "12Gi", "True", false),
            node("a3", "user-small", "3920m", "12Gi", "Unknown", false),
            node("b1", "user-large", "15890m", "58Gi", "True", true),
        ];
        let pods = [
            pod("a1", "1900m", "2Gi", "Running"),
            pod("a2", "900m", "2Gi", "Running"),
            pod("a2", "900m", "2Gi", "Succeeded"),
        ];
        let pools = pool_capacity(&nodes, &pods);
        assert_eq!(pools.len(), 2);
        let large = &pools[0];
        assert_eq!(
            (large.name.as_str(), large.nodes_ready, large.nodes),
            ("user-large", 0, 1)
        );
        let small = &pools[1];
        assert_eq!((small.nodes_ready, small.nodes), (2, 3));
        // a2: 3920m - 1000m; memory: 12Gi - 8Gi (the init container dominates)
        assert_eq!(small.largest_free_cpu_m, 2920);
        assert_eq!(small.largest_free_memory, 4 << 30);
    }

    #[test]
    fn a_new_node_offers_allocatable_less_its_daemonset_and_static_pods() {
        let mut n1 = node("a1", "user-small", "3920m", "12Gi", "True", false);
        n1.spec.as_mut().unwrap().taints = Some(
            serde_json::from_value(json!([
                {"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
            ]))
            .unwrap(),
        );
        n1.metadata.labels.as_mut().unwrap().insert(
            "topology.kubernetes.io/zone".into(),
            "europe-west4-a".into(),
        );
        let mut n2 = node("a2", "user-small", "3920m", "12Gi", "Unknown", false);
        n2.spec.as_mut().unwrap().taints = Some(
            serde_json::from_value(json!([
                {"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
            ]))
            .unwrap(),
        );
        n2.metadata.labels.as_mut().unwrap().insert(
            "topology.kubernetes.io/zone".into(),
            "europe-west4-b".into(),
        );
        let mut proxy = pod("a1", "100m", "0", "Running");
        proxy.metadata.owner_references = Some(
            serde_json::from_value(json!([{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kube-proxy", "uid": "u"}]))
                .unwrap(),
        );
        let mut fluentd = pod("a1", "200m", "512Mi", "Running");
        fluentd.metadata.annotations =
            Some([("kubernetes.io/config.mirror".to_string(), "x".to_string())].into());
        fluentd.spec.as_mut().unwrap().init_containers = None;
        proxy.spec.as_mut().unwrap().init_containers = None;
        let user = pod("a1", "1", "4Gi", "Running");
        let pools = pool_capacity(&[n1, n2], &[proxy, fluentd, user]);
        let p = &pools[0];
        // per-node pods: 100m+100m sidecar, 200m+100m; 128Mi+512Mi+128Mi
        assert_eq!(p.new_node_cpu_m, 3920 - 500);
        assert_eq!(p.new_node_memory, (12 << 30) - (768 << 20));
        // the user pod's room counts only on the ready node; 8Gi init dominates
        assert_eq!(p.largest_free_memory, (12 << 30) - (768 << 20) - (8 << 30));
        // shared labels only (not the zone), shared non-lifecycle taints only
        assert_eq!(
            p.labels.get("cloud.google.com/gke-nodepool").unwrap(),
            "user-small"
        );
        assert!(!p.labels.contains_key("topology.kubernetes.io/zone"));
        assert_eq!(
            p.taints,
            [PoolTaint {
                key: "hub.jupyter.org/dedicated".into(),
                value: "user".into(),
                effect: "NoSchedule".into()
            }]
        );
        assert_eq!(p.scaling, crate::jupyterhub::diagnose::Scaling::Unknown);
    }

    #[test]
    fn pool_label_falls_back_to_node_purpose_then_default() {
        let mut n = node("x", "p", "1", "1Gi", "True", false);
        n.metadata
            .labels
            .as_mut()
            .unwrap()
            .remove("cloud.google.com/gke-nodepool");
        assert_eq!(pool_of(&n), "user");
        n.metadata.labels = None;
        assert_eq!(pool_of(&n), "default");
    }
}
