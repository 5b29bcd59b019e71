//! The handle everyone holds: [`AuditLog`] turns each call into a request
//! to the backend's writer or reader and waits for its answer.
//!
//! The request protocol ([`Op`], [`Read`]) lives here because it is the
//! contract between the handle and the backends' loops.

use tokio::sync::{mpsc, oneshot};

use super::{
    postgres, sqlite, AuditError, Filter, NewEvent, Record, RunId, RunSummary, TakeOver,
    VerifyReport,
};

/// How many requests wait for the writer before callers feel back-pressure.
const QUEUE: usize = 16 * 1024;

/// How long a write (or a run's records, read on the ack path) may take
/// before the caller gets [`AuditError::Unavailable`]: a blackholed database
/// must not hang every chat request. Long reads (export, verify) have none.
pub const ANSWER_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a process may go without a heartbeat before another takes over
/// its runs (see [`AuditLog::open_with`]).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs of this process asked to stop from elsewhere, with who asked.
pub type StopRequests = mpsc::UnboundedReceiver<(RunId, String)>;

/// The handle everyone holds: cheap to clone, all clones talk to one writer.
#[derive(Clone)]
pub struct AuditLog {
    /// To the writer: appends, deliveries, pings (and reads when the backend
    /// has only one connection).
    tx: mpsc::Sender<Op>,
    /// To the reader (may be the same channel as `tx`).
    reads: mpsc::Sender<Op>,
    /// This process, as the owner of the runs it acts for.
    owner: std::sync::Arc<str>,
    lease: std::time::Duration,
    /// Where the heartbeat sends stop requests, until the runner takes it.
    stops: std::sync::Arc<std::sync::Mutex<Option<StopRequests>>>,
    /// Where singleton duties are elected ([`AuditLog::elect`]).
    duties: super::duty::DutyPlace,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").finish_non_exhaustive()
    }
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, AuditError>>;

/// A request to a backend's writer (writes are grouped into one transaction)
/// or reader. When one connection serves both, reads run after the writes
/// that arrived with them.
pub(super) enum Op {
    Append(Vec<NewEvent>, Reply<Vec<Record>>),
    TakeOver(TakeOver, Reply<Option<Record>>),
    Deliver(String, String, Reply<bool>),
    Ping(Reply<()>),
    Beat(Reply<Vec<(RunId, String)>>),
    RequestCancel(RunId, String, Reply<bool>),
    Release(Reply<()>),
    Read(Read),
    Close(oneshot::Sender<()>),
}

pub(super) enum Read {
    Run(RunId, Reply<Vec<Record>>),
    List(Filter, Reply<Vec<RunSummary>>),
    Export(i64, Reply<Vec<Record>>),
    Verify(Vec<super::Anchor>, Reply<VerifyReport>),
    OpenRuns(Reply<Vec<RunId>>),
    /// Open runs nobody heartbeats for since the given epoch milliseconds
    /// (and not this process's own).
    Stale(i64, Reply<Vec<RunId>>),
}

impl AuditLog {
    /// Opens (creating if needed) the store at `url`: `sqlite://PATH`,
    /// `sqlite::memory:` or `postgres://USER@HOST:PORT/DB`, and starts its
    /// writer. An existing log continues its chain.
    pub async fn open(url: &str) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(url, DEFAULT_LEASE).await
    }

    /// [`AuditLog::open`], with run ownership on a `lease`: every run this
    /// process requests, approves or runs is recorded as its own, and a
    /// heartbeat renews that every `lease / 6` while the process lives.
    /// Other processes on the same store (replicas, `opsbot run`) take over
    /// a run only once its owner has missed the whole lease
    /// ([`AuditLog::stale_runs`], [`AuditLog::take_over`]); a process that
    /// closes its log cleanly gives its runs up at once.
    pub async fn open_with(url: &str, lease: std::time::Duration) -> Result<AuditLog, AuditError> {
        let owner: std::sync::Arc<str> = owner_id().into();
        let (tx, writes) = mpsc::channel(QUEUE);
        let (reads_tx, reads) = mpsc::channel(QUEUE);
        let duties;
        let separate_reader = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(AuditError::BadUrl("sqlite URL without a path".into()));
            }
            duties = if path == ":memory:" {
                super::duty::DutyPlace::Alone
            } else {
                super::duty::DutyPlace::Sqlite(path.into())
            };
            sqlite::start(path, owner.clone(), writes, reads).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            postgres::start(url, owner.clone(), writes, reads).await?;
            duties = super::duty::DutyPlace::Postgres(url.to_string());
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
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        tokio::spawn(heartbeat(tx.downgrade(), lease, stop_tx));
        Ok(AuditLog {
            tx,
            reads,
            owner,
            lease,
            stops: std::sync::Arc::new(std::sync::Mutex::new(Some(stop_rx))),
            duties,
        })
    }

    /// Start competing for the singleton `duty` among the processes
    /// sharing this store (see [`super::Duty`]); tried again every `retry`
    /// while another holds it.
    pub fn elect(&self, duty: &str, retry: std::time::Duration) -> super::Duty {
        super::duty::elect(&self.duties, duty, retry)
    }

    /// This process's owner id on the store (`host:pid:random`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Asks the process running `run` (another one) to stop it, on behalf
    /// of `by`: it learns so with its next heartbeat. `false` when no other
    /// live process owns the run.
    pub async fn request_cancel(&self, run: RunId, by: &str) -> Result<bool, AuditError> {
        let by = by.to_owned();
        self.call(|r| Op::RequestCancel(run, by, r)).await
    }

    /// Runs of this process someone asked (from another process) to stop,
    /// with who asked, as the heartbeat finds them. Taken once: the runner
    /// listens.
    pub fn stop_requests(&self) -> Option<StopRequests> {
        self.stops.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// How long an owner may miss heartbeats before its runs are taken over.
    pub fn lease(&self) -> std::time::Duration {
        self.lease
    }

    /// Runs that have not ended and that no live process acts for: their
    /// owner's heartbeat lapsed, their owner gave them up, or they wait for
    /// a person (approvals belong to nobody). Oldest first.
    pub async fn stale_runs(&self) -> Result<Vec<RunId>, AuditError> {
        let cutoff = stale_before(self.lease);
        self.read(|r| Read::Stale(cutoff, r)).await
    }

    /// Appends `event` (an ending: interrupted, expired) to `run` only if
    /// the run is still open and its owner's heartbeat has lapsed, checked
    /// in the write transaction: of several processes taking a run over,
    /// one writes the ending and the others get `None`, as does anyone
    /// asking about a run whose owner is alive again.
    pub async fn take_over(
        &self,
        run: RunId,
        event: NewEvent,
    ) -> Result<Option<Record>, AuditError> {
        let t = TakeOver {
            run,
            stale_before_ms: stale_before(self.lease),
            event: without_nul(NewEvent {
                run: Some(run),
                ..event
            }),
        };
        self.call(|r| Op::TakeOver(t, r)).await
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, AuditError> {
        let (reply, answer) = oneshot::channel();
        let asked = async {
            self.tx
                .send(make(reply))
                .await
                .map_err(|_| AuditError::Closed)?;
            answer.await.map_err(|_| AuditError::Closed)?
        };
        tokio::time::timeout(ANSWER_LIMIT, asked)
            .await
            .unwrap_or(Err(AuditError::Unavailable(ANSWER_LIMIT)))
    }

    /// A read the ack path waits for, bounded like a write.
    async fn read_bounded<T>(&self, make: impl FnOnce(Reply<T>) -> Read) -> Result<T, AuditError> {
        tokio::time::timeout(ANSWER_LIMIT, self.read(make))
            .await
            .unwrap_or(Err(AuditError::Unavailable(ANSWER_LIMIT)))
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
        let es = es.into_iter().map(without_nul).collect();
        self.call(|r| Op::Append(es, r)).await
    }

    /// A run's whole story, in order (empty when the run does not exist).
    pub async fn run(&self, id: RunId) -> Result<Vec<Record>, AuditError> {
        self.read_bounded(|r| Read::Run(id, r)).await
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
        self.verify_anchored(Vec::new()).await
    }

    /// [`AuditLog::verify`], and also that the log still holds every one of
    /// `anchors` (heads recorded outside the database), which catches a
    /// truncated tail whose head row was rewritten to match. The rows and
    /// the head row are read in one snapshot, so appends racing the check
    /// never look like tampering.
    pub async fn verify_anchored(
        &self,
        anchors: Vec<super::Anchor>,
    ) -> Result<VerifyReport, AuditError> {
        self.read(|r| Read::Verify(anchors, r)).await
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
        // Whatever this process leaves open is anyone's to take over now.
        let _ = self.call(Op::Release).await;
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

/// Epoch milliseconds before which a heartbeat counts as lapsed.
fn stale_before(lease: std::time::Duration) -> i64 {
    super::chain::now().timestamp_millis() - lease.as_millis() as i64
}

/// A process id unique on the store: host (a pod's name in Kubernetes),
/// pid, and a random part so a restarted pod with the same pid differs.
fn owner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Renews this process's runs every `lease / 6` (at most 2 s apart, so a
/// stop asked from another process arrives soon) until the log is dropped,
/// passing on the stop requests it finds.
async fn heartbeat(
    tx: mpsc::WeakSender<Op>,
    lease: std::time::Duration,
    stops: mpsc::UnboundedSender<(RunId, String)>,
) {
    let every = (lease / 6).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(2),
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(tx) = tx.upgrade() else { return };
        let (reply, answer) = oneshot::channel();
        if tx.send(Op::Beat(reply)).await.is_err() {
            return;
        }
        drop(tx);
        match answer.await {
            Ok(Ok(to_stop)) => {
                // Repeated every beat until the run ends (a queued run
                // is stopped once it is live); stopping twice is harmless.
                for stop in to_stop {
                    let _ = stops.send(stop);
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "audit store: cannot renew this process's runs")
            }
            Err(_) => {}
        }
    }
}

/// The event with every NUL character replaced by U+FFFD: PostgreSQL text
/// cannot hold NUL, and one `--reason` containing it must not fail the
/// whole group commit it shares with others. Done before sealing, so both
/// backends store (and hash) the same text.
fn without_nul(mut e: NewEvent) -> NewEvent {
    fn clean(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    }
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => clean(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            serde_json::Value::Object(o) => {
                if o.keys().any(|k| k.contains('\0')) {
                    let entries: Vec<_> = std::mem::take(o).into_iter().collect();
                    for (mut k, v) in entries {
                        clean(&mut k);
                        o.insert(k, v);
                    }
                }
                o.values_mut().for_each(walk);
            }
            _ => {}
        }
    }
    clean(&mut e.actor);
    walk(&mut e.data);
    e
}
