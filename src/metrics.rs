//! Prometheus metrics: what an operator graphs and alerts on.
//!
//! Labels are fixed, small vocabularies (command names from the grammar,
//! outcome words, refusal reasons), never free text or `Debug` output.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    command: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    platform: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DutyLabels {
    duty: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cluster: String,
    kind: String,
}

/// The process's metrics, shared by the ack path, the runner and the server.
pub struct Metrics {
    reachable: Family<ClusterLabels, Gauge>,
    registry: Mutex<Registry>,
    runs: Family<RunLabels, Counter>,
    steps: Family<ActionLabels, Histogram>,
    in_flight: Gauge,
    refused: Family<RefusalLabels, Counter>,
    leading: Family<DutyLabels, Gauge>,
    cache_usable: Family<CacheLabels, Gauge>,
    cache_over_cap: Family<CacheLabels, Gauge>,
    cache_objects: Family<CacheLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every opsbot metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("opsbot");
        let runs = Family::<RunLabels, Counter>::default();
        let steps = Family::<ActionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        let in_flight = Gauge::default();
        let refused = Family::<RefusalLabels, Counter>::default();
        let reachable = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "cluster_reachable",
            "1 when the cluster's API server answered the last readiness probe, else 0",
            reachable.clone(),
        );
        registry.register(
            "runs",
            "Runs finished, by command and outcome",
            runs.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "Playbook step latency, by action",
            steps.clone(),
        );
        registry.register("runs_in_flight", "Runs executing now", in_flight.clone());
        registry.register(
            "refused_requests",
            "Requests refused before any run started, by platform and reason",
            refused.clone(),
        );
        let leading = Family::<DutyLabels, Gauge>::default();
        registry.register(
            "duty_leader",
            "1 while this process is the one doing the singleton duty (e.g. approval-expiry)",
            leading.clone(),
        );
        let cache_usable = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "watch_cache_usable",
            "1 while the watch cache answers reads of the kind (listed, watch healthy, under the cap), else 0 (reads go to the API server)",
            cache_usable.clone(),
        );
        let cache_over_cap = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "watch_cache_over_cap",
            "1 while the kind is not cached because the cluster has more objects than watch_cache_max_objects",
            cache_over_cap.clone(),
        );
        let cache_objects = Family::<CacheLabels, Gauge>::default();
        registry.register(
            "watch_cache_objects",
            "Objects the watch cache holds, by cluster and kind",
            cache_objects.clone(),
        );
        Metrics {
            cache_usable,
            cache_over_cap,
            cache_objects,
            leading,
            reachable,
            registry: Mutex::new(registry),
            runs,
            steps,
            in_flight,
            refused,
        }
    }

    /// A run reached its end.
    pub fn run_finished(&self, command: &str, outcome: &str) {
        self.runs
            .get_or_create(&RunLabels {
                command: command.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// A step finished after `took`.
    pub fn step(&self, action: &str, took: Duration) {
        self.steps
            .get_or_create(&ActionLabels {
                action: action.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A run started (`+1`) or ended (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.inc_by(delta);
    }

    /// Whether `cluster` answered the last readiness probe.
    pub fn cluster_reachable(&self, cluster: &str, up: bool) {
        self.reachable
            .get_or_create(&ClusterLabels {
                cluster: cluster.to_string(),
            })
            .set(i64::from(up));
    }

    /// The state of one kind's watch cache store.
    pub fn watch_cache(&self, cluster: &str, state: &crate::cluster::cache::KindState) {
        let labels = CacheLabels {
            cluster: cluster.to_string(),
            kind: state.kind.to_string(),
        };
        self.cache_usable
            .get_or_create(&labels)
            .set(i64::from(state.usable));
        self.cache_over_cap
            .get_or_create(&labels)
            .set(i64::from(state.over_cap));
        self.cache_objects
            .get_or_create(&labels)
            .set(i64::try_from(state.objects).unwrap_or(i64::MAX));
    }

    /// Whether this process does the singleton `duty` now.
    pub fn leading(&self, duty: &str, leads: bool) {
        self.leading
            .get_or_create(&DutyLabels {
                duty: duty.to_string(),
            })
            .set(i64::from(leads));
    }

    /// A request was refused before anything ran (bad signature, unknown
    /// person, parse error, busy...).
    pub fn refused(&self, platform: &str, reason: &str) {
        self.refused
            .get_or_create(&RefusalLabels {
                platform: platform.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_metrics_carry_runs_by_command_and_outcome() {
        let m = Metrics::new();
        m.run_finished("hub status", "succeeded");
        m.refused("slack", "bad_signature");
        m.step("kube.list", Duration::from_millis(3));
        let text = m.render();
        assert!(
            text.contains(r#"opsbot_runs_total{command="hub status",outcome="succeeded"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"opsbot_refused_requests_total{platform="slack",reason="bad_signature"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("opsbot_step_duration_seconds_bucket"),
            "{text}"
        );
    }
}
