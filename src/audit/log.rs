//! The handle everyone holds: [`AuditLog`] turns each call into a request
//! to the backend's writer or reader and waits for its answer.
//!
//! The request protocol ([`Op`], [`Read`]) lives here because it is the
//! contract between the handle and the backends' loops.

use tokio::sync::{mpsc, oneshot};

use super::{
    postgres, sqlite, AuditError, Filter, NewEvent, Record, RunId, RunSummary, VerifyReport,
};

/// How many requests wait for the writer before callers feel back-pressure.
const QUEUE: usize = 16 * 1024;

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

pub(super) type Reply<T> = oneshot::Sender<Result<T, AuditError>>;

/// A request to a backend's writer (writes are grouped into one transaction)
/// or reader. When one connection serves both, reads run after the writes
/// that arrived with them.
pub(super) enum Op {
    Append(Vec<NewEvent>, Reply<Vec<Record>>),
    Deliver(String, String, Reply<bool>),
    Ping(Reply<()>),
    Read(Read),
    Close(oneshot::Sender<()>),
}

pub(super) enum Read {
    Run(RunId, Reply<Vec<Record>>),
    List(Filter, Reply<Vec<RunSummary>>),
    Export(i64, Reply<Vec<Record>>),
    Verify(Vec<super::Anchor>, Reply<VerifyReport>),
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
