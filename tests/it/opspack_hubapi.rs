//! The JupyterHub REST API (issue 7): the simulator's per-hub API agrees with
//! the cluster's pods, and the `users` and `user stop` playbooks ask the hub
//! first (idle times; the idle culler's way of stopping a server), falling
//! back to Kubernetes when the hub cannot help, saying why.

use crate::support::fleet;

use fleet::{run_as, start, user};
use opsbot::cluster::ClusterSet;
use opsbot::jupyterhub::api::HubApi;
use opsbot::playbook::{Mode, Outcome, Playbooks, RunResult};
use opsbot_sim::{Fleet, HubEndpoint};
use serde_json::{json, Value};

fn endpoint(fleet: &Fleet, ns: &str) -> HubEndpoint {
    fleet
        .hub_endpoints()
        .into_iter()
        .find(|e| e.namespace == ns)
        .unwrap()
}

fn staging(api: bool) -> Value {
    json!({"name": "staging", "cluster": "aws-us", "namespace": "staging", "api": api})
}

/// `user stop staging <raw>` on a hub with its API.
async fn user_stop(pbs: &Playbooks, set: &ClusterSet, raw: &str, mode: Mode) -> RunResult {
    let params = json!({"hub": staging(true), "user": user(raw)});
    run_as(pbs, set, "user-stop", params, mode, None).await
}

/// The pods opsbot itself deleted on a cluster.
fn pod_deletes(sim: &opsbot_sim::SimCluster) -> Vec<opsbot_sim::RecordedRequest> {
    sim.requests()
        .into_iter()
        .filter(|q| q.verb == "delete")
        .collect()
}

fn pod_exists(fleet: &Fleet, ns: &str, name: &str) -> bool {
    fleet
        .cluster("aws-us")
        .unwrap()
        .store()
        .get("pods", ns, name)
        .is_some()
}

#[tokio::test]
async fn the_simulated_hub_reports_its_pods_as_servers_and_checks_the_token() {
    let (fleet, _set, _pbs) = start().await;
    let e = endpoint(&fleet, "staging");
    let http = reqwest::Client::new();
    let users: Vec<Value> = http
        .get(format!("{}/users?state=active", e.url))
        .header("Authorization", format!("token {}", e.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_name = |n: &str| users.iter().find(|u| u["name"] == n).cloned();
    let alice = by_name("alice").expect("alice has a server");
    assert_eq!(alice["server"], "/user/alice/");
    assert_eq!(alice["servers"][""]["ready"], true);
    assert_eq!(alice["admin"], true);
    // A server still starting (image pull failing) is pending spawn, not ready.
    let dave = by_name("dave").expect("dave is spawning");
    assert_eq!(dave["pending"], "spawn");
    assert_eq!(dave["server"], Value::Null);
    // Raw names, not the escaped pod labels.
    assert!(by_name("bob.jones").is_some() && by_name("carol@uni.edu").is_some());
    // Users without a server are not active.
    assert!(by_name("ola").is_none(), "{users:#?}");

    let all: Vec<Value> = http
        .get(format!("{}/users", e.url))
        .header("Authorization", format!("token {}", e.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all
        .iter()
        .any(|u| u["name"] == "ola" && u["server"].is_null()));

    let forged = http
        .get(format!("{}/users", e.url))
        .header("Authorization", "token not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let unknown = http
        .get(format!("{}/users/nobody", e.url))
        .header("Authorization", format!("token {}", e.token))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn users_puts_the_idle_outliers_first_with_the_hubs_last_activity() {
    let (_fleet, set, pbs) = start().await;
    let r = run_as(
        &pbs,
        &set,
        "users",
        json!({"hub": staging(true)}),
        Mode::Real,
        None,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    let lines: Vec<&str> = r.output.lines().collect();
    assert!(
        lines[1].starts_with("- bob.jones  ⚠ idle 4d"),
        "{}",
        r.output
    );
    assert!(r.output.contains("- alice  idle 3m"), "{}", r.output);
    assert!(
        r.output
            .contains("1 idle for more than a day: bob.jones. `user stop staging <user>`"),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn users_without_a_hub_api_still_lists_the_servers_by_age() {
    let (_fleet, set, pbs) = start().await;
    let r = run_as(
        &pbs,
        &set,
        "users",
        json!({"hub": staging(false)}),
        Mode::Real,
        None,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(r.output.contains("- bob.jones  age 4d"), "{}", r.output);
    assert!(!r.output.contains("idle"), "{}", r.output);
}

#[tokio::test]
async fn user_stop_asks_the_hub_which_deletes_the_pod() {
    let (fleet, set, pbs) = start().await;
    let sim = fleet.cluster("aws-us").unwrap();
    sim.clear_requests();
    let r = user_stop(&pbs, &set, "alice", Mode::Real).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.starts_with(
            "Stopped the server of **alice** on staging through the hub's REST API (pod `jupyter-alice`)"
        ),
        "{}",
        r.output
    );
    let hub_calls = fleet.hub_requests();
    assert!(
        hub_calls
            .iter()
            .any(|q| q.method == "DELETE" && q.path == "/users/alice/server" && q.status == 204),
        "{hub_calls:#?}"
    );
    // opsbot itself deleted nothing: the hub did.
    assert!(pod_deletes(&sim).is_empty());
    assert!(!pod_exists(&fleet, "staging", "jupyter-alice"));
    assert!(pod_exists(&fleet, "staging", "jupyter-bob-2ejones"));
}

#[tokio::test]
async fn user_stop_of_a_server_still_starting_falls_back_to_the_pod_and_says_why() {
    let (fleet, set, pbs) = start().await;
    let sim = fleet.cluster("aws-us").unwrap();
    let r = user_stop(&pbs, &set, "dave", Mode::Real).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output.contains(
            "pod `jupyter-dave` deleted (grace 30s; the hub says: dave is not running spawn)"
        ),
        "{}",
        r.output
    );
    let deletes = pod_deletes(&sim);
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert_eq!(deletes[0].name.as_deref(), Some("jupyter-dave"));
}

#[tokio::test]
async fn user_stop_dry_run_asks_the_hub_and_changes_nothing() {
    let (fleet, set, pbs) = start().await;
    let r = user_stop(&pbs, &set, "carol@uni.edu", Mode::DryRun).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("Dry run: the hub would stop the server of **carol@uni.edu** on staging"),
        "{}",
        r.output
    );
    assert!(!fleet.hub_requests().iter().any(|q| q.method == "DELETE"));
    assert!(pod_exists(&fleet, "staging", "jupyter-carol-40uni-2eedu"));
}

#[tokio::test]
async fn user_stop_with_a_rejected_token_deletes_the_pod_and_never_shows_the_token() {
    let (fleet, mut set, pbs) = start().await;
    let e = endpoint(&fleet, "staging");
    set.insert_hub_api(
        "staging",
        HubApi::new(&e.url, "wrong-token-value".to_string().into()).unwrap(),
    );
    let r = user_stop(&pbs, &set, "alice", Mode::Real).await;
    // The pod is gone, and the run says a step failed on the way.
    assert!(matches!(r.outcome, Outcome::Partial(_)), "{:?}", r.outcome);
    assert!(
        r.output.contains("the hub's API failed")
            && r.output.contains("refused opsbot's token")
            && r.output.contains("pod `jupyter-alice` deleted"),
        "{}",
        r.output
    );
    assert!(!r.output.contains("wrong-token-value"), "{}", r.output);
    assert!(!r.output.contains(&e.token), "{}", r.output);
    assert!(!pod_exists(&fleet, "staging", "jupyter-alice"));
}

#[tokio::test]
async fn user_stop_of_someone_without_a_server_changes_nothing() {
    let (fleet, set, pbs) = start().await;
    let sim = fleet.cluster("aws-us").unwrap();
    let r = user_stop(&pbs, &set, "ola", Mode::Real).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert!(
        r.output
            .starts_with("**ola** has no running server on staging; nothing to stop (the hub says: ola is not running)."),
        "{}",
        r.output
    );
    assert!(pod_deletes(&sim).is_empty());
}
