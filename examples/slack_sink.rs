//! A do-nothing Slack Web API for benchmarks: answers every call `ok` so
//! that opsbot's thread renderer has somewhere cheap to post while acks are
//! measured (`benches/peers.sh` starts it). Also a do-nothing GitHub REST
//! API under `/github` (`GITHUB_API_URL=http://ADDR/github`): `GET /user`
//! names the token's account, which `serve` asks before it handles a
//! comment; `GET /users/{login}` answers the account id of the sender in the
//! peers' payload (21031067), so the person of the config is recognised;
//! every other call answers a comment id. Not for tests: those
//! use the format-checking fakes in `tests/it/support/`.

use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3499".into());
    let app = Router::new()
        .route(
            "/api/{method}",
            post(|| async { Json(json!({ "ok": true, "channel": "C0BENCH", "ts": "1700000000.000100", "message": { "ts": "1700000000.000100" } })) }),
        )
        .route(
            "/github/user",
            get(|| async { Json(json!({ "id": 1, "login": "opsbot-bench[bot]" })) }),
        )
        .route(
            "/github/users/{login}",
            get(|axum::extract::Path(login): axum::extract::Path<String>| async move {
                Json(json!({ "id": 21031067, "login": login }))
            }),
        )
        .route(
            "/github/{*rest}",
            any(|| async { Json(json!({ "id": 1 })) }),
        );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("slack sink on http://{addr}/api");
    axum::serve(listener, app).await?;
    Ok(())
}
