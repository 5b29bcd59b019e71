//! A running fleet: one API endpoint (own loopback port) and one controller
//! per seeded cluster, plus kubeconfig and `kube::Client` construction.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::auth::{Users, ADMIN_TOKEN};
use super::cluster::{ClusterState, SimCluster};
use super::controller::{default_fields, Controller};
use super::discovery;
use super::faults::Faults;
use super::seed::{Seed, SeedCluster};
use super::store::Store;

/// The running simulator; shuts down on drop or `shutdown().await`.
pub struct Fleet {
    clusters: Vec<(SimCluster, SocketAddr)>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

fn build_state(sc: &SeedCluster) -> anyhow::Result<Arc<ClusterState>> {
    let store = Store::new();
    let mut namespaces: Vec<String> = vec!["default".into(), "kube-system".into(), "kube-public".into(), "kube-node-lease".into()];
    for o in &sc.objects {
        if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_string());
            }
        }
    }
    let seeded_ns: Vec<&str> = sc.objects.iter().filter(|o| o["kind"] == "Namespace").filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str)).collect();
    for ns in namespaces.iter().filter(|n| !seeded_ns.contains(&n.as_str())) {
        store.seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
    }
    for (i, o) in sc.objects.iter().enumerate() {
        let mut o = o.clone();
        if let Some(def) = discovery::by_kind(o["apiVersion"].as_str().unwrap_or(""), o["kind"].as_str().unwrap_or("")) {
            default_fields(def, &mut o);
        }
        store.seed(o).with_context(|| format!("cluster {}: object {}", sc.name, i + 1))?;
    }
    let faults = Faults::default();
    for f in &sc.settings.faults {
        faults.add(f.clone());
    }
    Ok(Arc::new(ClusterState {
        name: sc.name.clone(),
        store,
        users: Users::new(sc.settings.users.clone()),
        faults,
        logs: sc.settings.logs.clone(),
        version: sc.settings.version.clone().unwrap_or_else(|| "v1.31.2".into()),
        requests: Mutex::new(Vec::new()),
        rollout_delay: Mutex::new(sc.settings.rollout_delay.unwrap_or(Duration::from_secs(1))),
    }))
}

impl Fleet {
    /// Start every cluster of the seed; with port 0 each gets an ephemeral port,
    /// otherwise cluster *i* listens on `port + i`.
    pub async fn start(seed: Seed, listen: SocketAddr) -> anyhow::Result<Fleet> {
        let cancel = CancellationToken::new();
        let mut clusters = Vec::new();
        let mut tasks = Vec::new();
        for (i, sc) in seed.clusters.iter().enumerate() {
            let state = build_state(sc)?;
            let mut ctl = Controller::new(state.clone());
            ctl.settle();
            let mut addr = listen;
            if listen.port() != 0 {
                addr.set_port(listen.port() + i as u16);
            }
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cluster {}: cannot listen on {addr}; pick another --listen port", sc.name))?;
            let local = listener.local_addr()?;
            let app = super::server::router(state.clone());
            let c = cancel.clone();
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app).with_graceful_shutdown(async move { c.cancelled().await }).await;
            }));
            tasks.push(tokio::spawn(ctl.run(cancel.clone())));
            clusters.push((SimCluster { state }, local));
        }
        Ok(Fleet { clusters, cancel, tasks })
    }

    /// Cluster names in seed order.
    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters.iter().map(|(c, _)| c.state.name.clone()).collect()
    }

    /// `http://127.0.0.1:PORT` of a cluster.
    pub fn server_url(&self, cluster: &str) -> Option<String> {
        self.clusters.iter().find(|(c, _)| c.state.name == cluster).map(|(_, a)| format!("http://{a}"))
    }

    /// One context per cluster with the admin token user; the first cluster is current.
    pub fn kubeconfig(&self) -> kube::config::Kubeconfig {
        use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
        let mut kc = Kubeconfig { api_version: Some("v1".into()), kind: Some("Config".into()), ..Default::default() };
        for (c, addr) in &self.clusters {
            let name = c.state.name.clone();
            kc.clusters.push(NamedCluster { name: name.clone(), cluster: Some(Cluster { server: Some(format!("http://{addr}")), ..Default::default() }), other: Default::default() });
            kc.auth_infos.push(NamedAuthInfo { name: format!("{name}-admin"), auth_info: Some(AuthInfo { token: Some(ADMIN_TOKEN.to_string().into()), ..Default::default() }), other: Default::default() });
            kc.contexts.push(NamedContext { name: name.clone(), context: Some(Context { cluster: name.clone(), user: Some(format!("{name}-admin")), ..Default::default() }), other: Default::default() });
        }
        kc.current_context = self.clusters.first().map(|(c, _)| c.state.name.clone());
        kc
    }

    /// Write [`Fleet::kubeconfig`] as YAML (tokens included: it is a local test credential).
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        let mut doc = serde_json::to_value(self.kubeconfig())?;
        // The serializer skips secrets; put the well-known sim admin token back.
        if let Some(users) = doc.get_mut("users").and_then(Value::as_array_mut) {
            for u in users {
                u["user"]["token"] = json!(ADMIN_TOKEN);
            }
        }
        let text = serde_yaml::to_string(&doc)?;
        std::fs::write(path, text).with_context(|| format!("writing kubeconfig {}", path.display()))
    }

    /// A `kube::Client` for a cluster as the admin user.
    pub async fn client(&self, cluster: &str) -> anyhow::Result<kube::Client> {
        self.client_as(cluster, ADMIN_TOKEN).await
    }

    /// A `kube::Client` for a cluster with the given bearer token.
    pub async fn client_as(&self, cluster: &str, token: &str) -> anyhow::Result<kube::Client> {
        let url = self.server_url(cluster).with_context(|| format!("no cluster {cluster:?} in this fleet (have: {})", self.cluster_names().join(", ")))?;
        let mut cfg = kube::Config::new(url.parse()?);
        cfg.default_namespace = "default".into();
        cfg.auth_info.token = Some(token.to_string().into());
        cfg.read_timeout = Some(Duration::from_secs(30));
        Ok(kube::Client::try_from(cfg)?)
    }

    /// The control handle of a cluster.
    pub fn cluster(&self, name: &str) -> Option<SimCluster> {
        self.clusters.iter().find(|(c, _)| c.state.name == name).map(|(c, _)| c.clone())
    }

    /// Stop every server and controller and wait for them.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}
