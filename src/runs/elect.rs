//! One leader among replicas for the singleton duties (the approval-expiry
//! sweeper), elected with a `coordination.k8s.io/v1` Lease as Kubernetes'
//! own controllers are.
//!
//! A candidate takes the Lease when there is none, when it has no holder, or
//! when its record has not changed for a whole `leaseDurationSeconds`; the
//! leader renews it every third of that. Every write names the
//! resourceVersion it read, so of two candidates acting on the same read the
//! API server lets one win and answers the other 409 Conflict: a conflict
//! means someone else won, never an error.
//!
//! Expiry is judged by how long the *observed* record stayed unchanged on
//! this process's own monotonic clock, not by comparing `renewTime` with the
//! local wall clock: replicas' clocks may disagree, their stopwatches do not.
//! So a new candidate waits one full duration before taking over an
//! abandoned Lease, and a leader that cannot renew steps down after two
//! thirds of one, before anyone else may take over.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A candidate for one Lease. Dropping it stops renewing without releasing
/// (as a crashed replica would): another candidate takes over once the
/// Lease has gone a full duration without renewal.
pub struct Elector {
    leader: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Elector {
    /// Starts campaigning for Lease `name` in `namespace` as `identity` (unique
    /// per replica, e.g. the pod name), holding it for `duration` (whole
    /// seconds, at least one) per renewal.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Elector {
        let (tx, leader) = watch::channel(false);
        let candidate = Candidate {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            seconds: duration.as_secs().max(1) as i32,
            observed: None,
            renewed: None,
        };
        let task = tokio::spawn(candidate.campaign(tx));
        Elector { leader, task }
    }

    /// Whether this candidate holds the Lease now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Every change of leadership, for a duty to start and stop with it.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }
}

impl Drop for Elector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The campaign's state between rounds.
struct Candidate {
    api: Api<Lease>,
    name: String,
    identity: String,
    seconds: i32,
    /// The last record seen (resourceVersion) and when it was first seen.
    observed: Option<(String, Instant)>,
    /// When this candidate last wrote the Lease as its holder.
    renewed: Option<Instant>,
}

/// What one round learnt.
enum Round {
    Leading,
    Following,
    /// The API server could not be asked (or refused otherwise): leadership
    /// lasts only as long as the last renewal keeps it safe.
    Unknown,
}

impl Candidate {
    async fn campaign(mut self, tx: watch::Sender<bool>) {
        let every = Duration::from_secs(self.seconds as u64) / 3;
        loop {
            let leading = match self.round().await {
                Round::Leading => {
                    self.renewed = Some(Instant::now());
                    true
                }
                Round::Following => {
                    self.renewed = None;
                    false
                }
                Round::Unknown => self
                    .renewed
                    .is_some_and(|t| t.elapsed() < self.duration() * 2 / 3),
            };
            tx.send_if_modified(|was| std::mem::replace(was, leading) != leading);
            tokio::time::sleep(every).await;
        }
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds as u64)
    }

    async fn round(&mut self) -> Round {
        let current = match self.api.get_opt(&self.name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(lease = %self.name, error = %e, "reading the Lease failed");
                return Round::Unknown;
            }
        };
        let Some(lease) = current else {
            return self.write(None).await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder == self.identity {
            return self.write(Some(lease)).await;
        }
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let since = match &self.observed {
            Some((seen, at)) if *seen == rv => *at,
            _ => {
                let now = Instant::now();
                self.observed = Some((rv, now));
                now
            }
        };
        let lasts =
            Duration::from_secs(spec.lease_duration_seconds.unwrap_or(self.seconds).max(1) as u64);
        if holder.is_empty() || since.elapsed() >= lasts {
            self.write(Some(lease)).await
        } else {
            Round::Following
        }
    }

    /// Creates the Lease (`None`) or takes/renews `current` as this
    /// candidate, on the resourceVersion it was read at.
    async fn write(&self, current: Option<Lease>) -> Round {
        let now = MicroTime(Timestamp::now());
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(self.seconds),
                        acquire_time: Some(now.clone()),
                        renew_time: Some(now),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(now.clone());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(self.seconds);
                spec.renew_time = Some(now);
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Round::Leading,
            // AlreadyExists on create, Conflict on replace: another won.
            Err(kube::Error::Api(s)) if s.code == 409 => Round::Following,
            Err(e) => {
                tracing::warn!(lease = %self.name, error = %e, "writing the Lease failed");
                Round::Unknown
            }
        }
    }
}
