//! The GitHub REST calls opsbot makes (post and edit a comment, label an
//! issue, look up accounts): octocrab pointed at `GITHUB_API_URL`, every
//! call through the one [`RetryPolicy`]. A 4xx other than 429 is permanent
//! (no permission, no such issue) and fails at once; 429, 5xx and transport
//! errors back off.
//!
//! Who calls: with a GitHub App configured, the installation the delivery
//! came from ([`Issue::installation`]), with a token from [`AppAuth`]; a 401
//! forgets that token and the call is made once more with a new one.
//! Otherwise (or for a delivery without an installation) the plain token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::auth::{AppAuth, AuthError};
use super::settings::GithubSettings;
use crate::chat::retry::{GaveUp, Retry, RetryPolicy};
use crate::config::RepoPermission;

/// GitHub refuses label names longer than this (in characters).
const MAX_LABEL: usize = 50;
/// Connecting to GitHub takes well under this.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// No REST call opsbot makes should take longer to read or write.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The client, cheap to clone.
#[derive(Clone)]
pub struct GithubApi {
    /// With the plain token, or unauthenticated when there is none.
    octo: octocrab::Octocrab,
    app: Option<Arc<AppAuth>>,
    api_url: String,
    /// One octocrab per installation, with the token it was built with.
    installations: Arc<Mutex<HashMap<u64, (SecretString, octocrab::Octocrab)>>>,
    retry: RetryPolicy,
}

/// Where a comment goes: `owner/name`, the issue number, and the App
/// installation the delivery came from.
#[derive(Debug, Clone)]
pub struct Issue {
    pub owner: String,
    pub repo: String,
    pub number: u64,
    pub installation: Option<u64>,
    /// Answer in this pull-request review thread (its first comment's id)
    /// instead of the issue's conversation.
    pub review_thread: Option<u64>,
}

impl Issue {
    /// From `owner/name`, a number and the delivery's installation.
    pub fn new(full_name: &str, number: u64, installation: Option<u64>) -> Issue {
        let (owner, repo) = full_name.split_once('/').unwrap_or((full_name, ""));
        Issue {
            owner: owner.to_string(),
            repo: repo.to_string(),
            number,
            installation,
            review_thread: None,
        }
    }

    /// The same place, answered in review thread `thread` when given.
    pub fn in_review_thread(mut self, thread: Option<u64>) -> Issue {
        self.review_thread = thread;
        self
    }

    /// Where the comment with `id` is edited or reacted to.
    fn comment_route(&self, id: u64) -> String {
        let kind = if self.review_thread.is_some() {
            "pulls"
        } else {
            "issues"
        };
        format!("/repos/{}/{}/{kind}/comments/{id}", self.owner, self.repo)
    }
}

/// A call that did not succeed: no token could be had, or GitHub's answer.
#[derive(Debug)]
pub enum CallError {
    Auth(AuthError),
    Api(GaveUp<octocrab::Error>),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Auth(e) => write!(f, "{e}"),
            CallError::Api(g) => write!(f, "{} (after {} attempt(s))", g.error, g.attempts),
        }
    }
}

/// An octocrab client for `api_url`, with `token` when given.
fn octocrab_for(api_url: &str, token: Option<&SecretString>) -> anyhow::Result<octocrab::Octocrab> {
    // octocrab's own retry (3 immediate repeats of any 5xx, POSTs
    // included) would run inside ours and multiply every call: off, so
    // the one policy decides. Timeouts so a silent GitHub cannot hold a
    // thread task forever.
    let mut builder = octocrab::Octocrab::builder()
        .base_uri(api_url)?
        .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
        .set_connect_timeout(Some(CONNECT_TIMEOUT))
        .set_read_timeout(Some(CALL_TIMEOUT))
        .set_write_timeout(Some(CALL_TIMEOUT));
    if let Some(t) = token {
        builder = builder.personal_token(t.expose_secret().to_string());
    }
    Ok(builder.build()?)
}

impl GithubApi {
    pub fn new(settings: &GithubSettings) -> anyhow::Result<GithubApi> {
        let app = match &settings.app {
            Some((app_id, key_file)) => {
                let pem = std::fs::read_to_string(key_file).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot read github.private_key_file {}: {e}; point GITHUB_PRIVATE_KEY_FILE at the .pem file downloaded from the App's settings page",
                        key_file.display()
                    )
                })?;
                let auth = AppAuth::new(
                    *app_id,
                    &SecretString::from(pem),
                    &settings.api_url,
                    CONNECT_TIMEOUT,
                    CALL_TIMEOUT,
                )?;
                Some(Arc::new(auth))
            }
            None => None,
        };
        Ok(GithubApi {
            octo: octocrab_for(&settings.api_url, settings.token.as_ref())?,
            app,
            api_url: settings.api_url.clone(),
            installations: Arc::default(),
            retry: RetryPolicy::default(),
        })
    }

    /// The client for calls about `installation`.
    async fn client(&self, installation: Option<u64>) -> Result<octocrab::Octocrab, CallError> {
        let (Some(app), Some(id)) = (&self.app, installation) else {
            return Ok(self.octo.clone());
        };
        let token = app.token(id).await.map_err(CallError::Auth)?;
        let mut cache = self.installations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_with, octo)) = cache.get(&id) {
            // The token itself, not its expiry: two tokens fetched within a
            // second expire in the same second.
            if built_with.expose_secret() == token.secret.expose_secret() {
                return Ok(octo.clone());
            }
        }
        let octo = octocrab_for(&self.api_url, Some(&token.secret))
            .map_err(|e| CallError::Auth(AuthError::Transport(e.to_string())))?;
        cache.insert(id, (token.secret.clone(), octo.clone()));
        Ok(octo)
    }

    /// Run `call` with the right client under the retry policy; a 401 with
    /// an installation token forgets it and tries once more with a new one.
    async fn call<T, F, Fut>(
        &self,
        installation: Option<u64>,
        what: &str,
        classify: fn(&octocrab::Error) -> Retry,
        call: F,
    ) -> Result<T, CallError>
    where
        F: Fn(octocrab::Octocrab) -> Fut,
        Fut: std::future::Future<Output = Result<T, octocrab::Error>>,
    {
        let mut refreshed = false;
        loop {
            let octo = self.client(installation).await?;
            match self.retry.run(what, classify, || call(octo.clone())).await {
                Err(GaveUp {
                    error: octocrab::Error::GitHub { source, .. },
                    ..
                }) if source.status_code == StatusCode::UNAUTHORIZED
                    && !refreshed
                    && self.app.is_some()
                    && installation.is_some() =>
                {
                    if let (Some(app), Some(id)) = (&self.app, installation) {
                        tracing::warn!(
                            installation = id,
                            "github: 401 with the installation token; fetching a new one"
                        );
                        app.forget(id);
                    }
                    refreshed = true;
                }
                other => return other.map_err(CallError::Api),
            }
        }
    }

    /// Post a comment; its id, or `None` (logged) when GitHub never took it.
    ///
    /// A new comment is not idempotent: only a call GitHub certainly did not
    /// apply is tried again (a 429, or a connection never made). A timeout
    /// or a 5xx after the request went out may have posted it, so it is
    /// given up rather than posted twice.
    pub async fn post_comment(&self, issue: &Issue, body: &str) -> Option<u64> {
        let sent = self
            .call(
                issue.installation,
                "github: posting a comment",
                classify_not_idempotent,
                |octo| async move {
                    match issue.review_thread {
                        // octocrab has no call for replies: GitHub's route.
                        Some(thread) => {
                            let route = format!(
                                "/repos/{}/{}/pulls/{}/comments/{thread}/replies",
                                issue.owner, issue.repo, issue.number
                            );
                            octo.post::<_, octocrab::models::issues::Comment>(
                                route,
                                Some(&json!({ "body": body })),
                            )
                            .await
                        }
                        None => {
                            octo.issues(&issue.owner, &issue.repo)
                                .create_comment(issue.number, body)
                                .await
                        }
                    }
                },
            )
            .await;
        match sent {
            Ok(c) => Some(c.id.into_inner()),
            Err(e) => {
                tracing::warn!(error = %e, issue = issue.number, "github: giving up posting a comment");
                None
            }
        }
    }

    /// Replace a comment's body.
    pub async fn edit_comment(&self, issue: &Issue, id: u64, body: &str) {
        // octocrab's `update_comment` POSTs; GitHub documents PATCH.
        let route = issue.comment_route(id);
        let patch = json!({ "body": body });
        let sent = self
            .call(
                issue.installation,
                "github: editing a comment",
                classify,
                |octo| {
                    let (route, patch) = (route.clone(), patch.clone());
                    async move {
                        octo.patch::<octocrab::models::issues::Comment, _, _>(&route, Some(&patch))
                            .await
                    }
                },
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, issue = issue.number, "github: giving up editing a comment");
        }
    }

    /// Add labels to the issue (GitHub creates labels the repository lacks).
    /// A refusal (403 without the Issues write permission, 404, 422) is
    /// logged and changes nothing else: the run and its comment stand.
    pub async fn add_labels(&self, issue: &Issue, labels: &[String]) {
        let labels: Vec<String> = labels
            .iter()
            .map(|l| l.chars().take(MAX_LABEL).collect())
            .collect();
        let sent = self
            .call(
                issue.installation,
                "github: labelling the issue",
                classify,
                |octo| {
                    let labels = labels.clone();
                    async move {
                        octo.issues(&issue.owner, &issue.repo)
                            .add_labels(issue.number, &labels)
                            .await
                    }
                },
            )
            .await;
        match sent {
            Ok(_) => {}
            Err(CallError::Api(GaveUp {
                error: octocrab::Error::GitHub { source, .. },
                ..
            })) if classify_status(source.status_code) == Retry::Never => {
                tracing::warn!(
                    issue = issue.number,
                    status = %source.status_code,
                    message = %source.message,
                    ?labels,
                    "github: cannot label the issue; the run and its comment stand"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "github: giving up labelling the issue");
            }
        }
    }

    /// React to comment `comment` of this issue (`eyes`, `rocket`,
    /// `confused`: GitHub's reaction contents). Reacting twice with the same
    /// content is harmless (GitHub answers 200 with the existing reaction),
    /// so it is retried like an edit. A refusal is logged; the run stands.
    pub async fn react(&self, issue: &Issue, comment: u64, content: &str) {
        let route = format!("{}/reactions", issue.comment_route(comment));
        let body = json!({ "content": content });
        let sent = self
            .call(
                issue.installation,
                "github: reacting to a comment",
                classify,
                |octo| {
                    let (route, body) = (route.clone(), body.clone());
                    async move { octo.post::<_, serde_json::Value>(&route, Some(&body)).await }
                },
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, content, comment, "github: cannot react to the command's comment; the run stands");
        }
    }

    /// `login`'s permission on the issue's repository
    /// (`GET /repos/{o}/{r}/collaborators/{login}/permission`): the finer
    /// `role_name` (triage, maintain) when GitHub gives one, else
    /// `permission`; `None` for no access.
    pub async fn permission(
        &self,
        issue: &Issue,
        login: &str,
    ) -> Result<Option<RepoPermission>, ApiError> {
        if !is_login(login) {
            return Ok(None);
        }
        let route = format!(
            "/repos/{}/{}/collaborators/{login}/permission",
            issue.owner, issue.repo
        );
        let got = self
            .call(
                issue.installation,
                "github: checking a permission",
                classify,
                |octo| {
                    let route = route.clone();
                    async move {
                        octo.get::<serde_json::Value, _, ()>(&route, None::<&()>)
                            .await
                    }
                },
            )
            .await;
        let v = match got {
            Ok(v) => v,
            // Not a collaborator (or no such account): no access.
            Err(CallError::Api(GaveUp {
                error: octocrab::Error::GitHub { source, .. },
                ..
            })) if source.status_code == StatusCode::NOT_FOUND => return Ok(None),
            Err(e) => return Err(ApiError::Call(e.to_string())),
        };
        let word = |k: &str| v[k].as_str().and_then(RepoPermission::parse);
        Ok(word("role_name").or_else(|| word("permission")))
    }

    /// The numeric id of the account with this login (`GET /users/{login}`):
    /// `Ok(None)` when GitHub has no such account. Logins are checked before
    /// they go into a path.
    pub async fn user_id(
        &self,
        login: &str,
        installation: Option<u64>,
    ) -> Result<Option<u64>, ApiError> {
        if !is_login(login) {
            return Ok(None);
        }
        let route = format!("/users/{login}");
        let got = self
            .call(
                installation,
                "github: looking up a user",
                classify,
                |octo| {
                    let route = route.clone();
                    async move {
                        octo.get::<serde_json::Value, _, ()>(&route, None::<&()>)
                            .await
                    }
                },
            )
            .await;
        match got {
            Ok(user) => user["id"].as_u64().map(Some).ok_or(ApiError::Shape(
                "GET /users/{login} answered without a numeric `id`",
            )),
            Err(CallError::Api(GaveUp {
                error: octocrab::Error::GitHub { source, .. },
                ..
            })) if source.status_code == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(ApiError::Call(e.to_string())),
        }
    }

    /// The account the plain token belongs to (`GET /user`): its id and login.
    pub async fn authenticated_user(&self) -> Result<(u64, String), ApiError> {
        let got = self
            .call(
                None,
                "github: asking who the token is",
                classify,
                |octo| async move {
                    octo.get::<serde_json::Value, _, ()>("/user", None::<&()>)
                        .await
                },
            )
            .await
            .map_err(|e| ApiError::Call(e.to_string()))?;
        match (got["id"].as_u64(), got["login"].as_str()) {
            (Some(id), Some(login)) => Ok((id, login.to_string())),
            _ => Err(ApiError::Shape(
                "GET /user answered without a numeric `id` and a `login`",
            )),
        }
    }
}

/// A GitHub look-up that did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("GitHub's API failed: {0}; check GITHUB_TOKEN and GITHUB_API_URL")]
    Call(String),
    #[error("GitHub's API answered in an unexpected shape: {0}")]
    Shape(&'static str),
}

/// A GitHub login: 1 to 39 ASCII letters, digits and single hyphens, not
/// starting or ending with a hyphen (what GitHub allows at sign-up).
pub fn is_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Whether an octocrab error is worth another try.
fn classify(e: &octocrab::Error) -> Retry {
    match e {
        octocrab::Error::GitHub { source, .. } => classify_status(source.status_code),
        _ => Retry::Backoff,
    }
}

fn classify_status(status: StatusCode) -> Retry {
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        Retry::Never
    } else {
        Retry::Backoff
    }
}

/// For calls that must not be applied twice (creating a comment): retried
/// only when GitHub certainly did not apply it, a 429 or a connection that
/// was never made. A 5xx, a timeout or a dropped connection after the
/// request went out may have been applied.
fn classify_not_idempotent(e: &octocrab::Error) -> Retry {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            classify_status_not_idempotent(source.status_code)
        }
        octocrab::Error::Service { source, .. } if never_connected(source.as_ref()) => {
            Retry::Backoff
        }
        _ => Retry::Never,
    }
}

/// GitHub answered: only a 429 says for certain that nothing was applied.
fn classify_status_not_idempotent(status: StatusCode) -> Retry {
    if status == StatusCode::TOO_MANY_REQUESTS {
        Retry::Backoff
    } else {
        Retry::Never
    }
}

/// Whether the error chain says the connection was never made (so nothing
/// was sent).
fn never_connected(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper_util::client::legacy::Error>() {
            return h.is_connect();
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_logins_go_into_a_path() {
        for ok in ["octocat", "bob-demo", "a", "A1-b2"] {
            assert!(is_login(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "../app",
            "a/b",
            "a?x=1",
            &"x".repeat(40),
            "İ",
        ] {
            assert!(!is_login(bad), "{bad}");
        }
    }

    #[test]
    fn a_refused_or_failed_comment_post_is_never_repeated_but_a_429_is() {
        let status = |code: u16| StatusCode::from_u16(code).unwrap();
        for code in [500, 502, 503, 403, 404, 422] {
            assert_eq!(
                classify_status_not_idempotent(status(code)),
                Retry::Never,
                "{code}"
            );
        }
        assert_eq!(classify_status_not_idempotent(status(429)), Retry::Backoff);
        assert_eq!(
            classify_status(status(502)),
            Retry::Backoff,
            "an edit may be repeated"
        );
    }
}
