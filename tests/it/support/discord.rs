//! Test doubles for the Discord adapter: a local fake of Discord's REST API
//! that records every call and checks it against Discord's documented
//! limits, a scripted fake [`Core`], and Ed25519 signing like Discord's.

#![allow(dead_code)]

use opsbot::chat::RunId;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ed25519_dalek::{Signer, SigningKey};
use futures::future::BoxFuture;
use opsbot::chat::discord::DiscordSettings;
use opsbot::chat::{
    Ask, AskFor, Choice, ChoiceValue, Completions, Core, Outcome, Replies, Request, StepLine,
    Update,
};
use serde_json::{json, Value};
use tokio::sync::Notify;

pub const APP_ID: u64 = 1111111111111111111;
pub const ALICE: &str = "100000000000000001";
pub const CAROL: &str = "100000000000000003";
pub const STRANGER: &str = "999999999999999999";

/// One call the bot made to the fake API.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Call {
    /// The JSON body (or the `payload_json` part of a multipart body).
    pub fn json(&self) -> Value {
        if self.content_type.starts_with("multipart/form-data") {
            let text = String::from_utf8_lossy(&self.body);
            let start = text
                .find("name=\"payload_json\"")
                .expect("payload_json part");
            let rest = &text[start..];
            let json_start = rest.find("\r\n\r\n").expect("part body") + 4;
            let json_end = rest[json_start..].find("\r\n--").expect("part end") + json_start;
            return serde_json::from_str(&rest[json_start..json_end])
                .expect("payload_json is JSON");
        }
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The fake Discord REST API.
#[derive(Default)]
pub struct FakeApi {
    pub calls: Mutex<Vec<Call>>,
    /// Problems with calls, by Discord's documented rules; must stay empty.
    pub violations: Mutex<Vec<String>>,
    /// Answer this many of the next requests with 429 + Retry-After.
    pub rate_limit_next: AtomicUsize,
    pub changed: Notify,
}

impl FakeApi {
    pub async fn start() -> (Arc<FakeApi>, String) {
        let api = Arc::new(FakeApi::default());
        let app = axum::Router::new().fallback(record).with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (api, format!("http://{addr}/api/v10"))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Wait until a recorded call satisfies `f` (bounded; not a speed check).
    pub async fn wait_for(&self, what: &str, f: impl Fn(&Call) -> bool) -> Call {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let notified = self.changed.notified();
            if let Some(c) = self.calls().into_iter().find(|c| f(c)) {
                return c;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no call {what} within 20 s; calls: {:#?}", self.calls());
            }
        }
    }
}

fn message_json(content: &Value) -> Value {
    json!({
        "id": "1300000000000000001", "channel_id": "4444444444444444444", "type": 0,
        "author": { "id": APP_ID.to_string(), "username": "opsbot", "discriminator": "0", "avatar": null, "bot": true },
        "content": content.as_str().unwrap_or(""), "timestamp": "2026-11-23T06:00:00.000000+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false
    })
}

async fn record(
    State(api): State<Arc<FakeApi>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let call = Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        content_type,
        body: body.to_vec(),
    };
    if api
        .rate_limit_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("retry-after", "0.05"),
                ("content-type", "application/json"),
            ],
            r#"{"message":"You are being rate limited.","retry_after":0.05,"global":false}"#,
        )
            .into_response();
    }
    let payload = call.json();
    check(&api, &call, &payload);
    let app = APP_ID.to_string();
    let webhook = format!("/api/v10/webhooks/{app}/");
    // The message routes opsbot uses: edit the original interaction
    // response, post a follow-up, post into a channel.
    let edit_original = call.method == "PATCH"
        && call.path.starts_with(&webhook)
        && call.path.ends_with("/messages/@original");
    let followup = call.method == "POST" && call.path.starts_with(&webhook);
    let channel_message = call.method == "POST"
        && call.path.starts_with("/api/v10/channels/")
        && call.path.ends_with("/messages");
    // Edit Message: PATCH /channels/{channel.id}/messages/{message.id}.
    let channel_edit = call.method == "PATCH"
        && call.path.starts_with("/api/v10/channels/")
        && call.path.contains("/messages/");
    let answer = if edit_original || followup || channel_message || channel_edit {
        message_json(&payload["content"])
    } else if call.method == "POST"
        && call
            .path
            .starts_with(&format!("/api/v10/applications/{app}/"))
        && call.path.ends_with("/commands")
    {
        let mut cmd = payload.clone();
        cmd["id"] = json!("1400000000000000001");
        cmd["application_id"] = json!(app);
        cmd["version"] = json!("1400000000000000002");
        cmd["type"] = json!(1);
        cmd["default_member_permissions"] = Value::Null;
        cmd
    } else {
        api.violations.lock().unwrap().push(format!(
            "{} {}: not a route opsbot should call",
            call.method, call.path
        ));
        api.calls.lock().unwrap().push(call);
        api.changed.notify_waiters();
        return (
            StatusCode::NOT_FOUND,
            r#"{"message":"404: Not Found","code":0}"#,
        )
            .into_response();
    };
    api.calls.lock().unwrap().push(call);
    api.changed.notify_waiters();
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// Discord's documented message limits.
fn check(api: &FakeApi, call: &Call, v: &Value) {
    let mut problems = Vec::new();
    if let Some(c) = v["content"].as_str() {
        if c.chars().count() > 2000 {
            problems.push(format!(
                "content has {} characters (max 2000)",
                c.chars().count()
            ));
        }
    }
    if let Some(embeds) = v["embeds"].as_array() {
        if embeds.len() > 10 {
            problems.push("more than 10 embeds".into());
        }
        for e in embeds {
            if e["description"]
                .as_str()
                .is_some_and(|d| d.chars().count() > 4096)
            {
                problems.push("embed description over 4096".into());
            }
            if e["title"].as_str().is_some_and(|d| d.chars().count() > 256) {
                problems.push("embed title over 256".into());
            }
            for f in e["fields"].as_array().into_iter().flatten() {
                if f["value"]
                    .as_str()
                    .is_some_and(|d| d.chars().count() > 1024 || d.is_empty())
                {
                    problems.push(format!("field value empty or over 1024: {f}"));
                }
            }
        }
    }
    if let Some(rows) = v["components"].as_array() {
        if rows.len() > 5 {
            problems.push("more than 5 action rows".into());
        }
        for r in rows {
            for c in r["components"].as_array().into_iter().flatten() {
                if c["custom_id"].as_str().is_some_and(|id| id.len() > 100) {
                    problems.push("custom_id over 100".into());
                }
            }
        }
    }
    if v["allowed_mentions"].is_null()
        && v.get("content").is_some()
        && call.path.contains("/messages")
    {
        problems.push("messages must set allowed_mentions (output must never ping anyone)".into());
    }
    for p in problems {
        api.violations
            .lock()
            .unwrap()
            .push(format!("{} {}: {p}", call.method, call.path));
    }
}

/// A scripted core: enough of opsbot's behaviour to exercise the adapter.
#[derive(Default)]
pub struct FakeCore {
    pub requests: Mutex<Vec<Request>>,
    pub refusals: Mutex<Vec<(String, String)>>,
    seen: Mutex<HashSet<(String, String)>>,
    origins: Mutex<HashMap<i64, Replies>>,
    /// While set, accepted runs wait for `release` before finishing.
    pub slow: AtomicBool,
    /// `notify_one` lets one held run finish.
    pub release: Arc<Notify>,
}

impl FakeCore {
    pub fn texts(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.text.clone())
            .collect()
    }
}

fn step(id: &str) -> StepLine {
    StepLine {
        id: id.into(),
        action: "kube.get".into(),
        target: "aws-us/staging deployment/hub".into(),
        outcome: "ok".into(),
        millis: 3,
        dry_run: false,
    }
}

fn done(run: impl Into<RunId>, command: &str, person: &str, output: String) -> Update {
    let run: RunId = run.into();
    Update::Done {
        run,
        command: command.into(),
        person: person.into(),
        outcome: Outcome::Succeeded,
        output,
        steps: vec![],
        millis: 7,
        labels: vec![],
        charts: vec![],
    }
}

impl Core for FakeCore {
    fn submit(&self, req: Request, replies: Replies) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.requests.lock().unwrap().push(req.clone());
            let person = match req.sender.as_str() {
                ALICE => "alice",
                CAROL => "carol",
                _ => {
                    let _ = replies.send(Update::Refused {
                        run: None,
                        reason: "you are not set up to use opsbot".into(),
                        detail: format!(
                            "Your discord id `{}` is not linked to a person. Nothing was run.",
                            req.sender
                        ),
                    });
                    return;
                }
            };
            let text = req.text.as_str();
            if text == "help" {
                let _ = replies.send(Update::Info {
                    title: "opsbot commands".into(),
                    body: "hub status <hub>".into(),
                });
            } else if let Some(hub) = text.strip_prefix("hub status ") {
                let _ = replies.send(Update::Accepted {
                    run: RunId(42),
                    command: text.into(),
                    person: person.into(),
                });
                let slow = self.slow.load(Ordering::SeqCst);
                let release = self.release.clone();
                let (hub, text, person) = (hub.to_string(), text.to_string(), person.to_string());
                // Steps and the result come later, like a real run.
                tokio::spawn(async move {
                    if slow {
                        release.notified().await;
                    }
                    let _ = replies.send(Update::Step {
                        run: RunId(42),
                        step: step("hub"),
                    });
                    let _ =
                        replies.send(done(42, &text, &person, format!("Hub **{hub}** is ready.")));
                });
            } else if text.starts_with("hub load ") {
                let _ = replies.send(Update::Accepted {
                    run: RunId(44),
                    command: text.into(),
                    person: person.into(),
                });
                let line = opsbot::chart::Line {
                    label: "namespace=staging".into(),
                    points: vec![(1_700_000_000.0, 1.0), (1_700_000_600.0, 3.0)],
                };
                let png = opsbot::chart::render(
                    &opsbot::chart::Labels {
                        title: "Running servers on staging, last 6h",
                        y: "running servers",
                    },
                    &[line],
                )
                .expect("a chart");
                let mut answer = done(44, text, person, "**Load of staging**".into());
                if let Update::Done { charts, .. } = &mut answer {
                    charts.push(opsbot::chat::Chart {
                        file_name: "hub-load-running-over-time.png".into(),
                        title: "Running servers on staging, last 6h".into(),
                        png: png.into(),
                    });
                }
                let _ = replies.send(answer);
            } else if text.starts_with("users ") {
                let _ = replies.send(Update::Accepted {
                    run: RunId(43),
                    command: text.into(),
                    person: person.into(),
                });
                let output: String = (0..300)
                    .map(|i| format!("jupyter-user{i:03}  Running  3h\n"))
                    .collect();
                let _ = replies.send(done(43, text, person, output));
            } else if text.starts_with("hub restart ") {
                self.origins.lock().unwrap().insert(7, replies.clone());
                let _ = replies.send(Update::AwaitingApproval {
                    run: RunId(7),
                    command: text.into(),
                    person: person.into(),
                    plan: vec![
                        "restart: kube.rollout_restart aws-us/staging deployment/hub".into(),
                    ],
                    approvers: vec!["carol".into()],
                    expires_in: "1h".into(),
                });
            } else if text == "approve 7" {
                if person == "alice" {
                    let _ = replies.send(Update::Refused {
                        run: Some(RunId(7)),
                        reason: "you cannot approve run 7".into(),
                        detail: "Someone other than the requester must approve.".into(),
                    });
                    return;
                }
                let _ = replies.send(Update::Decided {
                    run: RunId(7),
                    by: person.into(),
                    approved: true,
                });
                if let Some(origin) = self.origins.lock().unwrap().remove(&7) {
                    let _ = origin.send(Update::Decided {
                        run: RunId(7),
                        by: person.into(),
                        approved: true,
                    });
                    let _ = origin.send(Update::Accepted {
                        run: RunId(7),
                        command: "hub restart staging".into(),
                        person: "alice".into(),
                    });
                    let _ = origin.send(Update::Step {
                        run: RunId(7),
                        step: step("restart"),
                    });
                    let _ = origin.send(done(
                        7,
                        "hub restart staging",
                        "alice",
                        "Hub **staging** restarted.".into(),
                    ));
                }
            } else {
                let _ = replies.send(Update::Refused {
                    run: None,
                    reason: "I could not read that command".into(),
                    detail: format!("unknown command `{text}`"),
                });
            }
        })
    }

    fn first_delivery<'a>(
        &'a self,
        source: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            Ok(self
                .seen
                .lock()
                .unwrap()
                .insert((source.to_string(), id.to_string())))
        })
    }

    fn refused(&self, platform: &str, reason: &str) {
        self.refusals
            .lock()
            .unwrap()
            .push((platform.into(), reason.into()));
    }

    fn completions(&self) -> Completions {
        Completions {
            commands: vec![
                "hub status".into(),
                "hub restart".into(),
                "help".into(),
                "users".into(),
            ],
            hubs: vec!["staging".into(), "prod".into()],
            clusters: vec!["aws-us".into()],
        }
    }

    /// Canned: users `alice`, `albert` on `staging`; run 7 awaiting approval.
    fn suggest<'a>(&'a self, ask: Ask<'a>) -> BoxFuture<'a, Vec<Choice>> {
        let choices = match ask.what {
            AskFor::Users { hub: "staging" } => ["alice", "albert"]
                .into_iter()
                .filter(|u| u.starts_with(ask.typed))
                .map(|u| Choice {
                    label: u.into(),
                    value: ChoiceValue::Text(u.into()),
                })
                .collect(),
            AskFor::Users { .. } => Vec::new(),
            AskFor::Runs => vec![Choice {
                label: "#7 hub restart staging (alice, awaiting approval)".into(),
                value: ChoiceValue::Number(7),
            }],
        };
        Box::pin(async move { choices })
    }
}

/// The bot's endpoint, a fake Discord API behind it, and a signing key.
pub struct Rig {
    pub core: Arc<FakeCore>,
    pub api: Arc<FakeApi>,
    pub key: SigningKey,
    pub url: String,
    pub settings: DiscordSettings,
    pub http: reqwest::Client,
}

impl Rig {
    pub async fn start() -> Rig {
        let (api, api_url) = FakeApi::start().await;
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let public = hex::encode(key.verifying_key().to_bytes());
        let vars: HashMap<&str, String> = HashMap::from([
            ("DISCORD_PUBLIC_KEY", public),
            ("DISCORD_APPLICATION_ID", APP_ID.to_string()),
            ("DISCORD_BOT_TOKEN", "test-bot-token".to_string()),
            ("DISCORD_API_URL", api_url),
        ]);
        let mut settings = DiscordSettings::from_env_only(&|k| vars.get(k).cloned())
            .unwrap()
            .unwrap();
        // The shipped commands, as `App::build` and `opsbot discord register` fill them in.
        let commands = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
        settings.commands = opsbot::command::Grammar::load_dir(&commands)
            .unwrap()
            .commands()
            .to_vec();
        let core = Arc::new(FakeCore::default());
        let router = opsbot::chat::discord::routes(core.clone(), settings.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Rig {
            core,
            api,
            key,
            url: format!("http://{addr}/discord/interactions"),
            settings,
            http: reqwest::Client::new(),
        }
    }

    /// POST a body signed now with the application's key.
    pub async fn send(&self, body: &str) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp().to_string();
        self.send_signed(body, &ts, &self.key).await
    }

    pub async fn send_signed(&self, body: &str, ts: &str, key: &SigningKey) -> reqwest::Response {
        let sig = key.sign(format!("{ts}{body}").as_bytes());
        self.http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("x-signature-ed25519", hex::encode(sig.to_bytes()))
            .header("x-signature-timestamp", ts)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn next_id() -> String {
    format!(
        "12345678901234{:05}",
        NEXT_ID.fetch_add(1, Ordering::SeqCst)
    )
}

/// The real `/ops` fixture with another user, text and a fresh interaction id.
pub fn command(user: &str, text: &str) -> String {
    let mut v: Value =
        serde_json::from_str(include_str!("../fixtures/discord/application_command.json")).unwrap();
    v["id"] = json!(next_id());
    v["member"]["user"]["id"] = json!(user);
    v["data"]["options"][0]["value"] = json!(text);
    v.to_string()
}

/// The same interaction typed so far, as an autocomplete request (type 4).
pub fn autocomplete(user: &str, typed: &str) -> String {
    let mut v: Value = serde_json::from_str(&command(user, typed)).unwrap();
    v["type"] = json!(4);
    v["data"]["options"][0]["focused"] = json!(true);
    v.to_string()
}

/// A button press (type 3) on a message opsbot posted.
pub fn button(user: &str, custom_id: &str) -> String {
    let mut v: Value = serde_json::from_str(&command(user, "")).unwrap();
    v["type"] = json!(3);
    v["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    v["token"] = json!("YnV0dG9uLXRva2Vu");
    v["message"] = message_json(&json!(
        "⏸ run 7 `hub restart staging` by alice needs approval from someone else"
    ));
    v["message"]["embeds"] = json!([{ "title": "run 7 · hub restart staging", "type": "rich", "color": 0xFEE75C,
        "fields": [{ "name": "Requested by", "value": "alice", "inline": true }] }]);
    v.to_string()
}

/// `user`'s autocomplete interaction for the focused option `focused` of the
/// subcommand `group sub`, with `given` already filled in.
pub fn typed_autocomplete(
    user: &str,
    group: &str,
    sub: &str,
    given: Value,
    focused: (&str, &str),
) -> String {
    let mut v: Value = serde_json::from_str(&command(user, "")).unwrap();
    v["type"] = serde_json::json!(4);
    let mut leaves = given.as_array().cloned().unwrap_or_default();
    // Discord sends the partial text of a focused option as a string,
    // whatever its type (4: integer for runs, 3: string otherwise).
    let kind = if focused.0 == "run" { 4 } else { 3 };
    leaves.push(serde_json::json!({
        "name": focused.0, "type": kind, "value": focused.1, "focused": true
    }));
    v["data"]["options"] = if group.is_empty() {
        serde_json::json!([{ "name": sub, "type": 1, "options": leaves }])
    } else {
        serde_json::json!([{ "name": group, "type": 2,
            "options": [{ "name": sub, "type": 1, "options": leaves }] }])
    };
    v.to_string()
}

pub const PING: &str = include_str!("../fixtures/discord/ping.json");
