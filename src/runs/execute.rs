//! Executing accepted runs: the bounded pool behind the ack path.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::guard::Journal;
use super::state::RunState;
use super::Runs;
use crate::audit::{EventKind, NewEvent, RunId};
use crate::chat::{Outcome, Replies, StepLine, Update};
use crate::playbook::{self, ExecContext, Mode, Playbook, Progress, StepOutcome};

/// An accepted run waiting for a slot.
pub struct Job {
    pub run: RunId,
    pub playbook: Arc<Playbook>,
    pub params: serde_json::Value,
    /// The command's name (`hub status`), for metrics.
    pub command: String,
    /// What was asked, in canonical form (`hub status staging`), for people.
    pub text: String,
    pub person: String,
    pub impersonate: Option<String>,
    pub lock: Option<String>,
    /// Said before the playbook's output (hubs left out by scope).
    pub note: Option<String>,
    /// The resolved changes its approvers saw; the run makes no other.
    pub approved: Option<Arc<BTreeSet<String>>>,
    pub replies: Replies,
}

/// Take jobs off the queue and run each as soon as a slot is free.
pub(super) async fn dispatch(runs: Runs, mut rx: mpsc::Receiver<Job>, slots: Arc<Semaphore>) {
    while let Some(job) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let r = runs.clone();
        runs.inner
            .tasks
            .spawn(async move { execute(r, job, permit).await });
    }
}

async fn execute(runs: Runs, job: Job, _slot: OwnedSemaphorePermit) {
    let inner = &runs.inner;
    let ctx = &inner.ctx;
    let started = Instant::now();
    let cancel = inner.stop.child_token();
    inner
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(job.run, cancel.clone());
    ctx.metrics.in_flight(1);

    let record = |kind: EventKind, data: serde_json::Value| NewEvent {
        run: Some(job.run),
        kind,
        actor: "opsbot".into(),
        data: ctx.redact.json(data),
    };
    let deciding = inner.deciding.lock(job.run).await;
    if let Err(why) = may_start(&runs, job.run).await {
        drop(deciding);
        tracing::info!(run = %job.run, reason = %why, "not starting a run the lifecycle has moved on");
        finish_bookkeeping(&runs, &job);
        let _ = job.replies.send(Update::Done {
            run: job.run,
            command: job.text.clone(),
            person: job.person.clone(),
            outcome: Outcome::Cancelled,
            output: format!("Not started: {why}. Nothing was changed."),
            steps: vec![],
            millis: 0,
            labels: vec![],
            charts: vec![],
        });
        return;
    }
    let start = ctx
        .audit
        .append(record(EventKind::Started, json!({})))
        .await;
    drop(deciding);
    if let Err(e) = start {
        tracing::error!(run = %job.run, error = %e, "cannot record run start; not running it");
        finish_bookkeeping(&runs, &job);
        let _ = job.replies.send(Update::Refused {
            run: Some(job.run),
            reason: "the audit log is not writable".into(),
            detail: "The run was not started, because opsbot never acts without a durable record."
                .into(),
        });
        return;
    }

    // What was approved is checked once more as a whole, now, before the
    // first change: a run whose changes moved since the preview changes
    // nothing at all (the guard below would stop it only at the first
    // change that differs).
    if let Some(approved) = &job.approved {
        if let Err(why) = still_as_approved(&runs, &job, approved).await {
            let output = ctx.redact.text(&format!("Not run: {why} Nothing was changed; request the command again to see and approve what it would change now."));
            let millis = started.elapsed().as_millis() as u64;
            if let Err(e) = ctx
                .audit
                .append(record(
                    EventKind::Failed,
                    json!({ "outcome": "failed", "output": output, "millis": millis, "reason": "plan_changed" }),
                ))
                .await
            {
                tracing::error!(run = %job.run, error = %e, "cannot record the end of a run");
            }
            ctx.metrics.run_finished(&job.command, "failed");
            finish_bookkeeping(&runs, &job);
            let _ = job.replies.send(Update::Done {
                run: job.run,
                command: job.text.clone(),
                person: job.person.clone(),
                outcome: Outcome::Failed,
                output,
                steps: vec![],
                millis,
                labels: vec![],
                charts: vec![],
            });
            return;
        }
    }
    let guard: Option<Arc<dyn playbook::ChangeGuard>> = job.playbook.mutates.then(|| {
        Arc::new(Journal {
            runs: runs.clone(),
            run: job.run,
            approved: job.approved.clone(),
        }) as Arc<dyn playbook::ChangeGuard>
    });
    let (ptx, mut prx) = mpsc::unbounded_channel();
    let exec = playbook::execute(
        &job.playbook,
        job.params.clone(),
        ExecContext {
            clusters: ctx.clusters.clone(),
            mode: Mode::Real,
            cancel: cancel.clone(),
            progress: ptx,
            impersonate: job.impersonate.clone(),
            guard,
        },
    );
    tokio::pin!(exec);
    let mut steps = Vec::new();
    // A run that changes things stops as soon as a step cannot be recorded:
    // opsbot never goes on changing a cluster without a durable record.
    let mut unrecorded = false;
    let mut on_step = |recorded: bool| {
        if !recorded && job.playbook.mutates && !unrecorded {
            unrecorded = true;
            cancel.cancel();
        }
    };
    // A read-only run's step records go in with its ending (or with the
    // next batch of steps), one durable write instead of one per step: it
    // changes nothing, so no step waits for its record. A run that changes
    // things still records each step before going on.
    let mut pending: Option<Vec<NewEvent>> = (!job.playbook.mutates).then(Vec::new);
    let result = loop {
        tokio::select! {
            result = &mut exec => break result,
            Some(p) = prx.recv() => on_step(on_progress(&runs, &job, p, &mut steps, pending.as_mut()).await),
        }
    };
    while let Ok(p) = prx.try_recv() {
        on_step(on_progress(&runs, &job, p, &mut steps, pending.as_mut()).await);
    }

    let interrupted = inner.shutting_down.load(Ordering::SeqCst);
    let (outcome, kind) = match &result.outcome {
        _ if unrecorded => (Outcome::Failed, EventKind::Failed),
        playbook::Outcome::Succeeded => (Outcome::Succeeded, EventKind::Finished),
        playbook::Outcome::Partial(_) => (Outcome::Partial, EventKind::Failed),
        playbook::Outcome::Failed(_) | playbook::Outcome::TimedOut => {
            (Outcome::Failed, EventKind::Failed)
        }
        playbook::Outcome::Cancelled if interrupted => {
            (Outcome::Interrupted, EventKind::Interrupted)
        }
        playbook::Outcome::Cancelled => (Outcome::Cancelled, EventKind::Cancelled),
    };
    let output = if unrecorded {
        "Stopped: the audit log stopped accepting records, and opsbot never changes things without one. The steps above are all that ran; an operator has the details in the log.".to_string()
    } else {
        match &job.note {
            Some(note) => format!("{note}\n{}", ctx.redact.text(&result.output)),
            None => ctx.redact.text(&result.output),
        }
    };
    let labels: Vec<String> = result.labels.iter().map(|l| ctx.redact.text(l)).collect();
    let millis = started.elapsed().as_millis() as u64;
    let mut end = json!({ "outcome": outcome.word(), "output": output, "millis": millis });
    if !labels.is_empty() {
        end["labels"] = json!(labels);
    }
    if let Err(e) = record_end(&runs, &job, pending.unwrap_or_default(), record(kind, end)).await {
        tracing::error!(run = %job.run, error = %e, "cannot record the end of a run");
    }
    ctx.metrics.run_finished(&job.command, outcome.word());
    finish_bookkeeping(&runs, &job);
    let _ = job.replies.send(Update::Done {
        run: job.run,
        command: job.text.clone(),
        person: job.person.clone(),
        outcome,
        output,
        steps,
        millis,
        labels,
        charts: result.charts,
    });
}

/// How long the check of an approved plan may take before the run starts
/// anyway, held to the approved changes by the guard step by step.
const RECHECK_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// Re-resolve an approved run's changes with a dry run: every change it
/// would make now must be one the approvers saw. Fewer is fine (something
/// is already as wanted); a dry run that cannot finish leaves the per-step
/// guard as the check.
async fn still_as_approved(
    runs: &Runs,
    job: &Job,
    approved: &BTreeSet<String>,
) -> Result<(), String> {
    let now = match super::approval::dry_run(
        runs,
        &job.playbook,
        &job.params,
        job.impersonate.clone(),
        RECHECK_BUDGET,
    )
    .await
    {
        Ok(p) => p.changes,
        Err(why) => {
            tracing::info!(run = %job.run, reason = %why, "could not re-check an approved plan; each change is checked as it is made");
            return Ok(());
        }
    };
    let new: Vec<&String> = now.difference(approved).collect();
    if new.is_empty() {
        return Ok(());
    }
    Err(format!(
        "what it would change is no longer what was approved: now {}, approved {}.",
        new.iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if approved.is_empty() {
            "nothing".to_string()
        } else {
            approved
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ))
}

/// Whether the lifecycle lets `run` start now: a run cancelled while it
/// was queued has moved on, and must not run.
async fn may_start(runs: &Runs, run: RunId) -> Result<(), String> {
    let records = runs
        .inner
        .ctx
        .audit
        .run(run)
        .await
        .map_err(|_| "the audit log cannot be read".to_string())?;
    match RunState::of(&records) {
        Some(state) => state.allows(run, &EventKind::Started).map_err(|e| e.reason),
        None => Err(format!("run {run} has no record")),
    }
}

fn finish_bookkeeping(runs: &Runs, job: &Job) {
    runs.inner.ctx.metrics.in_flight(-1);
    runs.inner
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&job.run);
    runs.release_lock(job.lock.as_deref());
}

/// At most this many step records of a read-only run wait to be written
/// with a later one.
const PENDING_STEPS: usize = 64;

/// Write a run's ending after its step records still waiting, in one
/// transaction. Should that be refused (the run was given another ending
/// meanwhile), the steps are still recorded on their own.
async fn record_end(
    runs: &Runs,
    job: &Job,
    mut pending: Vec<NewEvent>,
    end: NewEvent,
) -> Result<(), crate::audit::AuditError> {
    let audit = &runs.inner.ctx.audit;
    if pending.is_empty() {
        return audit.append(end).await.map(drop);
    }
    let steps = pending.len();
    pending.push(end);
    let Err(e) = audit.append_many(pending.clone()).await else {
        return Ok(());
    };
    let end = pending.pop().expect("the ending was pushed last");
    tracing::debug!(run = %job.run, error = %e, steps, "cannot record a run's steps with its ending; recording them apart");
    if let Err(e) = audit.append_many(pending).await {
        tracing::error!(run = %job.run, error = %e, "cannot record a run's steps");
    }
    audit.append(end).await.map(drop)
}

/// Record and relay one step; false when its record could not be written.
/// With `pending` (a read-only run), the record joins the ones written with
/// a later record instead of being written now.
async fn on_progress(
    runs: &Runs,
    job: &Job,
    p: Progress,
    steps: &mut Vec<StepLine>,
    pending: Option<&mut Vec<NewEvent>>,
) -> bool {
    let Progress::StepFinished {
        id,
        action,
        verb,
        target,
        outcome,
        duration,
        attempts,
        dry_run,
    } = p
    else {
        return true;
    };
    let ctx = &runs.inner.ctx;
    let outcome_text = match &outcome {
        StepOutcome::Ok => "ok".to_string(),
        StepOutcome::Skipped => "skipped".to_string(),
        StepOutcome::Failed(e) => format!("failed: {}", ctx.redact.text(e)),
        StepOutcome::Partial { ok, failed } => format!("partial: {ok} ok, {failed} failed"),
    };
    let millis = duration.as_millis() as u64;
    ctx.metrics.step(&action, duration);
    let line = StepLine {
        id: id.clone(),
        action: action.clone(),
        target: target.clone(),
        outcome: outcome_text.clone(),
        millis,
        dry_run,
    };
    let data = json!({
        "step": id, "action": action, "verb": verb, "target": target,
        "outcome": outcome_text, "millis": millis, "attempts": attempts, "dry_run": dry_run,
    });
    let event = NewEvent {
        run: Some(job.run),
        kind: EventKind::Step,
        actor: "opsbot".into(),
        data: ctx.redact.json(data),
    };
    let written = match pending {
        Some(pending) => {
            pending.push(event);
            if pending.len() < PENDING_STEPS {
                Ok(())
            } else {
                ctx.audit
                    .append_many(std::mem::take(pending))
                    .await
                    .map(drop)
            }
        }
        None => ctx.audit.append(event).await.map(drop),
    };
    let recorded = match written {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(run = %job.run, error = %e, "cannot record a step");
            false
        }
    };
    steps.push(line.clone());
    let _ = job.replies.send(Update::Step {
        run: job.run,
        step: line,
    });
    recorded
}

/// Cancel a running run; false when it is not running here.
pub(super) fn cancel_live(runs: &Runs, run: RunId) -> bool {
    match runs
        .inner
        .live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&run)
    {
        Some(token) => {
            token.cancel();
            true
        }
        None => false,
    }
}
