//! `binder.builds`: BinderHub's image builds in a namespace. BinderHub runs
//! each repo2docker build as a pod labelled `component=binderhub-build`
//! (annotation `binder-repo`, container `builder`, the image name after
//! `--image-name` in its args); this step lists them with their phase and,
//! for a failed one, the tail of its log and the lines that are registry
//! push errors (the usual reason a build "succeeds" but the server's image
//! cannot be pulled).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use regex::Regex;
use serde::Deserialize;
use serde_json::{json, Value};

use super::kube::{client, from_kube, summarise};
use super::{check_args, parse_args, ActionCall, ActionError, ActionSpec, Permission, Target};

/// The label BinderHub puts on its build pods.
pub const BUILD_SELECTOR: &str = "component=binderhub-build";
/// How many log lines of a failed build are shown.
const LOG_TAIL: i64 = 15;
/// How many log lines of a failed build are searched for push errors.
const LOG_SEARCH: i64 = 400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildsArgs {
    cluster: String,
    namespace: String,
}

/// The `binder.*` step kinds.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "binder.builds",
        mutates: false,
        idempotent: false,
        check: check_args::<BuildsArgs>,
        permissions: |_| {
            vec![
                Permission::new("list", "", "pods"),
                Permission::new("get", "", "pods/log"),
            ]
        },
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target {
                verb: "list".into(),
                target: format!(
                    "v1 pods {}/{BUILD_SELECTOR} @{}",
                    s("namespace"),
                    s("cluster")
                ),
            }
        },
        run: Arc::new(|c| Box::pin(builds(c))),
    }]
}

/// Lines of a build log that say the image could not be pushed.
fn push_error(line: &str) -> bool {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(error pushing|push(ing)? (failed|error)|denied: |requested access to the resource is denied|unauthorized: |authentication required|toomanyrequests|manifest invalid|blob upload (unknown|invalid)|name unknown|insufficient_scope|received unexpected HTTP status: 5\d\d)")
            .expect("the push-error pattern compiles")
    })
    .is_match(line)
}

/// The image a build pod builds: the word after `--image-name` (or
/// `--image-name=`) in its builder container's args.
fn image_of(pod: &Pod) -> Option<String> {
    let c = pod.spec.as_ref()?.containers.first()?;
    let args: Vec<&String> = c
        .args
        .iter()
        .flatten()
        .chain(c.command.iter().flatten())
        .collect();
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix("--image-name=") {
            Some(v.to_string())
        } else if a.as_str() == "--image-name" {
            args.get(i + 1).map(|s| s.to_string())
        } else {
            None
        }
    })
}

async fn builds(call: ActionCall) -> Result<Value, ActionError> {
    let a: BuildsArgs = parse_args(&call.args)?;
    let pods: Api<Pod> = Api::namespaced(client(&call, &a.cluster)?, &a.namespace);
    let mut list = pods
        .list(&ListParams::default().labels(BUILD_SELECTOR))
        .await
        .map_err(from_kube)?
        .items;
    // Newest first: the build a user is waiting for.
    list.sort_by_key(|p| std::cmp::Reverse(p.metadata.creation_timestamp.clone().map(|t| t.0)));
    let mut items = Vec::new();
    let mut failed = 0;
    for p in &list {
        let mut s = summarise("Pod", &serde_json::to_value(p).unwrap_or_default());
        let name = p.metadata.name.clone().unwrap_or_default();
        let repo = p
            .metadata
            .annotations
            .as_ref()
            .and_then(|m| {
                m.get("binder-repo")
                    .or_else(|| m.get("binder.hub.jupyter.org/repo"))
            })
            .cloned();
        s["repo"] = json!(repo);
        s["image"] = json!(image_of(p));
        let phase = s["phase"].as_str().unwrap_or("").to_string();
        let container_failed = p
            .status
            .as_ref()
            .and_then(|st| st.container_statuses.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .is_some_and(|t| t.exit_code != 0)
                })
            });
        let is_failed = phase == "Failed" || container_failed;
        s["failed"] = json!(is_failed);
        if is_failed {
            failed += 1;
            let lp = LogParams {
                tail_lines: Some(LOG_SEARCH),
                ..Default::default()
            };
            match pods.logs(&name, &lp).await {
                Ok(text) => {
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(LOG_TAIL as usize)..];
                    s["log_tail"] = json!(tail);
                    s["push_errors"] =
                        json!(lines.iter().filter(|l| push_error(l)).collect::<Vec<_>>());
                }
                Err(e) => {
                    s["log_tail"] = json!([]);
                    s["push_errors"] = json!([]);
                    s["log_error"] = json!(from_kube(e).to_string());
                }
            }
        }
        s.as_object_mut().map(|o| o.remove("raw"));
        items.push(s);
    }
    Ok(json!({ "count": items.len(), "failed": failed, "items": items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_push_errors_are_told_from_other_build_lines() {
        for line in [
            "Error pushing image: denied: requested access to the resource is denied",
            "unauthorized: authentication required",
            "toomanyrequests: Rate exceeded",
            "received unexpected HTTP status: 503 Service Unavailable",
        ] {
            assert!(push_error(line), "{line}");
        }
        for line in [
            "Step 4/12 : RUN pip install -r requirements.txt",
            "Successfully built 3b4e92a1",
        ] {
            assert!(!push_error(line), "{line}");
        }
    }

    #[test]
    fn the_image_of_a_build_pod_is_read_from_its_args() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "build-x"},
            "spec": {"containers": [{"name": "builder", "image": "quay.io/jupyterhub/repo2docker:2024.07.0",
                "args": ["jupyter-repo2docker", "--ref", "main", "--image-name", "gcr.io/p/r2d-x:abc", "--push", "https://github.com/x/y"]}]}
        }))
        .unwrap();
        assert_eq!(image_of(&pod).as_deref(), Some("gcr.io/p/r2d-x:abc"));
    }
}
