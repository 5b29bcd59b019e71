//! The `kube.*` steps of the shipped playbooks through the real kube client
//! against the simulator (`opsbot_sim`), each test on its own small seed:
//! request shapes, dry-run, retries on 429, partial fan-out on 503, the human
//! error text for API errors, logs with `tail`/`previous`, nodes and
//! impersonation. The simulator records every request it answers, so the
//! tests assert on what was really sent.

use std::net::SocketAddr;

use opsbot::cluster::ClusterSet;
use opsbot::playbook::{
    execute, ExecContext, Mode, Outcome, Playbooks, Progress, RunResult, StepOutcome,
};
use opsbot_sim::{FaultRule, Fleet, RecordedRequest, Seed, SimCluster};
use serde_json::{json, Value};

use crate::support::fleet::{self, shipped};
use tokio_util::sync::CancellationToken;

use crate::support::fleet::cluster_set;

/// A hub namespace with a node to schedule on, the hub Deployment found by
/// its `component=hub` label, and a proxy that must not be touched. The hub
/// Deployment is `prod-hub`; see [`hub_namespace`] for another name.
const HUB_NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: { name: staging }
---
apiVersion: v1
kind: Node
metadata: { name: core-node-1 }
status: { conditions: [{ type: Ready, status: "True" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: prod-hub, namespace: staging, labels: { component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { app: jupyterhub, name: prod-hub } }
  template:
    metadata: { labels: { app: jupyterhub, name: prod-hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: proxy, namespace: staging, labels: { component: proxy } }
spec:
  replicas: 1
  selector: { matchLabels: { app: jupyterhub, name: proxy } }
  template:
    metadata: { labels: { app: jupyterhub, name: proxy } }
    spec: { containers: [{ name: chp, image: "quay.io/jupyterhub/configurable-http-proxy:4.6.2" }] }
"#;

/// [`HUB_NAMESPACE`] with the hub Deployment named `name`.
fn hub_namespace(name: &str) -> String {
    HUB_NAMESPACE.replace("prod-hub", name)
}

/// A second hub, in `prod` (for the fan-out).
const PROD_NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata: { name: prod }
---
apiVersion: v1
kind: Node
metadata: { name: core-node-1 }
status: { conditions: [{ type: Ready, status: "True" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: hub, namespace: prod, labels: { component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { name: hub } }
  template:
    metadata: { labels: { name: hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
"#;

/// A hub namespace with user servers in three states (running, pending for
/// lack of memory, crash-looping on a missing `jupyterhub-singleuser`) and
/// the warnings the scheduler and kubelet left about them. The hub
/// Deployment's pods carry no `component` label, so `logs` finds only the
/// pods a test adds.
const USERS_NAMESPACE: &str = r#"
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
metadata: { name: hub, namespace: staging, labels: { component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { name: hub } }
  template:
    metadata: { labels: { name: hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-alice
  namespace: staging
  creationTimestamp: -3h
  labels: { component: singleuser-server, hub.jupyter.org/username: alice }
spec: { nodeName: user-node-1, containers: [{ name: notebook }] }
status:
  phase: Running
  containerStatuses: [{ name: notebook, ready: true, restartCount: 0, state: { running: {} } }]
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-bob
  namespace: staging
  creationTimestamp: -10m
  labels: { component: singleuser-server, hub.jupyter.org/username: bob }
spec: { containers: [{ name: notebook }] }
status:
  phase: Pending
  containerStatuses: [{ name: notebook, ready: false, restartCount: 0, state: { waiting: { reason: ContainerCreating } } }]
---
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-frank
  namespace: staging
  creationTimestamp: -20m
  labels: { component: singleuser-server, hub.jupyter.org/username: frank }
spec: { nodeName: user-node-1, containers: [{ name: notebook }] }
status:
  phase: Running
  containerStatuses:
    - name: notebook
      ready: false
      restartCount: 4
      state: { waiting: { reason: CrashLoopBackOff } }
      lastState: { terminated: { reason: Error, exitCode: 127 } }
---
apiVersion: v1
kind: Event
metadata: { name: e1, namespace: staging }
involvedObject: { kind: Pod, name: jupyter-bob, namespace: staging }
reason: FailedScheduling
message: "0/3 nodes are available: 3 Insufficient memory."
type: Warning
count: 3
lastTimestamp: -1m
---
apiVersion: v1
kind: Event
metadata: { name: e2, namespace: staging }
involvedObject: { kind: Pod, name: jupyter-frank, namespace: staging }
reason: BackOff
message: "Back-off restarting failed container notebook"
type: Warning
count: 3
lastTimestamp: -1m
"#;

/// The logs the kubelet would serve for [`USERS_NAMESPACE`], and a
/// read-only person to impersonate.
const USERS_SIM: &str = r#"
users:
  - name: alice@example.org
    rules: [{ verbs: [get, list, watch], resources: ["*"], namespaces: ["*"] }]
logs:
  - namespace: staging
    pod: jupyter-frank
    container: notebook
    text: "starting\n"
    previous: "/bin/sh: 1: exec: jupyterhub-singleuser: not found\n"
  - namespace: staging
    pod: jupyter-alice
    container: notebook
    text: "[I] Jupyter Server is running\n"
"#;

/// The hub's own pod, found by `component=hub`, which crashed once.
const HUB_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: hub-7d9f-abcde
  namespace: staging
  labels: { component: hub, app: jupyterhub }
spec: { nodeName: user-node-1, containers: [{ name: hub }] }
status:
  phase: Running
  containerStatuses: [{ name: hub, ready: true, restartCount: 1, state: { running: {} } }]
"#;

const HUB_POD_LOGS: &str = r#"
logs:
  - namespace: staging
    pod: hub-7d9f-abcde
    container: hub
    text: "[I] hub running\n"
    previous: "[E] hub crashed: database is locked\n"
"#;

/// A cluster with three nodes: a core one, a cordoned user one and a user
/// one whose kubelet stopped reporting.
const NODES: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: core-1
  labels: { cloud.google.com/gke-nodepool: core-pool, hub.jupyter.org/node-purpose: user }
spec: { unschedulable: false }
status:
  allocatable: { cpu: "4", memory: 16Gi }
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: v1
kind: Node
metadata:
  name: user-1
  labels: { cloud.google.com/gke-nodepool: user-pool, hub.jupyter.org/node-purpose: user }
spec: { unschedulable: true }
status:
  allocatable: { cpu: "4", memory: 16Gi }
  conditions: [{ type: Ready, status: "True" }]
---
apiVersion: v1
kind: Node
metadata:
  name: user-2
  labels: { cloud.google.com/gke-nodepool: user-pool, hub.jupyter.org/node-purpose: user }
spec: { unschedulable: false }
status:
  allocatable: { cpu: "4", memory: 16Gi }
  conditions: [{ type: Ready, status: "Unknown" }]
"#;

/// A fleet of `clusters`, each `(name, [(file, yaml)])`, reachable as the
/// simulator's admin.
async fn start(clusters: &[(&str, &[(&str, &str)])]) -> (Fleet, ClusterSet) {
    let files = clusters
        .iter()
        .flat_map(|(cluster, files)| {
            files
                .iter()
                .map(|(file, text)| (cluster.to_string(), file.to_string(), text.to_string()))
        })
        .collect();
    let names = clusters.iter().map(|(c, _)| c.to_string()).collect();
    let seed = Seed::from_files(files, names).unwrap();
    let fleet = Fleet::start(seed, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let set = cluster_set(&fleet).await;
    (fleet, set)
}

/// The users namespace on `aws-us`.
async fn users_world() -> (Fleet, ClusterSet) {
    start(&[(
        "aws-us",
        &[("staging.yaml", USERS_NAMESPACE), ("sim.yaml", USERS_SIM)],
    )])
    .await
}

async fn run(
    pb_text: &str,
    params: Value,
    set: &ClusterSet,
    mode: Mode,
) -> (RunResult, Vec<Progress>) {
    fleet::execute_text(pb_text, params, set, mode).await
}

fn hub(cluster: &str, ns: &str) -> Value {
    json!({"name": ns, "cluster": cluster, "namespace": ns})
}

fn user(name: &str) -> Value {
    opsbot::jupyterhub::username::Username::new(name)
        .unwrap()
        .to_json()
}

fn sim(fleet: &Fleet, cluster: &str) -> SimCluster {
    fleet.cluster(cluster).expect("the cluster is in the seed")
}

fn with_method<'a>(requests: &'a [RecordedRequest], method: &str) -> Vec<&'a RecordedRequest> {
    requests.iter().filter(|r| r.method == method).collect()
}

#[tokio::test]
async fn hub_restart_patches_the_restart_annotation_of_the_deployment_found_by_label() {
    let (fleet, set) = start(&[("aws-us", &[("staging.yaml", HUB_NAMESPACE)])]).await;
    let (r, progress) = run(
        &shipped("hub-restart"),
        json!({"hub": hub("aws-us", "staging"), "reason": "config change"}),
        &set,
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
    let aws = sim(&fleet, "aws-us");
    let requests = aws.requests();
    let patches = with_method(&requests, "PATCH");
    assert_eq!(patches.len(), 1, "{requests:#?}");
    assert_eq!(
        patches[0].path,
        "/apis/apps/v1/namespaces/staging/deployments/prod-hub"
    );
    assert!(!patches[0].query.contains("dryRun"));
    let obj = aws
        .store()
        .get("deployments", "staging", "prod-hub")
        .unwrap();
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
    let staging = hub_namespace("hub");
    let (fleet, set) = start(&[("aws-us", &[("staging.yaml", staging.as_str())])]).await;
    let aws = sim(&fleet, "aws-us");
    let before = aws.store().list("deployments", Some("staging")).0;
    let (r, progress) = run(
        &shipped("hub-restart"),
        json!({"hub": hub("aws-us", "staging"), "reason": "x"}),
        &set,
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
    let requests = aws.requests();
    let patch = with_method(&requests, "PATCH")
        .into_iter()
        .next()
        .expect("a patch was sent");
    assert!(patch.query.contains("dryRun=All"), "{patch:?}");
    assert_eq!(aws.store().list("deployments", Some("staging")).0, before);
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::StepFinished { id, dry_run: true, .. } if id == "restart")));
}

#[tokio::test]
async fn a_429_storm_is_retried_then_succeeds() {
    let staging = hub_namespace("hub");
    let (fleet, set) = start(&[("aws-us", &[("staging.yaml", staging.as_str())])]).await;
    sim(&fleet, "aws-us").add_fault(FaultRule {
        resources: vec!["deployments".into()],
        status: Some(429),
        retry_after: Some(0),
        times: Some(3),
        ..Default::default()
    });
    let (r, progress) = run(
        &shipped("hub-status").replace("component in (hub,proxy)", "component=hub"),
        json!({"hub": hub("aws-us", "staging")}),
        &set,
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
    let (fleet, set) = start(&[
        ("aws-us", &[("staging.yaml", HUB_NAMESPACE)]),
        ("gcp-eu", &[("prod.yaml", PROD_NAMESPACE)]),
    ])
    .await;
    sim(&fleet, "gcp-eu").add_fault(FaultRule {
        status: Some(503),
        ..Default::default()
    });
    let (r, progress) = run(
        &shipped("fleet-status"),
        json!({"hubs": [hub("aws-us", "staging"), hub("gcp-eu", "prod")]}),
        &set,
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
    let (_fleet, set) = start(&[("aws-us", &[])]).await;
    let (r, _) = run(
        r#"name: t
steps:
  - id: get
    kube.get: { cluster: aws-us, namespace: staging, kind: Deployment, name: hub }
"#,
        json!({}),
        &set,
        Mode::Real,
    )
    .await;
    // The apiserver names the resource with its group (`deployments.apps`).
    assert_eq!(
        r.output,
        "step get (kube.get apps/v1 deployments staging/hub @aws-us): NotFound: deployments.apps \"hub\" not found"
    );
}

#[tokio::test]
async fn an_unknown_cluster_lists_the_known_ones() {
    let (_fleet, set) = start(&[("aws-us", &[])]).await;
    let (r, _) = run(
        &shipped("users"),
        json!({"hub": hub("nowhere", "staging")}),
        &set,
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

#[tokio::test]
async fn users_lists_running_servers_with_node_and_counts_the_rest() {
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("users"),
        json!({"hub": hub("aws-us", "staging")}),
        &set,
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
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("pending"),
        json!({"hub": hub("aws-us", "staging")}),
        &set,
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
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("triage"),
        json!({"hub": hub("aws-us", "staging"), "user": user("frank")}),
        &set,
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
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("triage"),
        json!({"hub": hub("aws-us", "staging"), "user": user("bob")}),
        &set,
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
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("user-status"),
        json!({"hub": hub("aws-us", "staging"), "user": user("alice")}),
        &set,
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
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("user-status"),
        json!({"hub": hub("aws-us", "staging"), "user": user("zoe")}),
        &set,
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
    let (fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("user-stop"),
        json!({"hub": hub("aws-us", "staging"), "user": user("alice")}),
        &set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.contains("Stopped the server of **alice**"),
        "{}",
        r.output
    );
    let aws = sim(&fleet, "aws-us");
    let requests = aws.requests();
    let deletes = with_method(&requests, "DELETE");
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].path,
        "/api/v1/namespaces/staging/pods/jupyter-alice"
    );
    assert!(aws
        .store()
        .get("pods", "staging", "jupyter-alice")
        .is_none());
    assert!(aws.store().get("pods", "staging", "jupyter-bob").is_some());
}

#[tokio::test]
async fn events_lists_warnings_newest_first() {
    let (_fleet, set) = users_world().await;
    let (r, _) = run(
        &shipped("events"),
        json!({"hub": hub("aws-us", "staging"), "warnings": true}),
        &set,
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
    let (fleet, set) = users_world().await;
    let pbs = Playbooks::from_str("u.yaml", &shipped("users")).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: set,
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: Some("alice@example.org".into()),
        guard: None,
    };
    let r = execute(
        pbs.get("users").unwrap(),
        json!({"hub": hub("aws-us", "staging")}),
        ctx,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    let requests = sim(&fleet, "aws-us").requests();
    assert_eq!(
        requests.last().and_then(|r| r.impersonated.as_deref()),
        Some("alice@example.org"),
        "{requests:#?}"
    );
}

#[tokio::test]
async fn nodes_shows_pool_readiness_cordons_and_capacity_and_filters_by_pool() {
    let (_fleet, set) = start(&[("gcp-eu", &[("nodes.yaml", NODES)])]).await;
    let (r, _) = run(
        &shipped("nodes"),
        json!({"cluster": {"name": "gcp-eu"}}),
        &set,
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
        &set,
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
    let (fleet, set) = start(&[(
        "aws-us",
        &[
            ("staging.yaml", USERS_NAMESPACE),
            ("hub-pod.yaml", HUB_POD),
            ("sim.yaml", HUB_POD_LOGS),
        ],
    )])
    .await;
    let (r, _) = run(
        &shipped("logs"),
        json!({"hub": hub("aws-us", "staging"), "component": "hub", "tail": 20, "previous": true}),
        &set,
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
    let requests = sim(&fleet, "aws-us").requests();
    let log = requests.iter().find(|r| r.path.ends_with("/log")).unwrap();
    assert!(
        log.query.contains("tailLines=20") && log.query.contains("previous=true"),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_list_keeps_whole_objects_only_for_a_playbook_that_reads_raw() {
    let (_fleet, set) = start(&[("aws-us", &[("staging.yaml", HUB_NAMESPACE)])]).await;
    let playbook = |result: &str| {
        format!(
            r#"
name: deploys
params:
  hub: {{ type: hub }}
steps:
  - id: found
    kube.list: {{ cluster: "{{{{ hub.cluster }}}}", namespace: "{{{{ hub.namespace }}}}", kind: Deployment, labels: "component=hub" }}
result: "{result}"
"#
        )
    };
    let summaries = playbook("{{ steps.found.items[0].name }} {{ steps.found.items[0].desired }}");
    let (r, _) = run(
        &summaries,
        json!({"hub": hub("aws-us", "staging")}),
        &set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "prod-hub 1");
    let item = &r.steps["found"]["items"][0];
    assert_eq!(item["name"], "prod-hub");
    assert!(item.get("raw").is_none(), "not read, not kept: {item}");

    let whole = playbook("{{ steps.found.items[0].raw.spec.template.spec.containers[0].image }}");
    let (r, _) = run(
        &whole,
        json!({"hub": hub("aws-us", "staging")}),
        &set,
        Mode::Real,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "quay.io/jupyterhub/k8s-hub:4.0.0");
    assert_eq!(
        r.steps["found"]["items"][0]["raw"]["metadata"]["name"],
        "prod-hub"
    );
}
