//! A small JupyterHub REST API for each simulated hub, consistent with the
//! cluster's pods: the users a hub reports are its `component=singleuser-server`
//! pods (plus users declared without a server), and stopping a server deletes
//! the pod, as KubeSpawner does. opsbot's `jupyterhub.*` steps talk to this
//! exactly as they would to a real hub's `/hub/api`.
//!
//! A hub is declared in its cluster's `sim.yaml`:
//!
//! ```yaml
//! jupyterhub:
//!   - namespace: staging
//!     token: staging-hub-token        # the API token opsbot is configured with
//!     users: [ola]                    # users with no server right now
//!     last_activity: { bob.jones: -4d }   # default: when the pod started
//! ```
//!
//! One plain-HTTP listener serves every hub of a fleet, under
//! `/<cluster>/<namespace>/hub/api` (a real hub's API is plain HTTP inside the
//! cluster, `http://hub:8081/hub/api`). The answers follow JupyterHub 5: user
//! models with `server`, `pending` and `servers[""]`, `?state=active|ready|inactive`,
//! `DELETE /users/{name}/server` answering 204, 202 while a stop is pending,
//! 400 "`name` is not running" and 404 for unknown users, and 403 without a
//! valid `Authorization: token …` header.
//!
//! The same listener serves each hub's Prometheus metrics at
//! `/<cluster>/<namespace>/hub/metrics` (as a real hub serves `/hub/metrics`,
//! with the same token; see [`super::hubmetrics`]) and, for each cluster
//! with a hub, kube-state-metrics' node and pod series at
//! `/<cluster>/kube-state-metrics/metrics` (see [`super::kubestate`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cluster::ClusterState;
use super::discovery;
use super::hubmetrics::{self, Requests, Snapshot, REQUEST_BUCKETS};
use super::metrics_text::{Histogram, CONTENT_TYPE};

/// The JupyterHub version the simulated hubs report.
pub const HUB_VERSION: &str = "5.2.1";

/// One hub's entry in `sim.yaml` (`jupyterhub:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpec {
    /// The namespace the hub runs in (its pods are the hub's servers).
    pub namespace: String,
    /// The API token the hub accepts (`Authorization: token <token>`).
    pub token: String,
    /// Users who exist on the hub but have no server now.
    #[serde(default)]
    pub users: Vec<String>,
    /// Users with admin rights.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Last activity per user, relative (`-4d`) or RFC 3339; default: the
    /// server's start time.
    #[serde(default)]
    pub last_activity: BTreeMap<String, String>,
    /// Users whose last spawn failed, with the hub's reason
    /// (`Timeout`): their progress stream ends with `Spawn failed: …`.
    #[serde(default)]
    pub spawn_failed: BTreeMap<String, String>,
}

/// Where one simulated hub's API answers, for configs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEndpoint {
    pub cluster: String,
    pub namespace: String,
    /// `http://127.0.0.1:PORT/<cluster>/<namespace>/hub/api`.
    pub url: String,
    pub token: String,
    /// `http://127.0.0.1:PORT/<cluster>/<namespace>/hub/metrics` (the same
    /// token opens it).
    pub metrics_url: String,
    /// `http://127.0.0.1:PORT/<cluster>/kube-state-metrics/metrics`, the
    /// hub's cluster's node and pod series (no token).
    pub kube_state_metrics_url: String,
}

/// One request a simulated hub answered (tests assert the API was used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRequest {
    pub cluster: String,
    pub namespace: String,
    pub method: String,
    /// The path below `/hub/api` (`/users/bob.jones/server`).
    pub path: String,
    pub status: u16,
}

struct Hub {
    spec: HubSpec,
    cluster: Arc<ClusterState>,
    /// Every user seen so far (declared, or with a pod at some point).
    known: Mutex<BTreeSet<String>>,
    last_activity: BTreeMap<String, String>,
}

/// Every simulated hub of a fleet, by `(cluster, namespace)`.
#[derive(Clone, Default)]
pub struct HubApis {
    hubs: Arc<BTreeMap<(String, String), Hub>>,
    requests: Arc<Mutex<Vec<HubRequest>>>,
    /// Each hub's request durations, for its `/hub/metrics`.
    timings: Arc<Mutex<BTreeMap<(String, String), Requests>>>,
}

impl HubApis {
    /// The hubs declared in each cluster's settings; `now` anchors relative times.
    pub fn new(clusters: &[(Arc<ClusterState>, Vec<HubSpec>)], now: DateTime<Utc>) -> Self {
        let mut hubs = BTreeMap::new();
        for (state, specs) in clusters {
            for spec in specs {
                let last_activity = spec
                    .last_activity
                    .iter()
                    .map(|(user, when)| (user.clone(), resolve_time(when, now)))
                    .collect();
                let hub = Hub {
                    known: Mutex::new(spec.users.iter().cloned().collect()),
                    spec: spec.clone(),
                    cluster: state.clone(),
                    last_activity,
                };
                hubs.insert((state.name.clone(), spec.namespace.clone()), hub);
            }
        }
        HubApis {
            hubs: Arc::new(hubs),
            requests: Arc::default(),
            timings: Arc::default(),
        }
    }

    /// True when no cluster declares a hub (then no listener is started).
    pub fn is_empty(&self) -> bool {
        self.hubs.is_empty()
    }

    /// Each hub's URL under `base` (`http://127.0.0.1:PORT`) and its token.
    pub fn endpoints(&self, base: &str) -> Vec<HubEndpoint> {
        self.hubs
            .iter()
            .map(|((cluster, ns), hub)| HubEndpoint {
                cluster: cluster.clone(),
                namespace: ns.clone(),
                url: format!("{base}/{cluster}/{ns}/hub/api"),
                token: hub.spec.token.clone(),
                metrics_url: format!("{base}/{cluster}/{ns}/hub/metrics"),
                kube_state_metrics_url: format!("{base}/{cluster}/kube-state-metrics/metrics"),
            })
            .collect()
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<HubRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The HTTP routes of every hub.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{cluster}/{ns}/hub/api", get(version))
            .route("/{cluster}/{ns}/hub/api/", get(version))
            .route("/{cluster}/{ns}/hub/api/users", get(users))
            .route("/{cluster}/{ns}/hub/api/users/{name}", get(user))
            .route("/{cluster}/{ns}/hub/api/users/{name}/server", delete(stop))
            .route(
                "/{cluster}/{ns}/hub/api/users/{name}/server/progress",
                get(progress),
            )
            .route("/{cluster}/{ns}/hub/metrics", get(metrics))
            .route("/{cluster}/kube-state-metrics/metrics", get(kube_state))
            .fallback(|| async { refusal(StatusCode::NOT_FOUND) })
            .layer(axum::middleware::from_fn_with_state(self.clone(), record))
            .with_state(self.clone())
    }

    /// The hub, after checking the caller's token; `Err` is 404 or 403.
    fn authorized(&self, cluster: &str, ns: &str, headers: &HeaderMap) -> Result<&Hub, StatusCode> {
        let Some(hub) = self.hubs.get(&(cluster.to_string(), ns.to_string())) else {
            return Err(StatusCode::NOT_FOUND);
        };
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("token ")
                    .or_else(|| v.strip_prefix("Bearer "))
            })
            .map(str::trim);
        if presented != Some(hub.spec.token.as_str()) {
            return Err(StatusCode::FORBIDDEN);
        }
        Ok(hub)
    }
}

fn resolve_time(when: &str, now: DateTime<Utc>) -> String {
    match when
        .strip_prefix('-')
        .map(|d| humantime::parse_duration(d.trim()))
    {
        Some(Ok(d)) => (now - chrono::Duration::from_std(d).unwrap_or_default())
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        _ => when.to_string(),
    }
}

fn refusal(code: StatusCode) -> Response {
    error(code, code.canonical_reason().unwrap_or("Error"))
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "status": status.as_u16(), "message": message })),
    )
        .into_response()
}

/// A user's server as the hub sees its pod.
struct Server {
    pod: String,
    ready: bool,
    /// `spawn` while starting, `stop` while terminating.
    pending: Option<&'static str>,
    started: Option<String>,
}

impl Hub {
    /// Current servers by raw username, from the namespace's user pods.
    fn servers(&self) -> BTreeMap<String, Server> {
        let (pods, _) = self.cluster.store.list("pods", Some(&self.spec.namespace));
        let mut out = BTreeMap::new();
        for pod in pods {
            let labels = &pod["metadata"]["labels"];
            if labels["component"] != "singleuser-server" {
                continue;
            }
            let raw = pod["metadata"]["annotations"]["hub.jupyter.org/username"]
                .as_str()
                .or_else(|| labels["hub.jupyter.org/username"].as_str());
            let Some(raw) = raw else { continue };
            let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let all_ready = pod["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c["ready"] == true));
            let terminating = pod["metadata"].get("deletionTimestamp").is_some();
            let ready = !terminating && phase == "Running" && all_ready;
            let pending = if terminating {
                Some("stop")
            } else if ready {
                None
            } else {
                Some("spawn")
            };
            out.insert(
                raw.to_string(),
                Server {
                    pod: pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    ready,
                    pending,
                    started: pod["status"]["startTime"]
                        .as_str()
                        .or_else(|| pod["metadata"]["creationTimestamp"].as_str())
                        .map(str::to_string),
                },
            );
        }
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.extend(out.keys().cloned());
        out
    }

    /// How long each running server took to start: from its pod's
    /// creation to its first container's start (KubeSpawner's spawn ends
    /// when the server answers, just after).
    fn spawn_durations(&self) -> Vec<f64> {
        let (pods, _) = self.cluster.store.list("pods", Some(&self.spec.namespace));
        let time = |v: &Value| {
            v.as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        pods.iter()
            .filter(|p| p["metadata"]["labels"]["component"] == "singleuser-server")
            .filter_map(|p| {
                let created = time(&p["metadata"]["creationTimestamp"])?;
                let started =
                    time(&p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])?;
                let secs = (started - created).num_milliseconds() as f64 / 1000.0;
                (secs >= 0.0).then_some(secs)
            })
            .collect()
    }

    fn known(&self) -> BTreeSet<String> {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn model(&self, name: &str, server: Option<&Server>) -> Value {
        let last_activity = self
            .last_activity
            .get(name)
            .cloned()
            .or_else(|| server.and_then(|s| s.started.clone()));
        let url = format!("/user/{name}/");
        let servers = match server {
            Some(s) => json!({ "": {
                "name": "",
                "ready": s.ready,
                "stopped": false,
                "pending": s.pending,
                "url": url,
                "progress_url": format!("/hub/api/users/{name}/server/progress"),
                "started": s.started,
                "last_activity": last_activity,
                "state": { "pod_name": s.pod },
                "user_options": {},
            }}),
            None => json!({}),
        };
        json!({
            "kind": "user",
            "name": name,
            "admin": self.spec.admins.iter().any(|a| a == name),
            "roles": ["user"],
            "groups": [],
            "server": server.filter(|s| s.ready).map(|_| url),
            "pending": server.and_then(|s| s.pending),
            "created": server.and_then(|s| s.started.clone()),
            "last_activity": last_activity,
            "servers": servers,
        })
    }
}

/// Records every answered request (tests assert the API was used) in one
/// place, whatever the handler answered.
async fn record(State(apis): State<HubApis>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let began = std::time::Instant::now();
    let answer = next.run(req).await;
    let took = began.elapsed().as_secs_f64();
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let (cluster, ns) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let below = parts.next().unwrap_or("");
    let key = (cluster.to_string(), ns.to_string());
    if apis.hubs.contains_key(&key) {
        let handler = hubmetrics::handler(below.strip_prefix("hub").unwrap_or(below));
        let code = answer.status().as_u16().to_string();
        apis.timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .entry((method.clone(), handler, code))
            .or_insert_with(|| Histogram::new(&REQUEST_BUCKETS))
            .observe(took);
    }
    let below = below.strip_prefix("hub/api").unwrap_or(below);
    let below = if below.is_empty() { "/" } else { below };
    apis.requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(HubRequest {
            cluster: cluster.to_string(),
            namespace: ns.to_string(),
            method,
            path: below.to_string(),
            status: answer.status().as_u16(),
        });
    answer
}

/// A handler's answer: the JSON body, or an error response.
type Answer = Result<Response, Response>;

fn exposition(text: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// `GET /hub/metrics`: the hub's Prometheus metrics (see
/// [`super::hubmetrics`]), behind the hub's token as JupyterHub's
/// `authenticate_prometheus` (on by default) has it.
async fn metrics(
    State(apis): State<HubApis>,
    Path((cluster, ns)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let hub = apis.authorized(&cluster, &ns, &headers).map_err(refusal)?;
    let servers = hub.servers();
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let users = hub
        .known()
        .into_iter()
        .map(|name| {
            let last = hub
                .last_activity
                .get(&name)
                .cloned()
                .or_else(|| servers.get(&name).and_then(|s| s.started.clone()));
            let last = last.as_deref().and_then(parse);
            (name, last)
        })
        .collect();
    let spawns = hub.spawn_durations();
    let timings = apis.timings.lock().unwrap_or_else(|e| e.into_inner());
    let none = Requests::new();
    let text = hubmetrics::render(&Snapshot {
        users,
        running_servers: servers.values().filter(|s| s.ready).count(),
        spawns,
        failed_spawns: hub.spec.spawn_failed.len(),
        requests: timings.get(&(cluster, ns)).unwrap_or(&none),
        now: Utc::now(),
    });
    Ok(exposition(text))
}

/// `GET /<cluster>/kube-state-metrics/metrics`: the cluster's nodes and
/// pods as kube-state-metrics exports them (unauthenticated, as it is
/// inside a cluster).
async fn kube_state(State(apis): State<HubApis>, Path(cluster): Path<String>) -> Answer {
    let Some(hub) = apis
        .hubs
        .iter()
        .find(|((c, _), _)| *c == cluster)
        .map(|(_, h)| h)
    else {
        return Err(refusal(StatusCode::NOT_FOUND));
    };
    let (nodes, _) = hub.cluster.store.list("nodes", None);
    let (pods, _) = hub.cluster.store.list("pods", None);
    Ok(exposition(super::kubestate::render(&nodes, &pods)))
}

async fn version(
    State(apis): State<HubApis>,
    Path((cluster, ns)): Path<(String, String)>,
) -> Answer {
    if !apis.hubs.contains_key(&(cluster, ns)) {
        return Err(refusal(StatusCode::NOT_FOUND));
    }
    Ok(Json(json!({ "version": HUB_VERSION })).into_response())
}

#[derive(Deserialize)]
struct UsersQuery {
    state: Option<String>,
}

async fn users(
    State(apis): State<HubApis>,
    Path((cluster, ns)): Path<(String, String)>,
    Query(q): Query<UsersQuery>,
    headers: HeaderMap,
) -> Answer {
    let hub = apis.authorized(&cluster, &ns, &headers).map_err(refusal)?;
    let servers = hub.servers();
    let keep: fn(Option<&Server>) -> bool = match q.state.as_deref() {
        None | Some("") => |_| true,
        Some("active") => |s| s.is_some(),
        Some("ready") => |s| s.is_some_and(|s| s.ready),
        Some("inactive") => |s| s.is_none(),
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("Unrecognized state filter: {other:?}; use active, ready or inactive"),
            ))
        }
    };
    let out: Vec<Value> = hub
        .known()
        .iter()
        .filter(|name| keep(servers.get(*name)))
        .map(|name| hub.model(name, servers.get(name)))
        .collect();
    Ok(Json(Value::Array(out)).into_response())
}

async fn user(
    State(apis): State<HubApis>,
    Path((cluster, ns, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    let hub = apis.authorized(&cluster, &ns, &headers).map_err(refusal)?;
    let servers = hub.servers();
    if !hub.known().contains(&name) {
        return Err(refusal(StatusCode::NOT_FOUND));
    }
    Ok(Json(hub.model(&name, servers.get(&name))).into_response())
}

/// `GET /users/{name}/server/progress`: the spawn's progress as JupyterHub
/// streams it (`text/event-stream`, one `data: {json}` per event): "Server
/// requested", the pod's events as KubeSpawner relays them, then "ready" or,
/// for a spawn that failed, `Spawn failed: …`. A real hub keeps the stream
/// open while the spawn is pending; this one ends after the events so far.
async fn progress(
    State(apis): State<HubApis>,
    Path((cluster, ns, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    let hub = apis.authorized(&cluster, &ns, &headers).map_err(refusal)?;
    let servers = hub.servers();
    if !hub.known().contains(&name) && !hub.spec.spawn_failed.contains_key(&name) {
        return Err(refusal(StatusCode::NOT_FOUND));
    }
    let mut events = vec![json!({"progress": 0, "message": "Server requested"})];
    match (servers.get(&name), hub.spec.spawn_failed.get(&name)) {
        (Some(server), _) => {
            let (all, _) = hub.cluster.store.list("events", Some(&ns));
            let mut mine: Vec<&Value> = all
                .iter()
                .filter(|e| e["involvedObject"]["name"] == server.pod.as_str())
                .collect();
            mine.sort_by_key(|e| e["lastTimestamp"].as_str().unwrap_or("").to_string());
            for e in mine {
                events.push(json!({
                    "progress": 50,
                    "message": format!(
                        "{} [{}] {}",
                        e["lastTimestamp"].as_str().unwrap_or(""),
                        e["type"].as_str().unwrap_or("Normal"),
                        e["message"].as_str().unwrap_or("")
                    ),
                }));
            }
            if server.ready {
                let url = format!("/user/{name}/");
                events.push(json!({"progress": 100, "ready": true, "message": format!("Server ready at {url}"), "url": url}));
            }
        }
        (None, Some(why)) => events.push(json!({
            "progress": 100,
            "failed": true,
            "message": format!("Spawn failed: {why}"),
        })),
        (None, None) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("{name}'s server is not running"),
            ))
        }
    }
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        body,
    )
        .into_response())
}

async fn stop(
    State(apis): State<HubApis>,
    Path((cluster, ns, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Answer {
    let hub = apis.authorized(&cluster, &ns, &headers).map_err(refusal)?;
    let servers = hub.servers();
    if !hub.known().contains(&name) {
        return Err(refusal(StatusCode::NOT_FOUND));
    }
    let Some(server) = servers.get(&name) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("{name} is not running"),
        ));
    };
    match server.pending {
        Some("stop") => return Ok(StatusCode::ACCEPTED.into_response()),
        Some(p) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                &format!("{name} is not running {p}"),
            ))
        }
        None => {}
    }
    let def = discovery::by_kind("v1", "Pod")
        .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "no Pod resource"))?;
    // KubeSpawner's default delete_grace_period is 1 second.
    Ok(
        match hub
            .cluster
            .store
            .delete(def, &ns, &server.pod, Some(1), false)
        {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => StatusCode::ACCEPTED.into_response(),
        },
    )
}
