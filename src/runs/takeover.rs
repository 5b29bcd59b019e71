//! Runs whose process stopped: found by their lapsed heartbeat and given
//! their ending by whichever process sharing the audit store sees them
//! first ([`crate::audit::AuditLog::take_over`]).
//!
//! Every process checks at start and then every half lease, so with two
//! replicas a `kill -9` of one is noticed by the other within about one and
//! a half leases, and a restarted single server catches its own leftovers.
//! A run whose owner is alive (another replica, an `opsbot run` in another
//! terminal) is never touched, and of several processes noticing the same
//! run one writes its ending: the store checks in the write transaction.

use serde_json::json;

use super::{approval, Runs};
use crate::audit::{EventKind, NewEvent, Record, RunId};

/// One run given its ending here.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub run: RunId,
    /// `interrupted`, or `expired` for an approval request that lapsed
    /// while nobody was running.
    pub kind: EventKind,
    /// Where its story is shown: the last conversation a platform said it
    /// shows the run in, else where it was requested.
    pub place: Option<crate::chat::Place>,
    /// What was asked, and by whom (for the thread).
    pub text: String,
    pub person: String,
}

/// Gives every run nobody acts for its ending; returns the ones this
/// process ended. Approval requests that may still be approved keep
/// waiting (approvals outlive processes).
pub(super) async fn take_over_stale(runs: &Runs) -> anyhow::Result<Vec<TakenOver>> {
    let audit = &runs.inner.ctx.audit;
    let mut ended = Vec::new();
    for run in audit.stale_runs().await? {
        if runs.is_live(run) {
            continue;
        }
        let records = audit.run(run).await?;
        if approval::still_waiting(&records) {
            continue;
        }
        let (kind, reason) = if approval::was_waiting(&records) {
            // Ended by expiry while nobody was running, not by a crash.
            (EventKind::Expired, "the approval request expired")
        } else {
            (
                EventKind::Interrupted,
                "the opsbot process running this stopped (its heartbeat lapsed); nothing after the last step record is known to have happened",
            )
        };
        let event = NewEvent {
            run: Some(run),
            kind: kind.clone(),
            actor: "opsbot".into(),
            data: json!({ "reason": reason, "by": audit.owner() }),
        };
        if audit.take_over(run, event).await?.is_none() {
            continue;
        }
        ended.push(self::ended(run, kind, &records));
    }
    Ok(ended)
}

/// What a run's thread must be told of the ending this process recorded
/// for it: where the run was shown (its last `replied` or its `requested`
/// place), what was asked and by whom.
pub(super) fn ended(run: RunId, kind: EventKind, records: &[Record]) -> TakenOver {
    let place = records
        .iter()
        .rev()
        .filter(|r| matches!(r.kind, EventKind::Replied | EventKind::Requested))
        .find_map(|r| serde_json::from_value(r.data.get("where")?.clone()).ok());
    let first = records.first().map(|r| &r.data);
    let word = |k: &str| {
        first
            .and_then(|d| d.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    TakenOver {
        run,
        kind,
        place,
        text: word("text"),
        person: word("person"),
    }
}

/// What the run's thread is told about its ending.
pub(super) fn ending(t: &TakenOver) -> crate::chat::Update {
    let (outcome, output) = if t.kind == EventKind::Expired {
        (
            crate::chat::Outcome::Cancelled,
            "The approval request expired: nobody approved or denied it in time. Nothing was changed; ask again to run it.",
        )
    } else {
        (
            crate::chat::Outcome::Interrupted,
            "The opsbot process running this stopped before the run ended, and another one recorded it as interrupted. Nothing after the last step shown is known to have happened: check the target before running it again.",
        )
    };
    crate::chat::Update::Done {
        run: t.run,
        command: t.text.clone(),
        person: t.person.clone(),
        outcome,
        output: format!("{output} (`audit {}` has its story.)", t.run),
        steps: vec![],
        millis: 0,
        labels: vec![],
        charts: vec![],
    }
}

/// Checks for runs to take over every half lease while the runner lives.
pub(super) async fn sweep(inner: std::sync::Weak<super::Inner>) {
    let every = match inner.upgrade() {
        Some(i) => (i.ctx.audit.lease() / 2).max(std::time::Duration::from_millis(50)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(runs) = Runs::while_accepting(&inner) else {
            return;
        };
        match take_over_stale(&runs).await {
            Ok(ended) => runs.tell_ended(ended),
            Err(e) => {
                tracing::warn!(error = %e, "cannot check for runs whose process stopped; trying again later")
            }
        }
    }
}
