//! A request's [`RunView`] as one GitHub comment (Markdown), rewritten as it
//! grows: acknowledgement, steps, result or refusal, approval and the audit
//! reference. GitHub has no private replies, so refusals mention the asker.

use crate::chat::view::{Note, Phase, RunView};
use crate::chat::{Outcome, StepLine};

/// GitHub refuses comments over 65,536 characters.
const MAX_OUTPUT: usize = 60_000;

/// The comment for `view`, as it stands. `login` is the commenter: refusals
/// mention them (GitHub has no private replies).
pub fn markdown(view: &RunView, login: &str) -> String {
    let run = view.run.map(|r| r.to_string()).unwrap_or_default();
    let (command, person) = (&view.command, &view.person);
    let mut head = match &view.phase {
        Phase::Running => format!("⏳ running `{command}` as run {run} (asked by {person})"),
        Phase::Waiting | Phase::Denied => {
            format!("⏸ run {run} `{command}` by {person} needs approval from someone else.")
        }
        Phase::Done {
            outcome, millis, ..
        } => {
            let mark = match outcome {
                Outcome::Succeeded => "✅",
                Outcome::Partial => "⚠️",
                _ => "❌",
            };
            format!(
                "{mark} run {run} `{command}` {} in {millis} ms",
                outcome.word()
            )
        }
    };
    let mut body = match (&view.phase, &view.approval) {
        (Phase::Done { output, .. }, _) => {
            let output = output.trim_end();
            if output.chars().count() > MAX_OUTPUT {
                let cut: String = output.chars().take(MAX_OUTPUT).collect();
                format!(
                    "{cut}\n\n… cut here; the whole output is in the audit log: `/ops audit {run}`"
                )
            } else {
                output.to_string()
            }
        }
        (_, Some(a)) => {
            let plan: Vec<String> = a.plan.iter().map(|p| format!("- {p}")).collect();
            format!(
                "It would:\n{}\n\nWho can approve: {}. Approve with a comment `/ops approve {run}`, refuse with `/ops deny {run}`. The request expires in {}.",
                plan.join("\n"),
                if a.approvers.is_empty() { "nobody is configured".to_string() } else { a.approvers.join(", ") },
                a.expires_in
            )
        }
        (_, None) => String::new(),
    };
    match &view.note {
        Some(Note::Refused {
            run,
            reason,
            detail,
        }) => {
            let run = run.map(|r| format!(" (run {r})")).unwrap_or_default();
            head = format!("@{login} ✖ {reason}{run}");
            body.clone_from(detail);
        }
        Some(Note::Info { title, body: text }) => {
            head = format!("@{login} **{title}**");
            body.clone_from(text);
        }
        None => {}
    }
    let mut lines: Vec<String> = view
        .decisions
        .iter()
        .map(|(by, approved)| {
            let word = if *approved { "approved" } else { "denied" };
            format!("- ☑ run {run} {word} by {by}")
        })
        .collect();
    lines.extend(view.steps.iter().map(step_line));
    let mut parts = vec![head];
    if !lines.is_empty() {
        parts.push(lines.join("\n"));
    }
    if !body.is_empty() {
        parts.push(body);
    }
    if matches!(view.phase, Phase::Done { .. }) {
        parts.push(format!(
            "<sub>audit: run {run} · {person} · `/ops audit {run}` shows every step</sub>"
        ));
    }
    parts.join("\n\n")
}

fn step_line(step: &StepLine) -> String {
    let mark = match step.outcome.as_str() {
        "ok" => "✓",
        "skipped" => "·",
        _ => "✗",
    };
    let dry = if step.dry_run { " (dry run)" } else { "" };
    format!(
        "- {mark} `{}` {} {} · {} ms{dry}",
        step.id, step.action, step.target, step.millis
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{RunId, StepLine, Update};

    #[test]
    fn a_finished_run_reads_as_one_comment_with_its_audit_reference() {
        let mut s = RunView::default();
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
        insta::assert_snapshot!(markdown(&s, "bob-demo"), @r"
        ✅ run 3 `hub status staging` succeeded in 40 ms

        - ✓ `hub` kube.list apps/v1 deployments staging @aws-us · 4 ms

        **Hub staging** is ready

        <sub>audit: run 3 · bob · `/ops audit 3` shows every step</sub>
        ");
    }

    #[test]
    fn a_refusal_mentions_the_asker() {
        let mut s = RunView::default();
        s.apply(&Update::Refused {
            run: None,
            reason: "you are not set up to use opsbot".into(),
            detail: "Ask an admin.".into(),
        });
        assert!(markdown(&s, "mallory").starts_with("@mallory ✖ you are not set up"));
    }
}
