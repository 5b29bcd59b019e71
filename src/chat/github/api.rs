//! The GitHub REST calls opsbot makes (post and edit a comment, label an
//! issue, look up accounts): octocrab pointed at `GITHUB_API_URL`, every
//! call through the one [`RetryPolicy`]. A 4xx other than 429 is permanent
//! (no permission, no such issue) and fails at once; 429, 5xx and transport
//! errors back off.
//!
//! Who calls: with a GitHub App configured, the installation the delivery
//! came from ([`Issue::installation`]), with a token from [`AppAuth`]; a 401
//! forgets that token and the call is made once more with a new one.
//! Otherwise (for a delivery without an installation, or when the App
//! cannot get a token) the plain token, when there is one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::auth::{AppAuth, AuthError};
use super::settings::GithubSettings;
use crate::config::RepoPermission;
use crate::retry::{GaveUp, Retry, RetryPolicy};

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
    /// Whether `octo` carries `GITHUB_TOKEN`.
    has_token: bool,
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
    Api(GaveUp<Failure>),
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
            has_token: settings.token.is_some(),
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
        let token = match app.token(id).await {
            Ok(t) => t,
            // The plain token is the fallback when the App cannot get one.
            Err(e) if self.has_token => {
                tracing::warn!(installation = id, error = %e, "github: no installation token; using GITHUB_TOKEN instead");
                return Ok(self.octo.clone());
            }
            Err(e) => return Err(CallError::Auth(e)),
        };
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

    /// One REST call with the right client under the retry policy: the
    /// answer's JSON, or why not. A 401 with an installation token forgets
    /// it and the call is made once more with a new one (at most once).
    async fn call(
        &self,
        installation: Option<u64>,
        what: &str,
        classify: fn(&Failure) -> Retry,
        method: Method,
        route: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, CallError> {
        let mut refreshed = false;
        loop {
            let octo = self.client(installation).await?;
            let sent = self
                .retry
                .run(what, classify, || send(&octo, method.clone(), route, body))
                .await;
            match (sent, &self.app, installation) {
                (Err(g), Some(app), Some(id))
                    if g.error.status == Some(StatusCode::UNAUTHORIZED) && !refreshed =>
                {
                    tracing::warn!(
                        installation = id,
                        "github: 401 with the installation token; fetching a new one"
                    );
                    app.forget(id);
                    refreshed = true;
                }
                (other, _, _) => return other.map_err(CallError::Api),
            }
        }
    }

    /// Post a comment; its id, or `None` (logged) when GitHub never took it.
    /// In a review thread it is a reply (`…/pulls/{n}/comments/{thread}/replies`).
    ///
    /// A new comment is not idempotent: only a call GitHub certainly did not
    /// apply is tried again (a 429 or a rate-limit 403, or a connection
    /// never made). A timeout or a 5xx after the request went out may have
    /// posted it, so it is given up rather than posted twice.
    pub async fn post_comment(&self, issue: &Issue, body: &str) -> Option<u64> {
        let route = match issue.review_thread {
            Some(thread) => format!(
                "/repos/{}/{}/pulls/{}/comments/{thread}/replies",
                issue.owner, issue.repo, issue.number
            ),
            None => format!(
                "/repos/{}/{}/issues/{}/comments",
                issue.owner, issue.repo, issue.number
            ),
        };
        let sent = self
            .call(
                issue.installation,
                "github: posting a comment",
                classify_not_idempotent,
                Method::POST,
                &route,
                Some(&json!({ "body": body })),
            )
            .await;
        match sent {
            Ok(c) => c["id"].as_u64().or_else(|| {
                tracing::warn!(
                    issue = issue.number,
                    "github: the new comment came back without an id; it will not be edited"
                );
                None
            }),
            Err(e) => {
                tracing::warn!(error = %e, issue = issue.number, "github: giving up posting a comment");
                None
            }
        }
    }

    /// Replace a comment's body (GitHub documents PATCH).
    pub async fn edit_comment(&self, issue: &Issue, id: u64, body: &str) {
        let sent = self
            .call(
                issue.installation,
                "github: editing a comment",
                classify,
                Method::PATCH,
                &issue.comment_route(id),
                Some(&json!({ "body": body })),
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
        let route = format!(
            "/repos/{}/{}/issues/{}/labels",
            issue.owner, issue.repo, issue.number
        );
        let sent = self
            .call(
                issue.installation,
                "github: labelling the issue",
                classify,
                Method::POST,
                &route,
                Some(&json!({ "labels": labels })),
            )
            .await;
        match sent {
            Ok(_) => {}
            Err(CallError::Api(GaveUp { error, .. })) if classify(&error) == Retry::Never => {
                tracing::warn!(
                    issue = issue.number,
                    status = %error.status.map(|s| s.as_u16()).unwrap_or(0),
                    message = %error.message,
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
        let sent = self
            .call(
                issue.installation,
                "github: reacting to a comment",
                classify,
                Method::POST,
                &route,
                Some(&json!({ "content": content })),
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
                Method::GET,
                &route,
                None,
            )
            .await;
        let v = match got {
            Ok(v) => v,
            // Not a collaborator (or no such account): no access.
            Err(CallError::Api(g)) if g.error.status == Some(StatusCode::NOT_FOUND) => {
                return Ok(None)
            }
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
                Method::GET,
                &route,
                None,
            )
            .await;
        match got {
            Ok(user) => user["id"].as_u64().map(Some).ok_or(ApiError::Shape(
                "GET /users/{login} answered without a numeric `id`",
            )),
            Err(CallError::Api(g)) if g.error.status == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(ApiError::Call(e.to_string())),
        }
    }

    /// Whether `login` is an active member of `org/team`
    /// (`GET /orgs/{org}/teams/{team}/memberships/{login}`). A 404 (not a
    /// member, or a team the token cannot see) and a `pending` invitation
    /// are both "no": only an accepted membership grants roles. Names are
    /// checked before they go into the path.
    pub async fn team_member(
        &self,
        org: &str,
        team: &str,
        login: &str,
        installation: Option<u64>,
    ) -> Result<bool, ApiError> {
        if !is_login(login) || !is_login(org) || !is_team_slug(team) {
            return Ok(false);
        }
        let route = format!("/orgs/{org}/teams/{team}/memberships/{login}");
        let got = self
            .call(
                installation,
                "github: checking a team membership",
                classify,
                Method::GET,
                &route,
                None,
            )
            .await;
        match got {
            Ok(m) => Ok(m["state"].as_str() == Some("active")),
            Err(CallError::Api(g)) if g.error.status == Some(StatusCode::NOT_FOUND) => Ok(false),
            Err(e) => Err(ApiError::Call(e.to_string())),
        }
    }

    /// The account the plain token belongs to (`GET /user`): its id and login.
    /// Open an issue in `owner/name` with this title and body; its number,
    /// or `None` (logged). Like a comment, a new issue is not idempotent, so
    /// only a call GitHub certainly did not apply is tried again.
    pub async fn create_issue(&self, full_name: &str, title: &str, body: &str) -> Option<u64> {
        let route = format!("/repos/{full_name}/issues");
        let sent = self
            .call(
                None,
                "github: opening an issue",
                classify_not_idempotent,
                Method::POST,
                &route,
                Some(&json!({ "title": title, "body": body })),
            )
            .await;
        match sent {
            Ok(i) => i["number"].as_u64().or_else(|| {
                tracing::warn!(
                    repo = full_name,
                    "github: the new issue came back without a number; it will not be updated"
                );
                None
            }),
            Err(e) => {
                tracing::warn!(error = %e, repo = full_name, "github: giving up opening an issue");
                None
            }
        }
    }

    /// Change the issue itself (`PATCH /repos/{o}/{r}/issues/{n}`): its body
    /// and/or its state (`closed`). Repeating it changes nothing more, so it
    /// is retried like an edit.
    pub async fn update_issue(&self, issue: &Issue, body: Option<&str>, state: Option<&str>) {
        let mut fields = serde_json::Map::new();
        if let Some(b) = body {
            fields.insert("body".into(), json!(b));
        }
        if let Some(s) = state {
            fields.insert("state".into(), json!(s));
        }
        let route = format!(
            "/repos/{}/{}/issues/{}",
            issue.owner, issue.repo, issue.number
        );
        let sent = self
            .call(
                issue.installation,
                "github: updating an issue",
                classify,
                Method::PATCH,
                &route,
                Some(&serde_json::Value::Object(fields)),
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, issue = issue.number, "github: giving up updating an issue");
        }
    }

    pub async fn authenticated_user(&self) -> Result<(u64, String), ApiError> {
        let got = self
            .call(
                None,
                "github: asking who the token is",
                classify,
                Method::GET,
                "/user",
                None,
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

/// Why one attempt of a call failed: GitHub's answer (status, its
/// `Retry-After`, its message), or no answer.
#[derive(Debug)]
pub struct Failure {
    /// `None`: no answer (connection, timeout).
    pub status: Option<StatusCode>,
    /// GitHub's `Retry-After` (seconds), sent with 429 and with the 403 of a
    /// secondary rate limit.
    pub retry_after: Option<std::time::Duration>,
    /// Whether the request may have reached GitHub.
    pub sent: bool,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "GitHub answered {s}: {}", self.message),
            None => write!(f, "no answer from GitHub: {}", self.message),
        }
    }
}

/// One attempt: `method route` with `body`, through octocrab's raw calls
/// (so the status and `Retry-After` are ours to read).
async fn send(
    octo: &octocrab::Octocrab,
    method: Method,
    route: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, Failure> {
    let no_answer = |e: octocrab::Error| Failure {
        status: None,
        retry_after: None,
        sent: !matches!(&e, octocrab::Error::Service { source, .. } if never_connected(source.as_ref())),
        message: e.to_string(),
    };
    let response = match method {
        Method::GET => octo._get(route).await,
        Method::PATCH => octo._patch(route, body).await,
        _ => octo._post(route, body).await,
    }
    .map_err(no_answer)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    let text = octo.body_to_string(response).await.map_err(no_answer)?;
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(Failure {
            status: Some(status),
            retry_after,
            sent: true,
            message,
        });
    }
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| Failure {
        status: Some(status),
        retry_after: None,
        sent: true,
        message: format!("an answer that is not JSON: {e}"),
    })
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

/// A team slug as GitHub makes them: lower-case letters, digits, `-` and
/// `_`, at most 255 characters (nothing that could leave its path segment).
pub fn is_team_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a failed attempt is worth another: GitHub's rate limits (429,
/// or a 403 with `Retry-After`) wait as long as it says, 5xx and no answer
/// back off, any other 4xx is final.
fn classify(f: &Failure) -> Retry {
    match (f.status, f.retry_after) {
        (Some(s), Some(wait)) if rate_limited(s) => Retry::After(wait),
        (Some(s), None) if s == StatusCode::TOO_MANY_REQUESTS => Retry::Backoff,
        (Some(s), _) => classify_status(s),
        (None, _) => Retry::Backoff,
    }
}

fn rate_limited(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::FORBIDDEN
}

fn classify_status(status: StatusCode) -> Retry {
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        Retry::Never
    } else {
        Retry::Backoff
    }
}

/// For calls that must not be applied twice (creating a comment): retried
/// only when GitHub certainly did not apply it, a rate limit or a
/// connection that was never made. A 5xx, a timeout or a dropped
/// connection after the request went out may have been applied.
fn classify_not_idempotent(f: &Failure) -> Retry {
    match (f.status, f.retry_after) {
        (Some(s), Some(wait)) if rate_limited(s) => Retry::After(wait),
        (Some(s), _) => classify_status_not_idempotent(s),
        (None, _) if !f.sent => Retry::Backoff,
        (None, _) => Retry::Never,
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

    fn failure(status: Option<u16>, retry_after: Option<u64>, sent: bool) -> Failure {
        Failure {
            status: status.map(|s| StatusCode::from_u16(s).unwrap()),
            retry_after: retry_after.map(std::time::Duration::from_secs),
            sent,
            message: "x".into(),
        }
    }

    #[test]
    fn githubs_retry_after_is_honoured_on_429_and_on_a_rate_limit_403() {
        let wait = Retry::After(std::time::Duration::from_secs(7));
        assert_eq!(classify(&failure(Some(429), Some(7), true)), wait);
        assert_eq!(classify(&failure(Some(403), Some(7), true)), wait);
        assert_eq!(
            classify_not_idempotent(&failure(Some(403), Some(7), true)),
            wait
        );
        assert_eq!(classify(&failure(Some(403), None, true)), Retry::Never);
        assert_eq!(classify(&failure(Some(404), None, true)), Retry::Never);
        assert_eq!(classify(&failure(None, None, true)), Retry::Backoff);
        assert_eq!(
            classify_not_idempotent(&failure(None, None, true)),
            Retry::Never,
            "a timeout may have posted it"
        );
        assert_eq!(
            classify_not_idempotent(&failure(None, None, false)),
            Retry::Backoff,
            "never connected"
        );
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
