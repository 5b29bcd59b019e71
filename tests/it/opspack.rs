//! The operations pack (issue 7) against the demo fleet in the simulator:
//! stuck pods, Dask clusters, placeholders and node maintenance, each answer
//! asserted on the facts seeded in `examples/fleet`.

use crate::support::fleet;

use fleet::{contains_all, dry, hub, run, staging, start};
use opsbot::playbook::{Outcome, Playbooks};
use serde_json::{json, Value};

const GINA_NODE: &str = "ip-10-0-93-7.us-west-2.compute.internal";

#[tokio::test]
async fn stuck_lists_gina_terminating_for_hours_and_respects_the_threshold() {
    let (_fleet, set, pbs) = start().await;
    let r = run(
        &pbs,
        &set,
        "stuck",
        json!({"hub": staging(), "older": "10m"}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "stuck Terminating for more than 10m",
            "`jupyter-gina` terminating for",
            GINA_NODE,
        ],
    );
    let r = run(
        &pbs,
        &set,
        "stuck",
        json!({"hub": staging(), "older": "30d"}),
    )
    .await;
    assert!(
        r.output
            .starts_with("**No pod of staging has been Terminating for more than 30d"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn dask_clusters_lists_each_gateway_cluster_with_its_owner_and_pods() {
    let (_fleet, set, pbs) = start().await;
    let climate = hub("climate", "gcp-eu");
    let r = run(
        &pbs,
        &set,
        "dask-clusters",
        json!({"hub": climate, "user": ""}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "**2 Dask cluster(s) on climate**",
            "`climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b` of nora",
            "of oscar.m",
            "scheduler Running",
        ],
    );
    let r = run(
        &pbs,
        &set,
        "dask-clusters",
        json!({"hub": climate, "user": "nora"}),
    )
    .await;
    contains_all(
        &r.output,
        &["**1 Dask cluster(s) on climate for nora**", "of nora"],
    );
    assert!(!r.output.contains("oscar"), "{}", r.output);
}

#[tokio::test]
async fn dask_stop_deletes_the_daskcluster_and_dry_run_changes_nothing() {
    let (_fleet, set, pbs) = start().await;
    let climate = hub("climate", "gcp-eu");
    let id = "climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b";
    let r = dry(&pbs, &set, "dask-stop", json!({"hub": climate, "name": id})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.starts_with(&format!(
            "Dry run: would delete DaskCluster `{id}` of nora on climate"
        )),
        "{}",
        r.output
    );
    let r = run(&pbs, &set, "dask-stop", json!({"hub": climate, "name": id})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(r.output.contains("stopped"), "{}", r.output);
    let r = run(
        &pbs,
        &set,
        "dask-clusters",
        json!({"hub": climate, "user": "nora"}),
    )
    .await;
    assert!(
        r.output
            .contains("**0 Dask cluster(s) on climate for nora**"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn placeholders_scale_finds_the_statefulset_by_label() {
    let (_fleet, set, pbs) = start().await;
    let binder = hub("binder", "gcp-eu");
    let r = dry(
        &pbs,
        &set,
        "placeholders-scale",
        json!({"hub": binder, "replicas": 4}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .contains("would scale StatefulSet `user-placeholder` of binder from 2 to 4"),
        "{}",
        r.output
    );
    let r = run(
        &pbs,
        &set,
        "placeholders-scale",
        json!({"hub": binder, "replicas": 4}),
    )
    .await;
    assert!(r.output.contains("scaled from 2 to 4"), "{}", r.output);
    let r = run(
        &pbs,
        &set,
        "placeholders-scale",
        json!({"hub": binder, "replicas": 0}),
    )
    .await;
    assert!(r.output.contains("scaled from 4 to 0"), "{}", r.output);
}

#[tokio::test]
async fn node_cordon_then_uncordon_flips_schedulability() {
    let (_fleet, set, pbs) = start().await;
    let p = json!({"cluster": {"name": "aws-us"}, "node": GINA_NODE});
    let r = dry(&pbs, &set, "node-cordon", p.clone()).await;
    assert!(
        r.output.contains("Dry run: would cordon node"),
        "{}",
        r.output
    );
    let r = run(&pbs, &set, "node-cordon", p.clone()).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(r.output.contains("is now cordoned"), "{}", r.output);
    let r = run(&pbs, &set, "node-uncordon", p).await;
    assert!(
        r.output.contains("is now schedulable again"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("currently") || r.output.contains("pool"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn node_drain_evicts_controller_pods_and_leaves_user_servers() {
    let (_fleet, set, pbs) = start().await;
    let p =
        json!({"cluster": {"name": "aws-us"}, "node": "ip-10-0-81-122.us-west-2.compute.internal"});
    let r = dry(&pbs, &set, "node-drain", p.clone()).await;
    assert!(
        r.output.starts_with("Dry run: nothing was changed."),
        "{}",
        r.output
    );
    let r = run(&pbs, &set, "node-drain", p.clone()).await;
    contains_all(
        &r.output,
        &[
            "cordoned, evicted 3 of 3 controller-owned pod(s)",
            "- ok staging/user-placeholder-1 (StatefulSet)",
            "Left 6 ",
            "user server(s) for the idle culler",
            "jupyter-dave",
        ],
    );
    assert_eq!(pbs.get("node-drain").unwrap().approval.approvers, 1);
    assert_eq!(pbs.get("node-drain-all").unwrap().approval.approvers, 2);
}

#[tokio::test]
async fn diagnose_uses_a_catalogue_directory_named_by_the_step() {
    let (_fleet, set, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yaml"),
        "- id: site-pending\n  title: Our own pending rule\n  when:\n    - { source: pod_phase, pattern: \"^Pending$\" }\n  cause: site cause\n  fix: site fix\n  reply: site reply\n",
    )
    .unwrap();
    let text = format!(
        "name: d\nparams:\n  hub: {{ type: hub }}\nsteps:\n  - id: d\n    diagnose: {{ cluster: \"{{{{ hub.cluster }}}}\", namespace: \"{{{{ hub.namespace }}}}\", user: dave, catalogue: \"{}\" }}\nresult: \"{{{{ steps.d.top.id }}}}: {{{{ steps.d.top.title }}}}\"\n",
        dir.path().display()
    );
    let pbs = Playbooks::from_str("d.yaml", &text).unwrap();
    let r = run(&pbs, &set, "d", json!({"hub": staging()})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "site-pending: Our own pending rule");
}

#[tokio::test]
async fn pending_groups_the_stuck_servers_by_the_catalogues_finding() {
    let (_fleet, set, pbs) = start().await;
    let r = run(&pbs, &set, "pending", json!({"hub": staging()})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "**3 pending user servers on staging**, 2 reasons:",
            // The biggest group first: two people blocked by one cause.
            "- **No node has enough free memory for the server** (2): erin, yuki",
            "- **The server's image cannot be pulled** (1): dave",
            "- dave (`jupyter-dave`, 25m, ImagePullBackOff): Failed to pull image \"quay.io/jupyter/scipy-notebook:2024-13-01\"",
            "What to do: Check the image name and tag",
        ],
    );
    let erin = r.output.find("(2): erin").unwrap();
    let dave = r.output.find("(1): dave").unwrap();
    assert!(erin < dave, "{}", r.output);

    let r = run(
        &pbs,
        &set,
        "pending",
        json!({"hub": hub("edu", "azure-au")}),
    )
    .await;
    assert_eq!(r.output, "**No pending user servers on edu.**");
}

#[tokio::test]
async fn pending_all_covers_every_hub_and_names_a_cluster_that_fails() {
    let (fleet, set, pbs) = start().await;
    let hubs = json!([
        staging(),
        hub("prod", "aws-us"),
        hub("climate", "gcp-eu"),
        hub("binder", "gcp-eu"),
        hub("edu", "azure-au"),
    ]);
    let r = run(&pbs, &set, "pending-all", json!({"hubs": hubs})).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "**4 pending user servers across 5 hubs**",
            "- **staging** (aws-us/staging): 3",
            "  - No node has enough free memory for the server (2): erin, yuki",
            "- **prod** (aws-us/prod): 1",
            "  - The server is taking too long to start (slow image pull) (1): leo",
        ],
    );
    assert!(!r.output.contains("**edu**"), "hubs with none are left out");

    fleet
        .cluster("gcp-eu")
        .unwrap()
        .add_fault(opsbot_sim::FaultRule {
            verbs: vec!["*".into()],
            resources: vec!["*".into()],
            namespaces: vec!["*".into()],
            status: Some(503),
            ..Default::default()
        });
    let r = run(&pbs, &set, "pending-all", json!({"hubs": hubs})).await;
    assert!(matches!(r.outcome, Outcome::Partial(_)), "{:?}", r.outcome);
    contains_all(
        &r.output,
        &[
            "**4 pending user servers across 3 hubs** (2 hubs did not answer)",
            "- **staging** (aws-us/staging): 3",
            "- ⚠ **climate** (gcp-eu/climate) unreachable:",
            "- ⚠ **binder** (gcp-eu/binder) unreachable:",
        ],
    );
}

#[tokio::test]
async fn user_status_describes_the_last_termination_and_the_pods_own_events() {
    let (_fleet, set, pbs) = start().await;
    let judy = opsbot::jupyterhub::username::Username::new("judy")
        .unwrap()
        .to_json();
    let r = run(
        &pbs,
        &set,
        "user-status",
        json!({"hub": hub("prod", "aws-us"), "user": judy}),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    contains_all(
        &r.output,
        &[
            "**judy** on prod: pod `jupyter-judy` is **Running** (ready 1/1, restarts 4,",
            "- container notebook: running, 4 restarts; last terminated OOMKilled (exit 137)",
            "- event Warning OOMKilling ×4",
            "Memory cgroup out of memory",
        ],
    );

    let erin = opsbot::jupyterhub::username::Username::new("erin")
        .unwrap()
        .to_json();
    let r = run(
        &pbs,
        &set,
        "user-status",
        json!({"hub": staging(), "user": erin}),
    )
    .await;
    contains_all(
        &r.output,
        &[
            "is **Pending** (ready 0/1, restarts 0, age 18m, node none)",
            "- condition PodScheduled=False (Unschedulable): 0/6 nodes are available",
            "- event Warning FailedScheduling ×6",
            "- event Normal NotTriggerScaleUp ×11",
        ],
    );
    // Another pod's events are not this pod's story.
    assert!(!r.output.contains("jupyter-dave"), "{}", r.output);
}

#[tokio::test]
async fn kube_describe_summarises_a_node_and_a_deployment() {
    let (_fleet, set, _pbs) = start().await;
    let registry = opsbot::actions::Registry::builtin();
    let spec = registry.get("kube.describe").unwrap();
    let call = |args: Value| opsbot::actions::ActionCall::new(args, set.clone());
    let node = (spec.run)(call(json!({
        "cluster": "aws-us", "kind": "Node", "name": GINA_NODE
    })))
    .await
    .unwrap();
    let first = node["lines"][0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("Node {GINA_NODE}: NotReady, pool user-r5-2xlarge")),
        "{node:#}"
    );
    let not_ok: Vec<&str> = node["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    // Kubelet stopped posting: every condition is Unknown, Ready among them.
    assert!(not_ok.contains(&"Ready") && not_ok.len() >= 2, "{node:#}");
    assert!(
        node["lines"][1]
            .as_str()
            .unwrap()
            .ends_with("(NodeStatusUnknown): Kubelet stopped posting node status."),
        "{node:#}"
    );

    let hub = (spec.run)(call(json!({
        "cluster": "aws-us", "namespace": "staging", "kind": "Deployment", "name": "hub"
    })))
    .await
    .unwrap();
    assert_eq!(hub["ready"], "1/1", "{hub:#}");
    assert!(
        hub["lines"][0]
            .as_str()
            .unwrap()
            .starts_with("Deployment hub: ready 1/1"),
        "{hub:#}"
    );
    // A missing object is an error naming it.
    let missing = (spec.run)(call(json!({
        "cluster": "aws-us", "namespace": "staging", "kind": "Pod", "name": "jupyter-nobody"
    })))
    .await
    .unwrap_err();
    assert!(missing.to_string().contains("jupyter-nobody"), "{missing}");
}
