//! A request's story as one GitHub comment (Markdown), rewritten as it
//! grows: acknowledgement, steps, result or refusal, approval and the audit
//! reference. GitHub has no private replies, so refusals mention the asker.

use crate::chat::{Outcome, Update};

/// GitHub refuses comments over 65,536 characters.
const MAX_OUTPUT: usize = 60_000;

/// What one request has produced so far.
pub struct Story {
    login: String,
    head: String,
    steps: Vec<String>,
    body: String,
    footer: String,
}

impl Story {
    /// An empty story for a comment by `login` (refusals mention them: GitHub
    /// has no private replies).
    pub fn new(login: String) -> Story {
        Story {
            login,
            head: String::new(),
            steps: Vec::new(),
            body: String::new(),
            footer: String::new(),
        }
    }

    /// Fold one update in.
    pub fn apply(&mut self, u: &Update) {
        match u {
            Update::Accepted {
                run,
                command,
                person,
            } => {
                self.head = format!("⏳ running `{command}` as run {run} (asked by {person})");
            }
            Update::Step { step, .. } => {
                let mark = match step.outcome.as_str() {
                    "ok" => "✓",
                    "skipped" => "·",
                    _ => "✗",
                };
                let dry = if step.dry_run { " (dry run)" } else { "" };
                self.steps.push(format!(
                    "- {mark} `{}` {} {} · {} ms{dry}",
                    step.id, step.action, step.target, step.millis
                ));
            }
            Update::AwaitingApproval {
                run,
                command,
                person,
                plan,
                approvers,
                expires_in,
            } => {
                self.head = format!(
                    "⏸ run {run} `{command}` by {person} needs approval from someone else."
                );
                let plan: Vec<String> = plan.iter().map(|p| format!("- {p}")).collect();
                self.body = format!(
                    "It would:\n{}\n\nWho can approve: {}. Approve with a comment `/ops approve {run}`, refuse with `/ops deny {run}`. The request expires in {expires_in}.",
                    plan.join("\n"),
                    if approvers.is_empty() { "nobody is configured".to_string() } else { approvers.join(", ") }
                );
            }
            Update::Decided { run, by, approved } => {
                let word = if *approved { "approved" } else { "denied" };
                self.steps.push(format!("- ☑ run {run} {word} by {by}"));
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
                    Outcome::Succeeded => "✅",
                    Outcome::Partial => "⚠️",
                    _ => "❌",
                };
                self.head = format!(
                    "{mark} run {run} `{command}` {} in {millis} ms",
                    outcome.word()
                );
                let output = output.trim_end();
                self.body = if output.chars().count() > MAX_OUTPUT {
                    let cut: String = output.chars().take(MAX_OUTPUT).collect();
                    format!("{cut}\n\n… cut here; the whole output is in the audit log: `/ops audit {run}`")
                } else {
                    output.to_string()
                };
                self.footer = format!(
                    "<sub>audit: run {run} · {person} · `/ops audit {run}` shows every step</sub>"
                );
            }
            Update::Refused {
                run,
                reason,
                detail,
            } => {
                let run = run.map(|r| format!(" (run {r})")).unwrap_or_default();
                self.head = format!("@{} ✖ {reason}{run}", self.login);
                self.body = detail.clone();
            }
            Update::Info { title, body } => {
                self.head = format!("@{} **{title}**", self.login);
                self.body = body.clone();
            }
        }
    }

    /// The comment as it stands.
    pub fn markdown(&self) -> String {
        let mut parts = vec![self.head.clone()];
        if !self.steps.is_empty() {
            parts.push(self.steps.join("\n"));
        }
        if !self.body.is_empty() {
            parts.push(self.body.clone());
        }
        if !self.footer.is_empty() {
            parts.push(self.footer.clone());
        }
        parts.join("\n\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{RunId, StepLine};

    #[test]
    fn a_finished_run_reads_as_one_comment_with_its_audit_reference() {
        let mut s = Story::new("bob-demo".into());
        s.apply(&Update::Accepted {
            run: RunId(3),
            command: "hub status staging".into(),
            person: "bob".into(),
        });
        s.apply(&Update::Step {
            run: RunId(3),
            step: StepLine {
                id: "hub".into(),
                action: "kube.list".into(),
                target: "apps/v1 deployments staging @aws-us".into(),
                outcome: "ok".into(),
                millis: 4,
                dry_run: false,
            },
        });
        s.apply(&Update::Done {
            run: RunId(3),
            command: "hub status staging".into(),
            person: "bob".into(),
            outcome: Outcome::Succeeded,
            output: "**Hub staging** is ready".into(),
            steps: vec![],
            millis: 40,
            labels: vec![],
        });
        insta::assert_snapshot!(s.markdown(), @r"
        ✅ run 3 `hub status staging` succeeded in 40 ms

        - ✓ `hub` kube.list apps/v1 deployments staging @aws-us · 4 ms

        **Hub staging** is ready

        <sub>audit: run 3 · bob · `/ops audit 3` shows every step</sub>
        ");
    }

    #[test]
    fn a_refusal_mentions_the_asker() {
        let mut s = Story::new("mallory".into());
        s.apply(&Update::Refused {
            run: None,
            reason: "you are not set up to use opsbot".into(),
            detail: "Ask an admin.".into(),
        });
        assert!(s.markdown().starts_with("@mallory ✖ you are not set up"));
    }
}
