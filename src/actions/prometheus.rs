//! `prometheus.query` (instant) and `prometheus.range`: ask the cluster's
//! own Prometheus (`clusters[].prometheus` in opsbot.yaml).
//!
//! Steps name the cluster, not a URL, so the Prometheus URL and token never
//! pass through templates, plans or audit records, and a cluster without a
//! Prometheus fails with a sentence that says so (a playbook with
//! `continue_on_error` can show it as it is).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{check_args, parse_args, parse_duration, ActionCall, ActionError, ActionSpec, Target};
use crate::prometheus::{Prometheus, PrometheusError, Range};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryArgs {
    cluster: String,
    query: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeArgs {
    cluster: String,
    query: String,
    /// How far back from now (`1h`).
    since: String,
    /// Resolution (`1m`); default: the window in about 60 points.
    #[serde(default)]
    step: Option<String>,
}

/// The most points one series may have (Prometheus itself refuses more
/// than 11,000; a chat answer needs far fewer).
const MAX_POINTS: f64 = 1000.0;

/// Every `prometheus.*` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![
        ActionSpec {
            name: "prometheus.query",
            mutates: false,
            idempotent: false,
            check: check_args::<QueryArgs>,
            permissions: |_| Vec::new(),
            describe: |a| Target {
                verb: "QUERY".into(),
                target: format!("prometheus @{}: {}", text(a, "cluster"), text(a, "query")),
            },
            run: Arc::new(|c| Box::pin(query(c))),
        },
        ActionSpec {
            name: "prometheus.range",
            mutates: false,
            idempotent: false,
            check: check_args::<RangeArgs>,
            permissions: |_| Vec::new(),
            describe: |a| Target {
                verb: "QUERY".into(),
                target: format!(
                    "prometheus @{} over {}: {}",
                    text(a, "cluster"),
                    text(a, "since"),
                    text(a, "query")
                ),
            },
            run: Arc::new(|c| Box::pin(range(c))),
        },
    ]
}

fn text(a: &Value, key: &str) -> String {
    a.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn client(call: &ActionCall, cluster: &str) -> Result<Prometheus, ActionError> {
    call.clusters
        .prometheus(cluster)
        .map_err(|e| ActionError::Failed(e.to_string()))
}

fn from_prometheus(e: PrometheusError) -> ActionError {
    match &e {
        PrometheusError::Transport { .. } => ActionError::Transport(e.to_string()),
        PrometheusError::Status { status, .. } if e.transient() => ActionError::Api {
            code: *status,
            reason: format!("Prometheus {status}"),
            message: e.to_string(),
            retry_after: None,
        },
        _ => ActionError::Failed(e.to_string()),
    }
}

async fn query(call: ActionCall) -> Result<Value, ActionError> {
    let a: QueryArgs = parse_args(&call.args)?;
    let p = client(&call, &a.cluster)?;
    let answer = p.query(&a.query).await.map_err(from_prometheus)?;
    Ok(answer.to_template())
}

async fn range(call: ActionCall) -> Result<Value, ActionError> {
    let a: RangeArgs = parse_args(&call.args)?;
    let since = parse_duration("since", &a.since)?;
    if since.is_zero() {
        return Err(ActionError::Invalid(
            "since: the window must be longer than 0s".into(),
        ));
    }
    let step = match &a.step {
        Some(s) => parse_duration("step", s)?,
        None => Duration::from_secs((since.as_secs() / 60).max(1)),
    };
    if step.is_zero() || since.as_secs_f64() / step.as_secs_f64() > MAX_POINTS {
        return Err(ActionError::Invalid(format!(
            "step: {} over {} would be more than {MAX_POINTS} points per series; choose a longer step",
            humantime::format_duration(step),
            humantime::format_duration(since)
        )));
    }
    let p = client(&call, &a.cluster)?;
    let end = chrono::Utc::now();
    let start = end
        - chrono::Duration::from_std(since)
            .map_err(|_| ActionError::Invalid(format!("since: '{}' is too long", a.since)))?;
    let answer = p
        .query_range(&a.query, Range { start, end, step })
        .await
        .map_err(from_prometheus)?;
    Ok(answer.to_template())
}
