//! opsbot behind a real Alertmanager (Debian's `prometheus-alertmanager`):
//! alerts posted to Alertmanager's API (`POST /api/v2/alerts`), routed by
//! its webhook_config with a bearer token to the demo's receiver, threads
//! in the recording fake Slack. Nothing here waits on time: each step
//! waits for what it expects Slack to have been told.

use chrono::{Duration as Delta, Utc};
use serde_json::{json, Value};

use crate::alertmanager_receiver::{rig, Rig, CHANNEL, TOKEN};
use crate::support::alertmanager::{Alertmanager, Timing};

fn crashlooping(pod: &str, container: &str, ends: Option<chrono::DateTime<Utc>>) -> Value {
    let mut a = json!({
        "labels": {"alertname": "KubePodCrashLooping", "namespace": "staging", "cluster": "aws-us",
                   "pod": pod, "container": container, "severity": "warning"},
        "annotations": {"summary": format!("Pod staging/{pod} ({container}) is in waiting state (reason: CrashLoopBackOff).")},
        "startsAt": (Utc::now() - Delta::minutes(5)).to_rfc3339(),
        "generatorURL": "http://prometheus.example/graph",
    });
    if let Some(ends) = ends {
        a["endsAt"] = json!(ends.to_rfc3339());
    }
    a
}

async fn behind_alertmanager(timing: Timing) -> (Rig, Alertmanager) {
    let r = rig().await;
    let am = Alertmanager::start(&format!("{}/alertmanager/webhook", r.base), TOKEN, timing).await;
    (r, am)
}

fn firing_roots(r: &Rig) -> usize {
    r.roots()
        .iter()
        .filter(|m| m.all_text().contains("FIRING"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_through_alertmanager_is_one_thread_with_the_triage_its_repeat_edits_it_and_its_resolution_closes_it(
) {
    let (r, am) = behind_alertmanager(Timing {
        repeat_interval: "2s",
        ..Timing::default()
    })
    .await;
    am.post_alerts(&json!([crashlooping("jupyter-frank", "notebook", None)]))
        .await;
    r.fake
        .wait_until("the triage of frank in the group's thread", |f| {
            f.messages()
                .iter()
                .any(|m| m.thread_ts.is_some() && m.all_text().contains("audit: run 1"))
        })
        .await;
    let roots = r.roots();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    let root = roots[0].ts.clone();
    let thread: String = r
        .fake
        .thread(CHANNEL, &root)
        .iter()
        .map(|m| m.all_text())
        .collect();
    assert!(thread.contains("triage staging frank"), "{thread}");
    assert!(thread.contains("CrashLoopBackOff"), "{thread}");

    r.fake
        .wait_until("Alertmanager's repeat edits the group's message", |f| {
            f.messages()
                .iter()
                .any(|m| m.ts == root && m.all_text().contains("2 notifications"))
        })
        .await;
    assert_eq!(r.roots().len(), 1, "a repeat posts nothing new at the top");

    am.post_alerts(&json!([crashlooping(
        "jupyter-frank",
        "notebook",
        Some(Utc::now() - Delta::seconds(1))
    )]))
    .await;
    r.fake
        .wait_until("the resolution in the thread", |f| {
            f.messages().iter().any(|m| {
                m.thread_ts.as_deref() == Some(root.as_str()) && m.all_text().contains("Resolved")
            })
        })
        .await;
    let roots = r.roots();
    assert_eq!(roots.len(), 1, "{roots:#?}");
    assert!(roots[0].all_text().contains("RESOLVED"), "{:?}", roots[0]);
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "one diagnosis for the group: {runs:?}");
    assert_eq!(runs[0].person, "alertmanager");
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_500_alerts_in_20_groups_through_alertmanager_yields_20_threads_and_bounded_runs(
) {
    let (r, am) = behind_alertmanager(Timing::default()).await;
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
    let alerts: Vec<Value> = users
        .iter()
        .flat_map(|u| {
            (0..25).map(move |i| crashlooping(&format!("jupyter-{u}"), &format!("c{i}"), None))
        })
        .collect();
    assert_eq!(alerts.len(), 500);
    am.post_alerts(&Value::Array(alerts)).await;
    // These alerts started five minutes ago, longer than group_wait, so
    // Alertmanager flushes each group as soon as its first alerts are in
    // (its dispatcher does not hold an alert past its own group_wait) and
    // sends the rest group_interval later: a group's first notification
    // may hold only some of its 25 alerts, and its thread's message is
    // edited when the rest arrive. So wait until every thread says 25.
    r.fake
        .wait_until(
            "20 group threads of 25 alerts each and the storm summary",
            |f| {
                let roots: Vec<_> = f
                    .messages()
                    .into_iter()
                    .filter(|m| m.channel == CHANNEL && m.thread_ts.is_none())
                    .collect();
                let firing: Vec<_> = roots
                    .iter()
                    .filter(|m| m.all_text().contains("FIRING"))
                    .collect();
                firing.len() == 20
                    && firing.iter().all(|m| m.all_text().contains("25 alert(s)"))
                    && roots
                        .iter()
                        .any(|m| m.all_text().contains("10 alert group(s) arrived past"))
            },
        )
        .await;
    assert_eq!(firing_roots(&r), 20);
    assert_eq!(r.roots().len(), 21, "20 groups and one summary");
    for root in r.roots().iter().filter(|m| m.all_text().contains("FIRING")) {
        assert!(root.all_text().contains("25 alert(s)"), "{:?}", root);
    }
    let runs = r
        .bot
        .audit()
        .list(&opsbot::audit::Filter::default())
        .await
        .unwrap();
    assert_eq!(
        runs.len(),
        10,
        "the demo's limit of 10 diagnoses per minute"
    );
}
