//! The shipped playbooks against the real simulator (`opsbot_sim`) with the
//! real kube client: facts of a seeded namespace in the answers, a rollout
//! restart that really restarts, dry-run that changes nothing (the simulator
//! saw `dryRun=All`), a cluster failing with 503 forever in a fan-out, a 429
//! storm, a step timeout and cancellation.

use std::net::SocketAddr;
use std::time::Duration;

use opsbot::cluster::ClusterSet;
use opsbot::playbook::{execute, ExecContext, Mode, Outcome, Playbooks, Progress, RunResult};
use opsbot_sim::{FaultRule, Fleet, Seed};
use serde_json::{json, Value};

use crate::support::fleet::shipped;
use tokio_util::sync::CancellationToken;

const STAGING: &str = r#"
apiVersion: v1
kind: Namespace
metadata: { name: staging }
---
apiVersion: v1
kind: Node
metadata:
  name: user-node-1
  labels: { hub.jupyter.org/node-purpose: user, cloud.google.com/gke-nodepool: user-pool }
status:
  allocatable: { cpu: "4", memory: 16Gi }
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: hub, namespace: staging, labels: { app: jupyterhub, component: hub } }
spec:
  replicas: 1
  strategy: { type: Recreate }
  selector: { matchLabels: { app: jupyterhub, component: hub } }
  template:
    metadata: { labels: { app: jupyterhub, component: hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: proxy, namespace: staging, labels: { app: jupyterhub, component: proxy } }
spec:
  replicas: 1
  selector: { matchLabels: { app: jupyterhub, component: proxy } }
  template:
    metadata: { labels: { app: jupyterhub, component: proxy } }
    spec: { containers: [{ name: chp, image: "quay.io/jupyterhub/configurable-http-proxy:4.6.2" }] }
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-alice
  namespace: staging
  creationTimestamp: -3h
  labels: { app: jupyterhub, component: singleuser-server, hub.jupyter.org/username: alice }
spec: { nodeName: user-node-1, containers: [{ name: notebook, image: "jupyter/scipy-notebook" }] }
status:
  phase: Running
  containerStatuses: [{ name: notebook, ready: true, restartCount: 0, state: { running: { startedAt: -3h } } }]
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-bob
  namespace: staging
  creationTimestamp: -10m
  labels: { app: jupyterhub, component: singleuser-server, hub.jupyter.org/username: bob }
spec: { containers: [{ name: notebook, image: "jupyter/scipy-notebook" }] }
status: { phase: Pending }
---
apiVersion: v1
kind: Event
metadata: { name: jupyter-bob.1, namespace: staging }
involvedObject: { kind: Pod, name: jupyter-bob, namespace: staging }
reason: FailedScheduling
message: "0/3 nodes are available: 3 Insufficient memory."
type: Warning
count: 4
lastTimestamp: -1m
source: { component: default-scheduler }
"#;

const STAGING_SIM: &str = r#"
users:
  - name: admin
    token: opsbot-sim-admin
    groups: [system:masters]
    rules: [{ verbs: ["*"], resources: ["*"], namespaces: ["*"] }]
    impersonate: true
  - name: support@example.org
    rules: [{ verbs: [get, list, watch], resources: ["*"], namespaces: ["*"] }]
logs:
  - namespace: staging
    pod: jupyter-alice
    container: notebook
    text: |
      [I 2024-05-01 10:00:00.000 ServerApp] Jupyter Server 2.14 is running at http://jupyter-alice:8888/user/alice/
  - namespace: staging
    pod: jupyter-frank
    container: notebook
    text: |
      starting
    previous: |
      /bin/sh: 1: exec: jupyterhub-singleuser: not found
"#;

const FRANK: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-frank
  namespace: staging
  creationTimestamp: -20m
  labels: { app: jupyterhub, component: singleuser-server, hub.jupyter.org/username: frank }
spec: { nodeName: user-node-1, containers: [{ name: notebook, image: "jupyter/scipy-notebook" }] }
status:
  phase: Running
  containerStatuses:
    - name: notebook
      ready: false
      restartCount: 5
      state: { waiting: { reason: CrashLoopBackOff } }
      lastState: { terminated: { reason: Error, exitCode: 127, finishedAt: -1m } }
"#;

const PROD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: { name: prod }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: hub, namespace: prod, labels: { app: jupyterhub, component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { component: hub } }
  template:
    metadata: { labels: { app: jupyterhub, component: hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
"#;

/// Clients built from the simulator's kubeconfig (so impersonation works and
/// the executor, not kube, owns retries).
async fn clusters(fleet: &Fleet) -> ClusterSet {
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

async fn start() -> (Fleet, ClusterSet) {
    let seed = Seed::from_files(
        vec![
            ("aws-us".into(), "staging.yaml".into(), STAGING.into()),
            ("aws-us".into(), "users.yaml".into(), FRANK.into()),
            ("aws-us".into(), "sim.yaml".into(), STAGING_SIM.into()),
            ("gcp-eu".into(), "prod.yaml".into(), PROD.into()),
        ],
        vec!["aws-us".into(), "gcp-eu".into()],
    )
    .unwrap();
    let fleet = Fleet::start(seed, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    fleet
        .cluster("aws-us")
        .unwrap()
        .set_rollout_delay(Duration::from_millis(200));
    let set = clusters(&fleet).await;
    (fleet, set)
}

fn staging() -> Value {
    json!({"name": "staging", "cluster": "aws-us", "namespace": "staging"})
}

fn prod() -> Value {
    json!({"name": "prod", "cluster": "gcp-eu", "namespace": "prod"})
}

struct Ran {
    result: RunResult,
    progress: Vec<Progress>,
}

async fn run_text(text: &str, params: Value, set: &ClusterSet, mode: Mode) -> Ran {
    let (result, progress) = crate::support::fleet::execute_text(text, params, set, mode).await;
    Ran { result, progress }
}

async fn run(name: &str, params: Value, set: &ClusterSet) -> Ran {
    run_text(&shipped(name), params, set, Mode::Real).await
}

fn attempts(progress: &[Progress], step: &str) -> u32 {
    progress
        .iter()
        .find_map(|p| match p {
            Progress::StepFinished { id, attempts, .. } if id == step => Some(*attempts),
            _ => None,
        })
        .unwrap()
}

async fn wait_for_hub_pods_ready(set: &ClusterSet) {
    // The controller creates the hub pod right after start: wait on it.
    let text = shipped("hub-status");
    for _ in 0..100 {
        let r = run_text(&text, json!({"hub": staging()}), set, Mode::Real).await;
        if r.result.output.contains("`hub`: 1/1 ready") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hub never became ready");
}

#[tokio::test]
async fn hub_status_answers_with_the_seeded_facts() {
    let (_fleet, set) = start().await;
    wait_for_hub_pods_ready(&set).await;
    let r = run("hub-status", json!({"hub": staging()}), &set).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    let out = &r.result.output;
    assert!(
        out.starts_with("**Hub staging** (staging @ aws-us)"),
        "{out}"
    );
    assert!(out.contains("- hub `hub`: 1/1 ready"), "{out}");
    assert!(out.contains("- proxy `proxy`: 1/1 ready"), "{out}");
    assert!(out.contains("User servers: 3"), "{out}");
    assert!(
        out.contains("Pending: 1") && out.contains("Running: 2"),
        "{out}"
    );
    assert!(
        out.contains(
            "Pod/jupyter-bob FailedScheduling: 0/3 nodes are available: 3 Insufficient memory."
        ),
        "{out}"
    );
}

#[tokio::test]
async fn users_pending_nodes_and_triage_answer_with_the_seeded_facts() {
    let (_fleet, set) = start().await;
    let r = run("users", json!({"hub": staging()}), &set).await;
    assert!(
        r.result
            .output
            .starts_with("**2 running user servers on staging** (1 more not running)"),
        "{}",
        r.result.output
    );
    assert!(
        r.result
            .output
            .contains("- alice  age 3h  node user-node-1"),
        "{}",
        r.result.output
    );
    let r = run("pending", json!({"hub": staging()}), &set).await;
    assert!(
        r.result.output.contains(
            "- bob (`jupyter-bob`, 10m, Pending): 0/3 nodes are available: 3 Insufficient memory."
        ),
        "{}",
        r.result.output
    );
    let r = run("nodes", json!({"cluster": {"name": "aws-us"}}), &set).await;
    assert!(
        r.result
            .output
            .contains("- user-node-1  pool user-pool  user  Ready"),
        "{}",
        r.result.output
    );
    let user = opsbot::jupyterhub::username::Username::new("bob")
        .unwrap()
        .to_json();
    let r = run("triage", json!({"hub": staging(), "user": user}), &set).await;
    assert!(
        r.result
            .output
            .contains("No node has enough free memory for the server"),
        "{}",
        r.result.output
    );
}

#[tokio::test]
async fn hub_restart_really_restarts_with_exactly_one_patch() {
    let (fleet, set) = start().await;
    wait_for_hub_pods_ready(&set).await;
    let sim = fleet.cluster("aws-us").unwrap();
    let pods_before = run_text(
        "name: p\nsteps:\n  - id: p\n    kube.list: { cluster: aws-us, namespace: staging, kind: Pod, labels: component=hub }\nresult: \"{{ steps.p.items | map(attribute='name') | join(',') }}\"\n",
        json!({}), &set, Mode::Real).await.result.output;
    sim.clear_requests();
    let r = run(
        "hub-restart",
        json!({"hub": staging(), "reason": "config change"}),
        &set,
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert!(
        r.result
            .output
            .starts_with("Hub **staging** restarted: 1/1 ready in"),
        "{}",
        r.result.output
    );
    let writes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.resource.is_some() && !["get", "list", "watch"].contains(&q.verb.as_str()))
        .collect();
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert_eq!(
        (
            writes[0].verb.as_str(),
            writes[0].resource.as_deref(),
            writes[0].name.as_deref()
        ),
        ("patch", Some("deployments"), Some("hub"))
    );
    let body = writes[0].body.clone().unwrap_or_default();
    assert!(
        body.pointer("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt")
            .is_some(),
        "{body}"
    );
    let pods_after = run_text(
        "name: p\nsteps:\n  - id: p\n    kube.list: { cluster: aws-us, namespace: staging, kind: Pod, labels: component=hub }\nresult: \"{{ steps.p.items | map(attribute='name') | join(',') }}\"\n",
        json!({}), &set, Mode::Real).await.result.output;
    assert_ne!(pods_before, pods_after, "the hub pod was replaced");
}

#[tokio::test]
async fn dry_run_changes_nothing_and_the_simulator_saw_dry_run_all() {
    let (fleet, set) = start().await;
    let sim = fleet.cluster("aws-us").unwrap();
    let r = run_text(
        &shipped("hub-restart"),
        json!({"hub": staging(), "reason": "x"}),
        &set,
        Mode::DryRun,
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert!(
        r.result
            .output
            .starts_with("Dry run: would restart Deployment `hub`"),
        "{}",
        r.result.output
    );
    let patch = sim
        .requests()
        .into_iter()
        .find(|q| q.verb == "patch")
        .expect("a patch was sent");
    assert!(patch.query.contains("dryRun=All"), "{patch:?}");
    let get = run_text(
        "name: g\nsteps:\n  - id: g\n    kube.get: { cluster: aws-us, namespace: staging, kind: Deployment, name: hub }\nresult: \"{{ steps.g.raw.spec.template.metadata.annotations is defined }}\"\n",
        json!({}), &set, Mode::Real).await;
    assert_eq!(
        get.result.output, "False",
        "no restart annotation after a dry run"
    );
}

#[tokio::test]
async fn fan_out_with_one_cluster_failing_forever_is_partial() {
    let (fleet, set) = start().await;
    fleet.cluster("gcp-eu").unwrap().add_fault(FaultRule {
        status: Some(503),
        ..Default::default()
    });
    let r = run("fleet-status", json!({"hubs": [staging(), prod()]}), &set).await;
    assert!(
        matches!(r.result.outcome, Outcome::Partial(_)),
        "{:?}\n{}",
        r.result.outcome,
        r.result.output
    );
    assert!(
        r.result.output.contains("- staging (aws-us/staging): hub "),
        "{}",
        r.result.output
    );
    assert!(
        r.result
            .output
            .contains("- prod (gcp-eu/prod): ⚠ unreachable:"),
        "{}",
        r.result.output
    );
}

#[tokio::test]
async fn a_429_storm_is_retried_honouring_retry_after_then_succeeds() {
    let (fleet, set) = start().await;
    fleet.cluster("aws-us").unwrap().add_fault(FaultRule {
        resources: vec!["pods".into()],
        status: Some(429),
        retry_after: Some(1),
        times: Some(2),
        ..Default::default()
    });
    let r = run("users", json!({"hub": staging()}), &set).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert_eq!(attempts(&r.progress, "pods"), 3);
}

#[tokio::test]
async fn a_slow_api_hits_the_step_timeout() {
    let (fleet, set) = start().await;
    fleet.cluster("aws-us").unwrap().add_fault(FaultRule {
        resources: vec!["deployments".into()],
        latency: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    let r = run_text(
        "name: t\nsteps:\n  - id: find\n    timeout: 300ms\n    kube.list: { cluster: aws-us, namespace: staging, kind: Deployment }\n",
        json!({}), &set, Mode::Real).await;
    assert_eq!(
        r.result.output,
        "step find (kube.list apps/v1 deployments staging @aws-us): timed out after 300ms"
    );
}

#[tokio::test]
async fn cancellation_stops_a_run_waiting_on_a_slow_api() {
    let (fleet, set) = start().await;
    fleet.cluster("aws-us").unwrap().add_fault(FaultRule {
        resources: vec!["deployments".into()],
        latency: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    let pbs = Playbooks::from_str("h.yaml", &shipped("hub-restart")).unwrap();
    let pb = pbs.get("hub-restart").unwrap().clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let ctx = ExecContext {
        clusters: set.clone(),
        mode: Mode::Real,
        cancel: cancel.clone(),
        progress: tx,
        impersonate: None,
        guard: None,
    };
    let task =
        tokio::spawn(
            async move { execute(&pb, json!({"hub": staging(), "reason": "x"}), ctx).await },
        );
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, Progress::StepStarted { ref id, .. } if id == "find"));
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.outcome, Outcome::Cancelled);
    let patched = fleet
        .cluster("aws-us")
        .unwrap()
        .requests()
        .iter()
        .any(|q| q.verb == "patch");
    assert!(!patched, "nothing after the cancelled step ran");
}

#[tokio::test]
async fn user_stop_deletes_the_users_pod_and_nothing_else() {
    let (fleet, set) = start().await;
    let sim = fleet.cluster("aws-us").unwrap();
    let user = opsbot::jupyterhub::username::Username::new("alice")
        .unwrap()
        .to_json();
    let r = run("user-stop", json!({"hub": staging(), "user": user}), &set).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    let deletes: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|q| q.verb == "delete")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(deletes[0].name.as_deref(), Some("jupyter-alice"));
    assert_eq!(deletes[0].resource.as_deref(), Some("pods"));
}

#[tokio::test]
async fn user_status_and_triage_read_logs_and_recognise_a_broken_environment() {
    let (_fleet, set) = start().await;
    let alice = opsbot::jupyterhub::username::Username::new("alice")
        .unwrap()
        .to_json();
    let r = run(
        "user-status",
        json!({"hub": staging(), "user": alice}),
        &set,
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert!(r.result.output.starts_with("**alice** on staging: pod `jupyter-alice` is **Running** (ready 1/1, restarts 0, age 3h, node user-node-1)"), "{}", r.result.output);
    assert!(
        r.result.output.contains("Jupyter Server 2.14 is running"),
        "{}",
        r.result.output
    );
    let frank = opsbot::jupyterhub::username::Username::new("frank")
        .unwrap()
        .to_json();
    let r = run("triage", json!({"hub": staging(), "user": frank}), &set).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    let out = &r.result.output;
    assert!(
        out.starts_with(
            "**Triage of frank on staging: jupyterhub-singleuser cannot be started from the user's environment**"
        ),
        "{out}"
    );
    assert!(
        out.contains("container notebook: waiting CrashLoopBackOff"),
        "{out}"
    );
    assert!(
        out.contains("/bin/sh: 1: exec: jupyterhub-singleuser: not found"),
        "{out}"
    );
}

#[tokio::test]
async fn impersonated_runs_get_the_clusters_forbidden_message_naming_the_step() {
    let (fleet, set) = start().await;
    let pbs = Playbooks::from_str("h.yaml", &shipped("hub-restart")).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: set.clone(),
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: Some("support@example.org".into()),
        guard: None,
    };
    let r = execute(
        pbs.get("hub-restart").unwrap(),
        json!({"hub": staging(), "reason": "x"}),
        ctx,
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{:?}", r.outcome);
    assert_eq!(
        r.output,
        "step restart (kube.rollout_restart apps/v1 deployments staging/hub @aws-us): Forbidden: deployments.apps \"hub\" is forbidden: User \"support@example.org\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"staging\""
    );
    let sim = fleet.cluster("aws-us").unwrap();
    assert!(sim
        .requests()
        .iter()
        .filter(|q| q.resource.is_some())
        .all(|q| q.impersonated.as_deref() == Some("support@example.org")));
}

#[tokio::test]
async fn scale_cordon_and_uncordon_change_the_objects() {
    let (fleet, set) = start().await;
    let text = r#"name: ops
mutates: true
steps:
  - id: scale
    kube.scale: { cluster: aws-us, namespace: staging, kind: Deployment, name: proxy, replicas: 2 }
  - id: cordon
    kube.cordon: { cluster: aws-us, name: user-node-1 }
  - id: node
    kube.get: { cluster: aws-us, kind: Node, name: user-node-1 }
  - id: uncordon
    kube.uncordon: { cluster: aws-us, name: user-node-1 }
  - id: after
    kube.get: { cluster: aws-us, kind: Node, name: user-node-1 }
  - id: proxy
    kube.get: { cluster: aws-us, namespace: staging, kind: Deployment, name: proxy }
result: "{{ steps.scale.change }}; cordoned={{ steps.node.unschedulable }} then {{ steps.after.unschedulable }}; desired={{ steps.proxy.desired }}"
"#;
    let r = run_text(text, json!({}), &set, Mode::Real).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert_eq!(
        r.result.output,
        "spec.replicas 1 → 2; cordoned=True then False; desired=2"
    );
    let sim = fleet.cluster("aws-us").unwrap();
    let scale = sim
        .requests()
        .into_iter()
        .find(|q| q.verb == "patch" && q.subresource.as_deref() == Some("scale"));
    assert!(scale.is_some(), "the scale subresource was patched");
}

#[tokio::test]
async fn a_request_that_never_answers_is_retried_after_the_read_timeout() {
    let (fleet, _) = start().await;
    let kc = fleet.kubeconfig();
    let opts = kube::config::KubeConfigOptions {
        context: Some("aws-us".into()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .unwrap();
    config.read_timeout = Some(Duration::from_millis(300));
    let mut set = ClusterSet::new();
    set.insert_config("aws-us", config).unwrap();
    fleet.cluster("aws-us").unwrap().add_fault(FaultRule {
        resources: vec!["pods".into()],
        timeout: true,
        times: Some(1),
        ..Default::default()
    });
    let r = run("users", json!({"hub": staging()}), &set).await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert_eq!(attempts(&r.progress, "pods"), 2);
}
