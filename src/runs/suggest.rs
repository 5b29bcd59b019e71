//! Autocomplete values only the core knows: a hub's users and the runs a
//! person may act on ([`crate::chat::Core::suggest`]).
//!
//! Both are answered for the person typing, with the same rules as running
//! the command: users only of a hub their roles let them run the command
//! on (read with their `kube_user`, so Kubernetes RBAC still applies), runs
//! only those they may see. A platform's autocomplete deadline is short
//! (Discord: 3 s), so a hub's user list is read once per [`USERS_TTL`] and
//! a cluster that does not answer within [`USERS_DEADLINE`] yields nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::Runs;
use crate::audit::Filter;
use crate::authz;
use crate::chat::{Ask, AskFor, Choice, ChoiceValue};
use crate::config::Person;

/// Platforms show at most 25 suggestions.
const MAX_CHOICES: usize = 25;
/// How long a hub's user list is reused while someone types.
pub const USERS_TTL: Duration = Duration::from_secs(15);
/// How long a cluster gets to list a hub's user pods.
const USERS_DEADLINE: Duration = Duration::from_millis(1500);

/// A hub (qualified name) as read by one `kube_user`.
type HubAs = (String, Option<String>);

/// Users with a server pod, by hub (and the asker's `kube_user`, since what
/// one identity may list is not another's).
#[derive(Default)]
pub(super) struct UserCache {
    by_hub: Mutex<HashMap<HubAs, (Instant, Vec<String>)>>,
}

/// The suggestions for `ask`, best first.
pub(super) async fn suggest(runs: &Runs, ask: Ask<'_>) -> Vec<Choice> {
    let ctx = runs.context();
    let Some(person) = ctx.config.person_by(ask.platform, ask.sender) else {
        return Vec::new();
    };
    match ask.what {
        AskFor::Users { hub } => users(runs, person, ask.command, hub, ask.typed).await,
        AskFor::Runs => run_choices(runs, person, ask.command, ask.typed).await,
    }
}

async fn users(runs: &Runs, person: &Person, command: &str, hub: &str, typed: &str) -> Vec<Choice> {
    let ctx = runs.context();
    let Ok(hub) = ctx.hubs.resolve(hub) else {
        return Vec::new();
    };
    let target = authz::Target {
        hub: Some(hub.name.clone()),
        cluster: Some(hub.cluster.clone()),
    };
    if !authz::may_run_at(&ctx.config, person, command, &target) {
        return Vec::new();
    }
    let key = (
        crate::jupyterhub::directory::qualified(hub),
        person.kube_user.clone(),
    );
    let cached = {
        let cache = runs
            .inner
            .users
            .by_hub
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache
            .get(&key)
            .filter(|(at, _)| at.elapsed() < USERS_TTL)
            .map(|(_, names)| names.clone())
    };
    let names = match cached {
        Some(names) => names,
        None => {
            let Some(names) = list_users(
                runs,
                &hub.cluster,
                &hub.namespace,
                person.kube_user.as_deref(),
            )
            .await
            else {
                return Vec::new();
            };
            runs.inner
                .users
                .by_hub
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, (Instant::now(), names.clone()));
            names
        }
    };
    let lower = typed.trim().to_lowercase();
    names
        .into_iter()
        .filter(|n| n.to_lowercase().starts_with(&lower))
        .take(MAX_CHOICES)
        .map(|n| Choice {
            label: n.clone(),
            value: ChoiceValue::Text(n),
        })
        .collect()
}

/// The users of the hub in `namespace` with a server pod, sorted; `None`
/// when the cluster did not answer in time (logged, not cached).
async fn list_users(
    runs: &Runs,
    cluster: &str,
    namespace: &str,
    kube_user: Option<&str>,
) -> Option<Vec<String>> {
    let clusters = &runs.context().clusters;
    let client = match kube_user {
        Some(user) => clusters.impersonating(cluster, user),
        None => clusters.get(cluster),
    }
    .ok()?;
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let params = ListParams::default()
        .labels("component=singleuser-server")
        .limit(500);
    match tokio::time::timeout(USERS_DEADLINE, api.list_metadata(&params)).await {
        Ok(Ok(list)) => Some(
            list.items
                .iter()
                .filter_map(|p| crate::jupyterhub::server_pod::owner(&p.metadata))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        ),
        Ok(Err(e)) => {
            tracing::debug!(cluster, namespace, error = %e, "autocomplete: cannot list user pods");
            None
        }
        Err(_) => {
            tracing::debug!(
                cluster,
                namespace,
                "autocomplete: cluster too slow to list user pods"
            );
            None
        }
    }
}

/// Which runs a command acts on, by the run's state word.
fn wanted(command: &str, state: &str) -> bool {
    match command {
        "approve" | "deny" => state == "awaiting_approval",
        "cancel" => !crate::audit::EventKind::parse(state).is_some_and(|k| k.is_terminal()),
        _ => true,
    }
}

async fn run_choices(runs: &Runs, person: &Person, command: &str, typed: &str) -> Vec<Choice> {
    let ctx = runs.context();
    let filter = Filter {
        limit: 200,
        ..Filter::default()
    };
    let Ok(list) = ctx.audit.list(&filter).await else {
        return Vec::new();
    };
    let typed = typed.trim().trim_start_matches('#').to_lowercase();
    list.into_iter()
        .filter(|r| wanted(command, &r.state))
        .filter(|r| {
            let target = authz::Target {
                hub: r.hub.clone(),
                cluster: r.cluster.clone(),
            };
            authz::may_see_run(&ctx.config, person, &r.person, &target)
        })
        .map(|r| {
            let label = format!(
                "#{} {} ({}, {})",
                r.run,
                r.command,
                r.person,
                r.state.replace('_', " ")
            );
            (r.run, label)
        })
        .filter(|(id, label)| {
            typed.is_empty()
                || id.to_string().starts_with(&typed)
                || label.to_lowercase().contains(&typed)
        })
        .take(MAX_CHOICES)
        .map(|(id, label)| Choice {
            label: label.chars().take(100).collect(),
            value: ChoiceValue::Number(id.0),
        })
        .collect()
}
