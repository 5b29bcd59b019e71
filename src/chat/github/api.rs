//! The GitHub REST calls opsbot makes (post and edit a comment, label an
//! issue): octocrab pointed at `GITHUB_API_URL`, every call through the one
//! [`RetryPolicy`]. A 4xx other than 429 is permanent (no permission, no
//! such issue) and fails at once; 429, 5xx and transport errors back off.

use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use super::settings::GithubSettings;
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
    octo: octocrab::Octocrab,
    retry: RetryPolicy,
}

/// Where a comment goes: `owner/name` and the issue number.
#[derive(Debug, Clone)]
pub struct Issue {
    pub owner: String,
    pub repo: String,
    pub number: u64,
}

impl Issue {
    /// From `owner/name` and a number.
    pub fn new(full_name: &str, number: u64) -> Issue {
        let (owner, repo) = full_name.split_once('/').unwrap_or((full_name, ""));
        Issue {
            owner: owner.to_string(),
            repo: repo.to_string(),
            number,
        }
    }
}

impl GithubApi {
    pub fn new(settings: &GithubSettings) -> anyhow::Result<GithubApi> {
        // octocrab's own retry (3 immediate repeats of any 5xx, POSTs
        // included) would run inside ours and multiply every call: off, so
        // the one policy decides. Timeouts so a silent GitHub cannot hold a
        // thread task forever.
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(settings.api_url.as_str())?
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(CALL_TIMEOUT))
            .set_write_timeout(Some(CALL_TIMEOUT));
        if let Some(t) = &settings.token {
            builder = builder.personal_token(t.expose_secret().to_string());
        }
        Ok(GithubApi {
            octo: builder.build()?,
            retry: RetryPolicy::default(),
        })
    }

    /// Post a comment; its id, or `None` (logged) when GitHub never took it.
    ///
    /// A new comment is not idempotent: only a call GitHub certainly did not
    /// apply is tried again (a 429, or a connection never made). A timeout
    /// or a 5xx after the request went out may have posted it, so it is
    /// given up rather than posted twice.
    pub async fn post_comment(&self, issue: &Issue, body: &str) -> Option<u64> {
        let sent = self
            .retry
            .run(
                "github: posting a comment",
                classify_not_idempotent,
                || async {
                    self.octo
                        .issues(&issue.owner, &issue.repo)
                        .create_comment(issue.number, body)
                        .await
                },
            )
            .await;
        match sent {
            Ok(c) => Some(c.id.into_inner()),
            Err(GaveUp { error, attempts }) => {
                tracing::warn!(attempts, error = %error, issue = issue.number, "github: giving up posting a comment");
                None
            }
        }
    }

    /// Replace a comment's body.
    pub async fn edit_comment(&self, issue: &Issue, id: u64, body: &str) {
        // octocrab's `update_comment` POSTs; GitHub documents PATCH.
        let route = format!("/repos/{}/{}/issues/comments/{id}", issue.owner, issue.repo);
        let patch = json!({ "body": body });
        let sent = self
            .retry
            .run("github: editing a comment", classify, || {
                self.octo
                    .patch::<octocrab::models::issues::Comment, _, _>(&route, Some(&patch))
            })
            .await;
        if let Err(GaveUp { error, attempts }) = sent {
            tracing::warn!(attempts, error = %error, issue = issue.number, "github: giving up editing a comment");
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
            .retry
            .run("github: labelling the issue", classify, || async {
                self.octo
                    .issues(&issue.owner, &issue.repo)
                    .add_labels(issue.number, &labels)
                    .await
            })
            .await;
        match sent {
            Ok(_) => {}
            Err(GaveUp {
                error: octocrab::Error::GitHub { source, .. },
                ..
            }) if classify_status(source.status_code) == Retry::Never => {
                tracing::warn!(
                    issue = issue.number,
                    status = %source.status_code,
                    message = %source.message,
                    ?labels,
                    "github: cannot label the issue; the run and its comment stand"
                );
            }
            Err(GaveUp { error, attempts }) => {
                tracing::warn!(attempts, error = %error, "github: giving up labelling the issue");
            }
        }
    }

    /// The numeric id of the account with this login (`GET /users/{login}`):
    /// `Ok(None)` when GitHub has no such account. Logins are checked before
    /// they go into a path.
    pub async fn user_id(&self, login: &str) -> Result<Option<u64>, ApiError> {
        if !is_login(login) {
            return Ok(None);
        }
        let route = format!("/users/{login}");
        let got = self
            .retry
            .run("github: looking up a user", classify, || {
                self.octo
                    .get::<serde_json::Value, _, ()>(&route, None::<&()>)
            })
            .await;
        match got {
            Ok(user) => user["id"].as_u64().map(Some).ok_or(ApiError::Shape(
                "GET /users/{login} answered without a numeric `id`",
            )),
            Err(GaveUp {
                error: octocrab::Error::GitHub { source, .. },
                ..
            }) if source.status_code == StatusCode::NOT_FOUND => Ok(None),
            Err(GaveUp { error, .. }) => Err(ApiError::Call(error.to_string())),
        }
    }

    /// The account the token belongs to (`GET /user`): its id and login.
    pub async fn authenticated_user(&self) -> Result<(u64, String), ApiError> {
        let got = self
            .retry
            .run("github: asking who the token is", classify, || {
                self.octo
                    .get::<serde_json::Value, _, ()>("/user", None::<&()>)
            })
            .await
            .map_err(|g| ApiError::Call(g.error.to_string()))?;
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
