//! Audit store throughput: appends/s with 1, 16 and 256 concurrent callers,
//! each append durable (SQLite WAL, `synchronous=FULL`) before it returns.
//! Group commit is what makes many concurrent callers cheap: they share one
//! transaction and one fsync.
//!
//! `cargo bench --bench audit` uses a fresh SQLite file in a temp dir; set
//! `OPSBOT_AUDIT_BENCH_URL` (e.g. `postgres://user@127.0.0.1:5432/db`) to
//! measure another store instead.

use std::time::Instant;

use opsbot::audit::{AuditLog, EventKind, NewEvent};
use serde_json::json;

async fn measure(url: &str, callers: usize, per_caller: usize) -> f64 {
    let log = AuditLog::open(url).await.expect("open the audit store");
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let log = log.clone();
            tokio::spawn(async move {
                let run = log
                    .append(NewEvent::requested(
                        format!("p{c}"),
                        json!({"person": format!("p{c}"), "command": "hub status",
                               "text": "hub status staging", "hub": "staging", "cluster": "aws-us"}),
                    ))
                    .await
                    .expect("append requested")
                    .run;
                for i in 1..per_caller {
                    log.append(NewEvent::new(
                        run,
                        EventKind::Step,
                        "opsbot",
                        json!({"verb": "get", "resource": "deployment/hub", "outcome": "ok", "i": i}),
                    ))
                    .await
                    .expect("append step");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let report = log.verify().await.expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    log.close().await;
    (callers * per_caller) as f64 / elapsed
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let custom = std::env::var("OPSBOT_AUDIT_BENCH_URL").ok();
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and
    // then a small run only checks that the benchmark still works.
    let full = std::env::args().any(|a| a == "--bench");
    let per_caller_scale = if full { 1 } else { 20 };
    for (callers, per_caller) in [(1, 1000), (16, 500), (256, 200)] {
        let per_caller = per_caller / per_caller_scale;
        let url = custom.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                dir.path().join(format!("audit-{callers}.db")).display()
            )
        });
        let rate = rt.block_on(measure(&url, callers, per_caller));
        println!(
            "audit append: {callers:>3} concurrent callers, {:>6} durable appends: {rate:>9.0} appends/s",
            callers * per_caller
        );
    }
}
