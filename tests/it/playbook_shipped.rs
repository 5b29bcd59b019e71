//! The playbooks shipped in `playbooks/` load cleanly and declare what the
//! commands and `opsbot rbac` rely on.

use std::path::Path;

use opsbot::playbook::Playbooks;

fn shipped() -> Playbooks {
    Playbooks::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks"))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_shipped_playbook_loads() {
    let pbs = shipped();
    let names: Vec<&str> = pbs.iter().map(|p| p.name.as_str()).collect();
    for want in [
        "events",
        "fleet-status",
        "hub-restart",
        "hub-status",
        "logs",
        "nodes",
        "pending",
        "triage",
        "user-status",
        "user-stop",
        "users",
    ] {
        assert!(names.contains(&want), "missing playbook {want}: {names:?}");
    }
}

#[test]
fn mutating_playbooks_take_a_lock_and_need_approval() {
    let pbs = shipped();
    let mutating: Vec<&str> = pbs
        .iter()
        .filter(|p| p.mutates)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        mutating,
        [
            "dask-stop",
            "hub-restart",
            "node-cordon",
            "node-drain",
            "node-drain-all",
            "node-uncordon",
            "placeholders-scale",
            "user-stop"
        ]
    );
    for p in pbs.iter().filter(|p| p.mutates) {
        // Evicting user servers loses their unsaved work: a second approver.
        let want = if p.name == "node-drain-all" { 2 } else { 1 };
        assert_eq!(p.approval.approvers, want, "{}", p.name);
        assert!(p.lock.is_some(), "{} should take a lock", p.name);
    }
}

#[test]
fn read_only_playbooks_need_only_read_verbs() {
    for p in shipped().iter().filter(|p| !p.mutates) {
        for perm in p.permissions() {
            assert!(
                ["get", "list", "watch"].contains(&perm.verb.as_str()),
                "{}: {perm:?}",
                p.name
            );
        }
    }
}

#[test]
fn user_stop_plan_names_the_hub_call_and_the_pod_it_falls_back_to() {
    let pbs = shipped();
    let plan = pbs
        .get("user-stop")
        .unwrap()
        .plan(&serde_json::json!({
            "hub": {"name": "staging", "cluster": "aws-us", "namespace": "staging", "api": true},
            "user": {"name": "Frank", "escaped": "frank", "pod": "jupyter-frank", "server": "", "input": "Frank"}
        }))
        .unwrap();
    let targets: Vec<&str> = plan.steps.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "DELETE hub staging /users/Frank/server",
            "delete v1 pods staging/<from step find> @aws-us"
        ]
    );
}
