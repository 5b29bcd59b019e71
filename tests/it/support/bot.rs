//! An in-process opsbot on the demo fleet, driven the way the console drives
//! it: a request in, every [`Update`] out. Each test gets its own fleet, its
//! own SQLite audit file and its own runner.

#![allow(dead_code)]

use std::time::Duration;

use opsbot::audit::{AuditLog, EventKind, Record, RunId};
use opsbot::chat::place::{ConsolePlace, Place};
use opsbot::chat::{Request, Update};
use opsbot::cli::demo::{Demo, DemoArgs};
use opsbot::runs::Limits;
use tokio::sync::mpsc;

/// How long any single exchange may take before the test fails with what
/// it saw so far (a bound against hangs, not a speed assertion).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Bot {
    pub demo: Demo,
    pub dir: tempfile::TempDir,
    pub audit_url: String,
    tx: mpsc::UnboundedSender<Update>,
    rx: mpsc::UnboundedReceiver<Update>,
}

impl Bot {
    pub async fn start() -> Bot {
        Bot::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> Bot {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit_url = format!("sqlite://{}", dir.path().join("audit.db").display());
        Bot::start_in(dir, audit_url, limits).await
    }

    /// Start on an existing directory and audit store (a "restart").
    pub async fn start_in(dir: tempfile::TempDir, audit_url: String, limits: Limits) -> Bot {
        Bot::start_full(dir, audit_url, limits, &[]).await
    }

    /// A bot with these environment variables (and no others).
    pub async fn start_with_env(vars: &[(&str, &str)]) -> Bot {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit_url = format!("sqlite://{}", dir.path().join("audit.db").display());
        Bot::start_full(dir, audit_url, Limits::default(), vars).await
    }

    /// [`Bot::start_with_env`] with these runner limits.
    pub async fn start_with_env_and_limits(vars: &[(&str, &str)], limits: Limits) -> Bot {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit_url = format!("sqlite://{}", dir.path().join("audit.db").display());
        Bot::start_full(dir, audit_url, limits, vars).await
    }

    /// [`Bot::start_in`] with these environment variables (a restart of a
    /// bot started with [`Bot::start_with_env`]).
    pub async fn start_in_with_env(
        dir: tempfile::TempDir,
        audit_url: String,
        vars: &[(&str, &str)],
    ) -> Bot {
        Bot::start_full(dir, audit_url, Limits::default(), vars).await
    }

    /// Stop the runner (in-flight runs get a few seconds) and hand back the
    /// directory and audit store for a restart.
    pub async fn stop(self) -> (tempfile::TempDir, String) {
        self.demo.app.runs.shutdown(Duration::from_secs(5)).await;
        let Bot {
            demo,
            dir,
            audit_url,
            ..
        } = self;
        drop(demo);
        (dir, audit_url)
    }

    async fn start_full(
        dir: tempfile::TempDir,
        audit_url: String,
        limits: Limits,
        vars: &[(&str, &str)],
    ) -> Bot {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let args = DemoArgs::embedded(audit_url.clone());
        let work = dir.path().join("demo");
        std::fs::create_dir_all(&work).expect("demo dir");
        let demo = Demo::start_with(&args, &work, limits, &env)
            .await
            .expect("demo starts");
        let (tx, rx) = mpsc::unbounded_channel();
        Bot {
            demo,
            dir,
            audit_url,
            tx,
            rx,
        }
    }

    pub fn audit(&self) -> &AuditLog {
        &self.demo.app.runs.context().audit
    }

    /// Submit `text` as `person` on the console and return the updates up to
    /// the request's end: its final update, or the `Done` of the run it started.
    pub async fn ask(&mut self, person: &str, text: &str) -> Vec<Update> {
        self.submit(person, text).await;
        self.collect().await
    }

    /// Submit without waiting for anything but the durable acknowledgement.
    pub async fn submit(&mut self, person: &str, text: &str) {
        let req = Request {
            sender: person.to_string(),
            text: text.to_string(),
            place: Place::Console(ConsolePlace {
                console: person.to_string(),
            }),
            memberships: Vec::new(),
        };
        self.demo.app.runs.submit(req, self.tx.clone()).await;
    }

    /// Updates up to the end of the next request (see [`Bot::ask`]).
    pub async fn collect(&mut self) -> Vec<Update> {
        let mut seen = Vec::new();
        let mut started: Option<RunId> = None;
        loop {
            let next = tokio::time::timeout(PATIENCE, self.rx.recv()).await;
            let u = match next {
                Ok(Some(u)) => u,
                Ok(None) => panic!("reply channel closed; saw {seen:#?}"),
                Err(_) => panic!("no final update within {PATIENCE:?}; saw {seen:#?}"),
            };
            let done = match &u {
                Update::Accepted { run, .. } => {
                    started = Some(*run);
                    false
                }
                Update::Done { run, .. } => started.is_none_or(|s| s == *run),
                Update::Refused { run, .. } => started.is_none() || *run == started,
                Update::Info { .. } | Update::AwaitingApproval { .. } => started.is_none(),
                Update::Step { .. } | Update::Decided { .. } => false,
            };
            seen.push(u);
            if done {
                return seen;
            }
        }
    }

    /// Updates up to and including the first one `stop` accepts (bounded by
    /// [`PATIENCE`]): for waiting on one update while runs overlap.
    pub async fn until(&mut self, stop: impl Fn(&Update) -> bool) -> Vec<Update> {
        let mut seen = Vec::new();
        loop {
            let u = match tokio::time::timeout(PATIENCE, self.rx.recv()).await {
                Ok(Some(u)) => u,
                Ok(None) => panic!("reply channel closed; saw {seen:#?}"),
                Err(_) => panic!("no matching update within {PATIENCE:?}; saw {seen:#?}"),
            };
            let last = stop(&u);
            seen.push(u);
            if last {
                return seen;
            }
        }
    }

    /// Wait until run `run` has a record of kind `kind` (the audit log is the
    /// marker), polling the log, bounded by [`PATIENCE`].
    pub async fn wait_for_record(&self, run: RunId, kind: EventKind) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.kinds(run).await.contains(&kind) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} has no {kind:?} record within {PATIENCE:?}: {:?}",
                self.kinds(run).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Wait until the approval request `run` has its preview (the dry run
    /// that resolves what it would change, made after the request is
    /// answered): approving before it is refused.
    pub async fn wait_for_preview(&self, run: RunId) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let previewed = self.records(run).await.iter().any(|r| {
                r.kind == EventKind::Note
                    && (r.data.get("preview_hash").is_some()
                        || r.data.get("preview_failed").is_some())
            });
            if previewed {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} has no preview within {PATIENCE:?}: {:?}",
                self.kinds(run).await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The resolved plan of the approval request just made: the update that
    /// replaces the stated plan once the preview's dry run is done.
    pub async fn preview(&mut self) -> Vec<String> {
        let seen = self
            .until(|u| matches!(u, Update::AwaitingApproval { .. }))
            .await;
        match seen.last() {
            Some(Update::AwaitingApproval { plan, .. }) => plan.clone(),
            _ => unreachable!("until returns the matching update last"),
        }
    }

    /// Records of one run, in order.
    pub async fn records(&self, run: impl Into<RunId>) -> Vec<Record> {
        self.audit().run(run.into()).await.expect("audit readable")
    }

    /// Record kinds of one run, in order.
    pub async fn kinds(&self, run: impl Into<RunId>) -> Vec<EventKind> {
        self.records(run)
            .await
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }
}

/// The last update, which ends every exchange.
pub fn last(updates: &[Update]) -> &Update {
    updates.last().expect("at least one update")
}

/// The run a list of updates is about.
pub fn run_of(updates: &[Update]) -> RunId {
    updates
        .iter()
        .find_map(Update::run)
        .unwrap_or_else(|| panic!("no run in {updates:#?}"))
}

/// The `Done` output, or a panic showing what came instead.
pub fn done_output(updates: &[Update]) -> (opsbot::chat::Outcome, String) {
    match last(updates) {
        Update::Done {
            outcome, output, ..
        } => (*outcome, output.clone()),
        other => panic!("expected a finished run, got {other:#?}\nall: {updates:#?}"),
    }
}

/// The refusal's reason and detail, or a panic.
pub fn refusal(updates: &[Update]) -> (String, String) {
    match last(updates) {
        Update::Refused { reason, detail, .. } => (reason.clone(), detail.clone()),
        other => panic!("expected a refusal, got {other:#?}\nall: {updates:#?}"),
    }
}
