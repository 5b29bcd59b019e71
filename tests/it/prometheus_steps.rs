//! `prometheus.query` and `prometheus.range` against a loopback stand-in
//! for Prometheus's HTTP API: answers reach templates as typed data, the
//! bearer token is sent, and failures (a bad query, a slow or absent
//! Prometheus, none configured) name the cluster whose Prometheus failed.
//! The demo, which has no Prometheus, answers `hub load` and `pool usage`
//! by saying so (a partial run: the metrics are what is missing).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use opsbot::cluster::ClusterSet;
use opsbot::config::PrometheusConfig;
use opsbot::playbook::{execute, ExecContext, Mode, Outcome, Playbooks, RunResult};
use opsbot::prometheus::Prometheus;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::bot::{done_output, Bot};

pub(crate) const TOKEN: &str = "prom-test-token";

/// A Prometheus API that wants `Authorization: Bearer TOKEN`, answers
/// `up` as an instant vector, anything with `[` as a 400 parse error,
/// `slow` after 5s, and `query_range` with the start/end/step it was sent.
pub(crate) async fn fake_prometheus() -> String {
    fn authorised(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
    }
    let app = axum::Router::new()
        .route(
            "/api/v1/query",
            get(
                |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    if !authorised(&h) {
                        return (StatusCode::UNAUTHORIZED, "no".to_string());
                    }
                    let query = q.get("query").cloned().unwrap_or_default();
                    if query == "slow" {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    if query.contains('[') {
                        return (
                            StatusCode::BAD_REQUEST,
                            json!({"status": "error", "errorType": "bad_data",
                                   "error": "1:4: parse error: unexpected \"[\""})
                            .to_string(),
                        );
                    }
                    (
                        StatusCode::OK,
                        json!({"status": "success", "data": {"resultType": "vector", "result": [
                            {"metric": {"__name__": "up", "job": "hub"}, "value": [1700000000.0, "1"]},
                            {"metric": {"__name__": "up", "job": "proxy"}, "value": [1700000000.0, "0"]},
                        ]}})
                        .to_string(),
                    )
                },
            ),
        )
        .route(
            "/api/v1/query_range",
            get(
                |h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    if !authorised(&h) {
                        return (StatusCode::UNAUTHORIZED, "no".to_string());
                    }
                    let start: f64 = q["start"].parse().unwrap();
                    let end: f64 = q["end"].parse().unwrap();
                    let step: f64 = q["step"].parse().unwrap();
                    let values: Vec<_> = (0..)
                        .map(|i| start + i as f64 * step)
                        .take_while(|t| *t <= end)
                        .enumerate()
                        .map(|(i, t)| json!([t, format!("{}", i % 3)]))
                        .collect();
                    (
                        StatusCode::OK,
                        json!({"status": "success", "data": {"resultType": "matrix", "result": [
                            {"metric": {"pool": "user"}, "values": values},
                        ]}})
                        .to_string(),
                    )
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn clusters(url: &str, token: Option<&str>, timeout: Duration) -> ClusterSet {
    let mut set = ClusterSet::new();
    let cfg = PrometheusConfig {
        url: url.to_string(),
        token: token.map(|t| t.to_string().into()),
        timeout,
    };
    set.insert_prometheus("aws-us", Prometheus::new("aws-us", &cfg).unwrap());
    set
}

async fn run(text: &str, clusters: ClusterSet) -> RunResult {
    let pbs = Playbooks::from_str("p.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let ctx = ExecContext {
        clusters,
        mode: Mode::Real,
        cancel: CancellationToken::new(),
        progress: tx,
        impersonate: None,
        guard: None,
    };
    execute(pbs.get("p").unwrap(), json!({}), ctx).await
}

#[tokio::test]
async fn an_instant_vector_reaches_the_template_as_labelled_numbers_with_the_bearer_token() {
    let url = fake_prometheus().await;
    let r = run(
        r#"name: p
steps:
  - id: up
    prometheus.query: { cluster: aws-us, query: up }
result: "{{ steps.up.type }} {{ steps.up.count }}:{% for s in steps.up.items %} {{ s.labels.job }}={{ s.value }}{% endfor %} first={{ steps.up.value }}"
"#,
        clusters(&url, Some(TOKEN), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "vector 2: hub=1.0 proxy=0.0 first=1.0");
}

#[tokio::test]
async fn a_range_query_spans_the_window_at_its_step_and_summarises_each_series() {
    let url = fake_prometheus().await;
    let r = run(
        r#"name: p
steps:
  - id: h
    prometheus.range: { cluster: aws-us, query: "sum by (pool) (x)", since: 10m, step: 1m }
result: "{{ steps.h.type }} {% for s in steps.h.items %}{{ s.labels.pool }} points={{ s.values | length }} min={{ s.min }} max={{ s.max }}{% endfor %}"
"#,
        clusters(&url, Some(TOKEN), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "matrix user points=11 min=0.0 max=2.0");
}

#[tokio::test]
async fn a_bad_query_fails_with_prometheus_own_message_naming_the_cluster() {
    let url = fake_prometheus().await;
    let r = run(
        "name: p\nsteps:\n  - id: q\n    prometheus.query: { cluster: aws-us, query: \"up[\" }\n",
        clusters(&url, Some(TOKEN), Duration::from_secs(5)),
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{}", r.output);
    assert!(
        r.output.contains(
            "the Prometheus of cluster 'aws-us' answered 400 (bad_data): 1:4: parse error"
        ),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn a_wrong_token_is_told_as_the_clusters_prometheus_refusing_opsbot() {
    let url = fake_prometheus().await;
    let r = run(
        "name: p\nsteps:\n  - id: q\n    prometheus.query: { cluster: aws-us, query: up }\n",
        clusters(&url, Some("wrong"), Duration::from_secs(5)),
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{}", r.output);
    assert!(
        r.output
            .contains("refused opsbot (401); check `clusters[].prometheus.token`"),
        "{}",
        r.output
    );
    assert!(!r.output.contains("wrong"), "{}", r.output);
}

#[tokio::test]
async fn a_slow_prometheus_times_out_naming_the_cluster_and_its_timeout() {
    let url = fake_prometheus().await;
    let r = run(
        "name: p\ntimeout: 20s\nsteps:\n  - id: q\n    prometheus.query: { cluster: aws-us, query: slow }\n",
        clusters(&url, Some(TOKEN), Duration::from_millis(300)),
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{}", r.output);
    assert!(
        r.output.contains(&format!(
            "the Prometheus of cluster 'aws-us' ({url}) did not answer within 300ms"
        )),
        "{}",
        r.output
    );
}

#[tokio::test]
async fn a_cluster_without_prometheus_says_how_to_configure_one() {
    let r = run(
        "name: p\nsteps:\n  - id: q\n    prometheus.query: { cluster: gcp-eu, query: up }\n",
        ClusterSet::new(),
    )
    .await;
    assert!(matches!(r.outcome, Outcome::Failed(_)), "{}", r.output);
    assert!(
        r.output
            .contains("cluster 'gcp-eu' has no Prometheus configured"),
        "{}",
        r.output
    );
    assert!(
        r.output.contains("under `clusters` in opsbot.yaml"),
        "{}",
        r.output
    );
}

const CHARTED: &str = r#"name: p
steps:
  - id: history
    continue_on_error: true
    prometheus.range: { cluster: aws-us, since: 1h, query: up }
chart: { step: history, title: "up on aws-us", y: targets }
result: "{{ steps.history.count | default('no') }} series"
"#;

#[tokio::test]
async fn a_chart_key_makes_the_run_carry_its_range_step_drawn_as_a_png() {
    let url = fake_prometheus().await;
    let r = run(CHARTED, clusters(&url, Some(TOKEN), Duration::from_secs(5))).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    assert_eq!(r.output, "1 series", "the text answer is unchanged");
    assert_eq!(r.charts.len(), 1);
    let chart = &r.charts[0];
    assert_eq!(chart.file_name, "p-history.png");
    assert_eq!(chart.title, "up on aws-us");
    let reader = png::Decoder::new(std::io::Cursor::new(&chart.png[..]))
        .read_info()
        .expect("a valid PNG");
    assert_eq!(
        (reader.info().width, reader.info().height),
        (opsbot::chart::WIDTH, opsbot::chart::HEIGHT)
    );
    // The audit and log views of the chart name it and its size only.
    let shown = serde_json::to_value(chart).unwrap();
    assert_eq!(
        shown,
        json!({"file_name": "p-history.png", "title": "up on aws-us", "bytes": chart.png.len()})
    );
    assert!(
        !format!("{chart:?}").contains("137, 80, 78, 71"),
        "no bytes in Debug"
    );
}

#[tokio::test]
async fn a_chart_whose_range_step_failed_is_left_out_and_the_answer_stands() {
    let r = run(CHARTED, ClusterSet::new()).await;
    assert!(matches!(r.outcome, Outcome::Partial(_)), "{}", r.output);
    assert!(r.output.starts_with("no series"), "{}", r.output);
    assert!(r.charts.is_empty(), "{:?}", r.charts);
}

#[tokio::test]
async fn the_demo_without_prometheus_answers_hub_load_and_pool_usage_by_saying_so() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("bob", "hub load staging").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, opsbot::chat::Outcome::Partial, "{output}");
    assert!(output.contains("Load of staging: no metrics."), "{output}");
    assert!(
        output.contains("cluster 'aws-us' has no Prometheus configured"),
        "{output}"
    );
    let updates = bot.ask("bob", "pool usage aws-us").await;
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, opsbot::chat::Outcome::Partial, "{output}");
    assert!(
        output.contains("Pool usage on aws-us: no metrics."),
        "{output}"
    );
    assert!(output.contains("has no Prometheus configured"), "{output}");
}

/// A Prometheus whose answers describe a slow hub: one handler at 2.5 s
/// and one at 0.2 s (p90), spawns at 120 s, 3 failed spawns in the hour.
async fn slow_hub_prometheus() -> String {
    let app = axum::Router::new().route(
        "/api/v1/query",
        get(|Query(q): Query<HashMap<String, String>>| async move {
            let query = q.get("query").cloned().unwrap_or_default();
            let sample = |labels: serde_json::Value, v: &str| json!({"metric": labels, "value": [1700000000.0, v]});
            let result = if query.contains("handler") {
                vec![
                    sample(json!({"handler": "/hub/api/users"}), "2.5"),
                    sample(json!({"handler": "/hub/home"}), "0.2"),
                ]
            } else if query.contains("status=\"success\"") {
                vec![sample(json!({}), "120")]
            } else if query.contains("status!=") {
                vec![sample(json!({}), "3")]
            } else {
                vec![]
            };
            json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The triage of a slow hub (issue 18): the shipped `hub slow` names the
/// slow handlers (only those over 1 s), slow spawns and failed spawns,
/// each with where to look next.
#[tokio::test]
async fn hub_slow_names_the_slow_handlers_slow_spawns_and_failed_spawns_with_what_to_do() {
    use crate::support::fleet;
    let url = slow_hub_prometheus().await;
    let (_fleet, mut set, pbs) = fleet::start().await;
    let cfg = PrometheusConfig {
        url,
        token: None,
        timeout: Duration::from_secs(5),
    };
    set.insert_prometheus("aws-us", Prometheus::new("aws-us", &cfg).unwrap());
    let r = fleet::run(&pbs, &set, "hub-slow", json!({ "hub": fleet::staging() })).await;
    assert_eq!(r.outcome, Outcome::Succeeded, "{}", r.output);
    fleet::contains_all(
        &r.output,
        &[
            "**Why is staging slow?** (staging @ aws-us)",
            "⚠ slow requests (p90, last 5 minutes): /hub/api/users 2.5s.",
            "⚠ spawns are slow: p90 120s over the last hour",
            "`pending staging`",
            "⚠ 3 spawns failed in the last hour",
        ],
    );
    assert!(!r.output.contains("/hub/home"), "{}", r.output);
}

/// Without a Prometheus (the demo) `hub slow` still reports the hub's
/// pods and says plainly that the metrics are missing.
#[tokio::test]
async fn hub_slow_in_the_demo_says_there_are_no_metrics() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("bob", "hub slow staging").await;
    let (_, output) = done_output(&updates);
    assert!(output.contains("**Why is staging slow?**"), "{output}");
    assert!(
        output.contains("No metrics:") && output.contains("has no Prometheus configured"),
        "{output}"
    );
}
