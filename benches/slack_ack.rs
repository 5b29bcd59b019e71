//! Ack throughput and latency of `POST /slack/commands`, in process: signed
//! slash commands through the real router (size cap, signature, form
//! parsing, `core.submit`, the answer) with a core that records at once.
//! Two cases: the answer is all there is (help/refusal, nothing spawned),
//! and an accepted run whose renderer posts to a local fake Slack in the
//! background while the acks are measured.
//!
//! Run by hand: `cargo bench --bench slack_ack` (release), or
//! `cargo bench --bench slack_ack --profile dev` for a quick lower bound.
//! The figure that matters for Slack is the one `../shared/bench/peers/run.sh`
//! measures against `opsbot serve` over TCP; this one isolates the handler.

#[path = "../tests/it/support/slack.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request as HttpRequest;
use opsbot::chat::{Request, Update};
use support::{FakeCore, FakeSlack, Script, SIGNING_SECRET};
use tower::ServiceExt;

const REQUESTS: usize = 40_000;
const CONCURRENCY: usize = 64;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        measure("answer only (help, nothing spawned)", |_: &Request| {
            Script {
                now: vec![Update::Info {
                    title: "opsbot commands".into(),
                    body: "- `hub status <hub>`".into(),
                }],
                ..Script::default()
            }
        })
        .await;
        measure(
            "accepted run (renderer posts to a local fake Slack)",
            |req: &Request| Script {
                now: vec![Update::Accepted {
                    run: opsbot::chat::RunId(42),
                    command: req.text.clone(),
                    person: "alice".into(),
                }],
                ..Script::default()
            },
        )
        .await;
    });
}

async fn measure(name: &str, script: impl Fn(&Request) -> Script + Send + Sync + 'static) {
    let slack = FakeSlack::start().await;
    let core = FakeCore::new(script);
    let router = opsbot::chat::slack::routes(core.clone(), support::settings(&slack.api_url()));
    // Every request is a distinct invocation (its own signed trigger_id), as
    // Slack sends them: a repeated body would measure the replay check.
    let ts = support::now();
    let signed: Vec<(String, String)> = (0..REQUESTS)
        .map(|_| {
            let body = support::slash_form("U2147483697", "C2147483705", "hub status staging");
            let signature = support::sign(SIGNING_SECRET, ts, body.as_bytes());
            (body, signature)
        })
        .collect();
    let signed = Arc::new(signed);
    let request = move |(body, signature): &(String, String)| {
        HttpRequest::post("/slack/commands")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature.clone())
            .body(Body::from(body.clone()))
            .expect("a request")
    };
    let started = Instant::now();
    let mut workers = Vec::new();
    let per_worker = REQUESTS / CONCURRENCY;
    for w in 0..CONCURRENCY {
        let router = router.clone();
        let signed = signed.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for one in &signed[w * per_worker..(w + 1) * per_worker] {
                let sent = Instant::now();
                let response = router
                    .clone()
                    .oneshot(request(one))
                    .await
                    .expect("infallible");
                assert!(response.status().is_success(), "{}", response.status());
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{name}: {} acks in {:.2?} = {:.0} acks/s; latency p50 {:.2?} p99 {:.2?} max {:.2?}; {} requests recorded",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
        core.requests().len(),
    );
}
