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
//! Runs have owners: the process acting for a run (requesting, running it)
//! heartbeats for it, and another process sharing the store takes a run
//! over (records its ending) only when that heartbeat lapsed
//! ([`AuditLog::open_with`]). A run ends once: the write that would give it
//! a second ending is refused ([`AuditError::Ended`]).
//!
//! Besides the log, a `runs` index table (one row per run: who, what, where,
//! last state) is written in the same transaction; it serves [`AuditLog::list`]
//! and [`AuditLog::open_runs`] and can always be rebuilt from the log.

pub mod anchor;
pub mod chain;
mod decode;
mod duty;
mod log;
mod model;
mod pg_connect;
mod postgres;
mod query;
mod sqlite;
mod verify;
mod writer;

/// The one redaction of the crate, re-exported under the names the audit API
/// has always had.
pub use crate::redact::{secret_keys as redact_secrets, PLACEHOLDER as REDACTED};
pub use anchor::Anchor;
pub use duty::Duty;
pub use log::{AuditLog, DEFAULT_LEASE};
pub use model::{AuditError, EventKind, Filter, NewEvent, Record, RunId, RunSummary, VerifyReport};

// The backends reach these through `super::`.
use decode::{parse_time, RawRow};
use log::{Op, Read};
use query::{list_sql, open_runs_sql, stale_runs_sql, OWNERS_SCHEMA};
use verify::Verifier;
use writer::{
    lock_keys, may_take_over, plan, referenced_runs, Drained, Head, Ownership, TakeOver, Written,
    MAX_BATCH,
};
