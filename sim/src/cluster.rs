//! The shared state of one simulated cluster and its public control handle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::auth::Users;
use super::faults::{FaultRule, Faults};
use super::logs::LogSpec;
use super::store::Store;
use super::RecordedRequest;

/// How many requests are kept before the oldest half is forgotten.
const MAX_RECORDED: usize = 200_000;

/// Everything one cluster's server and controller share.
pub struct ClusterState {
    pub name: String,
    pub store: Store,
    pub users: Users,
    pub faults: Faults,
    pub logs: Vec<LogSpec>,
    pub version: String,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub rollout_delay: Mutex<Duration>,
}

impl ClusterState {
    /// Append one request to the record.
    pub fn record(&self, r: RecordedRequest) {
        let mut g = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Bound memory for long-running `opsbot sim`: keep the newest half.
        if g.len() >= MAX_RECORDED {
            g.drain(..MAX_RECORDED / 2);
        }
        g.push(r);
    }

    /// The current rollout delay.
    pub fn delay(&self) -> Duration {
        *self.rollout_delay.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A cheap clone handle to control one running simulated cluster from tests.
#[derive(Clone)]
pub struct SimCluster {
    pub(crate) state: Arc<ClusterState>,
}

impl SimCluster {
    /// Add an injected failure (after the seeded ones).
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.faults.add(rule);
    }

    /// Remove every injected failure.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Every API request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How long restarted/scaled workload pods take to become Ready.
    pub fn set_rollout_delay(&self, d: Duration) {
        *self
            .state
            .rollout_delay
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = d;
    }

    /// Compact the watch history (later watches from older versions get 410 Expired).
    pub fn compact_history(&self) {
        self.state.store.compact();
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Direct access to the object store (for assertions).
    pub fn store(&self) -> &Store {
        &self.state.store
    }
}
