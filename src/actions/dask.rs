//! `dask.scale`: set the number of workers of one dask-gateway cluster, the
//! way the gateway's own `cluster.scale(n)` does: a merge patch of the
//! DaskCluster's `spec.worker.replicas` (the CRD has no `scale`
//! subresource), which the gateway's controller then reconciles into
//! worker pods. Dry run sends the patch with `dryRun=All`.

use std::sync::Arc;

use kube::api::Patch;
use serde::Deserialize;
use serde_json::{json, Value};

use super::kube::{dry, dyn_api, from_kube};
use super::{check_args, parse_args, ActionCall, ActionError, ActionSpec, Permission, Target};

/// More workers than this is a typo, not a request.
const MAX_WORKERS: i64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleArgs {
    cluster: String,
    namespace: String,
    /// The DaskCluster's name.
    name: String,
    workers: Value,
}

/// The `dask.*` step kinds.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "dask.scale",
        mutates: true,
        // An absolute worker count: sending it twice sets it once.
        idempotent: true,
        check: check_args::<ScaleArgs>,
        permissions: |_| {
            vec![
                Permission::new("get", "gateway.dask.org", "daskclusters"),
                Permission::new("patch", "gateway.dask.org", "daskclusters"),
            ]
        },
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target {
                verb: "patch".into(),
                target: format!(
                    "gateway.dask.org/v1alpha1 daskclusters {}/{} spec.worker.replicas @{}",
                    s("namespace"),
                    s("name"),
                    s("cluster")
                ),
            }
        },
        run: Arc::new(|c| Box::pin(scale(c))),
    }]
}

fn workers(v: &Value) -> Result<i64, ActionError> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|n| (0..=MAX_WORKERS).contains(n))
    .ok_or_else(|| {
        ActionError::Invalid(format!(
            "workers: '{v}' is not a whole number from 0 to {MAX_WORKERS}"
        ))
    })
}

async fn scale(call: ActionCall) -> Result<Value, ActionError> {
    let a: ScaleArgs = parse_args(&call.args)?;
    let to = workers(&a.workers)?;
    let (api, _) = dyn_api(&call, &a.cluster, "DaskCluster", Some(&a.namespace))?;
    let before = api.get(&a.name).await.map_err(from_kube)?;
    let from = before
        .data
        .pointer("/spec/worker/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let patch = json!({ "spec": { "worker": { "replicas": to } } });
    api.patch(&a.name, &dry(&call), &Patch::Merge(&patch))
        .await
        .map_err(from_kube)?;
    Ok(json!({
        "name": a.name,
        "from": from,
        "to": to,
        "dry_run": call.dry_run,
        "change": format!("spec.worker.replicas {from} → {to}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_are_whole_numbers_in_range() {
        assert_eq!(workers(&json!(3)).unwrap(), 3);
        assert_eq!(workers(&json!("0")).unwrap(), 0);
        for bad in [json!(-1), json!("many"), json!(1001), json!(2.5)] {
            let e = workers(&bad).unwrap_err().to_string();
            assert!(e.contains("whole number from 0 to 1000"), "{e}");
        }
    }
}
