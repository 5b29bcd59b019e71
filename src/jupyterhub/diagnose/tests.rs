//! Each shipped catalogue entry against a realistic user server, plus the
//! engine's ranking, phase and JSON shape.

use super::fixtures::{self, IMAGE};
use super::*;

fn shipped() -> Catalogue {
    Catalogue::from_str(
        "playbooks/knowledge/jupyterhub.yaml",
        include_str!("../../../playbooks/knowledge/jupyterhub.yaml"),
    )
    .unwrap_or_else(|d| panic!("shipped catalogue does not load:\n{d}"))
}

fn ids(d: &Diagnosis) -> Vec<&str> {
    d.findings.iter().map(|f| f.id.as_str()).collect()
}

#[test]
fn every_fixture_is_diagnosed_as_its_expected_entry() {
    let cat = shipped();
    for (name, expected, ev) in fixtures::all() {
        let d = cat.diagnose(&ev);
        assert_eq!(
            d.top().map(|f| f.id.as_str()),
            Some(expected),
            "{name}: {:#?}",
            d
        );
    }
}

#[test]
fn image_pull_error_names_the_broken_image() {
    let d = shipped().diagnose(&fixtures::image_pull());
    assert_eq!(d.phase, "ImagePullBackOff");
    let f = d.top().unwrap();
    assert_eq!(f.id, "image-pull");
    // quay.io answers 401 for the misspelt repository: the auth cause, which says so.
    assert!(f.cause.contains("unauthorized"), "{}", f.cause);
    assert!(f.cause.contains("does not exist"), "{}", f.cause);
    assert!(
        f.cause.contains("quay.io/jupyter/scipy-notebok:2024-05-27"),
        "{}",
        f.cause
    );
    assert!(f.matched.contains("Failed to pull image"), "{}", f.matched);
    assert!(
        d.evidence
            .iter()
            .any(|l| l.starts_with("warning event Failed 3m ago (x3): Failed to pull image")),
        "{:#?}",
        d.evidence
    );
}

#[test]
fn insufficient_memory_names_the_pool_another_profile_could_use_now() {
    let d = shipped().diagnose(&fixtures::insufficient_memory());
    assert_eq!(d.phase, "Pending");
    let f = d.top().unwrap();
    assert_eq!(f.id, "insufficient-resources");
    assert_eq!(f.title, "No node has enough free memory for the server");
    assert!(f.cause.contains("4 CPU and 30Gi memory"), "{}", f.cause);
    // its profile is pinned to user-small, whose nodes are all smaller
    assert!(
        f.cause.contains(
            "Even an empty node of the pools it may use is too small: a new node offers at most 3920m CPU and 13Gi memory. Pool user-large, which the server's profile does not use, has room for it now."
        ),
        "{}",
        f.cause
    );
    assert!(f.fix.contains("(pool user-large fits it)"), "{}", f.fix);
    // the core nodes' taint in the same message is not a second finding
    assert_eq!(ids(&d), ["insufficient-resources"]);
    // the pool it may use is in the evidence, with what is free and what a new node offers
    assert!(
        d.evidence.contains(
            &"pool user-small: 3/3 nodes ready, most free on one node cpu 3500m memory 6Gi, a new node cpu 3920m memory 13Gi; autoscaler unknown".to_string()
        ),
        "{:?}",
        d.evidence
    );
}

#[test]
fn a_full_pool_below_its_max_fits_once_the_autoscaler_adds_a_node() {
    let mut ev = fixtures::insufficient_memory_for_a_new_node();
    ev.pools = fixtures::pools_with_user_small_autoscaled(3, 5);
    let d = shipped().diagnose(&ev);
    let f = d.top().unwrap();
    assert!(
        f.cause
            .ends_with("It fits once the autoscaler adds a node (pool user-small at 3/5)."),
        "{}",
        f.cause
    );
    assert!(f.fix.starts_with("Nothing to change"), "{}", f.fix);
    assert!(
        f.reply.contains("A new machine is being added"),
        "{}",
        f.reply
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.starts_with("pool user-small:") && e.ends_with("autoscaler 3/5")),
        "{:?}",
        d.evidence
    );
}

#[test]
fn a_full_pool_at_its_max_is_reported_full_and_nothing_is_promised() {
    let mut ev = fixtures::insufficient_memory_for_a_new_node();
    ev.pools = fixtures::pools_with_user_small_autoscaled(3, 3);
    let d = shipped().diagnose(&ev);
    let f = d.top().unwrap();
    assert!(
        f.cause.ends_with(
            "Pool user-small is full: a new node of it would fit the server, but the pool is at its maximum size (3/3), so the autoscaler will not add one. Pool user-large, which the server's profile does not use, has room for it now."
        ),
        "{}",
        f.cause
    );
    assert_eq!(
        f.fix,
        "Raise the maximum size of node pool user-small (its node group's settings in the cloud), choose a smaller profile, or offer a profile on the pool that fits (user-large)."
    );
    assert!(f.reply.contains("none is being added"), "{}", f.reply);
    assert!(
        d.evidence
            .iter()
            .any(|e| e.ends_with("autoscaler 3/3 (at max)")),
        "{:?}",
        d.evidence
    );
}

#[test]
fn without_the_autoscaler_status_growth_is_not_promised() {
    let d = shipped().diagnose(&fixtures::insufficient_memory_for_a_new_node());
    let f = d.top().unwrap();
    assert!(
        f.cause.contains("whether the pool can grow is unknown"),
        "{}",
        f.cause
    );
    assert!(
        f.fix.starts_with("Add a node to pool user-small"),
        "{}",
        f.fix
    );
}

#[test]
fn a_request_larger_than_any_node_says_no_pool_fits() {
    let d = shipped().diagnose(&fixtures::insufficient_memory_larger_than_any_node());
    let f = d.top().unwrap();
    assert!(
        f.cause
            .contains("Even an empty node of the pools it may use is too small: a new node offers at most 3920m CPU and 13Gi memory."),
        "{}",
        f.cause
    );
    assert_eq!(
        f.fix,
        "Offer this profile on bigger nodes, or lower its requests below what a node offers."
    );
}

#[test]
fn insufficient_cpu_is_recognised_as_cpu() {
    let d = shipped().diagnose(&fixtures::insufficient_cpu());
    let f = d.top().unwrap();
    assert_eq!(f.title, "No node has enough free cpu for the server");
    assert!(f.cause.contains("user-large"), "{}", f.cause);
}

#[test]
fn old_style_taint_message_is_recognised_too() {
    let mut ev = fixtures::untolerated_taint();
    ev.events = vec![fixtures::event(
        "FailedScheduling",
        "Warning",
        "0/3 nodes are available: 3 node(s) had taint {hub.jupyter.org/dedicated: core}, that the pod didn't tolerate.",
        1,
        1,
    )];
    let d = shipped().diagnose(&ev);
    assert_eq!(ids(&d), ["untolerated-taint"]);
}

#[test]
fn untolerated_taint_alone_names_the_taint() {
    let d = shipped().diagnose(&fixtures::untolerated_taint());
    assert_eq!(ids(&d), ["untolerated-taint"]);
    assert!(d.findings[0]
        .cause
        .contains("hub.jupyter.org/dedicated: core"));
}

#[test]
fn singleuser_not_found_beats_the_generic_crashloop_and_explains_a_clean_start() {
    let d = shipped().diagnose(&fixtures::singleuser_not_found());
    assert_eq!(d.phase, "CrashLoopBackOff");
    assert_eq!(ids(&d), ["singleuser-not-found"], "{:#?}", d.findings);
    let f = &d.findings[0];
    assert!(f
        .matched
        .ends_with("exec: jupyterhub-singleuser: not found"));
    assert!(
        f.fix.contains("clean environment") && f.fix.contains(".bashrc"),
        "{}",
        f.fix
    );
}

#[test]
fn singleuser_no_such_file_is_the_broken_environment_too() {
    let d = shipped().diagnose(&fixtures::singleuser_no_such_file());
    assert_eq!(d.top().unwrap().id, "singleuser-not-found");
}

#[test]
fn no_space_left_on_device_is_a_full_home_volume() {
    let d = shipped().diagnose(&fixtures::disk_full());
    let f = d.top().unwrap();
    assert_eq!(f.id, "disk-full");
    assert!(
        f.fix.contains("grow the PVC claim-alice-40example-2ecom"),
        "{}",
        f.fix
    );
    assert!(f.matched.contains("[Errno 28] No space left on device"));
}

#[test]
fn oom_killed_last_state_suggests_a_bigger_profile_even_when_running_again() {
    let d = shipped().diagnose(&fixtures::oom_killed());
    assert_eq!(d.phase, "Running");
    assert_eq!(
        ids(&d),
        ["oom-killed"],
        "healthy must not be reported beside a failure"
    );
    let f = &d.findings[0];
    assert!(f.cause.contains("exit code 137"), "{}", f.cause);
    assert!(f.fix.contains("bigger profile"));
    assert!(
        d.evidence
            .iter()
            .any(|l| l.contains("last terminated OOMKilled (exit 137) 6m ago")),
        "{:#?}",
        d.evidence
    );
}

#[test]
fn pending_for_eight_minutes_while_pulling_is_a_spawn_timeout() {
    let d = shipped().diagnose(&fixtures::spawn_timeout());
    assert_eq!(d.phase, "Pending");
    let f = d.top().unwrap();
    assert_eq!(f.id, "spawn-timeout");
    assert!(f.cause.contains("Pending for 8m"), "{}", f.cause);
    assert!(f.cause.contains(IMAGE));
}

#[test]
fn a_young_pending_pod_pulling_its_image_is_not_a_timeout() {
    let mut ev = fixtures::spawn_timeout();
    ev.now -= chrono::Duration::minutes(4);
    let d = shipped().diagnose(&ev);
    assert!(d.findings.is_empty(), "{:#?}", d.findings);
}

#[test]
fn node_not_ready_names_the_node() {
    let d = shipped().diagnose(&fixtures::node_not_ready());
    let f = d.top().unwrap();
    assert_eq!(f.id, "node-not-ready");
    assert!(f.cause.contains("gke-user-small-7f3a"));
    assert!(
        d.evidence.iter().any(|l| l
            == "node gke-user-small-7f3a condition Ready=Unknown: Kubelet stopped posting node status."),
        "{:#?}",
        d.evidence
    );
}

#[test]
fn terminating_for_25_minutes_is_stuck_and_lists_finalizers() {
    let d = shipped().diagnose(&fixtures::stuck_terminating());
    assert_eq!(d.phase, "Terminating");
    let f = d.top().unwrap();
    assert_eq!(f.id, "stuck-terminating");
    assert!(f.cause.contains("25m ago"), "{}", f.cause);
    assert!(
        f.cause.contains("hub.example.org/home-backup"),
        "{}",
        f.cause
    );
}

#[test]
fn terminating_for_five_minutes_is_not_stuck_yet() {
    let mut ev = fixtures::stuck_terminating();
    ev.now -= chrono::Duration::minutes(20);
    let d = shipped().diagnose(&ev);
    assert!(!ids(&d).contains(&"stuck-terminating"), "{:#?}", d.findings);
}

#[test]
fn an_evicted_server_says_which_resource_ran_out() {
    let d = shipped().diagnose(&fixtures::evicted());
    assert_eq!(d.phase, "Evicted");
    let f = d.top().unwrap();
    assert_eq!(f.id, "evicted");
    assert!(
        f.cause.contains("low on resource: ephemeral-storage"),
        "{}",
        f.cause
    );
}

#[test]
fn unknown_crashloop_falls_back_to_the_generic_entry_with_last_log_lines() {
    let d = shipped().diagnose(&fixtures::crashloop_unknown());
    assert_eq!(ids(&d), ["crashloop"]);
    let f = &d.findings[0];
    assert!(f.cause.contains("exit code 1"), "{}", f.cause);
    assert!(
        f.cause.contains("ImportError: cannot import name 'main'"),
        "{}",
        f.cause
    );
    assert!(f.fix.contains("user:alice@example.com"), "{}", f.fix);
}

#[test]
fn a_running_ready_server_is_reported_healthy() {
    let d = shipped().diagnose(&fixtures::healthy());
    assert_eq!(d.phase, "Running");
    assert_eq!(ids(&d), ["healthy"]);
    assert!(d.findings[0].cause.contains("alice@example.com"));
    assert!(d.findings[0].cause.contains("age 42m"));
}

#[test]
fn no_pod_is_absent_with_nothing_matched() {
    let d = shipped().diagnose(&fixtures::absent());
    assert_eq!(d.phase, "absent");
    assert!(d.findings.is_empty());
    assert_eq!(d.evidence, ["no pod: the user's server is not running"]);
}

#[test]
fn json_has_the_shape_playbook_templates_use() {
    let d = shipped().diagnose(&fixtures::oom_killed());
    let j = d.to_json();
    assert_eq!(j["phase"], "Running");
    assert_eq!(j["findings"][0]["id"], "oom-killed");
    for key in ["title", "cause", "fix", "reply", "matched"] {
        assert!(j["findings"][0][key].is_string(), "{key}");
    }
    assert!(j["evidence"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn log_matches_outrank_events_regardless_of_catalogue_order() {
    let text = r#"
- id: by-event
  title: e
  when: [{ source: event, pattern: "Back-off" }]
  cause: c
  fix: f
  reply: r
- id: by-log
  title: l
  when: [{ source: previous_log, pattern: "not found" }]
  cause: c
  fix: f
  reply: r
"#;
    let cat = Catalogue::from_str("t.yaml", text).unwrap();
    let d = cat.diagnose(&fixtures::singleuser_not_found());
    assert_eq!(ids(&d), ["by-log", "by-event"]);
}

#[test]
fn named_captures_reach_the_templates() {
    let text = r#"
- id: exit
  title: exit {{ code }}
  when: [{ source: previous_log, pattern: "line (?P<code>\\d+):" }]
  cause: "{{ user }} on {{ node }}"
  fix: f
  reply: r
"#;
    let cat = Catalogue::from_str("t.yaml", text).unwrap();
    let d = cat.diagnose(&fixtures::singleuser_not_found());
    assert_eq!(d.findings[0].title, "exit 249");
    assert_eq!(
        d.findings[0].cause,
        "alice@example.com on gke-user-small-7f3a"
    );
}

#[test]
fn triage_of_a_broken_environment_reads_well() {
    let d = shipped().diagnose(&fixtures::singleuser_not_found());
    insta::assert_json_snapshot!(d.to_json());
}

#[test]
fn triage_of_an_unknown_crashloop_reads_well() {
    let d = shipped().diagnose(&fixtures::crashloop_unknown());
    insta::assert_json_snapshot!(d.to_json());
}

#[test]
fn triage_of_a_pod_that_does_not_fit_reads_well() {
    let d = shipped().diagnose(&fixtures::insufficient_memory());
    insta::assert_json_snapshot!(d.to_json());
}

#[test]
fn the_autoscalers_events_say_a_pool_is_at_its_maximum_when_its_status_is_unread() {
    let d = shipped().diagnose(&fixtures::insufficient_memory_at_max_by_events());
    let f = d.top().unwrap();
    assert_eq!(f.id, "insufficient-resources");
    assert!(f.fix.starts_with("Raise the maximum size"), "{}", f.fix);
    assert!(
        f.cause.contains("max node group size reached"),
        "{}",
        f.cause
    );
    assert!(f.reply.contains("none is being added"), "{}", f.reply);
}

#[test]
fn an_image_pull_failure_is_explained_by_its_cause() {
    let cat = shipped();
    let cause = |ev| cat.diagnose(&ev).top().unwrap().cause.clone();
    assert!(cause(fixtures::image_not_found()).contains("does not exist in its registry"));
    assert!(cause(fixtures::image_pull_rate_limit()).contains("too many requests"));
    assert!(cause(fixtures::image_pull()).contains("unauthorized"));
    assert!(
        cause(fixtures::invalid_image_name()).contains("does not exist or the registry refused it")
    );
}
