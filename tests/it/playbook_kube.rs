//! The `kube.*` steps through the real kube client against a tiny loopback
//! API server (a stand-in until the simulator branch lands): request shapes,
//! dry-run, retries on 429 with Retry-After, partial fan-out on 503, and the
//! human error text for API errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opsbot::cluster::ClusterSet;
use opsbot::playbook::{
    execute, ExecContext, Mode, Outcome, Playbooks, Progress, RunResult, StepOutcome,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct World {
    objects: BTreeMap<String, Value>,
    requests: Vec<(String, String, String)>,
    /// Impersonate-User header of each request.
    impersonated: Vec<Option<String>>,
    /// Log text by pod path; `previous=true` reads `<path>?previous`.
    logs: BTreeMap<String, String>,
    /// (path substring, status, remaining times; u32::MAX = forever)
    faults: Vec<(String, u16, u32)>,
}

type Shared = Arc<Mutex<World>>;

fn status(code: u16, reason: &str, message: &str, retry_after: u32) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
        "reason": reason, "code": code, "details": {"retryAfterSeconds": retry_after}});
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        obj.pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            == Some(v)
    })
}

async fn handle(
    State(w): State<Shared>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let mut w = w.lock().unwrap();
    w.requests
        .push((method.to_string(), path.clone(), query.clone()));
    w.impersonated.push(
        headers
            .get("impersonate-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    );
    if let Some(f) = w.faults.iter_mut().find(|f| path.contains(&f.0) && f.2 > 0) {
        if f.2 != u32::MAX {
            f.2 -= 1;
        }
        let code = f.1;
        return if code == 429 {
            status(
                429,
                "TooManyRequests",
                "too many requests, please try again later",
                0,
            )
        } else {
            status(
                code,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
                0,
            )
        };
    }
    let q: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    let dry = q.get("dryRun").map(String::as_str) == Some("All");
    if let Some(pod) = path.strip_suffix("/log") {
        let key = if q.get("previous").map(String::as_str) == Some("true") {
            format!("{pod}?previous")
        } else {
            pod.to_string()
        };
        return match w.logs.get(&key) {
            Some(text) => text.clone().into_response(),
            None => status(
                400,
                "BadRequest",
                "previous terminated container \"notebook\" not found",
                0,
            ),
        };
    }
    match method {
        Method::GET => {
            if let Some(o) = w.objects.get(&path) {
                return axum::Json(o.clone()).into_response();
            }
            let prefix = format!("{path}/");
            let items: Vec<Value> = w
                .objects
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                .map(|(_, v)| v.clone())
                .filter(|o| {
                    labels_match(o, q.get("labelSelector").map(String::as_str).unwrap_or(""))
                })
                .collect();
            let plurals = ["pods", "deployments", "events", "nodes", "statefulsets"];
            let is_collection = plurals.iter().any(|p| path.ends_with(&format!("/{p}")));
            if !is_collection {
                let name = path.rsplit('/').next().unwrap_or("");
                let res = path.rsplit('/').nth(1).unwrap_or("");
                return status(404, "NotFound", &format!("{res} \"{name}\" not found"), 0);
            }
            axum::Json(json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}))
                .into_response()
        }
        Method::PATCH => {
            let patch: Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(mut obj) = w.objects.get(&path).cloned() else {
                return status(404, "NotFound", "not found", 0);
            };
            json_patch::merge(&mut obj, &patch);
            if patch.get("spec").is_some() {
                let g = obj["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
                obj["metadata"]["generation"] = json!(g);
                // The rollout completes at once here.
                obj["status"]["observedGeneration"] = json!(g);
            }
            if !dry {
                w.objects.insert(path, obj.clone());
            }
            axum::Json(obj).into_response()
        }
        Method::DELETE => {
            let Some(obj) = w.objects.get(&path).cloned() else {
                return status(404, "NotFound", "not found", 0);
            };
            if !dry {
                w.objects.remove(&path);
            }
            axum::Json(obj).into_response()
        }
        _ => status(405, "MethodNotAllowed", "method not allowed", 0),
    }
}

fn deployment(ns: &str, name: &str, component: &str) -> (String, Value) {
    (
        format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "generation": 1, "labels": {"component": component},
                "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"replicas": 1, "template": {"metadata": {}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}}),
    )
}

async fn start(objects: Vec<(String, Value)>) -> (Shared, String) {
    let world: Shared = Arc::new(Mutex::new(World {
        objects: objects.into_iter().collect(),
        ..Default::default()
    }));
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(world.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (world, url)
}

fn clusters(urls: &[(&str, &str)]) -> ClusterSet {
    let mut set = ClusterSet::new();
    for (name, url) in urls {
        let config = kube::Config::new(url.parse().unwrap());
        set.insert_config(name, config).unwrap();
    }
    set
}

async fn run(
    pb_text: &str,
    params: Value,
    set: ClusterSet,
    mode: Mode,
) -> (RunResult, Vec<Progress>) {
    let pbs = Playbooks::from_str("t.yaml", pb_text).unwrap_or_else(|e| panic!("{e}"));
    let pb = pbs.iter().next().unwrap().clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: set,
        mode,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: None,
    };
    let r = tokio::time::timeout(Duration::from_secs(30), execute(&pb, params, ctx))
        .await
        .unwrap();
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (r, progress)
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/playbooks/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn hub(cluster: &str, ns: &str) -> Value {
    json!({"name": ns, "cluster": cluster, "namespace": ns})
}

#[tokio::test]
async fn hub_restart_patches_the_restart_annotation_of_the_deployment_found_by_label() {
    let (world, url) = start(vec![
        deployment("staging", "prod-hub", "hub"),
        deployment("staging", "proxy", "proxy"),
    ])
    .await;
    let (r, progress) = run(
        &shipped("hub-restart"),
        json!({"hub": hub("aws-us", "staging"), "reason": "config change"}),
        clusters(&[("aws-us", &url)]),
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("Hub **staging** restarted: 1/1 ready in"),
        "{}",
        r.output
    );
    let w = world.lock().unwrap();
    let patches: Vec<_> = w.requests.iter().filter(|r| r.0 == "PATCH").collect();
    assert_eq!(patches.len(), 1, "{:?}", w.requests);
    assert_eq!(
        patches[0].1,
        "/apis/apps/v1/namespaces/staging/deployments/prod-hub"
    );
    assert!(!patches[0].2.contains("dryRun"));
    let obj = &w.objects["/apis/apps/v1/namespaces/staging/deployments/prod-hub"];
    assert!(obj
        .pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
        .is_some());
    let restart = progress.iter().find_map(|p| match p {
        Progress::StepFinished {
            id, verb, target, ..
        } if id == "restart" => Some((verb.clone(), target.clone())),
        _ => None,
    });
    assert_eq!(
        restart,
        Some((
            "patch".into(),
            "apps/v1 deployments staging/prod-hub @aws-us".into()
        ))
    );
}

#[tokio::test]
async fn dry_run_sends_dry_run_all_and_changes_nothing() {
    let (world, url) = start(vec![deployment("staging", "hub", "hub")]).await;
    let before = world.lock().unwrap().objects.clone();
    let (r, progress) = run(
        &shipped("hub-restart"),
        json!({"hub": hub("aws-us", "staging"), "reason": "x"}),
        clusters(&[("aws-us", &url)]),
        Mode::DryRun,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("Dry run: would restart Deployment `hub`"),
        "{}",
        r.output
    );
    let w = world.lock().unwrap();
    let patch = w.requests.iter().find(|r| r.0 == "PATCH").unwrap();
    assert!(patch.2.contains("dryRun=All"), "{patch:?}");
    assert_eq!(w.objects, before);
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::StepFinished { id, dry_run: true, .. } if id == "restart")));
}

#[tokio::test]
async fn a_429_storm_is_retried_then_succeeds() {
    let (world, url) = start(vec![deployment("staging", "hub", "hub")]).await;
    world
        .lock()
        .unwrap()
        .faults
        .push(("/deployments".into(), 429, 3));
    let (r, progress) = run(
        &shipped("hub-status").replace("component in (hub,proxy)", "component=hub"),
        json!({"hub": hub("aws-us", "staging")}),
        clusters(&[("aws-us", &url)]),
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    let attempts = progress.iter().find_map(|p| match p {
        Progress::StepFinished { id, attempts, .. } if id == "hub_deploy" => Some(*attempts),
        _ => None,
    });
    assert_eq!(attempts, Some(4));
    assert!(r.output.contains("`hub`: 1/1 ready"), "{}", r.output);
}

#[tokio::test]
async fn fan_out_with_one_cluster_failing_forever_reports_partial() {
    let (_w1, url1) = start(vec![deployment("staging", "hub", "hub")]).await;
    let (w2, url2) = start(vec![deployment("prod", "hub", "hub")]).await;
    w2.lock().unwrap().faults.push(("/".into(), 503, u32::MAX));
    let (r, progress) = run(
        &shipped("fleet-status"),
        json!({"hubs": [hub("aws-us", "staging"), hub("gcp-eu", "prod")]}),
        clusters(&[("aws-us", &url1), ("gcp-eu", &url2)]),
        Mode::Real,
    )
    .await;
    assert!(
        matches!(r.outcome, Outcome::Partial(_)),
        "{:?}\n{}",
        r.outcome,
        r.output
    );
    assert!(
        r.output.contains("- staging (aws-us/staging): hub 1/1 ok"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("- prod (gcp-eu/prod): ⚠ unreachable:"),
        "{}",
        r.output
    );
    assert!(r.output.contains("ServiceUnavailable"), "{}", r.output);
    assert!(progress.iter().any(|p| matches!(p, Progress::StepFinished { id, outcome: StepOutcome::Partial { ok: 1, failed: 1 }, .. } if id == "hubs")));
}

#[tokio::test]
async fn api_errors_become_human_text_naming_step_and_target() {
    let (_w, url) = start(vec![]).await;
    let (r, _) = run(
        r#"name: t
steps:
  - id: get
    kube.get: { cluster: aws-us, namespace: staging, kind: Deployment, name: hub }
"#,
        json!({}),
        clusters(&[("aws-us", &url)]),
        Mode::Real,
    )
    .await;
    assert_eq!(
        r.output,
        "step get (kube.get apps/v1 deployments staging/hub @aws-us): NotFound: deployments \"hub\" not found"
    );
}

#[tokio::test]
async fn an_unknown_cluster_lists_the_known_ones() {
    let (_w, url) = start(vec![]).await;
    let (r, _) = run(
        &shipped("users"),
        json!({"hub": hub("nowhere", "staging")}),
        clusters(&[("aws-us", &url)]),
        Mode::Real,
    )
    .await;
    assert!(
        r.output
            .contains("unknown cluster 'nowhere' (known: aws-us)"),
        "{}",
        r.output
    );
}

fn pod(ns: &str, name: &str, user: &str, phase: &str, container_status: Value) -> (String, Value) {
    (
        format!("/api/v1/namespaces/{ns}/pods/{name}"),
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2024-01-01T00:00:00Z",
                "labels": {"component": "singleuser-server", "hub.jupyter.org/username": user}},
            "spec": {"nodeName": if phase == "Pending" { Value::Null } else { json!("user-node-1") },
                "containers": [{"name": "notebook"}]},
            "status": {"phase": phase, "containerStatuses": [container_status]}}),
    )
}

fn event(ns: &str, name: &str, object: &str, reason: &str, message: &str) -> (String, Value) {
    let now = chrono::Utc::now().to_rfc3339();
    (
        format!("/api/v1/namespaces/{ns}/events/{name}"),
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": object, "namespace": ns},
            "reason": reason, "message": message, "type": "Warning", "count": 3, "lastTimestamp": now}),
    )
}

fn fleet_namespace() -> Vec<(String, Value)> {
    vec![
        deployment("staging", "hub", "hub"),
        pod(
            "staging",
            "jupyter-alice",
            "alice",
            "Running",
            json!({"name": "notebook", "ready": true, "restartCount": 0, "state": {"running": {}}}),
        ),
        pod(
            "staging",
            "jupyter-bob",
            "bob",
            "Pending",
            json!({"name": "notebook", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}),
        ),
        pod(
            "staging",
            "jupyter-frank",
            "frank",
            "Running",
            json!({"name": "notebook", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 127}}}),
        ),
        event(
            "staging",
            "e1",
            "jupyter-bob",
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient memory.",
        ),
        event(
            "staging",
            "e2",
            "jupyter-frank",
            "BackOff",
            "Back-off restarting failed container notebook",
        ),
    ]
}

async fn fleet_world() -> (Shared, ClusterSet) {
    let (world, url) = start(fleet_namespace()).await;
    {
        let mut w = world.lock().unwrap();
        w.logs.insert(
            "/api/v1/namespaces/staging/pods/jupyter-frank?previous".into(),
            "/bin/sh: 1: exec: jupyterhub-singleuser: not found\n".into(),
        );
        w.logs.insert(
            "/api/v1/namespaces/staging/pods/jupyter-frank".into(),
            "starting\n".into(),
        );
        w.logs.insert(
            "/api/v1/namespaces/staging/pods/jupyter-alice".into(),
            "[I] Jupyter Server is running\n".into(),
        );
    }
    (world, clusters(&[("aws-us", &url)]))
}

fn user(name: &str) -> Value {
    json!({"name": name, "escaped": name, "pod": format!("jupyter-{name}")})
}

#[tokio::test]
async fn users_lists_running_servers_with_node_and_counts_the_rest() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("users"),
        json!({"hub": hub("aws-us", "staging")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**2 running user servers on staging** (1 more not running)"),
        "{}",
        r.output
    );
    assert!(r.output.contains("- alice  age "), "{}", r.output);
    assert!(r.output.contains("node user-node-1"), "{}", r.output);
}

#[tokio::test]
async fn pending_shows_the_scheduler_reason() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("pending"),
        json!({"hub": hub("aws-us", "staging")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .contains("**1 pending user server on staging**, 1 reason:\n- **No node has enough free memory for the server** (1): bob"),
        "{}",
        r.output
    );
    assert!(r.output.contains("- bob (`jupyter-bob`"), "{}", r.output);
    assert!(r.output.contains("3 Insufficient memory."), "{}", r.output);
}

#[tokio::test]
async fn triage_recognises_a_missing_jupyterhub_singleuser_from_previous_logs() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("triage"),
        json!({"hub": hub("aws-us", "staging"), "user": user("frank")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**Triage of frank on staging: jupyterhub-singleuser cannot be started"),
        "{}",
        r.output
    );
    assert!(r.output.contains("restarts 4"), "{}", r.output);
    assert!(
        r.output.contains("last terminated Error (exit 127)"),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("(x3): Back-off restarting failed container"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn triage_of_a_pending_server_names_the_missing_capacity() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("triage"),
        json!({"hub": hub("aws-us", "staging"), "user": user("bob")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.starts_with(
            "**Triage of bob on staging: No node has enough free memory for the server**"
        ),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn user_status_shows_phase_container_state_and_last_log_lines() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("user-status"),
        json!({"hub": hub("aws-us", "staging"), "user": user("alice")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**alice** on staging: pod `jupyter-alice` is **Running** (ready 1/1"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("Jupyter Server is running"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn user_status_of_a_user_without_a_server_says_so() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("user-status"),
        json!({"hub": hub("aws-us", "staging"), "user": user("zoe")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.contains("**zoe** has no server on staging"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn user_stop_deletes_only_the_users_pod_with_a_grace_period() {
    let (world, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("user-stop"),
        json!({"hub": hub("aws-us", "staging"), "user": user("alice")}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.contains("Stopped the server of **alice**"),
        "{}",
        r.output
    );
    let w = world.lock().unwrap();
    let deletes: Vec<_> = w.requests.iter().filter(|r| r.0 == "DELETE").collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].1,
        "/api/v1/namespaces/staging/pods/jupyter-alice"
    );
    assert!(!w
        .objects
        .contains_key("/api/v1/namespaces/staging/pods/jupyter-alice"));
    assert!(w
        .objects
        .contains_key("/api/v1/namespaces/staging/pods/jupyter-bob"));
}

#[tokio::test]
async fn events_lists_warnings_newest_first() {
    let (_w, set) = fleet_world().await;
    let (r, _) = run(
        &shipped("events"),
        json!({"hub": hub("aws-us", "staging"), "warnings": true}),
        set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**2 warning events in staging since 1h**"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("Pod/jupyter-bob FailedScheduling"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn impersonation_sends_the_impersonate_user_header() {
    let (world, set) = fleet_world().await;
    let pbs = Playbooks::from_str("u.yaml", &shipped("users")).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: set,
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: Some("alice@example.org".into()),
    };
    let r = execute(
        pbs.get("users").unwrap(),
        json!({"hub": hub("aws-us", "staging")}),
        ctx,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    let w = world.lock().unwrap();
    assert_eq!(
        w.impersonated.last().cloned().flatten().as_deref(),
        Some("alice@example.org"),
        "{:?} {:?}",
        w.impersonated,
        w.requests
    );
}

fn node(name: &str, pool: &str, ready: bool, unschedulable: bool) -> (String, Value) {
    (
        format!("/api/v1/nodes/{name}"),
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"cloud.google.com/gke-nodepool": pool, "hub.jupyter.org/node-purpose": "user"}},
            "spec": {"unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": "4", "memory": "16Gi"},
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "Unknown" }}]}}),
    )
}

#[tokio::test]
async fn nodes_shows_pool_readiness_cordons_and_capacity_and_filters_by_pool() {
    let (_w, url) = start(vec![
        node("core-1", "core-pool", true, false),
        node("user-1", "user-pool", true, true),
        node("user-2", "user-pool", false, false),
    ])
    .await;
    let set = clusters(&[("gcp-eu", &url)]);
    let (r, _) = run(
        &shipped("nodes"),
        json!({"cluster": {"name": "gcp-eu"}}),
        set.clone(),
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.starts_with("**3 nodes on gcp-eu**"),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("- user-1  pool user-pool  user  Ready  cordoned  cpu 4  memory 16Gi"),
        "{}",
        r.output
    );
    assert!(
        r.output
            .contains("- user-2  pool user-pool  user  ⚠ NotReady"),
        "{}",
        r.output
    );
    let (r, _) = run(
        &shipped("nodes"),
        json!({"cluster": {"name": "gcp-eu"}, "pool": "core-pool"}),
        set,
        Mode::Real,
    )
    .await;
    assert!(
        r.output
            .starts_with("**1 nodes on gcp-eu in pool core-pool**"),
        "{}",
        r.output
    );
    assert!(!r.output.contains("user-1"), "{}", r.output);
}

#[tokio::test]
async fn logs_finds_the_component_pod_by_label_and_passes_tail_and_previous() {
    let mut objects = fleet_namespace();
    let (path, mut hub_pod) = pod(
        "staging",
        "hub-7d9f-abcde",
        "",
        "Running",
        json!({"name": "hub", "ready": true, "restartCount": 1, "state": {"running": {}}}),
    );
    hub_pod["metadata"]["labels"] = json!({"component": "hub", "app": "jupyterhub"});
    objects.push((path.clone(), hub_pod));
    let (world, url) = start(objects).await;
    world.lock().unwrap().logs.insert(
        format!("{path}?previous"),
        "[E] hub crashed: database is locked\n".into(),
    );
    let (r, _) = run(
        &shipped("logs"),
        json!({"hub": hub("aws-us", "staging"), "component": "hub", "tail": 20, "previous": true}),
        clusters(&[("aws-us", &url)]),
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**hub** logs from `hub-7d9f-abcde` (previous container), last 1 lines:"),
        "{}",
        r.output
    );
    assert!(r.output.contains("database is locked"), "{}", r.output);
    let w = world.lock().unwrap();
    let log = w.requests.iter().find(|r| r.1.ends_with("/log")).unwrap();
    assert!(
        log.2.contains("tailLines=20") && log.2.contains("previous=true"),
        "{log:?}"
    );
}
