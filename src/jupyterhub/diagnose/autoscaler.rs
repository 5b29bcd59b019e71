//! What the cluster autoscaler says about each node pool: its size bounds,
//! so "no node has room" can become "fits once the autoscaler adds a node"
//! or "the pool is at its maximum".
//!
//! Nodes do not carry their pool's autoscaling bounds on any managed
//! Kubernetes; the place a cluster exposes them is the status the
//! cluster-autoscaler writes to ConfigMap `kube-system/cluster-autoscaler-status`
//! (key `status`). GKE and AKS write it from their managed autoscaler, a
//! self-installed cluster-autoscaler (EKS, kops, ...) writes it too. Two
//! formats exist: YAML since cluster-autoscaler 1.30 (`nodeGroups: [{name,
//! health: {cloudProviderTarget, minSize, maxSize}, scaleUp: {status,
//! backoffInfo}}]`) and the older text (`Name: ...` / `Health: Healthy (...
//! cloudProviderTarget=4 (minSize=1, maxSize=4))`). Both are read.
//!
//! A node group is the cloud's name for the group (EKS: the ASG
//! `eks-<nodegroup>-<uuid>`, GKE: the instance group URL ending
//! `gke-<cluster>-<pool>-<hash>-grp`, AKS: the scale set `aks-<pool>-<n>-vmss`),
//! so it is matched to the pool whose name appears in it as whole `-`-separated
//! words, the longest such pool winning; a pool with several groups (a
//! regional GKE pool has one per zone) adds their sizes up.

use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::{PoolCapacity, Scaling};

/// Namespace and name of the ConfigMap the cluster-autoscaler writes.
pub const STATUS_CONFIGMAP: (&str, &str) = ("kube-system", "cluster-autoscaler-status");
/// The ConfigMap key holding the status text.
pub const STATUS_KEY: &str = "status";

/// One node group as the autoscaler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeGroupStatus {
    /// The cloud's name of the group (ASG name, instance group URL, scale set).
    pub name: String,
    /// The size the autoscaler has asked the cloud for (`cloudProviderTarget`).
    pub target: usize,
    pub min: usize,
    pub max: usize,
    /// Why scale-ups are on hold after a failed one (`Backoff`), if they are.
    pub backoff: Option<String>,
}

/// The status text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cluster-autoscaler status is not the YAML the autoscaler writes: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlStatus {
    #[serde(default)]
    node_groups: Vec<YamlGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlGroup {
    name: String,
    health: YamlHealth,
    #[serde(default)]
    scale_up: Option<YamlScaleUp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlHealth {
    #[serde(default)]
    cloud_provider_target: usize,
    #[serde(default)]
    min_size: usize,
    #[serde(default)]
    max_size: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlScaleUp {
    #[serde(default)]
    status: String,
    #[serde(default)]
    backoff_info: Option<YamlBackoff>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct YamlBackoff {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_message: String,
}

/// The node groups of a `cluster-autoscaler-status` text, in either format.
pub fn parse_status(text: &str) -> Result<Vec<NodeGroupStatus>, StatusError> {
    if text.trim_start().starts_with("Cluster-autoscaler status") {
        return Ok(parse_text(text));
    }
    let status: YamlStatus = serde_yaml::from_str(text)?;
    Ok(status
        .node_groups
        .into_iter()
        .map(|g| {
            let backoff =
                g.scale_up
                    .filter(|s| s.status == "Backoff")
                    .map(|s| match s.backoff_info {
                        Some(b) if !b.error_message.is_empty() => {
                            format!("{}: {}", b.error_code, b.error_message)
                        }
                        Some(b) if !b.error_code.is_empty() => b.error_code,
                        _ => "a recent scale-up failed".to_string(),
                    });
            NodeGroupStatus {
                name: g.name,
                target: g.health.cloud_provider_target,
                min: g.health.min_size,
                max: g.health.max_size,
                backoff,
            }
        })
        .collect())
}

/// The text format of cluster-autoscaler before 1.30.
fn parse_text(text: &str) -> Vec<NodeGroupStatus> {
    static RE: OnceLock<[Regex; 3]> = OnceLock::new();
    let [name_re, health_re, scale_up_re] = RE.get_or_init(|| {
        [
            Regex::new(r"^\s*Name:\s+(\S+)\s*$").expect("valid regex"),
            Regex::new(r"cloudProviderTarget=(\d+) \(minSize=(\d+), maxSize=(\d+)\)")
                .expect("valid regex"),
            Regex::new(r"^\s*ScaleUp:\s+(\w+)").expect("valid regex"),
        ]
    });
    let mut groups: Vec<NodeGroupStatus> = Vec::new();
    let mut in_groups = false;
    for line in text.lines() {
        if line.trim_start().starts_with("NodeGroups:") {
            in_groups = true;
            continue;
        }
        if !in_groups {
            continue;
        }
        if let Some(c) = name_re.captures(line) {
            groups.push(NodeGroupStatus {
                name: c[1].to_string(),
                target: 0,
                min: 0,
                max: 0,
                backoff: None,
            });
        } else if let (Some(c), Some(g)) = (health_re.captures(line), groups.last_mut()) {
            let n = |i: usize| c[i].parse().unwrap_or(0);
            (g.target, g.min, g.max) = (n(1), n(2), n(3));
        } else if let (Some(c), Some(g)) = (scale_up_re.captures(line), groups.last_mut()) {
            if &c[1] == "Backoff" {
                g.backoff = Some("a recent scale-up failed".to_string());
            }
        }
    }
    groups
}

/// Whether `pool` names node group `group`: the pool's name is a run of
/// whole `-`-separated words of the group's last `/` segment.
fn names(group: &str, pool: &str) -> bool {
    let last = group.rsplit('/').next().unwrap_or(group);
    format!("-{last}-").contains(&format!("-{pool}-"))
}

/// Sets every pool's [`Scaling`] from the autoscaler's node groups: the sum
/// of the groups that name it, or [`Scaling::Fixed`] when none does.
pub fn apply(pools: &mut [PoolCapacity], groups: &[NodeGroupStatus]) {
    for p in pools.iter_mut() {
        p.scaling = Scaling::Fixed;
    }
    for g in groups {
        let Some(p) = pools
            .iter_mut()
            .filter(|p| names(&g.name, &p.name))
            .max_by_key(|p| p.name.len())
        else {
            continue;
        };
        p.scaling = match std::mem::take(&mut p.scaling) {
            Scaling::Autoscaled {
                nodes,
                min,
                max,
                backoff,
            } => Scaling::Autoscaled {
                nodes: nodes + g.target,
                min: min + g.min,
                max: max + g.max,
                backoff: backoff.or_else(|| g.backoff.clone()),
            },
            _ => Scaling::Autoscaled {
                nodes: g.target,
                min: g.min,
                max: g.max,
                backoff: g.backoff.clone(),
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
time: "2026-11-23 07:59:40.105812466 +0000 UTC"
autoscalerStatus: Running
clusterWide:
  health:
    status: Healthy
    nodeCounts:
      registered: {total: 6, ready: 5, notStarted: 0, unready: {total: 1, resourceUnready: 0}}
      longUnregistered: 0
      unregistered: 0
  scaleUp: {status: NoActivity}
  scaleDown: {status: NoCandidates, candidates: 0}
nodeGroups:
- name: https://www.googleapis.com/compute/v1/projects/p/zones/europe-west4-a/instanceGroups/gke-gcp-eu-user-pool-9aaf68e9-grp
  health:
    status: Healthy
    nodeCounts:
      registered: {total: 3, ready: 3}
    cloudProviderTarget: 3
    minSize: 0
    maxSize: 5
  scaleUp: {status: NoActivity}
- name: https://www.googleapis.com/compute/v1/projects/p/zones/europe-west4-b/instanceGroups/gke-gcp-eu-user-pool-9aaf68e9-grp
  health:
    status: Healthy
    cloudProviderTarget: 2
    minSize: 0
    maxSize: 5
  scaleUp:
    status: Backoff
    backoffInfo:
      errorCode: QUOTA_EXCEEDED
      errorMessage: "Quota 'CPUS' exceeded. Limit: 57.0 in region europe-west4."
- name: https://www.googleapis.com/compute/v1/projects/p/zones/europe-west4-a/instanceGroups/gke-gcp-eu-dask-pool-b0eab115-grp
  health: {status: Healthy, cloudProviderTarget: 2, minSize: 0, maxSize: 2}
"#;

    const TEXT: &str = "Cluster-autoscaler status at 2026-11-23 07:59:40.105812466 +0000 UTC:
Cluster-wide:
  Health:      Healthy (ready=5 unready=1 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=6 longUnregistered=0)
               LastProbeTime:      2026-11-23 07:59:40 +0000 UTC
  ScaleUp:     NoActivity (ready=5 registered=6)
  ScaleDown:   NoCandidates (candidates=0)

NodeGroups:
  Name:        aks-user-27182818-vmss
  Health:      Healthy (ready=3 unready=1 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=4 longUnregistered=0 cloudProviderTarget=4 (minSize=1, maxSize=6))
               LastProbeTime:      2026-11-23 07:59:40 +0000 UTC
  ScaleUp:     Backoff (ready=3 cloudProviderTarget=4)
  ScaleDown:   NoCandidates (candidates=0)

  Name:        aks-core-31415926-vmss
  Health:      Healthy (ready=2 unready=0 (resourceUnready=0) notStarted=0 longNotStarted=0 registered=2 longUnregistered=0 cloudProviderTarget=2 (minSize=2, maxSize=2))
  ScaleUp:     NoActivity (ready=2 cloudProviderTarget=2)
";

    fn pool(name: &str) -> PoolCapacity {
        PoolCapacity {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn yaml_status_gives_each_group_its_target_bounds_and_backoff() {
        let g = parse_status(YAML).unwrap();
        assert_eq!(g.len(), 3);
        assert_eq!((g[0].target, g[0].min, g[0].max), (3, 0, 5));
        assert_eq!(g[0].backoff, None);
        assert_eq!(
            g[1].backoff.as_deref(),
            Some("QUOTA_EXCEEDED: Quota 'CPUS' exceeded. Limit: 57.0 in region europe-west4.")
        );
        assert!(g[2].name.ends_with("gke-gcp-eu-dask-pool-b0eab115-grp"));
    }

    #[test]
    fn text_status_of_older_autoscalers_reads_the_same_facts() {
        let g = parse_status(TEXT).unwrap();
        assert_eq!(
            g,
            [
                NodeGroupStatus {
                    name: "aks-user-27182818-vmss".into(),
                    target: 4,
                    min: 1,
                    max: 6,
                    backoff: Some("a recent scale-up failed".into()),
                },
                NodeGroupStatus {
                    name: "aks-core-31415926-vmss".into(),
                    target: 2,
                    min: 2,
                    max: 2,
                    backoff: None,
                },
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_list() {
        assert!(parse_status("nodeGroups: 12").is_err());
    }

    #[test]
    fn zonal_groups_of_one_pool_add_up_and_unlisted_pools_are_fixed() {
        let mut pools = [pool("core-pool"), pool("dask-pool"), pool("user-pool")];
        apply(&mut pools, &parse_status(YAML).unwrap());
        assert_eq!(pools[0].scaling, Scaling::Fixed);
        assert_eq!(
            pools[1].scaling,
            Scaling::Autoscaled {
                nodes: 2,
                min: 0,
                max: 2,
                backoff: None
            }
        );
        let Scaling::Autoscaled {
            nodes,
            max,
            backoff,
            ..
        } = &pools[2].scaling
        else {
            panic!("{:?}", pools[2].scaling)
        };
        assert_eq!((*nodes, *max), (5, 10));
        assert!(backoff.as_deref().unwrap().starts_with("QUOTA_EXCEEDED"));
    }

    #[test]
    fn the_longest_pool_name_in_a_group_name_wins() {
        let mut pools = [pool("user"), pool("user-r5-2xlarge"), pool("r5")];
        let groups = [NodeGroupStatus {
            name: "eks-user-r5-2xlarge-1ec9b2f4-7d3a-4c1e-9b8f-2a6d5e4c3b21".into(),
            target: 4,
            min: 1,
            max: 4,
            backoff: None,
        }];
        apply(&mut pools, &groups);
        assert_eq!(pools[0].scaling, Scaling::Fixed);
        assert!(matches!(
            pools[1].scaling,
            Scaling::Autoscaled {
                nodes: 4,
                max: 4,
                ..
            }
        ));
        assert_eq!(pools[2].scaling, Scaling::Fixed);
    }

    #[test]
    fn a_pool_name_must_be_whole_words_of_the_group_name() {
        assert!(names("aks-user-27182818-vmss", "user"));
        assert!(!names("aks-superuser-27182818-vmss", "user"));
        assert!(!names("aks-user2-27182818-vmss", "user"));
    }
}
