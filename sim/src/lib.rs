//! The Kubernetes API simulator: an HTTP server per simulated cluster that the
//! real `kube` client and real `kubectl` treat as a small cluster (discovery,
//! CRUD, watch, RBAC, impersonation, a controller loop, logs, faults).
//!
//! Every cluster serves HTTPS on its own loopback port with a fixed,
//! simulator-only certificate ([`tls`]): kubectl sends bearer tokens only over
//! TLS. Explore a seed with kubectl:
//!
//! ```text
//! opsbot sim --seed examples/fleet --listen 127.0.0.1:6443 --kubeconfig /tmp/fleet.kubeconfig
//! kubectl --kubeconfig /tmp/fleet.kubeconfig get pods -A
//! kubectl --kubeconfig /tmp/fleet.kubeconfig --context gcp-eu get daskclusters -A
//! ```
//!
//! In Rust: `Fleet::start(Seed::from_dir(dir)?, "127.0.0.1:0".parse()?)`, then
//! `fleet.client("aws-us")` for an admin `kube::Client`, `fleet.cluster(name)`
//! for fault injection, request records and the rollout delay.

pub mod auth;
pub mod cli;
mod cluster;
pub mod controller;
pub mod discovery;
pub mod faults;
mod fleet;
pub mod hubapi;
pub mod hubmetrics;
pub mod kubestate;
pub mod logs;
pub mod metrics_text;
pub mod patch;
pub mod seed;
pub mod selector;
mod server;
pub mod status;
pub mod store;
pub mod synthetic;
pub mod table;
pub mod tls;
mod verbs;
mod watch;

pub use auth::ADMIN_TOKEN;
pub use cluster::SimCluster;
pub use faults::FaultRule;
pub use fleet::Fleet;
pub use hubapi::{HubEndpoint, HubRequest};
pub use seed::{Seed, SeedCluster, SimSettings};

/// One API request as the simulator saw it (tests assert on these).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection).
    pub verb: String,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The authenticated user (`system:anonymous` when none).
    pub user: String,
    pub impersonated: Option<String>,
    pub status: u16,
    pub body: Option<serde_json::Value>,
}
