//! Issue 13, "BinderHub and Dask": `binder builds`, a binder-aware
//! `triage`, `dask clusters` health and `dask scale` (approval, dry run)
//! through `opsbot run --config` against `opsbot sim` serving
//! `tests/seeds/binder-dask`.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::support::binary::{opsbot_run, output_text, SimProcess};

/// One `opsbot run` at a time per audit file (SQLite takes one writer).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn start(policy: &str) -> (SimProcess, PathBuf) {
    let sim = SimProcess::start_seed("binder-dask");
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: gcp, kubeconfig: "{kc}", context: gcp }}
hubs:
  - {{ name: binder, cluster: gcp, namespace: binder }}
  - {{ name: daskhub, cluster: gcp, namespace: daskhub }}
people:
  - {{ id: sam, roles: [engineer] }}
  - {{ id: ana, roles: [engineer] }}
roles:
  engineer: {{ run: ["*"], approve: ["*"] }}
{policy}
"#,
        kc = sim.kubeconfig().display()
    ));
    (sim, config)
}

fn run(config: &std::path::Path, text: &str) -> (Option<i32>, String) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = opsbot_run(config, "sam", text);
    (out.status.code(), output_text(&out))
}

#[test]
fn binder_builds_shows_each_build_and_the_push_error_of_the_failed_one() {
    let (_sim, config) = start("");
    let (code, text) = run(&config, "binder builds binder");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("**2 build(s) on binder**, 1 failed"),
        "{text}"
    );
    assert!(
        text.contains("build-pangeo-2ddata-2dtutorial-8c1d2e-a1f-07`: **Failed**"),
        "{text}"
    );
    assert!(
        text.contains("Registry push error: Error pushing image: denied"),
        "{text}"
    );
    assert!(text.contains("Successfully tagged"), "the log tail: {text}");
    assert!(
        text.contains("https://github.com/binder-examples/requirements"),
        "{text}"
    );
}

#[test]
fn triage_of_a_binder_user_names_the_build_of_its_image() {
    let (_sim, config) = start("");
    let (code, text) = run(&config, "triage binder pangeo-data-tutorial-q8z1mf0c");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("image cannot be pulled"), "{text}");
    assert!(
        text.contains("from https://github.com/pangeo-data/tutorial"),
        "{text}"
    );
    assert!(
        text.contains("Its build `build-pangeo-2ddata-2dtutorial-8c1d2e-a1f-07` is Failed (failed; registry push error"),
        "{text}"
    );
}

#[test]
fn dask_clusters_tells_healthy_clusters_from_ones_with_missing_or_crashing_workers() {
    let (_sim, config) = start("");
    let (code, text) = run(&config, "dask clusters daskhub");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("`daskhub.1a2b3c` of nora: age 3h, healthy; scheduler Running, workers 2 running of 2 wanted"),
        "{text}"
    );
    assert!(text.contains("`daskhub.4d5e6f` of oscar"), "{text}");
    assert!(
        text.contains("**unhealthy**: 2 of 3 worker(s) not running (1 Pending); 1 worker(s) failed or not ready; workers restarted 6x"),
        "{text}"
    );
}

#[test]
fn dask_scale_waits_for_approval_and_shows_the_dry_run_of_the_change() {
    let (_sim, config) = start("");
    let (code, text) = run(&config, "dask scale daskhub daskhub.4d5e6f 5");
    assert_eq!(code, Some(3), "waits for approval: {text}");
    assert!(text.contains("from 3 to 5"), "the dry run: {text}");
    let (_, after) = run(&config, "dask clusters daskhub");
    assert!(
        after.contains("of 3 wanted"),
        "nothing changed yet: {after}"
    );
}

#[test]
fn dask_scale_changes_the_workers_wanted_once_allowed() {
    let (_sim, config) = start("policy: { exempt_from_approval: [\"dask scale\"] }");
    let (code, text) = run(&config, "dask scale daskhub daskhub.4d5e6f 1");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("scaled from 3 to 1 worker(s)"), "{text}");
    let (_, after) = run(&config, "dask clusters daskhub");
    assert!(after.contains("of 1 wanted"), "{after}");
    let (code, text) = run(&config, "dask scale daskhub daskhub.4d5e6f 5000");
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("1000"), "says the range: {text}");
    let (code, text) = run(&config, "dask scale daskhub nope 2");
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("nope"), "{text}");
}
