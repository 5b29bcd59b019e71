//! The run lifecycle as one explicit state machine.
//!
//! requested → awaiting approval → approved → queued → running → finished |
//! failed | cancelled | interrupted, with rejected and expired ending a run
//! that waits, and denied one that was never allowed. The audit events are the
//! persistence: a run's state is the fold of its records ([`RunState::of`]),
//! so it survives restarts and reads old logs unchanged. Every decision that
//! moves a run (approve, deny, cancel, the executor starting it) asks
//! [`RunState::allows`] first, in this one place, instead of each guessing
//! from the last record.

use crate::audit::{EventKind, Record, RunId};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Asked for and allowed; not yet started (or waiting for approval to be requested).
    Requested,
    /// Waiting for `required` approvals, `have` of them given.
    AwaitingApproval { have: usize, required: usize },
    /// Approved by enough people and handed to the queue; not started yet.
    Queued,
    /// The executor has started it.
    Running,
    /// Over, with the event kind that ended it.
    Ended(Ending),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Finished,
    Failed,
    Cancelled,
    Interrupted,
    Rejected,
    Expired,
    Denied,
}

impl Ending {
    /// The word people read (`run 7 has already ended (cancelled)`).
    pub fn word(self) -> &'static str {
        match self {
            Ending::Finished => "finished",
            Ending::Failed => "failed",
            Ending::Cancelled => "cancelled",
            Ending::Interrupted => "interrupted",
            Ending::Rejected => "rejected",
            Ending::Expired => "expired",
            Ending::Denied => "denied",
        }
    }
}

/// A move the lifecycle has no arrow for, in words for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Illegal {
    /// What is wrong (`run 7 is already running`).
    pub reason: String,
    /// What to do instead (`use cancel 7 to stop it`).
    pub next: String,
}

impl RunState {
    /// The state the records of one run (in order) leave it in; `None` when
    /// there is no `requested` record. Notes, replies and steps move nothing.
    pub fn of(records: &[Record]) -> Option<RunState> {
        let mut state = None;
        for r in records {
            state = Some(match (state, &r.kind) {
                (_, EventKind::Requested) => RunState::Requested,
                (_, EventKind::AwaitingApproval) => RunState::AwaitingApproval {
                    have: 0,
                    required: r
                        .data
                        .get("approvers_required")
                        .and_then(|v| v.as_u64())
                        .unwrap_or(1)
                        .max(1) as usize,
                },
                (Some(RunState::AwaitingApproval { have, required }), EventKind::Approved) => {
                    if have + 1 >= required {
                        RunState::Queued
                    } else {
                        RunState::AwaitingApproval {
                            have: have + 1,
                            required,
                        }
                    }
                }
                (_, EventKind::Started) => RunState::Running,
                (_, EventKind::Finished) => RunState::Ended(Ending::Finished),
                (_, EventKind::Failed) => RunState::Ended(Ending::Failed),
                (_, EventKind::Cancelled) => RunState::Ended(Ending::Cancelled),
                (_, EventKind::Interrupted) => RunState::Ended(Ending::Interrupted),
                (_, EventKind::Rejected) => RunState::Ended(Ending::Rejected),
                (_, EventKind::Expired) => RunState::Ended(Ending::Expired),
                (_, EventKind::Denied) => RunState::Ended(Ending::Denied),
                // An approval after the run left the waiting state, intents,
                // steps, replies and notes: the state stays.
                (s, _) => s?,
            });
        }
        state
    }

    /// Whether the event `to` is a legal next step from this state; the
    /// error says why not and what to do instead.
    pub fn allows(self, run: RunId, to: &EventKind) -> Result<(), Illegal> {
        use EventKind as K;
        let ok = matches!(
            (self, to),
            (_, K::Step | K::Replied | K::ReplyFailed | K::Note)
                | (RunState::Running, K::Intent)
                | (
                    RunState::Requested,
                    K::AwaitingApproval | K::Started | K::Denied
                )
                | (
                    RunState::AwaitingApproval { .. },
                    K::Approved | K::Rejected | K::Expired
                )
                | (
                    RunState::Requested | RunState::AwaitingApproval { .. },
                    K::Cancelled
                )
                | (RunState::Queued, K::Started | K::Cancelled)
                | (
                    RunState::Running,
                    K::Finished | K::Failed | K::Cancelled | K::Interrupted
                )
                | (
                    RunState::Queued | RunState::AwaitingApproval { .. },
                    K::Interrupted
                )
        );
        if ok {
            return Ok(());
        }
        Err(self.illegal(run, to))
    }

    fn illegal(self, run: RunId, to: &EventKind) -> Illegal {
        let deciding = matches!(to, EventKind::Approved | EventKind::Rejected);
        match self {
            RunState::Ended(e) => Illegal {
                reason: format!("run {run} has already ended ({})", e.word()),
                next: format!("`audit {run}` shows its story."),
            },
            RunState::Running if deciding => Illegal {
                reason: format!("run {run} is already running"),
                next: format!("Use `cancel {run}` to stop it."),
            },
            RunState::Queued if deciding => Illegal {
                reason: format!("run {run} is already approved and queued to start"),
                next: format!("Use `cancel {run}` to stop it."),
            },
            RunState::Requested if deciding => Illegal {
                reason: format!("run {run} is not waiting for approval"),
                next: format!("`audit {run}` shows its story."),
            },
            _ => Illegal {
                reason: format!("run {run} cannot move on from {}", self.word()),
                next: format!("`audit {run}` shows its story."),
            },
        }
    }

    /// The state in words.
    pub fn word(self) -> &'static str {
        match self {
            RunState::Requested => "requested",
            RunState::AwaitingApproval { .. } => "awaiting approval",
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Ended(e) => e.word(),
        }
    }
}
