//! The run lifecycle end to end on the demo fleet: request → decision →
//! durable record → run → reply, with the audit log telling the same story.

use crate::support::bot;

use bot::{done_output, refusal, run_of, Bot};
use opsbot::audit::EventKind;
use opsbot::chat::{Outcome, Update};
use opsbot::runs::Limits;
use opsbot_sim::FaultRule;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_command_runs_and_its_story_is_in_the_audit_log() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("bob", "hub status staging").await;
    assert!(
        matches!(updates[0], Update::Accepted { .. }),
        "the first answer is the acknowledgement: {updates:#?}"
    );
    assert!(
        updates.iter().any(|u| matches!(u, Update::Step { .. })),
        "steps are shown live"
    );
    let (outcome, output) = done_output(&updates);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    assert!(
        output.contains("staging"),
        "the result names the hub: {output}"
    );

    let kinds = bot.kinds(run_of(&updates)).await;
    assert_eq!(kinds.first(), Some(&EventKind::Requested));
    assert!(kinds.contains(&EventKind::Started));
    assert!(kinds.contains(&EventKind::Step));
    assert_eq!(kinds.last(), Some(&EventKind::Finished), "{kinds:?}");
    let report = bot.audit().verify().await.expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_command_is_refused_with_a_suggestion_and_records_nothing() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("alice", "hub stauts staging").await;
    let (_, detail) = refusal(&updates);
    assert!(
        detail.contains("hub status"),
        "suggests the near command: {detail}"
    );
    let runs = bot.audit().list(&Default::default()).await.expect("list");
    assert!(
        runs.is_empty(),
        "a parse error runs nothing and records no run: {runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hub_is_refused_naming_the_hubs_that_exist() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("alice", "hub status stagin").await;
    let (_, detail) = refusal(&updates);
    assert!(detail.contains("staging"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn person_without_a_link_is_told_how_to_get_set_up() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("mallory", "hub status staging").await;
    let (reason, detail) = refusal(&updates);
    assert!(reason.contains("not set up"), "{reason}");
    assert!(detail.contains("people:"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_cannot_restart_a_hub_and_is_told_who_can() {
    let mut bot = Bot::start().await;
    let updates = bot.ask("bob", "hub restart prod --reason because").await;
    let (reason, detail) = refusal(&updates);
    assert!(reason.contains("may not"), "{reason}");
    assert!(detail.contains("alice"), "names who can: {detail}");
    let run = run_of(&updates);
    assert_eq!(
        bot.kinds(run).await,
        vec![EventKind::Requested, EventKind::Denied]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_run_waits_for_someone_else_and_runs_once_approved() {
    let mut bot = Bot::start().await;
    let asked = bot
        .ask("alice", "hub restart staging --reason config change")
        .await;
    let run = run_of(&asked);
    match asked.last().unwrap() {
        Update::AwaitingApproval {
            plan, approvers, ..
        } => {
            assert!(!plan.is_empty(), "the plan is shown");
            assert!(approvers.iter().any(|a| a == "carol"), "{approvers:?}");
            assert!(
                !approvers.iter().any(|a| a == "alice"),
                "not the requester: {approvers:?}"
            );
        }
        other => panic!("expected an approval request, got {other:#?}"),
    }

    // The stated plan is answered at once; the dry run's resolved one follows.
    let resolved = bot.preview().await;
    assert!(
        resolved.iter().any(|l| l.contains("(dry run ok)")),
        "{resolved:?}"
    );
    let own = bot.ask("alice", &format!("approve {run}")).await;
    let (reason, _) = refusal(&own);
    assert!(reason.contains("cannot approve"), "{reason}");

    let approved = bot.ask("carol", &format!("approve {run}")).await;
    assert!(approved
        .iter()
        .any(|u| matches!(u, Update::Decided { approved: true, by, .. } if by == "carol")));
    let (outcome, output) = done_output(&approved);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");

    let records = bot.records(run).await;
    let approval = records
        .iter()
        .find(|r| r.kind == EventKind::Approved)
        .expect("approved record");
    assert_eq!(approval.actor, "carol");
    assert_eq!(records.last().unwrap().kind, EventKind::Finished);

    let again = bot.ask("carol", &format!("approve {run}")).await;
    let (reason, _) = refusal(&again);
    assert!(
        reason.contains("already ended"),
        "a finished run cannot be approved again: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_approval_request_never_runs() {
    let mut bot = Bot::start().await;
    let asked = bot.ask("alice", "hub restart staging --reason try").await;
    let run = run_of(&asked);
    let denied = bot.ask("carol", &format!("deny {run}")).await;
    assert!(denied.iter().any(|u| matches!(
        u,
        Update::Decided {
            approved: false,
            ..
        }
    )));
    let kinds = bot.kinds(run).await;
    assert_eq!(kinds.last(), Some(&EventKind::Rejected));
    assert!(!kinds.contains(&EventKind::Started), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_admin_may_restart_only_their_hub() {
    let mut bot = Bot::start().await;
    let theirs = bot.ask("dave", "hub restart staging --reason stuck").await;
    assert!(
        matches!(theirs.last().unwrap(), Update::AwaitingApproval { .. }),
        "{theirs:#?}"
    );
    let other = bot.ask("dave", "hub restart prod --reason stuck").await;
    let (reason, _) = refusal(&other);
    assert!(reason.contains("may not"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_cluster_does_not_delay_the_acknowledgement_and_full_queue_says_busy() {
    let mut bot = Bot::start_with(Limits {
        concurrent_runs: 1,
        queued_runs: 1,
    })
    .await;
    let cluster = bot.demo.fleet.cluster("aws-us").expect("aws-us");
    cluster.add_fault(FaultRule {
        latency: Some(std::time::Duration::from_secs(2)),
        ..FaultRule::default()
    });
    // The first run occupies the only runner, the second the only queue slot.
    bot.submit("bob", "hub status staging").await;
    bot.submit("bob", "hub status prod").await;
    let third = bot.ask("bob", "hub status staging").await;
    let accepted = third
        .iter()
        .filter(|u| matches!(u, Update::Accepted { .. }))
        .count();
    let busy = third
        .iter()
        .any(|u| matches!(u, Update::Refused { reason, .. } if reason.contains("busy")));
    assert!(
        busy || accepted >= 1,
        "every request is either acknowledged or told opsbot is busy: {third:#?}"
    );
    cluster.clear_faults();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_old_queue_bound_is_all_accepted_and_every_run_ends() {
    // Issue 14: 2,000 requests at once used to get "busy" past 1,024
    // queued. One runner, held by a slow cluster, keeps them all queued.
    const BURST: usize = 1100;
    let bot = Bot::start_with(Limits {
        concurrent_runs: 1,
        ..Limits::default()
    })
    .await;
    assert!(Limits::default().queued_runs >= 2000);
    let cluster = bot.demo.fleet.cluster("aws-us").expect("aws-us");
    cluster.add_fault(FaultRule {
        latency: Some(std::time::Duration::from_secs(2)),
        ..FaultRule::default()
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runs = bot.demo.app.runs.clone();
    futures::future::join_all((0..BURST).map(|_| {
        let (runs, tx) = (runs.clone(), tx.clone());
        async move {
            runs.submit(
                opsbot::chat::Request {
                    sender: "bob".into(),
                    text: "hub status staging".into(),
                    place: opsbot::chat::Place::Console(opsbot::chat::place::ConsolePlace {
                        console: "bob".into(),
                    }),
                    memberships: Vec::new(),
                },
                tx,
            )
            .await
        }
    }))
    .await;
    drop(tx);
    // Every request has its first answer once submit returned.
    let mut accepted = Vec::new();
    while let Ok(u) = rx.try_recv() {
        match u {
            Update::Accepted { run, .. } => accepted.push(run),
            Update::Refused { reason, .. } => panic!("refused in the burst: {reason}"),
            _ => {}
        }
    }
    assert_eq!(accepted.len(), BURST);
    cluster.clear_faults();
    let mut done = 0;
    while done < BURST {
        let next = tokio::time::timeout(bot::PATIENCE, rx.recv()).await;
        match next
            .expect("every accepted run ends")
            .expect("replies open")
        {
            Update::Done { outcome, .. } => {
                assert_eq!(outcome, Outcome::Succeeded);
                done += 1;
            }
            Update::Refused { reason, .. } => panic!("refused: {reason}"),
            _ => {}
        }
    }
    // Each read-only run's story is complete in the log, steps before the end.
    for run in [accepted[0], accepted[BURST / 2], accepted[BURST - 1]] {
        let kinds = bot.kinds(run).await;
        assert_eq!(kinds.first(), Some(&EventKind::Requested), "{kinds:?}");
        assert_eq!(
            kinds.iter().filter(|k| **k == EventKind::Step).count(),
            5,
            "{kinds:?}"
        );
        let end = kinds.iter().position(|k| *k == EventKind::Finished);
        let last_step = kinds.iter().rposition(|k| *k == EventKind::Step);
        assert!(last_step < end, "{kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_in_flight_at_a_crash_is_marked_interrupted_after_restart() {
    // What a process killed mid-run leaves behind: a run that started and
    // never ended (the audit store's own crash test SIGKILLs a writer).
    let dir = tempfile::tempdir().unwrap();
    let audit_url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let log = opsbot::audit::AuditLog::open(&audit_url).await.unwrap();
    let asked = log
        .append(opsbot::audit::NewEvent::requested("bob", serde_json::json!({ "person": "bob", "command": "hub status", "text": "hub status staging", "where": { "console": "bob" } })))
        .await
        .unwrap();
    log.append(opsbot::audit::NewEvent::new(
        asked.run,
        EventKind::Started,
        "opsbot",
        serde_json::json!({}),
    ))
    .await
    .unwrap();
    log.close().await;

    let bot = Bot::start_in(dir, audit_url, Limits::default()).await;
    let kinds = bot.kinds(asked.run).await;
    assert_eq!(
        kinds,
        vec![
            EventKind::Requested,
            EventKind::Started,
            EventKind::Interrupted
        ]
    );
    let report = bot.audit().verify().await.expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_typed_into_chat_never_reaches_the_audit_log_or_the_reply() {
    let secret = "xoxb-1234567890-THIS-IS-SECRET";
    let mut bot = Bot::start_with_env(&[
        ("SLACK_BOT_TOKEN", secret),
        ("SLACK_SIGNING_SECRET", "another-secret-value"),
    ])
    .await;
    let updates = bot.ask("alice", &format!("hub status {secret}")).await;
    let shown = format!("{updates:?}");
    assert!(!shown.contains(secret), "{shown}");
    let exported = bot.audit().export(0).await.expect("export");
    let exported = serde_json::to_string(&exported).expect("records serialize");
    assert!(!exported.contains(secret), "{exported}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_approval_request_cannot_be_approved_and_is_recorded_as_expired() {
    // A request that waited past its expiry (written as a previous process
    // would have left it; approvals survive restarts).
    let dir = tempfile::tempdir().unwrap();
    let audit_url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let log = opsbot::audit::AuditLog::open(&audit_url).await.unwrap();
    let asked = log
        .append(opsbot::audit::NewEvent::requested(
            "alice",
            serde_json::json!({ "person": "alice", "command": "hub restart", "text": "hub restart staging --reason old",
                                "hub": "staging", "cluster": "aws-us", "playbook": "hub-restart",
                                "params": { "hub": { "name": "staging", "cluster": "aws-us", "namespace": "staging" }, "reason": "old" } }),
        ))
        .await
        .unwrap();
    log.append(opsbot::audit::NewEvent::new(
        asked.run,
        EventKind::AwaitingApproval,
        "opsbot",
        serde_json::json!({ "plan": [], "plan_hash": "x", "approvers_required": 1, "expires_at": "2020-01-01T00:00:00+00:00" }),
    ))
    .await
    .unwrap();
    log.close().await;

    let mut bot = Bot::start_in(dir, audit_url, Limits::default()).await;
    let kinds = bot.kinds(asked.run).await;
    assert_eq!(
        kinds.last(),
        Some(&EventKind::Expired),
        "an expired request is closed as expired at restart: {kinds:?}"
    );
    let answer = bot.ask("carol", &format!("approve {}", asked.run)).await;
    let (reason, _) = refusal(&answer);
    assert!(
        reason.contains("already ended") || reason.contains("expired"),
        "{reason}"
    );
    assert!(!bot.kinds(asked.run).await.contains(&EventKind::Started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_request_without_a_channel_is_refused_where_channels_are_limited_and_runs_nothing()
{
    // With Slack configured the demo limits channel C0READONLY.
    let bot = Bot::start_with_env(&[("SLACK_SIGNING_SECRET", "test-secret")]).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let req = opsbot::chat::Request {
        sender: "U0DEMOBOB".into(),
        text: "hub status staging".into(),
        // A Slack place whose channel did not come with the request.
        place: opsbot::chat::Place::Slack(opsbot::chat::place::SlackPlace {
            source: opsbot::chat::place::SlackSource::Mention,
            channel: String::new(),
            user: "U0DEMOBOB".into(),
            thread_ts: None,
            message_ts: None,
            team: None,
        }),
        memberships: Vec::new(),
    };
    bot.demo.app.runs.submit(req, tx).await;
    let answer = tokio::time::timeout(bot::PATIENCE, rx.recv())
        .await
        .expect("an answer")
        .expect("an update");
    let (reason, detail) = refusal(std::slice::from_ref(&answer));
    assert_eq!(reason, "not in this channel", "{detail}");
    assert!(detail.contains("without its channel"), "{detail}");
    let recent = bot
        .audit()
        .list(&opsbot::audit::Filter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(recent.is_empty(), "nothing recorded or run: {recent:?}");
}

/// `discord.roles`: bob (support) may not restart staging; holding the
/// demo guild's "staging admins" role grants staging-admin for that
/// interaction, so the same request now asks for approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_discord_guild_role_grants_its_opsbot_roles_for_the_request() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let bot = Bot::start_with_env(&[
        ("DISCORD_PUBLIC_KEY", public.as_str()),
        ("DISCORD_APPLICATION_ID", "1111111111111111111"),
    ])
    .await;
    let ask = |memberships: Vec<String>| {
        let runs = bot.demo.app.runs.clone();
        async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let req = opsbot::chat::Request {
                sender: "100000000000000002".into(),
                text: "hub restart staging --reason guild role".into(),
                place: opsbot::chat::Place::Discord(opsbot::chat::place::DiscordPlace {
                    guild_id: Some("1".into()),
                    channel_id: "2".into(),
                    interaction_id: "3".into(),
                    message_id: None,
                }),
                memberships,
            };
            runs.submit(req, tx).await;
            tokio::time::timeout(bot::PATIENCE, rx.recv())
                .await
                .expect("an answer")
                .expect("an update")
        }
    };
    let without = ask(vec!["900000000000000009".into()]).await;
    let (reason, _) = refusal(std::slice::from_ref(&without));
    assert!(reason.contains("may not run"), "{reason}");
    let with = ask(vec!["900000000000000001".into()]).await;
    assert!(
        matches!(with, Update::AwaitingApproval { .. }),
        "the granted role may request it: {with:?}"
    );
}
