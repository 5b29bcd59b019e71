//! The executor over fake steps: fan-out with partial failure, retries,
//! timeouts, cancellation, `when`, dry-run and the result template.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opsbot::actions::{ActionError, ActionSpec, Registry, Target};
use opsbot::cluster::ClusterSet;
use opsbot::playbook::{
    execute, ExecContext, Mode, Outcome, Playbooks, Progress, RunResult, StepOutcome,
};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn describe(a: &Value) -> Target {
    Target {
        verb: "get".into(),
        target: a
            .get("target")
            .and_then(Value::as_str)
            .unwrap_or("fake")
            .to_string(),
    }
}

/// `fake.echo` returns its args; `fake.flaky` fails `fail_times` times with
/// `code` before succeeding (counter shared per registry); `fake.sleep` sleeps
/// `ms`; `fake.fail` fails with `code` when `fail` is true; `fake.mutate`
/// reports whether it was asked for a dry run.
fn registry(counter: Arc<AtomicU32>) -> Registry {
    let mut r = Registry::builtin();
    let base = |name: &'static str, mutates: bool, run: opsbot::actions::RunFn| ActionSpec {
        name,
        mutates,
        idempotent: false,
        check: |_| Ok(()),
        permissions: |_| Vec::new(),
        describe,
        run,
    };
    r.register(base(
        "fake.echo",
        false,
        Arc::new(|c| Box::pin(async move { Ok(c.args) })),
    ));
    r.register(base(
        "fake.flaky",
        false,
        Arc::new(move |c| {
            let counter = counter.clone();
            Box::pin(async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let fail_times = c.args["fail_times"].as_u64().unwrap_or(0) as u32;
                if n < fail_times {
                    Err(ActionError::Api {
                        code: c.args["code"].as_u64().unwrap_or(429) as u16,
                        reason: "TooManyRequests".into(),
                        message: "slow down".into(),
                        retry_after: Some(Duration::from_millis(5)),
                    })
                } else {
                    Ok(json!({ "calls": n + 1 }))
                }
            })
        }),
    ));
    r.register(base(
        "fake.sleep",
        false,
        Arc::new(|c| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(c.args["ms"].as_u64().unwrap_or(0))).await;
                Ok(json!({ "slept": true }))
            })
        }),
    ));
    r.register(base(
        "fake.fail",
        false,
        Arc::new(|c| {
            Box::pin(async move {
                if c.args["fail"] == true {
                    Err(ActionError::Api {
                        code: c.args["code"].as_u64().unwrap_or(503) as u16,
                        reason: "ServiceUnavailable".into(),
                        message: format!("{} is down", c.args["target"].as_str().unwrap_or("?")),
                        retry_after: None,
                    })
                } else {
                    Ok(json!({ "up": c.args["target"] }))
                }
            })
        }),
    ));
    // Changes that fail once with a 503 (the server may have acted), the
    // one idempotent, the other not; each answers with every try's stamp.
    let stamps = Arc::new(std::sync::Mutex::new(Vec::new()));
    for (name, idempotent) in [("fake.set_once", true), ("fake.bump_once", false)] {
        let stamps = stamps.clone();
        r.register(ActionSpec {
            idempotent,
            ..base(
                name,
                true,
                Arc::new(move |c| {
                    let stamps = stamps.clone();
                    Box::pin(async move {
                        let mut seen = stamps.lock().unwrap();
                        seen.push((c.attempt, c.issued_at));
                        if seen.len() == 1 {
                            return Err(ActionError::Api {
                                code: 503,
                                reason: "ServiceUnavailable".into(),
                                message: "the answer was lost".into(),
                                retry_after: None,
                            });
                        }
                        Ok(json!({ "tries": seen.iter().map(|(a, t)| json!([a, t.to_rfc3339()])).collect::<Vec<_>>() }))
                    })
                }),
            )
        });
    }
    r.register(base(
        "fake.mutate",
        true,
        Arc::new(|c| Box::pin(async move { Ok(json!({ "dry_run": c.dry_run })) })),
    ));
    r
}

struct Run {
    result: RunResult,
    progress: Vec<Progress>,
}

fn context(mode: Mode) -> (ExecContext, mpsc::UnboundedReceiver<Progress>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        ExecContext {
            clusters: ClusterSet::new(),
            mode,
            cancel: CancellationToken::new(),
            progress: tx,
            impersonate: None,
            guard: None,
        },
        rx,
    )
}

async fn run_with(text: &str, params: Value, mode: Mode, counter: Arc<AtomicU32>) -> Run {
    let pbs = Playbooks::from_str_with("t.yaml", text, &registry(counter))
        .unwrap_or_else(|e| panic!("{e}"));
    let pb = pbs.iter().next().unwrap().clone();
    let (ctx, mut rx) = context(mode);
    let result = execute(&pb, params, ctx).await;
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    Run { result, progress }
}

async fn run(text: &str, params: Value) -> Run {
    run_with(text, params, Mode::Real, Arc::new(AtomicU32::new(0))).await
}

fn finished(progress: &[Progress], id: &str) -> (StepOutcome, u32, bool) {
    progress
        .iter()
        .find_map(|p| match p {
            Progress::StepFinished {
                id: i,
                outcome,
                attempts,
                dry_run,
                ..
            } if i == id => Some((outcome.clone(), *attempts, *dry_run)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no StepFinished for {id}: {progress:?}"))
}

#[tokio::test]
async fn result_template_sees_params_and_step_outputs() {
    let r = run(
        r#"name: t
params: { who: { type: string } }
steps:
  - id: a
    fake.echo: { greeting: "hello {{ who }}", n: 3 }
result: "{{ steps.a.greeting }} x{{ steps.a.n + 1 }}"
"#,
        json!({"who": "ada"}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded);
    assert_eq!(r.result.output, "hello ada x4");
    assert_eq!(r.result.steps["a"]["n"], 3);
}

#[tokio::test]
async fn foreach_with_one_failing_item_reports_partial_and_completes_the_others() {
    let r = run(
        r#"name: t
params: { hubs: { type: hubs } }
steps:
  - id: status
    foreach: "{{ hubs }}"
    as: hub
    concurrency: 2
    retries: 0
    fake.fail: { target: "{{ hub.name }}", fail: "{{ hub.broken }}" }
result: |
  {% for r in steps.status.results %}{{ r.item.name }}={{ "up" if r.ok else "DOWN" }} {% endfor %}
"#,
        json!({"hubs": [{"name": "a", "broken": false}, {"name": "b", "broken": true}, {"name": "c", "broken": false}]}),
    )
    .await;
    match &r.result.outcome {
        Outcome::Partial(why) => assert!(
            why.contains("1 of 3 items failed") && why.contains("b is down"),
            "{why}"
        ),
        other => panic!("expected partial, got {other:?}"),
    }
    assert!(
        r.result.output.starts_with("a=up b=DOWN c=up"),
        "{}",
        r.result.output
    );
    assert_eq!(
        finished(&r.progress, "status").0,
        StepOutcome::Partial { ok: 2, failed: 1 }
    );
}

#[tokio::test]
async fn a_429_storm_is_retried_until_success() {
    let counter = Arc::new(AtomicU32::new(0));
    let r = run_with(
        r#"name: t
steps:
  - id: a
    fake.flaky: { fail_times: 3, code: 429 }
result: "calls={{ steps.a.calls }}"
"#,
        json!({}),
        Mode::Real,
        counter.clone(),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert_eq!(r.result.output, "calls=4");
    assert_eq!(finished(&r.progress, "a").1, 4);
}

#[tokio::test]
async fn retries_give_up_after_the_configured_count_and_name_the_step() {
    let r = run(
        r#"name: t
steps:
  - id: a
    retries: 1
    fake.flaky: { fail_times: 10, code: 503, target: "apps/v1 deployments s/hub @c" }
"#,
        json!({}),
    )
    .await;
    assert_eq!(
        r.result.output,
        "step a (fake.flaky apps/v1 deployments s/hub @c): TooManyRequests: slow down"
    );
    assert!(matches!(r.result.outcome, Outcome::Failed(_)));
    assert_eq!(finished(&r.progress, "a").1, 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let r = run(
        r#"name: t
steps:
  - id: a
    fake.flaky: { fail_times: 10, code: 403 }
"#,
        json!({}),
    )
    .await;
    assert!(matches!(r.result.outcome, Outcome::Failed(_)));
    assert_eq!(finished(&r.progress, "a").1, 1);
}

#[tokio::test]
async fn a_step_timeout_fails_the_step_with_a_clear_message() {
    let r = run(
        r#"name: t
steps:
  - id: slow
    timeout: 50ms
    fake.sleep: { ms: 60000 }
"#,
        json!({}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Failed(r.result.output.clone()));
    assert_eq!(
        r.result.output,
        "step slow (fake.sleep fake): timed out after 50ms"
    );
}

#[tokio::test]
async fn the_playbook_timeout_ends_the_run_as_timed_out() {
    let r = run(
        r#"name: t
timeout: 50ms
steps:
  - id: slow
    fake.sleep: { ms: 60000 }
"#,
        json!({}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::TimedOut);
    assert!(
        r.result
            .output
            .contains("timed out after 50ms during step slow"),
        "{}",
        r.result.output
    );
}

#[tokio::test]
async fn cancellation_aborts_the_in_flight_step_and_runs_nothing_after_it() {
    let pbs = Playbooks::from_str_with(
        "t.yaml",
        r#"name: t
steps:
  - id: slow
    fake.sleep: { ms: 60000 }
  - id: after
    fake.echo: { x: 1 }
"#,
        &registry(Arc::new(AtomicU32::new(0))),
    )
    .unwrap();
    let pb = pbs.get("t").unwrap().clone();
    let (ctx, mut rx) = context(Mode::Real);
    let cancel = ctx.cancel.clone();
    let run = tokio::spawn(async move { execute(&pb, json!({}), ctx).await });
    // Cancel once the slow step has really started.
    let started = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(started, Progress::StepStarted { ref id, .. } if id == "slow"));
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.outcome, Outcome::Cancelled);
    assert!(result.steps.get("after").is_none());
}

#[tokio::test]
async fn when_false_skips_the_step() {
    let r = run(
        r#"name: t
params: { go: { type: bool, default: false } }
steps:
  - id: a
    when: "go"
    fake.echo: { x: 1 }
result: "{{ 'skipped' if steps.a.skipped else 'ran' }}"
"#,
        json!({}),
    )
    .await;
    assert_eq!(r.result.output, "skipped");
    assert_eq!(finished(&r.progress, "a").0, StepOutcome::Skipped);
}

#[tokio::test]
async fn dry_run_mode_asks_mutating_steps_for_a_dry_run_only() {
    let r = run_with(
        r#"name: t
mutates: true
steps:
  - id: read
    fake.echo: { x: 1 }
  - id: change
    fake.mutate: { target: "x" }
result: "{{ 'dry' if steps.change.dry_run else 'real' }}"
"#,
        json!({}),
        Mode::DryRun,
        Arc::new(AtomicU32::new(0)),
    )
    .await;
    assert_eq!(r.result.output, "dry");
    assert!(finished(&r.progress, "change").2);
    assert!(!finished(&r.progress, "read").2);
}

#[tokio::test]
async fn continue_on_error_records_the_failure_and_ends_partial() {
    let r = run(
        r#"name: t
steps:
  - id: a
    retries: 0
    continue_on_error: true
    fake.fail: { fail: true, target: "x" }
  - id: b
    fake.echo: { y: 2 }
result: "b={{ steps.b.y }}"
"#,
        json!({}),
    )
    .await;
    assert!(
        matches!(r.result.outcome, Outcome::Partial(_)),
        "{:?}",
        r.result.outcome
    );
    assert!(r.result.output.starts_with("b=2"));
    assert_eq!(r.result.steps["a"]["failed"], true);
}

#[tokio::test]
async fn a_missing_required_param_fails_before_any_step() {
    let r = run(
        r#"name: t
params: { hub: { type: hub } }
steps:
  - id: a
    fake.echo: { x: "{{ hub.name }}" }
"#,
        json!({}),
    )
    .await;
    assert_eq!(
        r.result.outcome,
        Outcome::Failed("missing parameter 'hub'".into())
    );
    assert!(r.progress.is_empty());
}

#[tokio::test]
async fn labels_render_with_the_result_trimmed_without_empties_or_repeats() {
    let r = run(
        r#"name: t
params: { who: { type: string } }
steps:
  - id: a
    fake.echo: { greeting: "hello {{ who }}" }
labels:
  - "said: {{ steps.a.greeting }}"
  - "{% if steps.a.greeting == 'bye' %}never{% endif %}"
  - "said: {{ steps.a.greeting }}"
  - "  {{ who }}  "
result: "{{ steps.a.greeting }}"
"#,
        json!({"who": "ada"}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded);
    assert_eq!(r.result.labels, ["said: hello ada", "ada"]);
}

#[tokio::test]
async fn a_label_that_fails_to_render_is_left_out_and_the_run_still_succeeds() {
    let r = run(
        r#"name: t
steps:
  - id: a
    fake.echo: { greeting: "hi" }
labels:
  - "{{ steps.a.nothing.deeper }}"
  - "ok: {{ steps.a.greeting }}"
result: "{{ steps.a.greeting }}"
"#,
        json!({}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded);
    assert_eq!(r.result.output, "hi");
    assert_eq!(r.result.labels, ["ok: hi"]);
}

#[tokio::test]
async fn a_failed_run_names_no_labels() {
    let r = run(
        r#"name: t
steps:
  - id: a
    fake.fail: { fail: true, code: 404, target: "x" }
labels: ["always"]
"#,
        json!({}),
    )
    .await;
    assert!(
        matches!(r.result.outcome, Outcome::Failed(_)),
        "{:?}",
        r.result.outcome
    );
    assert!(r.result.labels.is_empty(), "{:?}", r.result.labels);
}

#[tokio::test]
async fn a_change_that_is_not_idempotent_is_not_sent_again_after_an_answer_that_may_hide_it_was_applied(
) {
    let r = run(
        r#"name: t
mutates: true
steps:
  - id: bump
    retries: 3
    fake.bump_once: {}
"#,
        json!({}),
    )
    .await;
    let Outcome::Failed(msg) = &r.result.outcome else {
        panic!("{:?}", r.result.outcome)
    };
    assert!(msg.contains("may already have been applied"), "{msg}");
    assert_eq!(finished(&r.progress, "bump").1, 1, "sent once");
}

#[tokio::test]
async fn an_idempotent_change_is_sent_again_as_the_same_change_after_an_unsure_answer() {
    let r = run(
        r#"name: t
mutates: true
steps:
  - id: set
    retries: 3
    fake.set_once: {}
"#,
        json!({}),
    )
    .await;
    assert_eq!(r.result.outcome, Outcome::Succeeded, "{}", r.result.output);
    assert_eq!(finished(&r.progress, "set").1, 2, "sent twice");
    let tries = r.result.steps["set"]["tries"].as_array().unwrap().clone();
    assert_eq!(tries[0][0], 1);
    assert_eq!(tries[1][0], 2);
    assert_eq!(
        tries[0][1], tries[1][1],
        "the same stamp on every try: {tries:?}"
    );
}
