//! The hub directory: which JupyterHubs exist, on which cluster and namespace.
//!
//! Hubs come from the config and, when `discover_hubs` is on, from the
//! clusters themselves (Deployments labelled `app=jupyterhub,component=hub`,
//! the zero-to-jupyterhub convention). Discovery is on by default when the
//! config declares no hubs. A discovered hub is named after its namespace; a
//! name seen on two clusters becomes `cluster/namespace`.
//!
//! Wherever a hub is accepted, so is `cluster/hub` (`c03/hub03`, also
//! `cluster/namespace` for a declared hub); a bare name that several hubs
//! share is refused with the qualified choices ([`HubDirectory::resolve`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};
use serde::Serialize;

use crate::config::Config;

/// One hub, resolved: what a `hub` argument becomes in a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hub {
    pub name: String,
    pub cluster: String,
    pub namespace: String,
    /// `config` or `discovered`.
    pub source: &'static str,
    /// The hub's REST API is configured, so `jupyterhub.*` steps can ask it.
    pub api: bool,
}

/// Every hub opsbot knows about, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct HubDirectory {
    hubs: Vec<Hub>,
}

impl HubDirectory {
    /// The declared hubs, plus discovered ones when the config asks for it.
    /// A cluster that cannot be listed is reported in the returned warnings
    /// and skipped: one broken cluster must not hide the others' hubs.
    ///
    /// `clusters` are the named clients to discover on (taken as plain
    /// clients so that this module sits below `cluster` in the import graph).
    pub async fn build(
        config: &Config,
        clusters: &[(String, kube::Client)],
    ) -> (HubDirectory, Vec<String>) {
        let mut hubs: Vec<Hub> = config
            .hubs
            .iter()
            .map(|h| Hub {
                name: h.name.clone(),
                cluster: h.cluster.clone(),
                namespace: h.namespace.clone(),
                source: "config",
                api: h.jupyterhub_api.is_some(),
            })
            .collect();
        let mut warnings = Vec::new();
        if config.discover_hubs {
            let mut found: Vec<(String, String)> = Vec::new();
            for (name, client) in clusters {
                match discover(client.clone()).await {
                    Ok(namespaces) => {
                        found.extend(namespaces.into_iter().map(|ns| (name.clone(), ns)))
                    }
                    Err(e) => warnings.push(format!("cluster {name}: hub discovery failed: {e:#}")),
                }
            }
            let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
            for (_, ns) in &found {
                *per_name.entry(ns.clone()).or_default() += 1;
            }
            for (cluster, ns) in found {
                let declared = hubs
                    .iter()
                    .any(|h| h.cluster == cluster && h.namespace == ns);
                if declared {
                    continue;
                }
                let name = if per_name[&ns] > 1 || hubs.iter().any(|h| h.name == ns) {
                    format!("{cluster}/{ns}")
                } else {
                    ns.clone()
                };
                hubs.push(Hub {
                    name,
                    cluster,
                    namespace: ns,
                    source: "discovered",
                    api: false,
                });
            }
        }
        hubs.sort_by(|a, b| a.name.cmp(&b.name));
        (HubDirectory { hubs }, warnings)
    }

    /// A directory from a fixed list (tests, embedding).
    pub fn from_hubs(mut hubs: Vec<Hub>) -> Self {
        hubs.sort_by(|a, b| a.name.cmp(&b.name));
        HubDirectory { hubs }
    }

    /// The hub a word names, exactly or as [`HubDirectory::resolve`] reads it.
    pub fn get(&self, name: &str) -> Option<&Hub> {
        self.resolve(name).ok()
    }

    /// The hub a typed word means: its name; `cluster/name` or
    /// `cluster/namespace`; or a bare name (the part after `/`, or the
    /// namespace) that exactly one hub has. Several: [`HubLookupError::Ambiguous`].
    pub fn resolve(&self, word: &str) -> Result<&Hub, HubLookupError> {
        resolve(&self.hubs, word)
    }

    pub fn all(&self) -> &[Hub] {
        &self.hubs
    }

    pub fn names(&self) -> Vec<String> {
        self.hubs.iter().map(|h| h.name.clone()).collect()
    }
}

/// Why a word names no single hub.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubLookupError {
    #[error("`{word}` is the name of {} hubs: write one of {}", .choices.len(), .choices.join(", "))]
    Ambiguous { word: String, choices: Vec<String> },
    #[error("unknown hub `{0}`")]
    Unknown(String),
}

/// The short name of a hub: the part after `cluster/`.
fn bare(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, n)| n)
}

/// The qualified form of a hub, `cluster/name` (its name when already qualified).
pub fn qualified(h: &Hub) -> String {
    if h.name.contains('/') {
        h.name.clone()
    } else {
        format!("{}/{}", h.cluster, h.name)
    }
}

/// See [`HubDirectory::resolve`]; a pure function over a list so the
/// grammar's checks and the run's resolution agree.
pub fn resolve<'a>(hubs: &'a [Hub], word: &str) -> Result<&'a Hub, HubLookupError> {
    if let Some(h) = hubs.iter().find(|h| h.name == word) {
        return Ok(h);
    }
    let matching: Vec<&Hub> = match word.split_once('/') {
        Some((cluster, rest)) => hubs
            .iter()
            .filter(|h| h.cluster == cluster && (bare(&h.name) == rest || h.namespace == rest))
            .collect(),
        None => {
            let by_name: Vec<&Hub> = hubs.iter().filter(|h| bare(&h.name) == word).collect();
            if by_name.is_empty() {
                hubs.iter().filter(|h| h.namespace == word).collect()
            } else {
                by_name
            }
        }
    };
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(HubLookupError::Unknown(word.to_string())),
        many => Err(HubLookupError::Ambiguous {
            word: word.to_string(),
            choices: many.iter().map(|h| qualified(h)).collect(),
        }),
    }
}

async fn discover(client: kube::Client) -> anyhow::Result<Vec<String>> {
    let api: Api<Deployment> = Api::all(client);
    let list = api
        .list(&ListParams::default().labels("app=jupyterhub,component=hub"))
        .await?;
    let mut namespaces: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|d| d.metadata.namespace)
        .collect();
    namespaces.sort();
    namespaces.dedup();
    Ok(namespaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(name: &str, cluster: &str, namespace: &str) -> Hub {
        Hub {
            name: name.into(),
            cluster: cluster.into(),
            namespace: namespace.into(),
            source: "discovered",
            api: false,
        }
    }

    fn fleet() -> HubDirectory {
        HubDirectory::from_hubs(vec![
            hub("c00/hub03", "c00", "hub03"),
            hub("c03/hub03", "c03", "hub03"),
            hub("staging", "aws-us", "staging-ns"),
        ])
    }

    #[test]
    fn a_qualified_name_finds_the_hub_on_that_cluster() {
        let d = fleet();
        assert_eq!(d.resolve("c03/hub03").unwrap().cluster, "c03");
        assert_eq!(d.resolve("aws-us/staging").unwrap().name, "staging");
        assert_eq!(d.resolve("aws-us/staging-ns").unwrap().name, "staging");
        assert_eq!(d.resolve("staging").unwrap().name, "staging");
        assert_eq!(d.resolve("staging-ns").unwrap().name, "staging");
    }

    #[test]
    fn a_bare_name_that_several_hubs_share_is_refused_with_the_qualified_choices() {
        let e = fleet().resolve("hub03").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`hub03` is the name of 2 hubs: write one of c00/hub03, c03/hub03"
        );
        assert_eq!(
            fleet().resolve("c09/hub03").unwrap_err(),
            HubLookupError::Unknown("c09/hub03".into())
        );
    }
}
