//! Issue 13, "every KubeSpawner naming": `opsbot run --config` against
//! `opsbot sim` serving `tests/seeds/kubespawner` (a z2jh 3.x hub with
//! `escape` labels beside a z2jh 4.x hub with `safe` slugs, a removed label
//! and a named server). Each user's failing server is found and explained;
//! nobody is told "nothing is starting".

use std::sync::{Mutex, OnceLock};

/// `opsbot run` processes of this file one at a time: they share one
/// SQLite audit file, which refuses a second writer while one holds it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

use crate::support::binary::{opsbot_run, output_text, SimProcess};

/// One sim for the whole file (the tests only read).
fn config() -> &'static std::path::Path {
    static SIM: OnceLock<(SimProcess, std::path::PathBuf)> = OnceLock::new();
    let (_, config) = SIM.get_or_init(|| {
        let mut sim = SimProcess::start_seed("kubespawner");
        let hub_api = sim.hub_api_url("edu", "lab");
        let token = sim.kubeconfig().with_file_name("lab-hub.token");
        std::fs::write(&token, "lab-hub-token").unwrap();
        let config = sim.write_config(&format!(
            r#"
clusters:
  - {{ name: edu, kubeconfig: "{kc}", context: edu }}
hubs:
  - {{ name: legacy, cluster: edu, namespace: legacy }}
  - {{ name: lab, cluster: edu, namespace: lab, jupyterhub_api: {{ url: "{hub_api}", token: "${{file:{token}}}" }} }}
people:
  - {{ id: sam, roles: [support] }}
roles:
  support: {{ run: ["*"] }}
"#,
            kc = sim.kubeconfig().display(),
            token = token.display(),
        ));
        (sim, config)
    });
    config
}

fn run(text: &str) -> String {
    let config = config();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = opsbot_run(config, "sam", text);
    let body = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}: {body}");
    assert!(!body.contains("nothing is starting"), "{text}: {body}");
    body
}

#[test]
fn an_escape_labelled_server_of_a_z2jh_3_hub_is_triaged() {
    let text = run("triage legacy bob-smith");
    assert!(
        text.contains("image cannot be pulled") && text.contains("does not exist in its registry"),
        "{text}"
    );
    assert!(text.contains("jupyter-bob-2dsmith"), "{text}");
}

#[test]
fn a_pod_with_only_the_escape_label_and_no_annotation_is_found() {
    let text = run("triage legacy dee.kay");
    assert!(text.contains("ran out of memory"), "{text}");
    assert!(text.contains("jupyter-dee-2ekay"), "{text}");
}

#[test]
fn a_safe_slug_that_kept_a_valid_name_is_found() {
    let text = run("triage lab carol-lee");
    assert!(
        text.contains("image cannot be pulled") && text.contains("does not exist in its registry"),
        "{text}"
    );
    assert!(text.contains("jupyter-carol-lee"), "{text}");
}

#[test]
fn a_safe_slug_that_hashed_the_name_is_found_by_its_label() {
    let text = run("triage lab jo.doe@uni.org");
    assert!(text.contains("home volume is full"), "{text}");
    assert!(
        text.contains("claim-jo-doe-uni-org---80507681"),
        "the home claim: {text}"
    );
}

#[test]
fn a_server_whose_username_label_was_removed_is_found_by_its_annotation() {
    let text = run("triage lab erin.x@uni.org");
    assert!(text.contains("ran out of memory"), "{text}");
    let status = run("user status lab erin.x@uni.org");
    assert!(
        status.contains("jupyter-erin-x-uni-org---64ef4a30"),
        "{status}"
    );
}

#[test]
fn a_named_server_is_told_from_the_users_default_server() {
    let gpu = run("triage lab alice:gpu");
    assert!(gpu.contains("cannot go on any node it tolerates"), "{gpu}");
    let status = run("user status lab alice:gpu");
    assert!(status.contains("`jupyter-alice--gpu`"), "{status}");
    let default = run("user status lab alice");
    assert!(default.contains("`jupyter-alice`"), "{default}");
    assert!(default.contains("Running"), "{default}");
    let logs = run("logs lab user:alice:gpu");
    assert!(!logs.contains("No pod with label"), "{logs}");
}

#[test]
fn upper_case_input_finds_the_lower_cased_user() {
    let text = run("triage lab Alice");
    assert!(text.contains("Nothing wrong found"), "{text}");
    assert!(text.contains("jupyter-alice"), "{text}");
}

#[test]
fn an_unknown_name_says_what_was_tried_and_who_is_close() {
    let text = run("triage lab carol.lee");
    assert!(text.contains("no server pod found"), "{text}");
    assert!(
        text.contains("carol-2elee"),
        "the escape label tried: {text}"
    );
    assert!(text.contains("Closest users"), "{text}");
    assert!(text.contains("carol-lee"), "the near name offered: {text}");
    let status = run("user status lab alcie");
    assert!(status.contains("alice"), "{status}");
}

#[test]
fn pending_names_users_by_their_raw_names_under_both_schemes() {
    let text = run("pending lab");
    assert!(text.contains("carol-lee"), "{text}");
    assert!(text.contains("alice:gpu"), "the named server: {text}");
}

#[test]
fn an_evicted_server_that_stayed_failed_is_explained() {
    let text = run("triage lab fay");
    assert!(text.contains("evicted from its node"), "{text}");
    assert!(text.contains("ephemeral-storage"), "{text}");
}

#[test]
fn an_eviction_is_explained_after_the_pod_is_gone() {
    let text = run("triage lab gus");
    assert!(text.contains("evicted from its node"), "{text}");
    assert!(text.contains("no server pod exists now"), "{text}");
    assert!(text.contains("resource: memory"), "{text}");
}

#[test]
fn a_failing_init_container_is_named() {
    let text = run("triage lab hana");
    assert!(
        text.contains("setup step before the server starts"),
        "{text}"
    );
    assert!(text.contains("block-cloud-metadata"), "{text}");
}

#[test]
fn the_autoscalers_events_say_the_pool_is_at_its_maximum_without_its_status_configmap() {
    let text = run("triage lab ivan");
    assert!(text.contains("No node has enough free memory"), "{text}");
    assert!(text.contains("max node group size reached"), "{text}");
    assert!(text.contains("Raise the maximum size"), "{text}");
}

#[test]
fn a_quota_refusal_that_never_became_a_pod_is_read_from_the_hubs_log() {
    let text = run("triage lab kim");
    assert!(text.contains("resource quota refused the server"), "{text}");
    assert!(text.contains("lab-quota"), "{text}");
    assert!(text.contains("limits.memory=64Gi"), "{text}");
}

#[test]
fn a_spawn_the_hub_gave_up_on_is_read_from_the_hubs_spawn_progress() {
    let text = run("triage lab lou");
    assert!(
        text.contains("The hub gave up waiting for the server to start"),
        "{text}"
    );
    assert!(text.contains("Spawn failed: Timeout"), "{text}");
}
