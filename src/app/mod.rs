//! Building the running application from a config: the one place that wires
//! grammar, playbooks, clusters, hubs, audit log and runner together, used by
//! `serve`, `run`, `demo` and the integration tests alike.

pub mod pack;
pub mod server;

use std::sync::Arc;

use anyhow::Context as _;

use crate::audit::AuditLog;
use crate::chat::discord::DiscordSettings;
use crate::chat::github::GithubSettings;
use crate::chat::slack::SlackSettings;
use crate::cluster::ClusterSet;
use crate::config::{ClusterSource, Config};
use crate::jupyterhub::api::HubApi;
use crate::jupyterhub::directory::HubDirectory;
use crate::metrics::Metrics;
use crate::redact::Redactor;
use crate::runs::{Context, Limits, Runs};

/// A built application: the runner plus what the HTTP server needs.
#[derive(Clone)]
pub struct App {
    pub runs: Runs,
    pub metrics: Arc<Metrics>,
    /// Chat platforms that are configured (each serves its endpoint).
    pub platforms: Platforms,
}

/// The settings of each configured chat platform.
#[derive(Clone, Default)]
pub struct Platforms {
    pub slack: Option<SlackSettings>,
    pub github: Option<GithubSettings>,
    pub discord: Option<DiscordSettings>,
}

impl App {
    /// Load and cross-check the command and playbook files, connect to every
    /// cluster, open the audit log, mark runs a crash left in flight as
    /// interrupted, and start the runner.
    pub async fn build(config: Config, limits: Limits) -> anyhow::Result<App> {
        let mut platforms = Platforms {
            slack: config.slack.as_ref().and_then(SlackSettings::from_config),
            github: config
                .github
                .as_ref()
                .map(|g| GithubSettings::from_config(g, &config.people)),
            discord: config.discord.as_ref().map(DiscordSettings::from_config),
        };
        let (grammar, playbooks) = pack::load_all(&config).map_err(|d| anyhow::anyhow!("{d}"))?;
        if let Some(d) = platforms.discord.as_mut() {
            d.commands = grammar.commands().to_vec();
        }
        let mut clusters = ClusterSet::new();
        for c in &config.clusters {
            // Registered with its whole kube::Config, not a bare client: a
            // person's `kube_user` is impersonated from that config.
            let kube_config = match &c.source {
                ClusterSource::Kubeconfig { path, context } => {
                    ClusterSet::config_from_kubeconfig(&c.name, path.as_deref(), context.as_deref())
                        .await
                }
                ClusterSource::InCluster => ClusterSet::in_cluster_config(),
            }
            .with_context(|| format!("cluster {}: cannot build a client", c.name))?;
            clusters
                .insert_config(&c.name, kube_config)
                .with_context(|| format!("cluster {}: cannot build a client", c.name))?;
            if let Some(p) = &c.prometheus {
                let client = crate::prometheus::Prometheus::new(&c.name, p).with_context(|| {
                    format!("cluster {}: cannot build its Prometheus client", c.name)
                })?;
                clusters.insert_prometheus(&c.name, client);
            }
        }
        for h in &config.hubs {
            if let Some(api) = &h.jupyterhub_api {
                let client = HubApi::new(&api.url, api.token.clone())
                    .with_context(|| format!("hub {}: cannot build its API client", h.name))?;
                clusters.insert_hub_api(&h.name, client);
            }
        }
        let named: Vec<(String, kube::Client)> = clusters
            .names()
            .into_iter()
            .filter_map(|n| clusters.get(&n).ok().map(|c| (n, c)))
            .collect();
        let (hubs, warnings) = HubDirectory::build(&config, &named).await;
        for w in warnings {
            tracing::warn!("{w}");
        }
        let audit = AuditLog::open_with(&config.audit_url, config.audit_lease)
            .await
            .with_context(|| "cannot open the audit log (check `audit.url` or OPSBOT_AUDIT_URL)")?;
        let redact = Redactor::new(config.secrets());
        let metrics = Arc::new(Metrics::new());
        let runs = Runs::start(Context {
            config: Arc::new(config),
            grammar,
            playbooks,
            clusters,
            hubs,
            audit,
            metrics: metrics.clone(),
            redact,
            limits,
        });
        runs.recover()
            .await
            .context("recovering runs left in flight")?;
        Ok(App {
            runs,
            metrics,
            platforms,
        })
    }
}
