//! The `kube.user_server` step: a user's server pod and home PVCs, found
//! however the hub named them (see [`crate::jupyterhub::server_pod`]), and,
//! when there is none, what was looked for and which users do have one.
//!
//! `triage`, `user status`, `user stop` and `logs <hub> user:NAME` all start
//! here, so every user command agrees on which pod is the user's.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};
use serde::Deserialize;
use serde_json::{json, Value};

use super::kube::{client, from_kube, summarise};
use super::{check_args, parse_args, ActionCall, ActionError, ActionSpec, Permission, Target};
use crate::jupyterhub::server_pod::{closest, owner, How, Lookup};
use crate::jupyterhub::username::Username;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    cluster: String,
    namespace: String,
    /// As typed: `alice`, `Alice`, `alice:gpu`.
    user: String,
}

/// The `kube.user_server` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "kube.user_server",
        mutates: false,
        idempotent: false,
        check: check_args::<Args>,
        permissions: |_| permissions(),
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Target {
                verb: "find".into(),
                target: format!(
                    "v1 pods,persistentvolumeclaims {}/user={} @{}",
                    s("namespace"),
                    s("user"),
                    s("cluster")
                ),
            }
        },
        run: Arc::new(|c| Box::pin(run(c))),
    }]
}

/// What finding a user's server reads.
pub fn permissions() -> Vec<Permission> {
    vec![
        Permission::new("list", "", "pods"),
        Permission::new("list", "", "persistentvolumeclaims"),
    ]
}

/// A user's server as found in one namespace.
pub struct Found {
    pub lookup: Lookup,
    pub pod: Option<(Pod, How)>,
    pub claims: Vec<String>,
    pub tried: Vec<String>,
    /// Users with a server pod or a home PVC here, nearest to the typed name first.
    pub closest: Vec<String>,
}

/// Parse what was typed into a [`Username`], with an error saying what to write.
pub fn username(typed: &str) -> Result<Username, ActionError> {
    Username::new(typed).map_err(|e| {
        ActionError::Invalid(format!(
            "'{typed}' is not a JupyterHub user name ({e}); write the name as the hub shows it, e.g. bob.jones or alice:gpu"
        ))
    })
}

/// Find `user`'s server pod and PVCs in `namespace`.
pub async fn find(
    client: &kube::Client,
    namespace: &str,
    user: &Username,
) -> Result<Found, ActionError> {
    let lookup = Lookup::new(user);
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .map_err(from_kube)?
        .items;
    let claims = match Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(list) => list.items,
        // Best effort: a bot that may not list claims still finds the pod.
        Err(e) => {
            tracing::debug!(error = %e, "persistentvolumeclaims not listed");
            Vec::new()
        }
    };
    let mut matching: Vec<(Pod, How)> = pods
        .iter()
        .filter_map(|p| Some((p.clone(), lookup.matches(&p.metadata, "jupyter-", true)?)))
        .collect();
    // A live pod before a terminating one, the surest match, the newest.
    matching.sort_by(|(a, ha), (b, hb)| {
        let deleting = |p: &Pod| p.metadata.deletion_timestamp.is_some();
        deleting(a)
            .cmp(&deleting(b))
            .then(ha.cmp(hb))
            .then_with(|| {
                b.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .cmp(&a.metadata.creation_timestamp.as_ref().map(|t| t.0))
            })
    });
    let claim_names: Vec<String> = claims
        .iter()
        .filter(|c| lookup.matches(&c.metadata, "claim-", false).is_some())
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    let pod = matching.into_iter().next();
    let closest = if pod.is_none() {
        let known: BTreeSet<String> = pods
            .iter()
            .filter(|p| is_user_pod(p))
            .map(|p| &p.metadata)
            .chain(claims.iter().map(|c| &c.metadata))
            .filter_map(owner)
            .collect();
        closest(&user.display(), &known, 5)
    } else {
        Vec::new()
    };
    let tried = lookup.tried();
    Ok(Found {
        lookup,
        pod,
        claims: claim_names,
        tried,
        closest,
    })
}

/// A JupyterHub user server (KubeSpawner labels it so in every release).
fn is_user_pod(p: &Pod) -> bool {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("component"))
        .is_some_and(|c| c == "singleuser-server")
        || p.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(crate::jupyterhub::server_pod::USERNAME_KEY))
}

impl Found {
    /// `{found, name, how, pod, claims, tried, closest}` for templates.
    pub fn to_json(&self) -> Value {
        let pod = self
            .pod
            .as_ref()
            .map(|(p, _)| summarise("Pod", &serde_json::to_value(p).unwrap_or_default()));
        json!({
            "found": self.pod.is_some(),
            "name": self.pod.as_ref().and_then(|(p, _)| p.metadata.name.clone()),
            "how": self.pod.as_ref().map(|(_, h)| h.describe()),
            "pod": pod,
            "claims": self.claims,
            "tried": self.tried,
            "closest": self.closest,
        })
    }
}

async fn run(call: ActionCall) -> Result<Value, ActionError> {
    let a: Args = parse_args(&call.args)?;
    let user = username(&a.user)?;
    let client = client(&call, &a.cluster)?;
    let found = find(&client, &a.namespace, &user).await?;
    let mut out = found.to_json();
    out["user"] = json!(user.display());
    Ok(out)
}
