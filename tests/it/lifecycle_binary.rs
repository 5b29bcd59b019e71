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
    server: Server,
    audit: AuditLog,
    sim: SimProcess,
    config: std::path::PathBuf,
}

async fn rig() -> Rig {
    let fake = FakeSlack::start().await;
    let staging = hub_seed("staging");
    let sim = SimProcess::start(&[
        ("aws-us/sim.yaml", SIM_YAML),
        ("aws-us/00-node.yaml", NODE),
        ("aws-us/10-staging.yaml", &staging),
    ]);
    let kubeconfig = sim.kubeconfig_with_token("bot-token");
    let config = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: aws-us, kubeconfig: "{kc}", context: aws-us }}
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
"#,
        kc = kubeconfig.display(),
        api = fake.api_url(),
    ));
    let cfg = config.clone();
    let server = tokio::task::spawn_blocking(move || {
        Server::start(
            &cfg,
            &[
                ("SLACK_SIGNING_SECRET", slack::SIGNING_SECRET),
                ("SLACK_BOT_TOKEN", "xoxb-test"),
            ],
        )
    })
    .await
    .unwrap();
    let audit = AuditLog::open(&format!(
        "sqlite://{}",
        config.with_file_name("audit.db").display()
    ))
    .await
    .unwrap();
    Rig {
        fake,
        server,
        audit,
        sim,
        config,
    }
}

impl Rig {
    async fn post(&self, path: &str, body: String) -> reqwest::Response {
        let ts = slack::now();
        let signature = slack::sign(slack::SIGNING_SECRET, ts, body.as_bytes());
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}{path}", self.server.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn slash(&self, user: &str, text: &str) {
        let r = self
            .post("/slack/commands", slack::slash_form(user, CHANNEL, text))
            .await;
        assert_eq!(r.status(), 200);
    }

    /// `user` presses `action` on run `run`'s approval message.
    async fn press(&self, user: &str, action: &str, run: i64) {
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
        let r = self.post("/slack/interactions", body).await;
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
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} has no {kind:?}: {:?}",
                self.kinds(run).await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
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
    r.slash("U0ALICE", "hub restart staging --reason state machine")
        .await;
    // The approval message is edited to the dry run's resolved plan.
    r.fake
        .wait_until("the resolved plan in the approval message", |f| {
            f.calls_to("chat.update")
                .iter()
                .any(|c| c.body.to_string().contains("dry run ok"))
        })
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
    r.slash("U0ALICE", "hub restart staging --reason beside a one-shot")
        .await;
    r.fake
        .wait_until("the resolved plan in the approval message", |f| {
            f.calls_to("chat.update")
                .iter()
                .any(|c| c.body.to_string().contains("dry run ok"))
        })
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
