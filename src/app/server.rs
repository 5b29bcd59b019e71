//! The HTTP server: health, readiness, metrics, and (as their adapters land)
//! the platform endpoints. `serve`, `demo` and the tests all build it here.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::app::App;
use crate::chat::Core;

/// The router with every endpoint opsbot serves: health, readiness,
/// metrics, and each configured platform's endpoint.
pub fn router(app: App) -> anyhow::Result<Router> {
    let core: Arc<dyn Core> = Arc::new(app.runs.clone());
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(app.clone());
    if let Some(slack) = app.platforms.slack.clone() {
        router = router.merge(crate::chat::slack::routes(core.clone(), slack));
    }
    if let Some(github) = app.platforms.github.clone() {
        router = router.merge(crate::chat::github::routes(core.clone(), github)?);
    }
    if let Some(discord) = app.platforms.discord.clone() {
        router = router.merge(crate::chat::discord::routes(core.clone(), discord)?);
    }
    Ok(router)
}

/// Start the connections platforms keep open themselves (Slack Socket Mode
/// when an app token is set); they stop when `stop` is cancelled.
pub fn start_sockets(app: &App, stop: tokio_util::sync::CancellationToken) {
    if let Some(slack) = app
        .platforms
        .slack
        .clone()
        .filter(|s| s.app_token.is_some())
    {
        let core: Arc<dyn Core> = Arc::new(app.runs.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::chat::slack::run_socket_mode(core, slack, stop).await {
                tracing::error!(error = %e, "Slack Socket Mode stopped");
            }
        });
    }
}

/// Serve `router` on `listener` until `shutdown` resolves; in-flight HTTP
/// requests are answered before this returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the audit log takes writes and every cluster answers.
async fn readyz(State(app): State<App>) -> Response {
    let ctx = app.runs.context();
    let audit = match ctx.audit.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    let mut clusters = serde_json::Map::new();
    let mut ready = audit == "ok";
    for name in ctx.clusters.names() {
        let state = match ctx.clusters.get(&name) {
            Ok(client) => {
                match tokio::time::timeout(Duration::from_secs(3), client.apiserver_version()).await
                {
                    Ok(Ok(_)) => "ok".to_string(),
                    Ok(Err(e)) => format!("error: {e}"),
                    Err(_) => "error: no answer within 3s".to_string(),
                }
            }
            Err(e) => format!("error: {e}"),
        };
        ready &= state == "ok";
        clusters.insert(name, state.into());
    }
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "ready": ready, "audit": audit, "clusters": clusters })),
    )
        .into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
