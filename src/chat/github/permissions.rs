//! `github.min_permission` answers, cached for a minute per repository and
//! account: the check is a GitHub API call the answer to a delivery waits
//! for, and without a cache a busy issue spent one per comment (GitHub
//! allows an installation 5,000 calls an hour). A minute is how long a
//! lowered permission can still pass; only answers are cached, so a check
//! GitHub did not answer fails closed and is asked again next time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::api::{ApiError, GithubApi, Issue};
use crate::config::RepoPermission;

/// How long one answer stands.
pub const TTL: Duration = Duration::from_secs(60);

/// Remembered answers beyond which the stale ones are dropped.
const REMEMBERED: usize = 10_000;

type Key = (String, u64);

pub struct Permissions {
    api: GithubApi,
    ttl: Duration,
    cache: Mutex<HashMap<Key, (Instant, Option<RepoPermission>)>>,
}

impl Permissions {
    pub fn new(api: GithubApi) -> Permissions {
        Permissions {
            api,
            ttl: TTL,
            cache: Mutex::default(),
        }
    }

    /// The permission of account `user_id` (`login` now) on the issue's
    /// repository; `None` for no access.
    pub async fn of(
        &self,
        issue: &Issue,
        repo: &str,
        user_id: u64,
        login: &str,
    ) -> Result<Option<RepoPermission>, ApiError> {
        let key = (repo.to_ascii_lowercase(), user_id);
        if let Some((at, have)) = self.lock().get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(*have);
            }
        }
        let have = self.api.permission(issue, login).await?;
        let mut cache = self.lock();
        if cache.len() >= REMEMBERED {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        cache.insert(key, (Instant::now(), have));
        Ok(have)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, Option<RepoPermission>)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
