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
pub(crate) struct FakeGithub {
    pub(crate) calls: Mutex<Vec<(String, String, Value)>>,
    pub(crate) violations: Mutex<Vec<String>>,
    next_id: Mutex<u64>,
    /// Refuse `POST …/labels` with 403, as GitHub does for a token without
    /// the Issues write permission.
    refuse_labels: bool,
    /// Answer `POST …/labels` with 500, as GitHub does in an outage.
    fail_labels: bool,
    /// Answer `POST …/comments` with 502 after recording it, as a proxy in
    /// front of GitHub may when the comment was in fact created.
    fail_comment_posts: bool,
    /// Answer the first `POST …/comments` with GitHub's 429 and
    /// `Retry-After: 1` (a rate limit: nothing was created).
    rate_limit_first_post: std::sync::atomic::AtomicBool,
    /// Act as GitHub for an App: installation tokens are issued for a JWT
    /// signed with the test key, and every other call must carry a live one.
    app: Option<FakeApp>,
    /// Woken on every recorded call, so tests wait for calls, not time.
    pub(crate) called: tokio::sync::Notify,
}

/// The App side of the fake: what it issued and what it refuses.
#[derive(Default)]
struct FakeApp {
    /// How long an issued token lives (GitHub: an hour).
    lifetime: chrono::Duration,
    /// The first token issued stops working after its first use (401), as
    /// when GitHub revokes a token.
    revoke_first_after_use: bool,
    /// Tokens issued so far, in order: (installation, token).
    issued: Mutex<Vec<(u64, String)>>,
    /// How often each token was used.
    used: Mutex<std::collections::HashMap<String, usize>>,
    /// The Authorization header of every call but the token exchanges.
    auths: Mutex<Vec<(String, Option<String>)>>,
    /// Refuse every token exchange (403), as for an App that was suspended.
    refuse_exchanges: bool,
    /// A plain token the fake also accepts (the deployment's GITHUB_TOKEN).
    plain_token: Option<&'static str>,
}

const APP_ID: u64 = 4711;
const INSTALLATION: u64 = 2311213;

/// The App's JWT as GitHub checks it: RS256 under the App's public key,
/// issued by the App id, not expired, not valid for more than 10 minutes.
fn verify_app_jwt(auth: Option<&str>) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        iss: String,
        iat: i64,
        exp: i64,
    }
    let jwt = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or("no `Authorization: Bearer JWT`")?;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(include_bytes!(
        "fixtures/github/test-app-key.pub.pem"
    ))
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_required_spec_claims(&["exp", "iat", "iss"]);
    v.set_issuer(&[APP_ID.to_string()]);
    let c = jsonwebtoken::decode::<Claims>(jwt, &key, &v)
        .map_err(|e| format!("JWT refused: {e}"))?
        .claims;
    if c.exp - c.iat > 600 {
        return Err(format!(
            "JWT valid for {} s; GitHub allows 600",
            c.exp - c.iat
        ));
    }
    assert_eq!(c.iss, APP_ID.to_string());
    Ok(())
}

impl FakeApp {
    fn answer(
        &self,
        method: &Method,
        path: &str,
        auth: Option<&str>,
    ) -> Option<axum::response::Response> {
        let unauthorized = |why: String| {
            Some(
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({ "message": why, "status": "401" })),
                )
                    .into_response(),
            )
        };
        if let Some(rest) = path.strip_prefix("/app/installations/") {
            if let Err(why) = verify_app_jwt(auth) {
                return unauthorized(why);
            }
            if self.refuse_exchanges {
                return Some(
                    (
                        StatusCode::FORBIDDEN,
                        axum::Json(json!({ "message": "This installation has been suspended" })),
                    )
                        .into_response(),
                );
            }
            let installation: u64 = rest.split('/').next()?.parse().ok()?;
            let mut issued = self.issued.lock().unwrap();
            let token = format!("ghs_fake{:02}", issued.len() + 1);
            issued.push((installation, token.clone()));
            let expires_at = chrono::Utc::now() + self.lifetime;
            return Some(
                (
                    StatusCode::CREATED,
                    axum::Json(json!({
                        "token": token,
                        "expires_at": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        "permissions": { "issues": "write", "metadata": "read" },
                        "repository_selection": "all"
                    })),
                )
                    .into_response(),
            );
        }
        self.auths
            .lock()
            .unwrap()
            .push((format!("{method} {path}"), auth.map(str::to_string)));
        let token = auth
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or_default();
        if Some(token) == self.plain_token {
            return None;
        }
        let issued = self.issued.lock().unwrap();
        let Some(pos) = issued.iter().position(|(_, t)| t == token) else {
            return unauthorized(format!("`{token}` is no token this App was issued"));
        };
        let mut used = self.used.lock().unwrap();
        let n = used.entry(token.to_string()).or_default();
        *n += 1;
        if self.revoke_first_after_use && pos == 0 && *n > 1 {
            return unauthorized("Bad credentials".into());
        }
        None
    }
}

/// The accounts the fake GitHub knows: login → immutable id.
const ACCOUNTS: &[(&str, u64)] = &[
    ("alice-demo", 1001),
    ("bob-demo", 1002),
    ("carol-demo", 1003),
    ("dave-demo", 1004),
    ("Codertocat", 21031067),
    (OPSBOT_LOGIN, OPSBOT_ID),
];

/// The machine account `GITHUB_TOKEN` belongs to (`GET /user`).
const OPSBOT_LOGIN: &str = "opsbot-machine";
const OPSBOT_ID: u64 = 4242;

fn account_id(login: &str) -> Option<u64> {
    ACCOUNTS
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(login))
        .map(|(_, id)| *id)
}

/// GitHub's user shape (the fields opsbot reads, and a few more).
fn account(login: &str, id: u64) -> Value {
    json!({
        "login": login, "id": id, "node_id": "MDQ6VXNlcjE=", "type": "User",
        "site_admin": false, "url": format!("https://api.github.com/users/{login}"),
    })
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
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let path = uri.path().trim_start_matches("/api").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
    if let Some(app) = &f.app {
        if let Some(refusal) = app.answer(&method, &path, auth.as_deref()) {
            f.called.notify_waiters();
            return refusal;
        }
    }
    f.called.notify_waiters();
    if method == Method::POST && path.ends_with("/labels") {
        return labels_answer(&f, &body);
    }
    if method == Method::GET && path == "/user" {
        return axum::Json(account(OPSBOT_LOGIN, OPSBOT_ID)).into_response();
    }
    if let (true, Some(login)) = (method == Method::GET, path.strip_prefix("/users/")) {
        return match ACCOUNTS.iter().find(|(l, _)| *l == login) {
            Some((l, id)) => axum::Json(account(l, *id)).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                axum::Json(json!({ "message": "Not Found", "status": "404" })),
            )
                .into_response(),
        };
    }
    if let (true, Some(login)) = (
        method == Method::GET,
        path.strip_suffix("/permission")
            .and_then(|p| p.rsplit_once("/collaborators/"))
            .map(|(_, l)| l.to_string()),
    ) {
        // alice may write; bob may only read; anyone else is no collaborator.
        let (permission, role) = match login.as_str() {
            "alice-demo" => ("write", "maintain"),
            "bob-demo" => ("read", "triage"),
            _ => {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({ "message": "Not Found" })),
                )
                    .into_response()
            }
        };
        let id = account_id(&login).unwrap_or(1);
        return axum::Json(json!({
            "permission": permission, "role_name": role, "user": account(&login, id)
        }))
        .into_response();
    }
    if let (true, Some(rest)) = (method == Method::GET, path.strip_prefix("/orgs/")) {
        // Codertocat/sre: alice is an active member, bob only invited.
        let state = match rest {
            "Codertocat/teams/sre/memberships/alice-demo" => "active",
            "Codertocat/teams/sre/memberships/bob-demo" => "pending",
            _ => {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({ "message": "Not Found" })),
                )
                    .into_response()
            }
        };
        return axum::Json(json!({
            "url": format!("https://api.github.com{path}"), "role": "member", "state": state
        }))
        .into_response();
    }
    if method == Method::POST && path.ends_with("/reactions") {
        let reaction = json!({
            "id": 1, "node_id": "MDg6UmVhY3Rpb24x", "content": body["content"],
            "created_at": "2016-05-20T20:09:31Z",
            "user": account(OPSBOT_LOGIN, OPSBOT_ID),
        });
        return (StatusCode::CREATED, axum::Json(reaction)).into_response();
    }
    if method == Method::POST
        && path.ends_with("/comments")
        && f.rate_limit_first_post
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            axum::Json(json!({ "message": "API rate limit exceeded" })),
        )
            .into_response();
    }
    if f.fail_comment_posts && method == Method::POST && path.ends_with("/comments") {
        return (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({ "message": "Server Error" })),
        )
            .into_response();
    }
    if method == Method::POST && path.starts_with("/repos/") && path.ends_with("/issues") {
        // A new issue: GitHub answers 201 with its number.
        let number = {
            let mut n = f.next_id.lock().unwrap();
            *n += 1;
            100 + *n
        };
        let issue = json!({
            "id": 1_000_000 + number, "number": number, "state": "open",
            "title": body["title"], "body": body["body"],
            "html_url": format!("https://github.com{}/{number}", path.trim_start_matches("/repos")),
            "user": account(OPSBOT_LOGIN, OPSBOT_ID), "labels": [], "comments": 0,
        });
        return (StatusCode::CREATED, axum::Json(issue)).into_response();
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

/// The fake GitHub API on a loopback port: it and its base URL.
pub(crate) async fn start_fake(fake: FakeGithub) -> (Arc<FakeGithub>, String) {
    let fake = Arc::new(fake);
    let app = axum::Router::new().fallback(api).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, api_url)
}

async fn rig_with(fake: FakeGithub) -> Rig {
    rig_env(
        fake,
        &[("GITHUB_TOKEN", "ghp_e2etoken0000000000000000000000000000")],
    )
    .await
}

/// An App-only deployment: App id and the test key, no token.
async fn rig_app(app: FakeApp) -> Rig {
    rig_app_with(app, &[]).await
}

async fn rig_app_with(app: FakeApp, more: &[(&str, &str)]) -> Rig {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/fixtures/github/test-app-key.pem"
    );
    let app_id = APP_ID.to_string();
    rig_env(
        FakeGithub {
            app: Some(app),
            ..FakeGithub::default()
        },
        &[
            &[
                ("GITHUB_APP_ID", app_id.as_str()),
                ("GITHUB_PRIVATE_KEY_FILE", key),
            ],
            more,
        ]
        .concat(),
    )
    .await
}

async fn rig_env(fake: FakeGithub, auth: &[(&str, &str)]) -> Rig {
    rig_limits(fake, auth, opsbot::runs::Limits::default()).await
}

async fn rig_limits(fake: FakeGithub, auth: &[(&str, &str)], limits: opsbot::runs::Limits) -> Rig {
    let (fake, api_url) = start_fake(fake).await;
    let mut env = vec![
        ("GITHUB_WEBHOOK_SECRET", SECRET),
        ("GITHUB_API_URL", api_url.as_str()),
    ];
    env.extend_from_slice(auth);
    let bot = Bot::start_with_env_and_limits(&env, limits).await;
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

/// GitHub's example comment, from `login` (with that account's id), with `body`.
fn comment(login: &str, body: &str) -> Vec<u8> {
    comment_by(
        login,
        account_id(login).expect("an account of the fake"),
        body,
    )
}

/// GitHub's example comment by account `id`, showing login `login`.
fn comment_by(login: &str, id: u64, body: &str) -> Vec<u8> {
    let mut v: Value =
        serde_json::from_str(include_str!("fixtures/github/issue_comment.created.0.json")).unwrap();
    // Each comment its own: GitHub never sends two comments with one id.
    static NEXT_COMMENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    v["comment"]["id"] =
        json!(7_000_000 + NEXT_COMMENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    v["comment"]["user"]["login"] = json!(login);
    v["comment"]["user"]["id"] = json!(id);
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

    /// The calls so far that write the comments (look-ups and reactions left out).
    fn comment_calls(&self) -> Vec<(String, String, Value)> {
        self.fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m != "GET" && !p.ends_with("/reactions"))
            .cloned()
            .collect()
    }

    /// The reactions posted so far, as (comment path, content).
    fn reactions(&self) -> Vec<(String, String)> {
        self.fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.ends_with("/reactions"))
            .map(|(_, p, b)| {
                (
                    p.clone(),
                    b["content"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
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
    let calls = r.comment_calls();
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
    assert_eq!(again.headers()["x-opsbot-outcome"], "duplicate");
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
        serde_json::from_slice(&comment_by("opsbot[bot]", 9_999, "/ops hub status staging"))
            .unwrap();
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
    let calls = r.comment_calls();
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
    let attempts = opsbot::retry::RetryPolicy::default().max_attempts as usize;
    assert_eq!(r.label_calls().len(), attempts, "{:#?}", r.label_calls());
}

/// Issue 17: who asked is the account id, not the login in the payload. A
/// renamed account keeps its person; someone who takes over a freed login
/// (another id) is nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commenter_is_matched_by_account_id_so_a_recycled_login_is_nobody() {
    let r = rig().await;
    // Someone else now holds the login `bob-demo`: a new account id.
    let impostor = comment_by("bob-demo", 777_000, "/ops hub status staging");
    assert_eq!(
        r.deliver("issue_comment", "id-1", impostor, SECRET)
            .await
            .status(),
        202
    );
    let said = r
        .wait_for_comment("refusing the impostor", |b| b.contains("not set up"))
        .await;
    assert!(said.starts_with("@bob-demo"), "{said}");
    // bob renamed his account: the same id under a new login is still bob.
    let renamed = comment_by("bob-renamed", 1002, "/ops hub status prod");
    r.deliver("issue_comment", "id-2", renamed, SECRET).await;
    r.wait_for_comment("for bob's run", |b| b.contains("succeeded"))
        .await;
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "only bob's run: {runs:?}");
    assert_eq!(runs[0].command, "hub status prod");
    assert_eq!(runs[0].person, "bob");
    let calls = r.fake.calls.lock().unwrap().clone();
    assert!(
        calls
            .iter()
            .any(|(m, p, _)| m == "GET" && p == "/users/bob-demo"),
        "the configured login was resolved to its id: {calls:#?}"
    );
    assert!(
        r.fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        r.fake.violations.lock().unwrap()
    );
}

/// Issue 17: `X-GitHub-Delivery` is not signed. A captured body sent again
/// under a new delivery id is the same signed comment and runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_body_replayed_under_a_new_delivery_id_runs_nothing() {
    let r = rig().await;
    let body = comment("bob-demo", "/ops hub status staging");
    assert_eq!(
        r.deliver("issue_comment", "rp-1", body.clone(), SECRET)
            .await
            .status(),
        202
    );
    let again = r
        .deliver("issue_comment", "rp-2-forged", body, SECRET)
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["x-opsbot-outcome"], "duplicate");
    assert!(again.text().await.unwrap().contains("duplicate"));
    r.wait_for_comment("for the one run", |b| b.contains("succeeded"))
        .await;
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "exactly one run: {runs:?}");
}

/// Issue 17: opsbot's token may be a machine user's (type `User`, no
/// `[bot]`); its own replies (help lists `/ops` lines) must never run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_by_the_tokens_own_account_run_nothing() {
    let r = rig().await;
    let own = comment_by(OPSBOT_LOGIN, OPSBOT_ID, "/ops hub status staging");
    let resp = r.deliver("issue_comment", "own-1", own, SECRET).await;
    assert_eq!(resp.status(), 202);
    assert!(resp.text().await.unwrap().contains("opsbot's own"));
    // A real command afterwards is the marker: once it is answered, it is
    // the only run and the only comment.
    r.deliver(
        "issue_comment",
        "own-2",
        comment("bob-demo", "/ops hub status prod"),
        SECRET,
    )
    .await;
    r.wait_for_comment("for bob's run", |b| b.contains("succeeded"))
        .await;
    let runs = r.bot.audit().list(&Default::default()).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].command, "hub status prod");
    let calls = r.fake.calls.lock().unwrap().clone();
    assert_eq!(
        calls
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.ends_with("/comments"))
            .count(),
        1,
        "{calls:#?}"
    );
    assert!(calls.iter().any(|(m, p, _)| m == "GET" && p == "/user"));
}

/// Issue 16 "one retry policy": a comment POST that failed after it went
/// out (a 502 may hide a created comment) is not posted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_post_that_may_have_been_applied_is_not_repeated() {
    crate::support::logs::capture();
    let r = rig_with(FakeGithub {
        fail_comment_posts: true,
        ..FakeGithub::default()
    })
    .await;
    r.deliver(
        "issue_comment",
        "np-1",
        comment("bob-demo", "/ops hub status staging"),
        SECRET,
    )
    .await;
    // Logged when the adapter gives up on the first comment; any repeat of
    // it would have been sent before that line. (A later update of the run
    // may post its own, different, comment.)
    crate::support::logs::wait_for(&["giving up posting a comment"]).await;
    let bodies: Vec<String> = r
        .fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/comments"))
        .map(|(_, _, b)| b["body"].to_string())
        .collect();
    let distinct: std::collections::BTreeSet<&String> = bodies.iter().collect();
    assert!(!bodies.is_empty());
    assert_eq!(
        distinct.len(),
        bodies.len(),
        "no comment posted twice: {bodies:#?}"
    );
}

fn posted(fake: &FakeGithub) -> Vec<String> {
    fake.calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/comments"))
        .map(|(_, _, b)| b["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits until `fake` has recorded `n` posted comments (woken by each call).
async fn wait_for_posts(fake: &FakeGithub, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + bot::PATIENCE;
    loop {
        let called = fake.called.notified();
        tokio::pin!(called);
        called.as_mut().enable();
        let now = posted(fake);
        if now.len() >= n {
            return now;
        }
        if tokio::time::timeout_at(deadline, called).await.is_err() {
            panic!("not {n} comments posted: {now:#?}");
        }
    }
}

/// Issue 17 through the binary: `opsbot serve` with GitHub configured from
/// the environment. A captured delivery replayed under a new delivery id
/// runs nothing, and a login taken over by another account is nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_matches_commenters_by_account_id_and_drops_a_replayed_body_under_a_new_delivery_id()
{
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let cfg = dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\naudit: {{ url: \"sqlite://{db}\" }}\n\
             commands: {root}/commands\nplaybooks: {root}/playbooks\n\
             people:\n  - {{ id: bob, github: bob-demo, roles: [support] }}\n\
             roles:\n  support: {{ run: [help] }}\n",
            db = dir.path().join("audit.db").display()
        ),
    )
    .unwrap();
    let env = [
        ("GITHUB_WEBHOOK_SECRET", SECRET.to_string()),
        (
            "GITHUB_TOKEN",
            "ghp_servetoken000000000000000000000000000".to_string(),
        ),
        ("GITHUB_API_URL", api_url),
    ];
    let server = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::support::server::Server::start(&cfg, &env)
    })
    .await
    .unwrap();
    let url = format!("http://127.0.0.1:{}/github/webhook", server.port);
    let http = reqwest::Client::new();
    let deliver = |delivery: &'static str, body: Vec<u8>| {
        http.post(&url)
            .header("x-github-event", "issue_comment")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", sign(&body, SECRET))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let bobs = comment("bob-demo", "/ops help");
    assert_eq!(deliver("sv-1", bobs.clone()).await.unwrap().status(), 202);
    let first = wait_for_posts(&fake, 1).await;
    assert!(!first[0].contains("not set up"), "bob is bob: {first:?}");

    let replay = deliver("sv-2-new-id", bobs).await.unwrap();
    assert_eq!(replay.status(), 200);
    assert!(replay.text().await.unwrap().contains("duplicate"));

    let impostor = comment_by("bob-demo", 777_000, "/ops help");
    assert_eq!(deliver("sv-3", impostor).await.unwrap().status(), 202);
    let all = wait_for_posts(&fake, 2).await;
    assert!(all[1].contains("not set up"), "{all:#?}");
    assert_eq!(all.len(), 2, "the replay posted nothing: {all:#?}");
    assert!(
        fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        fake.violations.lock().unwrap()
    );
    drop(server);
}

/// Issue 17: `opsbot check` says how GitHub commenters will be matched
/// (account ids; logins resolved through the API) and which auth is used.
#[test]
fn check_says_how_github_people_are_matched_and_which_auth_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(
        &cfg,
        format!(
            "audit: {{ url: \"sqlite://{db}\" }}\ncommands: {root}/commands\nplaybooks: {root}/playbooks\n\
             github: {{ webhook_secret: \"${{GH_SECRET}}\", token: \"${{GH_TOKEN}}\", teams: {{ example-org/sre: [r] }} }}\n\
             people:\n  - {{ id: ann, github: \"id:583231\", roles: [r] }}\n  - {{ id: ben, github: ben-gh, roles: [r] }}\n\
             roles:\n  r: {{ run: [help] }}\n",
            db = dir.path().join("audit.db").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["check", "--config"])
        .arg(&cfg)
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .env_remove("GITHUB_TOKEN")
        .env("GH_SECRET", "s3cret-for-check")
        .env("GH_TOKEN", "ghp_checktoken")
        .output()
        .unwrap();
    let text = crate::support::binary::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("github: auth: token (GITHUB_TOKEN)"),
        "{text}"
    );
    assert!(
        text.contains("1 person(s) written as `id:NUMBER`, 1 login(s) resolved to ids"),
        "{text}"
    );
    assert!(
        text.contains("github.teams: 1 team(s) grant opsbot roles to their active members"),
        "{text}"
    );
    assert!(
        !text.contains("ghp_checktoken") && !text.contains("s3cret"),
        "{text}"
    );
}

/// `body` as delivered to the App installed as [`INSTALLATION`].
fn from_installation(body: Vec<u8>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["installation"] = json!({ "id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw==" });
    serde_json::to_vec(&v).unwrap()
}

impl Rig {
    fn app(&self) -> &FakeApp {
        self.fake.app.as_ref().expect("an App rig")
    }

    fn issued(&self) -> Vec<(u64, String)> {
        self.app().issued.lock().unwrap().clone()
    }

    fn assert_no_violations(&self) {
        let v = self.fake.violations.lock().unwrap();
        assert!(v.is_empty(), "{v:?}");
    }
}

/// Issue 16: with only `app_id` and the private key, replies are posted
/// with an installation token, fetched with a JWT GitHub accepts (verified
/// by the fake with the test key) and cached for the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_only_deployment_replies_with_an_installation_token_from_a_verified_jwt() {
    let r = rig_app(FakeApp {
        lifetime: chrono::Duration::hours(1),
        ..FakeApp::default()
    })
    .await;
    let body = from_installation(comment("bob-demo", "/ops hub status staging"));
    assert_eq!(
        r.deliver("issue_comment", "app-1", body, SECRET)
            .await
            .status(),
        202
    );
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    let body = from_installation(comment("bob-demo", "/ops hub status prod"));
    r.deliver("issue_comment", "app-2", body, SECRET).await;
    r.wait_for_comment("with the second result", |b| {
        b.contains("succeeded") && b.contains("hub status prod")
    })
    .await;
    assert_eq!(
        r.issued(),
        vec![(INSTALLATION, "ghs_fake01".to_string())],
        "one token for the installation, cached"
    );
    let auths = r.app().auths.lock().unwrap().clone();
    assert!(
        auths
            .iter()
            .all(|(_, a)| a.as_deref() == Some("Bearer ghs_fake01")),
        "{auths:#?}"
    );
    assert!(auths.iter().any(|(c, _)| c.starts_with("POST /repos/")));
    r.assert_no_violations();
}

/// Issue 16: a token about to expire is not used; a new one is fetched first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_token_about_to_expire_is_replaced_before_it_is_used() {
    // Four minutes left is inside the five-minute margin: every call fetches.
    let r = rig_app(FakeApp {
        lifetime: chrono::Duration::minutes(4),
        ..FakeApp::default()
    })
    .await;
    let body = from_installation(comment("bob-demo", "/ops hub status staging"));
    r.deliver("issue_comment", "exp-1", body, SECRET).await;
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    let issued = r.issued();
    let auths = r.app().auths.lock().unwrap().clone();
    assert!(issued.len() >= 2, "{issued:?}");
    let used: std::collections::BTreeSet<_> = auths.iter().map(|(_, a)| a.clone()).collect();
    assert_eq!(
        (issued.len(), used.len()),
        (auths.len(), auths.len()),
        "a fresh token for every call, none used twice: {auths:#?}"
    );
    r.assert_no_violations();
}

/// Issue 16: GitHub answers 401 to a token it revoked; the token is
/// forgotten, a new one fetched once, and the call goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_fetches_a_new_installation_token_once_and_the_reply_goes_through() {
    let r = rig_app(FakeApp {
        lifetime: chrono::Duration::hours(1),
        revoke_first_after_use: true,
        ..FakeApp::default()
    })
    .await;
    let body = from_installation(comment("bob-demo", "/ops hub status staging"));
    r.deliver("issue_comment", "401-1", body, SECRET).await;
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    let issued: Vec<String> = r.issued().into_iter().map(|(_, t)| t).collect();
    assert_eq!(issued, vec!["ghs_fake01", "ghs_fake02"]);
    let auths = r.app().auths.lock().unwrap().clone();
    let with_first = auths
        .iter()
        .filter(|(_, a)| a.as_deref() == Some("Bearer ghs_fake01"))
        .count();
    assert_eq!(
        with_first, 2,
        "used once, refused once, then never again: {auths:#?}"
    );
    r.assert_no_violations();
}

/// Issue 16: `opsbot check` says an App is used, and finds a broken key
/// before the first delivery does.
#[test]
fn check_names_app_auth_and_refuses_a_key_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let check = |key: &str| {
        let cfg = dir.path().join("opsbot.yaml");
        std::fs::write(
            &cfg,
            format!(
                "audit: {{ url: \"sqlite://{db}\" }}\ncommands: {root}/commands\nplaybooks: {root}/playbooks\n\
                 github: {{ webhook_secret: \"${{GH_SECRET}}\", app_id: {APP_ID}, private_key_file: \"{key}\" }}\n",
                db = dir.path().join("audit.db").display()
            ),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .args(["check", "--config"])
            .arg(&cfg)
            .env_remove("GITHUB_WEBHOOK_SECRET")
            .env_remove("GITHUB_TOKEN")
            .env("GH_SECRET", "s3cret-for-check")
            .output()
            .unwrap()
    };
    let good = check(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/fixtures/github/test-app-key.pem"
    ));
    let text = crate::support::binary::output_text(&good);
    assert_eq!(good.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "github: auth: GitHub App {APP_ID}: an installation token per installation"
        )),
        "{text}"
    );
    let not_a_key = dir.path().join("key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let bad = check(not_a_key.to_str().unwrap());
    let text = crate::support::binary::output_text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("not an RSA private key"), "{text}");
}

/// Issue 16: the command's own comment gets `eyes` when the command is
/// accepted and `rocket` when its run succeeded, as GitHub's reactions API
/// defines them; a refused command gets `confused`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_comment_gets_eyes_then_rocket_or_confused_when_nothing_ran() {
    let r = rig().await;
    let mut ok: Value =
        serde_json::from_slice(&comment("bob-demo", "/ops hub status staging")).unwrap();
    ok["comment"]["id"] = json!(555_001);
    r.deliver(
        "issue_comment",
        "re-1",
        serde_json::to_vec(&ok).unwrap(),
        SECRET,
    )
    .await;
    let on_ok = "/repos/Codertocat/Hello-World/issues/comments/555001/reactions".to_string();
    r.wait_for_call("no rocket", |calls| {
        calls
            .iter()
            .any(|(_, p, b)| *p == on_ok && b["content"] == "rocket")
            .then_some(())
    })
    .await;
    let mut refused: Value =
        serde_json::from_slice(&comment("Codertocat", "/ops hub status staging")).unwrap();
    refused["comment"]["id"] = json!(555_002);
    r.deliver(
        "issue_comment",
        "re-2",
        serde_json::to_vec(&refused).unwrap(),
        SECRET,
    )
    .await;
    let on_refused = "/repos/Codertocat/Hello-World/issues/comments/555002/reactions".to_string();
    r.wait_for_call("no confused", |calls| {
        calls.iter().any(|(_, p, _)| *p == on_refused).then_some(())
    })
    .await;
    assert_eq!(
        r.reactions(),
        vec![
            (on_ok.clone(), "eyes".to_string()),
            (on_ok, "rocket".to_string()),
            (on_refused, "confused".to_string()),
        ]
    );
    r.assert_no_violations();
}

/// `opsbot serve` on a config with `github_section` (secrets from the
/// environment) and the people alice and bob, against the fake at `api_url`.
async fn serve_github(
    github_section: &str,
    api_url: String,
) -> (crate::support::server::Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_github_in(dir.path(), github_section, api_url).await;
    (server, dir)
}

/// [`serve_github`] with its config and audit log in `dir` (so a second
/// start is a restart on the same audit log).
async fn serve_github_in(
    dir: &std::path::Path,
    github_section: &str,
    api_url: String,
) -> crate::support::server::Server {
    let root = env!("CARGO_MANIFEST_DIR");
    let cfg = dir.join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\naudit: {{ url: \"sqlite://{db}\" }}\n\
             commands: {root}/commands\nplaybooks: {root}/playbooks\n\
             github: {{ webhook_secret: \"${{GITHUB_WEBHOOK_SECRET}}\", token: \"${{GITHUB_TOKEN}}\", {github_section} }}\n\
             people:\n  - {{ id: alice, github: alice-demo, roles: [support] }}\n  - {{ id: bob, github: bob-demo, roles: [support] }}\n\
             roles:\n  support: {{ run: [help] }}\n  sre: {{ run: [\"fleet status\"] }}\n",
            db = dir.join("audit.db").display()
        ),
    )
    .unwrap();
    let env = [
        ("GITHUB_WEBHOOK_SECRET", SECRET.to_string()),
        (
            "GITHUB_TOKEN",
            "ghp_servetoken000000000000000000000000000".to_string(),
        ),
        ("GITHUB_API_URL", api_url),
    ];
    let server = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::support::server::Server::start(&cfg, &env)
    })
    .await
    .unwrap();
    server
}

async fn deliver_to(port: u16, event: &str, delivery: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/github/webhook"))
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", sign(&body, SECRET))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Issue 16: `github.min_permission` is checked against the commenter's
/// repository permission (GitHub's role name); below it, the reply names
/// the rule and nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_permission_refuses_a_commenter_below_it_naming_the_rule_and_runs_nothing() {
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let (server, _dir) = serve_github("min_permission: write", api_url).await;
    let resp = deliver_to(
        server.port,
        "issue_comment",
        "mp-1",
        comment("bob-demo", "/ops help"),
    )
    .await;
    assert_eq!(resp.status(), 202);
    assert!(resp.text().await.unwrap().contains("min_permission"));
    let refused = wait_for_posts(&fake, 1).await;
    assert!(
        refused[0].contains("refused by `github.min_permission`")
            && refused[0].contains("need `write`")
            && refused[0].contains("you have `triage`"),
        "{refused:?}"
    );
    deliver_to(
        server.port,
        "issue_comment",
        "mp-2",
        comment("alice-demo", "/ops help"),
    )
    .await;
    let all = wait_for_posts(&fake, 2).await;
    assert!(
        !all[1].contains("refused"),
        "alice (maintain) may: {all:#?}"
    );
    assert_eq!(all.len(), 2);
    let calls = fake.calls.lock().unwrap().clone();
    assert!(calls.iter().any(|(m, p, _)| m == "GET"
        && p == "/repos/Codertocat/Hello-World/collaborators/bob-demo/permission"));
    assert!(
        fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        fake.violations.lock().unwrap()
    );
    drop(server);
}

/// Issue 14: the permission check is an API call the answer waits for; a
/// commenter's answer stands for a minute, so their next comments on the
/// repository cost no call (and are still refused while it says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commenters_permission_is_asked_once_a_minute_not_once_per_comment() {
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let (server, _dir) = serve_github("min_permission: write", api_url).await;
    for (n, delivery) in ["pc-1", "pc-2", "pc-3"].into_iter().enumerate() {
        let resp = deliver_to(
            server.port,
            "issue_comment",
            delivery,
            comment("bob-demo", "/ops help"),
        )
        .await;
        assert_eq!(resp.status(), 202);
        let posts = wait_for_posts(&fake, n + 1).await;
        assert!(
            posts[n].contains("refused by `github.min_permission`"),
            "comment {n} is refused like the first: {posts:#?}"
        );
    }
    let asked = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| {
            m == "GET" && p == "/repos/Codertocat/Hello-World/collaborators/bob-demo/permission"
        })
        .count();
    assert_eq!(asked, 1, "three comments, one permission call");
    drop(server);
}

/// Issue 16: `github.teams` grants its roles to the team's active members,
/// read through GitHub's team-membership API and cached: alice (active in
/// Codertocat/sre) may run `fleet status`, which only the team's role allows;
/// bob (invited, not yet a member) is refused; alice's second comment is
/// answered from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_team_grants_its_roles_to_active_members_only_and_is_asked_once() {
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let (server, _dir) = serve_github("teams: { Codertocat/sre: [sre] }", api_url).await;
    let membership = |login: &str| {
        let path = format!("/orgs/Codertocat/teams/sre/memberships/{login}");
        fake.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "GET" && *p == path)
            .count()
    };
    deliver_to(
        server.port,
        "issue_comment",
        "tm-1",
        comment("alice-demo", "/ops fleet status"),
    )
    .await;
    let first = wait_for_posts(&fake, 1).await;
    assert!(
        !first[0].contains("not allowed") && !first[0].contains("✖"),
        "alice's team role allows clusters: {first:#?}"
    );
    deliver_to(
        server.port,
        "issue_comment",
        "tm-2",
        comment("bob-demo", "/ops fleet status"),
    )
    .await;
    let both = wait_for_posts(&fake, 2).await;
    assert!(
        both[1].contains("✖"),
        "bob is only invited, so no sre role: {both:#?}"
    );
    deliver_to(
        server.port,
        "issue_comment",
        "tm-3",
        comment("alice-demo", "/ops fleet status"),
    )
    .await;
    let all = wait_for_posts(&fake, 3).await;
    assert!(!all[2].contains("✖"), "{all:#?}");
    assert_eq!(membership("alice-demo"), 1, "alice's membership is cached");
    assert_eq!(membership("bob-demo"), 1);
    assert!(
        fake.violations.lock().unwrap().is_empty(),
        "{:?}",
        fake.violations.lock().unwrap()
    );
    drop(server);
}

/// A commenter the config does not name costs no team look-up: team roles
/// only widen a known person's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_commenter_costs_no_team_membership_lookup() {
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let (server, _dir) = serve_github("teams: { Codertocat/sre: [sre] }", api_url).await;
    deliver_to(
        server.port,
        "issue_comment",
        "tu-1",
        comment_by("mallory", 66_666, "/ops fleet status"),
    )
    .await;
    let posts = wait_for_posts(&fake, 1).await;
    assert!(
        posts[0].contains("not linked to a person") || posts[0].contains("not set up"),
        "{posts:#?}"
    );
    assert!(!fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .any(|(_, p, _)| p.starts_with("/orgs/")));
    drop(server);
}

/// An edit of the comment `id` (GitHub's edited delivery) with `body`, as
/// of `updated_at`.
fn edited(id: u64, body: &str, updated_at: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&comment("alice-demo", body)).unwrap();
    v["action"] = json!("edited");
    v["changes"] = json!({ "body": { "from": "(before)" } });
    v["comment"]["id"] = json!(id);
    v["comment"]["updated_at"] = json!(updated_at);
    serde_json::to_vec(&v).unwrap()
}

/// Issue 16: with `run_on_edit`, an edit runs only the command line it
/// added; a line already run never runs again, also after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_runs_only_its_new_line_and_no_line_runs_twice_across_a_restart() {
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve_github_in(dir.path(), "run_on_edit: true", api_url.clone()).await;
    let mut first: Value = serde_json::from_slice(&comment("alice-demo", "/ops help")).unwrap();
    first["comment"]["id"] = json!(880_001);
    let first = serde_json::to_vec(&first).unwrap();
    assert_eq!(
        deliver_to(server.port, "issue_comment", "ed-1", first)
            .await
            .status(),
        202
    );
    wait_for_posts(&fake, 1).await;
    let two_lines = "/ops help\n\n/ops help hub status\n";
    let resp = deliver_to(
        server.port,
        "issue_comment",
        "ed-2",
        edited(880_001, two_lines, "2026-01-01T10:00:00Z"),
    )
    .await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"commands":1}"#,
        "only the new line"
    );
    let posts = wait_for_posts(&fake, 2).await;
    assert!(posts[1].contains("hub status"), "{posts:#?}");
    drop(server);

    let server = serve_github_in(dir.path(), "run_on_edit: true", api_url).await;
    let three_lines = "/ops help\n\n/ops help hub status\n\n/ops help runs\n";
    let resp = deliver_to(
        server.port,
        "issue_comment",
        "ed-3",
        edited(880_001, three_lines, "2026-01-01T11:00:00Z"),
    )
    .await;
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"commands":1}"#,
        "after the restart, too"
    );
    let posts = wait_for_posts(&fake, 3).await;
    assert_eq!(posts.len(), 3, "{posts:#?}");
    assert!(posts[2].contains("runs"), "{posts:#?}");
    drop(server);
}

/// Without `run_on_edit` an edit runs nothing, even a new line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_run_on_edit_an_edited_comment_runs_nothing() {
    let r = rig().await;
    let resp = r
        .deliver(
            "issue_comment",
            "noedit-1",
            edited(880_101, "/ops hub status staging", "2026-01-01T10:00:00Z"),
            SECRET,
        )
        .await;
    assert_eq!(resp.status(), 202);
    assert!(resp.text().await.unwrap().contains("run_on_edit"));
    assert!(r.comment_calls().is_empty());
}

/// Issue 16: a command in a pull-request review comment (GitHub's example
/// delivery) is answered in that review thread: a reply, edited in place,
/// and the reactions on the review comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_comment_command_is_answered_in_its_review_thread() {
    let r = rig().await;
    let mut v: Value = serde_json::from_str(include_str!(
        "fixtures/github/pull_request_review_comment.created.0.json"
    ))
    .unwrap();
    v["comment"]["user"]["login"] = json!("bob-demo");
    v["comment"]["user"]["id"] = json!(1002);
    v["comment"]["body"] = json!("Before merging:\n\n/ops hub status staging\n");
    let body = serde_json::to_vec(&v).unwrap();
    let resp = r
        .deliver("pull_request_review_comment", "rv-1", body, SECRET)
        .await;
    assert_eq!(resp.status(), 202);
    let done = r
        .wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    assert!(done.contains("Hub staging"), "{done}");
    let calls = r.comment_calls();
    assert_eq!(
        (calls[0].0.as_str(), calls[0].1.as_str()),
        (
            "POST",
            "/repos/Codertocat/Hello-World/pulls/2/comments/284312630/replies"
        ),
        "{calls:#?}"
    );
    assert!(
        calls.iter().skip(1).all(|(m, p, _)| m == "PATCH"
            && p.starts_with("/repos/Codertocat/Hello-World/pulls/comments/")),
        "the reply is edited in place: {calls:#?}"
    );
    r.wait_for_call("no rocket on the review comment", |calls| {
        calls
            .iter()
            .any(|(_, p, b)| {
                p == "/repos/Codertocat/Hello-World/pulls/comments/284312630/reactions"
                    && b["content"] == "rocket"
            })
            .then_some(())
    })
    .await;
    r.assert_no_violations();
}

/// Issue 16: the App manifest asks for what opsbot uses and subscribes to
/// the events it acts on, each of which the endpoint reads as a comment.
#[test]
fn the_app_manifest_asks_for_the_permissions_and_events_opsbot_uses() {
    let manifest: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/github-app-manifest.json"
    )))
    .unwrap();
    assert_eq!(
        manifest["default_permissions"],
        json!({ "issues": "write", "pull_requests": "write", "metadata": "read", "members": "read" })
    );
    assert_eq!(
        manifest["default_events"],
        json!(["issue_comment", "pull_request_review_comment"])
    );
    assert!(manifest["hook_attributes"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/github/webhook"));
    for (event, fixture) in [
        (
            "issue_comment",
            include_str!("fixtures/github/issue_comment.created.0.json"),
        ),
        (
            "pull_request_review_comment",
            include_str!("fixtures/github/pull_request_review_comment.created.0.json"),
        ),
    ] {
        let read = opsbot::chat::github::inbound::parse(event, fixture.as_bytes()).unwrap();
        assert!(
            matches!(read, opsbot::chat::github::inbound::Inbound::Comment(_)),
            "{event}: {read:?}"
        );
    }
}

/// JSON values of any shape, a few levels deep, with the keys GitHub's
/// comment deliveries use (so the decoder's paths are reached).
fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let keys = prop::sample::select(vec![
        "action",
        "comment",
        "user",
        "id",
        "login",
        "type",
        "body",
        "issue",
        "number",
        "repository",
        "full_name",
        "installation",
        "pull_request",
        "in_reply_to_id",
        "updated_at",
        "zen",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "created",
            "edited",
            "Bot",
            "User",
            "/ops help",
            "x[bot]"
        ])
        .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

    /// No delivery body, however shaped, panics the GitHub decoder: it
    /// reads as an event or is refused as malformed.
    #[test]
    fn the_github_decoder_never_panics_on_any_json(v in any_json(), review in proptest::bool::ANY) {
        let event = if review { "pull_request_review_comment" } else { "issue_comment" };
        let _ = opsbot::chat::github::inbound::parse(event, &serde_json::to_vec(&v).unwrap());
        let _ = opsbot::chat::github::inbound::parse("ping", &serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn the_github_decoder_never_panics_on_any_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let _ = opsbot::chat::github::inbound::parse("issue_comment", &b);
    }

    /// Any comment text: the command lines found are prefixed lines, never a panic.
    #[test]
    fn finding_command_lines_never_panics(body in "(\\PC|\\n|`|>|/ops ){0,200}") {
        let found = opsbot::chat::github::lines::commands(&body, "/ops");
        proptest::prop_assert!(found.len() <= body.matches("/ops").count());
    }

    /// Whatever the cluster says, the rendered comment mentions nobody
    /// outside code.
    #[test]
    fn sanitized_markdown_mentions_nobody(text in "(\\PC|\\n|@[a-z]{1,5}|<[a-z]{1,4}>){0,80}") {
        let safe = opsbot::chat::github::render::sanitize(&text);
        for event in pulldown_cmark::Parser::new(&safe) {
            if let pulldown_cmark::Event::Text(t) = &event {
                let chars: Vec<char> = t.chars().collect();
                for w in chars.windows(2) {
                    proptest::prop_assert!(!(w[0] == '@' && w[1].is_ascii_alphanumeric()), "{safe:?}");
                }
            }
            proptest::prop_assert!(!matches!(event, pulldown_cmark::Event::Html(_) | pulldown_cmark::Event::InlineHtml(_)), "{safe:?}");
        }
    }
}

/// Issue 16 "one retry policy": a rate-limited comment POST (nothing was
/// created) is sent again after exactly the `Retry-After` GitHub named, and
/// the comment is posted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_comment_is_posted_after_githubs_retry_after_and_only_once() {
    crate::support::logs::capture();
    let r = rig_with(FakeGithub {
        rate_limit_first_post: true.into(),
        ..FakeGithub::default()
    })
    .await;
    r.deliver(
        "issue_comment",
        "rl-1",
        comment("bob-demo", "/ops hub status staging"),
        SECRET,
    )
    .await;
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    crate::support::logs::wait_for(&["posting a comment failed; retrying", "wait_ms=1000"]).await;
    let posts: Vec<_> = r
        .comment_calls()
        .into_iter()
        .filter(|(m, _, _)| m == "POST")
        .collect();
    assert_eq!(
        posts.len(),
        2,
        "the refused one and the one that was created: {posts:#?}"
    );
    assert_eq!(posts[0].2, posts[1].2, "the same comment, sent again");
    assert!(r
        .comment_calls()
        .iter()
        .skip(2)
        .all(|(m, _, _)| m == "PATCH"));
}

/// Issue 16: the plain token stays the fallback: when the App cannot get an
/// installation token, replies go out with GITHUB_TOKEN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_app_gets_no_installation_token_the_plain_token_is_the_fallback() {
    const PLAIN: &str = "ghp_fallback000000000000000000000000000000";
    let r = rig_app_with(
        FakeApp {
            lifetime: chrono::Duration::hours(1),
            refuse_exchanges: true,
            plain_token: Some(PLAIN),
            ..FakeApp::default()
        },
        &[("GITHUB_TOKEN", PLAIN)],
    )
    .await;
    let body = from_installation(comment("bob-demo", "/ops hub status staging"));
    r.deliver("issue_comment", "fb-1", body, SECRET).await;
    r.wait_for_comment("with the result", |b| b.contains("succeeded"))
        .await;
    assert!(r.issued().is_empty());
    let auths = r.app().auths.lock().unwrap().clone();
    let bearer = format!("Bearer {PLAIN}");
    assert!(
        auths
            .iter()
            .all(|(_, a)| a.as_deref() == Some(bearer.as_str())),
        "{auths:#?}"
    );
    r.assert_no_violations();
}

/// Team memberships are trusted only for their time to live: past it,
/// GitHub is asked again (so a removal takes effect); an invitation is not
/// membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_memberships_are_asked_again_once_their_ttl_lapses() {
    use opsbot::chat::github::{api::GithubApi, teams::Teams, GithubSettings};
    let (fake, api_url) = start_fake(FakeGithub::default()).await;
    let settings = GithubSettings {
        webhook_secret: SECRET.to_string().into(),
        token: Some("ghp_teamstoken".to_string().into()),
        app: None,
        api_url,
        prefix: "/ops".into(),
        max_commands_per_comment: 5,
        triage_labels: false,
        run_on_edit: false,
        min_permission: None,
        teams: vec!["Codertocat/sre".into()],
        people: vec![],
    };
    let api = GithubApi::new(&settings).unwrap();
    let asked = || {
        fake.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _)| p.starts_with("/orgs/"))
            .count()
    };
    let cached = Teams::new(api.clone(), ["Codertocat/sre"]);
    assert_eq!(
        cached.of(1, "alice-demo", None).await,
        vec!["Codertocat/sre"]
    );
    assert_eq!(
        cached.of(1, "alice-demo", None).await,
        vec!["Codertocat/sre"]
    );
    assert_eq!(asked(), 1);
    let lapsing = Teams::with_ttl(api, ["Codertocat/sre"], std::time::Duration::ZERO);
    assert_eq!(
        lapsing.of(1, "alice-demo", None).await,
        vec!["Codertocat/sre"]
    );
    assert_eq!(
        lapsing.of(1, "alice-demo", None).await,
        vec!["Codertocat/sre"]
    );
    assert_eq!(asked(), 3, "a lapsed entry is asked again");
    assert!(
        lapsing.of(2, "bob-demo", None).await.is_empty(),
        "an invitation is not membership"
    );
}

/// Issue 14: a burst that finds the queue full costs GitHub's API one busy
/// note per issue (and minute), not a comment and a reaction per delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_that_finds_opsbot_busy_costs_one_note_per_issue_not_a_call_per_delivery() {
    let rig = rig_limits(
        FakeGithub::default(),
        &[("GITHUB_TOKEN", "ghp_e2etoken0000000000000000000000000000")],
        opsbot::runs::Limits {
            concurrent_runs: 1,
            queued_runs: 1,
        },
    )
    .await;
    // Runs that take a while, so the queue stays full during the burst.
    for c in rig.bot.demo.fleet.cluster_names() {
        rig.bot.demo.fleet.cluster(&c).unwrap().add_fault(
            serde_json::from_value(json!({ "verbs": ["list"], "latency": "1s" })).unwrap(),
        );
    }
    let mut outcomes = Vec::new();
    for i in 0..8 {
        let r = rig
            .deliver(
                "issue_comment",
                &format!("busy-{i}"),
                comment("alice-demo", "/ops hub status staging"),
                SECRET,
            )
            .await;
        assert_eq!(r.status(), 202);
        outcomes.push(
            r.headers()["x-opsbot-outcome"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    // The answer says what became of each delivery (a load test counts it).
    assert_eq!(outcomes[0], "accepted", "{outcomes:?}");
    assert!(outcomes.iter().any(|o| o == "busy"), "{outcomes:?}");
    rig.wait_for_comment("saying opsbot is busy", |b| b.contains("opsbot is busy"))
        .await;
    // The runs that got in (a run slot and the queue's) end: each has
    // eyes and then a rocket on its comment.
    rig.wait_for_call("the accepted runs to end", |calls| {
        let count = |content: &str| {
            calls
                .iter()
                .filter(|(m, p, b)| {
                    m == "POST" && p.ends_with("/reactions") && b["content"] == content
                })
                .count()
        };
        (count("eyes") > 0 && count("rocket") == count("eyes")).then_some(())
    })
    .await;
    let busy = rig
        .comment_calls()
        .into_iter()
        .filter(|(_, _, b)| b["body"].as_str().unwrap_or("").contains("opsbot is busy"))
        .count();
    assert_eq!(busy, 1, "{:?}", rig.comment_calls());
    // The refused deliveries cost nothing more: reactions and comments are
    // only those of the runs that got in, plus the one note.
    let ran: std::collections::HashSet<String> = rig
        .reactions()
        .into_iter()
        .filter(|(_, c)| c == "eyes")
        .map(|(p, _)| p)
        .collect();
    assert!(ran.len() < 8, "some of the burst found the queue full");
    assert_eq!(
        rig.reactions().len(),
        2 * ran.len(),
        "{:?}",
        rig.reactions()
    );
    let posts = rig
        .comment_calls()
        .into_iter()
        .filter(|(m, _, _)| m == "POST")
        .count();
    assert_eq!(posts, ran.len() + 1, "{:?}", rig.comment_calls());
}

/// Issue 14: a delivery that finds the queue full is refused before any
/// durable write, so nothing marks it seen: redelivered once opsbot has
/// room, it runs (it never ran), instead of being answered "duplicate".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_answered_busy_is_not_marked_seen_and_runs_when_redelivered() {
    let rig = rig_limits(
        FakeGithub::default(),
        &[("GITHUB_TOKEN", "ghp_e2etoken0000000000000000000000000000")],
        opsbot::runs::Limits {
            concurrent_runs: 1,
            queued_runs: 1,
        },
    )
    .await;
    let clusters = rig.bot.demo.fleet.cluster_names();
    for c in &clusters {
        rig.bot.demo.fleet.cluster(c).unwrap().add_fault(
            serde_json::from_value(json!({ "verbs": ["list"], "latency": "1s" })).unwrap(),
        );
    }
    let mut refused = None;
    for i in 0..8 {
        let body = comment("alice-demo", "/ops hub status staging");
        let id = format!("full-{i}");
        let r = rig
            .deliver("issue_comment", &id, body.clone(), SECRET)
            .await;
        assert_eq!(r.status(), 202);
        if r.headers()["x-opsbot-outcome"] == "busy" {
            refused = Some((id, body));
            break;
        }
    }
    let (id, body) = refused.expect("a burst past a queue of one finds it full");
    for c in &clusters {
        rig.bot.demo.fleet.cluster(c).unwrap().clear_faults();
    }
    // Once the runs that got in have ended, the queue has room again.
    rig.wait_for_call("the accepted runs to end", |calls| {
        let count = |content: &str| {
            calls
                .iter()
                .filter(|(m, p, b)| {
                    m == "POST" && p.ends_with("/reactions") && b["content"] == content
                })
                .count()
        };
        (count("eyes") > 0 && count("rocket") == count("eyes")).then_some(())
    })
    .await;
    let again = rig.deliver("issue_comment", &id, body, SECRET).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["x-opsbot-outcome"], "accepted");
}
