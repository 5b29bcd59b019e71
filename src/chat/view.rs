//! One request's run as the person should see it now, folded from the
//! [`Update`]s in arrival order: the one fold every renderer shares.
//!
//! Each platform draws a [`RunView`] its own way (a Discord embed, a GitHub
//! comment, Slack blocks), but what the run *is* (which phase, which steps,
//! who decided, what it printed) is decided here once, so the platforms
//! cannot drift apart on what a denial or a late step means.

use super::model::{Outcome, RunId, StepLine, Update};

/// Everything known about one request's run so far.
#[derive(Debug, Clone, Default)]
pub struct RunView {
    pub run: Option<RunId>,
    pub command: String,
    pub person: String,
    pub steps: Vec<StepLine>,
    pub phase: Phase,
    /// The approval request, kept after it is decided so the plan that was
    /// approved (or denied) stays visible.
    pub approval: Option<Approval>,
    /// `(who, approved)` in the order they decided.
    pub decisions: Vec<(String, bool)>,
    /// A refusal or builtin answer to this request, which is not part of a
    /// run's story: platforms show it on its own (Discord and Slack
    /// privately); cleared when the run's story goes on.
    pub note: Option<Note>,
    /// The titles of the run's charts: a platform that cannot show the
    /// picture (GitHub) says that one exists and where to see it.
    pub charts: Vec<String>,
}

/// Where the run is.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Phase {
    #[default]
    Running,
    /// Waiting for someone else's approval ([`RunView::approval`]).
    Waiting,
    /// Someone denied it: it never ran.
    Denied,
    /// The run ended.
    Done {
        outcome: Outcome,
        output: String,
        millis: u64,
    },
}

/// What an approver is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub plan: Vec<String>,
    pub approvers: Vec<String>,
    pub expires_in: String,
}

/// An answer that is not a run's story.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Refused {
        run: Option<RunId>,
        reason: String,
        detail: String,
    },
    Info {
        title: String,
        body: String,
    },
}

impl RunView {
    /// Fold one update in. Returns false for updates that are not part of a
    /// run's story (refusals and builtin answers, kept in [`RunView::note`]).
    pub fn apply(&mut self, u: &Update) -> bool {
        match u {
            Update::Accepted {
                run,
                command,
                person,
            } => {
                self.named(*run, command, person);
                self.phase = Phase::Running;
            }
            Update::Step { run, step } => {
                self.run = Some(*run);
                self.steps.push(step.clone());
            }
            Update::AwaitingApproval {
                run,
                command,
                person,
                plan,
                approvers,
                expires_in,
            } => {
                self.named(*run, command, person);
                self.phase = Phase::Waiting;
                self.approval = Some(Approval {
                    plan: plan.clone(),
                    approvers: approvers.clone(),
                    expires_in: expires_in.clone(),
                });
            }
            Update::Decided { run, by, approved } => {
                self.run = Some(*run);
                self.decisions.push((by.clone(), *approved));
                if !approved {
                    self.phase = Phase::Denied;
                }
            }
            Update::Done {
                run,
                command,
                person,
                outcome,
                output,
                millis,
                charts,
                ..
            } => {
                self.named(*run, command, person);
                self.charts = charts.iter().map(|c| c.title.clone()).collect();
                self.phase = Phase::Done {
                    outcome: *outcome,
                    output: output.clone(),
                    millis: *millis,
                };
            }
            Update::Refused {
                run,
                reason,
                detail,
            } => {
                self.note = Some(Note::Refused {
                    run: *run,
                    reason: reason.clone(),
                    detail: detail.clone(),
                });
                return false;
            }
            Update::Info { title, body } => {
                self.note = Some(Note::Info {
                    title: title.clone(),
                    body: body.clone(),
                });
                return false;
            }
        }
        self.note = None;
        true
    }

    fn named(&mut self, run: RunId, command: &str, person: &str) {
        self.run = Some(run);
        command.clone_into(&mut self.command);
        person.clone_into(&mut self.person);
    }

    /// Whether nothing more will happen to this run.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done { .. } | Phase::Denied)
    }

    /// How it ended, if it did (a denial ends as [`Outcome::Denied`]).
    pub fn outcome(&self) -> Option<Outcome> {
        match &self.phase {
            Phase::Done { outcome, .. } => Some(*outcome),
            Phase::Denied => Some(Outcome::Denied),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str) -> StepLine {
        StepLine {
            id: id.into(),
            action: "kube.list".into(),
            target: "pods".into(),
            outcome: "ok".into(),
            millis: 1,
            dry_run: false,
        }
    }

    #[test]
    fn an_approved_run_keeps_its_plan_decision_steps_and_result() {
        let mut v = RunView::default();
        assert!(v.apply(&Update::AwaitingApproval {
            run: RunId(5),
            command: "hub restart staging".into(),
            person: "alice".into(),
            plan: vec!["restart deployment hub".into()],
            approvers: vec!["bob".into()],
            expires_in: "1h".into(),
        }));
        assert_eq!(v.phase, Phase::Waiting);
        v.apply(&Update::Decided {
            run: RunId(5),
            by: "bob".into(),
            approved: true,
        });
        v.apply(&Update::Accepted {
            run: RunId(5),
            command: "hub restart staging".into(),
            person: "alice".into(),
        });
        v.apply(&Update::Step {
            run: RunId(5),
            step: step("restart"),
        });
        v.apply(&Update::Done {
            run: RunId(5),
            command: "hub restart staging".into(),
            person: "alice".into(),
            outcome: Outcome::Succeeded,
            output: "restarted".into(),
            steps: vec![],
            millis: 9,
            labels: vec![],
            charts: vec![],
        });
        assert_eq!(v.outcome(), Some(Outcome::Succeeded));
        assert_eq!(v.decisions, vec![("bob".to_string(), true)]);
        assert_eq!(v.steps.len(), 1);
        assert_eq!(
            v.approval.as_ref().unwrap().plan,
            vec!["restart deployment hub"]
        );
        assert!(v.finished());
    }

    #[test]
    fn a_denial_ends_the_run_and_a_refusal_is_a_note_not_a_story() {
        let mut v = RunView::default();
        v.apply(&Update::Decided {
            run: RunId(2),
            by: "carol".into(),
            approved: false,
        });
        assert_eq!(v.outcome(), Some(Outcome::Denied));
        assert!(v.finished());
        let refused = Update::Refused {
            run: None,
            reason: "no".into(),
            detail: "why".into(),
        };
        assert!(!v.apply(&refused));
        assert!(matches!(v.note, Some(Note::Refused { .. })));
    }
}
