//! Who wrote a comment, by the account's immutable id (`comment.user.id`),
//! never by its login: logins can be renamed, and a freed login can be
//! taken by someone else. `people[].github` may keep a login for
//! readability (resolved to its id once through `GET /users/{login}` and
//! cached) or say `id:NUMBER`. And whether a comment is opsbot's own: the
//! token's account, learnt once from `GET /user` (an App's comments come
//! from its `…[bot]` account, which [`super::inbound`] already ignores).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::api::{ApiError, GithubApi};

/// How soon logins that could not be resolved (GitHub unreachable) are
/// asked about again, at the earliest.
const RESOLVE_AGAIN: Duration = Duration::from_secs(60);

/// How `people[].github` values are matched, as `opsbot check` reports it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Written as `id:NUMBER`: matched as written.
    pub ids: Vec<(u64, String)>,
    /// Written as logins: resolved to their ids through the API.
    pub logins: Vec<String>,
}

impl Plan {
    /// Sort the configured values into ids and logins.
    pub fn of<'a>(values: impl IntoIterator<Item = &'a str>) -> Plan {
        let mut plan = Plan::default();
        for v in values {
            match id_form(v) {
                Some(id) => plan.ids.push((id, v.to_string())),
                None => plan.logins.push(v.to_string()),
            }
        }
        plan
    }

    /// One line for `opsbot check`.
    pub fn describe(&self) -> String {
        format!(
            "github: commenters are matched by their account id, never their login: {} person(s) written as `id:NUMBER`, {} login(s) resolved to ids through GitHub's API (GET /users/LOGIN) on first use and cached",
            self.ids.len(),
            self.logins.len()
        )
    }
}

/// `id:12345` → 12345.
pub fn id_form(v: &str) -> Option<u64> {
    v.strip_prefix("id:")?.trim().parse().ok()
}

/// The sender string for an account the config does not name: matches
/// nobody (`people[].github` ids are stored as written, `id:N`, and every
/// `id:N` of the config is in the table already).
pub fn unknown(user_id: u64) -> String {
    format!("id:{user_id}")
}

/// The cached mapping from account ids to `people[].github` values.
pub struct People {
    api: GithubApi,
    /// Whether opsbot posts as a token's account (then `GET /user` names it).
    token: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_id: HashMap<u64, String>,
    unresolved: Vec<String>,
    last_attempt: Option<Instant>,
    me: Option<u64>,
}

impl People {
    /// For the configured `people[].github` values.
    pub fn new(api: GithubApi, token: bool, values: &[String]) -> People {
        let plan = Plan::of(values.iter().map(String::as_str));
        let state = State {
            by_id: plan.ids.into_iter().collect(),
            unresolved: plan.logins,
            ..State::default()
        };
        People {
            api,
            token,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `people[].github` value of account `user_id`, or [`unknown`].
    /// Logins are looked up as `installation` (with the App) when given.
    pub async fn who(&self, user_id: u64, installation: Option<u64>) -> String {
        let pending = {
            let mut s = self.lock();
            if let Some(v) = s.by_id.get(&user_id) {
                return v.clone();
            }
            let due = s.last_attempt.is_none_or(|t| t.elapsed() >= RESOLVE_AGAIN);
            if s.unresolved.is_empty() || !due {
                return unknown(user_id);
            }
            s.last_attempt = Some(Instant::now());
            s.unresolved.clone()
        };
        for login in pending {
            match self.api.user_id(&login, installation).await {
                Ok(Some(id)) => {
                    let mut s = self.lock();
                    s.unresolved.retain(|l| l != &login);
                    s.by_id.insert(id, login);
                }
                Ok(None) => {
                    tracing::warn!(login = %login, "github: people[].github names no GitHub account; fix the login or write `id:NUMBER`");
                    self.lock().unresolved.retain(|l| l != &login);
                }
                Err(e) => {
                    tracing::warn!(login = %login, error = %e, "github: cannot resolve a login to its account id; will ask again");
                }
            }
        }
        self.lock()
            .by_id
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| unknown(user_id))
    }

    /// Whether account `user_id` is the one opsbot posts as. An error when
    /// that cannot be learnt now (the caller answers so GitHub redelivers:
    /// a reply of opsbot's could otherwise run as a command).
    pub async fn is_me(&self, user_id: u64) -> Result<bool, ApiError> {
        if !self.token {
            return Ok(false);
        }
        if let Some(me) = self.lock().me {
            return Ok(me == user_id);
        }
        let (me, login) = self.api.authenticated_user().await?;
        tracing::info!(login = %login, id = me, "github: opsbot posts as this account and ignores its comments");
        self.lock().me = Some(me);
        Ok(me == user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_forms_are_matched_as_written_and_logins_are_resolved() {
        let plan = Plan::of(["id:42", "alice-gh", "id: 7", "id:x"]);
        assert_eq!(plan.ids, vec![(42, "id:42".into()), (7, "id: 7".into())]);
        assert_eq!(plan.logins, vec!["alice-gh".to_string(), "id:x".into()]);
        assert!(plan
            .describe()
            .contains("2 person(s) written as `id:NUMBER`, 2 login(s)"));
    }
}
