//! The console adapter: `opsbot demo`'s prompt, `demo --exec` and `opsbot run`.
//!
//! It drives exactly the same path as chat (a [`Request`] into
//! [`Core::submit`]) and prints the [`Update`]s as readable text.

use std::fmt::Write as _;

use tokio::sync::mpsc;

use super::place::{ConsolePlace, Place};
use super::{Core, Outcome, Request, Update};

/// How one console command ended, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A run succeeded or a builtin answered.
    Ok,
    /// A run failed, or the request was refused or denied.
    Failed,
    /// A mutating run now waits for someone else's approval.
    AwaitingApproval,
}

impl Ending {
    /// 0 success, 1 failure or refusal, 3 waiting for approval.
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Ok => 0,
            Ending::Failed => 1,
            Ending::AwaitingApproval => 3,
        }
    }
}

/// How long the console waits for an approval request's resolved plan
/// (the runner's preview has 30 s) before printing the plan as stated.
const PREVIEW_PATIENCE: std::time::Duration = std::time::Duration::from_secs(35);

/// Submit `text` as `person` and print everything it produces, including the
/// run's live steps, until it ends. `updates` is the conversation's channel:
/// approvals given later also deliver the run's story there.
pub async fn exec(
    runs: &dyn Core,
    person: &str,
    text: &str,
    tx: &mpsc::UnboundedSender<Update>,
    rx: &mut mpsc::UnboundedReceiver<Update>,
    out: &mut dyn FnMut(&str),
) -> Ending {
    let req = Request {
        sender: person.to_string(),
        text: text.to_string(),
        place: Place::Console(ConsolePlace {
            console: person.to_string(),
        }),
        memberships: Vec::new(),
    };
    runs.submit(req, tx.clone()).await;
    let mut waiting_for = None;
    while let Some(u) = rx.recv().await {
        // An approval request is answered with the plan as stated; the dry
        // run's resolved plan follows and replaces it. Print the resolved one
        // (or the stated one when none comes in time).
        let u = match u {
            Update::AwaitingApproval { run, .. } if waiting_for.is_none_or(|w| w == run) => {
                match tokio::time::timeout(PREVIEW_PATIENCE, rx.recv()).await {
                    Ok(Some(next @ Update::AwaitingApproval { run: r, .. })) if r == run => next,
                    Ok(Some(other)) => {
                        out(&render(&u));
                        out(&render(&other));
                        return Ending::AwaitingApproval;
                    }
                    _ => u,
                }
            }
            u => u,
        };
        out(&render(&u));
        match &u {
            Update::Accepted { run, .. } => waiting_for = Some(*run),
            Update::Done { run, outcome, .. } if waiting_for.is_none_or(|w| w == *run) => {
                return if *outcome == Outcome::Succeeded {
                    Ending::Ok
                } else {
                    Ending::Failed
                };
            }
            Update::AwaitingApproval { run, .. } if waiting_for.is_none_or(|w| w == *run) => {
                return Ending::AwaitingApproval
            }
            Update::Refused { run, .. } if waiting_for.is_none() || *run == waiting_for => {
                return Ending::Failed
            }
            Update::Info { .. } if waiting_for.is_none() => return Ending::Ok,
            _ => {}
        }
    }
    Ending::Failed
}

/// The terminal text for one update.
pub fn render(u: &Update) -> String {
    let mut s = String::new();
    match u {
        Update::Accepted {
            run,
            command,
            person,
        } => {
            let _ = write!(s, "▶ run {run}: `{command}` accepted for {person}");
        }
        Update::Step { step, .. } => {
            let mark = if step.outcome == "ok" {
                "✓"
            } else if step.outcome == "skipped" {
                "·"
            } else {
                "✗"
            };
            let dry = if step.dry_run { " (dry run)" } else { "" };
            let _ = write!(
                s,
                "  {mark} {:<12} {:<22} {}  {} ms{dry}",
                step.id, step.action, step.target, step.millis
            );
            if step.outcome != "ok" && step.outcome != "skipped" {
                let _ = write!(s, "\n      {}", step.outcome);
            }
        }
        Update::AwaitingApproval {
            run,
            command,
            person,
            plan,
            approvers,
            expires_in,
        } => {
            let _ = writeln!(
                s,
                "⏸ run {run}: `{command}` by {person} needs approval from someone else. It would:"
            );
            for p in plan {
                let _ = writeln!(s, "    - {p}");
            }
            let who = if approvers.is_empty() {
                "nobody is configured".to_string()
            } else {
                approvers.join(", ")
            };
            let _ = write!(s, "  Who can approve: {who}. The request expires in {expires_in}.\n  Approve with `approve {run}`, refuse with `deny {run}`.");
        }
        Update::Decided { run, by, approved } => {
            let verb = if *approved { "approved" } else { "denied" };
            let _ = write!(s, "☑ run {run} {verb} by {by}");
        }
        Update::Done {
            run,
            command,
            person,
            outcome,
            output,
            millis,
            ..
        } => {
            let mark = match outcome {
                Outcome::Succeeded => "✔",
                Outcome::Partial => "◐",
                _ => "✖",
            };
            let _ = writeln!(s, "{mark} run {run} {} in {millis} ms", outcome.word());
            let body = output.trim_end();
            if !body.is_empty() {
                let _ = writeln!(s, "{body}");
            }
            let _ = write!(
                s,
                "— audit: run {run} · {person} · `{command}` · `audit {run}` shows every step"
            );
        }
        Update::Refused {
            run,
            reason,
            detail,
        } => {
            let _ = write!(s, "✖ {reason}");
            if let Some(r) = run {
                let _ = write!(s, " (run {r})");
            }
            if !detail.is_empty() {
                let _ = write!(s, "\n{detail}");
            }
        }
        Update::Info { title, body } => {
            let _ = write!(s, "{title}\n{}", body.trim_end());
        }
    }
    s
}
