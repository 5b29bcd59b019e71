//! Behaviour of the audit store, written once and run against both backends:
//! a real SQLite file in a temp dir, and a real throwaway PostgreSQL.

use crate::support;

use std::collections::HashSet;

use chrono::Utc;
use opsbot::audit::{AuditError, AuditLog, EventKind, Filter, NewEvent, RunId};
use serde_json::json;
use support::postgres::PgServer;

/// Where a test's store lives, with raw SQL access for tampering.
enum Backend {
    Sqlite {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    },
    Postgres {
        url: String,
    },
}

impl Backend {
    fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.db");
        Backend::Sqlite { _dir: dir, path }
    }

    async fn postgres() -> Backend {
        let url = PgServer::shared().fresh_database().await;
        Backend::Postgres { url }
    }

    fn url(&self) -> String {
        match self {
            Backend::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            Backend::Postgres { url } => url.clone(),
        }
    }

    async fn open(&self) -> AuditLog {
        AuditLog::open(&self.url())
            .await
            .expect("open the audit store")
    }

    /// Runs raw SQL behind the store's back, as an attacker with database
    /// access would.
    async fn tamper(&self, sql: &str) {
        match self {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
                conn.execute_batch(sql).expect("tamper with SQLite");
            }
            Backend::Postgres { url } => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("connect to PostgreSQL");
                let task = tokio::spawn(conn);
                client
                    .batch_execute(sql)
                    .await
                    .expect("tamper with PostgreSQL");
                drop(client);
                let _ = task.await;
            }
        }
    }
}

fn requested(person: &str, command: &str, text: &str, hub: &str, cluster: &str) -> NewEvent {
    NewEvent::requested(
        person,
        json!({"person": person, "command": command, "text": text, "hub": hub,
               "cluster": cluster, "platform": "console", "where": {"channel": "c1"}}),
    )
}

fn event(run: RunId, kind: EventKind, data: serde_json::Value) -> NewEvent {
    NewEvent::new(run, kind, "opsbot", data)
}

/// Appends a run with `n` events after its request; returns its id.
async fn some_run(log: &AuditLog, steps: usize) -> RunId {
    let r = log
        .append(requested(
            "alice",
            "hub status",
            "hub status staging",
            "staging",
            "aws-us",
        ))
        .await
        .unwrap();
    for i in 0..steps {
        log.append(event(r.run, EventKind::Step, json!({"step": i})))
            .await
            .unwrap();
    }
    r.run
}

async fn appended_records_read_back_in_order_with_a_valid_chain(b: Backend) {
    let log = b.open().await;
    let first = log
        .append(requested(
            "alice",
            "hub restart",
            "hub restart staging --reason x",
            "staging",
            "aws-us",
        ))
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.kind, EventKind::Requested);
    assert_eq!(first.prev_hash, opsbot::audit::chain::GENESIS);
    let run = first.run;
    let second = log
        .append(event(run, EventKind::Started, json!({"b": 1, "a": [1, 2]})))
        .await
        .unwrap();
    assert_eq!(second.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    let story = log.run(run).await.unwrap();
    assert_eq!(story, vec![first.clone(), second.clone()]);
    assert!(log.run(RunId(run.get() + 1000)).await.unwrap().is_empty());
    let report = log.verify().await.unwrap();
    assert_eq!(report.records, 2);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    log.close().await;
}

async fn each_requested_event_gets_a_new_run_id(b: Backend) {
    let log = b.open().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(some_run(&log, 0).await);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    log.close().await;
}

async fn append_many_is_atomic_and_none_refers_to_the_run_it_opened(b: Backend) {
    let log = b.open().await;
    let recs = log
        .append_many(vec![
            requested("bob", "users", "users staging", "staging", "aws-us"),
            NewEvent {
                run: None,
                kind: EventKind::Denied,
                actor: "opsbot".into(),
                data: json!({"why": "support may not"}),
            },
        ])
        .await
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].run, recs[1].run);
    assert_eq!(recs[1].seq, recs[0].seq + 1);
    // An invalid event anywhere refuses the whole call: nothing is written.
    let before = log.export(0).await.unwrap().len();
    let err = log
        .append_many(vec![
            event(recs[0].run, EventKind::Note, json!({})),
            event(RunId(9_999_999), EventKind::Step, json!({})),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuditError::UnknownRun(RunId(9_999_999))),
        "{err}"
    );
    assert_eq!(log.export(0).await.unwrap().len(), before);
    log.close().await;
}

async fn invalid_events_are_refused_with_a_reason_and_others_still_land(b: Backend) {
    let log = b.open().await;
    let err = log
        .append(NewEvent {
            run: None,
            kind: EventKind::Step,
            actor: "x".into(),
            data: json!({}),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuditError::MissingRun(EventKind::Step)),
        "{err}"
    );
    assert!(err.to_string().contains("only a requested event"), "{err}");
    let err = log
        .append(NewEvent {
            run: Some(RunId(3)),
            kind: EventKind::Requested,
            actor: "x".into(),
            data: json!({}),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AuditError::RunGiven(RunId(3))), "{err}");
    // Refused requests sharing a batch with good ones do not hurt them.
    let run = some_run(&log, 0).await;
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let target = if i % 2 == 0 {
                run
            } else {
                RunId(1_000_000 + i)
            };
            log.append(event(target, EventKind::Note, json!({"i": i})))
                .await
        }));
    }
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(i % 2, 0);
                assert_eq!(r.run, run);
                ok += 1;
            }
            Err(e) => assert!(matches!(e, AuditError::UnknownRun(_)), "{e}"),
        }
    }
    assert_eq!(ok, 20);
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}

async fn concurrent_appends_from_many_tasks_all_land_and_the_chain_verifies(b: Backend) {
    let log = b.open().await;
    let mut tasks = Vec::new();
    for t in 0..64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let r = log
                .append(requested(
                    &format!("p{t}"),
                    "hub status",
                    "hub status x",
                    "x",
                    "c",
                ))
                .await
                .unwrap();
            for i in 0..10 {
                log.append(event(r.run, EventKind::Step, json!({"i": i})))
                    .await
                    .unwrap();
            }
            log.append(event(r.run, EventKind::Finished, json!({})))
                .await
                .unwrap();
            r.run
        }));
    }
    let mut runs = HashSet::new();
    for t in tasks {
        assert!(runs.insert(t.await.unwrap()), "run ids are unique");
    }
    let all = log.export(0).await.unwrap();
    assert_eq!(all.len(), 64 * 12);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1, "seq has no gaps");
    }
    for run in &runs {
        let story = log.run(*run).await.unwrap();
        assert_eq!(story.len(), 12);
        assert_eq!(story[0].kind, EventKind::Requested);
        assert_eq!(story[11].kind, EventKind::Finished);
    }
    let report = log.verify().await.unwrap();
    assert_eq!(report.records, 64 * 12);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(log.open_runs().await.unwrap().is_empty());
    log.close().await;
}

async fn list_filters_by_person_command_hub_cluster_outcome_and_since(b: Backend) {
    let log = b.open().await;
    let a = log
        .append(requested(
            "alice",
            "hub restart",
            "hub restart staging --reason x",
            "staging",
            "aws-us",
        ))
        .await
        .unwrap()
        .run;
    log.append(event(a, EventKind::Finished, json!({})))
        .await
        .unwrap();
    let cut = Utc::now();
    let b_run = log
        .append(requested(
            "bob",
            "hub status",
            "hub status prod",
            "prod",
            "gcp-eu",
        ))
        .await
        .unwrap()
        .run;
    log.append(event(b_run, EventKind::Failed, json!({"error": "boom"})))
        .await
        .unwrap();
    // A reply after the end does not change the outcome.
    log.append(event(b_run, EventKind::Replied, json!({})))
        .await
        .unwrap();
    let c = log
        .append(requested(
            "alice",
            "hub status",
            "hub status prod",
            "prod",
            "aws-us",
        ))
        .await
        .unwrap()
        .run;

    let runs = |f: Filter| {
        let log = log.clone();
        async move {
            log.list(&f)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.run)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        runs(Filter::default()).await,
        vec![c, b_run, a],
        "newest first"
    );
    assert_eq!(
        runs(Filter {
            person: Some("alice".into()),
            ..Filter::default()
        })
        .await,
        vec![c, a]
    );
    assert_eq!(
        runs(Filter {
            command: Some("hub status".into()),
            ..Filter::default()
        })
        .await,
        vec![c, b_run]
    );
    assert_eq!(
        runs(Filter {
            command: Some("hub restart staging".into()),
            ..Filter::default()
        })
        .await,
        vec![a]
    );
    assert_eq!(
        runs(Filter {
            hub: Some("prod".into()),
            ..Filter::default()
        })
        .await,
        vec![c, b_run]
    );
    assert_eq!(
        runs(Filter {
            cluster: Some("aws-us".into()),
            ..Filter::default()
        })
        .await,
        vec![c, a]
    );
    assert_eq!(
        runs(Filter {
            outcome: Some("failed".into()),
            ..Filter::default()
        })
        .await,
        vec![b_run]
    );
    assert_eq!(
        runs(Filter {
            outcome: Some("requested".into()),
            ..Filter::default()
        })
        .await,
        vec![c]
    );
    assert_eq!(
        runs(Filter {
            since: Some(cut),
            ..Filter::default()
        })
        .await,
        vec![c, b_run]
    );
    assert_eq!(
        runs(Filter {
            limit: 2,
            ..Filter::default()
        })
        .await,
        vec![c, b_run]
    );
    assert_eq!(
        runs(Filter {
            person: Some("alice".into()),
            hub: Some("prod".into()),
            ..Filter::default()
        })
        .await,
        vec![c]
    );
    assert!(runs(Filter {
        person: Some("mallory".into()),
        ..Filter::default()
    })
    .await
    .is_empty());

    let summary = &log
        .list(&Filter {
            limit: 3,
            ..Filter::default()
        })
        .await
        .unwrap()[1];
    assert_eq!(summary.run, b_run);
    assert_eq!(summary.person, "bob");
    assert_eq!(summary.command, "hub status prod");
    assert_eq!(summary.hub.as_deref(), Some("prod"));
    assert_eq!(summary.cluster.as_deref(), Some("gcp-eu"));
    assert_eq!(summary.state, "failed");
    assert!(summary.updated_at >= summary.requested_at);
    log.close().await;
}

async fn export_returns_json_lines_of_records_after_a_seq(b: Backend) {
    let log = b.open().await;
    some_run(&log, 3).await;
    let all = log.export(0).await.unwrap();
    assert_eq!(all.len(), 4);
    let tail = log.export(2).await.unwrap();
    assert_eq!(tail, all[2..].to_vec());
    for r in &all {
        let line = serde_json::to_string(r).unwrap();
        assert!(!line.contains('\n'));
        let back: opsbot::audit::Record = serde_json::from_str(&line).unwrap();
        assert_eq!(&back, r);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for key in [
            "seq",
            "run",
            "at",
            "kind",
            "actor",
            "data",
            "prev_hash",
            "hash",
        ] {
            assert!(v.get(key).is_some(), "export line has `{key}`: {line}");
        }
    }
    log.close().await;
}

async fn a_record_edited_with_raw_sql_is_named_by_verify(b: Backend) {
    let log = b.open().await;
    let run = some_run(&log, 4).await;
    b.tamper("UPDATE audit_events SET data = '{\"step\":99}' WHERE seq = 3")
        .await;
    let report = log.verify().await.unwrap();
    assert_eq!(report.records, 5);
    assert_eq!(
        report.problems,
        vec![format!(
            "record 3 (run {run}, step): hash mismatch — edited?"
        )]
    );
    log.close().await;
}

async fn a_deleted_record_is_named_by_verify(b: Backend) {
    let log = b.open().await;
    some_run(&log, 4).await;
    b.tamper("DELETE FROM audit_events WHERE seq = 3").await;
    let report = log.verify().await.unwrap();
    assert_eq!(report.records, 4);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].starts_with("record 4 "),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[0].contains("record 3 is missing"),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[0].contains("deleted?"),
        "{:?}",
        report.problems
    );
    log.close().await;
}

async fn a_deleted_last_record_is_named_by_verify(b: Backend) {
    let log = b.open().await;
    some_run(&log, 4).await;
    b.tamper("DELETE FROM audit_events WHERE seq = 5").await;
    let report = log.verify().await.unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("record 5 is missing"),
        "{:?}",
        report.problems
    );
    log.close().await;
}

async fn two_swapped_records_are_named_by_verify(b: Backend) {
    let log = b.open().await;
    some_run(&log, 4).await;
    b.tamper(
        "UPDATE audit_events SET seq = -1 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = -1;",
    )
    .await;
    let report = log.verify().await.unwrap();
    let named = |n: i64| {
        report
            .problems
            .iter()
            .any(|p| p.starts_with(&format!("record {n} ")) && p.contains("reordered?"))
    };
    assert!(named(3) && named(4), "{:#?}", report.problems);
    assert!(
        report.problems.iter().all(|p| !p.contains("edited?")),
        "{:#?}",
        report.problems
    );
    log.close().await;
}

async fn a_reopened_store_continues_the_chain(b: Backend) {
    let log = b.open().await;
    let first = some_run(&log, 2).await;
    log.close().await;
    let log = b.open().await;
    let second = some_run(&log, 2).await;
    assert!(second > first);
    let all = log.export(0).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(all[3].prev_hash, all[2].hash);
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}

async fn mark_delivery_is_true_once_even_across_reopen(b: Backend) {
    let log = b.open().await;
    assert!(log.mark_delivery("slack", "Ev1").await.unwrap());
    assert!(!log.mark_delivery("slack", "Ev1").await.unwrap());
    assert!(
        log.mark_delivery("github", "Ev1").await.unwrap(),
        "sources are separate"
    );
    log.close().await;
    let log = b.open().await;
    assert!(!log.mark_delivery("slack", "Ev1").await.unwrap());
    assert!(log.mark_delivery("slack", "Ev2").await.unwrap());
    // Concurrent duplicates: exactly one wins.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move { log.mark_delivery("discord", "same").await.unwrap() })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as usize;
    }
    assert_eq!(wins, 1);
    log.close().await;
}

async fn open_runs_are_those_without_a_terminal_event(b: Backend) {
    let log = b.open().await;
    let done = some_run(&log, 1).await;
    log.append(event(done, EventKind::Finished, json!({})))
        .await
        .unwrap();
    log.append(event(done, EventKind::Note, json!({"after": "end"})))
        .await
        .unwrap();
    let waiting = some_run(&log, 0).await;
    log.append(event(waiting, EventKind::AwaitingApproval, json!({})))
        .await
        .unwrap();
    let running = some_run(&log, 2).await;
    let denied = some_run(&log, 0).await;
    log.append(event(denied, EventKind::Denied, json!({})))
        .await
        .unwrap();
    log.close().await;
    // After a "crash" (reopen), the in-flight runs are found and closed.
    let log = b.open().await;
    assert_eq!(log.open_runs().await.unwrap(), vec![waiting, running]);
    for run in log.open_runs().await.unwrap() {
        log.append(event(run, EventKind::Interrupted, json!({})))
            .await
            .unwrap();
    }
    assert!(log.open_runs().await.unwrap().is_empty());
    let interrupted = Filter {
        outcome: Some("interrupted".into()),
        ..Filter::default()
    };
    assert_eq!(log.list(&interrupted).await.unwrap().len(), 2);
    log.close().await;
}

async fn ping_succeeds_and_a_closed_store_says_so(b: Backend) {
    let log = b.open().await;
    log.ping().await.unwrap();
    let other = log.clone();
    log.close().await;
    let err = other.ping().await.unwrap_err();
    assert!(matches!(err, AuditError::Closed), "{err}");
    let err = other
        .append(requested("a", "b", "b", "h", "c"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuditError::Closed), "{err}");
}

async fn two_writers_on_one_database_keep_one_chain(b: Backend) {
    // Two handles with their own writers and connections: as two replicas
    // (PostgreSQL) or two processes (SQLite) sharing one store.
    let one = b.open().await;
    let two = b.open().await;
    let mut tasks = Vec::new();
    for t in 0..32 {
        let log = if t % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let run = some_run(&log, 5).await;
            log.append(event(run, EventKind::Finished, json!({})))
                .await
                .unwrap();
            run
        }));
    }
    let mut runs = HashSet::new();
    for t in tasks {
        assert!(
            runs.insert(t.await.unwrap()),
            "run ids are unique across writers"
        );
    }
    let all = one.export(0).await.unwrap();
    assert_eq!(all.len(), 32 * 7);
    for (i, pair) in all.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "no gap after index {i}");
        assert_eq!(pair[1].prev_hash, pair[0].hash, "one chain at index {i}");
    }
    let report = two.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    one.close().await;
    two.close().await;
}

async fn secret_named_values_never_reach_the_log(b: Backend) {
    let log = b.open().await;
    let run = some_run(&log, 0).await;
    let rec = log
        .append(event(
            run,
            EventKind::Step,
            json!({"http": {"authorization": "Bearer abc123"}}),
        ))
        .await
        .unwrap();
    assert_eq!(
        rec.data,
        json!({"http": {"authorization": opsbot::audit::REDACTED}})
    );
    let exported = serde_json::to_string(&log.export(0).await.unwrap()).unwrap();
    assert!(!exported.contains("abc123"), "{exported}");
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}

/// PostgreSQL text cannot hold NUL; a `--reason` with one (in the run's
/// text, its data and its actor) is stored with U+FFFD instead, and the
/// records sharing its group commit land too.
async fn a_nul_in_one_record_does_not_fail_the_group_commit_it_shares(b: Backend) {
    let log = b.open().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let text = if i == 3 {
                "hub restart staging --reason a\0b".to_string()
            } else {
                format!("hub status staging {i}")
            };
            let mut e = requested("alice", "hub restart", &text, "staging", "aws-us");
            if i == 3 {
                e.actor = "ali\0ce".into();
                e.data["reason"] = json!("a\0b");
            }
            log.append(e).await
        }));
    }
    for t in tasks {
        let rec = t.await.unwrap().expect("every record lands");
        assert!(!rec.actor.contains('\0') && !rec.data.to_string().contains("\\u0000"));
    }
    let all = log.export(0).await.unwrap();
    assert_eq!(all.len(), 8);
    let odd = all
        .iter()
        .find(|r| r.actor == "ali\u{FFFD}ce")
        .expect("the NUL record");
    assert_eq!(odd.data["reason"], "a\u{FFFD}b");
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}

/// `verify` reads the rows and the head in one snapshot: appends racing it
/// never look like a truncated or rewritten log.
async fn verify_while_appends_race_it_reports_no_problem(b: Backend) {
    let log = b.open().await;
    some_run(&log, 1).await;
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                log.append(requested(
                    "alice",
                    "hub status",
                    &format!("hub status staging {i}"),
                    "staging",
                    "aws-us",
                ))
                .await
                .unwrap();
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() || checks == 0 {
        let report = log.verify().await.unwrap();
        assert!(
            report.problems.is_empty(),
            "false alarm on a live log: {:?}",
            report.problems
        );
        checks += 1;
    }
    writer.await.unwrap();
    log.close().await;
}

/// Generates one `#[tokio::test]` per backend for each behaviour above.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::postgres().await).await
                }
            )*
        }
    };
}

on_both_backends!(
    appended_records_read_back_in_order_with_a_valid_chain,
    each_requested_event_gets_a_new_run_id,
    append_many_is_atomic_and_none_refers_to_the_run_it_opened,
    invalid_events_are_refused_with_a_reason_and_others_still_land,
    concurrent_appends_from_many_tasks_all_land_and_the_chain_verifies,
    list_filters_by_person_command_hub_cluster_outcome_and_since,
    export_returns_json_lines_of_records_after_a_seq,
    a_record_edited_with_raw_sql_is_named_by_verify,
    a_deleted_record_is_named_by_verify,
    a_deleted_last_record_is_named_by_verify,
    two_swapped_records_are_named_by_verify,
    a_reopened_store_continues_the_chain,
    mark_delivery_is_true_once_even_across_reopen,
    open_runs_are_those_without_a_terminal_event,
    ping_succeeds_and_a_closed_store_says_so,
    two_writers_on_one_database_keep_one_chain,
    secret_named_values_never_reach_the_log,
    a_nul_in_one_record_does_not_fail_the_group_commit_it_shares,
    verify_while_appends_race_it_reports_no_problem,
);

/// `sslmode=verify-full` with `sslrootcert`: the store talks TLS (rustls) to
/// a server that refuses anything else, and checks its certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_over_tls_verifies_the_server_and_plaintext_is_refused() {
    let server = PgServer::start_tls();
    let ca = server.ca_file();
    let tls = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        server.url("postgres"),
        ca.display()
    );
    let log = AuditLog::open(&tls)
        .await
        .expect("TLS with the CA verifies");
    let run = some_run(&log, 2).await;
    assert_eq!(log.run(run).await.unwrap().len(), 3);
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;

    let plain = AuditLog::open(&format!("{}?sslmode=disable", server.url("postgres"))).await;
    assert!(plain.is_err(), "the server takes TLS only");
    // The Mozilla roots do not include the test CA: verify-full refuses.
    let untrusted = AuditLog::open(&format!("{}?sslmode=verify-full", server.url("postgres")))
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(
        untrusted.to_string().to_lowercase().contains("certificate"),
        "{untrusted}"
    );
    // The binary reads the same URL from its config: `opsbot audit verify`
    // over TLS finds the run written above.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("opsbot.yaml");
    std::fs::write(&cfg, format!("audit: {{ url: \"{tls}\" }}\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(["audit", "verify", "--config"])
        .arg(&cfg)
        .env_remove("OPSBOT_AUDIT_URL")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("3 records"), "{said}");
    // `require` encrypts without checking, as libpq does.
    let log = AuditLog::open(&format!("{}?sslmode=require", server.url("postgres")))
        .await
        .expect("require connects");
    log.close().await;
}

/// A database that stops answering (here: its processes are stopped) gives
/// callers `Unavailable` within the answer limit instead of hanging them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_that_stops_answering_says_unavailable_instead_of_hanging() {
    let server = PgServer::start();
    let log = AuditLog::open(&server.url("postgres")).await.unwrap();
    some_run(&log, 0).await;
    let paused = server.pause();
    let err = log
        .append(requested(
            "alice",
            "hub status",
            "hub status staging",
            "staging",
            "aws-us",
        ))
        .await
        .expect_err("no answer from a stopped database");
    assert!(
        matches!(err, opsbot::audit::AuditError::Unavailable(_)),
        "{err}"
    );
    assert!(err.to_string().contains("did not answer within"), "{err}");
    drop(paused);
}

#[tokio::test]
async fn a_throwaway_postgres_server_stops_when_dropped() {
    let server = PgServer::start();
    let url = server.url("postgres");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("the server accepts connections while it lives");
    let task = tokio::spawn(conn);
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    drop(client);
    let _ = task.await;
    drop(server); // waits (bounded) until the server has exited
    assert!(
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_err(),
        "nothing listens after drop"
    );
}

#[tokio::test]
async fn an_in_memory_sqlite_store_works_for_demos() {
    let log = AuditLog::open("sqlite::memory:").await.unwrap();
    let run = some_run(&log, 2).await;
    assert_eq!(log.run(run).await.unwrap().len(), 3);
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}

#[tokio::test]
async fn an_unknown_url_is_refused_without_echoing_its_password() {
    let err = AuditLog::open("mysql://root:hunter2@db/audit")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuditError::BadUrl(_)), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("sqlite://PATH"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_reconnects_after_its_connections_are_killed() {
    let b = Backend::postgres().await;
    let log = b.open().await;
    let run = some_run(&log, 1).await;
    // As a server restart or failover would: end every session of this store.
    b.tamper(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .await;
    // Requests fail until the writer notices and reconnects (one attempt per
    // batch); a bounded number of attempts must succeed.
    let mut attempts = 0;
    let rec = loop {
        attempts += 1;
        match log
            .append(event(run, EventKind::Note, json!({"after": "reconnect"})))
            .await
        {
            Ok(rec) => break rec,
            Err(e) if attempts < 200 => {
                assert!(matches!(e, AuditError::Postgres(_)), "{e}");
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("the store never reconnected: {e}"),
        }
    };
    assert_eq!(rec.seq, 3);
    let mut attempts = 0;
    let report = loop {
        attempts += 1;
        match log.verify().await {
            Ok(report) => break report,
            Err(e) if attempts < 200 => {
                assert!(matches!(e, AuditError::Postgres(_)), "{e}");
                tokio::task::yield_now().await;
            }
            Err(e) => panic!("the reader never reconnected: {e}"),
        }
    };
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.records, 3);
    log.close().await;
}
