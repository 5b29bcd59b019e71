//! The GitHub REST calls opsbot makes (post and edit a comment, label an
//! issue): octocrab pointed at `GITHUB_API_URL`, every call through the one
//! [`RetryPolicy`]. A 4xx other than 429 is permanent (no permission, no
//! such issue) and fails at once; 429, 5xx and transport errors back off.

use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;

use super::settings::GithubSettings;
use crate::chat::retry::{GaveUp, Retry, RetryPolicy};

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
    pub async fn post_comment(&self, issue: &Issue, body: &str) -> Option<u64> {
        let sent = self
            .retry
            .run("github: posting a comment", classify, || async {
                self.octo
                    .issues(&issue.owner, &issue.repo)
                    .create_comment(issue.number, body)
                    .await
            })
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
