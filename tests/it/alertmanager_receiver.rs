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
