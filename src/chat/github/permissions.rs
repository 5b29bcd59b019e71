//! `github.min_permission` answers, cached for a minute per repository and
//! account: the check is a GitHub API call the answer to a delivery waits
//! for, and without a cache a busy issue spent one per comment (GitHub
//! allows an installation 5,000 calls an hour). A minute is how long a
//! lowered permission can still pass; only answers are cached, so a check
//! GitHub did not answer fails closed and is asked again next time.

use std::time::Duration;

use super::api::{ApiError, GithubApi, Issue};
use super::expiring::Expiring;
use crate::config::RepoPermission;

/// How long one answer stands.
pub const TTL: Duration = Duration::from_secs(60);

pub struct Permissions {
    api: GithubApi,
    /// By `owner/name` (lower-cased) and account id.
    answers: Expiring<(String, u64), Option<RepoPermission>>,
}

impl Permissions {
    pub fn new(api: GithubApi) -> Permissions {
        Permissions {
            api,
            answers: Expiring::new(TTL),
        }
    }

    /// The permission of account `user_id` (`login` now) on the issue's
    /// repository; `None` for no access.
    pub async fn of(
        &self,
        issue: &Issue,
        user_id: u64,
        login: &str,
    ) -> Result<Option<RepoPermission>, ApiError> {
        let key = (
            format!("{}/{}", issue.owner, issue.repo).to_ascii_lowercase(),
            user_id,
        );
        if let Some(have) = self.answers.fresh(&key) {
            return Ok(have);
        }
        let have = self.api.permission(issue, login).await?;
        self.answers.put(key, have);
        Ok(have)
    }
}
