//! Snapshots of the Block Kit JSON opsbot sends for each kind of reply.
//! A change here changes what people see in Slack: review it as such.

use chrono::{TimeZone, Utc};
use opsbot::chat::slack::render::{self, Approval, Done};
use opsbot::chat::view::{Phase, RunView};
use opsbot::chat::RunId;
use opsbot::chat::{Outcome, StepLine};
use serde_json::Value;

fn json(content: &impl serde::Serialize) -> Value {
    serde_json::to_value(content).unwrap()
}

fn steps() -> Vec<StepLine> {
    vec![
        StepLine {
            id: "restart".into(),
            action: "kube.rollout_restart".into(),
            target: "aws-us/staging/deployment/hub".into(),
            outcome: "ok".into(),
            millis: 84,
            dry_run: false,
        },
        StepLine {
            id: "ready".into(),
            action: "kube.wait_rollout".into(),
            target: "aws-us/staging/deployment/hub".into(),
            outcome: "failed: 0/1 ready after 3m".into(),
            millis: 180_000,
            dry_run: false,
        },
    ]
}

/// The folded run a status message is drawn from.
fn view(run: RunId, command: &str, person: &str, steps: &[StepLine], phase: Phase) -> RunView {
    RunView {
        run: Some(run),
        command: command.into(),
        person: person.into(),
        steps: steps.to_vec(),
        phase,
        ..RunView::default()
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 6, 54, 0).unwrap()
}

#[test]
fn ack_text() {
    assert_eq!(
        render::ack_text("hub status staging", RunId(42)),
        "running `hub status staging` as run 42"
    );
}

#[test]
fn status_while_running() {
    insta::assert_json_snapshot!(json(&render::status(&view(
        RunId(42),
        "hub restart staging --reason 'config change'",
        "alice",
        &steps()[..1],
        Phase::Running
    ))));
}

#[test]
fn status_when_finished() {
    insta::assert_json_snapshot!(json(&render::status(&view(
        RunId(42),
        "hub restart staging --reason 'config change'",
        "alice",
        &steps(),
        Phase::Done {
            outcome: Outcome::Failed,
            output: String::new(),
            millis: 180_084
        }
    ))));
}

#[test]
fn result_with_table_output() {
    let output = "## Hub staging\n**ready**: 1/1 on aws-us\n\n| pod | phase | restarts |\n|---|---|---|\n| hub-7d9 | Running | 0 |\n| proxy-55f | Running | 2 |\n\nSee [the dashboard](https://grafana.example.org/d/hub).";
    let rendered = render::result(&Done {
        run: RunId(42),
        command: "hub status staging",
        person: "alice",
        outcome: Outcome::Succeeded,
        output,
        millis: 1234,
    });
    assert_eq!(rendered.hidden_lines, 0);
    insta::assert_json_snapshot!(json(&rendered.content));
}

#[test]
fn result_cut_with_audit_pointer() {
    let output: String = (0..2000)
        .map(|i| format!("jupyter-user-{i:04} Running\n"))
        .collect();
    let rendered = render::result(&Done {
        run: RunId(43),
        command: "users staging",
        person: "bob",
        outcome: Outcome::Partial,
        output: &output,
        millis: 65_000,
    });
    assert!(rendered.hidden_lines > 0);
    let value = json(&rendered.content);
    let blocks = value["blocks"].as_array().unwrap();
    let output = value["attachments"][0]["blocks"].as_array().unwrap();
    assert!(blocks.len() + output.len() <= render::MAX_BLOCKS);
    for block in blocks.iter().chain(output) {
        if let Some(text) = block["text"]["text"].as_str() {
            assert!(text.chars().count() <= render::MAX_SECTION_CHARS);
        }
    }
    // Only the head and the tail are pinned: the middle is the same line repeated.
    insta::assert_json_snapshot!(serde_json::json!({
        "hidden_lines": rendered.hidden_lines,
        "block_count": blocks.len(),
        "output_block_count": output.len(),
        "header": blocks[0],
        "last": output.last(),
        "colour": value["attachments"][0]["color"],
    }));
}

#[test]
fn audit_reference() {
    insta::assert_json_snapshot!(json(&render::audit_reference(
        RunId(42),
        "alice",
        "hub status staging",
        Outcome::Succeeded,
        at()
    )));
}

fn plan() -> Approval {
    Approval {
        run: RunId(44),
        command: "hub restart staging --reason 'config change'".into(),
        person: "alice".into(),
        plan: vec![
            "patch deployment/hub in aws-us/staging: restartedAt annotation".into(),
            "wait for deployment/hub to be ready (3m)".into(),
        ],
        approvers: vec!["bob".into(), "carol".into()],
        expires_in: "30m".into(),
    }
}

#[test]
fn approval_with_buttons() {
    insta::assert_json_snapshot!(json(&render::approval(&plan())));
}

#[test]
fn approval_after_decision() {
    insta::assert_json_snapshot!(json(&render::decided(
        Some(&plan()),
        RunId(44),
        "bob",
        true,
        at()
    )));
}

#[test]
fn denial_after_decision() {
    insta::assert_json_snapshot!(json(&render::decided(
        Some(&plan()),
        RunId(44),
        "carol",
        false,
        at()
    )));
}

#[test]
fn refusal() {
    insta::assert_json_snapshot!(json(&render::refused(
        None,
        "you are not set up to use opsbot",
        "ask an opsbot admin to add your Slack id `U0STRANGER` to `people` in opsbot.yaml"
    )));
}

#[test]
fn help_info() {
    insta::assert_json_snapshot!(json(&render::info(
        "opsbot commands",
        "- `hub status <hub>`: is the hub up\n- `hub restart <hub> --reason <text>`: restart the hub pod (needs approval)\n- `users <hub>`: who has a server"
    )));
}

#[test]
fn user_text_is_escaped_everywhere() {
    let content = json(&render::status(&view(
        RunId(1),
        "hub status <!channel>",
        "<@U1>",
        &[],
        Phase::Running,
    )));
    let text = content.to_string();
    assert!(!text.contains("<!channel>"));
    assert!(!text.contains("<@U1>"));
}
