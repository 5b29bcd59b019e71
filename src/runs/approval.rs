//! Approvals: a mutating run waits until someone else with the right says yes.
//!
//! Approval state lives only in the audit log (so it survives restarts): an
//! `awaiting_approval` record carries the plan that was shown, its hash and
//! an expiry; each `approved` record names who approved which plan hash.
//! Approving re-computes the plan from the recorded parameters and refuses
//! when it no longer matches: approving one plan never runs another.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::state::RunState;
use super::{guard, Job, Runs};
use crate::audit::{EventKind, NewEvent, Record, RunId};
use crate::authz::{self, Target};
use crate::chat::{Replies, Update};
use crate::config::Person;
use crate::playbook::Playbook;

/// Record the request and the plan, and tell the person who can approve.
///
/// This is on the ack path, so it records and answers with the plan as the
/// playbook states it; what it would really touch (targets that come from
/// read steps, resolved by a server-side dry run) is worked out afterwards
/// by [`preview`], which records it and updates the approval message.
#[allow(clippy::too_many_arguments)]
pub(super) async fn request(
    runs: &Runs,
    requested: NewEvent,
    command: &str,
    person: &Person,
    pb: &Arc<Playbook>,
    params: &serde_json::Value,
    approvers: u32,
    who_can: Vec<String>,
    replies: &Replies,
) -> Result<(), Update> {
    let ctx = &runs.inner.ctx;
    let plan = pb.plan(params).map_err(|e| Update::Refused {
        run: None,
        reason: "I could not work out what this would change".into(),
        detail: ctx.redact.text(&e.to_string()),
    })?;
    let lines: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.mutates)
        .map(|s| format!("{}: {} {}", s.id, s.action, s.target))
        .collect();
    let ttl = ctx.config.policy.approval_ttl;
    let expires_at =
        Utc::now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    let rec = runs.append(requested).await?;
    runs.append(NewEvent {
        run: Some(rec.run),
        kind: EventKind::AwaitingApproval,
        actor: "opsbot".into(),
        data: json!({
            "plan": lines,
            "plan_hash": plan.hash,
            "approvers_required": approvers,
            "approvers_who_can": who_can,
            "expires_at": expires_at.to_rfc3339(),
        }),
    })
    .await?;
    runs.inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(rec.run, replies.clone());
    let asking = Update::AwaitingApproval {
        run: rec.run,
        command: command.to_string(),
        person: person.id.clone(),
        plan: lines,
        approvers: who_can,
        expires_in: humantime::format_duration(ttl).to_string(),
    };
    let _ = replies.send(asking.clone());
    let (r, pb, params, who) = (
        runs.clone(),
        pb.clone(),
        params.clone(),
        person.kube_user.clone(),
    );
    runs.inner.tasks.spawn_on(
        async move { preview(&r, rec.run, &pb, &params, who, asking).await },
        &super::executor(),
    );
    Ok(())
}

/// How long the preview's dry run may take before the approval request
/// says it could not be made (off the ack path, so it can be generous).
const PREVIEW_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// Resolve what `run` would change with a server-side dry run, record it
/// (a `note` with `changes` and their `preview_hash`: what approvers approve)
/// and show it in the approval message. When the dry run fails or takes too
/// long, record that instead: approving then runs the plan as stated, and
/// the message says the targets could not be checked beforehand.
async fn preview(
    runs: &Runs,
    run: RunId,
    pb: &Playbook,
    params: &serde_json::Value,
    impersonate: Option<String>,
    asking: Update,
) {
    let ctx = &runs.inner.ctx;
    let (data, shown) = match dry_run(runs, pb, params, impersonate, PREVIEW_BUDGET).await {
        Ok(p) => (
            json!({
                "preview": p.shown,
                "changes": p.changes,
                "preview_hash": guard::hash(&p.changes),
            }),
            p.shown,
        ),
        Err(why) => {
            let why = ctx.redact.text(&why);
            (
                json!({ "preview_failed": why }),
                vec![format!("(the dry run could not resolve the targets: {why}; approving runs the plan as stated above)")],
            )
        }
    };
    let _deciding = runs.inner.deciding.lock(run).await;
    let Ok(records) = ctx.audit.run(run).await else {
        return;
    };
    if !matches!(
        RunState::of(&records),
        Some(RunState::AwaitingApproval { .. })
    ) {
        return;
    }
    if let Err(e) = ctx
        .audit
        .append(NewEvent {
            run: Some(run),
            kind: EventKind::Note,
            actor: "opsbot".into(),
            data,
        })
        .await
    {
        tracing::warn!(run = %run, error = %e, "cannot record an approval preview");
        return;
    }
    let origin = runs
        .inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&run)
        .cloned();
    if let (
        Some(o),
        Update::AwaitingApproval {
            run,
            command,
            person,
            approvers,
            expires_in,
            ..
        },
    ) = (origin, asking)
    {
        let plan = if shown.is_empty() {
            vec!["nothing: as things stand, no step would change anything".to_string()]
        } else {
            shown
        };
        let _ = o.send(Update::AwaitingApproval {
            run,
            command,
            person,
            plan,
            approvers,
            expires_in,
        });
    }
}

/// What a dry run found: the changes (what is approved) and the lines
/// people are shown (each change with its dry-run verdict, and the
/// playbook's own first line of output).
pub(super) struct Previewed {
    pub changes: std::collections::BTreeSet<String>,
    pub shown: Vec<String>,
}

/// Run `pb` as a server-side dry run (reads for real, changes with
/// `dryRun=All`) within `budget`.
pub(super) async fn dry_run(
    runs: &Runs,
    pb: &Playbook,
    params: &serde_json::Value,
    impersonate: Option<String>,
    budget: std::time::Duration,
) -> Result<Previewed, String> {
    use crate::playbook::{execute, ExecContext, Mode, Outcome, Progress, StepOutcome};
    let ctx = &runs.inner.ctx;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel = runs.inner.stop.child_token();
    let found = Arc::new(guard::Preview::default());
    let exec = execute(
        pb,
        params.clone(),
        ExecContext {
            clusters: ctx.clusters.clone(),
            mode: Mode::DryRun,
            cancel: cancel.clone(),
            progress: tx,
            impersonate,
            guard: Some(found.clone()),
        },
    );
    let Ok(result) = tokio::time::timeout(budget, exec).await else {
        cancel.cancel();
        return Err(format!(
            "it took longer than {}",
            humantime::format_duration(budget)
        ));
    };
    match &result.outcome {
        Outcome::Succeeded | Outcome::Partial(_) => {}
        Outcome::Failed(e) => return Err(e.clone()),
        Outcome::TimedOut => return Err(result.output.clone()),
        Outcome::Cancelled => return Err("opsbot is shutting down".into()),
    }
    let mut shown = Vec::new();
    while let Ok(p) = rx.try_recv() {
        if let Progress::StepFinished {
            id,
            verb,
            target,
            outcome,
            dry_run: true,
            ..
        } = p
        {
            let verdict = match outcome {
                StepOutcome::Ok => "dry run ok".to_string(),
                // Its condition is false as things stand: it would not run.
                StepOutcome::Skipped => continue,
                StepOutcome::Failed(e) => format!("dry run failed: {}", ctx.redact.text(&e)),
                StepOutcome::Partial { ok, failed } => format!("dry run: {ok} ok, {failed} failed"),
            };
            shown.push(format!("{id}: {verb} {target} ({verdict})"));
        }
    }
    // The playbook's own words for what the dry run found (which way a
    // fallback would go, what is already stopped).
    if let Some(first) = result.output.lines().find(|l| !l.trim().is_empty()) {
        let first = first.trim();
        let first = first.strip_prefix("Dry run: ").unwrap_or(first);
        shown.push(format!("dry run: {}", ctx.redact.text(first)));
    }
    Ok(Previewed {
        changes: found.lines(),
        shown,
    })
}

/// The singleton duty of expiring approval requests (see [`super::leader`]).
pub(super) const EXPIRY_DUTY: &str = "approval-expiry";

/// How often the sweeper looks for expired approval requests: a quarter of
/// the TTL, so a request outlives its expiry by at most that, within bounds.
fn sweep_interval(ttl: std::time::Duration) -> std::time::Duration {
    (ttl / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    )
}

/// Expire, on a schedule, approval requests nobody decided within
/// `policy.approval_ttl`: each gets an `expired` record, its thread is told,
/// and its reply channel is let go (so the platform's renderer for that
/// thread finishes). Ends when the runner is gone or stops accepting work.
pub(super) async fn sweep_expired(inner: std::sync::Weak<super::Inner>) {
    loop {
        let Some(runs) = Runs::while_accepting(&inner) else {
            return;
        };
        let interval = sweep_interval(runs.inner.ctx.config.policy.approval_ttl);
        // One process expires requests (the others would find them ended).
        let swept = match (runs.inner.expiry)() {
            true => sweep_once(&runs).await,
            false => Ok(()),
        };
        if let Err(e) = swept {
            tracing::warn!(error = %e, "cannot sweep expired approval requests; trying again later");
        }
        drop(runs);
        tokio::time::sleep(interval).await;
    }
}

async fn sweep_once(runs: &Runs) -> Result<(), crate::audit::AuditError> {
    let audit = &runs.inner.ctx.audit;
    for run in audit.open_runs().await? {
        let _deciding = runs.inner.deciding.lock(run).await;
        let records = audit.run(run).await?;
        let waiting = matches!(
            RunState::of(&records),
            Some(RunState::AwaitingApproval { .. })
        );
        let expired = waiting_record(&records)
            .and_then(expiry)
            .is_some_and(|at| at <= Utc::now());
        if !waiting || !expired {
            continue;
        }
        let expired = audit
            .append(NewEvent {
                run: Some(run),
                kind: EventKind::Expired,
                actor: "opsbot".into(),
                data: json!({ "reason": "nobody decided before the approval request expired" }),
            })
            .await;
        let origin = runs
            .inner
            .origins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&run);
        match expired {
            Ok(_) => {}
            // Another process sharing the store ended it first (and told).
            Err(crate::audit::AuditError::Ended { .. }) => continue,
            Err(e) => return Err(e),
        }
        let Some(thread) = origin else {
            // Asked through another process: its thread is reopened from
            // the place the request recorded.
            let ended = super::takeover::ended(run, EventKind::Expired, &records);
            runs.tell_ended(vec![ended]);
            tracing::info!(run = %run, "approval request expired");
            continue;
        };
        {
            let a = asked(&records);
            let _ = thread.send(Update::Done {
                run,
                command: a.as_ref().map(|a| a.text.clone()).unwrap_or_default(),
                person: a.as_ref().map(|a| a.person.clone()).unwrap_or_default(),
                outcome: crate::chat::Outcome::Cancelled,
                output: format!(
                    "The approval request expired: nobody approved or denied it within {}. Nothing was changed; ask again to run it.",
                    humantime::format_duration(runs.inner.ctx.config.policy.approval_ttl)
                ),
                steps: vec![],
                millis: 0,
                labels: vec![],
            charts: vec![],
            });
        }
        tracing::info!(run = %run, "approval request expired");
    }
    Ok(())
}

/// Whether a run left open by a previous process is an approval request
/// that may still be approved.
pub(super) fn still_waiting(records: &[Record]) -> bool {
    let Some(last) = records.iter().rev().find(|r| r.kind.is_lifecycle()) else {
        return false;
    };
    if !matches!(last.kind, EventKind::AwaitingApproval | EventKind::Approved) {
        return false;
    }
    waiting_record(records)
        .and_then(expiry)
        .is_some_and(|at| at > Utc::now())
}

/// Whether a run's last state is "waiting for approval" (expired or not):
/// nothing of it ever ran.
pub(super) fn was_waiting(records: &[Record]) -> bool {
    records
        .iter()
        .rev()
        .find(|r| r.kind.is_lifecycle())
        .is_some_and(|last| matches!(last.kind, EventKind::AwaitingApproval | EventKind::Approved))
}

fn waiting_record(records: &[Record]) -> Option<&Record> {
    records
        .iter()
        .rev()
        .find(|r| r.kind == EventKind::AwaitingApproval)
}

fn expiry(rec: &Record) -> Option<DateTime<Utc>> {
    rec.data
        .get("expires_at")
        .and_then(|v| v.as_str())
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// What the `requested` record says about a run.
struct Asked {
    person: String,
    command: String,
    /// What was asked (`hub restart staging --reason ...`), for people.
    text: String,
    target: Target,
    playbook: String,
    params: serde_json::Value,
}

fn asked(records: &[Record]) -> Option<Asked> {
    let r = records.iter().find(|r| r.kind == EventKind::Requested)?;
    let s = |k: &str| r.data.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(Asked {
        person: s("person")?,
        text: s("text").or_else(|| s("command"))?,
        command: s("command")?,
        target: Target {
            hub: s("hub"),
            cluster: s("cluster"),
        },
        playbook: s("playbook")?,
        params: r.data.get("params").cloned().unwrap_or_default(),
    })
}

fn info(title: String, body: String) -> Update {
    Update::Info { title, body }
}

fn refused(run: RunId, reason: impl Into<String>, detail: impl Into<String>) -> Update {
    Update::Refused {
        run: Some(run),
        reason: reason.into(),
        detail: detail.into(),
    }
}

/// Load a run that should be waiting for a decision, or explain why not:
/// the lifecycle ([`RunState::allows`]) decides whether `to` (approved or
/// rejected) may follow, so an approved, queued or running run is never
/// decided again.
async fn waiting_run(
    runs: &Runs,
    run: RunId,
    to: EventKind,
) -> Result<(Vec<Record>, Asked), Update> {
    let records = runs.inner.ctx.audit.run(run).await.map_err(|_| {
        refused(
            run,
            "the audit log cannot be read",
            "Try again; an operator has the details.",
        )
    })?;
    let (Some(a), Some(state)) = (asked(&records), RunState::of(&records)) else {
        return Err(refused(
            run,
            format!("there is no run {run}"),
            "`runs` lists recent runs.",
        ));
    };
    state
        .allows(run, &to)
        .map_err(|e| refused(run, e.reason, e.next))?;
    let Some(w) = waiting_record(&records) else {
        return Err(refused(
            run,
            format!("run {run} is not waiting for approval"),
            format!("`audit {run}` shows its story."),
        ));
    };
    if expiry(w).is_none_or(|at| at <= Utc::now()) {
        let _ = runs
            .append(NewEvent {
                run: Some(run),
                kind: EventKind::Expired,
                actor: "opsbot".into(),
                data: json!({}),
            })
            .await;
        runs.inner
            .origins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&run);
        return Err(refused(
            run,
            format!("the approval request for run {run} has expired"),
            format!("Ask {} to request `{}` again.", a.person, a.command),
        ));
    }
    Ok((records, a))
}

/// `approve RUN`: check the right and the plan, record, start when enough.
pub(super) async fn approve(
    runs: &Runs,
    approver: &Person,
    run: RunId,
    replies: &Replies,
) -> Result<(), Update> {
    let ctx = &runs.inner.ctx;
    // One decision at a time: two approvers racing must not both see the
    // run waiting and both start it (compare-and-set on the run's state).
    let _deciding = runs.inner.deciding.lock(run).await;
    let (records, a) = waiting_run(runs, run, EventKind::Approved).await?;
    authz::can_approve(&ctx.config, approver, &a.person, &a.command, &a.target)
        .map_err(|why| refused(run, format!("you cannot approve run {run}"), why))?;
    let approved_by: Vec<&str> = records
        .iter()
        .filter(|r| r.kind == EventKind::Approved)
        .map(|r| r.actor.as_str())
        .collect();
    if approved_by.contains(&approver.id.as_str()) {
        return Err(refused(
            run,
            format!("you have already approved run {run}"),
            "Another approver is needed.",
        ));
    }
    let waiting = waiting_record(&records).expect("checked by waiting_run");
    let shown_hash = waiting
        .data
        .get("plan_hash")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let required = waiting
        .data
        .get("approvers_required")
        .and_then(|v| v.as_u64())
        .unwrap_or(1) as usize;
    let Some(pb) = ctx.playbooks.get(&a.playbook).cloned() else {
        return Err(refused(
            run,
            "this run's playbook is no longer loaded",
            format!("Ask {} to request it again.", a.person),
        ));
    };
    let plan = pb
        .plan(&a.params)
        .map_err(|e| refused(run, "the plan cannot be rebuilt", e.to_string()))?;
    if plan.hash != shown_hash {
        return Err(refused(
            run,
            "the plan changed since it was shown",
            format!("The playbook or the fleet changed after run {run} was requested, so approving it would run something nobody saw. Ask {} to request `{}` again.", a.person, a.command),
        ));
    }
    let (approved_changes, preview_hash) = approved_changes(&records, run, waiting)?;
    let have = approved_by.len() + 1;
    // The approval that completes the set reserves the lock and a queue slot
    // before it is recorded: when opsbot is busy nothing is recorded, so the
    // same approver can simply approve again and the run starts exactly once.
    let start = if have >= required {
        Some(reserve(runs, run, &a, &pb)?)
    } else {
        None
    };
    if let Err(e) = runs
        .append(NewEvent {
            run: Some(run),
            kind: EventKind::Approved,
            actor: approver.id.clone(),
            data: json!({
                "plan_hash": shown_hash,
                "preview_hash": preview_hash,
                "lock": start.as_ref().and_then(|s| s.lock.clone()),
            }),
        })
        .await
    {
        if let Some(slot) = start {
            runs.release_lock(slot.lock.as_deref());
        }
        return Err(e);
    }
    let origin = runs
        .inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&run)
        .cloned();
    let decided = Update::Decided {
        run,
        by: approver.id.clone(),
        approved: true,
    };
    if let Some(o) = &origin {
        let _ = o.send(decided.clone());
    }
    let Some(slot) = start else {
        let _ = replies.send(info(
            format!("run {run}: approval recorded"),
            format!("{have} of {required} approvals; one more person must approve."),
        ));
        return Ok(());
    };
    let story = origin.clone().unwrap_or_else(|| replies.clone());
    slot.start(runs, run, &a, pb, story, approved_changes);
    runs.inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&run);
    if origin.is_none_or(|o| !o.same_channel(replies)) {
        let _ = replies.send(decided);
    }
    Ok(())
}

/// What the approvers were shown as the run's resolved changes, and its
/// hash: the set the executor holds the run to. `None` when the preview
/// could not be made (the approval message said the plan runs as stated).
/// While the preview is still being made, approving is refused (nothing is
/// recorded), since nobody has seen what would change yet.
#[allow(clippy::type_complexity)]
fn approved_changes(
    records: &[Record],
    run: RunId,
    waiting: &Record,
) -> Result<(Option<Arc<BTreeSet<String>>>, Option<String>), Update> {
    let preview = records.iter().rev().find(|r| {
        r.kind == EventKind::Note
            && (r.data.get("preview_hash").is_some() || r.data.get("preview_failed").is_some())
    });
    match preview {
        Some(p) => match p.data.get("preview_hash").and_then(|h| h.as_str()) {
            Some(hash) => {
                let changes: BTreeSet<String> = p
                    .data
                    .get("changes")
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect();
                Ok((Some(Arc::new(changes)), Some(hash.to_string())))
            }
            None => Ok((None, None)),
        },
        // A preview that never arrived (its process stopped) is as good as
        // one that failed once its budget is long past.
        None if Utc::now() - waiting.at
            > chrono::Duration::from_std(PREVIEW_BUDGET * 2).unwrap_or(chrono::Duration::MAX) =>
        {
            Ok((None, None))
        }
        None => Err(refused(
            run,
            format!("what run {run} would change is still being worked out"),
            "A dry run is resolving the plan's targets. Your approval was not recorded; approve again once the approval message lists them.",
        )),
    }
}

/// The lock and the queue slot an approved run will start with.
struct Slot<'a> {
    claim: super::LockClaim,
    lock: Option<String>,
    permit: tokio::sync::mpsc::Permit<'a, Job>,
}

/// Claim the run's lock and a queue slot, or say opsbot is busy (nothing
/// recorded: approving again later works).
fn reserve<'a>(runs: &'a Runs, run: RunId, a: &Asked, pb: &Playbook) -> Result<Slot<'a>, Update> {
    let lock = pb.lock_key(&a.params);
    let claim = runs.claim_lock(lock.as_deref()).map_err(|u| match u {
        Update::Refused { reason, detail, .. } => refused(
            run,
            reason,
            format!("{detail} Your approval was not recorded; approve again once it is free."),
        ),
        other => other,
    })?;
    let Ok(permit) = runs.inner.queue.try_reserve() else {
        runs.release_lock(lock.as_deref());
        return Err(refused(
            run,
            crate::chat::BUSY,
            "Your approval was not recorded; approve again in a minute to start it.",
        ));
    };
    Ok(Slot {
        claim,
        lock,
        permit,
    })
}

impl Slot<'_> {
    /// Hand the approved run to the executor.
    fn start(
        self,
        runs: &Runs,
        run: RunId,
        a: &Asked,
        pb: Arc<Playbook>,
        replies: Replies,
        approved: Option<Arc<BTreeSet<String>>>,
    ) {
        let ctx = &runs.inner.ctx;
        self.claim.confirm(runs, run);
        let _ = replies.send(Update::Accepted {
            run,
            command: a.text.clone(),
            person: a.person.clone(),
        });
        self.permit.send(Job {
            run,
            playbook: pb,
            params: a.params.clone(),
            text: a.text.clone(),
            command: a.command.clone(),
            person: a.person.clone(),
            impersonate: ctx
                .config
                .person(&a.person)
                .and_then(|p| p.kube_user.clone()),
            lock: self.lock,
            note: None,
            approved,
            replies,
        });
    }
}

/// `deny RUN`: an approver (or the requester, withdrawing) refuses the plan.
pub(super) async fn deny(
    runs: &Runs,
    who: &Person,
    run: RunId,
    reason: Option<String>,
    replies: &Replies,
) -> Result<(), Update> {
    let ctx = &runs.inner.ctx;
    let _deciding = runs.inner.deciding.lock(run).await;
    let (_, a) = waiting_run(runs, run, EventKind::Rejected).await?;
    if who.id != a.person {
        authz::can_approve(&ctx.config, who, &a.person, &a.command, &a.target)
            .map_err(|why| refused(run, format!("you cannot deny run {run}"), why))?;
    }
    runs.append(NewEvent {
        run: Some(run),
        kind: EventKind::Rejected,
        actor: who.id.clone(),
        data: json!({ "reason": reason }),
    })
    .await?;
    ctx.metrics.run_finished(&a.command, "rejected");
    let decided = Update::Decided {
        run,
        by: who.id.clone(),
        approved: false,
    };
    let output = match &reason {
        Some(r) => format!("Denied by {}: {}", who.id, ctx.redact.text(r)),
        None => format!("Denied by {}. Nothing was changed.", who.id),
    };
    // The run has ended: both conversations get its (short) end.
    let done = Update::Done {
        run,
        command: a.text.clone(),
        person: a.person.clone(),
        outcome: crate::chat::Outcome::Denied,
        output,
        steps: vec![],
        millis: 0,
        labels: vec![],
        charts: vec![],
    };
    if let Some(o) = runs
        .inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&run)
    {
        if !o.same_channel(replies) {
            let _ = o.send(decided.clone());
            let _ = o.send(done.clone());
        }
    }
    let _ = replies.send(decided);
    let _ = replies.send(done);
    Ok(())
}

/// `cancel RUN`: stop a running run, or withdraw one that waits for approval.
pub(super) async fn cancel(
    runs: &Runs,
    who: &Person,
    run: RunId,
    replies: &Replies,
) -> Result<(), Update> {
    let ctx = &runs.inner.ctx;
    let _deciding = runs.inner.deciding.lock(run).await;
    let records = ctx
        .audit
        .run(run)
        .await
        .map_err(|_| refused(run, "the audit log cannot be read", "Try again."))?;
    let (Some(a), Some(state)) = (asked(&records), RunState::of(&records)) else {
        return Err(refused(
            run,
            format!("there is no run {run}"),
            "`runs` lists recent runs.",
        ));
    };
    state
        .allows(run, &EventKind::Cancelled)
        .map_err(|e| refused(run, e.reason, e.next))?;
    if who.id != a.person {
        authz::can_approve(&ctx.config, who, &a.person, &a.command, &a.target).map_err(|why| {
            refused(
                run,
                format!("you cannot cancel run {run}"),
                format!(
                    "Only {} or someone who may approve `{}` can. {why}",
                    a.person, a.command
                ),
            )
        })?;
    }
    if super::execute::cancel_live(runs, run) {
        let _ = replies.send(info(
            format!("cancelling run {run}"),
            "The run stops after its current step; its thread shows the end.".into(),
        ));
        return Ok(());
    }
    // Running or queued in another process sharing the store (a replica):
    // it learns with its next heartbeat and stops the run itself.
    if matches!(
        state,
        RunState::Running | RunState::Queued | RunState::Requested
    ) {
        match ctx.audit.request_cancel(run, &who.id).await {
            Ok(true) => {
                let _ = replies.send(info(
                    format!("cancelling run {run}"),
                    "It runs in another opsbot process, which stops it after its current step (within seconds); its thread shows the end.".into(),
                ));
                return Ok(());
            }
            Ok(false) => {}
            Err(_) => {
                return Err(refused(
                    run,
                    "the audit log is not writable",
                    "Nothing was cancelled. Try again.",
                ));
            }
        }
    }
    runs.append(NewEvent {
        run: Some(run),
        kind: EventKind::Cancelled,
        actor: who.id.clone(),
        data: json!({}),
    })
    .await?;
    runs.inner
        .origins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&run);
    let body = if state == RunState::Queued {
        "It was approved and queued; it will not start, and nothing was changed."
    } else {
        "It was not running; nothing was changed."
    };
    let _ = replies.send(info(format!("run {run} cancelled"), body.into()));
    Ok(())
}
