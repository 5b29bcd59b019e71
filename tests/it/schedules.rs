//! Schedules (issue 18): read-only commands opsbot runs by itself at cron
//! times, each in a new Slack thread; one run per schedule and due time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use opsbot::chat::{Core, Outcome, Platform, RunId, Update};
use opsbot::config::Schedule;
use opsbot::schedules::{Clock, Scheduler};
use tokio::sync::watch;

use crate::support::slack::{settings, FakeCore, FakeSlack, Script};

/// A clock that moves only when the test says, and tells when the
/// scheduler waits on it (the marker tests synchronise on).
struct FrozenClock {
    now: watch::Sender<DateTime<Utc>>,
    waiting_for: watch::Sender<Option<DateTime<Utc>>>,
}

impl FrozenClock {
    fn at(t: &str) -> Arc<FrozenClock> {
        Arc::new(FrozenClock {
            now: watch::channel(t.parse().unwrap()).0,
            waiting_for: watch::channel(None).0,
        })
    }

    fn set(&self, t: &str) {
        self.now.send_replace(t.parse().unwrap());
    }

    /// Until the scheduler sleeps until `t`.
    async fn scheduler_waits_for(&self, t: &str) {
        let t: DateTime<Utc> = t.parse().unwrap();
        let mut rx = self.waiting_for.subscribe();
        let waited =
            tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|w| *w == Some(t))).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "the scheduler never waited for {t}: {:?}",
            *self.waiting_for.borrow()
        );
    }
}

impl Clock for FrozenClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut now = self.now.subscribe();
            self.waiting_for.send_replace(Some(at));
            let _ = now.wait_for(|n| *n >= at).await;
        })
    }
}

fn morning() -> Schedule {
    Schedule {
        name: "morning".into(),
        cron: "0 8 * * *".into(),
        command: "fleet status".into(),
        slack_channel: "C0OPS".into(),
        person: "scheduler".into(),
    }
}

/// A core whose runs succeed at once with a recognisable answer.
fn core() -> Arc<FakeCore> {
    FakeCore::new(|req| Script {
        now: vec![Update::Accepted {
            run: RunId::from(7),
            command: req.text.clone(),
            person: req.sender.clone(),
        }],
        later: vec![Update::Done {
            run: RunId::from(7),
            command: req.text.clone(),
            person: req.sender.clone(),
            outcome: Outcome::Succeeded,
            output: "**Fleet: 5 hubs** all ok".into(),
            steps: vec![],
            millis: 12,
            labels: vec![],
            charts: vec![],
        }],
        gate: None,
    })
}

async fn start(
    core: Arc<FakeCore>,
    leading: bool,
    clock: Arc<FrozenClock>,
) -> (FakeSlack, tokio::task::JoinHandle<()>) {
    let slack = FakeSlack::start().await;
    let dyn_core: Arc<dyn Core> = core;
    let scheduler = Scheduler {
        slack: opsbot::chat::slack::Notifier::new(dyn_core.clone(), &settings(&slack.api_url()))
            .unwrap(),
        core: dyn_core,
        schedules: vec![morning()],
        leading: Arc::new(move || leading),
        clock,
    };
    (slack, tokio::spawn(scheduler.run()))
}

#[tokio::test]
async fn a_schedule_runs_once_at_its_due_time_under_a_frozen_clock_into_its_own_thread() {
    let clock = FrozenClock::at("2026-12-03T07:59:00Z");
    let core = core();
    let (slack, task) = start(core.clone(), true, clock.clone()).await;
    clock.scheduler_waits_for("2026-12-03T08:00:00Z").await;
    assert!(core.requests().is_empty(), "nothing runs before it is due");

    clock.set("2026-12-03T08:00:00Z");
    slack
        .wait_until("the run's result in the schedule's thread", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.is_some() && m.all_text().contains("Fleet: 5 hubs"))
        })
        .await;
    // The next due time is tomorrow's: the scheduler waits for it, having run once.
    clock.set("2026-12-03T08:00:30Z");
    clock.scheduler_waits_for("2026-12-04T08:00:00Z").await;
    let requests = core.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].text, "fleet status");
    assert_eq!(requests[0].sender, "scheduler");
    assert_eq!(requests[0].platform(), Platform::Schedule);
    let roots: Vec<_> = slack
        .messages()
        .into_iter()
        .filter(|m| m.thread_ts.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(roots[0].channel, "C0OPS");
    assert!(
        roots[0].text.contains("*morning*: `fleet status`"),
        "{}",
        roots[0].text
    );
    assert!(slack
        .messages()
        .iter()
        .filter(|m| m.thread_ts.is_some())
        .all(|m| m.thread_ts.as_deref() == Some(roots[0].ts.as_str())));
    task.abort();
}

/// Another replica leads: this one lets the due time pass without a run.
#[tokio::test]
async fn a_process_that_does_not_lead_the_schedules_duty_runs_nothing() {
    let clock = FrozenClock::at("2026-12-03T07:59:00Z");
    let core = core();
    let (slack, task) = start(core.clone(), false, clock.clone()).await;
    clock.scheduler_waits_for("2026-12-03T08:00:00Z").await;
    clock.set("2026-12-03T08:00:00Z");
    clock.scheduler_waits_for("2026-12-04T08:00:00Z").await;
    assert!(core.requests().is_empty());
    assert!(slack.messages().is_empty());
    task.abort();
}

/// The store already has this schedule at this time (another process ran
/// it while both thought they led): it is not run a second time.
#[tokio::test]
async fn a_due_time_another_process_already_ran_is_not_run_again() {
    let clock = FrozenClock::at("2026-12-03T07:59:00Z");
    let core = core();
    assert!(core
        .first_delivery("schedule", "morning@2026-12-03T08:00:00Z")
        .await
        .unwrap());
    let (slack, task) = start(core.clone(), true, clock.clone()).await;
    clock.scheduler_waits_for("2026-12-03T08:00:00Z").await;
    clock.set("2026-12-03T08:00:00Z");
    clock.scheduler_waits_for("2026-12-04T08:00:00Z").await;
    assert!(core.requests().is_empty());
    assert!(slack.messages().is_empty());
    task.abort();
}

const SCHEDULED_FLEET: &str = r#"
clusters:
  - { name: aws-us, kubeconfig: "KUBECONFIG", context: aws-us }
hubs:
  - { name: staging, cluster: aws-us, namespace: staging }
people:
  - { id: scheduler, roles: [reader] }
roles:
  reader: { run: ["hub status", "hub restart"] }
slack: { api_url: "API" }
listen: 127.0.0.1:0
schedules:
  - { name: every-two, cron: "*/2 * * * * *", command: "COMMAND", slack_channel: C0OPS }
"#;

fn scheduled_config(
    sim: &crate::support::binary::SimProcess,
    api: &str,
    command: &str,
) -> std::path::PathBuf {
    let kubeconfig = sim.kubeconfig_with_token("bot-token");
    sim.write_config(
        &SCHEDULED_FLEET
            .replace("KUBECONFIG", &kubeconfig.display().to_string())
            .replace("API", api)
            .replace("COMMAND", command),
    )
}

const SIM_YAML: &str = "users:\n  - { name: opsbot-bot, token: bot-token, rules: [ { verbs: [\"*\"], resources: [\"*\"], namespaces: [\"*\"] } ] }\n";

/// Through the binary: `opsbot serve` runs a schedule at its times, as its
/// person, each run in a new thread of the schedule's channel, audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsbot_serve_runs_a_schedule_into_a_new_thread_each_time_audited_as_its_person() {
    use crate::support::binary::{hub_seed, SimProcess};
    let slack = FakeSlack::start().await;
    let staging = hub_seed("staging");
    let sim = SimProcess::start(&[
        ("aws-us/sim.yaml", SIM_YAML),
        ("aws-us/10-staging.yaml", &staging),
    ]);
    let config = scheduled_config(&sim, &slack.api_url(), "hub status staging");
    let _server = tokio::task::spawn_blocking(move || {
        crate::support::server::Server::start(
            &config,
            &[
                ("SLACK_SIGNING_SECRET", "s"),
                ("SLACK_BOT_TOKEN", "xoxb-test"),
            ],
        )
    })
    .await
    .unwrap();
    slack
        .wait_until("two scheduled runs, each finished in its own thread", |f| {
            let roots: Vec<_> = f
                .messages()
                .into_iter()
                .filter(|m| m.thread_ts.is_none() && m.text.contains("*every-two*"))
                .collect();
            roots.len() >= 2
                && roots.iter().take(2).all(|r| {
                    f.messages().iter().any(|m| {
                        m.thread_ts.as_deref() == Some(r.ts.as_str())
                            && m.all_text().contains("succeeded")
                    })
                })
        })
        .await;
    let audit = opsbot::audit::AuditLog::open(&format!(
        "sqlite://{}",
        sim.kubeconfig().with_file_name("audit.db").display()
    ))
    .await
    .unwrap();
    let runs = audit.list(&opsbot::audit::Filter::default()).await.unwrap();
    assert!(runs.len() >= 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.person == "scheduler"), "{runs:?}");
}

/// A schedule that would change things is refused before anything runs:
/// `opsbot check` names it (`opsbot serve` runs the same check at start).
#[test]
fn a_schedule_whose_command_changes_things_is_refused_by_opsbot_check() {
    use crate::support::binary::{opsbot, output_text, SimProcess};
    let staging = crate::support::binary::hub_seed("staging");
    let sim = SimProcess::start(&[
        ("aws-us/sim.yaml", SIM_YAML),
        ("aws-us/10-staging.yaml", &staging),
    ]);
    let config = scheduled_config(&sim, "http://127.0.0.1:9/api", "hub restart staging");
    let dir = config.parent().unwrap();
    let check = opsbot(dir, &["check", "--config", config.to_str().unwrap()]);
    let text = output_text(&check);
    assert_ne!(check.status.code(), Some(0), "{text}");
    assert!(
        text.contains("schedules.every-two: `hub restart` changes things"),
        "{text}"
    );
    let good = scheduled_config(&sim, "http://127.0.0.1:9/api", "hub status staging");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["check", "--config", good.to_str().unwrap()])
        .env("SLACK_SIGNING_SECRET", "s")
        .env("SLACK_BOT_TOKEN", "xoxb-test")
        .output()
        .unwrap();
    let text = output_text(&check);
    assert_eq!(check.status.code(), Some(0), "{text}");
    assert!(
        text.contains("schedule every-two: `hub status staging` at `*/2 * * * * *` (UTC) into Slack channel C0OPS, as scheduler"),
        "{text}"
    );
}
