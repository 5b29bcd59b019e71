//! The audit store: an append-only, hash-chained event log of runs.
//!
//! Every run's story (requested, approved, each step, finished, ...) is a
//! sequence of [`Record`]s; nothing is ever updated in place, and run state is
//! derived from the events by others. Each record carries the hash of the one
//! before it (see [`chain`]), so [`AuditLog::verify`] finds an edited, deleted
//! or reordered record and names it.
//!
//! The store sits on the chat ack path, so appends are *group-committed*: one
//! writer owns the connection, drains a bounded channel, writes everything
//! pending in one transaction, commits durably (SQLite WAL with
//! `synchronous=FULL`, or PostgreSQL), and only then answers each caller. Many
//! concurrent callers therefore share one fsync.
//!
//! Backends: SQLite (`sqlite://PATH`, `sqlite::memory:`) and PostgreSQL
//! (`postgres://USER@HOST:PORT/DB`). With PostgreSQL several replicas may write
//! the same log: each batch locks the chain's head row (`SELECT ... FOR
//! UPDATE`), so the chain stays one chain, and run ids come from a sequence.
//!
//! Besides the log, a `runs` index table (one row per run: who, what, where,
//! last state) is written in the same transaction; it serves [`AuditLog::list`]
//! and [`AuditLog::open_runs`] and can always be rebuilt from the log.

pub mod chain;
mod postgres;
mod sqlite;
mod verify;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use verify::Verifier;

/// A run's number: allocated by the store when a run's `Requested` event is
/// appended, and quoted in every reply so people can ask for its story.
pub use crate::chat::model::RunId;

/// What happened. The lifecycle kinds drive run state; `Replied`,
/// `ReplyFailed` and `Note` only annotate a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Requested,
    Denied,
    AwaitingApproval,
    Approved,
    Rejected,
    Expired,
    Started,
    Step,
    Finished,
    Failed,
    Cancelled,
    Interrupted,
    Replied,
    ReplyFailed,
    Note,
}

impl EventKind {
    /// Every kind, in lifecycle order (for parsing and for tests).
    pub const ALL: [EventKind; 15] = [
        EventKind::Requested,
        EventKind::Denied,
        EventKind::AwaitingApproval,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Expired,
        EventKind::Started,
        EventKind::Step,
        EventKind::Finished,
        EventKind::Failed,
        EventKind::Cancelled,
        EventKind::Interrupted,
        EventKind::Replied,
        EventKind::ReplyFailed,
        EventKind::Note,
    ];

    /// True when the run is over after this event: crash recovery skips such
    /// runs, and nothing will ever run for them again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::Denied
                | EventKind::Rejected
                | EventKind::Expired
                | EventKind::Finished
                | EventKind::Failed
                | EventKind::Cancelled
                | EventKind::Interrupted
        )
    }

    /// True when the event changes a run's state (everything but replies and
    /// notes, which only annotate a run).
    pub fn is_lifecycle(&self) -> bool {
        !matches!(
            self,
            EventKind::Replied | EventKind::ReplyFailed | EventKind::Note
        )
    }

    /// The snake_case word stored in the log and hashed (same as serde's).
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Requested => "requested",
            EventKind::Denied => "denied",
            EventKind::AwaitingApproval => "awaiting_approval",
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Expired => "expired",
            EventKind::Started => "started",
            EventKind::Step => "step",
            EventKind::Finished => "finished",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::Interrupted => "interrupted",
            EventKind::Replied => "replied",
            EventKind::ReplyFailed => "reply_failed",
            EventKind::Note => "note",
        }
    }

    /// The inverse of [`EventKind::as_str`].
    pub fn parse(word: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to append. The store assigns `seq`, `at` and the hashes.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// The run this event belongs to. `None` on a `Requested` event: the store
    /// allocates the next run id. Within one [`AuditLog::append_many`] call, a
    /// later event with `None` belongs to the run the preceding `Requested`
    /// of that call opened.
    pub run: Option<RunId>,
    pub kind: EventKind,
    /// Who caused it: a person id, or `opsbot` for the bot itself.
    pub actor: String,
    /// Free-form details. For `Requested`: `person`, `command`, `text`, `hub`,
    /// `cluster`, `platform`, `where` (indexed for [`AuditLog::list`]).
    /// Never put secrets here: records are kept forever and exported.
    pub data: serde_json::Value,
}

impl NewEvent {
    /// An event for an existing run.
    pub fn new(
        run: RunId,
        kind: EventKind,
        actor: impl Into<String>,
        data: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            run: Some(run),
            kind,
            actor: actor.into(),
            data,
        }
    }

    /// The `Requested` event that opens a new run.
    pub fn requested(actor: impl Into<String>, data: serde_json::Value) -> NewEvent {
        NewEvent {
            run: None,
            kind: EventKind::Requested,
            actor: actor.into(),
            data,
        }
    }
}

/// One stored event, exactly as hashed. `export` writes these as JSON lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the whole log: 1, 2, 3, ... with no gaps.
    pub seq: i64,
    pub run: RunId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub actor: String,
    pub data: serde_json::Value,
    /// The previous record's `hash` ([`chain::GENESIS`] for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// Which runs [`AuditLog::list`] returns. Every `Some` field must match;
/// `limit == 0` means no limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// The person who asked (the `person` of the `Requested` data).
    pub person: Option<String>,
    /// The command name (`hub restart`), or the start of the typed text.
    pub command: Option<String>,
    pub hub: Option<String>,
    pub cluster: Option<String>,
    /// The run's state word (`finished`, `failed`, `awaiting_approval`, ...).
    pub outcome: Option<String>,
    /// Only runs requested at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// One line of `audit list` / `runs`: who asked what, where, and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: RunId,
    pub requested_at: DateTime<Utc>,
    pub person: String,
    /// The text the person typed.
    pub command: String,
    pub hub: Option<String>,
    pub cluster: Option<String>,
    /// The kind of the run's last lifecycle event (`finished`, `step`, ...);
    /// replies and notes do not change it.
    pub state: String,
    /// When the run's last event was appended.
    pub updated_at: DateTime<Utc>,
}

/// What [`AuditLog::verify`] found: an empty `problems` means the chain is
/// intact. Each problem names the record (`record 17 (run 5, step): ...`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when no record was found edited, deleted or reordered.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Why an audit operation failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuditError {
    /// The store URL is not one we understand. The URL itself is not echoed:
    /// it may hold a password.
    #[error("audit store URL is not understood ({0}); use sqlite://PATH, sqlite::memory: or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
    /// An event other than `Requested` had no run id.
    #[error("a {0} event needs the id of its run; only a requested event may leave `run` empty (the store allocates the id)")]
    MissingRun(EventKind),
    /// A `Requested` event named a run id: ids are the store's to allocate.
    #[error("a requested event opens a new run, so its `run` must be None (got run {0}); the store allocates run ids")]
    RunGiven(RunId),
    /// An event named a run that was never requested.
    #[error("run {0} does not exist in the audit log; append its requested event first")]
    UnknownRun(RunId),
    /// The log holds something this code cannot read back (e.g. edited by hand).
    #[error("audit record {seq} cannot be read: {reason}; run `opsbot audit verify`")]
    Corrupt { seq: i64, reason: String },
    /// The SQLite database failed.
    #[error("audit store (SQLite): {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// The PostgreSQL server failed or could not be reached.
    #[error("audit store (PostgreSQL): {0}")]
    Postgres(#[source] Arc<tokio_postgres::Error>),
    /// The writer could not be started (a thread or socket failed).
    #[error("audit store writer could not start: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// The store was closed (or its writer stopped) before the request ran.
    #[error("audit store is closed; no more events can be appended")]
    Closed,
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Sqlite(Arc::new(e))
    }
}

impl From<tokio_postgres::Error> for AuditError {
    fn from(e: tokio_postgres::Error) -> Self {
        AuditError::Postgres(Arc::new(e))
    }
}

/// How many requests wait for the writer before callers feel back-pressure.
const QUEUE: usize = 16 * 1024;
/// At most this many requests share one transaction.
const MAX_BATCH: usize = 4096;

/// The handle everyone holds: cheap to clone, all clones talk to one writer.
#[derive(Clone)]
pub struct AuditLog {
    /// To the writer: appends, deliveries, pings (and reads when the backend
    /// has only one connection).
    tx: mpsc::Sender<Op>,
    /// To the reader (may be the same channel as `tx`).
    reads: mpsc::Sender<Op>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

type Reply<T> = oneshot::Sender<Result<T, AuditError>>;

/// A request to a backend's writer (writes are grouped into one transaction)
/// or reader. When one connection serves both, reads run after the writes
/// that arrived with them.
enum Op {
    Append(Vec<NewEvent>, Reply<Vec<Record>>),
    Deliver(String, String, Reply<bool>),
    Ping(Reply<()>),
    Read(Read),
    Close(oneshot::Sender<()>),
}

enum Read {
    Run(RunId, Reply<Vec<Record>>),
    List(Filter, Reply<Vec<RunSummary>>),
    Export(i64, Reply<Vec<Record>>),
    Verify(Reply<VerifyReport>),
    OpenRuns(Reply<Vec<RunId>>),
}

impl AuditLog {
    /// Opens (creating if needed) the store at `url`: `sqlite://PATH`,
    /// `sqlite::memory:` or `postgres://USER@HOST:PORT/DB`, and starts its
    /// writer. An existing log continues its chain.
    pub async fn open(url: &str) -> Result<AuditLog, AuditError> {
        let (tx, writes) = mpsc::channel(QUEUE);
        let (reads_tx, reads) = mpsc::channel(QUEUE);
        let separate_reader = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(AuditError::BadUrl("sqlite URL without a path".into()));
            }
            sqlite::start(path, writes, reads).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::start(url, writes, reads).await?;
            true
        } else {
            let scheme = url.split(':').next().unwrap_or("");
            return Err(AuditError::BadUrl(format!("scheme `{scheme}`")));
        };
        let reads = if separate_reader {
            reads_tx
        } else {
            tx.clone()
        };
        Ok(AuditLog { tx, reads })
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    async fn read<T>(&self, make: impl FnOnce(Reply<T>) -> Read) -> Result<T, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.reads
            .send(Op::Read(make(reply)))
            .await
            .map_err(|_| AuditError::Closed)?;
        answer.await.map_err(|_| AuditError::Closed)?
    }

    /// Appends one event; when this returns `Ok` the record is durable.
    pub async fn append(&self, e: NewEvent) -> Result<Record, AuditError> {
        let mut records = self.append_many(vec![e]).await?;
        records.pop().ok_or(AuditError::Closed)
    }

    /// Appends several events atomically (all or none), in order, adjacent in
    /// the log. Durable when it returns `Ok`.
    pub async fn append_many(&self, es: Vec<NewEvent>) -> Result<Vec<Record>, AuditError> {
        if es.is_empty() {
            return Ok(Vec::new());
        }
        self.call(|r| Op::Append(es, r)).await
    }

    /// A run's whole story, in order (empty when the run does not exist).
    pub async fn run(&self, id: RunId) -> Result<Vec<Record>, AuditError> {
        self.read(|r| Read::Run(id, r)).await
    }

    /// Runs matching `f`, newest first.
    pub async fn list(&self, f: &Filter) -> Result<Vec<RunSummary>, AuditError> {
        let f = f.clone();
        self.read(|r| Read::List(f, r)).await
    }

    /// Every record with `seq > since_seq`, in order (`export(0)` is all).
    pub async fn export(&self, since_seq: i64) -> Result<Vec<Record>, AuditError> {
        self.read(|r| Read::Export(since_seq, r)).await
    }

    /// Re-hashes the whole log and walks the chain, naming every record that
    /// was edited, deleted or reordered.
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        self.read(Read::Verify).await
    }

    /// Runs with no terminal event, oldest first: after a crash these were in
    /// flight, and the caller appends `Interrupted` to each it will not
    /// resume. Runs awaiting approval are included too (their state in
    /// [`AuditLog::list`] is `awaiting_approval`): approvals survive restarts,
    /// so the caller may keep those open.
    pub async fn open_runs(&self) -> Result<Vec<RunId>, AuditError> {
        self.read(Read::OpenRuns).await
    }

    /// Records that delivery `id` from `source` (a webhook or event id) was
    /// seen. `true` the first time, `false` ever after, across restarts: the
    /// durable dedup for platforms that redeliver.
    pub async fn mark_delivery(&self, source: &str, id: &str) -> Result<bool, AuditError> {
        let (s, i) = (source.to_owned(), id.to_owned());
        self.call(|r| Op::Deliver(s, i, r)).await
    }

    /// Proves the store is writable (a durable no-op write through the
    /// writer): what `/readyz` asks.
    pub async fn ping(&self) -> Result<(), AuditError> {
        self.call(Op::Ping).await
    }

    /// Flushes what is pending and stops the writer. Other clones get
    /// [`AuditError::Closed`] afterwards.
    pub async fn close(self) {
        let mut channels = vec![&self.tx];
        if !self.reads.same_channel(&self.tx) {
            channels.push(&self.reads);
        }
        for channel in channels {
            let (done, wait) = oneshot::channel();
            if channel.send(Op::Close(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }
}

/// The chain's tip as read inside a write transaction.
#[derive(Clone, Debug)]
struct Head {
    seq: i64,
    hash: String,
}

/// A record plus the exact canonical `data` text that was hashed (stored
/// as-is so verification never depends on re-serialisation).
struct Sealed {
    record: Record,
    data_text: String,
}

/// A run opened in this batch: its row in the `runs` index.
struct NewRun {
    run: RunId,
    requested_at: String,
    person: String,
    command: String,
    text: String,
    hub: Option<String>,
    cluster: Option<String>,
}

/// Everything one write transaction does, computed before touching the
/// database so both backends write the same thing.
#[derive(Default)]
struct Plan {
    /// Per append request, in arrival order: its records or why it was refused.
    outcomes: Vec<Result<Vec<usize>, AuditError>>,
    sealed: Vec<Sealed>,
    new_runs: Vec<NewRun>,
    /// (run, new state if a lifecycle event, updated_at), last one per run.
    touched: Vec<(RunId, Option<String>, String)>,
}

/// Runs named by the requests (to look up which exist) and how many new run
/// ids they may need.
fn referenced_runs(requests: &[&[NewEvent]]) -> (Vec<RunId>, usize) {
    let mut runs: Vec<RunId> = requests
        .iter()
        .flat_map(|es| es.iter().filter_map(|e| e.run))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let requested = requests
        .iter()
        .flat_map(|es| es.iter())
        .filter(|e| e.kind == EventKind::Requested)
        .count();
    (runs, requested)
}

fn data_str(data: &serde_json::Value, key: &str) -> Option<String> {
    match data.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Validates and seals a batch of append requests on top of `head`.
/// `existing` are the referenced runs that already exist; `new_ids` yields
/// fresh run ids. A refused request leaves the chain untouched.
fn plan(
    head: &mut Head,
    requests: &[&[NewEvent]],
    existing: &HashSet<RunId>,
    new_ids: &mut dyn FnMut() -> RunId,
) -> Plan {
    let mut p = Plan::default();
    let mut known: HashSet<RunId> = existing.clone();
    let at = chain::now();
    let at_text = chain::format_at(&at);
    let mut touched: std::collections::BTreeMap<RunId, (Option<String>, String)> =
        Default::default();
    for events in requests {
        // Validate first so a refused request allocates and seals nothing.
        let mut opened_here = false;
        let mut refusal = None;
        for e in events.iter() {
            match (&e.kind, e.run) {
                (EventKind::Requested, Some(id)) => refusal = Some(AuditError::RunGiven(id)),
                (EventKind::Requested, None) => opened_here = true,
                (kind, None) if !opened_here => {
                    refusal = Some(AuditError::MissingRun(kind.clone()))
                }
                (_, None) => {}
                (_, Some(id)) if !known.contains(&id) => refusal = Some(AuditError::UnknownRun(id)),
                (_, Some(_)) => {}
            }
            if refusal.is_some() {
                break;
            }
        }
        if let Some(err) = refusal {
            p.outcomes.push(Err(err));
            continue;
        }
        let mut indexes = Vec::with_capacity(events.len());
        let mut current = None;
        for e in events.iter() {
            let run = match (&e.kind, e.run) {
                (EventKind::Requested, _) => {
                    let id = new_ids();
                    known.insert(id);
                    current = Some(id);
                    let person = data_str(&e.data, "person").unwrap_or_else(|| e.actor.clone());
                    let command = data_str(&e.data, "command").unwrap_or_default();
                    let text = data_str(&e.data, "text").unwrap_or_else(|| command.clone());
                    p.new_runs.push(NewRun {
                        run: id,
                        requested_at: at_text.clone(),
                        person,
                        command,
                        text,
                        hub: data_str(&e.data, "hub"),
                        cluster: data_str(&e.data, "cluster"),
                    });
                    id
                }
                (_, Some(id)) => id,
                (_, None) => current.expect("validated: a requested event came first"),
            };
            let mut data = e.data.clone();
            redact_secrets(&mut data);
            let data_text = chain::canonical_json(&data);
            let seq = head.seq + 1;
            let hash = chain::hash(
                seq,
                run,
                &at_text,
                e.kind.as_str(),
                &e.actor,
                &data_text,
                &head.hash,
            );
            let record = Record {
                seq,
                run,
                at,
                kind: e.kind.clone(),
                actor: e.actor.clone(),
                data,
                prev_hash: std::mem::replace(&mut head.hash, hash.clone()),
                hash,
            };
            head.seq = seq;
            let entry = touched.entry(run).or_insert((None, at_text.clone()));
            if e.kind.is_lifecycle() {
                entry.0 = Some(e.kind.as_str().to_owned());
            }
            indexes.push(p.sealed.len());
            p.sealed.push(Sealed { record, data_text });
        }
        p.outcomes.push(Ok(indexes));
    }
    p.touched = touched
        .into_iter()
        .map(|(run, (state, at))| (run, state, at))
        .collect();
    p
}

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// True for object keys that name a secret (`password`, `token`,
/// `client_secret`, `slack_bot_token`, `Authorization`, ...).
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    const EXACT: [&str; 9] = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "private_key",
        "credentials",
    ];
    const SUFFIXES: [&str; 5] = ["_password", "_secret", "_token", "_api_key", "_private_key"];
    EXACT.contains(&k.as_str()) || SUFFIXES.iter().any(|s| k.ends_with(s))
}

/// Replaces the values of secret-named keys (at any depth) with
/// [`REDACTED`] before an event is sealed: records are kept forever and
/// exported, so a secret that slipped into `data` must never be stored.
/// Callers should still keep secrets out; this is the last line of defence.
pub fn redact_secrets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k) && !val.is_null() {
                    *val = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    redact_secrets(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

/// One raw stored row, as `verify` sees it (no parsing that could fail).
struct RawRow {
    seq: i64,
    run: i64,
    at: String,
    kind: String,
    actor: String,
    data: String,
    prev_hash: String,
    hash: String,
}

impl RawRow {
    fn into_record(self) -> Result<Record, AuditError> {
        let corrupt = |reason: String| AuditError::Corrupt {
            seq: self.seq,
            reason,
        };
        let at = DateTime::parse_from_rfc3339(&self.at)
            .map_err(|e| corrupt(format!("time `{}` is not RFC 3339 ({e})", self.at)))?
            .with_timezone(&Utc);
        let kind = EventKind::parse(&self.kind)
            .ok_or_else(|| corrupt(format!("unknown event kind `{}`", self.kind)))?;
        let data = serde_json::from_str(&self.data)
            .map_err(|e| corrupt(format!("data is not JSON ({e})")))?;
        Ok(Record {
            seq: self.seq,
            run: self.run,
            at,
            kind,
            actor: self.actor,
            data,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The state words of runs that are over (see [`EventKind::is_terminal`]).
const TERMINAL_STATES: [&str; 7] = [
    "denied",
    "rejected",
    "expired",
    "finished",
    "failed",
    "cancelled",
    "interrupted",
];

/// Splits a drained set of ops into the writes (one transaction) and the rest.
struct Drained {
    appends: Vec<(Vec<NewEvent>, Reply<Vec<Record>>)>,
    deliveries: Vec<(String, String, Reply<bool>)>,
    pings: Vec<Reply<()>>,
    reads: Vec<Read>,
    close: Option<oneshot::Sender<()>>,
}

impl Drained {
    fn new() -> Drained {
        Drained {
            appends: Vec::new(),
            deliveries: Vec::new(),
            pings: Vec::new(),
            reads: Vec::new(),
            close: None,
        }
    }

    fn push(&mut self, op: Op) {
        match op {
            Op::Append(es, r) => self.appends.push((es, r)),
            Op::Deliver(s, i, r) => self.deliveries.push((s, i, r)),
            Op::Ping(r) => self.pings.push(r),
            Op::Read(r) => self.reads.push(r),
            Op::Close(c) => self.close = Some(c),
        }
    }

    fn len(&self) -> usize {
        self.appends.len() + self.deliveries.len() + self.pings.len() + self.reads.len()
    }

    fn has_writes(&self) -> bool {
        !(self.appends.is_empty() && self.deliveries.is_empty() && self.pings.is_empty())
    }

    /// Answers every writer with the outcome of the shared transaction.
    fn answer_writes(&mut self, result: Result<(Plan, Vec<bool>), AuditError>) {
        let appends = std::mem::take(&mut self.appends);
        let deliveries = std::mem::take(&mut self.deliveries);
        let pings = std::mem::take(&mut self.pings);
        match result {
            Ok((mut plan, fresh)) => {
                let mut sealed: Vec<Option<Record>> =
                    plan.sealed.drain(..).map(|s| Some(s.record)).collect();
                for ((_, reply), outcome) in appends.into_iter().zip(plan.outcomes) {
                    let out = outcome.map(|idx| {
                        idx.into_iter()
                            .map(|i| sealed[i].take().expect("each record answered once"))
                            .collect()
                    });
                    let _ = reply.send(out);
                }
                for ((_, _, reply), fresh) in deliveries.into_iter().zip(fresh) {
                    let _ = reply.send(Ok(fresh));
                }
                for reply in pings {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                for (_, reply) in appends {
                    let _ = reply.send(Err(e.clone()));
                }
                for (_, _, reply) in deliveries {
                    let _ = reply.send(Err(e.clone()));
                }
                for reply in pings {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The `runs` index columns, in the order both backends select them.
const SUMMARY_COLUMNS: &str = "run, requested_at, person, text, hub, cluster, state, updated_at";

/// The `list` query for `f`, with `placeholder(n)` spelling the n-th (1-based)
/// parameter for the backend. Returns the SQL and its text parameters.
fn list_sql(f: &Filter, placeholder: fn(usize) -> String) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut add = |value: &str, clause: &dyn Fn(&str) -> String, params: &mut Vec<String>| {
        params.push(value.to_owned());
        clauses.push(clause(&placeholder(params.len())));
    };
    if let Some(v) = &f.person {
        add(v, &|p| format!("person = {p}"), &mut params);
    }
    if let Some(v) = &f.command {
        add(
            v,
            &|p| {
                format!(
                    "(command = {p} OR text = {p} OR substr(text, 1, length({p}) + 1) = {p} || ' ')"
                )
            },
            &mut params,
        );
    }
    if let Some(v) = &f.hub {
        add(v, &|p| format!("hub = {p}"), &mut params);
    }
    if let Some(v) = &f.cluster {
        add(v, &|p| format!("cluster = {p}"), &mut params);
    }
    if let Some(v) = &f.outcome {
        add(v, &|p| format!("state = {p}"), &mut params);
    }
    if let Some(since) = &f.since {
        let since = chain::format_at(since);
        add(&since, &|p| format!("requested_at >= {p}"), &mut params);
    }
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM audit_runs");
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(" ORDER BY run DESC");
    if f.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", f.limit));
    }
    (sql, params)
}

/// The `open_runs` query: runs whose last lifecycle state is not terminal.
fn open_runs_sql() -> String {
    let terminal: Vec<String> = TERMINAL_STATES.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "SELECT run FROM audit_runs WHERE state NOT IN ({}) ORDER BY run",
        terminal.join(", ")
    )
}

fn parse_time(seq_or_run: i64, text: &str) -> Result<DateTime<Utc>, AuditError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AuditError::Corrupt {
            seq: seq_or_run,
            reason: format!("time `{text}` is not RFC 3339 ({e})"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_kind_words_match_serde_and_parse_back() {
        for kind in EventKind::ALL {
            let serde_word = serde_json::to_value(&kind).unwrap();
            assert_eq!(serde_word, json!(kind.as_str()));
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind.clone()));
        }
        assert_eq!(EventKind::parse("exploded"), None);
    }

    #[test]
    fn terminal_kinds_are_exactly_the_ends_of_a_run() {
        let terminal: Vec<&str> = EventKind::ALL
            .iter()
            .filter(|k| k.is_terminal())
            .map(|k| k.as_str())
            .collect();
        assert_eq!(terminal, TERMINAL_STATES.to_vec());
        assert!(!EventKind::Note.is_lifecycle());
        assert!(EventKind::Step.is_lifecycle());
    }

    #[test]
    fn secret_named_values_are_redacted_at_any_depth() {
        let mut data = json!({
            "person": "alice",
            "token": "xoxb-123",
            "where": {"Slack-Bot-Token": "xoxb-456", "channel": "C1"},
            "steps": [{"client_secret": "s3cr3t", "tokens_used": 12}],
            "password": null
        });
        redact_secrets(&mut data);
        assert_eq!(
            data,
            json!({
                "person": "alice",
                "token": REDACTED,
                "where": {"Slack-Bot-Token": REDACTED, "channel": "C1"},
                "steps": [{"client_secret": REDACTED, "tokens_used": 12}],
                "password": null
            })
        );
    }

    #[test]
    fn a_refused_request_in_a_batch_leaves_the_chain_untouched() {
        let mut head = Head {
            seq: 0,
            hash: chain::GENESIS.into(),
        };
        let good = vec![NewEvent::requested("a", json!({"person": "a"}))];
        let bad = vec![NewEvent::new(7, EventKind::Step, "a", json!({}))];
        let also_good = vec![NewEvent::requested("b", json!({}))];
        let mut next = 41;
        let p = plan(
            &mut head,
            &[&good, &bad, &also_good],
            &HashSet::new(),
            &mut || {
                next += 1;
                next
            },
        );
        assert!(matches!(p.outcomes[1], Err(AuditError::UnknownRun(7))));
        let records: Vec<&Record> = p.sealed.iter().map(|s| &s.record).collect();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].seq, records[0].run), (1, 42));
        assert_eq!((records[1].seq, records[1].run), (2, 43));
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(head.seq, 2);
        assert_eq!(head.hash, records[1].hash);
        assert_eq!(p.new_runs[1].person, "b", "person falls back to the actor");
    }
}
