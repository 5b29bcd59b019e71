//! The PostgreSQL backend: one writer task owns a connection and
//! group-commits whatever callers have queued.
//!
//! Several replicas may share one database: each write transaction first
//! locks the chain's head row (`SELECT ... FOR UPDATE`), so appends from all
//! writers serialise into one chain; run ids come from a sequence. Schema
//! creation runs under a transaction-level advisory lock so replicas starting
//! together do not race.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::pg_connect::Target;

use super::{
    chain, list_sql, lock_keys, may_take_over, open_runs_sql, parse_time, plan, referenced_runs,
    stale_runs_sql, AuditError, Drained, Filter, Head, Op, Ownership, RawRow, Read, Record, RunId,
    RunSummary, Verifier, VerifyReport, Written, MAX_BATCH, OWNERS_SCHEMA,
};

/// Key of the advisory lock that serialises schema creation.
const SCHEMA_LOCK: i64 = 0x6f70_7362_6f74_0001;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_events (
    seq BIGINT PRIMARY KEY,
    run BIGINT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_by_run ON audit_events (run, seq);
CREATE TABLE IF NOT EXISTS audit_runs (
    run BIGINT PRIMARY KEY,
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
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT (id) DO NOTHING;
CREATE SEQUENCE IF NOT EXISTS audit_run_ids;
CREATE TABLE IF NOT EXISTS audit_deliveries (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (source, id)
);
";

/// Connects, creates the schema if needed, and starts the writer task
/// (serving `writes`) and a reader task with its own connection (serving
/// `reads`), so a long `verify` or `export` never stalls appends.
pub(super) async fn start(
    url: &str,
    owner: Arc<str>,
    writes: mpsc::Receiver<Op>,
    reads: mpsc::Receiver<Op>,
) -> Result<(), AuditError> {
    let target = std::sync::Arc::new(Target::parse(url)?);
    let mut client = target.connect().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    tx.batch_execute(SCHEMA).await?;
    tx.batch_execute(OWNERS_SCHEMA).await?;
    tx.commit().await?;
    let reader = target.connect().await?;
    tokio::spawn(serve(target.clone(), owner.clone(), client, writes));
    tokio::spawn(serve(target, owner, reader, reads));
    Ok(())
}

/// A batch whose transaction takes longer than this is abandoned (its
/// callers told the store is unavailable) and the connection replaced:
/// the server's statement timeout covers a slow query, this a dead socket.
const BATCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn serve(
    target: std::sync::Arc<Target>,
    owner: Arc<str>,
    mut client: Client,
    mut rx: mpsc::Receiver<Op>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = Drained::new();
        batch.push(first);
        while batch.len() < MAX_BATCH && batch.close.is_none() {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if client.is_closed() {
            // The server went away (restart, failover): try once per batch.
            match target.connect().await {
                Ok(c) => client = c,
                Err(e) => {
                    tracing::warn!(error = %e, "audit store cannot reconnect to PostgreSQL");
                }
            }
        }
        if batch.has_writes() {
            let written = tokio::time::timeout(BATCH_LIMIT, write(&mut client, &owner, &batch));
            let result = match written.await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(limit = ?BATCH_LIMIT, "audit store write to PostgreSQL hung; reconnecting");
                    if let Ok(c) = target.connect().await {
                        client = c;
                    }
                    Err(AuditError::Unavailable(BATCH_LIMIT))
                }
            };
            batch.answer_writes(result);
        }
        for read in std::mem::take(&mut batch.reads) {
            answer_read(&client, &owner, read).await;
        }
        if let Some(done) = batch.close.take() {
            let _ = done.send(());
            break;
        }
    }
}

async fn write(client: &mut Client, owner: &str, batch: &Drained) -> Result<Written, AuditError> {
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await?;
    let mut head = Head {
        seq: row.get(0),
        hash: row.get(1),
    };
    let mut eligible = Vec::with_capacity(batch.takeovers.len());
    if !batch.takeovers.is_empty() {
        let look = tx
            .prepare(
                "SELECT r.state, o.owner, o.beat_ms FROM audit_runs r
                 LEFT JOIN audit_owners o ON o.run = r.run WHERE r.run = $1",
            )
            .await?;
        for (t, _) in &batch.takeovers {
            let row = tx.query_opt(&look, &[&t.run]).await?;
            eligible.push(row.is_some_and(|row| {
                let state: String = row.get(0);
                let who: Option<String> = row.get(1);
                let beat: Option<i64> = row.get(2);
                may_take_over(&state, who.as_deref().zip(beat), owner, t.stale_before_ms)
            }));
        }
    }
    let requests = batch.requests(&eligible);
    let (runs, requested) = referenced_runs(&requests);
    let mut existing = HashMap::new();
    if !runs.is_empty() {
        for row in tx
            .query(
                "SELECT run, state FROM audit_runs WHERE run = ANY($1)",
                &[&runs],
            )
            .await?
        {
            existing.insert(row.get::<_, RunId>(0), row.get::<_, String>(1));
        }
    }
    let mut ids: Vec<RunId> = Vec::new();
    if requested > 0 {
        for row in tx
            .query(
                "SELECT nextval('audit_run_ids') FROM generate_series(1, $1::bigint)",
                &[&(requested as i64)],
            )
            .await?
        {
            ids.push(row.get(0));
        }
    }
    let mut ids = ids.into_iter();
    let mut locks = HashMap::new();
    let keys = lock_keys(&requests);
    if !keys.is_empty() {
        for row in tx
            .query(
                "SELECT l.key, l.run, r.state FROM audit_locks l JOIN audit_runs r ON r.run = l.run
                 WHERE l.key = ANY($1)",
                &[&keys],
            )
            .await?
        {
            locks.insert(row.get::<_, String>(0), (row.get(1), row.get(2)));
        }
    }
    let plan = plan(&mut head, &requests, &existing, &locks, &mut || {
        ids.next().expect("one id fetched per requested event")
    });
    if !plan.sealed.is_empty() {
        let mut cols: [Vec<String>; 6] = Default::default();
        let mut seqs = Vec::new();
        let mut run_ids = Vec::new();
        for s in &plan.sealed {
            let r = &s.record;
            seqs.push(r.seq);
            run_ids.push(r.run);
            cols[0].push(chain::format_at(&r.at));
            cols[1].push(r.kind.as_str().to_owned());
            cols[2].push(r.actor.clone());
            cols[3].push(s.data_text.clone());
            cols[4].push(r.prev_hash.clone());
            cols[5].push(r.hash.clone());
        }
        tx.execute(
            "INSERT INTO audit_events (seq, run, at, kind, actor, data, prev_hash, hash)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
                                  $5::text[], $6::text[], $7::text[], $8::text[])",
            &[
                &seqs, &run_ids, &cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &cols[5],
            ],
        )
        .await?;
    }
    if !plan.new_runs.is_empty() {
        let runs: Vec<i64> = plan.new_runs.iter().map(|n| n.run.get()).collect();
        let at: Vec<&str> = plan
            .new_runs
            .iter()
            .map(|n| n.requested_at.as_str())
            .collect();
        let person: Vec<&str> = plan.new_runs.iter().map(|n| n.person.as_str()).collect();
        let command: Vec<&str> = plan.new_runs.iter().map(|n| n.command.as_str()).collect();
        let text: Vec<&str> = plan.new_runs.iter().map(|n| n.text.as_str()).collect();
        let hub: Vec<Option<&str>> = plan.new_runs.iter().map(|n| n.hub.as_deref()).collect();
        let cluster: Vec<Option<&str>> =
            plan.new_runs.iter().map(|n| n.cluster.as_deref()).collect();
        tx.execute(
            "INSERT INTO audit_runs (run, requested_at, person, command, text, hub, cluster, state, updated_at)
             SELECT run, at, person, command, text, hub, cluster, 'requested', at
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS u(run, at, person, command, text, hub, cluster)",
            &[&runs, &at, &person, &command, &text, &hub, &cluster],
        )
        .await?;
    }
    if !plan.touched.is_empty() {
        let runs: Vec<i64> = plan.touched.iter().map(|t| t.0.get()).collect();
        let states: Vec<Option<&str>> = plan.touched.iter().map(|t| t.1.as_deref()).collect();
        let at: Vec<&str> = plan.touched.iter().map(|t| t.2.as_str()).collect();
        tx.execute(
            "UPDATE audit_runs r SET state = coalesce(u.state, r.state), updated_at = u.at
             FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(run, state, at)
             WHERE r.run = u.run",
            &[&runs, &states, &at],
        )
        .await?;
    }
    if !plan.locks.is_empty() {
        // Last holder per key wins (a batch may pass a key on).
        let mut last: HashMap<&str, i64> = HashMap::new();
        for (key, run) in &plan.locks {
            last.insert(key, run.get());
        }
        let (keys, runs): (Vec<&str>, Vec<i64>) = last.into_iter().unzip();
        tx.execute(
            "INSERT INTO audit_locks (key, run) SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (key) DO UPDATE SET run = excluded.run",
            &[&keys, &runs],
        )
        .await?;
    }
    let now_ms = chain::now().timestamp_millis();
    let (claimed, released): (Vec<_>, Vec<_>) = plan
        .owners
        .iter()
        .partition(|(_, change)| *change == Ownership::Claim);
    if !claimed.is_empty() {
        let runs: Vec<i64> = claimed.iter().map(|(r, _)| r.get()).collect();
        tx.execute(
            "INSERT INTO audit_owners (run, owner, beat_ms)
             SELECT run, $2, $3 FROM unnest($1::bigint[]) AS u(run)
             ON CONFLICT (run) DO UPDATE SET owner = excluded.owner, beat_ms = excluded.beat_ms",
            &[&runs, &owner, &now_ms],
        )
        .await?;
    }
    if !released.is_empty() {
        let runs: Vec<i64> = released.iter().map(|(r, _)| r.get()).collect();
        tx.execute("DELETE FROM audit_owners WHERE run = ANY($1)", &[&runs])
            .await?;
    }
    let mut to_stop = Vec::new();
    if !batch.beats.is_empty() {
        tx.execute(
            "UPDATE audit_owners SET beat_ms = $1 WHERE owner = $2",
            &[&now_ms, &owner],
        )
        .await?;
        for row in tx
            .query(
                "SELECT run, cancel_by FROM audit_owners WHERE owner = $1 AND cancel_by IS NOT NULL",
                &[&owner],
            )
            .await?
        {
            to_stop.push((row.get::<_, RunId>(0), row.get::<_, String>(1)));
        }
    }
    let mut cancels = Vec::with_capacity(batch.cancels.len());
    for (run, by, _) in &batch.cancels {
        let asked = tx
            .execute(
                "UPDATE audit_owners SET cancel_by = $2 WHERE run = $1 AND owner <> $3",
                &[run, by, &owner],
            )
            .await?;
        cancels.push(asked == 1);
    }
    if !batch.releases.is_empty() {
        tx.execute("DELETE FROM audit_owners WHERE owner = $1", &[&owner])
            .await?;
    }
    let mut fresh = Vec::with_capacity(batch.deliveries.len());
    if !batch.deliveries.is_empty() {
        let now = chain::format_at(&chain::now());
        let stmt = tx
            .prepare(
                "INSERT INTO audit_deliveries (source, id, at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        for (source, id, _) in &batch.deliveries {
            fresh.push(tx.execute(&stmt, &[source, id, &now]).await? == 1);
        }
    }
    // Always written: the head `verify` checks the tail against, and a ping's
    // proof that the store takes writes.
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[&head.seq, &head.hash],
    )
    .await?;
    tx.commit().await?;
    Ok(Written {
        plan,
        fresh,
        eligible,
        cancels,
        to_stop,
    })
}

async fn answer_read(client: &Client, owner: &str, read: Read) {
    match read {
        Read::Run(id, reply) => {
            let _ = reply.send(records(client, "WHERE run = $1", id.get()).await);
        }
        Read::Export(since, reply) => {
            let _ = reply.send(records(client, "WHERE seq > $1", since).await);
        }
        Read::List(filter, reply) => {
            let _ = reply.send(list(client, &filter).await);
        }
        Read::Verify(anchors, reply) => {
            let _ = reply.send(verify(client, anchors).await);
        }
        Read::OpenRuns(reply) => {
            let _ = reply.send(open_runs(client).await);
        }
        Read::Stale(cutoff, reply) => {
            let _ = reply.send(stale_runs(client, owner, cutoff).await);
        }
    }
}

async fn stale_runs(client: &Client, owner: &str, cutoff: i64) -> Result<Vec<RunId>, AuditError> {
    let rows = client
        .query(&stale_runs_sql(|n| format!("${n}")), &[&owner, &cutoff])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

const RECORD_COLUMNS: &str = "seq, run, at, kind, actor, data, prev_hash, hash";

fn raw_row(r: &tokio_postgres::Row) -> RawRow {
    RawRow {
        seq: r.get(0),
        run: r.get(1),
        at: r.get(2),
        kind: r.get(3),
        actor: r.get(4),
        data: r.get(5),
        prev_hash: r.get(6),
        hash: r.get(7),
    }
}

async fn records(client: &Client, clause: &str, arg: i64) -> Result<Vec<Record>, AuditError> {
    let rows = client
        .query(
            &format!("SELECT {RECORD_COLUMNS} FROM audit_events {clause} ORDER BY seq"),
            &[&arg],
        )
        .await?;
    rows.iter().map(|r| raw_row(r).into_record()).collect()
}

async fn list(client: &Client, filter: &Filter) -> Result<Vec<RunSummary>, AuditError> {
    let (sql, args) = list_sql(filter, |n| format!("${n}::text"));
    let rows = client.query_raw(&sql, args.iter()).await?;
    let rows: Vec<tokio_postgres::Row> = rows.try_collect().await?;
    rows.iter()
        .map(|r| {
            let run: RunId = r.get(0);
            Ok(RunSummary {
                run,
                requested_at: parse_time(run.get(), r.get(1))?,
                person: r.get(2),
                command: r.get(3),
                hub: r.get(4),
                cluster: r.get(5),
                state: r.get(6),
                updated_at: parse_time(run.get(), r.get(7))?,
            })
        })
        .collect()
}

/// Verify inside one REPEATABLE READ snapshot, so the rows and the head row
/// agree even while other replicas append. The reader connection runs one
/// request at a time, so the transaction is opened with plain statements.
async fn verify(client: &Client, anchors: Vec<super::Anchor>) -> Result<VerifyReport, AuditError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let report = verify_rows(client, anchors).await;
    let end = if report.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await?;
    report
}

async fn verify_rows(
    client: &Client,
    anchors: Vec<super::Anchor>,
) -> Result<VerifyReport, AuditError> {
    let mut verifier = Verifier::new(anchors);
    let rows = client
        .query_raw(
            &format!("SELECT {RECORD_COLUMNS} FROM audit_events ORDER BY seq"),
            std::iter::empty::<i64>(),
        )
        .await?;
    futures::pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        verifier.row(&raw_row(&row));
    }
    let head = client
        .query_opt("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
        .await?
        .map(|r| Head {
            seq: r.get(0),
            hash: r.get(1),
        });
    Ok(verifier.finish(head))
}

async fn open_runs(client: &Client) -> Result<Vec<RunId>, AuditError> {
    let rows = client.query(&open_runs_sql(), &[]).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Run numbers are stored as PostgreSQL `bigint`.
impl tokio_postgres::types::ToSql for RunId {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

impl<'a> tokio_postgres::types::FromSql<'a> for RunId {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        i64::from_sql(ty, raw).map(RunId)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <i64 as tokio_postgres::types::FromSql>::accepts(ty)
    }
}
