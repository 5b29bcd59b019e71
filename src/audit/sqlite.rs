//! The SQLite backend: one file in WAL mode with `synchronous=FULL`, owned by
//! one writer thread that group-commits whatever callers have queued.
//!
//! Reads of a file use a second connection on its own thread, so a long
//! `verify` or `export` never stalls appends; an append has committed before
//! it returns, so a caller always reads what it has appended. An in-memory
//! database has a single connection, which serves reads after the writes
//! queued with them.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{
    chain, list_sql, lock_keys, may_take_over, open_runs_sql, parse_time, plan, referenced_runs,
    stale_runs_sql, AuditError, Drained, Head, Op, Ownership, RawRow, Read, Record, RunId,
    RunSummary, Verifier, Written, MAX_BATCH, OWNERS_SCHEMA,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_by_run ON audit_events (run, seq);
CREATE TABLE IF NOT EXISTS audit_runs (
    run INTEGER PRIMARY KEY,
    requested_at TEXT NOT NULL,
    person TEXT NOT NULL,
    command TEXT NOT NULL,
    text TEXT NOT NULL,
    hub TEXT,
    cluster TEXT,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_runs_by_state ON audit_runs (state);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    next_run INTEGER NOT NULL
);
INSERT OR IGNORE INTO audit_head (id, seq, hash, next_run) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 1);
CREATE TABLE IF NOT EXISTS audit_deliveries (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (source, id)
);
";

/// Opens the database at `path` (`:memory:` for a throwaway one) and starts
/// the writer thread serving `writes`. For a file, a second thread with its
/// own connection serves `reads` (WAL readers never block the writer), and
/// this returns `true`; an in-memory database has one connection, so its
/// reads must go to the writer (`false`).
pub(super) async fn start(
    path: &str,
    owner: Arc<str>,
    writes: mpsc::Receiver<Op>,
    reads: mpsc::Receiver<Op>,
) -> Result<bool, AuditError> {
    spawn("audit-sqlite", path, &owner, Store::open, writes).await?;
    if path == ":memory:" {
        return Ok(false);
    }
    spawn(
        "audit-sqlite-reader",
        path,
        &owner,
        Store::open_reader,
        reads,
    )
    .await?;
    Ok(true)
}

/// Opens a connection on its own thread and serves `rx` there.
async fn spawn(
    name: &str,
    path: &str,
    owner: &Arc<str>,
    open: fn(&str, Arc<str>) -> Result<Store, AuditError>,
    rx: mpsc::Receiver<Op>,
) -> Result<(), AuditError> {
    let path = path.to_owned();
    let owner = owner.clone();
    let (ready, opened) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match open(&path, owner) {
            Ok(store) => {
                let _ = ready.send(Ok(()));
                store.serve(rx);
            }
            Err(e) => {
                let _ = ready.send(Err(e));
            }
        })
        .map_err(|e| AuditError::Io(Arc::new(e)))?;
    opened.await.map_err(|_| AuditError::Closed)?
}

struct Store {
    conn: Connection,
    /// This process, as the owner of the runs it writes for.
    owner: Arc<str>,
}

impl Store {
    fn open(path: &str, owner: Arc<str>) -> Result<Store, AuditError> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()?
        } else {
            Connection::open(path)?
        };
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(OWNERS_SCHEMA)?;
        Ok(Store { conn, owner })
    }

    /// A second connection for reads only (the writer made the schema).
    fn open_reader(path: &str, owner: Arc<str>) -> Result<Store, AuditError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store { conn, owner })
    }

    fn serve(mut self, mut rx: mpsc::Receiver<Op>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = Drained::new();
            batch.push(first);
            while batch.len() < MAX_BATCH && batch.close.is_none() {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            if batch.has_writes() {
                let result = self.write(&batch);
                batch.answer_writes(result);
            }
            for read in std::mem::take(&mut batch.reads) {
                self.read(read);
            }
            if let Some(done) = batch.close.take() {
                let _ = done.send(());
                break;
            }
        }
    }

    /// One transaction for every write in `batch`.
    fn write(&mut self, batch: &Drained) -> Result<Written, AuditError> {
        let owner = self.owner.clone();
        let (mut to_stop, mut cancels) = (Vec::new(), Vec::new());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (seq, hash, mut next_run): (i64, String, i64) = tx.query_row(
            "SELECT seq, hash, next_run FROM audit_head WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut head = Head { seq, hash };
        let mut eligible = Vec::with_capacity(batch.takeovers.len());
        if !batch.takeovers.is_empty() {
            let mut look = tx.prepare_cached(
                "SELECT r.state, o.owner, o.beat_ms FROM audit_runs r
                 LEFT JOIN audit_owners o ON o.run = r.run WHERE r.run = ?1",
            )?;
            for (t, _) in &batch.takeovers {
                let row: Option<(String, Option<String>, Option<i64>)> = look
                    .query_row([t.run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                eligible.push(row.is_some_and(|(state, who, beat)| {
                    let held = who.as_deref().zip(beat);
                    may_take_over(&state, held, &owner, t.stale_before_ms)
                }));
            }
        }
        let requests = batch.requests(&eligible);
        let (runs, _) = referenced_runs(&requests);
        let mut existing = HashMap::new();
        {
            let mut state = tx.prepare_cached("SELECT state FROM audit_runs WHERE run = ?1")?;
            for run in runs {
                if let Some(s) = state.query_row([run], |r| r.get(0)).optional()? {
                    existing.insert(run, s);
                }
            }
        }
        let mut locks = HashMap::new();
        let keys = lock_keys(&requests);
        if !keys.is_empty() {
            let mut look = tx.prepare_cached(
                "SELECT l.run, r.state FROM audit_locks l JOIN audit_runs r ON r.run = l.run
                 WHERE l.key = ?1",
            )?;
            for key in keys {
                let holder: Option<(RunId, String)> = look
                    .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some(holder) = holder {
                    locks.insert(key, holder);
                }
            }
        }
        let plan = plan(&mut head, &requests, &existing, &locks, &mut || {
            next_run += 1;
            RunId(next_run - 1)
        });
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO audit_events (seq, run, at, kind, actor, data, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for s in &plan.sealed {
                let r = &s.record;
                insert.execute(params![
                    r.seq,
                    r.run,
                    chain::format_at(&r.at),
                    r.kind.as_str(),
                    r.actor,
                    s.data_text,
                    r.prev_hash,
                    r.hash
                ])?;
            }
            let mut new_run = tx.prepare_cached(
                "INSERT INTO audit_runs (run, requested_at, person, command, text, hub, cluster, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'requested', ?2)",
            )?;
            for n in &plan.new_runs {
                new_run.execute(params![
                    n.run,
                    n.requested_at,
                    n.person,
                    n.command,
                    n.text,
                    n.hub,
                    n.cluster
                ])?;
            }
            let mut touch = tx.prepare_cached(
                "UPDATE audit_runs SET state = coalesce(?2, state), updated_at = ?3 WHERE run = ?1",
            )?;
            for (run, state, at) in &plan.touched {
                touch.execute(params![run, state, at])?;
            }
            let mut lock = tx.prepare_cached(
                "INSERT INTO audit_locks (key, run) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET run = excluded.run",
            )?;
            for (key, run) in &plan.locks {
                lock.execute(params![key, run])?;
            }
            let now_ms = chain::now().timestamp_millis();
            let mut claim = tx.prepare_cached(
                "INSERT INTO audit_owners (run, owner, beat_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (run) DO UPDATE SET owner = excluded.owner, beat_ms = excluded.beat_ms",
            )?;
            let mut release = tx.prepare_cached("DELETE FROM audit_owners WHERE run = ?1")?;
            for (run, change) in &plan.owners {
                match change {
                    Ownership::Claim => claim.execute(params![run, &*owner, now_ms])?,
                    Ownership::Release => release.execute([run])?,
                };
            }
            if !batch.beats.is_empty() {
                tx.execute(
                    "UPDATE audit_owners SET beat_ms = ?1 WHERE owner = ?2",
                    params![now_ms, &*owner],
                )?;
                let mut asked = tx.prepare_cached(
                    "SELECT run, cancel_by FROM audit_owners WHERE owner = ?1 AND cancel_by IS NOT NULL",
                )?;
                let rows = asked.query_map([&*owner], |r| Ok((r.get(0)?, r.get(1)?)))?;
                for row in rows {
                    to_stop.push(row?);
                }
            }
            let mut ask = tx.prepare_cached(
                "UPDATE audit_owners SET cancel_by = ?2 WHERE run = ?1 AND owner <> ?3",
            )?;
            for (run, by, _) in &batch.cancels {
                cancels.push(ask.execute(params![run, by, &*owner])? == 1);
            }
            if !batch.releases.is_empty() {
                tx.execute("DELETE FROM audit_owners WHERE owner = ?1", [&*owner])?;
            }
        }
        let mut fresh = Vec::with_capacity(batch.deliveries.len());
        if !batch.deliveries.is_empty() {
            let now = chain::format_at(&chain::now());
            let mut deliver = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_deliveries (source, id, at) VALUES (?1, ?2, ?3)",
            )?;
            for (source, id, _) in &batch.deliveries {
                fresh.push(deliver.execute(params![source, id, now])? == 1);
            }
        }
        // Always written: it is the head `verify` checks the tail against,
        // and it makes a ping a real durable write.
        tx.execute(
            "UPDATE audit_head SET seq = ?1, hash = ?2, next_run = ?3 WHERE id = 1",
            params![head.seq, head.hash, next_run],
        )?;
        tx.commit()?;
        Ok(Written {
            plan,
            fresh,
            eligible,
            cancels,
            to_stop,
        })
    }

    fn read(&self, read: Read) {
        match read {
            Read::Run(id, reply) => {
                let _ = reply.send(self.records("WHERE run = ?1", id.get()));
            }
            Read::Export(since, reply) => {
                let _ = reply.send(self.records("WHERE seq > ?1", since));
            }
            Read::List(filter, reply) => {
                let _ = reply.send(self.list(&filter));
            }
            Read::Verify(anchors, reply) => {
                let _ = reply.send(self.verify(anchors));
            }
            Read::OpenRuns(reply) => {
                let _ = reply.send(self.open_runs());
            }
            Read::Stale(cutoff, reply) => {
                let _ = reply.send(self.stale_runs(cutoff));
            }
        }
    }

    fn records(&self, clause: &str, arg: i64) -> Result<Vec<Record>, AuditError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, run, at, kind, actor, data, prev_hash, hash FROM audit_events {clause} ORDER BY seq"
        ))?;
        let rows = stmt.query_map([arg], raw_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.into_record()?);
        }
        Ok(out)
    }

    fn list(&self, filter: &super::Filter) -> Result<Vec<RunSummary>, AuditError> {
        let (sql, args) = list_sql(filter, |n| format!("?{n}"));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, RunId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (run, requested_at, person, command, hub, cluster, state, updated_at) = row?;
            out.push(RunSummary {
                run,
                requested_at: parse_time(run.get(), &requested_at)?,
                person,
                command,
                hub,
                cluster,
                state,
                updated_at: parse_time(run.get(), &updated_at)?,
            });
        }
        Ok(out)
    }

    fn verify(&self, anchors: Vec<super::Anchor>) -> Result<super::VerifyReport, AuditError> {
        // One read transaction: the rows and the head row from one snapshot
        // (WAL), so a writer committing in between is no false alarm.
        let snapshot = self.conn.unchecked_transaction()?;
        let mut verifier = Verifier::new(anchors);
        let mut stmt = snapshot.prepare(
            "SELECT seq, run, at, kind, actor, data, prev_hash, hash FROM audit_events ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            verifier.row(&raw_row(row)?);
        }
        drop(rows);
        drop(stmt);
        let head = snapshot
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok(Head {
                    seq: r.get(0)?,
                    hash: r.get(1)?,
                })
            })
            .optional()?;
        snapshot.commit()?;
        Ok(verifier.finish(head))
    }

    fn open_runs(&self) -> Result<Vec<super::RunId>, AuditError> {
        let mut stmt = self.conn.prepare_cached(&open_runs_sql())?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    fn stale_runs(&self, cutoff: i64) -> Result<Vec<RunId>, AuditError> {
        let mut stmt = self
            .conn
            .prepare_cached(&stale_runs_sql(|n| format!("?{n}")))?;
        let rows = stmt.query_map(params![&*self.owner, cutoff], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        seq: r.get(0)?,
        run: r.get(1)?,
        at: r.get(2)?,
        kind: r.get(3)?,
        actor: r.get(4)?,
        data: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// Run numbers are stored as SQLite integers.
impl rusqlite::ToSql for super::RunId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for super::RunId {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(v).map(super::RunId)
    }
}
