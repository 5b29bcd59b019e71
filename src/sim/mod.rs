//! A Kubernetes API simulator: the clusters behind `opsbot demo` and every test.
//!
//! No real cluster can run on our machines or in CI, so this serves the
//! Kubernetes REST API over loopback faithfully enough that the real `kube`
//! client and the real `kubectl` work against it: discovery, get/list/watch
//! with label and field selectors, create/update/patch/delete with
//! resourceVersion conflicts and finalizers, Table output for `kubectl get`,
//! pod logs and eviction, the scale subresource, a controller that keeps
//! Deployments, ReplicaSets, StatefulSets and DaemonSets' pods and status
//! the way `kubectl rollout status` reads them, bearer-token users with
//! RBAC-like rules and impersonation, and injected faults (latency, errors,
//! 429 with Retry-After, hangs, dropped connections).
//!
//! Each cluster is its own HTTP server on its own port. A [`Seed`] (a
//! directory of manifests per cluster, see `examples/fleet/`) fills them;
//! [`Fleet`] runs them and hands out kubeconfigs and clients.

pub mod cli;
mod cluster;
mod controller;
mod patch;
mod resources;
mod seed;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio_util::sync::CancellationToken;

pub use cluster::{RecordedRequest, SimCluster};
pub use seed::{ClusterSeed, FaultRule, LogSpec, Rule, Seed, SimSettings, UserSpec, ADMIN_TOKEN};

/// A running simulated fleet; the servers stop on drop or [`Fleet::shutdown`].
pub struct Fleet {
    clusters: Vec<(String, String, SimCluster)>,
    stop: CancellationToken,
    tls: tls::Tls,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Fleet {
    /// Start one API server per cluster. Port 0 gives each an ephemeral
    /// port; port P gives the clusters P, P+1, ... in seed order.
    pub async fn start(seed: Seed, listen: SocketAddr) -> anyhow::Result<Fleet> {
        let stop = CancellationToken::new();
        let tls = tls::Tls::generate().context("making the simulator's TLS certificates")?;
        let mut clusters = Vec::new();
        for (i, c) in seed.clusters.iter().enumerate() {
            let state = cluster::ClusterState::new(c)?;
            let mut addr = listen;
            if listen.port() != 0 {
                addr.set_port(listen.port() + i as u16);
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("simulated cluster {}: cannot listen on {addr}", c.name))?;
            let url = format!("https://{}", listener.local_addr()?);
            tls.serve(listener, server::router(state.clone()), stop.clone());
            clusters.push((c.name.clone(), url, SimCluster { state }));
        }
        Ok(Fleet { clusters, stop, tls })
    }

    /// Cluster names in seed order.
    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters.iter().map(|(n, _, _)| n.clone()).collect()
    }

    /// `https://127.0.0.1:PORT` of one cluster.
    pub fn server_url(&self, cluster: &str) -> Option<String> {
        self.clusters.iter().find(|(n, _, _)| n == cluster).map(|(_, u, _)| u.clone())
    }

    /// The runtime handle of one cluster.
    pub fn cluster(&self, name: &str) -> Option<SimCluster> {
        self.clusters.iter().find(|(n, _, _)| n == name).map(|(_, _, c)| c.clone())
    }

    fn admin_token(&self, cluster: &str) -> String {
        self.cluster(cluster)
            .and_then(|c| {
                c.state
                    .users
                    .iter()
                    .find(|u| u.token.is_some() && u.rules.iter().any(|r| r.verbs.iter().any(|v| v == "*")))
                    .and_then(|u| u.token.clone())
            })
            .unwrap_or_else(|| ADMIN_TOKEN.to_string())
    }

    /// A kubeconfig with one context per cluster (named like the cluster,
    /// admin token), the first one current.
    pub fn kubeconfig(&self) -> Kubeconfig {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.tls.ca_pem);
        let mut clusters = Vec::new();
        let mut users = Vec::new();
        let mut contexts = Vec::new();
        for (name, url, _) in &self.clusters {
            clusters.push(serde_json::json!({ "name": name, "cluster": { "server": url, "certificate-authority-data": ca } }));
            users.push(serde_json::json!({ "name": format!("{name}-admin"), "user": { "token": self.admin_token(name) } }));
            contexts.push(serde_json::json!({ "name": name, "context": { "cluster": name, "user": format!("{name}-admin"), "namespace": "default" } }));
        }
        let doc = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": clusters, "users": users, "contexts": contexts,
            "current-context": self.clusters.first().map(|(n, _, _)| n.clone()).unwrap_or_default(),
        });
        serde_json::from_value(doc).expect("a kubeconfig built from plain strings always parses")
    }

    /// Write [`Fleet::kubeconfig`] as YAML (mode 0600: it holds tokens).
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_yaml::to_string(&self.kubeconfig())?;
        std::fs::write(path, text).with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    /// A kube client for one cluster, as its admin.
    pub async fn client(&self, cluster: &str) -> anyhow::Result<kube::Client> {
        let options = KubeConfigOptions {
            context: Some(cluster.to_string()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(self.kubeconfig(), &options)
            .await
            .with_context(|| format!("no simulated cluster `{cluster}`"))?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A kube client for one cluster with another user's token.
    pub async fn client_as(&self, cluster: &str, token: &str) -> anyhow::Result<kube::Client> {
        let url = self.server_url(cluster).with_context(|| format!("no simulated cluster `{cluster}`"))?;
        let mut config = kube::Config::new(url.parse()?);
        config.auth_info.token = Some(secrecy::SecretString::from(token.to_string()));
        config.root_cert = Some(vec![self.tls.ca_der.clone()]);
        Ok(kube::Client::try_from(config)?)
    }

    /// PEM of the certificate authority the servers' certificates chain to.
    pub fn ca_pem(&self) -> &str {
        &self.tls.ca_pem
    }

    /// Stop every server.
    pub async fn shutdown(self) {
        self.stop.cancel();
        tokio::task::yield_now().await;
    }
}
