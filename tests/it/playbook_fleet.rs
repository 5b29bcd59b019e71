//! The shipped playbooks against the demo fleet (`examples/fleet`) in the
//! simulator: every answer carries the facts seeded there.

use crate::support::fleet;

use fleet::{contains_all, hub, run, staging, start};
use opsbot::playbook::{Outcome, Playbooks};
use serde_json::{json, Value};

fn user(name: &str) -> Value {
    opsbot::jupyterhub::username::Username::new(name)
        .unwrap()
        .to_json()
}

#[tokio::test]
async fn hub_status_users_pending_and_events_carry_the_seeded_facts() {
    let (_fleet, set, pbs) = start().await;
    let r = run(&pbs, &set, "hub-status", json!({"hub": staging()})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "- hub `hub`: 1/1 ready",
            "- proxy `proxy`: 1/1 ready",
            "User servers: 8 · Pending: 3 · Running: 4 · Terminating: 1",
            "Pod/jupyter-erin FailedScheduling: 0/6 nodes are available",
            "Pod/jupyter-dave Failed: Error: ImagePullBackOff",
        ],
    );
    let r = run(&pbs, &set, "users", json!({"hub": staging()})).await;
    contains_all(
        &r.output,
        &[
            "**4 running user servers on staging** (4 more not running)",
            "- bob.jones  age 4d  node ip-10-0-70-15.us-west-2.compute.internal",
            "- carol@uni.edu  age 35m",
        ],
    );
    let r = run(&pbs, &set, "pending", json!({"hub": staging()})).await;
    contains_all(
        &r.output,
        &[
            "**3 pending user servers on staging**, 2 reasons:",
            "- erin (`jupyter-erin`, 18m, Pending): 0/6 nodes are available",
            "2 Insufficient memory",
            "- dave (`jupyter-dave`, 25m, ImagePullBackOff): Failed to pull image",
        ],
    );
    let r = run(
        &pbs,
        &set,
        "events",
        json!({"hub": staging(), "warnings": true}),
    )
    .await;
    assert!(
        r.output
            .starts_with("**6 warning events in staging since 1h**"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn logs_and_nodes_carry_the_seeded_facts() {
    let (_fleet, set, pbs) = start().await;
    let r = run(
        &pbs,
        &set,
        "logs",
        json!({"hub": staging(), "component": "hub", "tail": 5}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &["last 5 lines:", "frank's server never showed up"],
    );
    let r = run(&pbs, &set, "nodes", json!({"cluster": {"name": "aws-us"}})).await;
    contains_all(&r.output, &[
        "**6 nodes on aws-us**",
        "- ip-10-0-93-7.us-west-2.compute.internal  pool user-r5-2xlarge  user  ⚠ NotReady",
        "- ip-10-0-101-58.us-west-2.compute.internal  pool user-r5-2xlarge  user  Ready  cordoned",
        "pool core  core  Ready  cpu 3920m",
    ]);
    let r = run(
        &pbs,
        &set,
        "nodes",
        json!({"cluster": {"name": "aws-us"}, "pool": "core"}),
    )
    .await;
    assert!(
        r.output.starts_with("**2 nodes on aws-us in pool core**"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn triage_explains_each_broken_user_server() {
    let (_fleet, set, pbs) = start().await;
    let prod = hub("prod", "aws-us");
    let edu = hub("edu", "azure-au");
    let cases: Vec<(Value, &str, &str, &[&str])> = vec![
        (
            staging(),
            "dave",
            "The server's image cannot be pulled",
            &["Cause: The image", "2024-13-01"],
        ),
        (
            staging(),
            "erin",
            "No node has enough free memory for the server",
            &[
                "requests 4 CPU and 48Gi memory",
                "pool is at its maximum size (4/4)",
                "Reply to the user:",
            ],
        ),
        (
            staging(),
            "frank",
            "jupyterhub-singleuser cannot be started from the user's environment",
            &["restarts 9"],
        ),
        // The NotReady node is why gina's pod cannot finish terminating: it leads.
        (
            staging(),
            "gina",
            "The server's node is not ready",
            &["Also matched: ", "The server is stuck terminating"],
        ),
        (
            prod.clone(),
            "judy",
            "The server ran out of memory",
            &["OOMKilled"],
        ),
        (
            prod.clone(),
            "karl",
            "The home volume is full",
            &["No space left on device"],
        ),
        (
            prod,
            "leo",
            "The server is taking too long to start",
            &["Reply to the user:"],
        ),
        (
            edu,
            "tom@school.edu",
            "jupyterhub-singleuser cannot be started from the user's environment",
            &["not found"],
        ),
        (staging(), "alice", "Nothing wrong found", &["Running"]),
    ];
    for (h, name, title, facts) in cases {
        let hub_name = h["name"].as_str().unwrap().to_string();
        let r = run(&pbs, &set, "triage", json!({"hub": h, "user": user(name)})).await;
        assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
        let head = format!("**Triage of {name} on {hub_name}: {title}");
        assert!(
            r.output.starts_with(&head),
            "want {head:?} in:\n{}",
            r.output
        );
        assert!(r.output.contains("What to do: "), "{}", r.output);
        contains_all(&r.output, facts);
    }
}

#[tokio::test]
async fn user_status_finds_the_server_by_the_escaped_username_label() {
    let (_fleet, set, pbs) = start().await;
    let r = run(
        &pbs,
        &set,
        "user-status",
        json!({"hub": staging(), "user": user("bob.jones")}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(&r.output, &[
        "**bob.jones** on staging: pod `jupyter-bob-2ejones` is **Running** (ready 1/1, restarts 0, age 4d",
        "Jupyter Server 2.14.2 is running",
    ]);
}

#[tokio::test]
async fn fleet_status_covers_every_hub_on_every_cluster() {
    let (_fleet, set, pbs) = start().await;
    let hubs = json!([
        staging(),
        hub("prod", "aws-us"),
        hub("climate", "gcp-eu"),
        hub("edu", "azure-au")
    ]);
    let r = run(&pbs, &set, "fleet-status", json!({ "hubs": hubs })).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "**Fleet: 4 hubs**",
            "- staging (aws-us/staging): hub 1/1 ok, 4 users running",
            "- prod (aws-us/prod): hub 1/1 ok, 5 users running",
            "- climate (gcp-eu/climate): hub 1/1 ok, 3 users running",
            "- edu (azure-au/edu): hub 1/1 ok, 4 users running",
        ],
    );
}

#[tokio::test]
async fn dask_clusters_are_listed_through_their_custom_resource() {
    let (_fleet, set, _) = start().await;
    let pbs = Playbooks::from_str(
        "dask.yaml",
        r#"name: dask
steps:
  - id: dc
    kube.list: { cluster: gcp-eu, namespace: climate, kind: DaskCluster }
result: "{{ steps.dc.items | map(attribute='name') | join(',') }}"
"#,
    )
    .unwrap();
    let r = run(&pbs, &set, "dask", json!({})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .contains("climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b"),
        "{}",
        r.output
    );
}

/// `fleet status` and `pending all` fan out by cluster (issue 14): two hubs
/// on aws-us cost aws-us one list per kind, across namespaces, with the
/// selectors on the server and a page size, not one list per hub.
#[tokio::test]
async fn fleet_commands_ask_each_cluster_once_per_kind_with_server_side_selectors_and_pages() {
    let (fleet, set, pbs) = start().await;
    let aws = fleet.cluster("aws-us").unwrap();
    let hubs = json!([staging(), hub("prod", "aws-us"), hub("climate", "gcp-eu")]);
    for (playbook, kinds) in [
        ("fleet-status", &["deployments", "pods"][..]),
        // (Events are asked per pending server while they are few.)
        ("pending-all", &["pods", "nodes"][..]),
    ] {
        aws.clear_requests();
        let r = run(&pbs, &set, playbook, json!({ "hubs": hubs })).await;
        assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
        let lists: Vec<_> = aws
            .requests()
            .into_iter()
            .filter(|q| q.verb == "list")
            .collect();
        for kind in kinds {
            let of_kind: Vec<_> = lists
                .iter()
                .filter(|q| q.resource.as_deref() == Some(*kind))
                .collect();
            assert!(!of_kind.is_empty(), "{playbook}: no {kind} list: {lists:?}");
            assert!(
                of_kind.iter().all(|q| q.namespace.is_none()),
                "{playbook}: {kind} listed per namespace: {of_kind:?}"
            );
            assert!(
                of_kind.iter().all(|q| q.query.contains("limit=500")),
                "{playbook}: {kind} not paged: {of_kind:?}"
            );
        }
        // Pods: one list for the servers asked about, selected by the server
        // (phase), plus for pending-all the pods of the nodes whose room the
        // answer needs (per node, selected by the server too).
        let pods: Vec<_> = lists
            .iter()
            .filter(|q| q.resource.as_deref() == Some("pods"))
            .collect();
        let selected = pods
            .iter()
            .filter(|q| q.query.contains("fieldSelector=status.phase%3D"))
            .count();
        assert_eq!(selected, 1, "{playbook}: {pods:?}");
        let per_node = pods
            .iter()
            .filter(|q| q.query.contains("fieldSelector=spec.nodeName%3D"))
            .count();
        assert_eq!(selected + per_node, pods.len(), "{playbook}: {pods:?}");
    }
}

/// A cluster that fails is named for each of its hubs while the other
/// clusters' hubs answer, and the run is partial, not failed.
#[tokio::test]
async fn a_failing_cluster_is_named_for_its_hubs_and_the_other_clusters_answer() {
    let (fleet, set, pbs) = start().await;
    fleet.cluster("gcp-eu").unwrap().add_fault(
        serde_json::from_value(json!({ "verbs": ["list"], "resources": ["pods"], "status": 403 }))
            .unwrap(),
    );
    let hubs = json!([staging(), hub("climate", "gcp-eu"), hub("binder", "gcp-eu")]);
    let r = run(&pbs, &set, "fleet-status", json!({ "hubs": hubs })).await;
    assert!(
        matches!(r.outcome, Outcome::Partial(_)),
        "{:?}: {}",
        r.outcome,
        r.output
    );
    contains_all(
        &r.output,
        &[
            "- staging (aws-us/staging): hub 1/1 ok, 4 users running",
            "- climate (gcp-eu/climate): ⚠ unreachable: cluster gcp-eu:",
            "- binder (gcp-eu/binder): ⚠ unreachable: cluster gcp-eu:",
        ],
    );
    let r = run(&pbs, &set, "pending-all", json!({ "hubs": hubs })).await;
    contains_all(
        &r.output,
        &[
            "across 1 hub** (2 hubs did not answer)",
            "- ⚠ **climate** (gcp-eu/climate) unreachable: cluster gcp-eu:",
        ],
    );
}

/// The pods lists a run asked of `cluster`, as their query strings.
fn pod_lists(fleet: &opsbot_sim::Fleet, cluster: &str) -> Vec<String> {
    fleet
        .cluster(cluster)
        .unwrap()
        .requests()
        .into_iter()
        .filter(|q| q.verb == "list" && q.resource.as_deref() == Some("pods"))
        .map(|q| q.query)
        .collect()
}

/// A server that cannot be scheduled for memory (erin asks 48Gi) gets the
/// pools' answer, read from the pods of only the nodes it could go on: the
/// user pool's nodes (61Gi each), a list per node, not the core nodes
/// (14Gi, too small even empty) and not every pod of the cluster.
#[tokio::test]
async fn pending_counts_room_only_on_the_nodes_of_pools_a_server_short_of_memory_fits() {
    let (fleet, set, pbs) = start().await;
    let aws = fleet.cluster("aws-us").unwrap();
    aws.clear_requests();
    let r = run(&pbs, &set, "pending", json!({"hub": staging()})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    let groups = r.steps["pending"]["groups"].as_array().unwrap().clone();
    let erin = groups
        .iter()
        .find(|g| {
            g["pods"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["pod"] == "jupyter-erin")
        })
        .unwrap();
    assert_eq!(erin["id"], "insufficient-resources", "{erin}");
    contains_all(
        erin["fix"].as_str().unwrap(),
        &["Raise the maximum size of node pool user-r5-2xlarge"],
    );
    let lists = pod_lists(&fleet, "aws-us");
    let per_node: Vec<&String> = lists
        .iter()
        .filter(|q| q.contains("spec.nodeName%3D"))
        .collect();
    assert!(!per_node.is_empty(), "{lists:?}");
    for core in ["ip-10-0-12-34", "ip-10-0-44-201"] {
        assert!(!per_node.iter().any(|q| q.contains(core)), "{per_node:?}");
    }
    // Every other pods list is the one of the pending servers (phase=Pending).
    let rest: Vec<&String> = lists
        .iter()
        .filter(|q| !q.contains("spec.nodeName%3D"))
        .collect();
    assert!(
        rest.iter().all(|q| q.contains("status.phase%3DPending")),
        "{rest:?}"
    );
}

/// A pending server that waits on something other than room (prod's leo is
/// on its node, pulling its image) reads no pool: no pods list but the one
/// of the pending servers, and no cluster-autoscaler status.
#[tokio::test]
async fn pending_of_a_server_not_short_of_room_reads_no_pool() {
    let (fleet, set, pbs) = start().await;
    let aws = fleet.cluster("aws-us").unwrap();
    aws.clear_requests();
    let prod = hub("prod", "aws-us");
    let r = run(&pbs, &set, "pending", json!({ "hub": prod })).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.steps["pending"]["count"], 1, "{}", r.steps["pending"]);
    assert_eq!(r.steps["pending"]["pods"][0]["pod"], "jupyter-leo");
    let lists = pod_lists(&fleet, "aws-us");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(lists[0].contains("status.phase%3DPending"), "{lists:?}");
    let configmaps = aws
        .requests()
        .into_iter()
        .filter(|q| q.resource.as_deref() == Some("configmaps"))
        .count();
    assert_eq!(configmaps, 0);
}
