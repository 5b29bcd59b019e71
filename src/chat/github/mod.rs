//! GitHub: `/ops …` lines in issue and pull-request comments.
//!
//! GitHub POSTs webhook deliveries to `POST /github/webhook`. The answer
//! path: check `X-Hub-Signature-256` (HMAC-SHA256 of the body, constant
//! time) before anything else, drop redeliveries by `X-GitHub-Delivery`
//! (durably, through [`Core::first_delivery`]), read the `issue_comment`
//! event, find the command lines (Markdown-aware, see [`lines`]), submit
//! each to the core (which records it) and answer 202. One comment per
//! command then tells its story and is edited as the run goes on, through
//! octocrab pointed at `GITHUB_API_URL`.
//!
//! Who asked is the commenter's login, matched to `people[].github`
//! (case-insensitive). Comments by bots (including opsbot's own) are
//! ignored; edited and deleted comments run nothing.

pub mod lines;
pub mod render;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::place::{GithubPlace, Place};
use super::{Core, Outcome, Request, Update};

/// Webhook payloads can be large (a PR event carries the whole PR); GitHub caps them at 25 MB.
const MAX_BODY: usize = 1024 * 1024;
/// GitHub refuses label names longer than this (in characters).
const MAX_LABEL: usize = 50;

/// How to talk to GitHub.
#[derive(Clone)]
pub struct GithubSettings {
    /// Verifies deliveries (`GITHUB_WEBHOOK_SECRET`).
    pub webhook_secret: SecretString,
    /// Posts and edits comments (`GITHUB_TOKEN`).
    pub token: Option<SecretString>,
    /// REST API base (`https://api.github.com`, or a local fake in tests).
    pub api_url: String,
    /// A comment line starting with this runs a command.
    pub prefix: String,
    /// More command lines than this in one comment are refused as a whole.
    pub max_commands_per_comment: usize,
    /// Label the issue with what a succeeded run names (`triage: image-pull`).
    pub triage_labels: bool,
}

impl std::fmt::Debug for GithubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSettings")
            .field("api_url", &self.api_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl GithubSettings {
    /// From the loaded config (which applied the `GITHUB_*` overrides).
    pub fn from_config(c: &crate::config::GithubConfig) -> GithubSettings {
        GithubSettings {
            webhook_secret: c.webhook_secret.clone(),
            token: c.token.clone(),
            api_url: c.api_url.trim_end_matches('/').to_string(),
            prefix: c.prefix.clone(),
            max_commands_per_comment: c.max_commands_per_comment.max(1),
            triage_labels: c.triage_labels,
        }
    }
}

struct Shared {
    core: Arc<dyn Core>,
    settings: GithubSettings,
    api: octocrab::Octocrab,
}

/// `POST /github/webhook`, ready to be merged into the server.
pub fn routes(core: Arc<dyn Core>, settings: GithubSettings) -> anyhow::Result<Router> {
    let mut builder = octocrab::Octocrab::builder().base_uri(settings.api_url.as_str())?;
    if let Some(t) = &settings.token {
        builder = builder.personal_token(t.expose_secret().to_string());
    }
    let api = builder.build()?;
    Ok(Router::new()
        .route("/github/webhook", post(webhook))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(Shared {
            core,
            settings,
            api,
        })))
}

fn refuse(s: &Shared, code: StatusCode, reason: &str, message: &str) -> Response {
    s.core.refused("github", reason);
    (code, message.to_string()).into_response()
}

/// Constant-time check of `sha256=<hex>` over the raw body.
pub fn signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn webhook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let Some(sig) = header("x-hub-signature-256") else {
        return refuse(
            &s,
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            "missing X-Hub-Signature-256: deliveries must come from GitHub",
        );
    };
    if !signature_ok(s.settings.webhook_secret.expose_secret(), &body, sig) {
        return refuse(&s, StatusCode::UNAUTHORIZED, "bad_signature", "bad signature: the body was not signed with this webhook's secret (check GITHUB_WEBHOOK_SECRET)");
    }
    let event = header("x-github-event").unwrap_or_default().to_string();
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return refuse(
                &s,
                StatusCode::BAD_REQUEST,
                "malformed",
                &format!("malformed JSON payload: {e}"),
            )
        }
    };
    if event == "ping" {
        return Json(json!({ "ok": true, "zen": payload["zen"] })).into_response();
    }
    if let Some(delivery) = header("x-github-delivery") {
        match s.core.first_delivery("github", delivery).await {
            Ok(true) => {}
            Ok(false) => {
                s.core.refused("github", "replayed");
                return (
                    StatusCode::OK,
                    "duplicate delivery: already handled, nothing run again",
                )
                    .into_response();
            }
            Err(e) => {
                tracing::error!(error = %e, "github: cannot record the delivery id");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot record this delivery right now; GitHub will redeliver",
                )
                    .into_response();
            }
        }
    }
    if event != "issue_comment" || payload["action"] != "created" {
        return (
            StatusCode::ACCEPTED,
            "ignored: opsbot acts on new issue and pull-request comments",
        )
            .into_response();
    }
    let user = &payload["comment"]["user"];
    let login = user["login"].as_str().unwrap_or_default().to_string();
    if user["type"] == "Bot" || login.ends_with("[bot]") {
        return (
            StatusCode::ACCEPTED,
            "ignored: comments by bots never run commands",
        )
            .into_response();
    }
    let (Some(repo), Some(number), Some(comment_id)) = (
        payload["repository"]["full_name"]
            .as_str()
            .map(str::to_string),
        payload["issue"]["number"].as_u64(),
        payload["comment"]["id"].as_u64(),
    ) else {
        return refuse(
            &s,
            StatusCode::BAD_REQUEST,
            "malformed",
            "an issue_comment event needs repository.full_name, issue.number and comment.id",
        );
    };
    let body_text = payload["comment"]["body"].as_str().unwrap_or_default();
    let commands = lines::commands(body_text, &s.settings.prefix);
    if commands.len() > s.settings.max_commands_per_comment {
        let t = thread(&s, &repo, number);
        let note = format!(
            "@{login} this comment has {} `{}` lines; at most {} run from one comment. Nothing was run.",
            commands.len(),
            s.settings.prefix,
            s.settings.max_commands_per_comment
        );
        tokio::spawn(async move { t.post(&note).await });
        return (
            StatusCode::ACCEPTED,
            "too many commands in one comment; nothing run",
        )
            .into_response();
    }
    for text in &commands {
        let (tx, rx) = mpsc::unbounded_channel();
        let req = Request {
            sender: login.clone(),
            text: text.clone(),
            place: Place::Github(GithubPlace {
                repo: repo.clone(),
                issue: number,
                comment_id,
            }),
        };
        s.core.submit(req, tx).await;
        let t = thread(&s, &repo, number);
        tokio::spawn(t.follow(rx, login.clone()));
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({ "commands": commands.len() })),
    )
        .into_response()
}

/// Where a request's story is told: one comment on one issue.
struct Thread {
    api: octocrab::Octocrab,
    owner: String,
    repo: String,
    issue: u64,
    /// Whether a succeeded run's labels go on the issue.
    labels: bool,
}

fn thread(s: &Shared, repo: &str, issue: u64) -> Thread {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
    Thread {
        api: s.api.clone(),
        owner: owner.to_string(),
        repo: name.to_string(),
        issue,
        labels: s.settings.triage_labels,
    }
}

const ATTEMPTS: u32 = 4;

impl Thread {
    /// Follow one request's updates, keeping its comment up to date
    /// (whatever arrived during an API call goes out in one edit).
    async fn follow(self, mut rx: mpsc::UnboundedReceiver<Update>, login: String) {
        let mut story = render::Story::new(login);
        let mut comment: Option<u64> = None;
        while let Some(first) = rx.recv().await {
            let mut labels = Vec::new();
            let mut take = |u: &Update| {
                story.apply(u);
                labels.extend_from_slice(labels_of(u));
            };
            take(&first);
            while let Ok(more) = rx.try_recv() {
                take(&more);
            }
            let body = story.markdown();
            comment = match comment {
                None => self.post(&body).await,
                Some(id) => {
                    self.edit(id, &body).await;
                    Some(id)
                }
            };
            // After the comment: the answer is what matters, a label is an extra.
            if self.labels && !labels.is_empty() {
                self.label(&labels).await;
            }
        }
    }

    /// Add labels to the issue (GitHub creates labels the repository lacks).
    /// A refusal (403 without the Issues write permission, 404, 422) is
    /// logged and changes nothing else: the run and its comment stand.
    async fn label(&self, labels: &[String]) {
        let labels: Vec<String> = labels
            .iter()
            .map(|l| l.chars().take(MAX_LABEL).collect())
            .collect();
        for attempt in 1..=ATTEMPTS {
            let sent = self
                .api
                .issues(&self.owner, &self.repo)
                .add_labels(self.issue, &labels)
                .await;
            match sent {
                Ok(_) => return,
                Err(octocrab::Error::GitHub { source, .. })
                    if source.status_code.is_client_error()
                        && source.status_code != StatusCode::TOO_MANY_REQUESTS =>
                {
                    tracing::warn!(
                        issue = self.issue,
                        status = %source.status_code,
                        message = %source.message,
                        ?labels,
                        "github: cannot label the issue; the run and its comment stand"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "github: labelling the issue failed");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }

    async fn post(&self, body: &str) -> Option<u64> {
        for attempt in 1..=ATTEMPTS {
            match self
                .api
                .issues(&self.owner, &self.repo)
                .create_comment(self.issue, body)
                .await
            {
                Ok(c) => return Some(c.id.into_inner()),
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "github: posting a comment failed");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
        None
    }

    async fn edit(&self, id: u64, body: &str) {
        for attempt in 1..=ATTEMPTS {
            // octocrab's `update_comment` POSTs; GitHub documents PATCH.
            let route = format!("/repos/{}/{}/issues/comments/{id}", self.owner, self.repo);
            let sent: octocrab::Result<octocrab::models::issues::Comment> =
                self.api.patch(route, Some(&json!({ "body": body }))).await;
            match sent {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "github: editing a comment failed");
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }
}

/// The labels a succeeded run names; nothing for anything else.
fn labels_of(u: &Update) -> &[String] {
    match u {
        Update::Done {
            outcome: Outcome::Succeeded,
            labels,
            ..
        } => labels,
        _ => &[],
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 << attempt.min(5))
}
