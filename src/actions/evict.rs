//! `kube.evict`: evict one pod through the policy/v1 Eviction subresource, so
//! PodDisruptionBudgets are honoured (a drain's building block; a plain delete
//! would ignore them). Dry run sends `dryRun=All`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams, PostParams};
use serde::Deserialize;
use serde_json::{json, Value};

use super::kube::{client, from_kube};
use super::{check_args, parse_args, ActionCall, ActionError, ActionSpec, Permission, Target};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvictArgs {
    cluster: String,
    namespace: String,
    name: String,
}

/// The `kube.evict` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "kube.evict",
        mutates: true,
        // A retry finds the pod already gone (or replaced) and is done.
        idempotent: true,
        check: check_args::<EvictArgs>,
        permissions: |_| vec![Permission::new("create", "", "pods/eviction")],
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target {
                verb: "evict".into(),
                target: format!(
                    "v1 pods/eviction {}/{} @{}",
                    s("namespace"),
                    s("name"),
                    s("cluster")
                ),
            }
        },
        run: Arc::new(|c| Box::pin(evict(c))),
    }]
}

async fn evict(call: ActionCall) -> Result<Value, ActionError> {
    let a: EvictArgs = parse_args(&call.args)?;
    let api: Api<Pod> = Api::namespaced(client(&call, &a.cluster)?, &a.namespace);
    let ep = EvictParams {
        delete_options: None,
        post_options: PostParams {
            dry_run: call.dry_run,
            field_manager: None,
        },
    };
    if call.attempt > 1 && !call.dry_run {
        // The earlier try may have evicted it before its answer was lost.
        let gone = match api.get_opt(&a.name).await.map_err(from_kube)? {
            None => true,
            Some(p) => super::kube::created_after(&p.metadata, call.issued_at),
        };
        if gone {
            return Ok(json!({
                "name": a.name,
                "namespace": a.namespace,
                "evicted": true,
                "already": true,
                "dry_run": false,
                "change": format!("evict pod {}/{}", a.namespace, a.name),
            }));
        }
    }
    api.evict(&a.name, &ep).await.map_err(from_kube)?;
    Ok(json!({
        "name": a.name,
        "namespace": a.namespace,
        "evicted": !call.dry_run,
        "dry_run": call.dry_run,
        "change": format!("evict pod {}/{}", a.namespace, a.name),
    }))
}
