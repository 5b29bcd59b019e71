//! What a run may change, checked by the executor before every change.
//!
//! Two guards share the executor's one hook ([`ChangeGuard`]):
//! - [`Preview`] collects, during the approval request's dry run, every
//!   change the playbook would make, fully resolved (targets that came from
//!   read steps included). That set is what the approver is shown, and its
//!   hash is what they approve.
//! - [`Journal`] sits in front of every real change: it refuses a change
//!   that is not in the approved set (the world moved between the preview
//!   and the run), and it writes the change's intent to the audit log before
//!   the call, so a change attempted by a process that then died is on
//!   record. A mutating run whose intent cannot be written changes nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Runs;
use crate::audit::{EventKind, NewEvent, RunId};
use crate::playbook::{Change, ChangeGuard};

/// The changes a dry run would make, as [`Change::line`]s.
#[derive(Default)]
pub(super) struct Preview {
    lines: Mutex<BTreeSet<String>>,
}

impl Preview {
    /// What was collected, in a stable order.
    pub(super) fn lines(&self) -> BTreeSet<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ChangeGuard for Preview {
    fn before_change<'a>(&'a self, change: Change<'a>) -> BoxFuture<'a, Result<(), String>> {
        if change.dry_run {
            self.lines
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(change.line());
        }
        Box::pin(async { Ok(()) })
    }
}

/// The hash an approver approves: of the resolved changes, order-free.
pub(super) fn hash(lines: &BTreeSet<String>) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The guard of a real run: approved changes only, each recorded first.
pub(super) struct Journal {
    pub runs: Runs,
    pub run: RunId,
    /// The resolved changes the approvers saw; `None` when the run needed
    /// no approval (or its preview could not be made, which the approval
    /// request said).
    pub approved: Option<Arc<BTreeSet<String>>>,
}

impl ChangeGuard for Journal {
    fn before_change<'a>(&'a self, change: Change<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if change.dry_run {
                return Ok(());
            }
            let line = change.line();
            if let Some(approved) = &self.approved {
                if !approved.contains(&line) {
                    return Err(format!(
                        "not sent: `{}` was not in the plan that was approved ({}). The fleet changed since the preview; request the command again to see and approve what it would change now",
                        line,
                        approved.iter().cloned().collect::<Vec<_>>().join("; ")
                    ));
                }
            }
            let ctx = &self.runs.inner.ctx;
            ctx.audit
                .append(NewEvent {
                    run: Some(self.run),
                    kind: EventKind::Intent,
                    actor: "opsbot".into(),
                    data: ctx.redact.json(json!({
                        "step": change.step,
                        "verb": change.verb,
                        "target": change.target,
                    })),
                })
                .await
                .map(|_| ())
                .map_err(|e| {
                    tracing::error!(run = %self.run, error = %e, "cannot record a change's intent; not sending it");
                    "not sent: the audit log is not writable, and opsbot never changes anything without a record".to_string()
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_approved_hash_ignores_the_order_changes_were_found_in() {
        let a: BTreeSet<String> = ["b: delete x".to_string(), "a: patch y".to_string()].into();
        let b: BTreeSet<String> = ["a: patch y".to_string(), "b: delete x".to_string()].into();
        assert_eq!(hash(&a), hash(&b));
        let c: BTreeSet<String> = ["a: patch y".to_string()].into();
        assert_ne!(hash(&a), hash(&c));
    }
}
