//! Slack end to end: the real Slack endpoints in front of the real core
//! (grammar, permissions, audit log, runner) on the demo fleet, with the
//! real slack-morphism client posting to a fake Slack Web API.

use crate::support::bot;
use crate::support::slack;

use bot::Bot;
use opsbot::audit::EventKind;
use slack::{sign, slash_form, FakeSlack, SIGNING_SECRET};

/// Bob's Slack id in the demo's people (see `opsbot demo --print-config`).
const BOB: &str = "U0DEMOBOB";
const CHANNEL: &str = "C0SUPPORT";

struct Rig {
    bot: Bot,
    fake: FakeSlack,
    base: String,
    http: reqwest::Client,
}

async fn rig() -> Rig {
    rig_with(opsbot::runs::Limits::default()).await
}

async fn rig_with(limits: opsbot::runs::Limits) -> Rig {
    let fake = FakeSlack::start().await;
    let api = fake.api_url();
    let bot = Bot::start_with_env_and_limits(
        &[
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
            ("SLACK_BOT_TOKEN", slack::BOT_TOKEN),
            ("SLACK_API_URL", api.as_str()),
        ],
        limits,
    )
    .await;
    assert!(
        bot.demo.app.platforms.slack.is_some(),
        "Slack is configured from the environment alone"
    );
    let router = opsbot::app::server::router(bot.demo.app.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Rig {
        bot,
        fake,
        base,
        http: reqwest::Client::new(),
    }
}

impl Rig {
    async fn slash(&self, user: &str, text: &str, secret: &str) -> reqwest::Response {
        self.post_form(slash_form(user, CHANNEL, text), secret)
            .await
    }

    /// Post this very form (a retry sends the same `trigger_id`).
    async fn post_form(&self, form: String, secret: &str) -> reqwest::Response {
        let body = form.into_bytes();
        let ts = chrono::Utc::now().timestamp();
        self.http
            .post(format!("{}/slack/commands", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(secret, ts, &body))
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_runs_the_playbook_and_the_thread_ends_with_the_audit_reference() {
    let r = rig().await;
    let ack = r.slash(BOB, "hub status staging", SIGNING_SECRET).await;
    assert_eq!(ack.status(), 200);
    let ack_text = ack.text().await.unwrap();
    assert!(
        ack_text.contains("hub status staging") && ack_text.contains("run 1"),
        "{ack_text}"
    );
    r.fake
        .wait_until("the result is posted", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("Hub staging"))
        })
        .await;
    r.fake
        .wait_until("the audit reference closes the thread", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("/ops audit 1"))
        })
        .await;
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
    let kinds = r.bot.kinds(1).await;
    assert_eq!(kinds.first(), Some(&EventKind::Requested));
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Finished).count(),
        1,
        "{kinds:?}"
    );
    let requested = &r.bot.records(1).await[0];
    assert_eq!(requested.data["platform"], "slack");
    assert_eq!(
        requested.data["where"]["channel"], CHANNEL,
        "{}",
        requested.data
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signature_is_refused_and_nothing_is_recorded() {
    let r = rig().await;
    let ack = r.slash(BOB, "hub status staging", "not-the-secret").await;
    assert_eq!(ack.status(), 401);
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert!(runs.is_empty(), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_not_in_people_is_told_privately_and_nothing_runs() {
    let r = rig().await;
    let ack = r
        .slash("U0STRANGER", "hub status staging", SIGNING_SECRET)
        .await;
    assert_eq!(ack.status(), 200);
    let text = ack.text().await.unwrap();
    assert!(text.contains("not set up"), "{text}");
    assert!(text.contains("ephemeral"), "only the asker sees it: {text}");
    assert!(r
        .bot
        .audit()
        .list(&Default::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_comes_back_while_the_cluster_takes_ten_seconds() {
    let r = rig().await;
    let cluster = r.bot.demo.fleet.cluster("aws-us").unwrap();
    cluster.add_fault(opsbot_sim::FaultRule {
        resources: vec!["deployments".into()],
        latency: Some(std::time::Duration::from_secs(10)),
        times: Some(1),
        ..Default::default()
    });
    let ack = r.slash(BOB, "hub status staging", SIGNING_SECRET).await;
    assert_eq!(ack.status(), 200);
    assert!(ack.text().await.unwrap().contains("run 1"));
    let kinds = r.bot.kinds(1).await;
    assert!(
        !kinds.contains(&EventKind::Finished),
        "acknowledged before the slow step ended: {kinds:?}"
    );
    r.fake
        .wait_until("the result is posted after the slow call", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("Hub staging"))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_channel_refuses_other_commands_privately() {
    let r = rig().await;
    let body = slash_form(
        "U0DEMOALICE",
        "C0READONLY",
        "hub restart staging --reason x",
    )
    .into_bytes();
    let ts = chrono::Utc::now().timestamp();
    let ack = r
        .http
        .post(format!("{}/slack/commands", r.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    let text = ack.text().await.unwrap();
    assert!(
        text.contains("not run in this channel") && text.contains("hub status"),
        "{text}"
    );
    assert!(r
        .bot
        .audit()
        .list(&Default::default())
        .await
        .unwrap()
        .is_empty());
}

/// Issue 14: a slash command that finds the queue full is answered "busy"
/// before its `trigger_id` is recorded (no durable write for a refusal), so
/// the same command sent again once opsbot has room runs: it never ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_answered_busy_is_not_marked_seen_and_runs_when_sent_again() {
    let r = rig_with(opsbot::runs::Limits {
        concurrent_runs: 1,
        queued_runs: 1,
    })
    .await;
    let clusters = r.bot.demo.fleet.cluster_names();
    for c in &clusters {
        r.bot.demo.fleet.cluster(c).unwrap().add_fault(
            serde_json::from_value(serde_json::json!({ "verbs": ["list"], "latency": "1s" }))
                .unwrap(),
        );
    }
    let mut accepted = 0;
    let mut refused = None;
    for _ in 0..8 {
        let form = slash_form(BOB, CHANNEL, "hub status staging");
        let ack = r.post_form(form.clone(), SIGNING_SECRET).await;
        assert_eq!(ack.status(), 200);
        if ack.text().await.unwrap().contains(opsbot::chat::BUSY) {
            refused = Some(form);
            break;
        }
        accepted += 1;
    }
    let form = refused.expect("a burst past a queue of one finds it full");
    for c in &clusters {
        r.bot.demo.fleet.cluster(c).unwrap().clear_faults();
    }
    for run in 1..=accepted {
        r.bot
            .wait_for_record(opsbot::chat::RunId(run), EventKind::Finished)
            .await;
    }
    let again = r
        .post_form(form, SIGNING_SECRET)
        .await
        .text()
        .await
        .unwrap();
    assert!(!again.contains(opsbot::chat::BUSY), "{again}");
    assert!(
        again.contains(&format!("run {}", accepted + 1)),
        "the retry is accepted as the next run: {again}"
    );
}
