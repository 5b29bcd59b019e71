//! What the audit log holds and answers: event kinds, the events callers
//! append, the sealed records, run summaries, and why an operation failed.
//!
//! Kept apart from the writer and the backends so that readers of the log
//! (the CLI, the run state machine) depend only on these plain types.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// A mutating step is about to send this change (written before the
    /// call, so a change attempted by a process that then died is on record).
    Intent,
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
    pub const ALL: [EventKind; 16] = [
        EventKind::Requested,
        EventKind::Denied,
        EventKind::AwaitingApproval,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Expired,
        EventKind::Started,
        EventKind::Intent,
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
            EventKind::Intent => "intent",
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
    /// The last record read (the chain's head as the rows say), what
    /// `opsbot audit anchor` prints; `None` for an empty log.
    pub last: Option<super::Anchor>,
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
    /// A lifecycle event for a run whose story has already ended (another
    /// process took it over, or a decision raced it): a run ends once.
    #[error("run {run} already ended ({state}); nothing more happens to it (see `opsbot audit show {run}`)")]
    Ended { run: RunId, state: String },
    /// The event takes a lock key another open run holds (in this process
    /// or another sharing the store).
    #[error("`{key}` is being changed by run {holder}; wait for it (`audit {holder}`) or cancel it (`cancel {holder}`)")]
    Locked { key: String, holder: RunId },
    /// The log holds something this code cannot read back (e.g. edited by hand).
    #[error("audit record {seq} cannot be read: {reason}; run `opsbot audit verify`")]
    Corrupt { seq: i64, reason: String },
    /// The SQLite database failed.
    #[error("audit store (SQLite): {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// The PostgreSQL server failed or could not be reached.
    #[error("audit store (PostgreSQL): {0}")]
    Postgres(#[source] Arc<tokio_postgres::Error>),
    /// Connecting to PostgreSQL failed; the message has the whole cause
    /// (a TLS failure names what was wrong with the certificate).
    #[error("audit store cannot connect to PostgreSQL: {0}; check the URL's host, port, user, sslmode and sslrootcert")]
    PostgresConnect(String),
    /// The writer could not be started (a thread or socket failed).
    #[error("audit store writer could not start: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// The store was closed (or its writer stopped) before the request ran.
    #[error("audit store is closed; no more events can be appended")]
    Closed,
    /// The store did not answer in time (a database that hangs or whose
    /// network drops packets): the caller is told instead of waiting forever.
    #[error("audit store did not answer within {}; check that the database is up and reachable", humantime::format_duration(*.0))]
    Unavailable(std::time::Duration),
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
}
