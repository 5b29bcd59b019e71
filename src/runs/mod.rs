//! The run lifecycle: from a person's request to a finished, audited run.
//!
//! This is the platform-neutral heart every adapter calls. The ack path is
//! short and never touches a cluster: identify the person, parse the text,
//! decide, record durably, queue, answer. The playbook runs afterwards on a
//! bounded pool; every state change is appended to the audit log before it
//! is shown to anyone.
//!
//! - [`Runs::submit`] handles one request and sends its [`Update`]s.
//! - [`Runs::recover`] ends runs whose process stopped (a crash, `kill -9`):
//!   interrupted, or expired for a lapsed approval request.
//! - [`Runs::shutdown`] stops accepting, lets runs finish up to a deadline
//!   and records the rest as interrupted.
//! - [`elect::Elector`] elects one replica with a Lease, for the singleton
//!   duties (not used by `Runs` yet).

// Refusals travel as `Err(Update)`: the error *is* the reply the person
// reads, on a cold path, so boxing it would only add noise.
#![allow(clippy::result_large_err)]

mod approval;
mod builtins;
pub mod elect;
mod execute;
mod guard;
pub mod leader;
mod resolve;
mod state;
mod suggest;
mod takeover;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::{AuditLog, EventKind, NewEvent, RunId};
use crate::authz::{self, Decision};
use crate::chat::{Replies, Request, Update};
use crate::cluster::ClusterSet;
use crate::command::{Grammar, Names, Target as CommandTarget};
use crate::config::{Config, Person};
use crate::jupyterhub::directory::HubDirectory;
use crate::metrics::Metrics;
use crate::playbook::{Playbook, Playbooks};
use crate::redact::Redactor;

pub use builtins::story_text;
pub use execute::Job;
pub use takeover::TakenOver;

/// Capacity limits of the runner: how many runs execute at once and how many
/// may wait. Past the queue, requests get a clear "busy" answer instead of
/// being accepted and then lost. The default queue takes a burst of several
/// thousand requests (a queued job is a few hundred bytes: memory stays
/// bounded) rather than refusing one that would have run a second later.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub concurrent_runs: usize,
    pub queued_runs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrent_runs: 32,
            queued_runs: 8192,
        }
    }
}

/// The per-run decision locks: a run's decisions are taken one at a time,
/// different runs' in parallel. Striped, so memory stays fixed however many
/// runs there are; two runs sharing a stripe only wait for each other.
struct Deciding([tokio::sync::Mutex<()>; DECIDING_STRIPES]);

const DECIDING_STRIPES: usize = 256;

impl Default for Deciding {
    fn default() -> Self {
        Deciding(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl Deciding {
    /// Hold `run`'s decision lock.
    async fn lock(&self, run: RunId) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[run.0.rem_euclid(DECIDING_STRIPES as i64) as usize]
            .lock()
            .await
    }
}

/// Everything a run needs, built once at startup.
pub struct Context {
    pub config: Arc<Config>,
    pub grammar: Grammar,
    pub playbooks: Playbooks,
    pub clusters: ClusterSet,
    pub hubs: HubDirectory,
    pub audit: AuditLog,
    pub metrics: Arc<Metrics>,
    pub redact: Redactor,
    pub limits: Limits,
}

/// The runner: cheap to clone, shared by every adapter.
#[derive(Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

struct Inner {
    ctx: Context,
    queue: mpsc::Sender<Job>,
    /// Runs executing now: their cancel switch.
    live: Mutex<HashMap<RunId, CancellationToken>>,
    /// Lock keys held by queued or running runs (`hub/aws-us/staging` → run).
    /// Lock key → the run holding it; `None` while a request that claimed it
    /// is being recorded (it has no number yet).
    locks: Mutex<HashMap<String, Option<RunId>>>,
    /// Where to send a waiting run's story once someone approves it.
    origins: Mutex<HashMap<RunId, Replies>>,
    /// Autocomplete's short-lived view of hubs' users.
    users: suggest::UserCache,
    /// Platforms that can speak into a conversation from its place.
    reopeners: Mutex<Vec<Arc<dyn crate::chat::Reopen>>>,
    /// Endings of taken-over runs whose platform has not registered yet.
    untold: Mutex<Vec<TakenOver>>,
    /// Whether this process is the one that expires approval requests.
    expiry: leader::Leading,
    /// Held while a decision moves a run (approve, deny, cancel, start), so
    /// each reads the run's state and records the next one with nobody in
    /// between: the compare-and-set of the lifecycle ([`state::RunState`]).
    /// One lock per run (striped): decisions about different runs do not
    /// wait for each other's durable record.
    deciding: Deciding,
    accepting: AtomicBool,
    shutting_down: AtomicBool,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Runs {
    /// Start the runner's dispatcher on the current runtime.
    pub fn start(ctx: Context) -> Runs {
        let (tx, rx) = mpsc::channel(ctx.limits.queued_runs.max(1));
        let slots = Arc::new(Semaphore::new(ctx.limits.concurrent_runs.max(1)));
        let expiry = leader::elect(&ctx.audit, ctx.metrics.clone(), approval::EXPIRY_DUTY);
        let inner = Arc::new(Inner {
            ctx,
            queue: tx,
            live: Mutex::default(),
            locks: Mutex::default(),
            origins: Mutex::default(),
            users: suggest::UserCache::default(),
            reopeners: Mutex::default(),
            untold: Mutex::default(),
            expiry,
            deciding: Deciding::default(),
            accepting: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        let runs = Runs { inner };
        executor().spawn(execute::dispatch(runs.clone(), rx, slots));
        executor().spawn(approval::sweep_expired(Arc::downgrade(&runs.inner)));
        executor().spawn(takeover::sweep(Arc::downgrade(&runs.inner)));
        if let Some(mut stops) = runs.inner.ctx.audit.stop_requests() {
            let weak = Arc::downgrade(&runs.inner);
            executor().spawn(async move {
                while let Some((run, by)) = stops.recv().await {
                    let Some(inner) = weak.upgrade() else { return };
                    let runs = Runs { inner };
                    if execute::cancel_live(&runs, run) {
                        tracing::debug!(run = %run, by, "run cancelled from another opsbot process");
                    }
                }
            });
        }
        runs
    }

    /// The shared context (config, grammar, audit log...).
    pub fn context(&self) -> &Context {
        &self.inner.ctx
    }

    /// Compete for the singleton `duty` (see [`leader`]).
    pub fn elect(&self, duty: &str) -> leader::Leading {
        leader::elect(&self.inner.ctx.audit, self.inner.ctx.metrics.clone(), duty)
    }

    /// Handle one request; its updates (exactly one final) go to `replies`.
    /// Returns once the request is durably recorded and acknowledged: the
    /// playbook itself runs later.
    pub async fn submit(&self, req: Request, replies: Replies) {
        if let Err(update) = self.handle(req, &replies).await {
            let _ = replies.send(self.redacted(update));
        }
    }

    /// Refusals can quote what was typed; a pasted secret must not come back.
    fn redacted(&self, u: Update) -> Update {
        let r = &self.inner.ctx.redact;
        match u {
            Update::Refused {
                run,
                reason,
                detail,
            } => Update::Refused {
                run,
                reason: r.text(&reason),
                detail: r.text(&detail),
            },
            Update::Info { title, body } => Update::Info {
                title: r.text(&title),
                body: r.text(&body),
            },
            other => other,
        }
    }

    async fn handle(&self, req: Request, replies: &Replies) -> Result<(), Update> {
        let ctx = &self.inner.ctx;
        let platform = req.platform().word();
        if !self.inner.accepting.load(Ordering::SeqCst) {
            return Err(self.refuse(
                platform,
                "shutting_down",
                None,
                "opsbot is shutting down",
                "Nothing was run. Ask again in a minute.",
            ));
        }
        let Some(person) = ctx.config.person_by(req.platform(), &req.sender) else {
            return Err(self.refuse(
                platform,
                "unknown_person",
                None,
                "you are not set up to use opsbot",
                &format!(
                    "Your {platform} id `{}` is not linked to a person in opsbot's config. Ask an opsbot admin to add it under `people:`. Nothing was run.",
                    req.sender
                ),
            ));
        };
        // Roles the platform grants for this request (a Discord guild role,
        // a GitHub team), on top of the person's own.
        let granted: Vec<&str> = match req.platform() {
            crate::chat::Platform::Discord => ctx
                .config
                .discord
                .as_ref()
                .map(|d| d.roles_for_role_ids(&req.memberships))
                .unwrap_or_default(),
            crate::chat::Platform::Github => ctx
                .config
                .github
                .as_ref()
                .map(|g| g.roles_for_teams(&req.memberships))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let widened = (!granted.is_empty()).then(|| person.with_extra_roles(granted));
        let person = widened.as_ref().unwrap_or(person);
        let inv = match ctx.grammar.parse(&req.text, ctx) {
            Ok(inv) => inv,
            Err(e) => {
                return Err(self.refuse(
                    platform,
                    "parse_error",
                    None,
                    "I could not read that command",
                    &e.to_string(),
                ));
            }
        };
        let Some(spec) = ctx.grammar.get(&inv.command) else {
            return Err(self.refuse(
                platform,
                "parse_error",
                None,
                "unknown command",
                &inv.command,
            ));
        };
        // Slack channels may be limited to some commands (`slack.channels`).
        if let crate::chat::Place::Slack(slack) = &req.place {
            // An empty channel is a Slack request that came without one.
            let channel = Some(slack.channel.as_str()).filter(|c| !c.is_empty());
            if let Err(why) = authz::channel_allows(&ctx.config, channel, &inv.command) {
                return Err(self.refuse(platform, "channel", None, "not in this channel", &why));
            }
        }
        match &spec.target {
            CommandTarget::Builtin(b) => builtins::run(self, *b, person, &inv, replies).await,
            CommandTarget::Playbook(name) => {
                let Some(pb) = ctx.playbooks.get(name).cloned() else {
                    return Err(self.refuse(platform, "internal", None, "this command is not available",
                        &format!("The command `{}` points at playbook `{name}`, which is not loaded. Run `opsbot check` to see why.", inv.command)));
                };
                self.start_playbook(req, person, inv, pb, replies).await
            }
        }
    }

    async fn start_playbook(
        &self,
        req: Request,
        person: &Person,
        inv: crate::command::Invocation,
        pb: Arc<Playbook>,
        replies: &Replies,
    ) -> Result<(), Update> {
        let ctx = &self.inner.ctx;
        let platform = req.platform().word();
        let mut resolved = resolve::params(&inv, &pb, &ctx.hubs).map_err(|e| {
            self.refuse(
                platform,
                "parse_error",
                None,
                "I could not use those arguments",
                &e,
            )
        })?;
        // A fleet-wide command reads only the hubs the asker's roles cover
        // (someone with no role for the command at all gets `decide`'s answer).
        let may_run = |t: &authz::Target| authz::may_run_at(&ctx.config, person, &inv.command, t);
        let left_out = if may_run(&authz::Target::default()) {
            resolved.keep_covered(may_run)
        } else {
            Ok(0)
        }
            .map_err(|total| {
                self.refuse(
                    platform,
                    "scope",
                    None,
                    &format!("none of the {total} hubs is within your roles"),
                    &format!(
                        "`{}` reads only the hubs your roles ({}) cover. Ask an opsbot admin to widen a role's scope, or ask someone whose role covers them.",
                        inv.command,
                        person.roles.join(", ")
                    ),
                )
            })?;
        let note = (left_out > 0).then(|| {
            format!(
                "{left_out} hub{} outside your roles {} left out.",
                if left_out == 1 { "" } else { "s" },
                if left_out == 1 { "was" } else { "were" }
            )
        });
        let decision = authz::decide(
            &ctx.config,
            person,
            &inv.command,
            &resolved.target,
            pb.mutates,
            pb.approval.approvers,
        );
        // Built only once the request will be recorded: a "busy" answer
        // under load must cost as little as possible.
        let requested = || NewEvent {
            run: None,
            kind: EventKind::Requested,
            actor: person.id.clone(),
            data: ctx.redact.json(json!({
                "person": person.id,
                "command": inv.command,
                "text": inv.text,
                "hub": resolved.target.hub,
                "cluster": resolved.target.cluster,
                "platform": platform,
                "where": req.place,
                "playbook": pb.name,
                "params": resolved.params,
                "mutates": pb.mutates,
            })),
        };
        match decision {
            Decision::Deny { reason, who_can } => {
                let rec = self.append(requested()).await?;
                self.append(NewEvent {
                    run: Some(rec.run),
                    kind: EventKind::Denied,
                    actor: "opsbot".into(),
                    data: json!({ "reason": reason, "who_can": who_can }),
                })
                .await?;
                ctx.metrics.run_finished(&inv.command, "denied");
                let who = if who_can.is_empty() {
                    String::new()
                } else {
                    format!("\nPeople who can: {}.", who_can.join(", "))
                };
                Err(Update::Refused {
                    run: Some(rec.run),
                    reason: format!("you may not run `{}` here", inv.command),
                    detail: format!("{reason}{who}"),
                })
            }
            Decision::NeedsApproval {
                approvers,
                approvers_who_can,
            } => {
                approval::request(
                    self,
                    requested(),
                    &inv.text,
                    person,
                    &pb,
                    &resolved.params,
                    approvers,
                    approvers_who_can,
                    replies,
                )
                .await
            }
            Decision::Allow => {
                let lock = pb.lock_key(&resolved.params);
                let claim = self.claim_lock(lock.as_deref())?;
                let Ok(permit) = self.inner.queue.try_reserve() else {
                    self.release_lock(lock.as_deref());
                    ctx.metrics.refused(platform, "busy");
                    return Err(self.busy_refusal());
                };
                // The lock travels in the record: the store refuses it while
                // another open run holds the key, in any process.
                let mut ev = requested();
                if let Some(key) = &lock {
                    ev.data["lock"] = json!(key);
                }
                let rec = match self.append(ev).await {
                    Ok(rec) => rec,
                    Err(e) => {
                        self.release_lock(lock.as_deref());
                        return Err(e);
                    }
                };
                claim.confirm(self, rec.run);
                let _ = replies.send(Update::Accepted {
                    run: rec.run,
                    command: inv.text.clone(),
                    person: person.id.clone(),
                });
                permit.send(Job {
                    run: rec.run,
                    playbook: pb,
                    params: resolved.params,
                    text: inv.text.clone(),
                    command: inv.command,
                    person: person.id.clone(),
                    impersonate: person.kube_user.clone(),
                    lock,
                    note,
                    approved: None,
                    replies: replies.clone(),
                });
                Ok(())
            }
        }
    }

    /// Append one record; a failure becomes a refusal the person can read
    /// (nothing ran, because nothing runs before its record is durable).
    async fn append(&self, e: NewEvent) -> Result<crate::audit::Record, Update> {
        self.inner.ctx.audit.append(e).await.map_err(|e| {
            if let crate::audit::AuditError::Locked { key, holder } = &e {
                return Update::Refused {
                    run: None,
                    reason: "that target is busy".into(),
                    detail: format!("`{key}` is being changed by run {holder}. Wait for it (`audit {holder}`) or cancel it (`cancel {holder}`)."),
                };
            }
            tracing::error!(error = %e, "audit append failed");
            Update::Refused {
                run: None,
                reason: "the audit log is not writable".into(),
                detail: "Nothing was run, because opsbot never acts without a durable record. An operator has the details in the log.".into(),
            }
        })
    }

    fn refuse(
        &self,
        platform: &str,
        reason: &str,
        run: Option<RunId>,
        title: &str,
        detail: &str,
    ) -> Update {
        self.inner.ctx.metrics.refused(platform, reason);
        Update::Refused {
            run,
            reason: title.to_string(),
            detail: detail.to_string(),
        }
    }

    /// The answer to a request that finds every queue place taken.
    fn busy_refusal(&self) -> Update {
        Update::Refused {
            run: None,
            reason: crate::chat::BUSY.to_string(),
            detail: format!(
                "{} runs are already waiting. Nothing was recorded or run; ask again in a minute.",
                self.inner.ctx.limits.queued_runs
            ),
        }
    }

    /// Reserve a lock key before the run is recorded, so two requests racing
    /// for the same hub cannot both be accepted.
    fn claim_lock(&self, key: Option<&str>) -> Result<LockClaim, Update> {
        let Some(key) = key else {
            return Ok(LockClaim(None));
        };
        let mut locks = self.inner.locks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(holder) = locks.get(key) {
            let detail = if let Some(holder) = holder {
                format!("`{key}` is being changed by run {holder}. Wait for it (`audit {holder}`) or cancel it (`cancel {holder}`).")
            } else {
                format!(
                    "`{key}` is being changed by another request right now. Try again in a moment."
                )
            };
            return Err(Update::Refused {
                run: None,
                reason: "that target is busy".into(),
                detail,
            });
        }
        locks.insert(key.to_string(), None);
        Ok(LockClaim(Some(key.to_string())))
    }

    fn release_lock(&self, key: Option<&str>) {
        if let Some(key) = key {
            self.inner
                .locks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
        }
    }

    /// Give runs whose process stopped their ending: in flight ones are
    /// interrupted, approval requests that lapsed meanwhile expired; runs
    /// another live process acts for (another replica, an `opsbot run`
    /// elsewhere) are left alone, as are approval requests that may still
    /// be approved. Also done every half lease while the runner lives.
    pub async fn recover(&self) -> anyhow::Result<Vec<TakenOver>> {
        let ended = takeover::take_over_stale(self).await?;
        self.tell_ended(ended.clone());
        Ok(ended)
    }

    /// The runner behind a background task's weak handle, while it lives
    /// and accepts work: the sweepers stop when this is `None`.
    fn while_accepting(inner: &std::sync::Weak<Inner>) -> Option<Runs> {
        let runs = Runs {
            inner: inner.upgrade()?,
        };
        runs.inner.accepting.load(Ordering::SeqCst).then_some(runs)
    }

    /// Whether this process is running `run` now.
    fn is_live(&self, run: RunId) -> bool {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&run)
    }

    /// Tells the threads of runs this process ended for a stopped one,
    /// through the platforms that can reopen them; those whose platform has
    /// not registered yet (start-up recovery runs before the endpoints are
    /// built) wait for it.
    fn tell_ended(&self, ended: Vec<TakenOver>) {
        for t in &ended {
            tracing::warn!(run = %t.run, ending = %t.kind, "run left open by a stopped opsbot process; recorded its ending");
        }
        let mut pending = self.inner.untold.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend(ended.into_iter().filter(|t| t.place.is_some()));
        let reopeners = self
            .inner
            .reopeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        pending.retain(|t| !tell(&reopeners, t));
        // Nobody will ever reopen places of a platform not configured.
        let excess = pending.len().saturating_sub(UNTOLD_LIMIT);
        pending.drain(..excess);
    }

    /// Stop accepting requests, give running playbooks until `deadline` to
    /// finish, then cancel the rest (recorded as interrupted).
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.accepting.store(false, Ordering::SeqCst);
        self.inner.tasks.close();
        if tokio::time::timeout(deadline, self.inner.tasks.wait())
            .await
            .is_err()
        {
            self.inner.shutting_down.store(true, Ordering::SeqCst);
            self.inner.stop.cancel();
            self.inner.tasks.wait().await;
        }
    }

    /// Runs executing now.
    pub fn in_flight(&self) -> usize {
        self.inner
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// At most this many endings wait for their platform to register.
const UNTOLD_LIMIT: usize = 1000;

/// Sends `t`'s ending to the first platform that reopens its place.
fn tell(reopeners: &[Arc<dyn crate::chat::Reopen>], t: &TakenOver) -> bool {
    let Some(place) = &t.place else { return true };
    reopeners
        .iter()
        .find_map(|r| r.reopen(place))
        .map(|replies| {
            let _ = replies.send(takeover::ending(t));
        })
        .is_some()
}

/// The runtime playbooks run on: its own threads (one per core, at a lower
/// priority), apart from the ones that answer chat. A flood of runs (or a
/// slow cluster's retries) then competes with acknowledgements only through
/// the OS scheduler, never by filling the acknowledging runtime's task
/// queues, so the answer stays prompt and a full queue answers "busy" at
/// once. One thread was not enough: a burst's runs are CPU work (templates,
/// JSON, the audit chain) that one core could not finish at 1,000 a second.
fn executor() -> tokio::runtime::Handle {
    static EXECUTOR: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    EXECUTOR
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
                .thread_name("opsbot-runs")
                .on_thread_start(|| lower_priority(10))
                .enable_all()
                .build()
                .expect("the playbook runtime starts (a thread and a timer)")
        })
        .handle()
        .clone()
}

/// Lower the calling thread's CPU priority (Linux `nice`, per thread):
/// when the machine is saturated, answering people comes before running
/// their playbooks. Best effort; a refusal just leaves the priority alone.
pub fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority on our own thread id
    // only changes this thread's scheduling priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// A lock key reserved by [`Runs::claim_lock`], confirmed with the run id.
struct LockClaim(Option<String>);

impl LockClaim {
    fn confirm(self, runs: &Runs, run: RunId) {
        if let Some(key) = self.0 {
            runs.inner
                .locks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, Some(run));
        }
    }
}

/// Hub and cluster names for the grammar's checks and "did you mean",
/// read from the context only when an argument needs them.
impl Names for Context {
    fn hubs(&self) -> Vec<String> {
        self.hubs.names()
    }
    fn resolve_hub(&self, word: &str) -> Result<String, String> {
        crate::command::hub_in(&self.hubs, word)
    }
    fn clusters(&self) -> Vec<String> {
        self.config
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}

impl crate::chat::Core for Runs {
    fn submit(&self, req: Request, replies: Replies) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(Runs::submit(self, req, replies))
    }

    fn first_delivery<'a>(
        &'a self,
        source: &'a str,
        id: &'a str,
    ) -> futures::future::BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move { Ok(self.inner.ctx.audit.mark_delivery(source, id).await?) })
    }

    fn refused(&self, platform: &str, reason: &str) {
        self.inner.ctx.metrics.refused(platform, reason);
    }

    fn busy(&self, text: &str) -> Option<Update> {
        if self.inner.queue.capacity() > 0 {
            return None;
        }
        // Only a playbook takes a queue place; `help`, `audit`, approvals
        // and the like are still answered in a burst.
        let ctx = &self.inner.ctx;
        let inv = ctx.grammar.parse(text, ctx).ok()?;
        let spec = ctx.grammar.get(&inv.command)?;
        matches!(spec.target, CommandTarget::Playbook(_)).then(|| self.busy_refusal())
    }

    fn suggest<'a>(
        &'a self,
        ask: crate::chat::Ask<'a>,
    ) -> futures::future::BoxFuture<'a, Vec<crate::chat::Choice>> {
        Box::pin(suggest::suggest(self, ask))
    }

    fn reopen_with(&self, reopen: Arc<dyn crate::chat::Reopen>) {
        self.inner
            .reopeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reopen);
        // Endings found before this platform was there.
        self.tell_ended(Vec::new());
    }

    fn shown(&self, run: RunId, place: crate::chat::Place) {
        let audit = self.inner.ctx.audit.clone();
        executor().spawn(async move {
            let shown = NewEvent {
                run: Some(run),
                kind: EventKind::Replied,
                actor: "opsbot".into(),
                data: json!({ "where": place }),
            };
            if let Err(e) = audit.append(shown).await {
                tracing::debug!(run = %run, error = %e, "cannot record where the run is shown");
            }
        });
    }

    fn completions(&self) -> crate::chat::Completions {
        let ctx = &self.inner.ctx;
        crate::chat::Completions {
            commands: ctx
                .grammar
                .commands()
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            hubs: ctx.hubs(),
            clusters: ctx.clusters(),
        }
    }
}
