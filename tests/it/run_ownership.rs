//! Run ownership on a shared audit store (issue 15): the process acting for
//! a run heartbeats for it; another process (a replica, an `opsbot run` in
//! another terminal) takes a run over only once that heartbeat lapsed, of
//! several such processes exactly one does, and a run's story ends once.
//! Each `AuditLog` opened here is what one process holds; dropping one
//! without `close` is what `kill -9` leaves behind.

use std::time::Duration;

use opsbot::audit::{AuditError, AuditLog, EventKind, NewEvent, RunId};
use serde_json::json;

use crate::support::postgres::PgServer;

/// A short lease, so a lapsed heartbeat is seen quickly.
const LEASE: Duration = Duration::from_millis(600);

enum Store {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Store {
    async fn sqlite() -> Store {
        Store::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn postgres() -> Store {
        Store::Postgres(PgServer::shared().fresh_database().await)
    }

    fn url(&self) -> String {
        match self {
            Store::Sqlite(dir) => format!("sqlite://{}", dir.path().join("audit.db").display()),
            Store::Postgres(url) => url.clone(),
        }
    }

    /// One more process on this store.
    async fn process(&self) -> AuditLog {
        AuditLog::open_with(&self.url(), LEASE).await.unwrap()
    }

    /// The last heartbeat recorded for `run`, read behind the store's back.
    async fn beat_ms(&self, run: RunId) -> Option<i64> {
        let sql = format!("SELECT beat_ms FROM audit_owners WHERE run = {}", run.get());
        match self {
            Store::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("audit.db")).unwrap();
                conn.query_row(&sql, [], |r| r.get(0)).ok()
            }
            Store::Postgres(url) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client.query_opt(&sql, &[]).await.unwrap().map(|r| r.get(0))
            }
        }
    }
}

/// A run requested and started by `log`: what a process running it writes.
async fn running(log: &AuditLog) -> RunId {
    let asked = log
        .append(NewEvent::requested(
            "alice",
            json!({ "person": "alice", "command": "hub restart", "text": "hub restart staging",
                    "where": { "console": "alice" } }),
        ))
        .await
        .unwrap();
    log.append(NewEvent::new(
        asked.run,
        EventKind::Started,
        "opsbot",
        json!({}),
    ))
    .await
    .unwrap();
    asked.run
}

fn interrupted(run: RunId) -> NewEvent {
    NewEvent::new(
        run,
        EventKind::Interrupted,
        "opsbot",
        json!({ "reason": "test" }),
    )
}

/// Waits until `log` sees `run` as nobody's (its owner's beat lapsed).
async fn until_stale(log: &AuditLog, run: RunId) {
    for _ in 0..200 {
        if log.stale_runs().await.unwrap().contains(&run) {
            return;
        }
        tokio::time::sleep(LEASE / 6).await;
    }
    panic!("run {run} never became stale");
}

async fn kinds(log: &AuditLog, run: RunId) -> Vec<EventKind> {
    log.run(run)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

async fn a_run_whose_owner_heartbeats_is_never_taken_over(store: Store) {
    let owner = store.process().await;
    let other = store.process().await;
    let run = running(&owner).await;
    let first = store.beat_ms(run).await.expect("the run has an owner");
    // The marker: the owner has beaten after a whole lease went by, so a
    // run that was not renewed would be stale now.
    for _ in 0..200 {
        if store.beat_ms(run).await.unwrap() > first + LEASE.as_millis() as i64 {
            break;
        }
        tokio::time::sleep(LEASE / 6).await;
    }
    assert!(store.beat_ms(run).await.unwrap() > first + LEASE.as_millis() as i64);
    assert!(other.stale_runs().await.unwrap().is_empty());
    assert!(
        other
            .take_over(run, interrupted(run))
            .await
            .unwrap()
            .is_none(),
        "a live process's run is not another's to end"
    );
    owner
        .append(NewEvent::new(run, EventKind::Finished, "opsbot", json!({})))
        .await
        .unwrap();
    assert_eq!(
        kinds(&other, run).await,
        vec![
            EventKind::Requested,
            EventKind::Started,
            EventKind::Finished
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_run_whose_owner_heartbeats_is_never_taken_over() {
    a_run_whose_owner_heartbeats_is_never_taken_over(Store::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_whose_owner_heartbeats_is_never_taken_over() {
    a_run_whose_owner_heartbeats_is_never_taken_over(Store::postgres().await).await;
}

async fn a_killed_owners_run_is_taken_over_by_exactly_one_process(store: Store) {
    let owner = store.process().await;
    let run = running(&owner).await;
    drop(owner); // killed: no more heartbeats, nothing given up
    let (a, b) = (store.process().await, store.process().await);
    until_stale(&a, run).await;
    until_stale(&b, run).await;
    let (x, y) = tokio::join!(
        a.take_over(run, interrupted(run)),
        b.take_over(run, interrupted(run))
    );
    let won = [x.unwrap(), y.unwrap()]
        .into_iter()
        .filter(Option::is_some)
        .count();
    assert_eq!(won, 1, "exactly one process ends the run");
    // The killed process's late step (had it only been paused) is refused.
    let late = a
        .append(NewEvent::new(run, EventKind::Step, "opsbot", json!({})))
        .await;
    assert!(matches!(late, Err(AuditError::Ended { .. })), "{late:?}");
    assert_eq!(
        kinds(&a, run).await,
        vec![
            EventKind::Requested,
            EventKind::Started,
            EventKind::Interrupted
        ]
    );
    assert!(a.stale_runs().await.unwrap().is_empty());
    assert!(a.verify().await.unwrap().problems.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_owners_run_is_taken_over_by_exactly_one_process() {
    a_killed_owners_run_is_taken_over_by_exactly_one_process(Store::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_owners_run_is_taken_over_by_exactly_one_process() {
    a_killed_owners_run_is_taken_over_by_exactly_one_process(Store::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanly_closed_process_gives_its_open_runs_up_at_once() {
    let store = Store::sqlite().await;
    let owner = AuditLog::open(&store.url()).await.unwrap(); // the 30 s default lease
    let run = running(&owner).await;
    owner.close().await;
    let next = AuditLog::open(&store.url()).await.unwrap();
    assert_eq!(next.stale_runs().await.unwrap(), vec![run]);
    assert!(next
        .take_over(run, interrupted(run))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_ends_once_and_only_annotations_follow_its_end() {
    let store = Store::sqlite().await;
    let log = store.process().await;
    let run = running(&log).await;
    log.append(NewEvent::new(run, EventKind::Finished, "opsbot", json!({})))
        .await
        .unwrap();
    for second in [
        EventKind::Interrupted,
        EventKind::Cancelled,
        EventKind::Step,
    ] {
        let refused = log
            .append(NewEvent::new(run, second.clone(), "opsbot", json!({})))
            .await;
        assert!(
            matches!(&refused, Err(AuditError::Ended { state, .. }) if state == "finished"),
            "{second}: {refused:?}"
        );
    }
    // Within one batch too: the second ending of an atomic append is refused
    // with the whole append.
    let other = running(&log).await;
    let both = log
        .append_many(vec![
            NewEvent::new(other, EventKind::Finished, "opsbot", json!({})),
            NewEvent::new(other, EventKind::Failed, "opsbot", json!({})),
        ])
        .await;
    assert!(matches!(both, Err(AuditError::Ended { .. })), "{both:?}");
    log.append(NewEvent::new(
        run,
        EventKind::Note,
        "opsbot",
        json!({ "n": 1 }),
    ))
    .await
    .expect("a note may follow the end");
    assert_eq!(
        kinds(&log, run).await,
        vec![
            EventKind::Requested,
            EventKind::Started,
            EventKind::Finished,
            EventKind::Note
        ]
    );
    assert!(log.verify().await.unwrap().problems.is_empty());
}
