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
        .route("/readyz", {
            let cache = Arc::new(ReadyCache::default());
            get(move |state: State<App>| readyz(state, cache.clone()))
        })
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
    let ctx = app.runs.context();
    if let Some(am) = &ctx.config.alertmanager {
        router = router.merge(crate::alerts::router(crate::alerts::receiver::Parts {
            core: core.clone(),
            config: am,
            slack: app.platforms.slack.as_ref(),
            github: app.platforms.github.as_ref(),
            discord: app.platforms.discord.as_ref(),
            hubs: ctx.hubs.all().to_vec(),
            audit: ctx.audit.clone(),
            grammar: &ctx.grammar,
            playbooks: &ctx.playbooks,
        })?);
    }
    Ok(router)
}

/// Start the watch cache of every configured cluster (see
/// `cluster::cache`): read-only steps answer from it once it has synced.
/// Its reflectors stop when `stop` is cancelled.
pub fn start_watch_cache(app: &App, stop: &tokio_util::sync::CancellationToken) {
    let ctx = app.runs.context();
    let caps: std::collections::BTreeMap<String, usize> = ctx
        .config
        .clusters
        .iter()
        .map(|c| (c.name.clone(), c.watch_cache_max_objects))
        .collect();
    ctx.clusters.start_cache(
        |name| {
            caps.get(name)
                .copied()
                .unwrap_or(crate::cluster::cache::DEFAULT_MAX_OBJECTS)
        },
        stop,
    );
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

/// Start the scheduler when `schedules:` names any: their commands must
/// change nothing and Slack must be configured (their threads go there).
/// It stops when `stop` is cancelled.
pub fn start_schedules(app: &App, stop: tokio_util::sync::CancellationToken) -> anyhow::Result<()> {
    let ctx = app.runs.context();
    if ctx.config.schedules.is_empty() {
        return Ok(());
    }
    check_schedules(&ctx.config.schedules, &ctx.grammar, &ctx.playbooks)?;
    let Some(slack) = &app.platforms.slack else {
        anyhow::bail!("schedules: post to Slack channels, but no `slack:` is configured; add it (SLACK_BOT_TOKEN) or remove `schedules:`");
    };
    let core: Arc<dyn Core> = Arc::new(app.runs.clone());
    let scheduler = crate::schedules::Scheduler {
        slack: crate::chat::slack::Notifier::new(core.clone(), slack)?,
        core,
        schedules: ctx.config.schedules.clone(),
        leading: app.runs.elect(crate::schedules::DUTY),
        clock: Arc::new(crate::schedules::SystemClock),
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = scheduler.run() => {}
            _ = stop.cancelled() => {}
        }
    });
    Ok(())
}

/// Every schedule runs a read-only command of the grammar (nobody is there
/// to approve a change at 8 in the morning).
pub fn check_schedules(
    schedules: &[crate::config::Schedule],
    grammar: &crate::command::Grammar,
    playbooks: &crate::playbook::Playbooks,
) -> anyhow::Result<()> {
    use crate::playbook::NotReadOnly;
    let problems: Vec<String> = schedules
        .iter()
        .filter_map(|s| match crate::playbook::read_only(&s.command, grammar, playbooks) {
            Ok(_) => None,
            Err(NotReadOnly::Unknown) => Some(format!(
                "schedules.{}: `{}` is no command opsbot knows; write one of `opsbot help`'s commands, e.g. `fleet status`",
                s.name, s.command
            )),
            Err(NotReadOnly::Changes(name)) => Some(format!(
                "schedules.{}: `{name}` changes things; a schedule may only run a read-only command (status, pending, events...)",
                s.name
            )),
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("\n"))
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, holding each
/// client to `limits` (the config's `http:`); in-flight HTTP requests are
/// answered before this returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &crate::config::HttpLimits,
) -> anyhow::Result<()> {
    serve_limited(listener, router, shutdown, ListenLimits::from(limits)).await
}

/// What one client may hold of the server: without these a client that
/// sends half a header keeps a connection (and a task) forever, and enough
/// of them starve the platforms' webhooks.
#[derive(Clone, Debug)]
pub struct ListenLimits {
    /// Time to send the whole request head.
    pub header_read: Duration,
    /// Time for the whole request to be answered.
    pub request: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ListenLimits {
    fn default() -> Self {
        ListenLimits::from(&crate::config::HttpLimits::default())
    }
}

impl From<&crate::config::HttpLimits> for ListenLimits {
    fn from(h: &crate::config::HttpLimits) -> Self {
        ListenLimits {
            header_read: h.header_timeout,
            request: h.request_timeout,
            max_connections: h.max_connections,
        }
    }
}

/// The accept loop with [`ListenLimits`]: hyper's header-read timeout, a
/// request timeout around the router (503 when exceeded), and a semaphore
/// that stops accepting while `max_connections` are open. On `shutdown`
/// open connections finish their current request.
pub async fn serve_limited(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ListenLimits,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let request_limit = limits.request;
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(request_limit, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the request took too long and was stopped; try again\n",
                )
                    .into_response(),
            }
        },
    ));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let stop = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p?,
        };
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        let header_read = limits.header_read;
        tasks.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    Ok(())
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How long one readiness probe answers `/readyz`: probes poll every few
/// seconds, and each probe is a durable audit write plus one call per
/// cluster, which an unauthenticated caller must not be able to multiply.
const READY_FOR: Duration = Duration::from_secs(5);

/// The last probe's answer and when it was taken.
#[derive(Default)]
struct ReadyCache(std::sync::Mutex<Option<(std::time::Instant, StatusCode, serde_json::Value)>>);

/// Ready when the audit log takes writes: that is all opsbot needs to answer
/// people (a slow or unreachable cluster only fails the runs that touch it,
/// and must not take every chat endpoint out of the Service). Each
/// cluster's reachability is in the body and in `opsbot_cluster_reachable`.
/// The answer names what is down (`ready; unreachable: cluster aws-us`) but
/// never the backend's error text, which is logged instead: it can hold
/// hosts, users and paths an anonymous caller has no business reading.
async fn readyz(State(app): State<App>, cache: Arc<ReadyCache>) -> Response {
    let fresh = |c: &ReadyCache| {
        c.0.lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(at, _, _)| at.elapsed() < READY_FOR)
            .map(|(_, code, body)| (*code, body.clone()))
    };
    if let Some((code, body)) = fresh(&cache) {
        return (code, Json(body)).into_response();
    }
    let (code, body) = probe(&app).await;
    *cache.0.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((std::time::Instant::now(), code, body.clone()));
    (code, Json(body)).into_response()
}

async fn probe(app: &App) -> (StatusCode, serde_json::Value) {
    let ctx = app.runs.context();
    let mut down: Vec<String> = Vec::new();
    let audit = match ctx.audit.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the audit store is not ready");
            down.push("audit store".into());
            "not ready"
        }
    };
    let ready = down.is_empty();
    let mut clusters = serde_json::Map::new();
    let mut unreachable: Vec<String> = Vec::new();
    for name in ctx.clusters.names() {
        let answer = match ctx.clusters.get(&name) {
            Ok(client) => {
                match tokio::time::timeout(Duration::from_secs(3), client.apiserver_version()).await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer within 3s".to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        ctx.metrics.cluster_reachable(&name, answer.is_ok());
        let state = match answer {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(cluster = %name, error = %e, "readiness: cluster unreachable");
                unreachable.push(format!("cluster {name}"));
                "unreachable"
            }
        };
        clusters.insert(name, state.into());
    }
    let message = match (ready, unreachable.is_empty()) {
        (true, true) => "ready".to_string(),
        (true, false) => format!("ready; unreachable: {}", unreachable.join(", ")),
        (false, _) => format!("not ready: {}", down.join(", ")),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        json!({ "ready": ready, "message": message, "audit": audit, "clusters": clusters }),
    )
}

async fn metrics(State(app): State<App>) -> Response {
    for (cluster, kinds) in app.runs.context().clusters.cache_states() {
        for k in kinds {
            app.metrics.watch_cache(&cluster, &k);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
