//! The run state machine (issue 17) through the binary: `opsbot serve` on
//! `opsbot sim`, people pressing Slack buttons on a stand-in Slack API. A
//! second approval and a deny sent while the approved restart runs are
//! refused, nothing is recorded for them, and the run ends once.

use std::time::Duration;

use opsbot::audit::{AuditLog, EventKind, RunId};
use serde_json::{json, Value};

use crate::support::binary::{hub_seed, SimProcess};
use crate::support::server::Server;
use crate::support::slack::{self, FakeSlack};

/// The bot may do everything; a rollout takes 3 s, so an approved restart
/// is observably running for that long.
const SIM_YAML: &str = r#"
rollout_delay: 3s
users:
  - name: opsbot-bot
    token: bot-token
    rules:
      - { verbs: ["*"], resources: ["*"], namespaces: ["*"] }
"#;

/// A ready Node, so the controller can run the hub's pods.
const NODE: &str = r#"
apiVersion: v1
kind: Node
metadata: { name: node-1, labels: { kubernetes.io/hostname: node-1 } }
status:
  conditions: [{ type: Ready, status: "True", reason: KubeletReady, lastTransitionTime: -1d }]
  allocatable: { cpu: "8", memory: 32Gi, pods: "110" }
  capacity: { cpu: "8", memory: 32Gi, pods: "110" }
"#;

const CHANNEL: &str = "C0OPS";

struct Rig {
    fake: FakeSlack,
    /// `opsbot serve` replicas on one audit store (one unless asked).
    servers: Vec<Option<Server>>,
    audit: AuditLog,
    sim: SimProcess,
    config: std::path::PathBuf,
}

async fn rig() -> Rig {
    rig_on(None, 1).await
}

/// `replicas` servers on the audit store at `audit_url` (default: SQLite
/// beside the config), with a 1 s run lease.
async fn rig_on(audit_url: Option<String>, replicas: usize) -> Rig {
    rig_with(audit_url, replicas, "").await
}

/// [`rig_on`] with `more` appended to the config (top-level sections).
async fn rig_with(audit_url: Option<String>, replicas: usize, more: &str) -> Rig {
    rig_seeded(audit_url, replicas, more, "").await
}

/// [`rig_with`] with `seed` (YAML objects) added to the simulated cluster.
async fn rig_seeded(audit_url: Option<String>, replicas: usize, more: &str, seed: &str) -> Rig {
    rig_sim(audit_url, replicas, more, seed, SIM_YAML, "").await
}

/// [`rig_seeded`] with the simulator's `sim.yaml` (its users and rules) and
/// `cluster_more` (`, key: value` pairs) added to the cluster's entry.
async fn rig_sim(
    audit_url: Option<String>,
    replicas: usize,
    more: &str,
    seed: &str,
    sim_yaml: &str,
    cluster_more: &str,
) -> Rig {
    let fake = FakeSlack::start().await;
    let staging = hub_seed("staging");
    let mut files = vec![
        ("aws-us/sim.yaml", sim_yaml),
        ("aws-us/00-node.yaml", NODE),
        ("aws-us/10-staging.yaml", staging.as_str()),
    ];
    if !seed.is_empty() {
        files.push(("aws-us/20-seed.yaml", seed));
    }
    let sim = SimProcess::start(&files);
    let kubeconfig = sim.kubeconfig_with_token("bot-token");
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: aws-us, kubeconfig: "{kc}", context: aws-us{cluster_more} }}
hubs:
  - {{ name: staging, cluster: aws-us, namespace: staging }}
people:
  - {{ id: alice, slack: U0ALICE, roles: [engineer] }}
  - {{ id: carol, slack: U0CAROL, roles: [engineer] }}
  - {{ id: dave, slack: U0DAVE, roles: [engineer] }}
roles:
  engineer: {{ run: ["*"], approve: ["*"] }}
slack: {{ api_url: "{api}" }}
listen: 127.0.0.1:0
{more}
"#,
        kc = kubeconfig.display(),
        api = fake.api_url(),
    ));
    // The store, with a lease short enough for a takeover to be quick.
    let written = std::fs::read_to_string(&config).unwrap();
    let (_, rest) = written.split_once('\n').unwrap();
    let store = audit_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", config.with_file_name("audit.db").display()));
    std::fs::write(
        &config,
        format!("audit: {{ url: \"{store}\", lease: 1s }}\n{rest}"),
    )
    .unwrap();
    let mut servers = Vec::new();
    for _ in 0..replicas {
        let cfg = config.clone();
        servers.push(Some(
            tokio::task::spawn_blocking(move || {
                Server::start(
                    &cfg,
                    &[
                        ("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET),
                        ("SLACK_BOT_TOKEN", "xoxb-test"),
                    ],
                )
            })
            .await
            .unwrap(),
        ));
    }
    let audit =
        AuditLog::open(&audit_url.unwrap_or_else(|| {
            format!("sqlite://{}", config.with_file_name("audit.db").display())
        }))
        .await
        .unwrap();
    Rig {
        fake,
        servers,
        audit,
        sim,
        config,
    }
}

impl Rig {
    /// A signed Slack request to replica `i`.
    async fn post_to(&self, i: usize, path: &str, body: String) -> reqwest::Response {
        let ts = slack::now();
        let signature = slack::sign(slack::SIGNING_SECRET, ts, body.as_bytes());
        let port = self.servers[i].as_ref().expect("replica running").port;
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn slash(&self, user: &str, text: &str) {
        self.slash_to(0, user, text).await
    }

    /// Alice asks for a restart with `text` on replica 0 and waits until its
    /// approval message shows the dry run's resolved plan.
    async fn ask_restart(&self, text: &str) {
        self.slash("U0ALICE", text).await;
        self.fake
            .wait_until("the resolved plan in the approval message", |f| {
                f.calls_to("chat.update")
                    .iter()
                    .any(|c| c.body.to_string().contains("dry run ok"))
            })
            .await;
    }

    /// A slash command reaching replica `i`.
    async fn slash_to(&self, i: usize, user: &str, text: &str) {
        let r = self
            .post_to(i, "/slack/commands", slack::slash_form(user, CHANNEL, text))
            .await;
        assert_eq!(r.status(), 200);
    }

    /// `user` presses `action` on run `run`'s approval message.
    async fn press(&self, user: &str, action: &str, run: i64) {
        self.press_on(0, user, action, run).await
    }

    /// [`Rig::press`], reaching replica `i`.
    async fn press_on(&self, i: usize, user: &str, action: &str, run: i64) {
        // The approval message (its buttons go once someone decided; a
        // second press is on the same message, as in a Slack client that
        // has not refreshed yet).
        let approval = self
            .fake
            .messages()
            .into_iter()
            .find(|m| {
                m.all_text().contains(&format!("run {run}")) && m.all_text().contains("approv")
            })
            .expect("the approval message");
        let mut payload: Value =
            serde_json::from_str(include_str!("fixtures/slack/block_actions.json")).unwrap();
        payload["user"]["id"] = json!(user);
        payload["channel"]["id"] = json!(CHANNEL);
        payload["container"]["channel_id"] = json!(CHANNEL);
        payload["container"]["message_ts"] = json!(approval.ts);
        payload["message"]["ts"] = json!(approval.ts);
        payload["message"]["thread_ts"] = json!(approval.thread_ts);
        payload["actions"][0]["action_id"] = json!(action);
        payload["actions"][0]["value"] = json!(run.to_string());
        payload["trigger_id"] = json!(slack::fresh_trigger_id());
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let r = self.post_to(i, "/slack/interactions", body).await;
        assert_eq!(r.status(), 200);
    }

    async fn kinds(&self, run: i64) -> Vec<EventKind> {
        self.audit
            .run(RunId(run))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect()
    }

    /// Wait until run `run` has a `kind` record (the audit log is the marker).
    async fn wait_for(&self, run: i64, kind: EventKind) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.kinds(run).await.contains(&kind) {
            if tokio::time::Instant::now() >= deadline {
                let story: Vec<String> = self
                    .audit
                    .run(RunId(run))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| format!("{:?} {}", r.kind, r.data))
                    .collect();
                panic!("run {run} has no {kind:?}:\n{}", story.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `kubectl ARGS` as the sim's admin; its stdout.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.sim.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs (scripts/test installs it)");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every text the bot sent (messages, edits and private answers).
    fn all_said(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fake.messages().iter().map(|m| m.all_text()).collect();
        out.extend(self.fake.ephemerals().iter().map(|e| e.to_string()));
        out.extend(
            self.fake
                .calls_to("chat.update")
                .iter()
                .map(|c| c.body.to_string()),
        );
        out
    }

    /// Send `text` as Alice until an answer satisfying `done` appears (each
    /// try waits for its own answer: the count of bot texts grows), so a
    /// cache still syncing or an event still travelling is waited for
    /// without fixed sleeps. The answer found.
    async fn ask_until(&self, text: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.ask_until_in(text, "pending user server", what, done)
            .await
    }

    /// [`Rig::ask_until`] for a command whose every answer contains `marker`.
    async fn ask_until_in(
        &self,
        text: &str,
        marker: &str,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let before = self.all_said();
            self.slash("U0ALICE", text).await;
            // The answer of this try: what was said since (as a multiset,
            // for an answer may repeat an earlier one word for word).
            let answered = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let mut old = before.clone();
                let new: Vec<String> = self
                    .all_said()
                    .into_iter()
                    .filter(|t| match old.iter().position(|o| o == t) {
                        Some(i) => {
                            old.swap_remove(i);
                            false
                        }
                        None => true,
                    })
                    .collect();
                if let Some(hit) = new.iter().find(|t| done(t)) {
                    return hit.clone();
                }
                if new.iter().any(|t| t.contains(marker)) {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < answered,
                    "no answer to {text:?}; said:\n{}",
                    new.join("\n")
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no answer to {text:?} {what}; said:\n{}",
                self.all_said().join("\n")
            );
        }
    }

    /// `kubectl create` as the sim's admin.
    fn kubectl_create(&self, yaml: &str) {
        use std::io::Write;
        let mut child = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.sim.kubeconfig())
            .args(["create", "--validate=false", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl runs (scripts/test installs it)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Wait until a private answer containing `text` was sent.
    async fn wait_for_ephemeral(&self, text: &str) {
        self.fake
            .wait_until(&format!("a private answer saying {text:?}"), |f| {
                f.ephemerals().iter().any(|e| e.to_string().contains(text))
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_and_deny_while_an_approved_restart_runs_are_refused_and_it_ends_once() {
    let r = rig().await;
    // The approval message is edited to the dry run's resolved plan.
    r.ask_restart("hub restart staging --reason state machine")
        .await;
    r.press("U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Started).await;

    r.press("U0DAVE", "approve", 1).await;
    r.wait_for_ephemeral("already running").await;
    r.press("U0DAVE", "deny", 1).await;
    r.wait_for(1, EventKind::Finished).await;

    let kinds = r.kinds(1).await;
    let count = |k: EventKind| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count(EventKind::Approved), 1, "{kinds:?}");
    assert_eq!(count(EventKind::Started), 1, "{kinds:?}");
    assert_eq!(count(EventKind::Rejected), 0, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&EventKind::Finished), "{kinds:?}");
    assert!(
        kinds.contains(&EventKind::Intent),
        "the change was on record first: {kinds:?}"
    );
    let refusals = r
        .fake
        .ephemerals()
        .iter()
        .filter(|e| e.to_string().contains("already running"))
        .count();
    assert_eq!(refusals, 2, "both the approval and the deny were refused");
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// Issue 15: an `opsbot run` started on the same audit store while the
/// server runs an approved restart used to record that run interrupted
/// (twice) while it went on to succeed. The server heartbeats for its run,
/// so the one-shot process leaves it alone, and the run ends once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opsbot_run_beside_a_running_restart_leaves_that_run_alone() {
    let r = rig().await;
    r.ask_restart("hub restart staging --reason beside a one-shot")
        .await;
    r.press("U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Started).await;
    let config = r.config.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::support::binary::opsbot_run(&config, "dave", "hubs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        crate::support::binary::output_text(&out)
    );
    r.wait_for(1, EventKind::Finished).await;
    let kinds = r.kinds(1).await;
    assert!(!kinds.contains(&EventKind::Interrupted), "{kinds:?}");
    let endings = kinds.iter().filter(|k| k.is_terminal()).count();
    assert_eq!(endings, 1, "{kinds:?}");
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// What an approver approves is the resolved plan: when the fleet changes
/// after the preview (another hub Deployment now comes first), the approved
/// run changes nothing and says what moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_restart_whose_target_moved_after_the_preview_changes_nothing() {
    let r = rig().await;
    r.slash("U0ALICE", "hub restart staging --reason moved target")
        .await;
    r.fake
        .wait_until("the resolved plan in the approval message", |f| {
            f.calls_to("chat.update").iter().any(|c| {
                let b = c.body.to_string();
                b.contains("dry run ok") && b.contains("staging/hub @aws-us")
            })
        })
        .await;
    r.kubectl_create(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: { name: a-hub, namespace: staging, labels: { app: jupyterhub, component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { app: other } }
  template:
    metadata: { labels: { app: other } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
"#,
    );
    r.press("U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Failed).await;
    let records = r.audit.run(RunId(1)).await.unwrap();
    let kinds: Vec<EventKind> = records.iter().map(|x| x.kind.clone()).collect();
    assert!(
        !kinds.contains(&EventKind::Intent),
        "nothing was sent: {kinds:?}"
    );
    let end = records.last().unwrap();
    let output = end.data["output"].as_str().unwrap_or("");
    assert!(
        output.contains("no longer what was approved") && output.contains("staging/a-hub"),
        "{output}"
    );
    r.fake
        .wait_until("the thread told why nothing ran", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("no longer what was approved"))
        })
        .await;
}

/// Issue 15: two `opsbot serve` replicas on one PostgreSQL. A Slack event
/// retried to both runs once; a restart asked on one is approved on the
/// other, which runs it; when that one is killed (`kill -9`) mid-run, the
/// survivor records the run interrupted once its lease lapsed and says so
/// in the run's Slack thread; the audit chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_a_retried_event_once_approve_across_and_take_over_a_killed_ones_run() {
    let url = crate::support::postgres::PgServer::shared()
        .fresh_database()
        .await;
    let mut r = rig_on(Some(url), 2).await;

    let event = slack::mention_event("Ev0REPLICAS", "U0ALICE", "<@U0LAN0Z89> hub status staging");
    let event = String::from_utf8(event).unwrap();
    for replica in 0..2 {
        let answer = r.post_to(replica, "/slack/events", event.clone()).await;
        assert_eq!(answer.status(), 200);
    }
    r.wait_for(1, EventKind::Finished).await;
    let runs = r
        .audit
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(
        runs.len(),
        1,
        "the retry reached the other replica and ran nothing: {runs:?}"
    );

    r.ask_restart("hub restart staging --reason replicas").await;
    let thread = r
        .fake
        .messages()
        .into_iter()
        .find(|m| m.all_text().contains("run 2") && m.all_text().contains("approv"))
        .map(|m| m.thread_ts.unwrap_or(m.ts))
        .expect("the approval message");
    r.press_on(1, "U0CAROL", "approve", 2).await;
    r.wait_for(2, EventKind::Started).await;
    // The replica running it dies; the rollout it waits for takes 3 s.
    r.servers[1] = None;
    r.wait_for(2, EventKind::Interrupted).await;
    let kinds = r.kinds(2).await;
    assert_eq!(
        kinds.iter().filter(|k| k.is_terminal()).count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&EventKind::Interrupted), "{kinds:?}");
    r.fake
        .wait_until("the run's thread told it was interrupted", |f| {
            f.messages().iter().any(|m| {
                m.thread_ts.as_deref() == Some(thread.as_str())
                    && m.all_text().contains("interrupted")
            })
        })
        .await;
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// Issue 15: `cancel` sent to the replica that is not running the run
/// stops it: the running replica learns with its next heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_sent_to_the_other_replica_stops_the_run() {
    let url = crate::support::postgres::PgServer::shared()
        .fresh_database()
        .await;
    let r = rig_on(Some(url), 2).await;
    r.ask_restart("hub restart staging --reason cancel across")
        .await;
    r.press_on(0, "U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Started).await;
    r.slash_to(1, "U0ALICE", "cancel 1").await;
    r.wait_for(1, EventKind::Cancelled).await;
    let kinds = r.kinds(1).await;
    assert_eq!(
        kinds.iter().filter(|k| k.is_terminal()).count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&EventKind::Finished), "{kinds:?}");
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// Locks are held in the store (issue 15): while run 1 restarts staging
/// from replica 0, approving a second restart of staging on replica 1 is
/// refused naming run 1 and nothing of it starts; once run 1 ended, the
/// same approval starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_locked_by_a_run_on_one_replica_is_busy_on_the_other_until_that_run_ends() {
    let url = crate::support::postgres::PgServer::shared()
        .fresh_database()
        .await;
    let r = rig_on(Some(url), 2).await;
    r.ask_restart("hub restart staging --reason first").await;
    r.press_on(0, "U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Started).await;
    r.slash_to(1, "U0DAVE", "hub restart staging --reason second")
        .await;
    r.fake
        .wait_until("run 2's approval message with its resolved plan", |f| {
            f.messages().iter().any(|m| {
                let t = m.all_text();
                t.contains("run 2") && t.contains("approv") && t.contains("dry run ok")
            })
        })
        .await;
    r.press_on(1, "U0CAROL", "approve", 2).await;
    r.wait_for_ephemeral("is being changed by run 1").await;
    let kinds = r.kinds(2).await;
    assert!(
        !kinds.contains(&EventKind::Approved) && !kinds.contains(&EventKind::Started),
        "{kinds:?}"
    );
    r.wait_for(1, EventKind::Finished).await;
    r.press_on(1, "U0CAROL", "approve", 2).await;
    r.wait_for(2, EventKind::Started).await;
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// The replica leading a singleton duty, per its `/metrics`, once exactly
/// one of them says it leads.
async fn duty_leader(r: &Rig, duty: &str) -> usize {
    let line = format!("opsbot_duty_leader{{duty=\"{duty}\"}} 1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut leading = Vec::new();
        let mut seen = String::new();
        for (i, s) in r.servers.iter().enumerate() {
            let port = s.as_ref().expect("replica running").port;
            let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if text.lines().any(|l| l == line) {
                leading.push(i);
            }
            seen = text;
        }
        if let [one] = leading[..] {
            return one;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not one leader of {duty}: {leading:?}; the last replica's metrics:\n{seen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One replica expires approval requests (issue 15, singleton duties,
/// elected with a PostgreSQL advisory lock outside a cluster), also those
/// asked through the other replica, whose thread it reopens to say so:
/// exactly one `expired` record, and the requester's thread is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_expires_approvals_asked_on_the_other_and_tells_their_thread() {
    let url = crate::support::postgres::PgServer::shared()
        .fresh_database()
        .await;
    let r = rig_with(Some(url), 2, "policy: { approval_ttl: 2s }").await;
    let leader = duty_leader(&r, "approval-expiry").await;
    let follower = 1 - leader;
    r.slash_to(
        follower,
        "U0ALICE",
        "hub restart staging --reason expire across",
    )
    .await;
    r.wait_for(1, EventKind::Expired).await;
    r.fake
        .wait_until("the request's thread told that it expired", |f| {
            f.messages()
                .iter()
                .any(|m| m.all_text().contains("The approval request expired"))
        })
        .await;
    let kinds = r.kinds(1).await;
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Expired).count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(duty_leader(&r, "approval-expiry").await, leader);
    assert!(r.audit.verify().await.unwrap().problems.is_empty());
}

/// A user server stuck Pending on staging, with the scheduler's event.
const PENDING_BOB: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: jupyter-bob
  namespace: staging
  creationTimestamp: -10m
  labels: { app: jupyterhub, component: singleuser-server, hub.jupyter.org/username: bob }
spec: { containers: [{ name: notebook, image: "jupyter/scipy-notebook" }] }
status: { phase: Pending }
---
apiVersion: v1
kind: Event
metadata: { name: jupyter-bob.1, namespace: staging }
involvedObject: { kind: Pod, name: jupyter-bob, namespace: staging }
reason: FailedScheduling
message: "0/1 nodes are available: 1 Insufficient memory."
type: Warning
count: 4
lastTimestamp: -1m
source: { component: default-scheduler }
"#;

const FROM_CACHE: &str = "From the watch cache, ";

/// The watch cache (issue 14): `opsbot serve` answers `pending <hub>` and
/// `pending all` from its reflectors once they synced, and says how old the
/// cache is; a pod deleted in the simulator afterwards is gone from the
/// next answer (the watch event reached the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_pending_from_the_watch_cache_and_follows_changes() {
    let r = rig_seeded(None, 1, "", PENDING_BOB).await;
    let one = r
        .ask_until("pending staging", "from the watch cache", |t| {
            t.contains(FROM_CACHE) && t.contains("jupyter-bob")
        })
        .await;
    assert!(one.contains("1 pending user server on staging"), "{one}");
    assert!(one.contains(" s old"), "{one}");
    let all = r
        .ask_until("pending all", "from the watch cache", |t| {
            t.contains(FROM_CACHE) && t.contains("across")
        })
        .await;
    assert!(all.contains("1 pending user server across 1 hub"), "{all}");

    r.kubectl(&["delete", "pod", "jupyter-bob", "-n", "staging"]);
    let after = r
        .ask_until("pending staging", "without the deleted pod", |t| {
            t.contains("No pending user servers on staging")
        })
        .await;
    assert!(
        after.contains(FROM_CACHE),
        "the change came through the watch: {after}"
    );
}

/// The user-placeholder StatefulSet of staging (`placeholders scale`).
const PLACEHOLDERS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: user-placeholder, namespace: staging, labels: { app: jupyterhub, component: user-placeholder } }
spec:
  replicas: 0
  serviceName: user-placeholder
  selector: { matchLabels: { component: user-placeholder } }
  template:
    metadata: { labels: { component: user-placeholder } }
    spec: { containers: [{ name: pause, image: "registry.k8s.io/pause:3.9" }] }
"#;

/// Issue 14: `hub status` (its `kube.list` steps of Deployments and Pods)
/// is answered from the watch cache once it synced and says how old it is;
/// a user server deleted with kubectl afterwards is gone from the next
/// answer, still from the cache (the watch event reached the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_hub_status_from_the_watch_cache_and_follows_a_kubectl_change() {
    let seed = format!("{PENDING_BOB}---{PLACEHOLDERS}");
    let r = rig_seeded(None, 1, "", &seed).await;
    let one = r
        .ask_until_in(
            "hub status staging",
            "Hub staging",
            "from the watch cache",
            |t| t.contains(FROM_CACHE) && t.contains("User servers: 1"),
        )
        .await;
    assert!(one.contains("Pending: 1"), "{one}");
    assert!(one.contains("hub `hub`: 1/1 ready"), "{one}");
    assert!(one.contains(" s old"), "{one}");
    // StatefulSets are cached too (issue 14 names them).
    metrics_until(&r, "the StatefulSet store usable with its object", |t| {
        let has = |l: &str| t.lines().any(|x| x == l);
        has(r#"opsbot_watch_cache_usable{cluster="aws-us",kind="StatefulSet"} 1"#)
            && has(r#"opsbot_watch_cache_objects{cluster="aws-us",kind="StatefulSet"} 1"#)
    })
    .await;

    r.kubectl(&["delete", "pod", "jupyter-bob", "-n", "staging"]);
    let after = r
        .ask_until_in(
            "hub status staging",
            "Hub staging",
            "without the deleted pod",
            |t| t.contains("User servers: 0"),
        )
        .await;
    assert!(
        after.contains(FROM_CACHE),
        "the change came through the watch: {after}"
    );
}

/// Issue 14: `hub status`'s recent warnings come from the watch cache as
/// well (no list per run): a pod's from the pod events store, another
/// kind's from the warnings store; a Deployment's warning created with
/// kubectl afterwards is in the next answer, still from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_hub_status_warnings_from_the_watch_cache_and_follows_a_new_one() {
    let r = rig_seeded(None, 1, "", PENDING_BOB).await;
    let one = r
        .ask_until_in(
            "hub status staging",
            "Hub staging",
            "warnings from the watch cache",
            |t| t.contains(FROM_CACHE) && t.contains("FailedScheduling"),
        )
        .await;
    assert!(
        one.contains("Pod/jupyter-bob FailedScheduling: 0/1 nodes are available"),
        "{one}"
    );
    metrics_until(&r, "the warnings store usable", |t| {
        t.lines()
            .any(|x| x == r#"opsbot_watch_cache_usable{cluster="aws-us",kind="WarningEvent"} 1"#)
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.yaml");
    std::fs::write(
        &event,
        format!(
            "apiVersion: v1\nkind: Event\nmetadata: {{ name: hub.1, namespace: staging }}\n\
             involvedObject: {{ kind: Deployment, name: hub, namespace: staging }}\n\
             reason: FailedCreate\nmessage: \"exceeded quota: staging-quota\"\ntype: Warning\n\
             count: 1\nlastTimestamp: \"{}\"\n",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    .unwrap();
    r.kubectl(&["create", "--validate=false", "-f", event.to_str().unwrap()]);
    let after = r
        .ask_until_in(
            "hub status staging",
            "Hub staging",
            "the Deployment's new warning",
            |t| t.contains("Deployment/hub FailedCreate"),
        )
        .await;
    assert!(after.contains("exceeded quota: staging-quota"), "{after}");
    assert!(after.contains("FailedScheduling"), "{after}");
    assert!(
        after.contains(FROM_CACHE),
        "the warning came through the watch: {after}"
    );
}

/// The bot may do everything but `watch` (RBAC): the simulator answers 403
/// to every `?watch=` it sends.
const SIM_NO_WATCH: &str = r#"
users:
  - name: opsbot-bot
    token: bot-token
    rules:
      - { verbs: ["get", "list", "create", "update", "patch", "delete", "deletecollection"], resources: ["*"], namespaces: ["*"] }
"#;

/// `/metrics` of replica 0 once `done` holds for it.
async fn metrics_until(r: &Rig, what: &str, done: impl Fn(&str) -> bool) -> String {
    let port = r.servers[0].as_ref().expect("replica running").port;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if done(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/metrics never showed {what}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 14: on a cluster whose RBAC forbids `watch`, the cache lists once
/// but its watches are refused, so it never answers: `hub status` and
/// `pending` list from the API server, are right, follow a kubectl change
/// at once, and never claim to come from the watch cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_forbids_watch_is_answered_by_listing_without_claiming_the_cache() {
    let mut r = rig_sim(None, 1, "", PENDING_BOB, SIM_NO_WATCH, "").await;
    // The marker: the stores listed (they hold objects) but are not usable
    // (their watch was refused).
    let gauge = |text: &str, name: &str, kind: &str| -> Option<i64> {
        let prefix = format!("opsbot_{name}{{cluster=\"aws-us\",kind=\"{kind}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
    };
    metrics_until(&r, "listed but unusable Pod and Deployment stores", |t| {
        ["Pod", "Deployment"].iter().all(|k| {
            gauge(t, "watch_cache_objects", k).is_some_and(|n| n > 0)
                && gauge(t, "watch_cache_usable", k) == Some(0)
        })
    })
    .await;
    let server = r.servers[0].as_mut().unwrap();
    let said = tokio::task::block_in_place(|| server.wait_for_log("forbids watching Pod"));
    assert!(said.contains("WARN"), "{said}");

    let status = r
        .ask_until_in("hub status staging", "Hub staging", "an answer", |t| {
            t.contains("User servers:")
        })
        .await;
    assert!(status.contains("User servers: 1"), "{status}");
    assert!(status.contains("Pending: 1"), "{status}");
    assert!(!status.contains("watch cache"), "{status}");
    let pending = r
        .ask_until("pending staging", "an answer", |t| {
            t.contains("jupyter-bob")
        })
        .await;
    assert!(
        pending.contains("1 pending user server on staging"),
        "{pending}"
    );
    assert!(!pending.contains("watch cache"), "{pending}");

    // Listed from the API server: the deleted pod goes from the answers,
    // which still say nothing of a cache.
    r.kubectl(&["delete", "pod", "jupyter-bob", "-n", "staging"]);
    let after = r
        .ask_until_in(
            "hub status staging",
            "Hub staging",
            "without the deleted pod",
            |t| t.contains("User servers: 0"),
        )
        .await;
    assert!(!after.contains("watch cache"), "{after}");
}

/// Issue 14: a cluster above `watch_cache_max_objects` (here 1, and it has
/// more than one pod) keeps no partial store: the kind is marked over the
/// cap in `/metrics` and in a warning, and `hub status` lists from the API
/// server, right and without claiming the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_above_the_clusters_cache_cap_is_listed_and_says_so() {
    let mut r = rig_sim(
        None,
        1,
        "",
        PENDING_BOB,
        SIM_YAML,
        ", watch_cache_max_objects: 1",
    )
    .await;
    let text = metrics_until(&r, "the Pod store over the cap", |t| {
        t.lines()
            .any(|l| l == r#"opsbot_watch_cache_over_cap{cluster="aws-us",kind="Pod"} 1"#)
    })
    .await;
    assert!(
        text.lines()
            .any(|l| l == r#"opsbot_watch_cache_objects{cluster="aws-us",kind="Pod"} 0"#),
        "nothing partial is kept:\n{text}"
    );
    let server = r.servers[0].as_mut().unwrap();
    // Each kind over the cap says so once; which kind goes first is a race.
    let said =
        tokio::task::block_in_place(|| server.wait_for_log(r#""kind":"Pod","max_objects":1"#));
    assert!(said.contains("watch_cache_max_objects"), "{said}");
    let status = r
        .ask_until_in("hub status staging", "Hub staging", "an answer", |t| {
            t.contains("User servers:")
        })
        .await;
    assert!(status.contains("User servers: 1 · Pending: 1"), "{status}");
    assert!(!status.contains("watch cache"), "{status}");
}

/// With the cache synced, an approved restart still changes the cluster
/// (its dry run and its patch go to the API server, not the cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_goes_to_the_api_server_while_the_cache_answers_reads() {
    let r = rig_seeded(None, 1, "", PENDING_BOB).await;
    r.ask_restart("hub restart staging --reason cache on").await;
    r.ask_until("pending staging", "from the watch cache", |t| {
        t.contains(FROM_CACHE)
    })
    .await;
    r.press("U0CAROL", "approve", 1).await;
    r.wait_for(1, EventKind::Finished).await;
    let annotations = r.kubectl(&[
        "get",
        "deployment",
        "hub",
        "-n",
        "staging",
        "-o",
        "jsonpath={.spec.template.metadata.annotations}",
    ]);
    assert!(
        annotations.contains("restartedAt"),
        "the restart reached the simulated API server: {annotations}"
    );
}

/// `opsbot run` keeps no cache: its answer lists from the API server and
/// says nothing about a cache.
#[test]
fn opsbot_run_lists_without_a_cache() {
    let staging = hub_seed("staging");
    let sim = SimProcess::start(&[
        ("aws-us/sim.yaml", SIM_YAML),
        ("aws-us/00-node.yaml", NODE),
        ("aws-us/10-staging.yaml", staging.as_str()),
        ("aws-us/20-seed.yaml", PENDING_BOB),
    ]);
    let kubeconfig = sim.kubeconfig_with_token("bot-token");
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: aws-us, kubeconfig: "{kc}", context: aws-us }}
hubs:
  - {{ name: staging, cluster: aws-us, namespace: staging }}
people:
  - {{ id: alice, roles: [engineer] }}
roles:
  engineer: {{ run: ["*"] }}
"#,
        kc = kubeconfig.display(),
    ));
    let out = crate::support::binary::opsbot_run(&config, "alice", "pending staging");
    let text = crate::support::binary::output_text(&out);
    assert!(text.contains("1 pending user server on staging"), "{text}");
    assert!(!text.contains("watch cache"), "{text}");
}

/// A read-only playbook reading one Deployment with `kube.get` (no playbook
/// of the shipped pack reads a cached kind by name without changing it).
const DEPLOYMENT_GET: &str = r#"name: deployment-get
summary: One Deployment of a hub, by name
params:
  hub: { type: hub }
  name: { type: string }
timeout: 1m
steps:
  - id: d
    kube.get: { cluster: "{{ hub.cluster }}", namespace: "{{ hub.namespace }}", kind: Deployment, name: "{{ name }}" }
result: |
  Deployment {{ steps.d.name }} tier {{ steps.d.labels.tier | default("none") }}
  {%- if steps.d.cache %}
  _From the watch cache, {{ steps.d.cache.age_seconds }} s old._
  {%- endif %}
"#;

/// Issue 14: `kube.get` of a cached kind answers from the watch cache, says
/// so, and follows a change made with kubectl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_get_step_answers_from_the_watch_cache_and_follows_a_kubectl_change() {
    // The shipped pack plus one playbook and its command.
    let pack = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["commands", "playbooks"] {
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(root.join(dir))
            .arg(pack.path())
            .status()
            .unwrap();
        assert!(copied.success(), "cp -r {dir}");
    }
    std::fs::write(
        pack.path().join("playbooks/deployment-get.yaml"),
        DEPLOYMENT_GET,
    )
    .unwrap();
    std::fs::write(
        pack.path().join("commands/extra.yaml"),
        "- command: deployment <hub> <name>\n  summary: One Deployment of a hub, by name\n  playbook: deployment-get\n  examples: [\"deployment staging hub\"]\n",
    )
    .unwrap();
    let more = format!(
        "commands: \"{0}/commands\"\nplaybooks: \"{0}/playbooks\"",
        pack.path().display()
    );
    let r = rig_seeded(None, 1, &more, PENDING_BOB).await;
    let one = r
        .ask_until_in(
            "deployment staging hub",
            "Deployment hub",
            "from the watch cache",
            |t| t.contains(FROM_CACHE) && t.contains("Deployment hub tier"),
        )
        .await;
    assert!(one.contains("tier none"), "{one}");
    r.kubectl(&["label", "deployment", "hub", "-n", "staging", "tier=gold"]);
    let after = r
        .ask_until_in(
            "deployment staging hub",
            "Deployment hub",
            "the new label",
            |t| t.contains("tier gold"),
        )
        .await;
    assert!(
        after.contains(FROM_CACHE),
        "the change came through the watch: {after}"
    );
}
