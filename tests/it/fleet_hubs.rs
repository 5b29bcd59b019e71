//! Issue 13, "hubs that share a name": a fleet whose clusters each run a
//! hub called `hub03`, with an `opsbot.yaml` that lists no hubs (so they are
//! discovered), through `opsbot run --config` against `opsbot sim`.

use std::sync::{Mutex, OnceLock};

/// `opsbot run` processes of this file one at a time: they share one
/// SQLite audit file, which refuses a second writer while one holds it.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

use crate::support::binary::{hub_seed, opsbot_run, output_text, SimProcess};

/// Clusters c00, c01, c02 each with `hub03`; c01 also has `solo`.
fn config() -> &'static std::path::Path {
    static SIM: OnceLock<(SimProcess, std::path::PathBuf)> = OnceLock::new();
    let (_, config) = SIM.get_or_init(|| {
        let h = hub_seed("hub03");
        let solo = hub_seed("solo");
        let sim = SimProcess::start(&[
            ("fleet.yaml", "clusters: [c00, c01, c02]\n"),
            ("c00/hub.yaml", &h),
            ("c01/hub.yaml", &h),
            ("c01/solo.yaml", &solo),
            ("c02/hub.yaml", &h),
        ]);
        let kc = sim.kubeconfig().display().to_string();
        let config = sim.write_config(&format!(
            r#"
clusters:
  - {{ name: c00, kubeconfig: "{kc}", context: c00 }}
  - {{ name: c01, kubeconfig: "{kc}", context: c01 }}
  - {{ name: c02, kubeconfig: "{kc}", context: c02 }}
people:
  - {{ id: sam, roles: [support] }}
roles:
  support: {{ run: ["*"] }}
"#
        ));
        (sim, config)
    });
    config
}

fn run(text: &str) -> (Option<i32>, String) {
    let config = config();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = opsbot_run(config, "sam", text);
    (out.status.code(), output_text(&out))
}

#[test]
fn without_a_hubs_section_hubs_are_discovered() {
    let (code, text) = run("hub status solo");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("solo"), "{text}");
}

#[test]
fn a_qualified_hub_name_is_accepted_where_the_bare_one_is_shared() {
    let (code, text) = run("hub status c01/hub03");
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("not a hub name"), "{text}");
    assert!(text.contains("c01/hub03"), "{text}");
    // And in a command taking a user too.
    let (code, text) = run("triage c02/hub03 alice");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("no server pod found"), "{text}");
}

#[test]
fn an_ambiguous_bare_hub_name_is_refused_with_the_qualified_choices() {
    let (code, text) = run("hub status hub03");
    assert_ne!(code, Some(0), "{text}");
    assert!(
        text.contains("c00/hub03, c01/hub03, c02/hub03"),
        "the choices: {text}"
    );
    assert!(text.contains("write one of"), "{text}");
}

#[test]
fn a_misspelt_shared_hub_name_is_offered_its_qualified_forms() {
    let (code, text) = run("hub status hub3");
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("Did you mean"), "{text}");
    assert!(text.contains("c00/hub03"), "{text}");
    // A bare name that is unique needs no cluster.
    let (code, text) = run("hub status c01/solo");
    assert_eq!(code, Some(0), "{text}");
}
