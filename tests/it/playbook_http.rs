//! `http.get` against a loopback server: JSON bodies reach templates, an
//! unexpected status fails the step with a clear message, 503 is retried, and
//! a query string (which may hold a token) never shows in messages.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use opsbot::actions::Registry;
use opsbot::cluster::ClusterSet;
use opsbot::playbook::{execute, ExecContext, Mode, Outcome, Playbooks, Progress, RunResult};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn server() -> String {
    let flaky = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new()
        .route(
            "/hub/health",
            get(|| async { axum::Json(json!({"status": "ok", "users": 7})) }),
        )
        .route(
            "/users/{who}",
            get(
                |axum::extract::Path(who): axum::extract::Path<String>| async move {
                    axum::Json(json!({ "who": who }))
                },
            ),
        )
        .route(
            "/down",
            get(|| async { (StatusCode::NOT_FOUND, "no such page") }),
        )
        .route(
            "/flaky",
            get(move || {
                let flaky = flaky.clone();
                async move {
                    if flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                        (StatusCode::SERVICE_UNAVAILABLE, "busy".to_string())
                    } else {
                        (StatusCode::OK, "fine".to_string())
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn run(text: &str, base: &str) -> (RunResult, Vec<Progress>) {
    let pbs = Playbooks::from_str("h.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters: ClusterSet::new(),
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: None,
        guard: None,
    };
    let r = execute(pbs.get("h").unwrap(), json!({ "base_url": base }), ctx).await;
    let mut progress = Vec::new();
    while let Ok(p) = rx.try_recv() {
        progress.push(p);
    }
    (r, progress)
}

#[tokio::test]
async fn json_bodies_reach_the_result_template() {
    let base = server().await;
    let (r, _) = run(
        r#"name: h
params: { base_url: { type: string } }
steps:
  - id: health
    http.get: { url: "{{ base_url }}/hub/health", headers: { Accept: application/json } }
result: "{{ steps.health.status }} {{ steps.health.json.status }} users={{ steps.health.json.users }}"
"#,
        &base,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "200 ok users=7");
}

#[tokio::test]
async fn an_unexpected_status_fails_without_retry_and_hides_the_query() {
    let base = server().await;
    let (r, progress) = run(
        r#"name: h
params: { base_url: { type: string } }
steps:
  - id: page
    http.get: { url: "{{ base_url }}/down?token=s3cret" }
"#,
        &base,
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)));
    assert!(r.output.contains("HTTP 404: GET "), "{}", r.output);
    assert!(
        r.output.contains("/down?… answered 404: no such page"),
        "{}",
        r.output
    );
    assert!(!r.output.contains("s3cret"), "{}", r.output);
    assert!(!format!("{progress:?}").contains("s3cret"));
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::StepFinished { attempts: 1, .. })));
}

#[tokio::test]
async fn a_503_is_retried_until_the_endpoint_answers() {
    let base = server().await;
    let (r, progress) = run(
        r#"name: h
params: { base_url: { type: string } }
steps:
  - id: page
    http.get: { url: "{{ base_url }}/flaky", expect_status: 200 }
result: "{{ steps.page.text }}"
"#,
        &base,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "fine");
    assert!(progress
        .iter()
        .any(|p| matches!(p, Progress::StepFinished { attempts: 3, .. })));
}

/// A name typed by a person reaches the URL only as one percent-encoded
/// segment: `..` is refused, `/` and `?` are encoded; a URL template that
/// interpolates a value raw is refused when the playbook loads.
#[tokio::test]
async fn names_reach_a_url_only_as_one_encoded_segment() {
    let base = server().await;
    let pb = |url: &str| {
        format!(
            "name: h\nparams: {{ base_url: {{ type: string }}, who: {{ type: string }} }}\nsteps:\n  - id: get\n    http.get: {{ url: \"{url}\" }}\n"
        )
    };
    let raw = Playbooks::from_str_with(
        "h.yaml",
        &pb("{{ base_url }}/users/{{ who }}"),
        &Registry::builtin(),
    )
    .expect_err("a raw interpolation is refused")
    .to_string();
    assert!(raw.contains("`who | segment`"), "{raw}");

    let text = pb("{{ base_url }}/users/{{ who | segment }}");
    let pbs = Playbooks::from_str_with("h.yaml", &text, &Registry::builtin()).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = |tx| ExecContext {
        clusters: ClusterSet::new(),
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: None,
        guard: None,
    };
    let up = execute(
        pbs.get("h").unwrap(),
        json!({ "base_url": base, "who": ".." }),
        ctx(tx.clone()),
    )
    .await;
    let Outcome::Failed(msg) = &up.outcome else {
        panic!("{:?}", up.outcome)
    };
    assert!(msg.contains("cannot be a URL path segment"), "{msg}");
    let sneaky = execute(
        pbs.get("h").unwrap(),
        json!({ "base_url": base, "who": "a/../../admin?x" }),
        ctx(tx),
    )
    .await;
    assert_eq!(sneaky.outcome, Outcome::Succeeded, "{}", sneaky.output);
    assert_eq!(
        sneaky.steps["get"]["json"]["who"], "a/../../admin?x",
        "the whole value arrived as the one segment it was meant to be"
    );
}
