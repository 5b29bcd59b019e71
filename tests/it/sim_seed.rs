//! Seed parsing (SEED-FORMAT.md): cluster order, sim.yaml settings, relative
//! timestamps, and errors that name the file and document.

use std::path::Path;
use std::time::Duration;

use opsbot_sim::Seed;

fn file(cluster: &str, name: &str, text: &str) -> (String, String, String) {
    (cluster.to_string(), name.to_string(), text.to_string())
}

#[test]
fn seed_dir_uses_fleet_yaml_order_and_reads_sim_settings() {
    let seed =
        Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small")).unwrap();
    let names: Vec<&str> = seed.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["alpha", "beta"]);
    let alpha = &seed.clusters[0];
    assert_eq!(
        alpha.settings.rollout_delay,
        Some(Duration::from_millis(300))
    );
    assert_eq!(alpha.settings.users.len(), 3);
    assert_eq!(alpha.settings.logs[0].pod, "jupyter-frank");
    assert!(alpha.objects.iter().any(|o| o["kind"] == "DaskCluster"));
}

#[test]
fn without_an_order_clusters_come_sorted_and_relative_ages_resolve() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\n  creationTimestamp: -3h\nspec:\n  containers: [{name: c, image: i}]\n";
    let seed = Seed::from_files(
        vec![file("zeta", "a.yaml", pod), file("alpha", "b.yaml", pod)],
        vec![],
    )
    .unwrap();
    let names: Vec<&str> = seed.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["alpha", "zeta"]);
    let ts = seed.clusters[0].objects[0]["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let t = chrono::DateTime::parse_from_rfc3339(&ts).unwrap();
    let age = chrono::Utc::now() - t.with_timezone(&chrono::Utc);
    assert!(
        (age.num_minutes() - 180).abs() <= 1,
        "about 3h old, got {ts}"
    );
}

#[test]
fn explicit_order_wins_and_lists_are_flattened() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: x}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: x}}\n";
    let seed = Seed::from_files(
        vec![file("a", "1.yaml", list), file("b", "1.yaml", list)],
        vec!["b".into(), "a".into()],
    )
    .unwrap();
    assert_eq!(seed.clusters[0].name, "b");
    assert_eq!(seed.clusters[0].objects.len(), 2);
}

#[test]
fn errors_name_the_file_and_document() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Widget\nmetadata: {name: w}\n";
    let err = Seed::from_files(vec![file("c1", "things.yaml", text)], vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("c1/things.yaml: document 2"), "{err}");
    assert!(err.contains("unsupported kind Widget"), "{err}");
    let bad_age =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, creationTimestamp: -soon}\n";
    let err = Seed::from_files(vec![file("c1", "age.yaml", bad_age)], vec![])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c1/age.yaml: document 1") && err.contains("relative age"),
        "{err}"
    );
    let bad_sim = "users: [{name: x, tokn: y}]\n";
    let err = Seed::from_files(vec![file("c1", "sim.yaml", bad_sim)], vec![])
        .unwrap_err()
        .to_string();
    assert!(err.contains("c1/sim.yaml") && err.contains("tokn"), "{err}");
}

#[test]
fn missing_seed_dir_is_a_clear_error() {
    let err = Seed::from_dir(Path::new("/nonexistent/seed")).unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent/seed"));
}
