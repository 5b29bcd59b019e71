//! Named clusters → `kube::Client`.
//!
//! Playbooks name clusters by the names in `opsbot.yaml` (`aws-us`,
//! `gcp-eu`); this module owns the mapping from those names to ready kube
//! clients, built from a kubeconfig context or the in-cluster service account.
//! When a cluster was added with its [`kube::Config`], opsbot can also act *as*
//! a person (Kubernetes impersonation) so the cluster's own RBAC applies.

pub mod cache;
pub mod selector;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;

use crate::jupyterhub::api::HubApi;
use crate::prometheus::Prometheus;

/// The longest opsbot waits for bytes from an API server before treating
/// the request as failed (and retryable): a hung cluster must not hold a
/// step until the playbook's whole budget is gone.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// opsbot's settings on every client config: kube's own transparent retry
/// layer is off (the executor retries visibly, counted in progress and audit,
/// and cancellably) and reads time out after at most [`READ_TIMEOUT`].
fn tune(config: &mut kube::Config) {
    config.default_retry = false;
    config.read_timeout = Some(
        config
            .read_timeout
            .map_or(READ_TIMEOUT, |t| t.min(READ_TIMEOUT)),
    );
}

/// Why a cluster could not be handed out.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// The name is not configured; the message lists the known ones.
    #[error("unknown cluster '{name}' (known: {known})")]
    Unknown { name: String, known: String },
    /// The cluster was registered as a bare client, without the config that
    /// impersonation needs (only code embedding opsbot can do that: the
    /// binary always registers clusters with their config).
    #[error("opsbot cannot act as you on cluster '{0}': it was set up without its kubeconfig, so it cannot impersonate; ask an opsbot admin, or remove `kube_user` from your entry under `people`")]
    NoImpersonation(String),
    /// The hub has no `jupyterhub_api` in the config.
    #[error("hub '{0}' has no JupyterHub API configured; add `jupyterhub_api: {{ url, token }}` to it under `hubs` in opsbot.yaml")]
    NoHubApi(String),
    /// The cluster has no `prometheus` in the config.
    #[error("cluster '{0}' has no Prometheus configured, so there are no metrics to show; add `prometheus: {{ url, token }}` to it under `clusters` in opsbot.yaml")]
    NoPrometheus(String),
    /// Building the impersonating client failed.
    #[error("cluster '{name}': cannot build a client impersonating '{user}': {message}")]
    Impersonation {
        name: String,
        user: String,
        message: String,
    },
}

#[derive(Clone)]
struct Entry {
    client: kube::Client,
    config: Option<kube::Config>,
}

/// The clusters opsbot may talk to, by name, and the REST APIs of the hubs
/// running on them (by hub name). Cheap to clone (shared maps).
#[derive(Clone, Default)]
pub struct ClusterSet {
    clusters: Arc<BTreeMap<String, Entry>>,
    hub_apis: Arc<BTreeMap<String, HubApi>>,
    prometheus: Arc<BTreeMap<String, Prometheus>>,
    /// The watch cache, once `serve` or `demo` started it (shared by clones).
    cache: Arc<OnceLock<cache::WatchCache>>,
}

impl ClusterSet {
    /// An empty set; fill it with [`ClusterSet::insert`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `client` under `name` (replacing any earlier one).
    pub fn insert(&mut self, name: &str, client: kube::Client) {
        Arc::make_mut(&mut self.clusters).insert(
            name.to_string(),
            Entry {
                client,
                config: None,
            },
        );
    }

    /// Register a cluster by its config, so that it can also impersonate
    /// (the config is tuned: see [`READ_TIMEOUT`]).
    pub fn insert_config(&mut self, name: &str, mut config: kube::Config) -> anyhow::Result<()> {
        tune(&mut config);
        let client = kube::Client::try_from(config.clone())
            .with_context(|| format!("cluster '{name}': cannot build a kube client"))?;
        Arc::make_mut(&mut self.clusters).insert(
            name.to_string(),
            Entry {
                client,
                config: Some(config),
            },
        );
        Ok(())
    }

    /// The config of a kubeconfig context (`None`: `$KUBECONFIG` or
    /// `~/.kube/config`; `None` context: the current one).
    pub async fn config_from_kubeconfig(
        name: &str,
        path: Option<&Path>,
        context: Option<&str>,
    ) -> anyhow::Result<kube::Config> {
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        match path {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path).with_context(|| {
                    format!(
                        "cluster '{name}': cannot read kubeconfig {}",
                        path.display()
                    )
                })?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .with_context(|| {
                        format!(
                            "cluster '{name}': kubeconfig {} has no usable context {}",
                            path.display(),
                            context.unwrap_or("(current)")
                        )
                    })
            }
            None => kube::Config::from_kubeconfig(&options)
                .await
                .with_context(|| format!("cluster '{name}': cannot load the default kubeconfig")),
        }
    }

    /// The config of the cluster opsbot itself runs in (its service account),
    /// kept whole so that impersonation works there too.
    pub fn in_cluster_config() -> anyhow::Result<kube::Config> {
        kube::Config::incluster()
            .context("not running inside a Kubernetes pod (no service account token)")
    }

    /// The client for `name`, or an error listing the known clusters.
    pub fn get(&self, name: &str) -> Result<kube::Client, ClusterError> {
        self.clusters
            .get(name)
            .map(|e| e.client.clone())
            .ok_or_else(|| self.unknown(name))
    }

    /// The configured cluster names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.clusters.keys().cloned().collect()
    }

    /// A client for `name` that acts as Kubernetes user `user` (the
    /// `Impersonate-User` header), so the cluster's RBAC for that person applies.
    pub fn impersonating(&self, name: &str, user: &str) -> Result<kube::Client, ClusterError> {
        let entry = self.clusters.get(name).ok_or_else(|| self.unknown(name))?;
        let mut config = entry
            .config
            .clone()
            .ok_or_else(|| ClusterError::NoImpersonation(name.to_string()))?;
        config.auth_info.impersonate = Some(user.to_string());
        kube::Client::try_from(config).map_err(|e| ClusterError::Impersonation {
            name: name.to_string(),
            user: user.to_string(),
            message: e.to_string(),
        })
    }

    /// Register the REST API of hub `hub` (from `hubs[].jupyterhub_api`).
    pub fn insert_hub_api(&mut self, hub: &str, api: HubApi) {
        Arc::make_mut(&mut self.hub_apis).insert(hub.to_string(), api);
    }

    /// The REST API of hub `hub`, or an error saying how to configure one.
    pub fn hub_api(&self, hub: &str) -> Result<HubApi, ClusterError> {
        self.hub_apis
            .get(hub)
            .cloned()
            .ok_or_else(|| ClusterError::NoHubApi(hub.to_string()))
    }

    /// Register the Prometheus of cluster `cluster` (from
    /// `clusters[].prometheus`).
    pub fn insert_prometheus(&mut self, cluster: &str, p: Prometheus) {
        Arc::make_mut(&mut self.prometheus).insert(cluster.to_string(), p);
    }

    /// The Prometheus of `cluster`, or why there is none.
    pub fn prometheus(&self, cluster: &str) -> Result<Prometheus, ClusterError> {
        self.prometheus
            .get(cluster)
            .cloned()
            .ok_or_else(|| ClusterError::NoPrometheus(cluster.to_string()))
    }

    /// True when hub `hub` has a configured REST API.
    pub fn has_hub_api(&self, hub: &str) -> bool {
        self.hub_apis.contains_key(hub)
    }

    /// Start the watch cache of every cluster (once; later calls do
    /// nothing), cluster `c` holding at most `max_objects(c)` objects. Its
    /// reflectors stop when `stop` is cancelled.
    pub fn start_cache(
        &self,
        max_objects: impl Fn(&str) -> usize,
        stop: &tokio_util::sync::CancellationToken,
    ) {
        self.cache
            .get_or_init(|| cache::WatchCache::start(self, max_objects, stop));
    }

    /// The watch cache of cluster `name`, when one was started.
    pub fn cache(&self, name: &str) -> Option<Arc<cache::ClusterCache>> {
        self.cache.get()?.cluster(name)
    }

    /// Every store's health by cluster (empty without a cache), for `/metrics`.
    pub fn cache_states(&self) -> Vec<(String, Vec<cache::KindState>)> {
        self.cache
            .get()
            .map(|c| {
                c.clusters()
                    .map(|(name, c)| (name.clone(), c.states()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The same clusters without the watch cache: every read asks the API
    /// server (a run that changes something, or a dry run of one).
    pub fn without_cache(&self) -> ClusterSet {
        ClusterSet {
            cache: Arc::default(),
            ..self.clone()
        }
    }

    fn unknown(&self, name: &str) -> ClusterError {
        let known = if self.clusters.is_empty() {
            "none configured".to_string()
        } else {
            self.names().join(", ")
        };
        ClusterError::Unknown {
            name: name.to_string(),
            known,
        }
    }
}
