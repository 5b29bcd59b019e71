//! Where a server that does not fit would fit: on a ready node now, on the
//! node the autoscaler is about to add, or nowhere because its pool is at its
//! maximum size, is too small, or does not exist. Only the pools the pod may
//! go on (node selector, required node affinity, tolerations) count for the
//! verdict; [`elsewhere`] names a pool that a different profile could use.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Pod, Toleration};

use super::capacity::pod_requests;
use super::engine::cpu_text;
use super::quantity::human_bytes;
use super::{PoolCapacity, PoolTaint, Scaling};

/// The verdict for one pod over the node pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// A ready node of `pool` has room for it now.
    Now { pool: String },
    /// No ready node has room, a new node of `pool` would, and the
    /// autoscaler may add one (`nodes` of `max`).
    ScaleUp {
        pool: String,
        nodes: usize,
        max: usize,
        /// Why the autoscaler is holding off scale-ups of the pool, if it is.
        backoff: Option<String>,
    },
    /// A new node of `pool` would fit, but the pool is at its maximum size.
    AtMax {
        pool: String,
        nodes: usize,
        max: usize,
    },
    /// A new node of `pool` would fit, but nothing will add one: no
    /// autoscaler manages the pool (`known`), or none was readable.
    NoScaleUp {
        pool: String,
        nodes: usize,
        known: bool,
    },
    /// Every pool it may use has smaller nodes; the most a new node offers.
    TooBig { cpu_m: i64, memory: i64 },
    /// No pool matches its node selector, affinity and tolerations.
    NoPool,
}

impl Fit {
    /// One word for templates to branch on: `now`, `scale_up`, `at_max`,
    /// `no_scale_up`, `too_big`, `no_pool`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fit::Now { .. } => "now",
            Fit::ScaleUp { .. } => "scale_up",
            Fit::AtMax { .. } => "at_max",
            Fit::NoScaleUp { .. } => "no_scale_up",
            Fit::TooBig { .. } => "too_big",
            Fit::NoPool => "no_pool",
        }
    }

    /// The pool the verdict is about, if there is one.
    pub fn pool(&self) -> Option<&str> {
        match self {
            Fit::Now { pool }
            | Fit::ScaleUp { pool, .. }
            | Fit::AtMax { pool, .. }
            | Fit::NoScaleUp { pool, .. } => Some(pool),
            Fit::TooBig { .. } | Fit::NoPool => None,
        }
    }

    /// The server can get a node without anyone changing the cluster.
    pub fn will_start(&self) -> bool {
        matches!(self, Fit::Now { .. } | Fit::ScaleUp { backoff: None, .. })
    }

    /// The verdict as a sentence a person reads in a triage.
    pub fn sentence(&self) -> String {
        match self {
            Fit::Now { pool } => format!("Pool {pool} has a ready node with room for it now."),
            Fit::ScaleUp {
                pool,
                nodes,
                max,
                backoff,
            } => {
                let mut s = format!(
                    "It fits once the autoscaler adds a node (pool {pool} at {nodes}/{max})."
                );
                if let Some(b) = backoff {
                    s.pop();
                    s.push_str(&format!(
                        ", but the autoscaler is holding off scale-ups of {pool} after one failed: {b}"
                    ));
                }
                s
            }
            Fit::AtMax { pool, nodes, max } => format!(
                "Pool {pool} is full: a new node of it would fit the server, but the pool is at its maximum size ({nodes}/{max}), so the autoscaler will not add one."
            ),
            Fit::NoScaleUp {
                pool,
                nodes,
                known: true,
            } => format!(
                "Pool {pool} is full: a new node of it would fit the server, but no cluster autoscaler manages the pool ({nodes} nodes)."
            ),
            Fit::NoScaleUp {
                pool,
                known: false,
                ..
            } => format!(
                "Pool {pool} is full: a new node of it would fit the server; whether the pool can grow is unknown (no cluster-autoscaler status was readable)."
            ),
            Fit::TooBig { cpu_m, memory } => format!(
                "Even an empty node of the pools it may use is too small: a new node offers at most {} CPU and {} memory.",
                cpu_text(*cpu_m),
                human_bytes(*memory)
            ),
            Fit::NoPool => {
                "No node pool matches its node selector, node affinity and tolerations.".into()
            }
        }
    }
}

/// Whether `t` lets a pod onto nodes tainted `taint`.
fn tolerates(t: &Toleration, taint: &PoolTaint) -> bool {
    let effect = t.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or("");
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => key.is_empty() || key == taint.key,
        _ => key == taint.key && t.value.as_deref().unwrap_or("") == taint.value,
    }
}

fn requirement_holds(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    let number = |v: Option<&String>| v.and_then(|v| v.parse::<i64>().ok());
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => matches!((number(value), number(values.first())), (Some(a), Some(b)) if a > b),
        "Lt" => matches!((number(value), number(values.first())), (Some(a), Some(b)) if a < b),
        _ => false,
    }
}

/// Whether the pod may be scheduled onto a node of `pool`: its node selector
/// and required node affinity hold for the pool's labels, and it tolerates
/// every taint of the pool.
pub fn may_use(pod: &Pod, pool: &PoolCapacity) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| pool.labels.get(k) == Some(v));
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice());
    // Terms are ORed, their expressions ANDed; `matchFields` name single
    // nodes and cannot rule a pool out.
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|t| {
            t.match_expressions
                .iter()
                .flatten()
                .all(|r| requirement_holds(r, &pool.labels))
        })
    });
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let taints_ok = pool
        .taints
        .iter()
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)));
    selector_ok && affinity_ok && taints_ok
}

/// The verdict for one pool, best first when sorted.
fn judge(p: &PoolCapacity, cpu_m: i64, memory: i64) -> Option<Fit> {
    if p.nodes_ready > 0 && p.largest_free_cpu_m >= cpu_m && p.largest_free_memory >= memory {
        return Some(Fit::Now {
            pool: p.name.clone(),
        });
    }
    // Pools described by hand have no new-node size: their free room is the floor.
    let new_cpu = p.new_node_cpu_m.max(p.largest_free_cpu_m);
    let new_mem = p.new_node_memory.max(p.largest_free_memory);
    if new_cpu < cpu_m || new_mem < memory {
        return None;
    }
    let pool = p.name.clone();
    Some(match &p.scaling {
        Scaling::Autoscaled {
            nodes,
            max,
            backoff,
            ..
        } if nodes < max => Fit::ScaleUp {
            pool,
            nodes: *nodes,
            max: *max,
            backoff: backoff.clone(),
        },
        Scaling::Autoscaled { nodes, max, .. } => Fit::AtMax {
            pool,
            nodes: *nodes,
            max: *max,
        },
        Scaling::Fixed => Fit::NoScaleUp {
            pool,
            nodes: p.nodes,
            known: true,
        },
        Scaling::Unknown => Fit::NoScaleUp {
            pool,
            nodes: p.nodes,
            known: false,
        },
    })
}

fn rank(f: &Fit) -> u8 {
    match f {
        Fit::Now { .. } => 0,
        Fit::ScaleUp { backoff: None, .. } => 1,
        Fit::ScaleUp { .. } => 2,
        Fit::AtMax { .. } | Fit::NoScaleUp { .. } => 3,
        Fit::TooBig { .. } | Fit::NoPool => 4,
    }
}

/// The best verdict over `pools`, tightest pool first among equals (so a big
/// pool is not suggested for a small server).
fn best<'a>(pools: impl Iterator<Item = &'a PoolCapacity>, cpu_m: i64, memory: i64) -> Option<Fit> {
    pools
        .filter_map(|p| {
            let f = judge(p, cpu_m, memory)?;
            let size = match f {
                Fit::Now { .. } => (p.largest_free_memory, p.largest_free_cpu_m),
                _ => (p.new_node_memory, p.new_node_cpu_m),
            };
            Some((rank(&f), size, f))
        })
        .min_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
        .map(|(_, _, f)| f)
}

/// Where `pod` can get a node, among the pools it may use.
pub fn fit(pools: &[PoolCapacity], pod: &Pod) -> Fit {
    let (cpu_m, memory) = pod_requests(pod);
    let usable: Vec<&PoolCapacity> = pools.iter().filter(|p| may_use(pod, p)).collect();
    if usable.is_empty() {
        return Fit::NoPool;
    }
    best(usable.iter().copied(), cpu_m, memory).unwrap_or_else(|| Fit::TooBig {
        cpu_m: usable
            .iter()
            .map(|p| p.new_node_cpu_m.max(p.largest_free_cpu_m))
            .max()
            .unwrap_or(0),
        memory: usable
            .iter()
            .map(|p| p.new_node_memory.max(p.largest_free_memory))
            .max()
            .unwrap_or(0),
    })
}

/// The pools whose used room can change the facts about `pod` (`fit`,
/// `fit_pool`, `pool_that_fits`, and with `capacity` too the sentence of
/// that name), given `empty`: the pools as if no pod used any room, so each
/// offers at most what it shows. A pool where not even an empty node takes
/// the pod is judged the same whatever runs on it; `capacity` also says what
/// a new node of the pod's own pools offers (allocatable less the per-node
/// pods) and so needs those pools' room as well.
pub fn room_matters<'a>(pod: &Pod, empty: &'a [PoolCapacity], capacity: bool) -> Vec<&'a str> {
    let (cpu_m, memory) = pod_requests(pod);
    empty
        .iter()
        .filter(|p| {
            let fits_empty = p.new_node_cpu_m.max(p.largest_free_cpu_m) >= cpu_m
                && p.new_node_memory.max(p.largest_free_memory) >= memory;
            fits_empty || capacity && may_use(pod, p)
        })
        .map(|p| p.name.as_str())
        .collect()
}

/// A pool the pod may not use (another profile could) that has room now or
/// once the autoscaler adds a node, when none of its own pools has.
pub fn elsewhere(pools: &[PoolCapacity], pod: &Pod) -> Option<Fit> {
    let (cpu_m, memory) = pod_requests(pod);
    best(pools.iter().filter(|p| !may_use(pod, p)), cpu_m, memory)
        .filter(|f| matches!(f, Fit::Now { .. } | Fit::ScaleUp { backoff: None, .. }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GI: i64 = 1 << 30;

    /// A user pool shaped like the demo's EKS `user-r5-2xlarge`.
    fn pool(name: &str, free_gi: i64, new_gi: i64, ready: usize, scaling: Scaling) -> PoolCapacity {
        PoolCapacity {
            name: name.into(),
            largest_free_cpu_m: 5000,
            largest_free_memory: free_gi * GI,
            nodes_ready: ready,
            nodes: 4,
            new_node_cpu_m: 7810,
            new_node_memory: new_gi * GI,
            labels: [
                ("eks.amazonaws.com/nodegroup", name),
                ("hub.jupyter.org/node-purpose", "user"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            taints: vec![PoolTaint {
                key: "hub.jupyter.org/dedicated".into(),
                value: "user".into(),
                effect: "NoSchedule".into(),
            }],
            scaling,
        }
    }

    fn core() -> PoolCapacity {
        let mut p = pool("core", 10, 13, 2, Scaling::Fixed);
        p.labels
            .insert("hub.jupyter.org/node-purpose".into(), "core".into());
        p.taints[0].value = "core".into();
        p
    }

    fn autoscaled(nodes: usize, max: usize) -> Scaling {
        Scaling::Autoscaled {
            nodes,
            min: 1,
            max,
            backoff: None,
        }
    }

    /// A z2jh user pod asking for `mem`, pinned to user nodes.
    fn server(mem: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "jupyter-erin"},
            "spec": {
                "nodeSelector": {"hub.jupyter.org/node-purpose": "user"},
                "tolerations": [
                    {"key": "hub.jupyter.org/dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
                    {"key": "hub.jupyter.org_dedicated", "operator": "Equal", "value": "user", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ],
                "containers": [{"name": "notebook", "resources": {"requests": {"cpu": "4", "memory": mem}}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_full_pool_below_its_max_fits_once_the_autoscaler_adds_a_node() {
        let pools = [core(), pool("user-r5-2xlarge", 13, 60, 2, autoscaled(4, 6))];
        let f = fit(&pools, &server("48Gi"));
        assert_eq!(
            f,
            Fit::ScaleUp {
                pool: "user-r5-2xlarge".into(),
                nodes: 4,
                max: 6,
                backoff: None
            }
        );
        assert_eq!(
            f.sentence(),
            "It fits once the autoscaler adds a node (pool user-r5-2xlarge at 4/6)."
        );
        assert!(f.will_start());
    }

    #[test]
    fn a_full_pool_at_its_max_is_full() {
        let pools = [core(), pool("user-r5-2xlarge", 13, 60, 2, autoscaled(4, 4))];
        let f = fit(&pools, &server("48Gi"));
        assert_eq!(f.kind(), "at_max");
        assert_eq!(f.pool(), Some("user-r5-2xlarge"));
        assert!(
            f.sentence().contains("is at its maximum size (4/4)"),
            "{}",
            f.sentence()
        );
        assert!(!f.will_start());
        // core has no room either way, and the server may not go there
        assert_eq!(elsewhere(&pools, &server("48Gi")), None);
    }

    #[test]
    fn room_on_a_ready_node_beats_a_scale_up() {
        let pools = [
            pool("user-big", 13, 60, 2, autoscaled(1, 9)),
            pool("user-small", 20, 28, 1, Scaling::Fixed),
        ];
        assert_eq!(
            fit(&pools, &server("16Gi")),
            Fit::Now {
                pool: "user-small".into()
            }
        );
    }

    #[test]
    fn the_tightest_pool_that_can_scale_is_chosen() {
        let pools = [
            pool("user-huge", 13, 250, 2, autoscaled(1, 9)),
            pool("user-big", 13, 60, 2, autoscaled(1, 9)),
            pool("user-full", 13, 60, 2, autoscaled(4, 4)),
        ];
        assert_eq!(fit(&pools, &server("48Gi")).pool(), Some("user-big"));
        assert_eq!(fit(&pools, &server("100Gi")).pool(), Some("user-huge"));
    }

    #[test]
    fn a_backing_off_pool_is_reported_with_why_and_not_as_starting() {
        let mut p = pool("user-pool", 13, 60, 2, autoscaled(3, 5));
        if let Scaling::Autoscaled { backoff, .. } = &mut p.scaling {
            *backoff = Some("QUOTA_EXCEEDED: Quota 'CPUS' exceeded.".into());
        }
        let f = fit(&[p], &server("48Gi"));
        assert!(!f.will_start());
        assert!(
            f.sentence()
                .ends_with("after one failed: QUOTA_EXCEEDED: Quota 'CPUS' exceeded."),
            "{}",
            f.sentence()
        );
    }

    #[test]
    fn without_autoscaler_status_growth_is_unknown_and_not_promised() {
        let pools = [pool("user-pool", 13, 60, 2, Scaling::Unknown)];
        let f = fit(&pools, &server("48Gi"));
        assert_eq!(
            f,
            Fit::NoScaleUp {
                pool: "user-pool".into(),
                nodes: 4,
                known: false
            }
        );
        assert!(f.sentence().contains("unknown"), "{}", f.sentence());
        let pools = [pool("user-pool", 13, 60, 2, Scaling::Fixed)];
        assert!(fit(&pools, &server("48Gi"))
            .sentence()
            .contains("no cluster autoscaler manages the pool (4 nodes)"));
    }

    #[test]
    fn a_request_bigger_than_a_new_node_is_too_big_whatever_the_autoscaler() {
        let pools = [core(), pool("user-r5-2xlarge", 13, 60, 2, autoscaled(1, 9))];
        let f = fit(&pools, &server("100Gi"));
        assert_eq!(
            f,
            Fit::TooBig {
                cpu_m: 7810,
                memory: 60 * GI
            }
        );
        assert_eq!(
            f.sentence(),
            "Even an empty node of the pools it may use is too small: a new node offers at most 7810m CPU and 60Gi memory."
        );
    }

    #[test]
    fn pools_the_pod_may_not_use_are_only_suggested_elsewhere() {
        let big = pool("user-big", 90, 120, 1, Scaling::Fixed);
        let mut pod = server("48Gi");
        pod.spec.as_mut().unwrap().node_selector = Some(
            [(
                "eks.amazonaws.com/nodegroup".to_string(),
                "user-small".to_string(),
            )]
            .into(),
        );
        let pools = [pool("user-small", 13, 28, 2, autoscaled(2, 8)), big];
        assert_eq!(fit(&pools, &pod).kind(), "too_big");
        assert_eq!(
            elsewhere(&pools, &pod),
            Some(Fit::Now {
                pool: "user-big".into()
            })
        );
    }

    #[test]
    fn taints_and_required_affinity_decide_which_pools_count() {
        let pools = [core(), pool("user", 13, 60, 1, Scaling::Fixed)];
        // no toleration for the user taint: no pool at all
        let mut pod = server("1Gi");
        pod.spec.as_mut().unwrap().tolerations = None;
        pod.spec.as_mut().unwrap().node_selector = None;
        assert_eq!(fit(&pools, &pod), Fit::NoPool);
        // tolerate everything, but require core by affinity
        let mut pod: Pod = serde_json::from_value(json!({
            "spec": {
                "tolerations": [{"operator": "Exists"}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "hub.jupyter.org/node-purpose", "operator": "In", "values": ["core"]}
                    ]}]
                }}},
                "containers": [{"name": "c", "resources": {"requests": {"memory": "1Gi"}}}]
            }
        }))
        .unwrap();
        assert!(may_use(&pod, &pools[0]));
        assert!(!may_use(&pod, &pools[1]));
        assert_eq!(fit(&pools, &pod).pool(), Some("core"));
        pod.spec.as_mut().unwrap().affinity = None;
        assert_eq!(
            fit(&pools, &pod).pool(),
            Some("core"),
            "tightest ready pool"
        );
    }
}
