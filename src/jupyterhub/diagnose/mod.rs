//! Diagnosis of one user server: evidence in, plain-language findings out.
//!
//! The `diagnose` playbook step gathers an [`Evidence`] (pod, its events, log
//! lines, its node, the node pools) and asks the [`Catalogue`] of known
//! failures what is wrong. The engine is a pure function: no cluster access,
//! so every failure can be pinned by a unit test over a realistic pod.
//!
//! # Catalogue format (`playbooks/knowledge/*.yaml`)
//!
//! Each file is a list of entries:
//!
//! ```yaml
//! - id: image-pull                     # unique across all files
//!   title: The server's image cannot be pulled
//!   when:                              # ANY of these matches (may be empty if `all` is given)
//!     - { source: container_waiting_reason, pattern: "^(ErrImagePull|ImagePullBackOff)$" }
//!     - { source: event, reason: Failed, pattern: "Failed to pull image" }
//!   all:                               # optional: ALL of these must match too
//!     - { source: pod_phase, pattern: "^Pending$" }
//!   fallback: false                    # optional: true = only reported when nothing specific matched
//!   cause: The image {{ image }} does not exist or the registry refused it.
//!   fix: Check the image name and tag.
//!   reply: |
//!     Your server could not start because ...
//! ```
//!
//! A matcher is `{ source, pattern?, reason?, older_than? }`. `pattern` is a
//! regex (compiled at load time; a bad one is a `file:line:col` error) run on
//! the text of the source; without a pattern any text of the source matches.
//! Sources and their texts:
//!
//! | source | text the pattern runs on |
//! |---|---|
//! | `pod_phase` | `status.phase` (`Pending`, `Running`, …) |
//! | `pod_reason` | `status.reason` (`Evicted`, …) |
//! | `pod_condition` | each pod condition as `Type=Status` (`Ready=True`) |
//! | `container_waiting_reason` | each container's `state.waiting.reason` |
//! | `container_terminated_reason` | each container's `state.terminated.reason` and `lastState.terminated.reason` |
//! | `exit_code` | the exit codes of those terminations (`137`) |
//! | `event` | each event's message; `reason:` keeps only events with that exact reason |
//! | `log` / `previous_log` | each line of the current / previous container's log |
//! | `node_condition` | each condition of the pod's node as `Type=Status` (`Ready=Unknown`) |
//! | `deletion_age` | matches when the pod has been terminating longer than `older_than` (e.g. `10m`); text lists age and finalizers |
//! | `pending_age` | matches when the pod has been `Pending` longer than `older_than` (e.g. `5m`) |
//! | `init_container` | each init container's state as `name: Reason` or `name: Reason (exit N)` |
//! | `hub_log` | each line of the hub pod's log that mentions the user or their pod |
//!
//! `cause`, `fix` and `reply` are minijinja templates (checked at load time).
//! They see the named groups captured by the matching patterns and these facts:
//! `image`, `node`, `capacity` (a sentence: where the pod would fit among the
//! node pools it may use, e.g. "It fits once the autoscaler adds a node (pool
//! user-pool at 4/6)." or "Pool P is full: ... at its maximum size (4/4) ..."),
//! `fit` (that verdict as one word: `now`, `scale_up`, `at_max`,
//! `no_scale_up`, `too_big`, `no_pool`, `unknown`), `fit_pool` (the pool it is
//! about), `pool_that_fits` (a pool, its own or one another profile could
//! use, that has room now or once the autoscaler adds a node; else `none: ...`
//! saying why),
//! `requested_memory`, `requested_cpu`, `age`, `deletion_age`, `finalizers`,
//! `exit_code`, `user` (annotation `hub.jupyter.org/username`), `pod`,
//! `home_claim` (the pod's first PersistentVolumeClaim), `pod_message` (`status.message`),
//! `last_logs` (the last log lines, previous container first if it restarted).
//!
//! # Ranking
//!
//! Findings are ordered by how specific the evidence that matched them is:
//! log lines beat the hub's log lines, which beat events, which beat container and node states, which beat
//! ages and phases; ties keep catalogue order. Entries marked `fallback: true`
//! (the generic CrashLoopBackOff, the healthy server) appear only when no
//! specific entry matched, so a log-matched cause replaces the generic one.

pub mod autoscaler;
mod capacity;
mod catalogue;
mod engine;
mod fit;
mod quantity;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use capacity::{pod_requests, pool_capacity, pool_of, NodeRequests, POOL_LABELS};
pub use catalogue::{Catalogue, Entry, Matcher, Part, Source};
pub use fit::{fit, Fit};
pub use quantity::{bytes, cpu_millis, human_bytes, pool_that_fits};

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde::Serialize;

/// Everything known about one user's server, as fetched from the cluster by
/// the playbook step that calls [`Catalogue::diagnose`].
#[derive(Debug, Clone)]
pub struct Evidence {
    /// `None`: no pod at all.
    pub pod: Option<Pod>,
    /// Events whose involvedObject is the pod, in any order.
    pub events: Vec<Event>,
    /// Last lines of container `notebook` (current instance).
    pub logs: Vec<String>,
    /// Last lines of the previous instance, if the container restarted.
    pub previous_logs: Vec<String>,
    /// Lines of the hub's own log that mention this user or their pod
    /// (quota refusals, spawn timeouts, a server that never answered).
    pub hub_logs: Vec<String>,
    /// The node the pod is on, if any.
    pub node: Option<Node>,
    /// Capacity per node pool, to say where a pod that does not fit would fit
    /// (with [`autoscaler::apply`] done, or every pool's scaling is unknown).
    pub pools: Vec<PoolCapacity>,
    /// The time ages are measured against (injected so tests are exact).
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Free room in one node pool, so a scheduling failure can name a pool that
/// fits now, one that fits once the autoscaler adds a node, or say that the
/// pool that would fit is at its maximum size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PoolCapacity {
    pub name: String,
    /// Allocatable minus requested CPU on the pool's emptiest ready node, in millicores.
    pub largest_free_cpu_m: i64,
    /// Allocatable minus requested memory on the pool's emptiest ready node, in bytes.
    pub largest_free_memory: i64,
    pub nodes_ready: usize,
    pub nodes: usize,
    /// CPU a fresh node of the pool offers a user pod (allocatable less its
    /// DaemonSet and static pods), in millicores; 0 when unknown.
    pub new_node_cpu_m: i64,
    /// Memory a fresh node of the pool offers a user pod, in bytes; 0 when unknown.
    pub new_node_memory: i64,
    /// Labels every node of the pool carries: what a pod's node selector and
    /// required node affinity are checked against.
    pub labels: BTreeMap<String, String>,
    /// `NoSchedule`/`NoExecute` taints every node of the pool carries, less the
    /// node-lifecycle ones (`node.kubernetes.io/...`) that come and go per node.
    pub taints: Vec<PoolTaint>,
    /// Whether and how far the cluster autoscaler may grow the pool.
    pub scaling: Scaling,
}

/// A taint shared by a pool's nodes, which a pod must tolerate to go there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PoolTaint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

/// What the cluster autoscaler says about a pool (see [`autoscaler`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scaling {
    /// No autoscaler status was read: nothing is known about growth.
    #[default]
    Unknown,
    /// The autoscaler's status was read and does not manage this pool.
    Fixed,
    /// The autoscaler manages the pool: `nodes` is its current target size.
    Autoscaled {
        nodes: usize,
        min: usize,
        max: usize,
        /// Why scale-ups of the pool are on hold after a failed one, if they are.
        backoff: Option<String>,
    },
}

/// What the catalogue concluded about one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The one-word state a person reads first: `Running`, `Pending`,
    /// `CrashLoopBackOff`, `ImagePullBackOff`, `Terminating`, `absent`, …
    pub phase: String,
    /// Best first; empty means nothing known matched.
    pub findings: Vec<Finding>,
    /// The facts that led there, one line each.
    pub evidence: Vec<String>,
}

/// One catalogue entry that matched, with its templates rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub cause: String,
    pub fix: String,
    pub reply: String,
    /// The text that matched (an event message, a log line, a reason).
    pub matched: String,
}

impl Diagnosis {
    /// The shape playbook templates see:
    /// `{phase, findings: [{id, title, cause, fix, reply, matched}], evidence: [..]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "phase": self.phase,
            "findings": self.findings.iter().map(|f| serde_json::json!({
                "id": f.id,
                "title": f.title,
                "cause": f.cause,
                "fix": f.fix,
                "reply": f.reply,
                "matched": f.matched,
            })).collect::<Vec<_>>(),
            "evidence": self.evidence,
        })
    }

    /// The best finding, if any: what triage leads with.
    pub fn top(&self) -> Option<&Finding> {
        self.findings.first()
    }
}
