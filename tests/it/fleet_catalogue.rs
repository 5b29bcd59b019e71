//! Issue 13, "each catalogue entry through the binary": every fixture of
//! `src/jupyterhub/diagnose/fixtures.rs` is written out as a seeded cluster
//! (its pod, events, node, container logs and the hub's log lines), served
//! by `opsbot sim`, and `opsbot run --config … "triage tickets <user>"` must
//! lead with the entry the fixture is about, as the library does.

use serde_json::{json, Value};

use crate::diagnose_catalogue::fixtures;
use crate::support::binary::{opsbot_run, output_text, SimProcess};

const NS: &str = "tickets";

/// Rename a fixture's objects to user `user` on node `node` in [`NS`].
fn rename(v: &Value, user: &str, node: &str) -> Value {
    let text = serde_json::to_string(v).unwrap();
    let text = text
        .replace(fixtures::POD, &format!("jupyter-{user}"))
        .replace("alice-40example-2ecom", user)
        .replace("alice@example.com", user)
        .replace("gke-user-small-7f3a", node)
        .replace("hub-a", NS);
    serde_json::from_str(&text).unwrap()
}

fn rename_line(line: &str, user: &str) -> String {
    line.replace(fixtures::POD, &format!("jupyter-{user}"))
        .replace("alice-40example-2ecom", user)
        .replace("alice@example.com", user)
}

fn yaml_docs(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn every_catalogue_entry_is_the_triage_of_its_seeded_case_through_the_binary() {
    let catalogue = opsbot::actions::diagnose::builtin_catalogue().unwrap();
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})];
    let mut logs = Vec::new();
    let mut hub_lines = Vec::new();
    let mut cases = Vec::new();
    for (name, id, ev) in fixtures::all() {
        // Where a pod fits depends on the fixture's node pools, which a
        // seeded cluster computes from its own nodes: pinned by the library.
        if id == "insufficient-resources" {
            continue;
        }
        let user = format!("fx-{}", name.replace('_', "-"));
        let node = format!("node-{user}");
        if let Some(pod) = &ev.pod {
            objects.push(rename(&serde_json::to_value(pod).unwrap(), &user, &node));
        }
        if let Some(n) = &ev.node {
            let mut n = rename(&serde_json::to_value(n).unwrap(), &user, &node);
            n["apiVersion"] = json!("v1");
            n["kind"] = json!("Node");
            objects.push(n);
        }
        for (k, e) in ev.events.iter().enumerate() {
            let mut e = rename(&serde_json::to_value(e).unwrap(), &user, &node);
            e["apiVersion"] = json!("v1");
            e["kind"] = json!("Event");
            e["metadata"]["name"] = json!(format!("ev-{user}-{k}"));
            objects.push(e);
        }
        if !ev.logs.is_empty() || !ev.previous_logs.is_empty() {
            let join = |l: &[String]| {
                l.iter()
                    .map(|x| rename_line(x, &user))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            logs.push(json!({
                "namespace": NS, "pod": format!("jupyter-{user}"), "container": "notebook",
                "text": join(&ev.logs), "previous": join(&ev.previous_logs),
            }));
        }
        hub_lines.extend(ev.hub_logs.iter().map(|l| rename_line(l, &user)));
        let entry = catalogue.entries().iter().find(|e| e.id == id).unwrap();
        cases.push((name, user, entry.title.clone()));
    }
    objects.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "hub-0", "namespace": NS, "labels": {"app": "jupyterhub", "component": "hub"}},
        "spec": {"containers": [{"name": "hub", "image": "quay.io/jupyterhub/k8s-hub:4.1.0"}]},
        "status": {"phase": "Running"}
    }));
    logs.push(
        json!({"namespace": NS, "pod": "hub-0", "container": "hub", "text": hub_lines.join("\n")}),
    );
    let sim_yaml = serde_yaml::to_string(&json!({ "logs": logs })).unwrap();
    let manifests = yaml_docs(&objects);
    let sim = SimProcess::start(&[("c/sim.yaml", &sim_yaml), ("c/00-all.yaml", &manifests)]);
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: c, kubeconfig: "{kc}", context: c }}
hubs:
  - {{ name: tickets, cluster: c, namespace: {NS} }}
people:
  - {{ id: sam, roles: [support] }}
roles:
  support: {{ run: ["*"] }}
"#,
        kc = sim.kubeconfig().display()
    ));
    assert!(cases.len() >= 30, "only {} seeded cases", cases.len());
    let mut wrong = Vec::new();
    for (name, user, title) in &cases {
        let out = opsbot_run(&config, "sam", &format!("triage tickets {user}"));
        let text = output_text(&out);
        if out.status.code() != Some(0) || !text.contains(&format!(": {title}**")) {
            wrong.push(format!("{name}: wanted \"{title}\", got:\n{text}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} seeded cases:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n\n")
    );
}
