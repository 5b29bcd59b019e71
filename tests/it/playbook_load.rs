//! Load-time validation of playbooks: every mistake is reported with its
//! `file:line:col` and a hint at what would be right.

use opsbot::playbook::{ParamType, Playbooks};

const GOOD: &str = r#"name: hub-restart
summary: Rollout-restart the hub Deployment
params:
  hub:    { type: hub }
  reason: { type: text, max_len: 200 }
mutates: true
approval: { approvers: 1 }
lock: "hub/{{ hub.cluster }}/{{ hub.namespace }}"
timeout: 5m
steps:
  - id: find
    kube.list: { cluster: "{{ hub.cluster }}", namespace: "{{ hub.namespace }}", kind: Deployment, labels: "component=hub" }
  - id: restart
    kube.rollout_restart: { cluster: "{{ hub.cluster }}", namespace: "{{ hub.namespace }}", kind: Deployment, name: "{{ steps.find.items[0].name }}" }
  - id: ready
    kube.wait_rollout: { cluster: "{{ hub.cluster }}", namespace: "{{ hub.namespace }}", kind: Deployment, name: "{{ steps.find.items[0].name }}", timeout: 3m }
result: |
  Hub **{{ hub.name }}** restarted: {{ steps.ready.ready }}/{{ steps.ready.desired }} ready in {{ steps.ready.elapsed }}.
"#;

fn errors(text: &str) -> Vec<String> {
    match Playbooks::from_str("pb.yaml", text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn the_design_example_loads_with_its_params_steps_and_budget() {
    let pbs = Playbooks::from_str("pb.yaml", GOOD).unwrap();
    let pb = pbs.get("hub-restart").unwrap();
    assert_eq!(pb.params.len(), 2);
    assert_eq!(pb.params[0].ty, ParamType::Hub);
    assert_eq!(pb.params[1].max_len, Some(200));
    assert!(pb.mutates);
    assert_eq!(pb.approval.approvers, 1);
    assert_eq!(pb.timeout, std::time::Duration::from_secs(300));
    let ids: Vec<&str> = pb.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["find", "restart", "ready"]);
    assert_eq!(pb.steps[1].action_name(), "kube.rollout_restart");
    assert_eq!(pb.steps[0].retries, 3);
    assert_eq!(pb.file, "pb.yaml");
}

#[test]
fn unknown_step_kind_is_located_and_suggests_the_near_miss() {
    let text = GOOD.replace("kube.list:", "kube.lsit:");
    let e = one_error(&text);
    assert!(
        e.starts_with("pb.yaml:12:5: unknown step kind 'kube.lsit' (did you mean 'kube.list'?)"),
        "{e}"
    );
}

#[test]
fn unknown_action_argument_is_located_on_its_key() {
    let text = GOOD.replace("labels: \"component=hub\"", "lables: \"component=hub\"");
    let e = one_error(&text);
    assert!(e.starts_with("pb.yaml:12:"), "{e}");
    assert!(
        e.contains("kube.list: unknown argument 'lables' (did you mean 'labels'?)"),
        "{e}"
    );
    let col: usize = e.split(':').nth(2).unwrap().parse().unwrap();
    assert_eq!(&text.lines().nth(11).unwrap()[col - 1..col + 5], "lables");
}

#[test]
fn missing_action_argument_names_the_argument() {
    let text = GOOD.replace(", kind: Deployment, labels:", ", labels:");
    let e = one_error(&text);
    assert_eq!(e, "pb.yaml:12:5: kube.list: missing argument 'kind'");
}

#[test]
fn template_syntax_error_is_located_on_the_value() {
    let text = GOOD.replace(
        "lock: \"hub/{{ hub.cluster }}",
        "lock: \"hub/{{ hub.cluster }",
    );
    let e = one_error(&text);
    assert!(
        e.starts_with("pb.yaml:8:7: lock: template syntax error"),
        "{e}"
    );
}

#[test]
fn reference_to_an_unknown_param_is_refused() {
    let text = GOOD.replace("Hub **{{ hub.name }}**", "Hub **{{ hubb.name }}**");
    let e = one_error(&text);
    assert!(
        e.starts_with("pb.yaml:18:3: result: unknown name 'hubb' (did you mean 'hub'?)"),
        "{e}"
    );
}

#[test]
fn reference_to_a_later_step_is_refused() {
    let text = GOOD.replace(
        "name: \"{{ steps.find.items[0].name }}\" }\n  - id: ready",
        "name: \"{{ steps.ready.name }}\" }\n  - id: ready",
    );
    let e = one_error(&text);
    assert!(e.starts_with("pb.yaml:14:"), "{e}");
    assert!(e.contains("'steps.ready' is not an earlier step"), "{e}");
}

#[test]
fn duplicate_step_ids_are_refused() {
    let text = GOOD.replace("- id: ready", "- id: restart");
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e.starts_with("pb.yaml:15:9: duplicate step id 'restart'")),
        "{errs:#?}"
    );
}

#[test]
fn bad_duration_says_what_a_good_one_looks_like() {
    let text = GOOD.replace("timeout: 5m", "timeout: five minutes");
    let e = one_error(&text);
    assert!(
        e.starts_with("pb.yaml:9:10: timeout: 'five minutes' is not a duration"),
        "{e}"
    );
    assert!(e.contains("write e.g. 30s, 5m, 1h"), "{e}");
}

#[test]
fn unknown_param_type_lists_the_known_types() {
    let text = GOOD.replace("{ type: hub }", "{ type: hubb }");
    let e = one_error(&text);
    assert!(
        e.starts_with("pb.yaml:4:19: unknown param type 'hubb' (did you mean 'hub"),
        "{e}"
    );
    assert!(e.contains("expected one of: hub, hubs, cluster"), "{e}");
}

#[test]
fn mutating_step_needs_a_playbook_marked_mutates() {
    let text = GOOD.replace("mutates: true", "mutates: false");
    let e = one_error(&text);
    assert!(
        e.starts_with(
            "pb.yaml:14:5: step 'restart' uses kube.rollout_restart which changes the cluster"
        ),
        "{e}"
    );
    assert!(e.contains("mutates: true"), "{e}");
}

#[test]
fn unknown_kind_in_a_kube_step_lists_the_known_kinds() {
    let text = GOOD.replace("kind: Deployment, labels", "kind: Deploymnet, labels");
    let e = one_error(&text);
    assert!(e.contains("unknown kind 'Deploymnet'"), "{e}");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = GOOD
        .replace("timeout: 5m", "timeout: soon")
        .replace("kube.list:", "kube.lst:")
        .replace("{ type: hub }", "{ type: hubb }");
    let errs = errors(&text);
    assert!(errs.len() >= 3, "{errs:#?}");
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let errs = errors("name: x\nsteps: [\n");
    assert!(errs[0].starts_with("pb.yaml:"), "{errs:?}");
    assert!(!errs[0].starts_with("pb.yaml: "), "{errs:?}");
}

#[test]
fn a_playbook_directory_refuses_two_playbooks_with_one_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), GOOD).unwrap();
    std::fs::write(dir.path().join("b.yaml"), GOOD).unwrap();
    let err = Playbooks::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("b.yaml:1:7: playbook name 'hub-restart' is already used by"),
        "{err}"
    );
}

#[test]
fn plan_shows_rendered_targets_and_values_from_read_steps() {
    let pbs = Playbooks::from_str("pb.yaml", GOOD).unwrap();
    let pb = pbs.get("hub-restart").unwrap();
    let params = serde_json::json!({"hub": {"name": "staging", "cluster": "aws-us", "namespace": "staging"}, "reason": "cfg"});
    let plan = pb.plan(&params).unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].id, "restart");
    assert_eq!(
        plan.steps[0].target,
        "patch apps/v1 deployments staging/<from step find> @aws-us"
    );
    assert_eq!(plan.hash.len(), 64);
    let other = pb.plan(&serde_json::json!({"hub": {"name": "prod", "cluster": "aws-us", "namespace": "prod"}, "reason": "cfg"})).unwrap();
    assert_ne!(
        plan.hash, other.hash,
        "approvals must bind to the exact plan"
    );
    assert_eq!(pb.lock_key(&params).as_deref(), Some("hub/aws-us/staging"));
}

#[test]
fn permissions_cover_every_step() {
    let pbs = Playbooks::from_str("pb.yaml", GOOD).unwrap();
    let perms: Vec<String> = pbs
        .get("hub-restart")
        .unwrap()
        .permissions()
        .into_iter()
        .map(|p| format!("{} {}/{}", p.verb, p.group, p.resource))
        .collect();
    assert_eq!(
        perms,
        [
            "get apps/deployments",
            "list apps/deployments",
            "patch apps/deployments",
            // A kube.list of a kind the server's watch cache keeps declares
            // the watch that cache needs.
            "watch apps/deployments"
        ]
    );
}

#[test]
fn labels_are_templates_checked_like_the_result() {
    let text = format!("{GOOD}labels: [\"restarted: {{{{ hub.name }}}}\"]\n");
    let pbs = Playbooks::from_str("pb.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pbs.get("hub-restart").unwrap().labels,
        ["restarted: {{ hub.name }}"]
    );

    let e = one_error(&format!("{GOOD}labels: [\"{{{{ hubb.name }}}}\"]\n"));
    assert!(
        e.starts_with("pb.yaml:19:10: labels: unknown name 'hubb' (did you mean 'hub'?)"),
        "{e}"
    );
    let e = one_error(&format!("{GOOD}labels: \"restarted\"\n"));
    assert!(
        e.starts_with("pb.yaml:19:9: labels must be a list of templates"),
        "{e}"
    );
}

const RANGE: &str = r#"name: p
params:
  cluster: { type: cluster }
steps:
  - id: now
    prometheus.query: { cluster: "{{ cluster.name }}", query: up }
  - id: history
    prometheus.range: { cluster: "{{ cluster.name }}", since: 1h, query: up }
"#;

#[test]
fn a_chart_names_a_range_step_and_a_title_checked_like_the_result() {
    let text = format!(
        "{RANGE}chart: {{ step: history, title: \"up on {{{{ cluster.name }}}}\", y: targets up }}\n"
    );
    let pbs = Playbooks::from_str("pb.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let chart = pbs.get("p").unwrap().chart.clone().expect("a chart");
    assert_eq!(chart.step, "history");
    assert_eq!(chart.title, "up on {{ cluster.name }}");
    assert_eq!(chart.y, "targets up");

    let e = one_error(&format!("{RANGE}chart: {{ step: now, title: up }}\n"));
    assert!(
        e.contains("chart.step 'now' is not a prometheus.range step; name one of its prometheus.range steps: history"),
        "{e}"
    );
    let e = one_error(&format!(
        "{RANGE}chart: {{ step: history, title: \"{{{{ clusterr.name }}}}\" }}\n"
    ));
    assert!(e.contains("chart.title: unknown name 'clusterr'"), "{e}");
    let e = one_error(&format!("{RANGE}chart: {{ step: history }}\n"));
    assert!(e.contains("step and title are required"), "{e}");
    let e = one_error(&format!(
        "{RANGE}chart: {{ step: history, title: t, colour: red }}\n"
    ));
    assert!(e.contains("unknown chart field 'colour'"), "{e}");
}
