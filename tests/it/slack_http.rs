//! The Slack HTTP endpoints as Slack drives them: the real router and the
//! real slack-morphism client against a fake core and a fake Web API that
//! checks every call against Slack's documented formats.

use crate::support::slack as support;
use opsbot::chat::RunId;

use std::time::Duration;

use opsbot::chat::{Outcome, Request, StepLine, Update};
use serde_json::Value;
use support::{mention_event, now, sign, Fault, Gate, Harness, Script, SIGNING_SECRET};

const CHANNEL: &str = "C2147483705";
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";

fn step(id: &str) -> StepLine {
    StepLine {
        id: id.to_string(),
        action: "kube.get".to_string(),
        target: "staging/deployment/hub".to_string(),
        outcome: "ok".to_string(),
        millis: 12,
        dry_run: false,
    }
}

fn accepted(run: impl Into<RunId>, command: &str) -> Update {
    let run: RunId = run.into();
    Update::Accepted {
        run,
        command: command.to_string(),
        person: "alice".to_string(),
    }
}

fn done(run: impl Into<RunId>, command: &str, output: &str, steps: Vec<StepLine>) -> Update {
    let run: RunId = run.into();
    Update::Done {
        run,
        command: command.to_string(),
        person: "alice".to_string(),
        outcome: Outcome::Succeeded,
        output: output.to_string(),
        steps,
        millis: 1234,
        labels: vec![],
        charts: vec![],
    }
}

/// A run that is accepted at once, then (after `gate`) reports steps and ends.
fn simple_run(
    run: impl Into<RunId>,
    command: &str,
    gate: Option<Gate>,
    steps: usize,
    output: &str,
) -> Script {
    let run: RunId = run.into();
    let lines: Vec<StepLine> = (0..steps).map(|i| step(&format!("step{i}"))).collect();
    let mut later: Vec<Update> = lines
        .iter()
        .map(|s| Update::Step {
            run,
            step: s.clone(),
        })
        .collect();
    later.push(done(run, command, output, lines));
    Script {
        now: vec![accepted(run, command)],
        later,
        gate,
    }
}

fn nothing_runs(h: &Harness) {
    assert!(
        h.core.requests().is_empty(),
        "the core was asked to run something: {:?}",
        h.core.requests()
    );
}

async fn body_json(resp: reqwest::Response) -> Value {
    resp.json().await.expect("a JSON body")
}

#[tokio::test]
async fn slash_command_is_answered_while_the_cluster_is_still_busy() {
    let gate = Gate::default();
    let cluster = gate.clone();
    let h = Harness::start(move |_| {
        simple_run(42, "hub status staging", Some(cluster.clone()), 2, "ok")
    })
    .await;

    // The "cluster" stays blocked (it would take 10 s) until the test opens
    // the gate; the HTTP answer must not wait for it.
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        h.slash(ALICE, CHANNEL, "hub status staging"),
    )
    .await
    .expect("answered before the cluster finished");
    assert_eq!(resp.status(), 200);
    let body = body_json(resp).await;
    assert_eq!(body["response_type"], "ephemeral");
    assert_eq!(body["text"], "running `hub status staging` as run 42");
    assert!(h
        .slack
        .calls_to("chat.postMessage")
        .iter()
        .all(|c| !c.body.to_string().contains("succeeded")));

    let requests = h.core.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].sender, ALICE);
    assert_eq!(requests[0].text, "hub status staging");
    assert_eq!(
        serde_json::to_value(&requests[0].place).unwrap()["channel"],
        CHANNEL
    );
    assert_eq!(
        serde_json::to_value(&requests[0].place).unwrap()["source"],
        "slash_command"
    );

    gate.open();
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages()
                .iter()
                .any(|m| m.text.contains("/ops audit 42"))
        })
        .await;
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_run_keeps_its_whole_story_in_one_thread() {
    let gate = Gate::default();
    let cluster = gate.clone();
    let h = Harness::start(move |_| {
        simple_run(
            7,
            "hub status staging",
            Some(cluster.clone()),
            3,
            "# Hub staging\n**ready**: 1/1\n| pod | state |\n|---|---|\n| hub-1 | Running |",
        )
    })
    .await;
    let resp = h.slash(ALICE, CHANNEL, "hub status staging").await;
    assert_eq!(resp.status(), 200);

    // The status message goes to the channel first, with a Cancel button.
    h.slack
        .wait_until("the status message", |s| !s.messages().is_empty())
        .await;
    let status = h.slack.messages()[0].clone();
    assert_eq!(status.channel, CHANNEL);
    assert_eq!(status.thread_ts, None);
    assert!(status
        .text
        .contains("running `hub status staging` as run 7"));
    assert!(status.has_button("cancel"));

    gate.open();
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 7"))
        })
        .await;

    let thread = h.slack.thread(CHANNEL, &status.ts);
    assert_eq!(
        thread.len(),
        3,
        "status, result, audit reference: {thread:#?}"
    );
    let (status, result, audit) = (&thread[0], &thread[1], &thread[2]);
    // The status message was edited in place to its final state.
    assert!(status.edits >= 1);
    assert!(status.text.contains("succeeded"), "{}", status.text);
    assert!(!status.has_button("cancel"));
    assert!(status.all_text().contains("step2"));
    // The result: header, fields, table as monospace, colour by outcome.
    assert_eq!(result.thread_ts.as_deref(), Some(status.ts.as_str()));
    assert_eq!(result.blocks[0]["type"], "header");
    assert!(
        result
            .all_text()
            .contains("```\\npod    state\\nhub-1  Running\\n```"),
        "{}",
        result.all_text()
    );
    assert_eq!(result.attachments[0]["color"], "#2eb67d");
    // The audit reference closes the thread.
    assert_eq!(audit.thread_ts.as_deref(), Some(status.ts.as_str()));
    assert!(audit.text.contains("requested by alice"));
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

const INCIDENT: &str = "C0INCIDENT";

/// A run in a channel marked `incident: true` answers at the top level.
async fn incident_harness() -> Harness {
    Harness::start_with(
        |_| {
            simple_run(
                8,
                "hub status staging",
                None,
                2,
                "# Hub staging\n**ready**: 1/1",
            )
        },
        |s| {
            s.incident_channels.insert(INCIDENT.to_string());
        },
    )
    .await
}

#[tokio::test]
async fn in_an_incident_channel_the_status_result_and_audit_reference_are_top_level_messages() {
    let h = incident_harness().await;
    let resp = h.slash(ALICE, INCIDENT, "hub status staging").await;
    assert_eq!(resp.status(), 200);
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 8"))
        })
        .await;
    let messages = h.slack.messages();
    assert_eq!(
        messages.len(),
        3,
        "status, result, audit reference: {messages:#?}"
    );
    for m in &messages {
        assert_eq!(m.channel, INCIDENT);
        assert_eq!(m.thread_ts, None, "not a thread reply: {m:#?}");
    }
    let (status, result, audit) = (&messages[0], &messages[1], &messages[2]);
    // The status message is still edited in place to its final state.
    assert!(status.edits >= 1, "{status:#?}");
    assert!(status.text.contains("succeeded"), "{}", status.text);
    assert!(
        result.all_text().contains("Hub staging"),
        "{}",
        result.all_text()
    );
    assert!(audit.text.contains("requested by alice"), "{}", audit.text);
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn beside_an_incident_channel_a_normal_channel_keeps_the_run_in_its_thread() {
    let h = incident_harness().await;
    let resp = h.slash(ALICE, CHANNEL, "hub status staging").await;
    assert_eq!(resp.status(), 200);
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 8"))
        })
        .await;
    let messages = h.slack.messages();
    let status = &messages[0];
    assert_eq!(status.thread_ts, None);
    let replies: Vec<_> = messages[1..].iter().map(|m| m.thread_ts.clone()).collect();
    assert_eq!(
        replies,
        vec![Some(status.ts.clone()); 2],
        "result and audit reference in the status message's thread: {messages:#?}"
    );
}

#[tokio::test]
async fn step_updates_are_coalesced_into_few_in_place_edits() {
    let gate = Gate::default();
    let cluster = gate.clone();
    let h =
        Harness::start(move |_| simple_run(9, "triage staging", Some(cluster.clone()), 30, "done"))
            .await;
    h.slash(ALICE, CHANNEL, "triage staging").await;
    h.slack
        .wait_until("the status message", |s| !s.messages().is_empty())
        .await;
    gate.open();
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 9"))
        })
        .await;
    let edits = h.slack.calls_to("chat.update").len();
    assert!(
        (1..30).contains(&edits),
        "30 steps arriving together must not cost 30 edits (got {edits})"
    );
    let status = &h.slack.messages()[0];
    assert!(status.all_text().contains("step29"));
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn progress_is_shown_by_editing_the_status_message_before_the_run_ends() {
    let steps_gate = Gate::default();
    let cluster = steps_gate.clone();
    // The run reports one step and is still going when the test looks.
    let h = Harness::start(move |_| Script {
        now: vec![accepted(11, "hub restart staging")],
        later: vec![Update::Step {
            run: RunId(11),
            step: step("rolled-out"),
        }],
        gate: Some(cluster.clone()),
    })
    .await;
    h.slash(ALICE, CHANNEL, "hub restart staging").await;
    h.slack
        .wait_until("the status message", |s| !s.messages().is_empty())
        .await;
    assert!(!h.slack.messages()[0].all_text().contains("rolled-out"));
    steps_gate.open();
    h.slack
        .wait_until("a progress edit", |s| {
            s.messages()[0].edits >= 1 && s.messages()[0].all_text().contains("rolled-out")
        })
        .await;
    let status = &h.slack.messages()[0];
    assert!(status.has_button("cancel"), "still running: Cancel stays");
    assert!(!status.text.contains("succeeded"));
    assert_eq!(
        h.slack.messages().len(),
        1,
        "progress edits, it does not post"
    );
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_long_result_is_uploaded_as_a_file_and_cut_with_an_audit_pointer() {
    let output: String = (0..3000)
        .map(|i| format!("line {i}: jupyter-user-{i} Running 0 restarts\n"))
        .collect();
    let expected = output.clone();
    let h = Harness::start(move |_| simple_run(12, "users staging", None, 1, &output)).await;
    h.slash(ALICE, CHANNEL, "users staging").await;
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages()
                .iter()
                .any(|m| m.text.contains("/ops audit 12"))
        })
        .await;
    let result = h
        .slack
        .messages()
        .into_iter()
        .find(|m| m.blocks[0]["type"] == "header")
        .expect("a result message");
    assert!(result.blocks.as_array().unwrap().len() <= 50);
    assert!(
        result
            .all_text()
            .contains("more lines, full output in `/ops audit 12`"),
        "{}",
        result.all_text()
    );
    let complete = h.slack.calls_to("files.completeUploadExternal");
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].body["channel_id"], CHANNEL);
    assert_eq!(complete[0].body["thread_ts"], h.slack.messages()[0].ts);
    let file = complete[0].body["files"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(h.slack.uploaded(&file).unwrap(), expected.into_bytes());
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

/// The approval flow of one mutating run, scripted like the core does it.
fn approval_core(req: &Request) -> Script {
    let command = "hub restart staging --reason config";
    match (req.sender.as_str(), req.text.as_str()) {
        (ALICE, "approve 5") => Script {
            now: vec![Update::Refused {
                run: Some(RunId(5)),
                reason: "you cannot approve your own run".into(),
                detail: "ask someone else with the approve right (bob, carol)".into(),
            }],
            ..Script::default()
        },
        (BOB, "approve 5") => Script {
            now: vec![
                Update::Decided {
                    run: RunId(5),
                    by: "bob".into(),
                    approved: true,
                },
                accepted(5, command),
            ],
            later: vec![
                Update::Step {
                    run: RunId(5),
                    step: step("restart"),
                },
                done(
                    5,
                    command,
                    "Hub **staging** restarted",
                    vec![step("restart")],
                ),
            ],
            gate: None,
        },
        _ => Script {
            now: vec![Update::AwaitingApproval {
                run: RunId(5),
                command: command.into(),
                person: "alice".into(),
                plan: vec!["rollout restart deployment/hub in staging".into()],
                approvers: vec!["bob".into(), "carol".into()],
                expires_in: "30m".into(),
            }],
            ..Script::default()
        },
    }
}

#[tokio::test]
async fn another_person_approves_and_the_run_goes_on_in_the_same_thread() {
    let h = Harness::start(approval_core).await;
    let resp = h
        .slash(ALICE, CHANNEL, "hub restart staging --reason config")
        .await;
    assert!(body_json(resp).await["text"]
        .as_str()
        .unwrap()
        .contains("needs approval"));
    h.slack
        .wait_until("the approval message", |s| !s.messages().is_empty())
        .await;
    let plan = h.slack.messages()[0].clone();
    assert!(plan.has_button("approve") && plan.has_button("deny"));
    assert!(plan.all_text().contains("rollout restart deployment/hub"));

    let resp = h.press(BOB, "approve", 5, CHANNEL, &plan.ts, None).await;
    assert_eq!(resp.status(), 200);
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 5"))
        })
        .await;

    assert_eq!(h.core.requests()[1].text, "approve 5");
    assert_eq!(h.core.requests()[1].sender, BOB);
    let thread = h.slack.thread(CHANNEL, &plan.ts);
    let plan_now = &thread[0];
    assert!(!plan_now.has_button("approve"), "decided: the buttons go");
    assert!(
        plan_now.text.contains("approved by bob at"),
        "{}",
        plan_now.text
    );
    assert!(plan_now
        .all_text()
        .contains("rollout restart deployment/hub"));
    // status, result and audit reference follow in the plan's thread.
    assert!(thread.len() >= 4, "{thread:#?}");
    assert!(thread[1..]
        .iter()
        .all(|m| m.thread_ts.as_deref() == Some(plan.ts.as_str())));
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn self_approval_is_refused_privately_and_the_plan_stays_open() {
    let h = Harness::start(approval_core).await;
    h.slash(ALICE, CHANNEL, "hub restart staging --reason config")
        .await;
    h.slack
        .wait_until("the approval message", |s| !s.messages().is_empty())
        .await;
    let plan = h.slack.messages()[0].clone();
    h.press(ALICE, "approve", 5, CHANNEL, &plan.ts, None).await;
    h.slack
        .wait_until("an ephemeral refusal", |s| !s.ephemerals().is_empty())
        .await;
    let eph = &h.slack.ephemerals()[0];
    assert_eq!(eph["user"], ALICE);
    assert_eq!(eph["thread_ts"], plan.ts);
    assert!(eph["text"]
        .as_str()
        .unwrap()
        .contains("cannot approve your own run"));
    let plan_now = &h.slack.messages()[0];
    assert!(
        plan_now.has_button("approve"),
        "still waiting for someone else"
    );
    assert_eq!(plan_now.edits, 0);
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

fn not_set_up(_: &Request) -> Script {
    Script {
        now: vec![Update::Refused {
            run: None,
            reason: "you are not set up to use opsbot".into(),
            detail: "ask an opsbot admin to add your Slack id to `people` in opsbot.yaml".into(),
        }],
        ..Script::default()
    }
}

#[tokio::test]
async fn an_unknown_user_gets_a_polite_private_answer_and_nothing_is_posted() {
    let h = Harness::start(not_set_up).await;
    let resp = h.slash("U0STRANGER", CHANNEL, "hub status staging").await;
    let body = body_json(resp).await;
    assert_eq!(body["response_type"], "ephemeral");
    assert!(body["text"].as_str().unwrap().contains("not set up"));
    assert!(body.to_string().contains("ask an opsbot admin"));

    // The same person mentioning the bot hears it privately too.
    let resp = h
        .post_signed(
            "/slack/events",
            "application/json",
            mention_event("Ev1", "U0STRANGER", "<@U0LAN0Z89> hub status staging"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    h.slack
        .wait_until("an ephemeral answer", |s| !s.ephemerals().is_empty())
        .await;
    assert_eq!(h.slack.ephemerals()[0]["user"], "U0STRANGER");
    assert!(
        h.slack.messages().is_empty(),
        "nothing public in the channel"
    );
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_mention_in_a_thread_runs_the_text_after_the_mention_and_answers_there() {
    let h =
        Harness::start(|_| simple_run(3, "user status staging alice", None, 0, "running")).await;
    let resp = h
        .post_signed(
            "/slack/events",
            "application/json",
            mention_event("Ev2", ALICE, "<@U0LAN0Z89> user status staging alice"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages().iter().any(|m| m.text.contains("/ops audit 3"))
        })
        .await;
    let req = &h.core.requests()[0];
    assert_eq!(req.text, "user status staging alice");
    assert_eq!(
        serde_json::to_value(&req.place).unwrap()["thread_ts"],
        "1515449438.000011"
    );
    assert_eq!(
        serde_json::to_value(&req.place).unwrap()["source"],
        "mention"
    );
    assert!(h
        .slack
        .messages()
        .iter()
        .all(|m| m.thread_ts.as_deref() == Some("1515449438.000011")));
}

#[tokio::test]
async fn url_verification_is_answered_with_the_challenge() {
    let h = Harness::start(not_set_up).await;
    let body = include_bytes!("fixtures/slack/url_verification.json").to_vec();
    let resp = h
        .post_signed("/slack/events", "application/json", body)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        body_json(resp).await["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    nothing_runs(&h);
}

#[tokio::test]
async fn a_replayed_event_never_starts_a_second_run() {
    let h = Harness::start(|_| simple_run(4, "hub status staging", None, 0, "ok")).await;
    let body = mention_event("Ev0LAN670R", ALICE, "<@U0LAN0Z89> hub status staging");
    let first = h
        .post_signed("/slack/events", "application/json", body.clone())
        .await;
    assert_eq!(first.status(), 200);
    let retry = h
        .post_signed_at(
            "/slack/events",
            "application/json",
            body,
            now(),
            &[
                ("x-slack-retry-num", "1"),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await;
    assert_eq!(retry.status(), 200, "Slack must stop retrying");
    assert_eq!(h.core.requests().len(), 1);
    assert!(h
        .core
        .refusals()
        .contains(&("slack".into(), "duplicate_delivery".into())));
}

#[tokio::test]
async fn bad_requests_are_refused_counted_and_run_nothing_and_the_server_keeps_serving() {
    let h = Harness::start(|_| simple_run(8, "hub status staging", None, 0, "ok")).await;
    let form = support::slash_form(ALICE, CHANNEL, "hub status staging").into_bytes();
    let url = format!("{}/slack/commands", h.base);

    // Bad signature.
    let resp = h
        .http
        .post(&url)
        .header("x-slack-request-timestamp", now().to_string())
        .header("x-slack-signature", sign("not-the-secret", now(), &form))
        .body(form.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(SIGNING_SECRET));

    // No signature at all.
    let resp = h.http.post(&url).body(form.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // Correctly signed, but 10 minutes old (a replay).
    let old = now() - 600;
    let resp = h
        .post_signed_at(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            form.clone(),
            old,
            &[],
        )
        .await;
    assert_eq!(resp.status(), 401);

    // Oversized body.
    let huge = vec![b'a'; 2 * 1024 * 1024];
    let resp = h
        .post_signed("/slack/commands", "application/x-www-form-urlencoded", huge)
        .await;
    assert_eq!(resp.status(), 413);

    // Signed but malformed form, JSON and interaction payloads.
    let resp = h
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            b"text=%ZZ&&=".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = h
        .post_signed(
            "/slack/events",
            "application/json",
            b"{\"type\": \"event_callback\",".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = h
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            b"payload=%7Bnot-json".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), 400);

    nothing_runs(&h);
    let reasons: Vec<String> = h.core.refusals().into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        reasons,
        [
            "bad_signature",
            "missing_signature",
            "stale_timestamp",
            "body_too_large",
            "malformed_payload",
            "malformed_payload",
            "malformed_payload"
        ]
    );
    assert!(h.slack.calls().is_empty(), "nothing was posted to Slack");

    // Still serving.
    let resp = h.slash(ALICE, CHANNEL, "hub status staging").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.core.requests().len(), 1);
}

/// A 429 says Slack did nothing: the same post is sent again after its
/// Retry-After. A 500 may come after the message was posted, so that post
/// is not repeated (the thread carries on with its next message).
#[tokio::test]
async fn a_rate_limited_post_is_retried_but_a_post_answered_500_is_not_repeated() {
    let h = Harness::start(|_| simple_run(13, "hub status staging", None, 0, "ok")).await;
    h.slack.fail_next(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    h.slack.fail_next("chat.postMessage", Fault::ServerError);
    h.slash(ALICE, CHANNEL, "hub status staging").await;
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages()
                .iter()
                .any(|m| m.text.contains("/ops audit 13"))
        })
        .await;
    let posts = h.slack.calls_to("chat.postMessage");
    let statuses: Vec<u16> = posts.iter().map(|c| c.status).collect();
    assert_eq!(statuses[..2], [429, 500]);
    assert_eq!(
        posts[0].body, posts[1].body,
        "the rate-limited post was sent again"
    );
    assert!(
        posts[2..].iter().all(|p| p.body != posts[1].body),
        "the post answered 500 was not sent again: {posts:#?}"
    );
    assert_eq!(h.slack.violations(), Vec::<String>::new());
}

/// An edit is the same however often it is sent: a 500 is retried.
#[tokio::test]
async fn an_edit_answered_500_is_retried() {
    let h = Harness::start(|_| simple_run(14, "hub status staging", None, 0, "ok")).await;
    h.slack.fail_next("chat.update", Fault::ServerError);
    h.slash(ALICE, CHANNEL, "hub status staging").await;
    h.slack
        .wait_until("the audit reference", |s| {
            s.messages()
                .iter()
                .any(|m| m.text.contains("/ops audit 14"))
        })
        .await;
    h.slack
        .wait_until("the edit retried", |s| {
            s.calls_to("chat.update").iter().any(|c| c.status == 200)
        })
        .await;
    let edits: Vec<u16> = h
        .slack
        .calls_to("chat.update")
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(edits[0], 500, "{edits:?}");
    let calls = h.slack.calls_to("chat.update");
    assert_eq!(calls[0].body, calls[1].body, "the same edit, sent again");
}

#[tokio::test]
async fn a_cancel_button_becomes_a_cancel_request_from_the_presser() {
    let h = Harness::start(|req: &Request| {
        if req.text.starts_with("cancel") {
            Script {
                now: vec![Update::Info {
                    title: "cancelling run 21".into(),
                    body: "the run stops after its current step".into(),
                }],
                ..Script::default()
            }
        } else {
            Script {
                now: vec![accepted(21, "logs staging hub")],
                ..Script::default()
            }
        }
    })
    .await;
    h.slash(ALICE, CHANNEL, "logs staging hub").await;
    h.slack
        .wait_until("the status message", |s| !s.messages().is_empty())
        .await;
    let status = h.slack.messages()[0].clone();
    let resp = h.press(BOB, "cancel", 21, CHANNEL, &status.ts, None).await;
    assert_eq!(resp.status(), 200);
    let req = &h.core.requests()[1];
    assert_eq!(req.text, "cancel 21");
    assert_eq!(req.sender, BOB);
    assert_eq!(
        serde_json::to_value(&req.place).unwrap()["message_ts"],
        status.ts
    );
    h.slack
        .wait_until("the ephemeral answer", |s| !s.ephemerals().is_empty())
        .await;
    assert_eq!(h.slack.ephemerals()[0]["user"], BOB);
}

#[tokio::test]
async fn the_fake_slack_flags_messages_that_break_slacks_documented_limits() {
    use opsbot::chat::slack::{RetryPolicy, SlackApi};
    use slack_morphism::prelude::*;

    // The checker itself must bite, or every "no violations" above is empty.
    let fake = support::FakeSlack::start().await;
    let api = SlackApi::new(
        &fake.api_url(),
        &secrecy::SecretString::from(support::BOT_TOKEN),
        RetryPolicy::default(),
    )
    .unwrap();
    let long = "x".repeat(3001);
    let blocks: Vec<SlackBlock> = (0..51)
        .map(|_| {
            SlackSectionBlock::new()
                .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(
                    long.clone(),
                )))
                .into()
        })
        .collect();
    let req = SlackApiChatPostMessageRequest::new(
        SlackChannelId(CHANNEL.into()),
        SlackMessageContent::new().with_blocks(blocks),
    )
    .with_thread_ts(SlackTs("not-a-ts".into()));
    api.post_message(&req).await.unwrap();
    let violations = fake.violations().join("\n");
    for expected in [
        "51 blocks, Slack allows 50",
        "section text 3001 > 3000 characters",
        "`text` fallback missing",
        "thread_ts \"not-a-ts\" is not a Slack ts",
    ] {
        assert!(
            violations.contains(expected),
            "{expected} not in:\n{violations}"
        );
    }
}

#[tokio::test]
async fn under_overload_runs_are_still_acked_and_the_asker_is_pointed_to_the_audit_log() {
    let gate = Gate::default();
    let cluster = gate.clone();
    let h = Harness::start_with(
        move |req: &Request| {
            let run = if req.text.ends_with("staging") {
                30
            } else {
                31
            };
            simple_run(run, &req.text, Some(cluster.clone()), 0, "ok")
        },
        |settings| settings.max_live_threads = 1,
    )
    .await;
    // The first run holds the only renderer until its cluster answers.
    let first = body_json(h.slash(ALICE, CHANNEL, "hub status staging").await).await;
    assert_eq!(first["text"], "running `hub status staging` as run 30");
    let second = body_json(h.slash(ALICE, CHANNEL, "hub status prod").await).await;
    let text = second["text"].as_str().unwrap();
    assert!(
        text.starts_with("running `hub status prod` as run 31"),
        "{text}"
    );
    assert!(text.contains("`/ops audit 31`"), "{text}");
    assert_eq!(h.core.requests().len(), 2, "both runs were recorded");
    assert!(h
        .core
        .refusals()
        .contains(&("slack".into(), "render_overloaded".into())));
    gate.open();
    h.slack
        .wait_until("the first run's audit reference", |s| {
            s.messages()
                .iter()
                .any(|m| m.text.contains("/ops audit 30"))
        })
        .await;
}
