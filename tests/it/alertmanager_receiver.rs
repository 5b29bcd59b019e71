//! The Alertmanager receiver without Alertmanager: webhook payloads posted
//! straight to `POST /alertmanager/webhook` of the demo (receiver on through
//! `OPSBOT_ALERTMANAGER_TOKEN`), the real core on the demo fleet, and the
//! real Slack client posting to the recording fake.

use serde_json::{json, Value};

use crate::support::bot::Bot;
use crate::support::slack::{self, FakeSlack, SIGNING_SECRET};
use opsbot::audit::EventKind;

pub const TOKEN: &str = "am-test-token-0123456789";
pub const CHANNEL: &str = "C0ALERTS";

pub struct Rig {
    pub bot: Bot,
    pub fake: FakeSlack,
    pub base: String,
    pub http: reqwest::Client,
}

pub async fn rig_in(dir: Option<(tempfile::TempDir, String)>) -> Rig {
    let fake = FakeSlack::start().await;
    let api = fake.api_url();
    let env = [
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("SLACK_BOT_TOKEN", slack::BOT_TOKEN),
        ("SLACK_API_URL", api.as_str()),
        ("OPSBOT_ALERTMANAGER_TOKEN", TOKEN),
    ];
    let bot = match dir {
        None => Bot::start_with_env(&env).await,
        Some((dir, audit)) => Bot::start_in_with_env(dir, audit, &env).await,
    };
    assert!(bot.demo.app.runs.context().config.alertmanager.is_some());
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

pub async fn rig() -> Rig {
    rig_in(None).await
}

/// A version 4 notification for one group of alerts, as Alertmanager
/// sends it.
pub fn notification(group: &str, status: &str, alerts: &[Value]) -> Value {
    let common = alerts
        .first()
        .and_then(|a| a["labels"].as_object().cloned())
        .unwrap_or_default();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsbot",
        "groupLabels": {"alertname": common.get("alertname").cloned().unwrap_or(json!(group))},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
    })
}

pub fn alert(status: &str, labels: Value) -> Value {
    json!({
        "status": status,
        "labels": labels,
        "annotations": {"summary": "Pod is crash looping."},
        "startsAt": "2026-12-03T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": format!("{:016x}", labels.to_string().len()),
    })
}

pub fn frank(status: &str) -> Value {
    alert(
        status,
        json!({"alertname": "KubePodCrashLooping", "namespace": "staging", "cluster": "aws-us",
               "pod": "jupyter-frank", "container": "notebook", "severity": "warning"}),
    )
}

impl Rig {
    pub async fn post(&self, auth: Option<&str>, body: Vec<u8>) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/alertmanager/webhook", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn notify(&self, n: &Value) {
        let (code, body) = self
            .post(Some(&format!("Bearer {TOKEN}")), n.to_string().into_bytes())
            .await;
        assert_eq!(code, 200, "{body}");
    }

    /// Top-level messages in the alerts channel (thread roots).
    pub fn roots(&self) -> Vec<slack::Msg> {
        self.fake
            .messages()
            .into_iter()
            .filter(|m| m.channel == CHANNEL && m.thread_ts.is_none())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_user_pod_alert_becomes_one_thread_with_that_users_triage_audited_as_alertmanager(
) {
    let r = rig().await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "firing",
        &[frank("firing")],
    ))
    .await;
    r.fake
        .wait_until("the diagnosis ends with its audit reference", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.is_some() && m.all_text().contains("audit: run 1"))
        })
        .await;
    let roots = r.roots();
    assert_eq!(roots.len(), 1, "one top-level post: {roots:#?}");
    assert!(roots[0].all_text().contains("FIRING"), "{:?}", roots[0]);
    assert!(roots[0].all_text().contains("KubePodCrashLooping"));
    let thread = r.fake.thread(CHANNEL, &roots[0].ts);
    let all: String = thread.iter().map(|m| m.all_text()).collect();
    assert!(all.contains("triage staging frank"), "{all}");
    assert!(all.contains("frank"), "{all}");
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
    let records = r.bot.records(1).await;
    assert_eq!(records[0].kind, EventKind::Requested);
    assert_eq!(records[0].actor, "alertmanager");
    assert_eq!(records[0].data["platform"], "alertmanager");
    assert_eq!(
        records[0].data["where"]["thread_ts"].as_str(),
        Some(roots[0].ts.as_str())
    );
    assert!(!records[0].data.to_string().contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_edits_the_groups_thread_and_resolved_marks_it_resolved_without_new_posts() {
    let r = rig().await;
    let firing = notification("KubePodCrashLooping", "firing", &[frank("firing")]);
    r.notify(&firing).await;
    r.fake
        .wait_until("the first diagnosis ends", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("audit: run 1"))
        })
        .await;
    r.notify(&firing).await;
    r.fake
        .wait_until("the repeat edits the group's message", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.is_none() && m.all_text().contains("2 notifications"))
        })
        .await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "resolved",
        &[frank("resolved")],
    ))
    .await;
    r.fake
        .wait_until("the thread says resolved", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.is_some() && m.all_text().contains("Resolved"))
        })
        .await;
    let roots = r.roots();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert!(roots[0].all_text().contains("RESOLVED"), "{:?}", roots[0]);
    assert!(roots[0].edits >= 2);
    // One diagnosis only: the repeat ran nothing.
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_keeps_its_thread_across_a_restart() {
    let r = rig().await;
    let firing = notification("KubePodCrashLooping", "firing", &[frank("firing")]);
    r.notify(&firing).await;
    r.fake
        .wait_until("the diagnosis ends", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("audit: run 1"))
        })
        .await;
    let root = r.roots()[0].ts.clone();
    let Rig { bot, .. } = r;
    let (dir, audit) = bot.stop().await;
    let r = rig_in(Some((dir, audit))).await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "resolved",
        &[frank("resolved")],
    ))
    .await;
    r.fake
        .wait_until("the resolved notice after the restart", |f| {
            f.calls_to("chat.update").len() == 1 && f.calls_to("chat.postMessage").len() == 1
        })
        .await;
    let update = &r.fake.calls_to("chat.update")[0];
    assert_eq!(update.body["ts"], root, "{:?}", update.body);
    let post = &r.fake.calls_to("chat.postMessage")[0];
    assert_eq!(post.body["thread_ts"], root, "{:?}", post.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_credential_is_401_and_nothing_is_posted_or_run() {
    let r = rig().await;
    let body = notification("KubePodCrashLooping", "firing", &[frank("firing")])
        .to_string()
        .into_bytes();
    for auth in [
        None,
        Some("Bearer wrong".to_string()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Token {TOKEN}")),
        Some("Basic YWxlcnRtYW5hZ2VyOnBhc3N3b3Jk".to_string()),
    ] {
        let (code, text) = r.post(auth.as_deref(), body.clone()).await;
        assert_eq!(code, 401, "{auth:?}: {text}");
        assert!(!text.contains(TOKEN));
    }
    // A correct one goes through, so the refusals above were the credential.
    r.notify(&notification(
        "KubePodCrashLooping",
        "firing",
        &[frank("firing")],
    ))
    .await;
    r.fake
        .wait_until("the admitted one posts", |f| !f.messages().is_empty())
        .await;
    assert_eq!(r.roots().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_another_version_and_an_oversized_body_are_refused_with_what_to_fix() {
    let r = rig().await;
    let auth = format!("Bearer {TOKEN}");
    let (code, text) = r.post(Some(&auth), b"{\"version\": \"4\", ".to_vec()).await;
    assert_eq!(code, 400);
    assert!(text.contains("not Alertmanager's webhook JSON"), "{text}");
    let mut v3 = notification("KubePodCrashLooping", "firing", &[frank("firing")]);
    v3["version"] = json!("3");
    let (code, text) = r.post(Some(&auth), v3.to_string().into_bytes()).await;
    assert_eq!(code, 400);
    assert!(text.contains("version 4"), "{text}");
    let mut no_alerts = notification("KubePodCrashLooping", "firing", &[]);
    no_alerts["alerts"] = json!("none");
    let (code, _) = r
        .post(Some(&auth), no_alerts.to_string().into_bytes())
        .await;
    assert_eq!(code, 400);
    let huge = vec![b' '; 2 * 1024 * 1024];
    let (code, text) = r.post(Some(&auth), huge).await;
    assert_eq!(code, 413, "{text}");
    // A group no route knows (Watchdog) is taken and leaves no trace.
    let watchdog = notification(
        "Watchdog",
        "firing",
        &[alert("firing", json!({"alertname": "Watchdog"}))],
    );
    r.notify(&watchdog).await;
    // An alert for a namespace with no hub: its thread says why nothing ran.
    let nohub = notification(
        "KubePodCrashLooping",
        "firing",
        &[alert(
            "firing",
            json!({"alertname": "KubePodCrashLooping", "namespace": "nowhere", "pod": "jupyter-x"}),
        )],
    );
    r.notify(&nohub).await;
    r.fake
        .wait_until("the no-hub notice", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("Not diagnosed") && m.all_text().contains("hub"))
        })
        .await;
    assert_eq!(r.roots().len(), 1, "only the no-hub group got a thread");
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert!(runs.is_empty(), "{runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_groups_gets_a_thread_each_but_runs_only_up_to_the_limit_and_one_summary() {
    let r = rig().await;
    let users = [
        "alice",
        "bob.jones",
        "dave",
        "erin",
        "frank",
        "gina",
        "yuki",
        "carol",
        "heidi",
        "ivan",
        "judy",
        "karl",
        "leo",
        "quinn",
        "sam",
        "tom",
        "uma",
        "zed",
        "amy",
        "ben",
    ];
    for u in users {
        let n = json!({
            "version": "4",
            "groupKey": format!("{{}}:{{pod=\"jupyter-{u}\"}}"),
            "status": "firing",
            "receiver": "opsbot",
            "groupLabels": {"pod": format!("jupyter-{u}")},
            "commonLabels": {"alertname": "KubePodCrashLooping", "namespace": "staging", "cluster": "aws-us", "pod": format!("jupyter-{u}")},
            "commonAnnotations": {},
            "externalURL": "http://am",
            "alerts": (0..25).map(|i| alert("firing", json!({"alertname": "KubePodCrashLooping", "namespace": "staging", "cluster": "aws-us", "pod": format!("jupyter-{u}"), "container": format!("c{i}")}))).collect::<Vec<_>>(),
        });
        r.notify(&n).await;
    }
    r.fake
        .wait_until("20 group threads and a summary naming 10", |f| {
            let roots: Vec<_> = f
                .messages()
                .into_iter()
                .filter(|m| m.channel == CHANNEL && m.thread_ts.is_none())
                .collect();
            roots.len() == 21
                && roots
                    .iter()
                    .any(|m| m.all_text().contains("10 alert group(s) arrived past"))
        })
        .await;
    let roots = r.roots();
    let groups = roots
        .iter()
        .filter(|m| m.all_text().contains("FIRING"))
        .count();
    assert_eq!(groups, 20);
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 10, "the demo's limit is 10 per minute");
    assert!(runs.iter().all(|s| s.person == "alertmanager"));
}

// ------------------------------------------- GitHub and Discord destinations

/// The demo's bot with GitHub and Discord configured against their fakes,
/// and a receiver whose one route sends crash-looping pods to `route`.
struct Elsewhere {
    bot: Bot,
    github: std::sync::Arc<crate::github_webhook::FakeGithub>,
    discord: std::sync::Arc<crate::support::discord::FakeApi>,
    /// Where the fakes listen, for a restarted bot.
    urls: (String, String),
    base: String,
    http: reqwest::Client,
}

const REPO: &str = "octo-org/incidents";
const DISCORD_CHANNEL: &str = "4444444444444444444";

/// The fakes a bot of [`elsewhere`] talks to, kept across a restart.
struct Fakes {
    github: (std::sync::Arc<crate::github_webhook::FakeGithub>, String),
    discord: (std::sync::Arc<crate::support::discord::FakeApi>, String),
}

async fn fakes() -> Fakes {
    Fakes {
        github: crate::github_webhook::start_fake(crate::github_webhook::FakeGithub::default())
            .await,
        discord: crate::support::discord::FakeApi::start().await,
    }
}

async fn elsewhere(route: opsbot::config::AlertRoute) -> Elsewhere {
    elsewhere_in(route, fakes().await, None).await
}

/// [`elsewhere`] on these fakes, and on an earlier bot's directory and
/// audit store when given (a restart).
async fn elsewhere_in(
    route: opsbot::config::AlertRoute,
    fakes: Fakes,
    dir: Option<(tempfile::TempDir, String)>,
) -> Elsewhere {
    let Fakes {
        github: (github, github_url),
        discord: (discord, discord_url),
    } = fakes;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let app_id = crate::support::discord::APP_ID.to_string();
    let env = [
        ("OPSBOT_ALERTMANAGER_TOKEN", TOKEN),
        ("GITHUB_WEBHOOK_SECRET", "alerts-github-secret"),
        ("GITHUB_TOKEN", "ghp_alerts0000000000000000000000000000000"),
        ("GITHUB_API_URL", github_url.as_str()),
        ("DISCORD_PUBLIC_KEY", public.as_str()),
        ("DISCORD_APPLICATION_ID", app_id.as_str()),
        ("DISCORD_BOT_TOKEN", "test-bot-token"),
        ("DISCORD_API_URL", discord_url.as_str()),
    ];
    let bot = match dir {
        None => Bot::start_with_env(&env).await,
        Some((dir, audit)) => Bot::start_in_with_env(dir, audit, &env).await,
    };
    let app = &bot.demo.app;
    let ctx = app.runs.context();
    let mut am = ctx.config.alertmanager.clone().expect("receiver on");
    am.routes = vec![route];
    am.builtin_routes = false;
    let core: std::sync::Arc<dyn opsbot::chat::Core> = std::sync::Arc::new(app.runs.clone());
    let router = opsbot::alerts::router(opsbot::alerts::receiver::Parts {
        core,
        config: &am,
        slack: None,
        github: app.platforms.github.as_ref(),
        discord: app.platforms.discord.as_ref(),
        hubs: ctx.hubs.all().to_vec(),
        audit: ctx.audit.clone(),
        grammar: &ctx.grammar,
        playbooks: &ctx.playbooks,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Elsewhere {
        bot,
        github,
        discord,
        urls: (github_url, discord_url),
        base,
        http: reqwest::Client::new(),
    }
}

fn crash_loop_route(github: Option<&str>, discord: Option<&str>) -> opsbot::config::AlertRoute {
    opsbot::config::AlertRoute {
        matchers: [("alertname".to_string(), "KubePodCrashLooping".to_string())].into(),
        match_re: Default::default(),
        command: "triage {{ hub }} {{ user }}".into(),
        slack_channel: None,
        github: github.map(str::to_string),
        discord_channel: discord.map(str::to_string),
    }
}

impl Elsewhere {
    async fn notify(&self, n: &Value) {
        let resp = self
            .http
            .post(format!("{}/alertmanager/webhook", self.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(n.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    fn github_calls(&self) -> Vec<(String, String, Value)> {
        self.github.calls.lock().unwrap().clone()
    }

    /// Waits (bounded) until the fake GitHub's calls satisfy `done`.
    async fn wait_github(&self, what: &str, done: impl Fn(&[(String, String, Value)]) -> bool) {
        let deadline = tokio::time::Instant::now() + crate::support::bot::PATIENCE;
        loop {
            let called = self.github.called.notified();
            tokio::pin!(called);
            called.as_mut().enable();
            if done(&self.github_calls()) {
                return;
            }
            if tokio::time::timeout_at(deadline, called).await.is_err() {
                panic!("{what}; calls: {:#?}", self.github_calls());
            }
        }
    }
}

fn is_issue_post(c: &(String, String, Value)) -> bool {
    c.0 == "POST" && c.1 == format!("/repos/{REPO}/issues")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_routed_to_github_opens_one_issue_with_the_diagnosis_and_resolved_closes_it() {
    let r = elsewhere(crash_loop_route(Some(REPO), None)).await;
    let firing = notification("KubePodCrashLooping", "firing", &[frank("firing")]);
    r.notify(&firing).await;
    r.wait_github("the diagnosis ends in a comment on the issue", |calls| {
        calls.iter().any(|c| {
            c.1.starts_with(&format!("/repos/{REPO}/issues/"))
                && c.1.contains("/comments")
                && c.2["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("audit") && b.contains("frank"))
        })
    })
    .await;
    let calls = r.github_calls();
    let opened: Vec<_> = calls.iter().filter(|c| is_issue_post(c)).collect();
    assert_eq!(opened.len(), 1, "one issue: {calls:#?}");
    let title = opened[0].2["title"].as_str().unwrap();
    assert!(title.contains("KubePodCrashLooping"), "{title}");
    let body = opened[0].2["body"].as_str().unwrap();
    assert!(
        body.contains("FIRING") && body.contains("pod=jupyter-frank"),
        "{body}"
    );
    let number = 101; // the fake numbers its first issue 101
    let comments = format!("/repos/{REPO}/issues/{number}/comments");
    assert!(
        calls.iter().any(|c| c.1 == comments
            && c.2["body"]
                .as_str()
                .unwrap()
                .contains("triage staging frank")),
        "the diagnosis names its command: {calls:#?}"
    );

    // A repeat edits the issue's body; no second issue, no second run.
    r.notify(&firing).await;
    let issue = format!("/repos/{REPO}/issues/{number}");
    r.wait_github("the repeat edits the issue body", |calls| {
        calls.iter().any(|c| {
            c.0 == "PATCH"
                && c.1 == issue
                && c.2["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("2 notifications"))
        })
    })
    .await;

    // Resolved: a comment says so and the issue is closed.
    r.notify(&notification(
        "KubePodCrashLooping",
        "resolved",
        &[frank("resolved")],
    ))
    .await;
    r.wait_github("resolved closes the issue", |calls| {
        calls
            .iter()
            .any(|c| c.0 == "PATCH" && c.1 == issue && c.2["state"] == "closed")
    })
    .await;
    let calls = r.github_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.1 == comments && c.2["body"].as_str().unwrap().contains("Resolved")),
        "{calls:#?}"
    );
    assert_eq!(
        calls.iter().filter(|c| is_issue_post(c)).count(),
        1,
        "{calls:#?}"
    );
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the repeat ran nothing: {runs:?}");
    let requested = &r.bot.records(1).await[0];
    assert_eq!(requested.actor, "alertmanager");
    assert_eq!(requested.data["where"]["github_repo"], REPO);
    assert_eq!(requested.data["where"]["github_issue"], number);
    let violations = r.github.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_routed_to_discord_posts_one_message_edited_on_repeats_and_the_diagnosis_follows_it(
) {
    let r = elsewhere(crash_loop_route(None, Some(DISCORD_CHANNEL))).await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "firing",
        &[frank("firing")],
    ))
    .await;
    let posts = format!("/api/v10/channels/{DISCORD_CHANNEL}/messages");
    r.discord
        .wait_for("the diagnosis posted after the group's message", |c| {
            c.method == "POST" && c.path == posts && c.body_text().contains("triage staging frank")
        })
        .await;
    let calls = r.discord.calls();
    let messages: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == posts)
        .collect();
    assert_eq!(
        messages.len(),
        2,
        "the group's message, then the diagnosis: {calls:#?}"
    );
    let group = messages[0].json();
    let text = group["content"].as_str().unwrap();
    assert!(
        text.contains("FIRING") && text.contains("KubePodCrashLooping"),
        "{text}"
    );
    let diagnosis = messages[1].body_text();
    assert!(diagnosis.contains("frank"), "{diagnosis}");
    let requested = &r.bot.records(1).await[0];
    assert_eq!(requested.data["where"]["discord_channel"], DISCORD_CHANNEL);
    let message = requested.data["where"]["discord_message"]
        .as_str()
        .expect("the group's message id is audited")
        .to_string();

    // A repeat edits the group's message; nothing new is posted or run.
    r.bot.wait_for_record(1.into(), EventKind::Finished).await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "firing",
        &[frank("firing")],
    ))
    .await;
    let edit = format!("{posts}/{message}");
    r.discord
        .wait_for("the repeat edits the group's message", |c| {
            c.method == "PATCH" && c.path == edit && c.body_text().contains("2 notifications")
        })
        .await;
    let posted = r
        .discord
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path == posts)
        .count();
    assert_eq!(posted, 2, "{:#?}", r.discord.calls());
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the repeat ran nothing: {runs:?}");
    let violations = r.discord.violations.lock().unwrap().clone();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_keeps_its_github_issue_across_a_restart() {
    let route = || crash_loop_route(Some(REPO), None);
    let r = elsewhere(route()).await;
    let firing = notification("KubePodCrashLooping", "firing", &[frank("firing")]);
    r.notify(&firing).await;
    let comments = format!("/repos/{REPO}/issues/101/comments");
    r.wait_github("the diagnosis comment", |calls| {
        calls.iter().any(|c| {
            c.1 == comments
                && c.2["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("triage staging frank"))
        })
    })
    .await;
    r.bot.wait_for_record(1.into(), EventKind::Finished).await;
    let Elsewhere {
        bot,
        github,
        discord,
        urls: (github_url, discord_url),
        ..
    } = r;
    let (dir, audit) = bot.stop().await;
    let fakes = Fakes {
        github: (github, github_url),
        discord: (discord, discord_url),
    };
    let r = elsewhere_in(route(), fakes, Some((dir, audit))).await;
    r.notify(&firing).await;
    let issue = format!("/repos/{REPO}/issues/101");
    r.wait_github(
        "the repeat after the restart edits the same issue",
        |calls| {
            calls.iter().any(|c| {
                c.0 == "PATCH"
                    && c.1 == issue
                    && c.2["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("notifications"))
            })
        },
    )
    .await;
    let opened = r.github_calls().iter().filter(|c| is_issue_post(c)).count();
    assert_eq!(
        opened,
        1,
        "no second issue after the restart: {:#?}",
        r.github_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_first_heard_of_when_resolved_gets_a_closed_issue_and_no_diagnosis() {
    let r = elsewhere(crash_loop_route(Some(REPO), None)).await;
    r.notify(&notification(
        "KubePodCrashLooping",
        "resolved",
        &[frank("resolved")],
    ))
    .await;
    let issue = format!("/repos/{REPO}/issues/101");
    r.wait_github("the issue opened for it is closed", |calls| {
        calls
            .iter()
            .any(|c| c.0 == "PATCH" && c.1 == issue && c.2["state"] == "closed")
    })
    .await;
    let calls = r.github_calls();
    let opened: Vec<_> = calls.iter().filter(|c| is_issue_post(c)).collect();
    assert_eq!(opened.len(), 1, "{calls:#?}");
    assert!(
        opened[0].2["body"].as_str().unwrap().contains("RESOLVED"),
        "{calls:#?}"
    );
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert!(runs.is_empty(), "nothing to diagnose: {runs:?}");
}
