//! Discord end to end: the real interactions endpoint in front of the real
//! core on the demo fleet; serenity's HTTP client edits replies on a fake
//! Discord API. The demo's people carry Discord ids (alice, carol).

use crate::support::bot;
use crate::support::discord;

use bot::Bot;
use discord::{button, command, typed_autocomplete, FakeApi, ALICE, APP_ID, CAROL, STRANGER};
use ed25519_dalek::{Signer, SigningKey};
use opsbot::audit::EventKind;
use serde_json::Value;

struct Rig {
    bot: Bot,
    api: std::sync::Arc<FakeApi>,
    key: SigningKey,
    url: String,
    http: reqwest::Client,
}

async fn rig() -> Rig {
    rig_with(opsbot::runs::Limits::default()).await
}

async fn rig_with(limits: opsbot::runs::Limits) -> Rig {
    let (api, api_url) = FakeApi::start().await;
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let public = hex::encode(key.verifying_key().to_bytes());
    let app = APP_ID.to_string();
    let bot = Bot::start_with_env_and_limits(
        &[
            ("DISCORD_PUBLIC_KEY", public.as_str()),
            ("DISCORD_APPLICATION_ID", app.as_str()),
            ("DISCORD_BOT_TOKEN", "discord-e2e-bot-token"),
            ("DISCORD_API_URL", api_url.as_str()),
        ],
        limits,
    )
    .await;
    assert!(
        bot.demo.app.platforms.discord.is_some(),
        "Discord is configured from the environment alone"
    );
    let router = opsbot::app::server::router(bot.demo.app.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/discord/interactions",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Rig {
        bot,
        api,
        key,
        url,
        http: reqwest::Client::new(),
    }
}

impl Rig {
    async fn send(&self, body: &str) -> Value {
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = self.key.sign(format!("{ts}{body}").as_bytes());
        let r = self
            .http
            .post(&self.url)
            .header("x-signature-ed25519", hex::encode(sig.to_bytes()))
            .header("x-signature-timestamp", ts)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_asked_on_discord_is_approved_by_another_engineer_and_runs() {
    let r = rig().await;
    let asked = r
        .send(&command(ALICE, "hub restart staging --reason discord e2e"))
        .await;
    assert_eq!(asked["type"], 4, "{asked}");
    assert_eq!(
        asked["data"]["components"][0]["components"][0]["custom_id"],
        "opsbot:approve:1"
    );
    r.api
        .wait_for("the approval message edited to the resolved plan", |c| {
            c.method == "PATCH" && c.body_text().contains("dry run ok")
        })
        .await;
    let own = r.send(&button(ALICE, "opsbot:approve:1")).await;
    assert_eq!(
        own["data"]["flags"], 64,
        "self-approval is refused privately: {own}"
    );
    let approved = r.send(&button(CAROL, "opsbot:approve:1")).await;
    assert_eq!(approved["type"], 7, "{approved}");
    r.api
        .wait_for("the requester's reply edited to the finished run", |c| {
            c.method == "PATCH"
                && c.json()["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("succeeded")
        })
        .await;
    let records = r.bot.records(1).await;
    let approval = records
        .iter()
        .find(|x| x.kind == EventKind::Approved)
        .expect("approved");
    assert_eq!(approval.actor, "carol");
    assert_eq!(records.last().unwrap().kind, EventKind::Finished);
    assert_eq!(records[0].data["platform"], "discord");
    assert!(
        r.api.violations.lock().unwrap().is_empty(),
        "{:?}",
        r.api.violations.lock().unwrap()
    );
}

/// Autocomplete answered by the real core: a user option offers the users
/// with a server on the hub chosen beside it (read from the cluster, by
/// their JupyterHub names, not pod names), to people who may run the
/// command there and nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_option_suggests_the_hubs_users_from_the_cluster() {
    let r = rig().await;
    let hub = || serde_json::json!([{ "name": "hub", "type": 3, "value": "staging" }]);
    let all = r
        .send(&typed_autocomplete(
            ALICE,
            "user",
            "status",
            hub(),
            ("user", ""),
        ))
        .await;
    assert_eq!(all["type"], 8, "{all}");
    let names: Vec<&str> = all["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"alice"), "{names:?}");
    assert!(
        names.contains(&"carol@uni.edu"),
        "the JupyterHub name, not the pod's escaped one: {names:?}"
    );
    let b = r
        .send(&typed_autocomplete(
            ALICE,
            "user",
            "status",
            hub(),
            ("user", "b"),
        ))
        .await;
    assert_eq!(
        b["data"]["choices"],
        serde_json::json!([{ "name": "bob.jones", "value": "bob.jones" }])
    );
    let stranger = r
        .send(&typed_autocomplete(
            STRANGER,
            "user",
            "status",
            hub(),
            ("user", ""),
        ))
        .await;
    assert_eq!(
        stranger["data"]["choices"],
        serde_json::json!([]),
        "someone opsbot does not know learns no user names"
    );
}

/// `approve run:` offers the runs awaiting approval, as numbers, and not
/// the ones that already ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approve_run_option_suggests_the_runs_awaiting_approval() {
    let r = rig().await;
    r.send(&command(ALICE, "hub status staging")).await;
    r.api
        .wait_for("the status run's reply", |c| {
            c.method == "PATCH" && c.body_text().contains("succeeded")
        })
        .await;
    r.send(&command(ALICE, "hub restart staging --reason autocomplete"))
        .await;
    r.api
        .wait_for("the approval message edited to the resolved plan", |c| {
            c.method == "PATCH" && c.body_text().contains("dry run ok")
        })
        .await;
    let v = r
        .send(&typed_autocomplete(
            CAROL,
            "",
            "approve",
            serde_json::json!([]),
            ("run", ""),
        ))
        .await;
    let choices = v["data"]["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 1, "only the waiting run: {v}");
    assert_eq!(choices[0]["value"], 2);
    let label = choices[0]["name"].as_str().unwrap();
    assert!(
        label.starts_with("#2 hub restart") && label.contains("alice"),
        "{label}"
    );
}

/// Issue 14: an interaction that finds the run queue full is answered
/// "busy" before its id is recorded, so the same interaction sent again
/// once opsbot has room runs instead of being refused as a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_answered_busy_is_not_marked_seen_and_runs_when_sent_again() {
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
        let body = command(ALICE, "hub status staging");
        let answer = r.send(&body).await;
        if answer.to_string().contains(opsbot::chat::BUSY) {
            refused = Some(body);
            break;
        }
        accepted += 1;
    }
    let body = refused.expect("a burst past a queue of one finds it full");
    for c in &clusters {
        r.bot.demo.fleet.cluster(c).unwrap().clear_faults();
    }
    for run in 1..=accepted {
        r.bot
            .wait_for_record(opsbot::chat::RunId(run), EventKind::Finished)
            .await;
    }
    let again = r.send(&body).await;
    assert!(!again.to_string().contains(opsbot::chat::BUSY), "{again}");
    r.bot
        .wait_for_record(opsbot::chat::RunId(accepted + 1), EventKind::Requested)
        .await;
}
