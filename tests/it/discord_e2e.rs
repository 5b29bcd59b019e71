//! Discord end to end: the real interactions endpoint in front of the real
//! core on the demo fleet; serenity's HTTP client edits replies on a fake
//! Discord API. The demo's people carry Discord ids (alice, carol).

use crate::support::bot;
use crate::support::discord;

use bot::Bot;
use discord::{button, command, FakeApi, ALICE, APP_ID, CAROL};
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
    let (api, api_url) = FakeApi::start().await;
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let public = hex::encode(key.verifying_key().to_bytes());
    let app = APP_ID.to_string();
    let bot = Bot::start_with_env(&[
        ("DISCORD_PUBLIC_KEY", public.as_str()),
        ("DISCORD_APPLICATION_ID", app.as_str()),
        ("DISCORD_BOT_TOKEN", "discord-e2e-bot-token"),
        ("DISCORD_API_URL", api_url.as_str()),
    ])
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
