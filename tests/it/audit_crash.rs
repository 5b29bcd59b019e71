//! A process killed (SIGKILL) while many appends are in flight loses no
//! acknowledged record and leaves no half record: the reopened SQLite store
//! verifies, holds every record it acknowledged, and lists the run that was
//! in flight as open so it can be marked interrupted.
//!
//! The child is this same test binary running the ignored helper test below.

use opsbot::chat::RunId;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use opsbot::audit::{AuditLog, EventKind, Filter, NewEvent};
use serde_json::json;

const DB_ENV: &str = "OPSBOT_AUDIT_CRASH_DB";
/// The helper test's full path in this crate, as `--exact` wants it.
const HELPER: &str = "audit_crash::crash_helper_appends_until_killed";
/// How many acknowledged appends the parent waits for before killing.
const ACKS_BEFORE_KILL: usize = 300;

/// Not a test on its own: the child process of
/// `a_killed_process_loses_no_acknowledged_record_and_leaves_no_half_record`.
/// Appends from 32 concurrent tasks forever, printing `ACK seq hash` for each
/// append that returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: run by the crash test as a child process"]
async fn crash_helper_appends_until_killed() {
    let path = std::env::var(DB_ENV).expect("the crash test sets the database path");
    let log = AuditLog::open(&format!("sqlite://{path}")).await.unwrap();
    let run = log
        .append(NewEvent::requested(
            "alice",
            json!({"person": "alice", "command": "hub restart", "text": "hub restart staging --reason crash",
                   "hub": "staging", "cluster": "aws-us"}),
        ))
        .await
        .unwrap();
    println!("ACK {} {} {}", run.seq, run.hash, run.run);
    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let r = log
                        .append(NewEvent::new(
                            run.run,
                            EventKind::Step,
                            "opsbot",
                            json!({"task": t, "i": i, "pad": "x".repeat(200)}),
                        ))
                        .await
                        .unwrap();
                    println!("ACK {} {} {}", r.seq, r.hash, r.run);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn a_killed_process_loses_no_acknowledged_record_and_leaves_no_half_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            HELPER,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child process");
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("ACK ") else {
            continue;
        };
        let mut parts = rest.split(' ');
        let seq: i64 = parts.next().unwrap().parse().unwrap();
        let hash = parts.next().unwrap().to_owned();
        let run: RunId = parts.next().unwrap().parse().unwrap();
        acked.push((seq, hash, run));
        if acked.len() == ACKS_BEFORE_KILL {
            child.kill().expect("SIGKILL the child mid-append");
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(
        acked.len(),
        ACKS_BEFORE_KILL,
        "the child acknowledged appends"
    );

    let log = AuditLog::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let report = log.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.records >= ACKS_BEFORE_KILL as u64);
    let all = log.export(0).await.unwrap();
    for (seq, hash, _) in &acked {
        let r = all
            .iter()
            .find(|r| r.seq == *seq)
            .unwrap_or_else(|| panic!("acknowledged record {seq} survived the kill"));
        assert_eq!(&r.hash, hash);
    }
    let run = acked[0].2;
    assert_eq!(log.open_runs().await.unwrap(), vec![run]);
    log.append(NewEvent::new(
        run,
        EventKind::Interrupted,
        "opsbot",
        json!({"reason": "restart"}),
    ))
    .await
    .unwrap();
    assert!(log.open_runs().await.unwrap().is_empty());
    let listed = log.list(&Filter::default()).await.unwrap();
    assert_eq!(listed[0].state, "interrupted");
    assert!(log.verify().await.unwrap().problems.is_empty());
    log.close().await;
}
