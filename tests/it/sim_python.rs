//! The official Python kubernetes client reads every object the simulator
//! serves (issue 14: API-server defaults filled in for fields required on
//! the wire), for the demo fleet and a generated one.

use std::path::Path;
use std::process::Command;

use crate::support::binary::{output_text, SimProcess};

fn lists_everything(kubeconfig: &Path) {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/python/list_everything.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(kubeconfig)
        .output()
        .expect("python3 runs (scripts/test installs the kubernetes client)");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(", 0 problems"), "{text}");
    assert!(!text.starts_with("listed 0 objects"), "{text}");
}

#[test]
fn the_python_client_deserializes_every_object_of_the_demo_fleet() {
    let sim =
        SimProcess::start_seed_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet"));
    lists_everything(sim.kubeconfig());
}

#[test]
fn the_python_client_deserializes_every_object_of_a_generated_fleet() {
    let (sim, _config) = SimProcess::start_synthetic("2x3x10");
    lists_everything(sim.kubeconfig());
}
