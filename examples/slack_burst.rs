//! A burst of signed Slack slash commands, for `benches/burst.sh`: sends
//! `COUNT` (default 2000) `/ops <TEXT>` commands from `SENDERS` (default 32)
//! concurrent senders to `URL`, each signed as Slack signs it
//! (`v0=HMAC-SHA256(secret, "v0:<ts>:<body>")`), and prints one line of
//! counts: `sent=.. ok=.. busy=.. non2xx=.. errors=.. first_send_ms=..
//! last_answer_ms=..` (milliseconds since the Unix epoch). Not for tests.
//!
//! Env: SLACK_SIGNING_SECRET, URL (default
//! http://127.0.0.1:3400/slack/commands), COUNT, SENDERS, TEXT (default
//! `hub status staging`), SLACK_USER (default U0DEMOBOB), BUSY (the text a
//! busy answer carries, default opsbot's `chat::BUSY`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    busy: AtomicUsize,
    non2xx: AtomicUsize,
    errors: AtomicUsize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secret = std::env::var("SLACK_SIGNING_SECRET")?;
    let url = env("URL", "http://127.0.0.1:3400/slack/commands");
    let count: usize = env("COUNT", "2000").parse()?;
    let senders: usize = env("SENDERS", "32").parse()?;
    let text = env("TEXT", "hub status staging");
    let user = env("SLACK_USER", "U0DEMOBOB");
    let busy_text = env("BUSY", opsbot::chat::BUSY);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new(Counts::default());
    let first_send = now_ms();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, next, counts) = (client.clone(), next.clone(), counts.clone());
        let (url, secret, text, user, busy_text) = (
            url.clone(),
            secret.clone(),
            text.clone(),
            user.clone(),
            busy_text.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    return;
                }
                let trigger = format!("1334522460.{i}");
                let body = serde_urlencoded::to_string([
                    ("token", "bench"),
                    ("team_id", "T0001"),
                    ("team_domain", "example"),
                    ("channel_id", "C2147483705"),
                    ("channel_name", "ops"),
                    ("user_id", user.as_str()),
                    ("user_name", "bench"),
                    ("command", "/ops"),
                    ("text", text.as_str()),
                    ("api_app_id", "A123456"),
                    ("response_url", "http://127.0.0.1:9/commands/1234/5678"),
                    ("trigger_id", trigger.as_str()),
                ])
                .expect("a form of strings encodes");
                let ts = (now_ms() / 1000).to_string();
                let mut mac =
                    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
                mac.update(format!("v0:{ts}:{body}").as_bytes());
                let sig = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
                let sent = client
                    .post(&url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("X-Slack-Request-Timestamp", &ts)
                    .header("X-Slack-Signature", sig)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => {
                        let answer = resp.text().await.unwrap_or_default();
                        if answer.contains(&busy_text) {
                            counts.busy.fetch_add(1, Ordering::SeqCst);
                        } else {
                            counts.ok.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => _ = counts.non2xx.fetch_add(1, Ordering::SeqCst),
                    Err(_) => _ = counts.errors.fetch_add(1, Ordering::SeqCst),
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let last_answer = now_ms();
    println!(
        "sent={count} ok={} busy={} non2xx={} errors={} first_send_ms={first_send} last_answer_ms={last_answer}",
        counts.ok.load(Ordering::SeqCst),
        counts.busy.load(Ordering::SeqCst),
        counts.non2xx.load(Ordering::SeqCst),
        counts.errors.load(Ordering::SeqCst),
    );
    Ok(())
}
