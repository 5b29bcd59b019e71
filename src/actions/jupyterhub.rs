//! `jupyterhub.users` and `jupyterhub.stop_server`: ask the hub itself, through
//! its REST API, with the per-hub token from the config.
//!
//! The hub knows what Kubernetes does not: when each user was last active
//! (what the idle culler goes by) and how to stop a server so its database
//! and proxy stay consistent. Steps name the hub (`hub: "{{ hub.name }}"`);
//! the URL and token are looked up here, so neither passes through templates,
//! plans or audit records.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{check_args, parse_args, short_age, ActionCall, ActionError, ActionSpec, Target};
use crate::jupyterhub::api::{HubApi, HubApiError, StopOutcome, User};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersArgs {
    hub: String,
    /// `active` (default: users with a server, ready or starting), `ready`,
    /// `inactive` or `all`.
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopArgs {
    hub: String,
    /// The JupyterHub username, raw (`bob.jones`, not `bob-2ejones`).
    user: String,
}

/// Every `jupyterhub.*` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![
        ActionSpec {
            name: "jupyterhub.users",
            mutates: false,
            idempotent: false,
            check: check_args::<UsersArgs>,
            permissions: |_| Vec::new(),
            describe: |a| Target {
                verb: "GET".into(),
                target: format!("hub {} /users", text(a, "hub")),
            },
            run: Arc::new(|c| Box::pin(users(c))),
        },
        ActionSpec {
            name: "jupyterhub.stop_server",
            mutates: true,
            idempotent: false,
            check: check_args::<StopArgs>,
            permissions: |_| Vec::new(),
            describe: |a| Target {
                verb: "DELETE".into(),
                target: format!("hub {} /users/{}/server", text(a, "hub"), text(a, "user")),
            },
            run: Arc::new(|c| Box::pin(stop_server(c))),
        },
    ]
}

fn text(a: &Value, key: &str) -> String {
    a.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn api(call: &ActionCall, hub: &str) -> Result<HubApi, ActionError> {
    call.clusters
        .hub_api(hub)
        .map_err(|e| ActionError::Invalid(e.to_string()))
}

fn from_hub(e: HubApiError) -> ActionError {
    match e {
        HubApiError::Status {
            status,
            message,
            retry_after,
        } => ActionError::Api {
            code: status,
            reason: format!("JupyterHub API {status}"),
            message,
            retry_after,
        },
        HubApiError::Transport { .. } => ActionError::Transport(e.to_string()),
        HubApiError::Unauthorized { status } => ActionError::Api {
            code: status,
            reason: "Forbidden".into(),
            message: e.to_string(),
            retry_after: None,
        },
        other => ActionError::Failed(other.to_string()),
    }
}

/// Age of an RFC 3339 time: (`4d`, seconds).
fn since(t: Option<&str>) -> Option<(String, f64)> {
    let t = chrono::DateTime::parse_from_rfc3339(t?).ok()?;
    let d = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some((short_age(d), d.as_secs_f64()))
}

/// The template-facing shape of one user.
fn user_json(u: &User) -> Value {
    let server = u.servers.get("");
    let has_server = server.is_some() || u.server.is_some() || u.pending.is_some();
    let ready = server.map(|s| s.ready).unwrap_or(u.server.is_some());
    let pending = u
        .pending
        .clone()
        .or_else(|| server.and_then(|s| s.pending.clone()));
    let last_activity = server
        .and_then(|s| s.last_activity.clone())
        .or_else(|| u.last_activity.clone());
    let started = server.and_then(|s| s.started.clone());
    let idle = since(last_activity.as_deref());
    let running_for = since(started.as_deref());
    json!({
        "name": u.name,
        "admin": u.admin,
        "has_server": has_server,
        "ready": ready,
        "pending": pending,
        "started": started,
        "running_for": running_for.as_ref().map(|r| r.0.clone()),
        "last_activity": last_activity,
        "idle": idle.as_ref().map(|i| i.0.clone()),
        "idle_seconds": idle.map(|i| i.1),
    })
}

async fn users(call: ActionCall) -> Result<Value, ActionError> {
    let a: UsersArgs = parse_args(&call.args)?;
    let state = match a.state.as_deref().unwrap_or("active") {
        "all" => None,
        s @ ("active" | "ready" | "inactive") => Some(s),
        other => {
            return Err(ActionError::Invalid(format!(
                "state: '{other}' is not one of active, ready, inactive, all"
            )))
        }
    };
    let api = api(&call, &a.hub)?;
    let list = api.users(state).await.map_err(from_hub)?;
    let mut items: Vec<Value> = list.iter().map(user_json).collect();
    // Longest idle first: the ones a support person asks about.
    items.sort_by(|x, y| {
        let k = |v: &Value| v["idle_seconds"].as_f64().unwrap_or(-1.0);
        k(y).total_cmp(&k(x))
    });
    Ok(json!({ "hub": a.hub, "count": items.len(), "items": items }))
}

/// What a stop did (or, in dry run, would do), in one shape for templates.
fn stop_json(a: &StopArgs, dry_run: bool, stopped: bool, stopping: bool, message: String) -> Value {
    json!({
        "dry_run": dry_run,
        "user": a.user,
        // In dry run: the hub would stop it (the server is ready).
        "would_stop": dry_run && stopped,
        "stopped": !dry_run && stopped,
        "stopping": stopping,
        "not_running": !stopped,
        "message": message,
    })
}

async fn stop_server(call: ActionCall) -> Result<Value, ActionError> {
    let a: StopArgs = parse_args(&call.args)?;
    let api = api(&call, &a.hub)?;
    if call.dry_run {
        // Ask, change nothing: would the hub stop it?
        let view = user_json(&api.user(&a.user).await.map_err(from_hub)?);
        let would_stop = view["ready"] == true;
        let message = match (would_stop, view["pending"].as_str()) {
            (true, _) => format!("the hub would stop {}'s server", a.user),
            (false, Some(p)) => format!("{} is not running {p}", a.user),
            (false, None) => format!("{} is not running", a.user),
        };
        return Ok(stop_json(&a, true, would_stop, false, message));
    }
    Ok(match api.stop_server(&a.user).await.map_err(from_hub)? {
        StopOutcome::Stopped => {
            let message = format!("the hub stopped {}'s server", a.user);
            stop_json(&a, false, true, false, message)
        }
        StopOutcome::Stopping => {
            let message = format!("the hub is stopping {}'s server", a.user);
            stop_json(&a, false, true, true, message)
        }
        StopOutcome::NotRunning(message) => stop_json(&a, false, false, false, message),
    })
}
