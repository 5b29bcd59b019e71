//! The hub directory: which JupyterHubs exist, on which cluster and namespace.
//!
//! Hubs come from the config and, when `discover_hubs` is on, from the
//! clusters themselves (Deployments labelled `app=jupyterhub,component=hub`,
//! the zero-to-jupyterhub convention). A discovered hub is named after its
//! namespace; a name seen on two clusters becomes `cluster/namespace`.

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

    pub fn get(&self, name: &str) -> Option<&Hub> {
        self.hubs.iter().find(|h| h.name == name)
    }

    pub fn all(&self) -> &[Hub] {
        &self.hubs
    }

    pub fn names(&self) -> Vec<String> {
        self.hubs.iter().map(|h| h.name.clone()).collect()
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
