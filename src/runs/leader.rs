//! Which process does a singleton duty (the approval-expiry sweeper):
//! inside a Kubernetes cluster, the holder of a `coordination.k8s.io/v1`
//! Lease in opsbot's namespace ([`super::elect`]); anywhere else, the
//! audit store's election ([`crate::audit::Duty`]: a PostgreSQL advisory
//! lock, or a file lock beside a SQLite database).
//!
//! The Lease is used when `OPSBOT_LEASE_NAMESPACE` names the namespace (the
//! chart sets it from the pod's own, with `POD_NAME` as the identity) and
//! the in-cluster service account is there; a failure to build that client
//! falls back to the store, with a warning.

use std::time::Duration;

use std::sync::Arc;

use crate::audit::{AuditLog, Duty};
use crate::metrics::Metrics;

use super::elect::Elector;

/// Whether this process does a duty now, asked each time it matters.
pub type Leading = Arc<dyn Fn() -> bool + Send + Sync>;

/// Compete for `duty` and answer, each time asked, whether this process
/// does it now, keeping `opsbot_duty_leader{duty}` up to date. The
/// election lasts as long as the answer.
pub(super) fn elect(audit: &AuditLog, metrics: Arc<Metrics>, duty: &str) -> Leading {
    let leader = Leader::start(audit, duty);
    let duty = duty.to_string();
    Arc::new(move || {
        let on = leader.leading();
        metrics.leading(&duty, on);
        on
    })
}

/// The environment variable naming the namespace of the Leases.
pub const LEASE_NAMESPACE_ENV: &str = "OPSBOT_LEASE_NAMESPACE";

/// One duty's election, however it is held.
enum Leader {
    Store(Duty),
    Lease(Elector),
}

impl Leader {
    /// Start competing for `duty`; the lease (or retry) period is the
    /// store's run-ownership lease.
    fn start(audit: &AuditLog, duty: &str) -> Leader {
        let lease = audit.lease();
        if let Ok(namespace) = std::env::var(LEASE_NAMESPACE_ENV) {
            match in_cluster() {
                Ok(client) => {
                    let identity =
                        std::env::var("POD_NAME").unwrap_or_else(|_| audit.owner().to_string());
                    tracing::info!(
                        duty,
                        namespace,
                        identity,
                        "electing the duty's process with a Lease"
                    );
                    return Leader::Lease(Elector::new(
                        client,
                        &namespace,
                        &format!("opsbot-{duty}"),
                        &identity,
                        lease,
                    ));
                }
                Err(e) => tracing::warn!(
                    duty,
                    error = %e,
                    "{LEASE_NAMESPACE_ENV} is set but no in-cluster client can be built; electing through the audit store instead"
                ),
            }
        }
        Leader::Store(audit.elect(duty, (lease / 3).max(Duration::from_millis(50))))
    }

    /// Whether this process does the duty now.
    fn leading(&self) -> bool {
        match self {
            Leader::Store(d) => d.leading(),
            Leader::Lease(e) => e.is_leader(),
        }
    }
}

fn in_cluster() -> anyhow::Result<kube::Client> {
    let config = kube::Config::incluster()?;
    Ok(kube::Client::try_from(config)?)
}
