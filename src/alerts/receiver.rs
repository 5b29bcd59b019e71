//! The HTTP side: authenticate, cap, parse, enqueue, answer. Nothing here
//! waits on Slack or a cluster, so Alertmanager's request never times out
//! on opsbot's work.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::mpsc;

use super::destination::{Destination, Outlets};
use super::groups::{Event, Worker};
use super::payload::Notification;
use super::route;
use crate::audit::AuditLog;
use crate::chat::discord::{ChannelNotifier, DiscordSettings};
use crate::chat::github::{GithubSettings, IssueNotifier};
use crate::chat::slack::{Notifier, SlackSettings};
use crate::chat::Core;
use crate::command::Grammar;
use crate::config::AlertmanagerConfig;
use crate::jupyterhub::directory::Hub;
use crate::playbook::Playbooks;

/// Notifications waiting for the worker; past this Alertmanager gets a
/// 503 and retries later.
const QUEUE: usize = 1024;

/// What the receiver is built from.
pub struct Parts<'a> {
    pub core: Arc<dyn Core>,
    pub config: &'a AlertmanagerConfig,
    pub slack: Option<&'a SlackSettings>,
    pub github: Option<&'a GithubSettings>,
    pub discord: Option<&'a DiscordSettings>,
    pub hubs: Vec<Hub>,
    pub audit: AuditLog,
    pub grammar: &'a Grammar,
    pub playbooks: &'a Playbooks,
}

/// The credentials Alertmanager must present, as digests (compared in
/// constant time, and never kept in clear here).
struct Credentials {
    bearer: Option<[u8; 32]>,
    basic: Option<[u8; 32]>,
}

struct Receiver {
    core: Arc<dyn Core>,
    credentials: Credentials,
    queue: mpsc::Sender<Event>,
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// `POST /alertmanager/webhook`, with its worker started. Fails when a
/// route is not a read-only command the grammar knows.
pub fn router(parts: Parts<'_>) -> anyhow::Result<Router> {
    let routes = route::compile(parts.config).map_err(|e| anyhow::anyhow!(e))?;
    route::check(&routes, parts.grammar, parts.playbooks)
        .map_err(|e| anyhow::anyhow!("alertmanager routes:\n{e}"))?;
    let outlets = Outlets {
        slack: parts
            .slack
            .map(|s| Notifier::new(parts.core.clone(), s))
            .transpose()?,
        github: parts.github.map(IssueNotifier::new).transpose()?,
        // Channel messages need the bot's token; without it Discord is
        // as good as not configured here.
        discord: parts
            .discord
            .filter(|d| d.bot_token.is_some())
            .map(ChannelNotifier::new)
            .transpose()?,
    };
    warn_unreachable(&routes, &outlets);
    let (tx, rx) = mpsc::channel(QUEUE);
    let worker = Worker::new(
        parts.core.clone(),
        outlets,
        routes,
        parts.hubs,
        parts.audit,
        parts.config,
        tx.clone(),
    );
    tokio::spawn(worker.run(rx));
    let credentials =
        Credentials {
            bearer: parts
                .config
                .token
                .as_ref()
                .map(|t| digest(t.expose_secret().as_bytes())),
            basic: parts.config.basic_auth.as_ref().map(|b| {
                digest(format!("{}:{}", b.username, b.password.expose_secret()).as_bytes())
            }),
        };
    let receiver = Arc::new(Receiver {
        core: parts.core,
        credentials,
        queue: tx,
    });
    Ok(Router::new()
        .route("/alertmanager/webhook", post(webhook))
        .layer(DefaultBodyLimit::max(parts.config.max_body_bytes))
        .with_state(receiver))
}

impl Credentials {
    /// Whether the `Authorization` header is Alertmanager's bearer token
    /// or basic auth as configured.
    fn admit(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        let (expected, given) = if scheme.eq_ignore_ascii_case("bearer") {
            (self.bearer, digest(rest.as_bytes()))
        } else if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD.decode(rest) {
                Ok(pair) => (self.basic, digest(&pair)),
                Err(_) => return false,
            }
        } else {
            return false;
        };
        expected.is_some_and(|e| bool::from(e.ct_eq(&given)))
    }
}

async fn webhook(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !r.credentials.admit(&headers) {
        r.core.refused("alertmanager", "unauthorized");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"opsbot\"")],
            "unauthorized: send the token configured as alertmanager.token (http_config.authorization) or alertmanager.basic_auth\n",
        )
            .into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            r.core.refused("alertmanager", "body");
            return (
                e.status(),
                format!(
                    "{}; lower Alertmanager's max_alerts or raise alertmanager.max_body_bytes\n",
                    e.body_text()
                ),
            )
                .into_response();
        }
    };
    let notification = match Notification::parse(&body) {
        Ok(n) => n,
        Err(e) => {
            r.core.refused("alertmanager", "bad_payload");
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    tracing::info!(
        group = %notification.group_key,
        status = ?notification.status,
        alerts = notification.alerts.len(),
        "alertmanager notification received"
    );
    match r.queue.try_send(Event::Notified(Box::new(notification))) {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(_) => {
            r.core.refused("alertmanager", "busy");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "opsbot has too many alert notifications waiting; Alertmanager will retry\n",
            )
                .into_response()
        }
    }
}

/// Says once, at start-up, which destinations no configured platform
/// reaches: their groups' diagnoses are run and audited but posted nowhere.
fn warn_unreachable(routes: &[route::Route], outlets: &Outlets) {
    let mut said = std::collections::HashSet::new();
    for d in routes.iter().flat_map(|r| &r.to) {
        if outlets.reaches(d) || !said.insert(d.clone()) {
            continue;
        }
        let (what, how) = match d {
            Destination::Slack(c) => (format!("Slack channel {c}"), "SLACK_BOT_TOKEN"),
            Destination::Github(r) => (
                format!("GitHub repository {r}"),
                "GITHUB_TOKEN (and GITHUB_WEBHOOK_SECRET)",
            ),
            Destination::Discord(c) => (
                format!("Discord channel {c}"),
                "the discord: settings and DISCORD_BOT_TOKEN",
            ),
        };
        tracing::warn!("alertmanager: a route posts to {what}, but that platform is not configured; its alerts are diagnosed and audited but posted nowhere until you set {how}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            bearer: Some(digest(b"t0ken")),
            basic: Some(digest(b"am:pw")),
        }
    }

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn bearer_and_basic_auth_as_alertmanager_sends_them_are_admitted_and_nothing_else() {
        let c = creds();
        assert!(c.admit(&with("Bearer t0ken")));
        assert!(c.admit(&with("bearer t0ken")));
        assert!(c.admit(&with("Basic YW06cHc="))); // am:pw
        assert!(!c.admit(&with("Bearer t0ke")));
        assert!(!c.admit(&with("Basic YW06cHg=")));
        assert!(!c.admit(&with("Basic !!!")));
        assert!(!c.admit(&with("Token t0ken")));
        assert!(!c.admit(&HeaderMap::new()));
        let bearer_only = Credentials {
            bearer: Some(digest(b"t0ken")),
            basic: None,
        };
        assert!(!bearer_only.admit(&with("Basic YW06cHc=")));
    }
}
