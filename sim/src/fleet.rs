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
use super::hubapi::{HubApis, HubEndpoint, HubRequest};
use super::seed::{Seed, SeedCluster};
use super::store::Store;
use super::tls;
use tokio_rustls::rustls::pki_types as rustls_pki;
use tokio_rustls::rustls::pki_types::pem::PemObject;

fn tls_acceptor() -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    let certs = vec![
        rustls_pki::CertificateDer::from_pem_slice(tls::SERVER_CERT_PEM.as_bytes())
            .context("simulator server certificate")?,
    ];
    let key = rustls_pki::PrivateKeyDer::from_pem_slice(tls::SERVER_KEY_PEM.as_bytes())
        .context("simulator server key")?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Accept TLS connections and serve each with hyper (HTTP/1.1) until cancelled.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    acceptor: tokio_rustls::TlsAcceptor,
    cancel: CancellationToken,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let cancel = cancel.clone();
        conns.spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
            tokio::select! {
                _ = conn => {}
                _ = cancel.cancelled() => {}
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}

/// The running simulator; shuts down on drop or `shutdown().await`.
pub struct Fleet {
    clusters: Vec<(SimCluster, SocketAddr)>,
    hub_apis: HubApis,
    /// Where the hubs' REST APIs answer (`None`: the seed declares no hub).
    hub_api_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// The cluster's state from its seed, whose objects are moved into the
/// store (copying 10,000 pods' JSON only to drop the originals was a tenth
/// of a generated fleet's start).
fn build_state(sc: &mut SeedCluster) -> anyhow::Result<Arc<ClusterState>> {
    let store = Store::new();
    let objects = std::mem::take(&mut sc.objects);
    let mut namespaces: Vec<String> = vec![
        "default".into(),
        "kube-system".into(),
        "kube-public".into(),
        "kube-node-lease".into(),
    ];
    for o in &objects {
        if let Some(ns) = o.pointer("/metadata/namespace").and_then(Value::as_str) {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_string());
            }
        }
    }
    let seeded_ns: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    for ns in namespaces
        .iter()
        .filter(|n| !seeded_ns.contains(&n.as_str()))
    {
        store.load(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))?;
    }
    if !objects
        .iter()
        .any(|o| o["kind"] == "CustomResourceDefinition")
    {
        store.load(dask_crd())?;
    }
    for (i, mut o) in objects.into_iter().enumerate() {
        if let Some(def) = discovery::by_kind(
            o["apiVersion"].as_str().unwrap_or(""),
            o["kind"].as_str().unwrap_or(""),
        ) {
            default_fields(def, &mut o);
        }
        store
            .load(o)
            .with_context(|| format!("cluster {}: object {}", sc.name, i + 1))?;
    }
    link_events(&store);
    node_leases(&store)?;
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
        version: sc
            .settings
            .version
            .clone()
            .unwrap_or_else(|| "v1.31.2".into()),
        requests: Mutex::new(Vec::new()),
        rollout_delay: Mutex::new(sc.settings.rollout_delay.unwrap_or(Duration::from_secs(1))),
    }))
}

/// Every cluster's state with its controller settled, built on as many
/// threads as there are cores (a 10,000-pod fleet loads in parallel).
fn settled(seed: &mut Seed) -> Vec<anyhow::Result<(Arc<ClusterState>, Controller)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = seed.clusters.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = seed
            .clusters
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter_mut()
                        .map(|sc| {
                            let state = build_state(sc)?;
                            let mut ctl = Controller::new(state.clone());
                            ctl.settle();
                            Ok((state, ctl))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(anyhow::anyhow!("building a cluster panicked"))])
            })
            .collect()
    })
}

impl Fleet {
    /// Start every cluster of the seed; with port 0 each gets an ephemeral port,
    /// otherwise cluster *i* listens on `port + i`.
    pub async fn start(mut seed: Seed, listen: SocketAddr) -> anyhow::Result<Fleet> {
        let cancel = CancellationToken::new();
        let mut clusters = Vec::new();
        let mut tasks = Vec::new();
        let acceptor = tls_acceptor()?;
        let built = settled(&mut seed);
        for (i, (sc, built)) in seed.clusters.iter().zip(built).enumerate() {
            let (state, ctl) = built?;
            let mut addr = listen;
            if listen.port() != 0 {
                addr.set_port(listen.port() + i as u16);
            }
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "cluster {}: cannot listen on {addr}; pick another --listen port",
                    sc.name
                )
            })?;
            let local = listener.local_addr()?;
            let app = super::server::router(state.clone());
            tasks.push(tokio::spawn(serve_tls(
                listener,
                app,
                acceptor.clone(),
                cancel.clone(),
            )));
            tasks.push(tokio::spawn(ctl.run(cancel.clone())));
            clusters.push((SimCluster { state }, local));
        }
        let declared: Vec<_> = clusters
            .iter()
            .zip(&seed.clusters)
            .map(|((c, _), sc)| (c.state.clone(), sc.settings.jupyterhub.clone()))
            .collect();
        let hub_apis = HubApis::new(&declared, chrono::Utc::now());
        let mut hub_api_addr = None;
        if !hub_apis.is_empty() {
            // After the clusters' ports: `--listen 127.0.0.1:6443` with three
            // clusters puts the hubs on 6446.
            let mut addr = listen;
            if listen.port() != 0 {
                addr.set_port(listen.port() + clusters.len() as u16);
            }
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!("the hubs' REST API cannot listen on {addr}; pick another --listen port")
            })?;
            hub_api_addr = Some(listener.local_addr()?);
            let app = hub_apis.router();
            let stop = cancel.clone();
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
            }));
        }
        Ok(Fleet {
            clusters,
            hub_apis,
            hub_api_addr,
            cancel,
            tasks,
        })
    }

    /// Cluster names in seed order.
    pub fn cluster_names(&self) -> Vec<String> {
        self.clusters
            .iter()
            .map(|(c, _)| c.state.name.clone())
            .collect()
    }

    /// `http://127.0.0.1:PORT` of a cluster.
    pub fn server_url(&self, cluster: &str) -> Option<String> {
        self.clusters
            .iter()
            .find(|(c, _)| c.state.name == cluster)
            .map(|(_, a)| format!("https://{a}"))
    }

    /// One context per cluster with the admin token user; the first cluster is current.
    pub fn kubeconfig(&self) -> kube::config::Kubeconfig {
        use kube::config::{
            AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
        };
        let mut kc = Kubeconfig {
            api_version: Some("v1".into()),
            kind: Some("Config".into()),
            ..Default::default()
        };
        for (c, addr) in &self.clusters {
            let name = c.state.name.clone();
            kc.clusters.push(NamedCluster {
                name: name.clone(),
                cluster: Some(Cluster {
                    server: Some(format!("https://{addr}")),
                    certificate_authority_data: Some(tls::CA_PEM_BASE64.to_string()),
                    ..Default::default()
                }),
                other: Default::default(),
            });
            kc.auth_infos.push(NamedAuthInfo {
                name: format!("{name}-admin"),
                auth_info: Some(AuthInfo {
                    token: Some(ADMIN_TOKEN.to_string().into()),
                    ..Default::default()
                }),
                other: Default::default(),
            });
            kc.contexts.push(NamedContext {
                name: name.clone(),
                context: Some(Context {
                    cluster: name.clone(),
                    user: Some(format!("{name}-admin")),
                    ..Default::default()
                }),
                other: Default::default(),
            });
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
        Ok(kube::Client::try_from(self.client_config(cluster, token)?)?)
    }

    /// The `kube::Config` behind [`Fleet::client_as`] (HTTPS with the simulator CA,
    /// bearer token, kube's default retry of 429/503/504 left on), for callers
    /// that adjust it: impersonation, timeouts, `default_retry = false`.
    pub fn client_config(&self, cluster: &str, token: &str) -> anyhow::Result<kube::Config> {
        let url = self.server_url(cluster).with_context(|| {
            format!(
                "no cluster {cluster:?} in this fleet (have: {})",
                self.cluster_names().join(", ")
            )
        })?;
        let mut cfg = kube::Config::new(url.parse()?);
        cfg.default_namespace = "default".into();
        let ca = rustls_pki::CertificateDer::from_pem_slice(tls::CA_PEM.as_bytes())
            .context("simulator CA")?;
        cfg.root_cert = Some(vec![ca.to_vec()]);
        cfg.auth_info.token = Some(token.to_string().into());
        cfg.read_timeout = Some(Duration::from_secs(30));
        Ok(cfg)
    }

    /// Every simulated JupyterHub's REST API URL and token (from the seed's
    /// `jupyterhub:` entries), for `opsbot.yaml` `jupyterhub_api` and tests.
    pub fn hub_endpoints(&self) -> Vec<HubEndpoint> {
        match self.hub_api_addr {
            Some(addr) => self.hub_apis.endpoints(&format!("http://{addr}")),
            None => Vec::new(),
        }
    }

    /// The requests the simulated hubs answered, oldest first.
    pub fn hub_requests(&self) -> Vec<HubRequest> {
        self.hub_apis.requests()
    }

    /// The control handle of a cluster.
    pub fn cluster(&self, name: &str) -> Option<SimCluster> {
        self.clusters
            .iter()
            .find(|(c, _)| c.state.name == name)
            .map(|(c, _)| c.clone())
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

/// Fill `involvedObject.uid` of seeded events from the object they name, so
/// `kubectl describe` (which selects events by uid) finds them.
fn link_events(store: &Store) {
    let Some(ev_def) = discovery::find("", "v1", "events") else {
        return;
    };
    let (events, _) = store.list("events", None);
    for mut ev in events {
        if ev
            .pointer("/involvedObject/uid")
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty())
        {
            continue;
        }
        let kind = ev
            .pointer("/involvedObject/kind")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = ev
            .pointer("/involvedObject/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ns = ev
            .pointer("/involvedObject/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(def) = discovery::RESOURCES
            .iter()
            .find(|r| r.kind == kind && r.group != "events.k8s.io")
        else {
            continue;
        };
        let obj_ns = if def.namespaced { ns.as_str() } else { "" };
        let Some(obj) = store.get(def.store_key(), obj_ns, &name) else {
            continue;
        };
        ev["involvedObject"]["uid"] = obj["metadata"]["uid"].clone();
        if ev.pointer("/involvedObject/apiVersion").is_none() {
            ev["involvedObject"]["apiVersion"] = obj["apiVersion"].clone();
        }
        let ev_ns = ev
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ev_name = ev
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let _ = store.update(ev_def, &ev_ns, &ev_name, ev, false);
    }
}

/// The dask-gateway CRD, served so `kubectl get crd` shows what the API serves.
fn dask_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "daskclusters.gateway.dask.org"},
        "spec": {
            "group": "gateway.dask.org", "scope": "Namespaced",
            "names": {"plural": "daskclusters", "singular": "daskcluster", "kind": "DaskCluster", "listKind": "DaskClusterList", "shortNames": ["daskcluster"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
        "status": {"acceptedNames": {"plural": "daskclusters", "singular": "daskcluster", "kind": "DaskCluster", "listKind": "DaskClusterList"},
            "conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
            "storedVersions": ["v1alpha1"]},
    })
}

/// One `kube-node-lease` Lease per node (kubectl describe node shows it),
/// renewed at the node's last heartbeat.
fn node_leases(store: &Store) -> anyhow::Result<()> {
    let (nodes, _) = store.list("nodes", None);
    for n in nodes {
        let name = n
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if store.get("leases", "kube-node-lease", name).is_some() {
            continue;
        }
        let beat = n
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["lastHeartbeatTime"].as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        store.seed(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": n["metadata"]["uid"]}]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": beat.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()},
        }))?;
    }
    Ok(())
}
