//! Turning typed command arguments into a playbook's parameters.
//!
//! The grammar checks syntax and names; here a `hub` argument becomes the
//! `{name, cluster, namespace}` a playbook templates against, and the
//! request's target (hub, cluster) for permission checks is worked out.

use serde_json::{json, Map, Value as Json};

use crate::authz::Target;
use crate::command::{Invocation, Value};
use crate::jupyterhub::directory::HubDirectory;
use crate::playbook::Playbook;

/// A playbook's parameters and the target they touch.
pub struct Resolved {
    pub params: Json,
    pub target: Target,
    /// True when `params.hubs` was filled with every hub (a fleet-wide
    /// command such as `pending all`), so the asker's scopes still apply.
    pub fleet_wide: bool,
}

impl Resolved {
    /// Keep only the hubs of a fleet-wide command that `covers` (the
    /// asker's roles) reaches. `Ok(n)`: n hubs were left out; `Err(n)`: none
    /// of the n hubs is covered, so nothing should run.
    pub fn keep_covered(&mut self, covers: impl Fn(&Target) -> bool) -> Result<usize, usize> {
        if !self.fleet_wide {
            return Ok(0);
        }
        let Some(Json::Array(hubs)) = self.params.get_mut("hubs") else {
            return Ok(0);
        };
        let total = hubs.len();
        hubs.retain(|h| {
            let s = |k: &str| h.get(k).and_then(|v| v.as_str()).map(str::to_string);
            covers(&Target {
                hub: s("name"),
                cluster: s("cluster"),
            })
        });
        let left_out = total - hubs.len();
        if hubs.is_empty() && total > 0 {
            return Err(total);
        }
        Ok(left_out)
    }
}

/// Resolve `inv`'s arguments for `pb`; the error is text for the person.
pub fn params(inv: &Invocation, pb: &Playbook, hubs: &HubDirectory) -> Result<Resolved, String> {
    let mut target = Target {
        hub: None,
        cluster: None,
    };
    let mut params = Map::new();
    for (name, value) in &inv.args {
        params.insert(name.clone(), convert(value, hubs, &mut target)?);
    }
    let fleet_wide = pb.params.iter().any(|p| p.name == "hubs") && !params.contains_key("hubs");
    if fleet_wide {
        let all: Vec<Json> = hubs.all().iter().map(hub_json).collect();
        params.insert("hubs".into(), Json::Array(all));
    }
    Ok(Resolved {
        params: Json::Object(params),
        target,
        fleet_wide,
    })
}

fn convert(value: &Value, hubs: &HubDirectory, target: &mut Target) -> Result<Json, String> {
    Ok(match value {
        Value::Hub(name) => {
            let hub = hubs.get(name).ok_or_else(|| {
                format!(
                    "unknown hub `{name}`; known hubs: {}",
                    hubs.names().join(", ")
                )
            })?;
            target.hub.get_or_insert_with(|| hub.name.clone());
            target.cluster.get_or_insert_with(|| hub.cluster.clone());
            hub_json(hub)
        }
        Value::Cluster(name) => {
            target.cluster.get_or_insert_with(|| name.clone());
            json!({ "name": name })
        }
        Value::List(items) => Json::Array(
            items
                .iter()
                .map(|v| convert(v, hubs, target))
                .collect::<Result<_, _>>()?,
        ),
        other => other.to_json(),
    })
}

/// What a playbook sees of a hub; `api` says whether `jupyterhub.*` steps can
/// ask it (playbooks fall back to Kubernetes when not).
fn hub_json(hub: &crate::jupyterhub::directory::Hub) -> Json {
    json!({ "name": hub.name, "cluster": hub.cluster, "namespace": hub.namespace, "api": hub.api })
}
