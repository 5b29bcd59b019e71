//! The demo fleet (`examples/fleet`) in the simulator with opsbot's shipped
//! playbooks, for tests that run playbooks directly (no chat, no audit log):
//! one harness instead of one per test file.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use opsbot::cluster::ClusterSet;
use opsbot::jupyterhub::api::HubApi;
use opsbot::playbook::{execute, ExecContext, Mode, Playbooks, RunResult};
use opsbot_sim::{Fleet, Seed};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The demo fleet with every cluster reachable as its admin and every hub's
/// REST API registered under the hub's (namespace) name.
pub async fn start() -> (Fleet, ClusterSet, Playbooks) {
    start_with_user(None).await
}

/// [`start`] with `extra` as one more simulator user (its rules, its name
/// for impersonation) on every cluster.
pub async fn start_with_user(extra: Option<Value>) -> (Fleet, ClusterSet, Playbooks) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seed = Seed::from_dir(&root.join("examples/fleet")).unwrap();
    if let Some(user) = extra {
        let user: opsbot_sim::auth::UserSpec = serde_json::from_value(user).unwrap();
        for c in &mut seed.clusters {
            c.settings.users.push(user.clone());
        }
    }
    let fleet = Fleet::start(seed, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let mut set = cluster_set(&fleet).await;
    for e in fleet.hub_endpoints() {
        set.insert_hub_api(
            &e.namespace,
            HubApi::new(&e.url, e.token.clone().into()).unwrap(),
        );
    }
    let pbs = Playbooks::load_dir(&root.join("playbooks")).unwrap();
    (fleet, set, pbs)
}

/// Every cluster of `fleet` as its admin, with clients built from the
/// simulator's kubeconfig (so impersonation works and the executor, not
/// kube, owns retries).
pub async fn cluster_set(fleet: &Fleet) -> ClusterSet {
    let kc = fleet.kubeconfig();
    let mut set = ClusterSet::new();
    for name in fleet.cluster_names() {
        let opts = kube::config::KubeConfigOptions {
            context: Some(name.clone()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc.clone(), &opts)
            .await
            .unwrap();
        set.insert_config(&name, config).unwrap();
    }
    set
}

/// Run a shipped playbook to its end (bounded: a hang fails the test) and
/// print its answer for the test log.
pub async fn run_as(
    pbs: &Playbooks,
    set: &ClusterSet,
    name: &str,
    params: Value,
    mode: Mode,
    impersonate: Option<&str>,
) -> RunResult {
    let (r, _) = execute_playbook(pbs.get(name).unwrap(), params, set, mode, impersonate).await;
    println!("== {name}\n{}\n", r.output);
    r
}

/// [`run_as`] for real, as the admin.
pub async fn run(pbs: &Playbooks, set: &ClusterSet, name: &str, params: Value) -> RunResult {
    run_as(pbs, set, name, params, Mode::Real, None).await
}

/// [`run_as`] in dry run, as the admin.
pub async fn dry(pbs: &Playbooks, set: &ClusterSet, name: &str, params: Value) -> RunResult {
    run_as(pbs, set, name, params, Mode::DryRun, None).await
}

/// A hub named after its namespace, as a playbook's `hub` parameter.
pub fn hub(name: &str, cluster: &str) -> Value {
    json!({"name": name, "cluster": cluster, "namespace": name})
}

/// The staging hub on aws-us.
pub fn staging() -> Value {
    hub("staging", "aws-us")
}

/// A user parameter, escaped the way KubeSpawner does.
pub fn user(raw: &str) -> Value {
    opsbot::jupyterhub::username::Username::new(raw)
        .unwrap()
        .to_json()
}

/// Every fact must appear in the answer; the failure shows the whole answer.
pub fn contains_all(out: &str, facts: &[&str]) {
    for f in facts {
        assert!(out.contains(f), "missing {f:?} in:\n{out}");
    }
}

/// The text of a shipped playbook, `playbooks/NAME.yaml`.
pub fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/playbooks/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Run `playbook` to its end (bounded: a hang fails the test), returning its
/// result and every progress event it sent: the one way these tests execute.
pub async fn execute_playbook(
    playbook: &opsbot::playbook::Playbook,
    params: Value,
    set: &ClusterSet,
    mode: Mode,
    impersonate: Option<&str>,
) -> (RunResult, Vec<opsbot::playbook::Progress>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: set.clone(),
        mode,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: impersonate.map(str::to_string),
        guard: None,
    };
    let result = tokio::time::timeout(Duration::from_secs(60), execute(playbook, params, ctx))
        .await
        .expect("the run finishes");
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (result, progress)
}

/// Load the one playbook in `text` and [`execute_playbook`] it as the admin.
pub async fn execute_text(
    text: &str,
    params: Value,
    set: &ClusterSet,
    mode: Mode,
) -> (RunResult, Vec<opsbot::playbook::Progress>) {
    let pbs = Playbooks::from_str("t.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let pb = pbs.iter().next().unwrap().clone();
    execute_playbook(&pb, params, set, mode, None).await
}
