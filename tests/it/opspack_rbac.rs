//! `opsbot rbac`: its ClusterRole parses, and a simulator user holding exactly
//! its rules can run every shipped playbook against the demo fleet (the
//! mutating ones for real), while a user missing one rule is refused with
//! Forbidden.

use crate::support::fleet;

use std::path::Path;

use opsbot::cluster::ClusterSet;
use opsbot::playbook::{Mode, Outcome, Playbooks, RunResult};
use opsbot_sim::Fleet;
use serde_json::{json, Value};

async fn start(extra: Option<(&str, Vec<Value>)>) -> (Fleet, ClusterSet, Playbooks) {
    fleet::start_with_user(extra.map(|(name, rules)| json!({"name": name, "rules": rules}))).await
}

async fn run_as(
    pbs: &Playbooks,
    set: &ClusterSet,
    name: &str,
    params: Value,
    impersonate: Option<String>,
) -> RunResult {
    fleet::run_as(pbs, set, name, params, Mode::Real, impersonate.as_deref()).await
}

fn staging() -> Value {
    json!({"name": "staging", "cluster": "aws-us", "namespace": "staging"})
}

fn hub(name: &str, cluster: &str) -> Value {
    json!({"name": name, "cluster": cluster, "namespace": name})
}

/// The rules `opsbot rbac` prints, in the simulator's `sim.yaml` format.
fn sim_rules(rules: &[opsbot::playbook::rbac::Rule]) -> Vec<Value> {
    rules
        .iter()
        .filter(|r| r.verbs != ["impersonate"])
        .map(|r| json!({"verbs": r.verbs, "resources": r.resources, "namespaces": ["*"]}))
        .collect()
}

fn shipped_rules() -> Vec<opsbot::playbook::rbac::Rule> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pbs = Playbooks::load_dir(&root.join("playbooks")).unwrap();
    opsbot::playbook::rbac::rules(&opsbot::playbook::rbac::permissions(&pbs), &[])
}

/// Every read-only shipped playbook with realistic parameters.
fn read_only_runs() -> Vec<(&'static str, Value)> {
    let alice = opsbot::jupyterhub::username::Username::new("alice")
        .unwrap()
        .to_json();
    vec![
        (
            "events",
            json!({"hub": staging(), "since": "1h", "warnings": false}),
        ),
        (
            "fleet-status",
            json!({"hubs": [staging(), hub("prod", "aws-us"), hub("climate", "gcp-eu"), hub("edu", "azure-au")]}),
        ),
        ("hub-status", json!({"hub": staging()})),
        (
            "logs",
            json!({"hub": staging(), "component": "hub", "tail": 20, "previous": false}),
        ),
        ("nodes", json!({"cluster": {"name": "aws-us"}, "pool": ""})),
        ("pending", json!({"hub": staging()})),
        ("triage", json!({"hub": staging(), "user": alice})),
        ("user-status", json!({"hub": staging(), "user": alice})),
        ("users", json!({"hub": staging()})),
        ("stuck", json!({"hub": staging(), "older": "10m"})),
        (
            "dask-clusters",
            json!({"hub": hub("climate", "gcp-eu"), "user": ""}),
        ),
        ("binder-builds", json!({"hub": hub("binder", "gcp-eu")})),
    ]
}

/// Every mutating shipped playbook, for real, in an order that leaves each
/// one something to do.
fn mutating_runs() -> Vec<(&'static str, Value)> {
    let alice = opsbot::jupyterhub::username::Username::new("alice")
        .unwrap()
        .to_json();
    let node = |n: &str| json!({"cluster": {"name": "aws-us"}, "node": n});
    vec![
        (
            "hub-restart",
            json!({"hub": staging(), "reason": "rbac test"}),
        ),
        ("user-stop", json!({"hub": staging(), "user": alice})),
        (
            "dask-scale",
            json!({"hub": hub("climate", "gcp-eu"), "name": "climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b", "workers": 3}),
        ),
        (
            "dask-stop",
            json!({"hub": hub("climate", "gcp-eu"), "name": "climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b"}),
        ),
        (
            "placeholders-scale",
            json!({"hub": hub("binder", "gcp-eu"), "replicas": 4}),
        ),
        (
            "node-cordon",
            node("ip-10-0-81-122.us-west-2.compute.internal"),
        ),
        (
            "node-uncordon",
            node("ip-10-0-81-122.us-west-2.compute.internal"),
        ),
        (
            "node-drain",
            node("ip-10-0-93-7.us-west-2.compute.internal"),
        ),
        (
            "node-drain-all",
            node("ip-10-0-70-15.us-west-2.compute.internal"),
        ),
    ]
}

#[tokio::test]
async fn a_user_with_exactly_the_rbac_rules_runs_every_mutating_playbook() {
    let rules = shipped_rules();
    let (fleet, set, pbs) = start(Some(("rbac-bot", sim_rules(&rules)))).await;
    let mut covered: Vec<&str> = Vec::new();
    for (name, params) in mutating_runs() {
        assert!(pbs.get(name).unwrap().mutates, "{name}");
        let r = run_as(&pbs, &set, name, params, Some("rbac-bot".into())).await;
        assert_eq!(r.outcome, Outcome::Succeeded, "{name}: {}", r.output);
        covered.push(name);
    }
    // Every mutating shipped playbook is in the list above.
    let mut all: Vec<&str> = pbs
        .iter()
        .filter(|p| p.mutates)
        .map(|p| p.name.as_str())
        .collect();
    all.sort();
    covered.sort();
    assert_eq!(covered, all);
    // And they really ran as the impersonated user.
    let as_bot = fleet
        .cluster("aws-us")
        .unwrap()
        .requests()
        .into_iter()
        .filter(|q| q.impersonated.as_deref() == Some("rbac-bot") && q.verb == "patch")
        .count();
    assert!(as_bot > 0);
}

#[test]
fn opsbot_rbac_prints_a_cluster_role_with_merged_sorted_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .arg("rbac")
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let role: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(role["kind"], "ClusterRole");
    assert_eq!(role["apiVersion"], "rbac.authorization.k8s.io/v1");
    let rules = role["rules"].as_array().unwrap();
    let has = |group: &str, resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["apiGroups"][0] == group
                && r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == resource)
                && r["verbs"].as_array().unwrap().iter().any(|x| x == verb)
        })
    };
    assert!(has("", "pods", "list"), "{text}");
    assert!(has("", "pods/log", "get"), "{text}");
    assert!(has("", "pods/eviction", "create"), "{text}");
    assert!(has("gateway.dask.org", "daskclusters", "delete"), "{text}");
    assert!(has("apps", "statefulsets/scale", "patch"), "{text}");
    assert!(!has("", "secrets", "get"), "{text}");
    // The server's watch cache (serve, demo) watches what the read-only
    // fleet and pending steps and kube.list/kube.get of cached kinds read.
    for (group, resource) in [
        ("", "pods"),
        ("", "events"),
        ("", "nodes"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("", "configmaps"),
    ] {
        assert!(
            has(group, resource, "watch"),
            "watch {group}/{resource}:\n{text}"
        );
    }
    // Each (group, resource) appears in exactly one rule: verbs are merged.
    let mut seen = std::collections::BTreeSet::new();
    for r in rules {
        for res in r["resources"].as_array().unwrap() {
            let key = format!("{}/{}", r["apiGroups"][0], res);
            assert!(seen.insert(key.clone()), "{key} twice in\n{text}");
        }
    }
}

#[tokio::test]
async fn a_user_with_exactly_the_rbac_rules_runs_every_read_only_playbook() {
    let (_fleet, set, pbs) = start(Some(("rbac-bot", sim_rules(&shipped_rules())))).await;
    for (name, params) in read_only_runs() {
        assert!(!pbs.get(name).unwrap().mutates, "{name}");
        let r = run_as(&pbs, &set, name, params, Some("rbac-bot".into())).await;
        assert_eq!(r.outcome, Outcome::Succeeded, "{name}: {}", r.output);
    }
}

#[tokio::test]
async fn a_user_missing_the_events_rule_is_forbidden() {
    let rules: Vec<opsbot::playbook::rbac::Rule> = shipped_rules()
        .into_iter()
        .map(|mut r| {
            r.resources.retain(|x| x != "events");
            r
        })
        .filter(|r| !r.resources.is_empty())
        .collect();
    let (_fleet, set, pbs) = start(Some(("rbac-bot", sim_rules(&rules)))).await;
    let r = run_as(
        &pbs,
        &set,
        "events",
        json!({"hub": staging(), "since": "1h", "warnings": false}),
        Some("rbac-bot".into()),
    )
    .await;
    assert_ne!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.contains("Forbidden") || r.output.contains("forbidden"),
        "{}",
        r.output
    );
}
