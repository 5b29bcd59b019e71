//! GitHub: `/ops …` lines in issue and pull-request comments.
//!
//! GitHub POSTs webhook deliveries to `POST /github/webhook`. The answer
//! path: the [`Verified`] gate (size cap, `X-Hub-Signature-256`, refusal
//! metric; see [`verify`]), read the event ([`inbound`]), drop redeliveries
//! by `X-GitHub-Delivery` (durably, through [`Core::first_delivery`]), find
//! the command lines (Markdown-aware, see [`lines`]), submit each to the
//! core (which records it) and answer 202. One comment per command then
//! tells its story ([`thread`], rendered by [`render`]) and is edited as the
//! run goes on, through octocrab pointed at `GITHUB_API_URL` ([`api`]).
//!
//! Who asked is the commenter's account id (`comment.user.id`), matched to
//! `people[].github` through [`people`] (logins there are resolved to ids;
//! the login in a delivery is never trusted, it can be renamed or
//! recycled). Comments by bots and by opsbot's own account are ignored;
//! edited and deleted comments run nothing. A delivery runs once: its
//! `X-GitHub-Delivery` id is recorded, and so is what the signature covers
//! (comment id, action, `updated_at`), since the header is not signed and a
//! captured body could come back under a new delivery id.

pub mod api;
pub mod auth;
pub mod inbound;
pub mod lines;
pub mod people;
pub mod render;
mod settings;
mod thread;
pub mod verify;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::mpsc;

use super::place::{GithubPlace, Place};
use super::verify::{refuse, Gate, Verified, Verify};
use super::{Core, Request};
use api::{GithubApi, Issue};
use inbound::Inbound;
pub use settings::GithubSettings;
use thread::Thread;

struct Shared {
    core: Arc<dyn Core>,
    settings: GithubSettings,
    verifier: verify::Verifier,
    api: GithubApi,
    people: people::People,
}

impl Gate for Shared {
    fn verifier(&self) -> &dyn Verify {
        &self.verifier
    }

    fn core(&self) -> &dyn Core {
        self.core.as_ref()
    }
}

/// `POST /github/webhook`, ready to be merged into the server.
pub fn routes(core: Arc<dyn Core>, settings: GithubSettings) -> anyhow::Result<Router> {
    let api = GithubApi::new(&settings)?;
    let verifier = verify::Verifier {
        secret: settings.webhook_secret.clone(),
    };
    Ok(Router::new()
        .route("/github/webhook", post(webhook))
        .with_state(Arc::new(Shared {
            people: people::People::new(api.clone(), settings.token.is_some(), &settings.people),
            core,
            settings,
            verifier,
            api,
        })))
}

async fn webhook(State(s): State<Arc<Shared>>, v: Verified) -> Response {
    let header = |n: &str| v.headers.get(n).and_then(|h| h.to_str().ok());
    let event = header("x-github-event").unwrap_or_default();
    let inbound = match inbound::parse(event, &v.body) {
        Ok(i) => i,
        Err(r) => return refuse(s.core.as_ref(), "github", r),
    };
    if let Inbound::Ping { zen } = inbound {
        return Json(json!({ "ok": true, "zen": zen })).into_response();
    }
    // Before anything is recorded: if opsbot cannot tell whether this is its
    // own comment, GitHub should redeliver it later rather than have it run.
    if let Inbound::Comment(c) = &inbound {
        match s.people.is_me(c.user_id).await {
            Ok(false) => {}
            Ok(true) => {
                return (
                    StatusCode::ACCEPTED,
                    "ignored: opsbot's own comments never run commands",
                )
                    .into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "github: cannot learn which account opsbot posts as");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot tell whether this comment is opsbot's own right now; GitHub will redeliver",
                )
                    .into_response();
            }
        }
    }
    if let Some(delivery) = header("x-github-delivery") {
        if let Some(stop) = first_time(&s, "github", delivery).await {
            return stop;
        }
    }
    let comment = match inbound {
        Inbound::Comment(c) => c,
        Inbound::Ignored(why) => return (StatusCode::ACCEPTED, why).into_response(),
        Inbound::Ping { .. } => unreachable!("answered above"),
    };
    // The delivery header is not signed; this key is.
    let signed = format!(
        "{}:{}:{}",
        comment.comment_id, comment.action, comment.updated_at
    );
    if let Some(stop) = first_time(&s, "github-comment", &signed).await {
        return stop;
    }
    let sender = s.people.who(comment.user_id, comment.installation).await;
    if let Some(refusal) = permission_refusal(&s, &comment).await {
        let t = thread(&s, &comment);
        tokio::spawn(async move { t.post(&refusal).await });
        return (
            StatusCode::ACCEPTED,
            "refused by github.min_permission; nothing run",
        )
            .into_response();
    }
    let commands = lines::commands(&comment.body, &s.settings.prefix);
    if commands.len() > s.settings.max_commands_per_comment {
        let t = thread(&s, &comment);
        let note = format!(
            "@{} this comment has {} `{}` lines; at most {} run from one comment. Nothing was run.",
            comment.login,
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
            sender: sender.clone(),
            text: text.clone(),
            place: Place::Github(GithubPlace {
                repo: comment.repo.clone(),
                issue: comment.issue,
                comment_id: comment.comment_id,
            }),
        };
        s.core.submit(req, tx).await;
        let t = thread(&s, &comment);
        tokio::spawn(t.follow(rx, comment.login.clone()));
    }
    (
        StatusCode::ACCEPTED,
        Json(json!({ "commands": commands.len() })),
    )
        .into_response()
}

/// With `github.min_permission`, the refusal to post when the commenter's
/// permission on the repository is lower, or cannot be checked (fails
/// closed); `None` when they may go on.
async fn permission_refusal(s: &Shared, c: &inbound::Comment) -> Option<String> {
    let needed = s.settings.min_permission?;
    let issue = Issue::new(&c.repo, c.issue, c.installation);
    let login = render::escape(&c.login);
    match s.api.permission(&issue, &c.login).await {
        Ok(Some(have)) if have >= needed => None,
        Ok(have) => Some(format!(
            "@{login} ✖ refused by `github.min_permission`: commands here need `{}` permission on {}; you have `{}`. Nothing was run. A repository admin can raise it (Settings → Collaborators and teams).",
            needed.word(),
            render::code(&c.repo),
            have.map_or("none", |p| p.word()),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "github: cannot check the commenter's permission");
            Some(format!(
                "@{login} ✖ refused: `github.min_permission` is set and GitHub's API did not answer the permission check. Nothing was run; comment again in a minute."
            ))
        }
    }
}

/// Record `key` under `source`: `None` the first time (go on), or the
/// answer to give when it was seen before or cannot be recorded.
async fn first_time(s: &Shared, source: &str, key: &str) -> Option<Response> {
    match s.core.first_delivery(source, key).await {
        Ok(true) => None,
        Ok(false) => {
            s.core.refused("github", "replayed");
            Some(
                (
                    StatusCode::OK,
                    "duplicate delivery: already handled, nothing run again",
                )
                    .into_response(),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "github: cannot record the delivery");
            Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot record this delivery right now; GitHub will redeliver",
                )
                    .into_response(),
            )
        }
    }
}

fn thread(s: &Shared, c: &inbound::Comment) -> Thread {
    Thread {
        api: s.api.clone(),
        issue: Issue::new(&c.repo, c.issue, c.installation),
        command_comment: c.comment_id,
        labels: s.settings.triage_labels,
    }
}
