//! `opsbot serve --config FILE`: production. The HTTP endpoints (and Slack
//! Socket Mode when an app token is set) until Ctrl-C or SIGTERM, then the
//! in-flight runs get up to 30 s to finish.

use std::time::Duration;

use anyhow::Context as _;

use crate::app::{server, App};
use crate::config::Config;
use crate::runs::Limits;

use super::shutdown::shutdown_signal;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let app = App::build(config, Limits::default()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "opsbot serving");
    let sockets = tokio_util::sync::CancellationToken::new();
    server::start_watch_cache(&app, &sockets);
    server::start_sockets(&app, sockets.clone());
    server::start_schedules(&app, sockets.clone())?;
    if let Some(schedule) = app.runs.context().config.audit_anchor.clone() {
        tokio::spawn(crate::audit::anchor::every(
            app.runs.context().audit.clone(),
            schedule.every,
            schedule.to,
            sockets.clone(),
        ));
    }
    let limits = app.runs.context().config.http.clone();
    server::serve(
        listener,
        server::router(app.clone())?,
        shutdown_signal(),
        &limits,
    )
    .await?;
    sockets.cancel();
    tracing::info!("HTTP stopped; letting in-flight runs finish (up to 30s)");
    app.runs.shutdown(Duration::from_secs(30)).await;
    Ok(())
}
