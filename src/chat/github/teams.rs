//! Which of the configured `github.teams` a commenter belongs to, read
//! through GitHub's API and cached for a short while.
//!
//! `github.teams` maps `org/team` to opsbot roles; the runner adds those
//! roles for the request ([`crate::runs`]). Membership is asked team by team
//! (`GET /orgs/{org}/teams/{team}/memberships/{login}`), only for commenters
//! the config names (an unknown commenter gets no roles anyway), and kept
//! for [`TTL`]: long enough that a busy issue costs a handful of calls, short
//! enough that someone removed from a team loses its roles within minutes.
//! A look-up GitHub does not answer counts as "not a member" for that
//! request and is not cached: failing closed grants fewer roles, never more.

use std::time::Duration;

use super::api::GithubApi;
use super::expiring::Expiring;

/// How long a commenter's memberships are trusted before they are asked again.
pub const TTL: Duration = Duration::from_secs(300);

/// The cache of memberships, by account id (the login is what the API
/// takes, but a login can change hands; the id cannot).
pub struct Teams {
    api: GithubApi,
    /// `(org, team slug)`, as configured (slugs lower-cased).
    teams: Vec<(String, String)>,
    memberships: Expiring<u64, Vec<String>>,
}

impl Teams {
    /// For the configured `org/team` keys; entries that are not `org/team`
    /// were refused when the config loaded, and are skipped here.
    pub fn new<'a>(api: GithubApi, teams: impl IntoIterator<Item = &'a str>) -> Teams {
        Teams::with_ttl(api, teams, TTL)
    }

    /// [`Teams::new`] with another time to live.
    pub fn with_ttl<'a>(
        api: GithubApi,
        teams: impl IntoIterator<Item = &'a str>,
        ttl: Duration,
    ) -> Teams {
        Teams {
            api,
            teams: teams
                .into_iter()
                .filter_map(|t| t.split_once('/'))
                .map(|(o, t)| (o.to_string(), t.to_ascii_lowercase()))
                .collect(),
            memberships: Expiring::new(ttl),
        }
    }

    /// Whether any team is configured (no team: no look-ups at all).
    pub fn is_empty(&self) -> bool {
        self.teams.is_empty()
    }

    /// The configured teams (`org/team`) account `user_id`, now called
    /// `login`, is an active member of.
    pub async fn of(&self, user_id: u64, login: &str, installation: Option<u64>) -> Vec<String> {
        if self.teams.is_empty() {
            return Vec::new();
        }
        if let Some(teams) = self.memberships.fresh(&user_id) {
            return teams;
        }
        let asks = self.teams.iter().map(|(org, team)| async move {
            let answer = self.api.team_member(org, team, login, installation).await;
            (format!("{org}/{team}"), answer)
        });
        let mut member = Vec::new();
        let mut complete = true;
        for (team, answer) in futures::future::join_all(asks).await {
            match answer {
                Ok(true) => member.push(team),
                Ok(false) => {}
                Err(e) => {
                    complete = false;
                    tracing::warn!(team, error = %e, "github: cannot check a team membership; its roles are not granted for this comment");
                }
            }
        }
        if complete {
            self.memberships.put(user_id, member.clone());
        }
        member
    }
}
