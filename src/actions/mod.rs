//! The step vocabulary: every action a playbook step may name.
//!
//! An action is data ([`ActionSpec`]): its name (`kube.list`), whether it
//! mutates, a load-time check of its arguments (each family deserializes them
//! into a typed args struct with `deny_unknown_fields`), the Kubernetes
//! permissions it needs (for `opsbot rbac`), a description of its target (for
//! progress lines, plans and audit records) and the async function that runs
//! it. One file per step family (`kube`, `http`, `jupyterhub`); adding a family means adding
//! a file and listing it in [`Registry::builtin`].

pub mod binder;
pub(crate) mod cached;
pub mod dask;
pub mod describe;
pub mod diagnose;
pub mod evict;
pub mod fleet;
pub mod http;
pub mod jupyterhub;
pub mod kube;
pub mod prometheus;
pub mod user_server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterSet;

/// One Kubernetes permission a step needs: `opsbot rbac` turns the union of
/// these into a least-privilege Role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Permission {
    pub verb: String,
    /// API group; `""` for the core group.
    pub group: String,
    /// Plural resource, with `/subresource` when needed (`pods/log`).
    pub resource: String,
    /// Only the object of this name (RBAC `resourceNames`), for a step that
    /// reads one well-known object and should not see the others.
    pub name: Option<String>,
}

impl Permission {
    /// `Permission::new("patch", "apps", "deployments")`.
    pub fn new(verb: &str, group: &str, resource: &str) -> Self {
        Permission {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            name: None,
        }
    }

    /// `Permission::named("get", "", "configmaps", "cluster-autoscaler-status")`.
    pub fn named(verb: &str, group: &str, resource: &str, name: &str) -> Self {
        Permission {
            name: Some(name.into()),
            ..Permission::new(verb, group, resource)
        }
    }
}

/// What a step touches, for people: the verb and a target such as
/// `apps/v1 deployments staging/hub @aws-us`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub verb: String,
    pub target: String,
}

/// Why an action failed; the executor decides from this whether to retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    /// The API server answered with an error status.
    #[error("{reason}: {message}")]
    Api {
        code: u16,
        reason: String,
        message: String,
        /// From the Status details or the `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// The request never got an answer (connection refused/reset, timeout).
    #[error("{0}")]
    Transport(String),
    /// The arguments (after rendering) are not what the action needs.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// Anything else (an unexpected response, a failed expectation).
    #[error("{0}")]
    Failed(String),
}

impl ActionError {
    /// `Some(delay hint)` when the failure is transient: 429, 5xx, transport.
    pub fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            ActionError::Api {
                code, retry_after, ..
            } if *code == 429 || *code >= 500 => Some(*retry_after),
            ActionError::Transport(_) => Some(None),
            _ => None,
        }
    }

    /// Like [`ActionError::retry_hint`], for a step that changes things:
    /// only a failure that proves the server did not act may be retried.
    /// 429 is answered before the request is handled; a dropped or timed-out
    /// connection, a 500 or a 504 may come after the change was applied, so
    /// sending a PATCH or DELETE again could apply it twice.
    pub fn retry_hint_if_unapplied(&self) -> Option<Option<Duration>> {
        match self {
            ActionError::Api {
                code: 429,
                retry_after,
                ..
            } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Everything one action invocation gets: rendered args plus the run's context.
#[derive(Clone)]
pub struct ActionCall {
    pub args: Value,
    pub clusters: ClusterSet,
    /// Part of a dry run: mutating actions send `dryRun=All`, waits for a
    /// change return at once.
    pub dry_run: bool,
    /// Run Kubernetes calls as this user when set.
    pub impersonate: Option<String>,
    /// Long waits abort when this fires.
    pub cancel: CancellationToken,
    /// Which try this is (1 for the first): a retry of an idempotent change
    /// checks whether the earlier try already made it.
    pub attempt: u32,
    /// When the executor first issued this call, the same on every retry:
    /// a change stamped with it (a rollout restart's `restartedAt`) is the
    /// same change when sent again, so Kubernetes applies it once.
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// Whether objects read go into the output whole (`raw`) beside their
    /// summary; the executor asks for them only when the playbook's
    /// templates read them (`Step::whole_objects`).
    pub whole_objects: bool,
}

impl ActionCall {
    /// A first try issued now (for callers outside the executor).
    pub fn new(args: Value, clusters: ClusterSet) -> ActionCall {
        ActionCall {
            args,
            clusters,
            dry_run: false,
            impersonate: None,
            cancel: CancellationToken::new(),
            attempt: 1,
            issued_at: chrono::Utc::now(),
            whole_objects: true,
        }
    }
}

/// The async body of an action.
pub type RunFn =
    Arc<dyn Fn(ActionCall) -> BoxFuture<'static, Result<Value, ActionError>> + Send + Sync>;

/// One step kind: its name, its contract and its implementation.
#[derive(Clone)]
pub struct ActionSpec {
    pub name: &'static str,
    /// Changes something (needs `mutates: true` on the playbook; honours dry-run).
    pub mutates: bool,
    /// Sending the change again has the effect of sending it once (an
    /// absolute value, a delete that finds its object already gone, a
    /// restart stamped with [`ActionCall::issued_at`]): the executor may
    /// retry it after an answer that leaves open whether it was applied (a
    /// dropped connection, a 5xx). A change that is not idempotent is
    /// retried only on a 429, which proves the server did not act.
    pub idempotent: bool,
    /// Deserialize the args into the typed struct; `Err(serde message)` on
    /// unknown/missing fields or bad types. Templated strings are still raw.
    pub check: fn(&Value) -> Result<(), String>,
    /// The Kubernetes permissions a step with these (raw) args needs.
    pub permissions: fn(&Value) -> Vec<Permission>,
    /// Verb and target for rendered (or partly rendered) args.
    pub describe: fn(&Value) -> Target,
    pub run: RunFn,
}

impl std::fmt::Debug for ActionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSpec")
            .field("name", &self.name)
            .field("mutates", &self.mutates)
            .finish()
    }
}

/// The set of step kinds a loader accepts.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<ActionSpec>>,
}

impl Registry {
    /// Every built-in step family.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        for spec in kube::actions()
            .into_iter()
            .chain(http::actions())
            .chain(diagnose::actions())
            .chain(describe::actions())
            .chain(evict::actions())
            .chain(fleet::actions())
            .chain(jupyterhub::actions())
            .chain(user_server::actions())
            .chain(dask::actions())
            .chain(binder::actions())
            .chain(prometheus::actions())
        {
            r.register(spec);
        }
        r
    }

    /// Add (or replace) a step kind: tests and future families use this.
    pub fn register(&mut self, spec: ActionSpec) {
        self.actions.insert(spec.name, Arc::new(spec));
    }

    /// The step kind called `name` (`kube.list`).
    pub fn get(&self, name: &str) -> Option<&Arc<ActionSpec>> {
        self.actions.get(name)
    }

    /// Every step kind name, sorted (for "did you mean" and help).
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.actions.keys().copied()
    }
}

/// Deserialize `args` into `T` and keep only the verdict (for `ActionSpec::check`).
pub(crate) fn check_args<T: serde::de::DeserializeOwned>(args: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(args.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Deserialize rendered `args` into `T` for running.
pub(crate) fn parse_args<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T, ActionError> {
    serde_json::from_value::<T>(args.clone()).map_err(|e| ActionError::Invalid(e.to_string()))
}

/// Parse a `5m`/`30s` duration argument.
pub(crate) fn parse_duration(field: &str, text: &str) -> Result<Duration, ActionError> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        ActionError::Invalid(format!(
            "{field}: '{text}' is not a duration ({e}); write e.g. 30s, 5m, 1h"
        ))
    })
}

/// `3h`, `2d`, `45s`: the age column people expect from kubectl.
pub fn short_age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s}s")
    } else if s < 2 * 3600 {
        format!("{}m", s / 60)
    } else if s < 2 * 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}
