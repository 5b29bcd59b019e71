//! GitHub end to end: signed webhook deliveries (GitHub's own example
//! payloads) into the real endpoint in front of the real core on the demo
//! fleet; octocrab posts and edits comments on a fake GitHub API that checks
//! every call against GitHub's REST description (path, method, required
//! body fields).

use crate::support::bot;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use bot::Bot;
use hmac::{Hmac, Mac};
use opsbot::audit::EventKind;
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "github-e2e-webhook-secret";

#[derive(Default)]
struct FakeGithub {
    calls: Mutex<Vec<(String, String, Value)>>,
    violations: Mutex<Vec<String>>,
    next_id: Mutex<u64>,
    /// Refuse `POST …/labels` with 403, as GitHub does for a token without
    /// the Issues write permission.
    refuse_labels: bool,
    /// Answer `POST …/labels` with 500, as GitHub does in an outage.
    fail_labels: bool,
    /// Woken on every recorded call, so tests wait for calls, not time.
    called: tokio::sync::Notify,
}

/// The operations of the REST subset opsbot may call, with the body fields they require.
fn allowed(method: &str, path: &str) -> Option<Vec<String>> {
    let spec: Value =
        serde_json::from_str(include_str!("fixtures/github/rest-api-subset.openapi.json")).unwrap();
    for (template, ops) in spec["paths"].as_object().unwrap() {
        let t: Vec<&str> = template.trim_matches('/').split('/').collect();
        let p: Vec<&str> = path.trim_matches('/').split('/').collect();
        let same =
            t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b);
        if !same {
            continue;
        }
        let op = &ops[method.to_lowercase()];
        if op.is_null() {
            return None;
        }
        let required = op["requestBody"]["content"]["application/json"]["schema"]["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        return Some(required);
    }
    None
}

async fn api(
    State(f): State<Arc<FakeGithub>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> axum::response::Response {
    let path = uri.path().trim_start_matches("/api").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match allowed(method.as_str(), &path) {
        None => f.violations.lock().unwrap().push(format!(
            "{method} {path} is not an operation of GitHub's REST API subset"
        )),
        Some(required) => {
            for field in required {
                if body.get(&field).is_none() {
                    f.violations.lock().unwrap().push(format!(
                        "{method} {path}: missing required body field `{field}`"
                    ));
                }
            }
        }
    }
    f.calls
        .lock()
        .unwrap()
        .push((method.to_string(), path.clone(), body.clone()));
    f.called.notify_waiters();
    if method == Method::POST && path.ends_with("/labels") {
        return labels_answer(&f, &body);
    }
    let id = {
        let mut n = f.next_id.lock().unwrap();
        *n += 1;
        if method == Method::PATCH {
            path.rsplit('/')
                .next()
                .and_then(|x| x.parse().ok())
                .unwrap_or(*n)
        } else {
            9000 + *n
        }
    };
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/github/issue_comment.created.0.json")).unwrap();
    let mut comment = fixture["comment"].clone();
    comment["id"] = json!(id);
    comment["body"] = body["body"].clone();
    let code = if method == Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (code, axum::Json(comment)).into_response()
}

/// `POST /repos/{o}/{r}/issues/{n}/labels`: the issue's labels (GitHub's
/// example shape), or GitHub's 403 when the fake refuses labels.
fn labels_answer(f: &FakeGithub, body: &Value) -> axum::response::Response {
    if f.fail_labels {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({ "message": "Server Error" })),
        )
            .into_response();
    }
    if f.refuse_labels {
        let refusal = json!({
            "message": "Resource not accessible by integration",
            "documentation_url": "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue",
            "status": "403"
        });
        return (StatusCode::FORBIDDEN, axum::Json(refusal)).into_response();
    }
    let labels: Vec<Value> = body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "id": 208045946 + i,
                "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
                "url": format!("https://api.github.com/repos/Codertocat/Hello-World/labels/{}", name.as_str().unwrap_or_default()),
                "name": name,
                "description": null,
                "color": "f29513",
                "default": false
            })
        })
        .collect();
    (StatusCode::OK, axum::Json(Value::Array(labels))).into_response()
}

struct Rig {
    bot: Bot,
    fake: Arc<FakeGithub>,
    url: String,
    http: reqwest::Client,
}

async fn rig() -> Rig {
    rig_with(FakeGithub::default()).await
}

async fn rig_with(fake: FakeGithub) -> Rig {
    let fake = Arc::new(fake);
    let app = axum::Router::new().fallback(api).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let bot = Bot::start_with_env(&[
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        ("GITHUB_TOKEN", "ghp_e2etoken0000000000000000000000000000"),
        ("GITHUB_API_URL", api_url.as_str()),
    ])
    .await;
    assert!(
        bot.demo.app.platforms.github.is_some(),
        "GitHub is configured from the environment alone"
    );
    let router = opsbot::app::server::router(bot.demo.app.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/github/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Rig {
        bot,
        fake,
        url,
        http: reqwest::Client::new(),
    }
}

fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// GitHub's example comment, from `login`, with `body`.
fn comment(login: &str, body: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_str(include_str!("fixtures/github/issue_comment.created.0.json")).unwrap();
    v["comment"]["user"]["login"] = json!(login);
    v["comment"]["user"]["type"] = json!("User");
    v["sender"]["login"] = json!(login);
    v["comment"]["body"] = json!(body);
    serde_json::to_vec(&v).unwrap()
}

impl Rig {
    async fn deliver(
        &self,
        event: &str,
        delivery: &str,
        body: Vec<u8>,
        secret: &str,
    ) -> reqwest::Response {
        self.http
            .post(&self.url)
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", sign(&body, secret))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The `POST …/labels` calls so far, as (path, body).
    fn label_calls(&self) -> Vec<(String, Value)> {
        self.fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.ends_with("/labels"))
            .map(|(_, p, b)| (p.clone(), b.clone()))
            .collect()
    }

    /// Waits until `found` picks something out of the calls so far (woken by
    /// each new call); fails the test after [`bot::PATIENCE`].
    async fn wait_for_call<T>(
        &self,
        what: &str,
        found: impl Fn(&[(String, String, Value)]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + bot::PATIENCE;
        loop {
            let called = self.fake.called.notified();
            tokio::pin!(called);
            called.as_mut().enable();
            if let Some(t) = found(&self.fake.calls.lock().unwrap()) {
                return t;
            }
            if tokio::time::timeout_at(deadline, called).await.is_err() {
                panic!("{what}; calls: {:#?}", self.fake.calls.lock().unwrap());
            }
        }
    }

    async fn wait_for_label_call(&self) -> (String, Value) {
        self.wait_for_call("no labels added", |calls| {
            calls
                .iter()
                .find(|(m, p, _)| m == "POST" && p.ends_with("/labels"))
                .map(|(_, p, b)| (p.clone(), b.clone()))
        })
        .await
    }

    async fn wait_for_comment(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        self.wait_for_call(&format!("no comment {what}"), |calls| {
            calls
                .iter()
                .filter_map(|(_, _, b)| b["body"].as_str())
                .find(|b| f(b))
                .map(str::to_string)
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_command_runs_and_its_comment_ends_with_the_result_and_audit_reference() {
    let r = rig().await;
    let body = comment("bob-demo", "Looking into it.\n\n/ops hub status staging\n");
    let resp = r.deliver("issue_comment", "d-1", body, SECRET).await;
    assert_eq!(resp.status(), 202);
    let done = r
        .wait_for_comment("with the result", |b| {
            b.contains("succeeded") && b.contains("/ops audit 1")
        })
        .await;
    assert!(done.contains("Hub staging"), "{done}");
    let calls = r.fake.calls.lock().unwrap().clone();
    assert_eq!(calls[0].0, "POST");
    assert_eq!(
        calls[0].1,
        "/repos/Codertocat/Hello-World/issues/1/comments"
    );
    assert!(
        calls.iter().skip(1).all(|(m, p, _)| m == "PATCH"
            && p.starts_with("/repos/Codertocat/Hello-World/issues/comments/")),
        "one comment, edited: {calls:#?}"
    );
    assert!(
        r.fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        r.fake.violations.lock().unwrap()
    );
    let records = r.bot.records(1).await;
    assert_eq!(records[0].data["platform"], "github");
    assert_eq!(records[0].data["where"]["repo"], "Codertocat/Hello-World");
    assert_eq!(records.last().unwrap().kind, EventKind::Finished);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_malformed_json_and_replays_run_nothing() {
    let r = rig().await;
    let forged = r
        .deliver(
            "issue_comment",
            "d-2",
            comment("bob-demo", "/ops hub status staging"),
            "wrong",
        )
        .await;
    assert_eq!(forged.status(), 401);
    let bad = r
        .deliver("issue_comment", "d-3", b"{\"action\": ".to_vec(), SECRET)
        .await;
    assert_eq!(bad.status(), 400);
    let first = r
        .deliver(
            "issue_comment",
            "d-4",
            comment("bob-demo", "/ops hub status prod"),
            SECRET,
        )
        .await;
    assert_eq!(first.status(), 202);
    let again = r
        .deliver(
            "issue_comment",
            "d-4",
            comment("bob-demo", "/ops hub status prod"),
            SECRET,
        )
        .await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("duplicate"));
    r.wait_for_comment("for the one run", |b| b.contains("succeeded"))
        .await;
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "exactly one run: {runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_quotes_code_and_bots_run_nothing() {
    let r = rig().await;
    let ping = include_str!("fixtures/github/ping.event.0.json")
        .as_bytes()
        .to_vec();
    assert_eq!(r.deliver("ping", "d-5", ping, SECRET).await.status(), 200);
    let quoted = comment(
        "bob-demo",
        "> /ops hub restart prod --reason x\n\n```\n/ops hub restart prod --reason x\n```\n",
    );
    assert_eq!(
        r.deliver("issue_comment", "d-6", quoted, SECRET)
            .await
            .status(),
        202
    );
    let mut bot_comment: Value =
        serde_json::from_slice(&comment("opsbot[bot]", "/ops hub status staging")).unwrap();
    bot_comment["comment"]["user"]["type"] = json!("Bot");
    assert_eq!(
        r.deliver(
            "issue_comment",
            "d-7",
            serde_json::to_vec(&bot_comment).unwrap(),
            SECRET
        )
        .await
        .status(),
        202
    );
    let edited = include_str!("fixtures/github/issue_comment.edited.7.json")
        .as_bytes()
        .to_vec();
    assert_eq!(
        r.deliver("issue_comment", "d-8", edited, SECRET)
            .await
            .status(),
        202
    );
    // Each of those was decided before its answer. Then a real command: once
    // its comment is final, it is the only run and the only comment.
    let marker = comment("bob-demo", "/ops hub status staging");
    assert_eq!(
        r.deliver("issue_comment", "d-8b", marker, SECRET)
            .await
            .status(),
        202
    );
    r.wait_for_comment("for the later command", |b| b.contains("succeeded"))
        .await;
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "only the later command ran: {runs:?}");
    assert_eq!(runs[0].command, "hub status staging");
    let calls = r.fake.calls.lock().unwrap().clone();
    assert!(
        calls.iter().skip(1).all(|(m, p, _)| m == "PATCH"
            && p.starts_with("/repos/Codertocat/Hello-World/issues/comments/"))
            && calls[0].0 == "POST",
        "nothing but the later command's one comment: {calls:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_commenter_is_told_in_the_thread_and_nothing_runs() {
    let r = rig().await;
    assert_eq!(
        r.deliver(
            "issue_comment",
            "d-9",
            comment("Codertocat", "/ops hub status staging"),
            SECRET
        )
        .await
        .status(),
        202
    );
    let said = r
        .wait_for_comment("telling them", |b| b.contains("not set up"))
        .await;
    assert!(said.starts_with("@Codertocat"), "{said}");
    assert!(r
        .bot
        .audit()
        .list(&Default::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triage_that_finds_the_cause_labels_the_issue_with_the_diagnosis() {
    let r = rig().await;
    let body = comment("bob-demo", "/ops triage staging dave\n");
    assert_eq!(
        r.deliver("issue_comment", "d-10", body, SECRET)
            .await
            .status(),
        202
    );
    let done = r
        .wait_for_comment("with the diagnosis", |b| b.contains("succeeded"))
        .await;
    assert!(
        done.contains("The server's image cannot be pulled"),
        "{done}"
    );
    let (path, body) = r.wait_for_label_call().await;
    assert_eq!(path, "/repos/Codertocat/Hello-World/issues/1/labels");
    assert_eq!(body, json!({ "labels": ["triage: image-pull"] }));
    assert!(
        r.fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        r.fake.violations.lock().unwrap()
    );
    let records = r.bot.records(1).await;
    let end = records.last().unwrap();
    assert_eq!(end.kind, EventKind::Finished);
    assert_eq!(end.data["labels"], json!(["triage: image-pull"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_name_no_label_leave_the_issue_labels_alone() {
    let r = rig().await;
    let body = comment("bob-demo", "/ops hub status staging\n");
    r.deliver("issue_comment", "d-11", body, SECRET).await;
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    // A label would go out right after that final edit. A later run that
    // does name a label is the marker: once its label call came, the status
    // run's chance has passed, and the marker's must be the only one.
    let marker = comment("bob-demo", "/ops triage staging dave\n");
    r.deliver("issue_comment", "d-11b", marker, SECRET).await;
    r.wait_for_label_call().await;
    assert_eq!(
        r.label_calls(),
        vec![(
            "/repos/Codertocat/Hello-World/issues/1/labels".to_string(),
            json!({ "labels": ["triage: image-pull"] })
        )],
        "only the triage run labelled the issue"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_labels_still_leaves_the_comment_with_the_result() {
    crate::support::logs::capture();
    let r = rig_with(FakeGithub {
        refuse_labels: true,
        ..FakeGithub::default()
    })
    .await;
    let body = comment("bob-demo", "/ops triage staging dave\n");
    r.deliver("issue_comment", "d-12", body, SECRET).await;
    let (_, body) = r.wait_for_label_call().await;
    assert_eq!(body, json!({ "labels": ["triage: image-pull"] }));
    let done = r
        .wait_for_comment("with the result", |b| {
            b.contains("succeeded") && b.contains("/ops audit 1")
        })
        .await;
    assert!(done.contains("Reply to the user:"), "{done}");
    // A refusal is final: asked once, not retried. The adapter logs that it
    // gives up (and only then) before it stops; after that line no retry
    // can come.
    crate::support::logs::wait_for(&["cannot label the issue", "403"]).await;
    assert_eq!(r.label_calls().len(), 1, "{:#?}", r.label_calls());
    let records = r.bot.records(1).await;
    assert_eq!(records.last().unwrap().kind, EventKind::Finished);
}

/// octocrab's own retry used to run inside opsbot's: every attempt became
/// four HTTP calls (twenty for one label). Now the one policy decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_labels_is_tried_exactly_as_often_as_the_one_retry_policy_allows() {
    crate::support::logs::capture();
    let r = rig_with(FakeGithub {
        fail_labels: true,
        ..FakeGithub::default()
    })
    .await;
    let body = comment("bob-demo", "/ops triage staging dave\n");
    r.deliver("issue_comment", "d-13", body, SECRET).await;
    // Logged once, after the last attempt: no call can follow it.
    crate::support::logs::wait_for(&["giving up labelling the issue"]).await;
    let attempts = opsbot::chat::retry::RetryPolicy::default().max_attempts as usize;
    assert_eq!(r.label_calls().len(), attempts, "{:#?}", r.label_calls());
}
