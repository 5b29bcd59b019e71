//! "The pool that fits" with the cluster autoscaler, against the demo fleet:
//! erin's 48Gi server on staging (aws-us) fits an empty `user-r5-2xlarge`
//! node, but both ready ones are full and the autoscaler's status says the
//! pool is at its maximum (4/4). Raising the maximum in that status turns the
//! verdict into "fits once the autoscaler adds a node"; without a readable
//! status nothing is promised.

use crate::support::fleet;

use std::path::Path;

use fleet::staging;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use opsbot::cluster::ClusterSet;
use opsbot::playbook::{Mode, Outcome, Playbooks, RunResult};
use opsbot_sim::Fleet;
use serde_json::{json, Value};

struct Rig {
    _fleet: Fleet,
    set: ClusterSet,
    pbs: Playbooks,
    /// The kubeconfig's own user (admin) on aws-us, to change the autoscaler's status.
    admin: kube::Client,
}

/// The demo fleet, with `extra` as one more simulator user on every cluster.
async fn start(extra: Option<Value>) -> Rig {
    let (fleet, set, pbs) = fleet::start_with_user(extra).await;
    let admin = fleet.client("aws-us").await.unwrap();
    Rig {
        _fleet: fleet,
        set,
        pbs,
        admin,
    }
}

async fn run(rig: &Rig, name: &str, params: Value, impersonate: Option<&str>) -> RunResult {
    let r = fleet::run_as(&rig.pbs, &rig.set, name, params, Mode::Real, impersonate).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    r
}

async fn triage_erin(rig: &Rig, impersonate: Option<&str>) -> String {
    let erin = opsbot::jupyterhub::username::Username::new("erin")
        .unwrap()
        .to_json();
    run(
        rig,
        "triage",
        json!({"hub": staging(), "user": erin}),
        impersonate,
    )
    .await
    .output
}

fn status_api(rig: &Rig) -> Api<ConfigMap> {
    Api::namespaced(rig.admin.clone(), "kube-system")
}

/// The seeded status with the user node group's `maxSize` set to `max`.
async fn set_user_pool_max(rig: &Rig, max: usize) {
    let api = status_api(rig);
    let cm = api.get("cluster-autoscaler-status").await.unwrap();
    let text = cm.data.unwrap().remove("status").unwrap();
    assert!(text.contains("    maxSize: 4\n"), "{text}");
    let text = text.replace("    maxSize: 4\n", &format!("    maxSize: {max}\n"));
    api.patch(
        "cluster-autoscaler-status",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"status": text}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn erin_is_pending_because_her_pool_is_at_its_autoscaling_maximum() {
    let rig = start(None).await;
    let out = triage_erin(&rig, None).await;
    for fact in [
        "**Triage of erin on staging: No node has enough free memory for the server**",
        "Cause: The server requests 4 CPU and 48Gi memory, and no node it may run on has that much memory free. Pool user-r5-2xlarge is full: a new node of it would fit the server, but the pool is at its maximum size (4/4), so the autoscaler will not add one.",
        "What to do: Raise the maximum size of node pool user-r5-2xlarge (its node group's settings in the cloud) or choose a smaller profile.",
        "- pool user-r5-2xlarge: 2/4 nodes ready, most free on one node cpu 3410m memory 42.9Gi, a new node cpu 7910m memory 60.9Gi; autoscaler 4/4 (at max)",
        "none is being added",
    ] {
        assert!(out.contains(fact), "missing {fact:?} in:\n{out}");
    }
    // core (m5.xlarge, tainted for the hub) is not a pool she may use
    assert!(!out.contains("pool core"), "{out}");

    // The pending list gives erin and yuki the same advice.
    let r = run(&rig, "pending", json!({"hub": staging()}), None).await;
    assert!(
        r.output
            .contains("What to do: Raise the maximum size of node pool user-r5-2xlarge"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn with_room_to_grow_erin_fits_once_the_autoscaler_adds_a_node() {
    let rig = start(None).await;
    set_user_pool_max(&rig, 6).await;
    let out = triage_erin(&rig, None).await;
    for fact in [
        "no node it may run on has that much memory free. It fits once the autoscaler adds a node (pool user-r5-2xlarge at 4/6).",
        "What to do: Nothing to change if the autoscaler's node arrives within minutes",
        "; autoscaler 4/6",
        "A new machine is being added for it",
    ] {
        assert!(out.contains(fact), "missing {fact:?} in:\n{out}");
    }
    assert!(!out.contains("(at max)"), "{out}");
}

#[tokio::test]
async fn without_the_autoscaler_status_growth_is_unknown_and_nothing_is_promised() {
    let rig = start(None).await;
    status_api(&rig)
        .delete("cluster-autoscaler-status", &Default::default())
        .await
        .unwrap();
    let out = triage_erin(&rig, None).await;
    assert!(
        out.contains("Pool user-r5-2xlarge is full: a new node of it would fit the server; whether the pool can grow is unknown"),
        "{out}"
    );
    assert!(out.contains("; autoscaler unknown"), "{out}");
    assert!(!out.contains("A new machine is being added"), "{out}");
}

#[tokio::test]
async fn a_role_that_may_not_read_the_status_still_gets_a_triage() {
    // Everything `triage` needs except ConfigMaps.
    let user = json!({"name": "no-configmaps", "rules": [{
        "verbs": ["get", "list"],
        "resources": ["pods", "pods/log", "events", "nodes"],
        "namespaces": ["*"]
    }]});
    let rig = start(Some(user)).await;
    let out = triage_erin(&rig, Some("no-configmaps")).await;
    assert!(
        out.contains("whether the pool can grow is unknown"),
        "{out}"
    );
}

#[test]
fn opsbot_rbac_grants_the_autoscaler_status_by_name_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pbs = Playbooks::load_dir(&root.join("playbooks")).unwrap();
    let rules = opsbot::playbook::rbac::rules(&opsbot::playbook::rbac::permissions(&pbs), &[]);
    let cm: Vec<_> = rules
        .iter()
        .filter(|r| r.resources.iter().any(|x| x == "configmaps"))
        .collect();
    assert_eq!(cm.len(), 1, "{rules:?}");
    assert_eq!(cm[0].resource_names, ["cluster-autoscaler-status"]);
    // list and watch for the server's watch cache, which watches that one
    // name with a `metadata.name` field selector.
    assert_eq!(cm[0].verbs, ["get", "list", "watch"]);
}
