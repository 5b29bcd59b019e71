//! GitHub: `/ops …` lines in issue and pull-request comments, and in
//! pull-request review comments (answered in their review thread).
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
//! With `run_on_edit`, an edited comment runs the command lines that were
//! not run from it before: every line is recorded durably before it runs
//! (`github-line` in the delivery table), so no line runs twice.
//!
//! Who asked is the commenter's account id (`comment.user.id`), matched to
//! `people[].github` through [`people`] (logins there are resolved to ids;
//! the login in a delivery is never trusted, it can be renamed or
//! recycled). Comments by bots and by opsbot's own account are ignored;
//! deleted comments run nothing. A delivery runs once: its
//! `X-GitHub-Delivery` id is recorded, and so is what the signature covers
//! (comment id, action, `updated_at`), since the header is not signed and a
//! captured body could come back under a new delivery id.

pub mod api;
pub mod auth;
mod busy;
mod expiring;
pub mod inbound;
pub mod lines;
mod notify;
pub mod people;
mod permissions;
pub mod render;
mod reopen;
mod settings;
pub mod teams;
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
use super::{Core, Request, Update};
use api::{GithubApi, Issue};
use inbound::Inbound;
pub use notify::IssueNotifier;
pub use settings::GithubSettings;
use thread::Thread;

struct Shared {
    core: Arc<dyn Core>,
    settings: GithubSettings,
    verifier: verify::Verifier,
    api: GithubApi,
    people: people::People,
    permissions: permissions::Permissions,
    teams: teams::Teams,
    busy: busy::BusyNotes,
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
    core.reopen_with(Arc::new(reopen::GithubReopen {
        api: api.clone(),
        runtime: tokio::runtime::Handle::current(),
    }));
    Ok(Router::new()
        .route("/github/webhook", post(webhook))
        .with_state(Arc::new(Shared {
            people: people::People::new(api.clone(), settings.token.is_some(), &settings.people),
            permissions: permissions::Permissions::new(api.clone()),
            teams: teams::Teams::new(api.clone(), settings.teams.iter().map(String::as_str)),
            busy: busy::BusyNotes::default(),
            core,
            settings,
            verifier,
            api,
        })))
}

/// The response header that tells what became of a delivery, so a load
/// test (or a proxy log) can count busy refusals without reading bodies:
/// `accepted`, `busy`, `duplicate`, `ignored`, `refused`, `unavailable`.
pub const OUTCOME: &str = "x-opsbot-outcome";

fn outcome(word: &'static str, answer: impl IntoResponse) -> Response {
    let mut r = answer.into_response();
    r.headers_mut()
        .insert(OUTCOME, axum::http::HeaderValue::from_static(word));
    r
}

async fn webhook(State(s): State<Arc<Shared>>, v: Verified) -> Response {
    let header = |n: &str| v.headers.get(n).and_then(|h| h.to_str().ok());
    let event = header("x-github-event").unwrap_or_default();
    let inbound = match inbound::parse(event, &v.body) {
        Ok(i) => i,
        Err(r) => return outcome("refused", refuse(s.core.as_ref(), "github", r)),
    };
    if let Inbound::Ping { zen } = inbound {
        return outcome("ignored", Json(json!({ "ok": true, "zen": zen })));
    }
    // Before anything is recorded: if opsbot cannot tell whether this is its
    // own comment, GitHub should redeliver it later rather than have it run.
    if let Inbound::Comment(c) = &inbound {
        match s.people.is_me(c.user_id).await {
            Ok(false) => {}
            Ok(true) => {
                return outcome(
                    "ignored",
                    (
                        StatusCode::ACCEPTED,
                        "ignored: opsbot's own comments never run commands",
                    ),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "github: cannot learn which account opsbot posts as");
                return outcome("unavailable", (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot tell whether this comment is opsbot's own right now; GitHub will redeliver",
                ));
            }
        }
    }
    // Everything the answer waits for is recorded in one group commit: the
    // delivery id, what the signature covers (the delivery header is not
    // signed) and, when nothing else has to be checked first, each command
    // line. Sequential marks cost one commit (an fsync) each.
    let delivery = header("x-github-delivery");
    let comment = match inbound {
        Inbound::Comment(c) if c.action == "edited" && !s.settings.run_on_edit => {
            Err("ignored: edited comments run nothing unless github.run_on_edit is on")
        }
        Inbound::Comment(c) => Ok(c),
        Inbound::Ignored(why) => Err(why),
        Inbound::Ping { .. } => unreachable!("answered above"),
    };
    let signed = comment
        .as_ref()
        .ok()
        .map(|c| format!("{}:{}:{}", c.comment_id, c.action, c.updated_at));
    let commands = comment
        .as_ref()
        .map(|c| lines::commands(&c.body, &s.settings.prefix))
        .unwrap_or_default();
    let too_many = commands.len() > s.settings.max_commands_per_comment;
    let keys = match &comment {
        Ok(c) => line_keys(c.comment_id, &commands),
        Err(_) => Vec::new(),
    };
    // Lines are recorded with the delivery unless a permission check
    // (an API call) or the too-many note decides first that none runs.
    let lines_now = !too_many && s.settings.min_permission.is_none();
    // A burst past the run queue is refused before any durable write: an
    // fsync per refused delivery would be the whole cost of the refusal.
    if let Ok(c) = &comment {
        let busy = lines_now
            && !commands.is_empty()
            && commands.iter().all(|text| s.core.busy(text).is_some());
        if busy {
            for _ in &commands {
                s.core.refused("github", "busy");
            }
            if s.busy.first_in_a_while(&c.repo, c.issue) {
                let (t, note) = (thread(&s, c), busy::note(&c.login));
                tokio::spawn(async move { t.post(&note).await });
            }
            return outcome(
                "busy",
                (
                    StatusCode::ACCEPTED,
                    Json(json!({ "commands": commands.len() })),
                ),
            );
        }
    }
    let mut marks: Vec<(&str, &str)> = Vec::new();
    marks.extend(delivery.map(|d| ("github", d)));
    marks.extend(signed.as_deref().map(|k| ("github-comment", k)));
    if lines_now {
        marks.extend(keys.iter().map(|(k, _)| ("github-line", k.as_str())));
    }
    let mut marked = futures::future::join_all(
        marks
            .iter()
            .map(|(source, key)| s.core.first_delivery(source, key)),
    )
    .await
    .into_iter();
    if delivery.is_some() {
        if let Some(stop) = first_time(&s, marked.next()) {
            return stop;
        }
    }
    let comment = match comment {
        Ok(c) => c,
        Err(why) => return outcome("ignored", (StatusCode::ACCEPTED, why)),
    };
    if let Some(stop) = first_time(&s, marked.next()) {
        return stop;
    }
    let sender = s.people.who(comment.user_id, comment.installation).await;
    if let Some(refusal) = permission_refusal(&s, &comment).await {
        let t = thread(&s, &comment);
        tokio::spawn(async move { t.post(&refusal).await });
        return outcome(
            "refused",
            (
                StatusCode::ACCEPTED,
                "refused by github.min_permission; nothing run",
            ),
        );
    }
    if too_many {
        let t = thread(&s, &comment);
        let note = format!(
            "@{} this comment has {} `{}` lines; at most {} run from one comment. Nothing was run.",
            comment.login,
            commands.len(),
            s.settings.prefix,
            s.settings.max_commands_per_comment
        );
        tokio::spawn(async move { t.post(&note).await });
        return outcome(
            "refused",
            (
                StatusCode::ACCEPTED,
                "too many commands in one comment; nothing run",
            ),
        );
    }
    // Each command line of a comment runs at most once, across edits and
    // restarts: recorded before it is submitted.
    let lines: Vec<_> = if lines_now {
        marked.collect()
    } else {
        futures::future::join_all(
            keys.iter()
                .map(|(key, _)| s.core.first_delivery("github-line", key)),
        )
        .await
    };
    let mut fresh = Vec::new();
    for (line, (_, text)) in lines.into_iter().zip(keys) {
        match line {
            Ok(true) => fresh.push(text),
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "github: cannot record a command line");
                return outcome(
                    "unavailable",
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "cannot record this comment's commands right now; nothing run",
                    ),
                );
            }
        }
    }
    let commands = fresh;
    // Team roles only matter for someone the config names; nobody else
    // costs a look-up.
    let memberships = if commands.is_empty() || !s.settings.people.contains(&sender) {
        Vec::new()
    } else {
        s.teams
            .of(comment.user_id, &comment.login, comment.installation)
            .await
    };
    let mut busy = 0;
    for text in &commands {
        let (tx, rx) = mpsc::unbounded_channel();
        let req = Request {
            sender: sender.clone(),
            text: text.clone(),
            place: Place::Github(GithubPlace {
                repo: comment.repo.clone(),
                issue: comment.issue,
                comment_id: comment.comment_id,
                installation: comment.installation,
            }),
            memberships: memberships.clone(),
        };
        s.core.submit(req, tx).await;
        let t = thread(&s, &comment);
        // A full queue refuses at once: that refusal costs the API budget
        // once per issue and minute, not once per delivery.
        let mut rx = rx;
        if let Ok(first) = rx.try_recv() {
            if matches!(&first, Update::Refused { reason, .. } if reason == crate::chat::BUSY) {
                busy += 1;
                if s.busy.first_in_a_while(&comment.repo, comment.issue) {
                    let note = busy::note(&comment.login);
                    tokio::spawn(async move { t.post(&note).await });
                }
                continue;
            }
            tokio::spawn(t.follow_from(Some(first), rx, comment.login.clone()));
            continue;
        }
        tokio::spawn(t.follow(rx, comment.login.clone()));
    }
    let word = if commands.is_empty() {
        "ignored"
    } else if busy == commands.len() {
        "busy"
    } else {
        "accepted"
    };
    outcome(
        word,
        (
            StatusCode::ACCEPTED,
            Json(json!({ "commands": commands.len() })),
        ),
    )
}

/// A durable key per command line of comment `comment`: the line's text
/// (hashed) and how many times the same text came before it in the comment,
/// so an edit that adds a line runs only that line, and one that repeats a
/// line on purpose runs the repeat.
fn line_keys(comment: u64, commands: &[String]) -> Vec<(String, String)> {
    use sha2::{Digest, Sha256};
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    commands
        .iter()
        .map(|text| {
            let n = seen.entry(text.as_str()).or_default();
            *n += 1;
            let hash = hex::encode(&Sha256::digest(text.as_bytes())[..16]);
            (format!("{comment}:{hash}:{n}"), text.clone())
        })
        .collect()
}

/// With `github.min_permission`, the refusal to post when the commenter's
/// permission on the repository is lower, or cannot be checked (fails
/// closed); `None` when they may go on.
async fn permission_refusal(s: &Shared, c: &inbound::Comment) -> Option<String> {
    let needed = s.settings.min_permission?;
    let issue = Issue::new(&c.repo, c.issue, c.installation);
    let login = render::escape(&c.login);
    match s.permissions.of(&issue, c.user_id, &c.login).await {
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

/// What a delivery mark said: `None` the first time (go on), or the
/// answer to give when it was seen before or could not be recorded.
fn first_time(s: &Shared, marked: Option<anyhow::Result<bool>>) -> Option<Response> {
    match marked? {
        Ok(true) => None,
        Ok(false) => {
            s.core.refused("github", "replayed");
            Some(outcome(
                "duplicate",
                (
                    StatusCode::OK,
                    "duplicate delivery: already handled, nothing run again",
                ),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "github: cannot record the delivery");
            Some(outcome(
                "unavailable",
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot record this delivery right now; GitHub will redeliver",
                ),
            ))
        }
    }
}

fn thread(s: &Shared, c: &inbound::Comment) -> Thread {
    Thread {
        api: s.api.clone(),
        issue: Issue::new(&c.repo, c.issue, c.installation).in_review_thread(c.review_thread),
        command_comment: c.comment_id,
        labels: s.settings.triage_labels,
    }
}

#[cfg(test)]
mod tests {
    use super::line_keys;

    #[test]
    fn a_line_keeps_its_key_when_lines_are_added_around_it_and_a_repeat_gets_its_own() {
        let before = line_keys(7, &["help".into(), "runs".into()]);
        let after = line_keys(
            7,
            &[
                "runs".into(),
                "hub status x".into(),
                "help".into(),
                "help".into(),
            ],
        );
        let keys = |v: &[(String, String)]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        let (b, a) = (keys(&before), keys(&after));
        assert!(a.contains(&b[0]) && a.contains(&b[1]));
        let new: Vec<_> = after
            .iter()
            .filter(|(k, _)| !b.contains(k))
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(
            new,
            vec!["hub status x", "help"],
            "the added line and the second help"
        );
        assert_ne!(line_keys(8, &["help".into()])[0].0, b[0], "per comment");
    }
}
