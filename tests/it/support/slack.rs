//! Test support for the Slack adapter: a recording fake [`Core`] answering
//! with scripted updates, a fake Slack Web API that records every call and
//! checks it against Slack's documented formats, Slack's v0 request
//! signing, and a harness running the real router on a loopback port.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{watch, Notify};

use opsbot::chat::slack::{RetryPolicy, SlackSettings};
use opsbot::chat::{Ask, Choice, Completions, Core, Replies, Request, Update};

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-bot-token";
pub const APP_TOKEN: &str = "xapp-test-app-token";

/// How long any explicit wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------- fake core

/// What the fake core does with one request.
#[derive(Default)]
pub struct Script {
    /// Sent before `submit` returns (the accepted/refused answer).
    pub now: Vec<Update>,
    /// Sent later from a spawned task, once `gate` (if any) opens.
    pub later: Vec<Update>,
    pub gate: Option<Gate>,
}

/// A switch a test opens to let a scripted run continue (the "cluster").
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Self {
        Gate(Arc::new(watch::channel(false).0))
    }
}

impl Gate {
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

type ScriptFn = dyn Fn(&Request) -> Script + Send + Sync;

/// A [`Core`] that records what it is asked and answers from a script.
pub struct FakeCore {
    pub requests: Mutex<Vec<Request>>,
    pub refusals: Mutex<Vec<(String, String)>>,
    deliveries: Mutex<HashSet<String>>,
    script: Box<ScriptFn>,
    changed: Notify,
}

impl FakeCore {
    pub fn new(script: impl Fn(&Request) -> Script + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(FakeCore {
            requests: Mutex::default(),
            refusals: Mutex::default(),
            deliveries: Mutex::default(),
            script: Box::new(script),
            changed: Notify::new(),
        })
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn refusals(&self) -> Vec<(String, String)> {
        self.refusals.lock().unwrap().clone()
    }
}

impl Core for FakeCore {
    fn submit(&self, req: Request, replies: Replies) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let script = (self.script)(&req);
            self.requests.lock().unwrap().push(req);
            for update in script.now {
                let _ = replies.send(update);
            }
            if !script.later.is_empty() {
                tokio::spawn(async move {
                    if let Some(gate) = script.gate {
                        gate.wait().await;
                    }
                    for update in script.later {
                        let _ = replies.send(update);
                    }
                });
            }
            self.changed.notify_waiters();
        })
    }

    fn first_delivery<'a>(
        &'a self,
        source: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            Ok(self
                .deliveries
                .lock()
                .unwrap()
                .insert(format!("{source}/{id}")))
        })
    }

    fn refused(&self, platform: &str, reason: &str) {
        self.refusals
            .lock()
            .unwrap()
            .push((platform.to_string(), reason.to_string()));
    }

    fn completions(&self) -> Completions {
        Completions::default()
    }

    fn suggest<'a>(&'a self, _ask: Ask<'a>) -> BoxFuture<'a, Vec<Choice>> {
        Box::pin(async { Vec::new() })
    }
}

// ----------------------------------------------------------- fake Slack API

/// One recorded Web API call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub auth: Option<String>,
    pub body: Value,
    pub status: u16,
}

/// A message as the fake Slack holds it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub channel: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Value,
    pub attachments: Value,
    pub edits: usize,
}

impl Msg {
    /// All visible text of the message (text, blocks, attachments) as one
    /// string, for `contains` assertions.
    pub fn all_text(&self) -> String {
        format!("{}\n{}\n{}", self.text, self.blocks, self.attachments)
    }

    pub fn has_button(&self, action: &str) -> bool {
        self.blocks
            .to_string()
            .contains(&format!("\"action_id\":\"{action}\""))
    }
}

/// A failure the fake answers the next call of a method with.
#[derive(Debug, Clone)]
pub enum Fault {
    RateLimited { retry_after_secs: u64 },
    ServerError,
}

#[derive(Default)]
struct World {
    calls: Vec<Call>,
    violations: Vec<String>,
    faults: HashMap<String, VecDeque<Fault>>,
    messages: Vec<Msg>,
    ephemerals: Vec<Value>,
    uploads: HashMap<String, (usize, Option<Vec<u8>>)>,
    ws_url: Option<String>,
}

/// A local stand-in for `https://slack.com/api` that records every call
/// and checks it against Slack's published limits and required fields.
#[derive(Clone)]
pub struct FakeSlack {
    pub base: String,
    world: Arc<Mutex<World>>,
    changed: Arc<Notify>,
    ts: Arc<AtomicU64>,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeSlack {
            base,
            world: Arc::default(),
            changed: Arc::new(Notify::new()),
            ts: Arc::new(AtomicU64::new(1)),
        };
        let app = Router::new()
            .route("/api/{method}", any(api_call))
            .route("/upload/{file}", post(upload))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    /// The `SLACK_API_URL` pointing at this fake.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base)
    }

    pub fn set_socket_url(&self, url: &str) {
        self.world.lock().unwrap().ws_url = Some(url.to_string());
    }

    pub fn fail_next(&self, method: &str, fault: Fault) {
        self.world
            .lock()
            .unwrap()
            .faults
            .entry(method.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.world.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    pub fn violations(&self) -> Vec<String> {
        self.world.lock().unwrap().violations.clone()
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.world.lock().unwrap().messages.clone()
    }

    pub fn ephemerals(&self) -> Vec<Value> {
        self.world.lock().unwrap().ephemerals.clone()
    }

    /// The root message and its replies, in order.
    pub fn thread(&self, channel: &str, root: &str) -> Vec<Msg> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m.channel == channel && (m.ts == root || m.thread_ts.as_deref() == Some(root))
            })
            .collect()
    }

    pub fn uploaded(&self, file: &str) -> Option<Vec<u8>> {
        self.world
            .lock()
            .unwrap()
            .uploads
            .get(file)
            .and_then(|(_, bytes)| bytes.clone())
    }

    /// Waits (bounded) until `done` holds for the recorded calls.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&FakeSlack) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "timed out waiting for {what}; calls so far: {:#?}",
                    self.calls()
                        .iter()
                        .map(|c| format!("{} {} {}", c.method, c.status, c.body))
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    fn next_ts(&self) -> String {
        format!("1700000000.{:06}", self.ts.fetch_add(1, Ordering::SeqCst))
    }
}

async fn api_call(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    http_method: Method,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut violations = Vec::new();
    let body: Value = if http_method == Method::GET {
        json!(query)
    } else {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            violations.push(format!(
                "{method}: content-type {content_type:?} is not JSON"
            ));
        }
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            violations.push(format!("{method}: body is not JSON: {e}"));
            Value::Null
        })
    };
    let token_prefix = if method == "apps.connections.open" {
        format!("Bearer {APP_TOKEN}")
    } else {
        format!("Bearer {BOT_TOKEN}")
    };
    if auth.as_deref() != Some(token_prefix.as_str()) {
        violations.push(format!(
            "{method}: Authorization header is not `{token_prefix}`"
        ));
    }
    let fault = {
        let mut world = fake.world.lock().unwrap();
        world.faults.get_mut(&method).and_then(VecDeque::pop_front)
    };
    let (status, response) = match fault {
        Some(Fault::RateLimited { retry_after_secs }) => {
            let response = (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string())],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
            (429, response)
        }
        Some(Fault::ServerError) => (500, StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        None => {
            let answer = fake.handle(&method, &body, &mut violations);
            (200, Json(answer).into_response())
        }
    };
    {
        let mut world = fake.world.lock().unwrap();
        world.violations.extend(violations);
        world.calls.push(Call {
            method,
            auth,
            body,
            status,
        });
    }
    fake.changed.notify_waiters();
    response
}

async fn upload(State(fake): State<FakeSlack>, Path(file): Path<String>, body: Bytes) -> Response {
    {
        let mut world = fake.world.lock().unwrap();
        let problem = match world.uploads.get_mut(&file) {
            None => Some(format!("upload to {file}: no such upload URL was issued")),
            Some((declared, stored)) => {
                *stored = Some(body.to_vec());
                (*declared != body.len()).then(|| {
                    format!(
                        "upload to {file}: {} bytes sent but length {declared} declared",
                        body.len()
                    )
                })
            }
        };
        world.violations.extend(problem);
        world.calls.push(Call {
            method: "upload".into(),
            auth: None,
            body: json!({"file": file, "len": body.len()}),
            status: 200,
        });
    }
    fake.changed.notify_waiters();
    (StatusCode::OK, "OK - uploaded").into_response()
}

impl FakeSlack {
    fn handle(&self, method: &str, body: &Value, violations: &mut Vec<String>) -> Value {
        let s = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
        let mut world = self.world.lock().unwrap();
        let need = |key: &str, violations: &mut Vec<String>| {
            if s(key).is_none_or(|v| v.is_empty()) {
                violations.push(format!("{method}: required field `{key}` missing"));
            }
        };
        match method {
            "chat.postMessage" => {
                need("channel", violations);
                check_content(method, body, violations);
                let channel = s("channel").unwrap_or_default();
                let thread_ts = s("thread_ts");
                if let Some(thread) = &thread_ts {
                    let root_exists = world
                        .messages
                        .iter()
                        .any(|m| m.channel == channel && &m.ts == thread && m.thread_ts.is_none());
                    let in_thread = world
                        .messages
                        .iter()
                        .any(|m| m.channel == channel && m.thread_ts.as_deref() == Some(thread));
                    if !root_exists && !in_thread && !thread.starts_with("1515") {
                        // (1515… are the fixtures' user messages, not ours)
                        violations.push(format!(
                            "{method}: thread_ts {thread} is not a message in {channel}"
                        ));
                    }
                }
                let ts = self.next_ts();
                world.messages.push(Msg {
                    channel: channel.clone(),
                    ts: ts.clone(),
                    thread_ts,
                    text: s("text").unwrap_or_default(),
                    blocks: body.get("blocks").cloned().unwrap_or(Value::Null),
                    attachments: body.get("attachments").cloned().unwrap_or(Value::Null),
                    edits: 0,
                });
                json!({"ok": true, "channel": channel, "ts": ts,
                       "message": {"ts": ts, "text": s("text")}})
            }
            "chat.update" => {
                need("channel", violations);
                need("ts", violations);
                check_content(method, body, violations);
                let channel = s("channel").unwrap_or_default();
                let ts = s("ts").unwrap_or_default();
                match world
                    .messages
                    .iter_mut()
                    .find(|m| m.channel == channel && m.ts == ts)
                {
                    Some(m) => {
                        m.text = s("text").unwrap_or_default();
                        m.blocks = body.get("blocks").cloned().unwrap_or(Value::Null);
                        m.attachments = body.get("attachments").cloned().unwrap_or(Value::Null);
                        m.edits += 1;
                        json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": s("text")}})
                    }
                    None => {
                        violations.push(format!("{method}: no message {ts} in {channel}"));
                        json!({"ok": false, "error": "message_not_found"})
                    }
                }
            }
            "chat.postEphemeral" => {
                need("channel", violations);
                need("user", violations);
                check_content(method, body, violations);
                world.ephemerals.push(body.clone());
                json!({"ok": true, "message_ts": self.next_ts()})
            }
            "files.getUploadURLExternal" => {
                need("filename", violations);
                let length = s("length").and_then(|l| l.parse::<usize>().ok());
                if length.is_none_or(|l| l == 0) {
                    violations.push(format!("{method}: `length` must be a positive byte count"));
                }
                let file = format!("F{:04}", world.uploads.len() + 1);
                world
                    .uploads
                    .insert(file.clone(), (length.unwrap_or(0), None));
                json!({"ok": true, "upload_url": format!("{}/upload/{file}", self.base), "file_id": file})
            }
            "files.completeUploadExternal" => {
                let files = body
                    .get("files")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if files.is_empty() {
                    violations.push(format!("{method}: `files` must list the uploaded ids"));
                }
                for f in &files {
                    let id = f.get("id").and_then(Value::as_str).unwrap_or("");
                    match world.uploads.get(id) {
                        Some((_, Some(_))) => {}
                        _ => violations.push(format!("{method}: file {id} was never uploaded")),
                    }
                }
                if let Some(thread) = s("thread_ts") {
                    if s("channel_id").is_none() {
                        violations.push(format!("{method}: thread_ts {thread} without channel_id"));
                    }
                }
                json!({"ok": true, "files": files})
            }
            "apps.connections.open" => match &world.ws_url {
                Some(url) => json!({"ok": true, "url": url}),
                None => json!({"ok": false, "error": "not_allowed_token_type"}),
            },
            other => {
                violations.push(format!("unexpected Web API method {other}"));
                json!({"ok": false, "error": "unknown_method"})
            }
        }
    }
}

/// Slack's documented limits for message content.
fn check_content(method: &str, body: &Value, violations: &mut Vec<String>) {
    let text = body.get("text").and_then(Value::as_str);
    let blocks = body.get("blocks").and_then(Value::as_array);
    if text.is_none() && blocks.is_none() {
        violations.push(format!("{method}: one of `text` or `blocks` is required"));
    }
    if blocks.is_some() && text.is_none_or(str::is_empty) {
        violations.push(format!(
            "{method}: `text` fallback missing next to `blocks`"
        ));
    }
    if text.is_some_and(|t| t.chars().count() > 40_000) {
        violations.push(format!("{method}: text longer than 40000 characters"));
    }
    if let Some(thread) = body.get("thread_ts").and_then(Value::as_str) {
        if !is_ts(thread) {
            violations.push(format!("{method}: thread_ts {thread:?} is not a Slack ts"));
        }
    }
    let mut count = 0;
    if let Some(blocks) = blocks {
        count += blocks.len();
        check_blocks(method, blocks, violations);
    }
    if let Some(attachments) = body.get("attachments").and_then(Value::as_array) {
        for a in attachments {
            if let Some(color) = a.get("color").and_then(Value::as_str) {
                if !(color.len() == 7 && color.starts_with('#')) {
                    violations.push(format!(
                        "{method}: attachment colour {color:?} is not #rrggbb"
                    ));
                }
            }
            if let Some(blocks) = a.get("blocks").and_then(Value::as_array) {
                count += blocks.len();
                check_blocks(method, blocks, violations);
            }
        }
    }
    if count > 50 {
        violations.push(format!("{method}: {count} blocks, Slack allows 50"));
    }
}

fn is_ts(ts: &str) -> bool {
    let mut parts = ts.split('.');
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
}

fn text_of(v: &Value) -> Option<(&str, &str)> {
    Some((v.get("type")?.as_str()?, v.get("text")?.as_str()?))
}

fn check_blocks(method: &str, blocks: &[Value], violations: &mut Vec<String>) {
    let mut ids = HashSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{method}: block {i}");
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            if id.len() > 255 || !ids.insert(id.to_string()) {
                violations.push(format!("{at}: block_id {id:?} too long or repeated"));
            }
        }
        match kind {
            "section" => {
                let text = block.get("text");
                let fields = block.get("fields").and_then(Value::as_array);
                if text.is_none() && fields.is_none() {
                    violations.push(format!("{at}: section needs text or fields"));
                }
                if let Some(text) = text {
                    match text_of(text) {
                        Some(("mrkdwn" | "plain_text", t)) if !t.is_empty() => {
                            if t.chars().count() > 3000 {
                                violations.push(format!(
                                    "{at}: section text {} > 3000 characters",
                                    t.chars().count()
                                ));
                            }
                        }
                        _ => violations.push(format!(
                            "{at}: section text must be a non-empty text object"
                        )),
                    }
                }
                if let Some(fields) = fields {
                    if fields.len() > 10 {
                        violations.push(format!("{at}: more than 10 fields"));
                    }
                    for f in fields {
                        if text_of(f).is_none_or(|(_, t)| t.is_empty() || t.chars().count() > 2000)
                        {
                            violations.push(format!("{at}: field empty or > 2000 characters"));
                        }
                    }
                }
            }
            "header" => match block.get("text").and_then(text_of) {
                Some(("plain_text", t)) if !t.is_empty() && t.chars().count() <= 150 => {}
                _ => violations.push(format!(
                    "{at}: header needs plain_text of 1..=150 characters"
                )),
            },
            "context" => {
                let elements = block.get("elements").and_then(Value::as_array);
                match elements {
                    Some(e) if !e.is_empty() && e.len() <= 10 => {
                        for el in e {
                            if text_of(el)
                                .is_none_or(|(_, t)| t.is_empty() || t.chars().count() > 3000)
                            {
                                violations.push(format!("{at}: context element empty or too long"));
                            }
                        }
                    }
                    _ => violations.push(format!("{at}: context needs 1..=10 elements")),
                }
            }
            "actions" => {
                let elements = block.get("elements").and_then(Value::as_array);
                match elements {
                    Some(e) if !e.is_empty() && e.len() <= 25 => {
                        for el in e {
                            let ok = el.get("type").and_then(Value::as_str) == Some("button")
                                && matches!(el.get("text").and_then(text_of), Some(("plain_text", t)) if !t.is_empty() && t.chars().count() <= 75)
                                && el
                                    .get("action_id")
                                    .and_then(Value::as_str)
                                    .is_some_and(|a| !a.is_empty() && a.len() <= 255)
                                && el
                                    .get("value")
                                    .and_then(Value::as_str)
                                    .is_none_or(|v| v.len() <= 2000)
                                && el
                                    .get("style")
                                    .and_then(Value::as_str)
                                    .is_none_or(|s| s == "primary" || s == "danger");
                            if !ok {
                                violations.push(format!("{at}: malformed button {el}"));
                            }
                        }
                    }
                    _ => violations.push(format!("{at}: actions needs 1..=25 elements")),
                }
            }
            "divider" => {}
            other => violations.push(format!("{at}: unexpected block type {other:?}")),
        }
    }
}

// ------------------------------------------------------------------ signing

/// Slack's v0 signature: `v0=` + hex(HMAC-SHA256(secret, `v0:{ts}:{body}`)).
pub fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    let mut message = format!("v0:{ts}:").into_bytes();
    message.extend_from_slice(body);
    format!(
        "v0={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &message))
    )
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ------------------------------------------------------------------ harness

/// The real Slack router on a loopback port, a fake core and a fake Slack.
pub struct Harness {
    pub core: Arc<FakeCore>,
    pub slack: FakeSlack,
    pub base: String,
    pub http: reqwest::Client,
}

pub fn settings(api_url: &str) -> SlackSettings {
    let mut settings = SlackSettings::new(
        SecretString::from(SIGNING_SECRET),
        SecretString::from(BOT_TOKEN),
    );
    settings.api_url = api_url.to_string();
    settings.edit_interval = Duration::from_millis(200);
    settings.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
    };
    settings
}

impl Harness {
    pub async fn start(script: impl Fn(&Request) -> Script + Send + Sync + 'static) -> Harness {
        Harness::start_with(script, |_| {}).await
    }

    /// [`Harness::start`] with adjusted settings.
    pub async fn start_with(
        script: impl Fn(&Request) -> Script + Send + Sync + 'static,
        adjust: impl FnOnce(&mut SlackSettings),
    ) -> Harness {
        let core = FakeCore::new(script);
        let slack = FakeSlack::start().await;
        let mut settings = settings(&slack.api_url());
        adjust(&mut settings);
        let router = opsbot::chat::slack::routes(core.clone(), settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Harness {
            core,
            slack,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// POSTs `body` signed as Slack would, with timestamp `ts`.
    pub async fn post_signed_at(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        ts: i64,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body));
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        req.body(body).send().await.unwrap()
    }

    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        self.post_signed_at(path, content_type, body, now(), &[])
            .await
    }

    /// `/ops TEXT` from `user` in `channel`, built on the documented fixture.
    pub async fn slash(&self, user: &str, channel: &str, text: &str) -> reqwest::Response {
        self.post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            slash_form(user, channel, text).into_bytes(),
        )
        .await
    }

    /// A button press (`block_actions`) by `user` on message `message_ts`.
    pub async fn press(
        &self,
        user: &str,
        action: &str,
        run: i64,
        channel: &str,
        message_ts: &str,
        thread_ts: Option<&str>,
    ) -> reqwest::Response {
        let mut payload: Value =
            serde_json::from_str(include_str!("../fixtures/slack/block_actions.json")).unwrap();
        payload["user"]["id"] = json!(user);
        payload["channel"]["id"] = json!(channel);
        payload["container"]["channel_id"] = json!(channel);
        payload["container"]["message_ts"] = json!(message_ts);
        payload["message"]["ts"] = json!(message_ts);
        payload["message"]["thread_ts"] = json!(thread_ts);
        payload["actions"][0]["action_id"] = json!(action);
        payload["actions"][0]["value"] = json!(run.to_string());
        payload["trigger_id"] = json!(fresh_trigger_id());
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        self.post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        )
        .await
    }
}

/// The fixture's slash command form with `user_id`, `channel_id` and `text` replaced.
pub fn slash_form(user: &str, channel: &str, text: &str) -> String {
    let fixture = include_str!("../fixtures/slack/slash_command.form").trim();
    let mut fields: Vec<(String, String)> = serde_urlencoded::from_str(fixture).unwrap();
    for (key, value) in fields.iter_mut() {
        match key.as_str() {
            "user_id" => *value = user.to_string(),
            "channel_id" => *value = channel.to_string(),
            "text" => *value = text.to_string(),
            // Slack mints one per invocation; opsbot runs each once.
            "trigger_id" => *value = fresh_trigger_id(),
            _ => {}
        }
    }
    serde_urlencoded::to_string(&fields).unwrap()
}

/// A `trigger_id` no other request of this test process used.
pub fn fresh_trigger_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "{}.{}.t{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        now()
    )
}

/// The fixture's `app_mention` event with its id, user and text replaced.
pub fn mention_event(event_id: &str, user: &str, text: &str) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_str(include_str!("../fixtures/slack/event_app_mention.json")).unwrap();
    event["event_id"] = json!(event_id);
    event["event"]["user"] = json!(user);
    event["event"]["text"] = json!(text);
    event.to_string().into_bytes()
}
