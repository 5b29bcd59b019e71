//! The run state machine (issue 17): a run moves requested → awaiting
//! approval → queued → running → an end, once, whatever people type in
//! between: deny on a running run, a second approval, cancel while queued,
//! an approval answered "busy".

use std::time::Duration;

use crate::support::bot::{self, Bot};
use bot::{refusal, run_of};
use opsbot::audit::{EventKind, RunId};
use opsbot::chat::{Outcome, Update};
use opsbot::runs::Limits;
use opsbot_sim::FaultRule;

/// Hold the next `list` in `namespace` for a while, so a run that reaches it
/// is observably running (the test waits on its `started` record, not on time).
fn slow_next_list(bot: &Bot, namespace: &str, times: Option<u32>) {
    bot.demo
        .fleet
        .cluster("aws-us")
        .unwrap()
        .add_fault(FaultRule {
            verbs: vec!["list".into()],
            namespaces: vec![namespace.into()],
            latency: Some(Duration::from_secs(4)),
            times,
            ..FaultRule::default()
        });
}

fn count(kinds: &[EventKind], kind: EventKind) -> usize {
    kinds.iter().filter(|k| **k == kind).count()
}

fn is_done_of(run: RunId) -> impl Fn(&Update) -> bool {
    move |u| matches!(u, Update::Done { run: r, .. } if *r == run)
}

fn done_of(updates: &[Update], run: RunId) -> (Outcome, String) {
    updates
        .iter()
        .find_map(|u| match u {
            Update::Done {
                run: r,
                outcome,
                output,
                ..
            } if *r == run => Some((*outcome, output.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no end of run {run} in {updates:#?}"))
}

/// alice asks for a restart of staging; returns its run, waiting for approval.
async fn requested_restart(bot: &mut Bot) -> RunId {
    let asked = bot
        .ask("alice", "hub restart staging --reason config change")
        .await;
    assert!(
        matches!(asked.last(), Some(Update::AwaitingApproval { .. })),
        "{asked:#?}"
    );
    // Approving waits for the preview (what the restart would touch).
    bot.preview().await;
    run_of(&asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_on_a_running_run_is_refused_and_the_run_finishes_once() {
    let mut bot = Bot::start().await;
    let run = requested_restart(&mut bot).await;
    slow_next_list(&bot, "staging", Some(1));
    bot.submit("carol", &format!("approve {run}")).await;
    bot.wait_for_record(run, EventKind::Started).await;

    bot.submit("dave", &format!("deny {run}")).await;
    let seen = bot.until(is_done_of(run)).await;
    let refused = seen
        .iter()
        .find_map(|u| match u {
            Update::Refused { reason, detail, .. } => Some(format!("{reason}: {detail}")),
            _ => None,
        })
        .unwrap_or_else(|| panic!("deny was not refused: {seen:#?}"));
    assert!(
        refused.contains(&format!("run {run} is already running"))
            && refused.contains(&format!("cancel {run}")),
        "{refused}"
    );
    let (outcome, output) = done_of(&seen, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let kinds = bot.kinds(run).await;
    assert_eq!(count(&kinds, EventKind::Rejected), 0, "{kinds:?}");
    assert_eq!(count(&kinds, EventKind::Started), 1, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&EventKind::Finished), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_approval_while_it_runs_is_refused_and_records_nothing() {
    let mut bot = Bot::start().await;
    let run = requested_restart(&mut bot).await;
    slow_next_list(&bot, "staging", Some(1));
    bot.submit("carol", &format!("approve {run}")).await;
    bot.wait_for_record(run, EventKind::Started).await;

    bot.submit("dave", &format!("approve {run}")).await;
    let seen = bot.until(is_done_of(run)).await;
    let (reason, _) = refusal(
        &seen
            .iter()
            .filter(|u| matches!(u, Update::Refused { .. }))
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert!(reason.contains("already running"), "{reason}");
    let kinds = bot.kinds(run).await;
    assert_eq!(count(&kinds, EventKind::Approved), 1, "{kinds:?}");
    assert_eq!(count(&kinds, EventKind::Started), 1, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_a_queued_run_stops_it_from_ever_starting() {
    let mut bot = Bot::start_with(Limits {
        concurrent_runs: 1,
        queued_runs: 1,
    })
    .await;
    let run = requested_restart(&mut bot).await;
    // bob's slow read holds the only runner; the approved restart queues.
    slow_next_list(&bot, "prod", Some(1));
    bot.submit("bob", "hub status prod").await;
    let busy_run = opsbot::chat::RunId(run.get() + 1);
    bot.wait_for_record(busy_run, EventKind::Started).await;
    bot.submit("carol", &format!("approve {run}")).await;
    bot.until(|u| matches!(u, Update::Accepted { run: r, .. } if *r == run))
        .await;

    bot.submit("alice", &format!("cancel {run}")).await;
    let told = bot
        .until(|u| matches!(u, Update::Info { title, .. } if title.contains("cancelled")))
        .await;
    let Some(Update::Info { body, .. }) = told.last() else {
        unreachable!()
    };
    assert!(body.contains("will not start"), "{body}");

    let seen = bot.until(is_done_of(run)).await;
    let (outcome, output) = done_of(&seen, run);
    assert_eq!(outcome, Outcome::Cancelled, "{output}");
    let kinds = bot.kinds(run).await;
    assert!(!kinds.contains(&EventKind::Started), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&EventKind::Cancelled), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_answered_busy_can_be_given_again_and_the_run_starts_once() {
    let mut bot = Bot::start_with(Limits {
        concurrent_runs: 1,
        queued_runs: 1,
    })
    .await;
    let run = requested_restart(&mut bot).await;
    // Slow reads of prod fill the runner, the dispatcher's hand and the
    // one queue slot (a "busy" answer meanwhile just means the dispatcher
    // has not taken the previous one off the queue yet: ask again).
    slow_next_list(&bot, "prod", None);
    let mut accepted = Vec::new();
    for _ in 0..200 {
        if accepted.len() == 3 {
            break;
        }
        bot.submit("bob", "hub status prod").await;
        let ack = bot
            .until(|u| matches!(u, Update::Accepted { .. } | Update::Refused { .. }))
            .await;
        match ack.last() {
            Some(Update::Accepted { run, .. }) => accepted.push(*run),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(accepted.len(), 3, "three slow reads fill opsbot");
    let busy = bot.ask("carol", &format!("approve {run}")).await;
    let (reason, detail) = refusal(&busy);
    assert!(reason.contains("busy"), "{reason}");
    assert!(detail.contains("approve again"), "{detail}");
    assert_eq!(count(&bot.kinds(run).await, EventKind::Approved), 0);

    bot.demo.fleet.cluster("aws-us").unwrap().clear_faults();
    for r in accepted {
        bot.until(is_done_of(r)).await;
    }
    let again = bot.ask("carol", &format!("approve {run}")).await;
    let (outcome, output) = done_of(&again, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let kinds = bot.kinds(run).await;
    assert_eq!(count(&kinds, EventKind::Approved), 1, "{kinds:?}");
    assert_eq!(count(&kinds, EventKind::Started), 1, "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_request_nobody_decides_is_expired_by_the_sweeper_and_its_thread_told() {
    use crate::support::binary::SimProcess;
    let sim = SimProcess::start(&[(
        "aws-us/10-staging.yaml",
        r#"
apiVersion: v1
kind: Namespace
metadata: { name: staging }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: hub, namespace: staging, labels: { app: jupyterhub, component: hub } }
spec:
  replicas: 1
  selector: { matchLabels: { app: jupyterhub, component: hub } }
  template:
    metadata: { labels: { app: jupyterhub, component: hub } }
    spec: { containers: [{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.0.0" }] }
"#,
    )]);
    let kubeconfig = sim.kubeconfig_with_token("opsbot-sim-admin");
    let path = sim.write_config(&format!(
        r#"
clusters:
  - {{ name: aws-us, kubeconfig: "{}", context: aws-us }}
hubs:
  - {{ name: staging, cluster: aws-us, namespace: staging }}
people:
  - {{ id: alice, roles: [engineer] }}
  - {{ id: carol, roles: [engineer] }}
roles:
  engineer: {{ run: ["*"], approve: ["*"] }}
policy:
  approval_ttl: 1s
"#,
        kubeconfig.display()
    ));
    let config = opsbot::config::Config::load(&path, &|_| None).unwrap();
    let app = opsbot::app::App::build(config, Limits::default())
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    app.runs
        .submit(
            opsbot::chat::Request {
                sender: "alice".into(),
                text: "hub restart staging --reason config change".into(),
                place: opsbot::chat::Place::Console(opsbot::chat::place::ConsolePlace {
                    console: "alice".into(),
                }),
                memberships: Vec::new(),
            },
            tx,
        )
        .await;
    // The thread's own story is the marker: its approval request, then its end.
    let mut seen = Vec::new();
    let (run, output) = loop {
        let u = tokio::time::timeout(bot::PATIENCE, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("the request never ended: {seen:#?}"))
            .unwrap_or_else(|| panic!("the thread's channel closed without an end: {seen:#?}"));
        if let Update::Done { run, output, .. } = &u {
            break (*run, output.clone());
        }
        seen.push(u);
    };
    assert!(
        matches!(seen.last(), Some(Update::AwaitingApproval { run: r, .. }) if *r == run),
        "{seen:#?}"
    );
    assert!(output.contains("approval request expired"), "{output}");
    let kinds: Vec<EventKind> = app
        .runs
        .context()
        .audit
        .run(run)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds.last(), Some(&EventKind::Expired), "{kinds:?}");
    assert!(!kinds.contains(&EventKind::Started), "{kinds:?}");
    // The reply channel was let go: nothing holds the thread open any more.
    assert!(
        tokio::time::timeout(bot::PATIENCE, rx.recv())
            .await
            .expect("the channel closes")
            .is_none(),
        "the expired request's reply channel is released"
    );
    app.runs.shutdown(Duration::from_secs(5)).await;
}

/// A rollout restart is stamped with when it was first issued, so the retry
/// after a dropped connection (the client cannot know whether the PATCH was
/// applied) sends the very same change, and the workload rolls out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_whose_connection_drops_is_sent_again_as_the_same_change_and_rolls_out_once() {
    let mut bot = Bot::start().await;
    let run = requested_restart(&mut bot).await;
    let cluster = bot.demo.fleet.cluster("aws-us").unwrap();
    let real_patches = || {
        cluster
            .requests()
            .into_iter()
            .filter(|q| {
                q.verb == "patch"
                    && q.namespace.as_deref() == Some("staging")
                    && !q.query.contains("dryRun")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(real_patches().len(), 0, "only the dry runs patched so far");
    let generation = || {
        cluster
            .store()
            .get("deployments", "staging", "hub")
            .unwrap()["metadata"]["generation"]
            .as_i64()
            .unwrap()
    };
    let before = generation();
    cluster.add_fault(FaultRule {
        verbs: vec!["patch".into()],
        namespaces: vec!["staging".into()],
        drop: true,
        times: Some(1),
        dry_run: Some(false),
        ..FaultRule::default()
    });
    let approved = bot.ask("carol", &format!("approve {run}")).await;
    let (outcome, output) = done_of(&approved, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let sent = real_patches();
    assert_eq!(sent.len(), 2, "the dropped PATCH and its retry: {sent:#?}");
    assert_eq!(sent[0].body, sent[1].body, "the retry is the same change");
    assert_eq!(generation(), before + 1, "one rollout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_step_whose_connection_drops_is_still_retried() {
    let mut bot = Bot::start().await;
    let cluster = bot.demo.fleet.cluster("aws-us").unwrap();
    cluster.add_fault(FaultRule {
        verbs: vec!["list".into()],
        namespaces: vec!["staging".into()],
        drop: true,
        times: Some(1),
        ..FaultRule::default()
    });
    let answer = bot.ask("bob", "hub status staging").await;
    let run = run_of(&answer);
    let (outcome, output) = done_of(&answer, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutating_run_whose_audit_log_stops_accepting_records_is_stopped_and_fails() {
    let mut bot = Bot::start().await;
    let run = requested_restart(&mut bot).await;
    slow_next_list(&bot, "staging", Some(1));
    bot.submit("carol", &format!("approve {run}")).await;
    bot.wait_for_record(run, EventKind::Started).await;
    // While the first step (a read) is in flight, the audit file starts
    // refusing every new record, as a full or broken disk would.
    let db = rusqlite::Connection::open(bot.dir.path().join("audit.db")).unwrap();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse_records BEFORE INSERT ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END;",
    )
    .unwrap();

    let seen = bot.until(is_done_of(run)).await;
    let (outcome, output) = done_of(&seen, run);
    assert_eq!(outcome, Outcome::Failed, "{output}");
    assert!(
        output.contains("audit log stopped accepting records"),
        "{output}"
    );
}

/// The approval shows what the dry run resolved (a target that came from a
/// read step, here the user's pod), and the run is held to exactly that:
/// when the fleet moves between the preview and the approval, nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_targets_changed_after_it_was_shown_is_refused_and_changes_nothing() {
    let mut bot = Bot::start().await;
    let asked = bot.ask("alice", "user stop staging dave").await;
    let run = run_of(&asked);
    let shown = bot.preview().await;
    assert!(
        shown
            .iter()
            .any(|l| l.starts_with("pod: delete v1 pods staging/jupyter-dave ")),
        "the approver sees the resolved pod, not a template: {shown:#?}"
    );
    // dave's server is replaced by another pod before anyone approves.
    let cluster = bot.demo.fleet.cluster("aws-us").unwrap();
    let store = cluster.store();
    let mut pod = store
        .get("pods", "staging", "jupyter-dave")
        .expect("seeded");
    pod["metadata"]["name"] = "jupyter-dave-2".into();
    for k in ["uid", "resourceVersion", "creationTimestamp"] {
        pod["metadata"].as_object_mut().unwrap().remove(k);
    }
    store.seed(pod).unwrap();
    let def = opsbot_sim::discovery::by_kind("v1", "Pod").unwrap();
    store
        .delete(def, "staging", "jupyter-dave", Some(0), false)
        .unwrap();
    cluster.clear_requests();

    let approved = bot.ask("carol", &format!("approve {run}")).await;
    let (outcome, output) = done_of(&approved, run);
    assert_eq!(outcome, Outcome::Failed, "{output}");
    assert!(
        output.contains("no longer what was approved") && output.contains("jupyter-dave-2"),
        "{output}"
    );
    let deletes: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|q| q.verb == "delete" && !is_dry_run(q))
        .collect();
    assert!(deletes.is_empty(), "nothing was deleted: {deletes:#?}");
    let kinds = bot.kinds(run).await;
    assert!(!kinds.contains(&EventKind::Intent), "{kinds:?}");
    let approval = bot
        .records(run)
        .await
        .into_iter()
        .find(|r| r.kind == EventKind::Approved)
        .unwrap();
    assert!(
        approval.data["preview_hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64),
        "the approval names the preview it approved: {}",
        approval.data
    );
}

/// Every change a mutating run makes is on record before it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutating_step_records_its_intent_before_the_change_and_its_outcome_after() {
    let mut bot = Bot::start().await;
    let run = requested_restart(&mut bot).await;
    let approved = bot.ask("carol", &format!("approve {run}")).await;
    let (outcome, output) = done_of(&approved, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let records = bot.records(run).await;
    let intent = records
        .iter()
        .position(|r| r.kind == EventKind::Intent)
        .unwrap_or_else(|| panic!("no intent: {:?}", bot_kinds(&records)));
    assert_eq!(
        records[intent].data["verb"], "patch",
        "{}",
        records[intent].data
    );
    let step = records
        .iter()
        .position(|r| {
            r.kind == EventKind::Step
                && r.data["step"] == records[intent].data["step"]
                && r.data["dry_run"] == false
        })
        .expect("the step's outcome");
    assert!(intent < step, "{:?}", bot_kinds(&records));
}

/// A server-side dry run: `?dryRun=All`, or a delete's DeleteOptions body.
fn is_dry_run(q: &opsbot_sim::RecordedRequest) -> bool {
    q.query.contains("dryRun") || q.body.as_ref().is_some_and(|b| b["dryRun"][0] == "All")
}

fn bot_kinds(records: &[opsbot::audit::Record]) -> Vec<EventKind> {
    records.iter().map(|r| r.kind.clone()).collect()
}

/// A DELETE whose answer is lost is retried only after checking the object:
/// the retry deletes exactly the object it just saw (uid precondition), and
/// one already gone counts as done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_whose_connection_drops_is_retried_against_the_same_object_and_succeeds() {
    let mut bot = Bot::start().await;
    let asked = bot.ask("alice", "user stop staging dave").await;
    let run = run_of(&asked);
    bot.preview().await;
    let cluster = bot.demo.fleet.cluster("aws-us").unwrap();
    let uid = cluster
        .store()
        .get("pods", "staging", "jupyter-dave")
        .unwrap()["metadata"]["uid"]
        .clone();
    cluster.add_fault(FaultRule {
        verbs: vec!["delete".into()],
        namespaces: vec!["staging".into()],
        drop: true,
        times: Some(1),
        dry_run: Some(false),
        ..FaultRule::default()
    });
    let approved = bot.ask("carol", &format!("approve {run}")).await;
    let (outcome, output) = done_of(&approved, run);
    assert_eq!(outcome, Outcome::Succeeded, "{output}");
    let real_deletes: Vec<_> = cluster
        .requests()
        .into_iter()
        .filter(|q| {
            q.verb == "delete" && q.name.as_deref() == Some("jupyter-dave") && !is_dry_run(q)
        })
        .collect();
    assert_eq!(real_deletes.len(), 2, "{real_deletes:#?}");
    assert_eq!(
        real_deletes[1].body.as_ref().unwrap()["preconditions"]["uid"],
        uid,
        "the retry names the object it saw"
    );
}
