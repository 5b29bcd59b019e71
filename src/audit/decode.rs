//! Reading stored rows back: the raw columns both backends select, and their
//! conversion into typed records with a [`AuditError::Corrupt`] naming the
//! record when something stored cannot be read.

use chrono::{DateTime, Utc};

use super::{AuditError, EventKind, Record};

/// One raw stored row, as `verify` sees it (no parsing that could fail).
pub(super) struct RawRow {
    pub(super) seq: i64,
    pub(super) run: i64,
    pub(super) at: String,
    pub(super) kind: String,
    pub(super) actor: String,
    pub(super) data: String,
    pub(super) prev_hash: String,
    pub(super) hash: String,
}

impl RawRow {
    pub(super) fn into_record(self) -> Result<Record, AuditError> {
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
            run: super::RunId(self.run),
            at,
            kind,
            actor: self.actor,
            data,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

pub(super) fn parse_time(seq_or_run: i64, text: &str) -> Result<DateTime<Utc>, AuditError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| AuditError::Corrupt {
            seq: seq_or_run,
            reason: format!("time `{text}` is not RFC 3339 ({e})"),
        })
}
