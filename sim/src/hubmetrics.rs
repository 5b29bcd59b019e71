//! What a simulated hub's `/hub/metrics` reports, derived from the cluster
//! so it agrees with the hub's REST API and the pods: the series a real
//! JupyterHub 5 exports that operators graph and `hub load` reads.
//!
//! - `jupyterhub_active_users{period}`: users active in the last 24h, 7d
//!   and 30d, by the same last-activity the REST API reports;
//! - `jupyterhub_running_servers`, `jupyterhub_total_users`;
//! - `jupyterhub_server_spawn_duration_seconds{status}`: one observation
//!   per running server (from its pod's creation to its container's start)
//!   and one `failure` per user whose spawn failed;
//! - `jupyterhub_request_duration_seconds{method,handler,code}`: the
//!   requests this hub answered, timed as they were served.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::metrics_text::{family, Histogram};

/// JupyterHub's own bucket bounds (`jupyterhub/metrics.py`).
/// (`+Inf` is written by [`Histogram`]'s rendering.)
pub static SPAWN_BUCKETS: [f64; 12] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0,
];
pub static REQUEST_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The request histograms of one hub, by (method, handler, code).
pub type Requests = BTreeMap<(String, String, String), Histogram>;

/// One hub at scrape time.
pub struct Snapshot<'a> {
    /// Every known user with their last activity, when known.
    pub users: Vec<(String, Option<DateTime<Utc>>)>,
    pub running_servers: usize,
    /// Spawn durations of the servers running now, in seconds.
    pub spawns: Vec<f64>,
    pub failed_spawns: usize,
    pub requests: &'a Requests,
    pub now: DateTime<Utc>,
}

/// The exposition text of one hub.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::new();
    {
        let mut f = family(
            &mut out,
            "jupyterhub_active_users",
            "gauge",
            "Number of users who were active in the given time period",
        );
        for (period, days) in [("24h", 1), ("7d", 7), ("30d", 30)] {
            let since = s.now - chrono::Duration::days(days);
            let n = s
                .users
                .iter()
                .filter(|(_, last)| last.is_some_and(|t| t >= since))
                .count();
            f.sample(&[("period", period)], n as f64);
        }
    }
    family(
        &mut out,
        "jupyterhub_running_servers",
        "gauge",
        "the number of user servers currently running",
    )
    .sample(&[], s.running_servers as f64);
    family(
        &mut out,
        "jupyterhub_total_users",
        "gauge",
        "total number of users",
    )
    .sample(&[], s.users.len() as f64);
    {
        let mut ok = Histogram::new(&SPAWN_BUCKETS);
        for d in &s.spawns {
            ok.observe(*d);
        }
        let mut failed = Histogram::new(&SPAWN_BUCKETS);
        for _ in 0..s.failed_spawns {
            // KubeSpawner gives up at its start_timeout (300s by default).
            failed.observe(300.0);
        }
        let mut f = family(
            &mut out,
            "jupyterhub_server_spawn_duration_seconds",
            "histogram",
            "time taken for server spawning operation",
        );
        f.histogram(&[("status", "success")], &ok);
        f.histogram(&[("status", "failure")], &failed);
    }
    {
        let mut f = family(
            &mut out,
            "jupyterhub_request_duration_seconds",
            "histogram",
            "request duration for all HTTP requests",
        );
        for ((method, handler, code), h) in s.requests {
            f.histogram(
                &[("code", code), ("handler", handler), ("method", method)],
                h,
            );
        }
    }
    out
}

/// The handler a request path belongs to, as JupyterHub labels it (the
/// route pattern, so one user's requests do not make a series of their own).
pub fn handler(below_hub: &str) -> String {
    let parts: Vec<&str> = below_hub.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api"] | [""] => "/hub/api/".into(),
        ["api", "users"] => "/hub/api/users".into(),
        ["api", "users", _] => "/hub/api/users/([^/]+)".into(),
        ["api", "users", _, "server"] => "/hub/api/users/([^/]+)/server".into(),
        ["api", "users", _, "server", "progress"] => {
            "/hub/api/users/([^/]+)/server/progress".into()
        }
        ["metrics"] => "/hub/metrics".into(),
        _ => "default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_users_are_counted_per_period_from_last_activity() {
        let now = Utc::now();
        let requests = Requests::new();
        let text = render(&Snapshot {
            users: vec![
                ("a".into(), Some(now - chrono::Duration::hours(1))),
                ("b".into(), Some(now - chrono::Duration::days(3))),
                ("c".into(), Some(now - chrono::Duration::days(20))),
                ("d".into(), None),
            ],
            running_servers: 1,
            spawns: vec![12.0],
            failed_spawns: 1,
            requests: &requests,
            now,
        });
        assert!(
            text.contains("jupyterhub_active_users{period=\"24h\"} 1.0\n"),
            "{text}"
        );
        assert!(
            text.contains("jupyterhub_active_users{period=\"7d\"} 2.0\n"),
            "{text}"
        );
        assert!(
            text.contains("jupyterhub_active_users{period=\"30d\"} 3.0\n"),
            "{text}"
        );
        assert!(text.contains("jupyterhub_total_users 4.0\n"), "{text}");
        assert!(text.contains(
            "jupyterhub_server_spawn_duration_seconds_bucket{status=\"success\",le=\"15.0\"} 1.0\n"
        ));
        assert!(text
            .contains("jupyterhub_server_spawn_duration_seconds_count{status=\"failure\"} 1.0\n"));
    }

    #[test]
    fn user_paths_share_one_handler_label() {
        assert_eq!(
            handler("api/users/bob.jones/server"),
            "/hub/api/users/([^/]+)/server"
        );
        assert_eq!(handler("metrics"), "/hub/metrics");
    }
}
