//! A do-nothing Slack Web API for benchmarks: answers every call `ok` so
//! that opsbot's thread renderer has somewhere cheap to post while acks are
//! measured (`benches/peers.sh` starts it). Not for tests: those use the
//! format-checking fake in `tests/it/support/slack.rs`.

use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3499".into());
    let app = Router::new().route(
        "/api/{method}",
        post(|| async { Json(json!({ "ok": true, "channel": "C0BENCH", "ts": "1700000000.000100", "message": { "ts": "1700000000.000100" } })) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("slack sink on http://{addr}/api");
    axum::serve(listener, app).await?;
    Ok(())
}
