//! External anchors of the hash chain. The chain alone cannot tell a log
//! whose tail was cut off (and whose `audit_head` row was rewritten to
//! match) from a log that simply ended there: both are internally
//! consistent. An anchor is the head (`seq`, `run`, `hash`) written
//! somewhere the database's owner cannot rewrite (a file on another volume, a
//! chat channel, another store); `verify --anchor` then proves that the log
//! still contains that exact record, so nothing up to it was truncated or
//! re-chained.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One chain head, written as `opsbot-audit-anchor seq=N run=R hash=HEX`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anchor {
    pub seq: i64,
    pub run: i64,
    pub hash: String,
}

const PREFIX: &str = "opsbot-audit-anchor";

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX} seq={} run={} hash={}",
            self.seq, self.run, self.hash
        )
    }
}

/// Why an anchor line could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("not an audit anchor ({0}); write the line `opsbot audit anchor` printed, e.g. `{PREFIX} seq=42 run=7 hash=<64 hex digits>`")]
pub struct BadAnchor(String);

impl FromStr for Anchor {
    type Err = BadAnchor;

    fn from_str(line: &str) -> Result<Anchor, BadAnchor> {
        let mut words = line.split_whitespace();
        if words.next() != Some(PREFIX) {
            return Err(BadAnchor(format!("it must start with `{PREFIX}`")));
        }
        let (mut seq, mut run, mut hash) = (None, None, None);
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| BadAnchor(format!("`{word}` is not key=value")))?;
            let number = || {
                value
                    .parse::<i64>()
                    .map_err(|_| BadAnchor(format!("{key} must be a number")))
            };
            match key {
                "seq" => seq = Some(number()?),
                "run" => run = Some(number()?),
                "hash" => {
                    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(BadAnchor("hash must be 64 hex digits".into()));
                    }
                    hash = Some(value.to_ascii_lowercase());
                }
                _ => {} // room for later fields (e.g. at=) without breaking old readers
            }
        }
        match (seq, run, hash) {
            (Some(seq), Some(run), Some(hash)) => Ok(Anchor { seq, run, hash }),
            _ => Err(BadAnchor("seq=, run= and hash= are all needed".into())),
        }
    }
}

/// Every anchor in `text` (one per line; blank lines and `#` comments are
/// skipped), as an anchor file accumulates them.
pub fn parse_lines(text: &str) -> Result<Vec<Anchor>, BadAnchor> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::parse)
        .collect()
}

/// Why no anchor was taken.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("the audit log is empty; there is nothing to anchor yet")]
    Empty,
    /// Anchoring a log that fails `verify` would vouch for the tampering.
    #[error("the audit log fails verification ({0} problem(s)); run `opsbot audit verify` and investigate before anchoring")]
    Broken(usize),
    #[error(transparent)]
    Audit(#[from] super::AuditError),
    #[error("cannot append the anchor to {path}: {source}; check that the directory exists and is writable")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Verifies the log and returns its head, to be kept outside the database.
pub async fn take(log: &super::AuditLog) -> Result<Anchor, AnchorError> {
    let report = log.verify().await?;
    if !report.is_intact() {
        return Err(AnchorError::Broken(report.problems.len()));
    }
    report.last.ok_or(AnchorError::Empty)
}

/// Appends `anchor` as one line to `path` (created if missing), flushed to
/// disk before returning.
pub fn append_to(path: &std::path::Path, anchor: &Anchor) -> Result<(), AnchorError> {
    use std::io::Write as _;
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{anchor}")?;
        f.sync_all()
    };
    write().map_err(|source| AnchorError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// `serve`'s schedule: take an anchor every `every` and append it to `to`,
/// until `stop`. A failure is logged and retried at the next tick; it never
/// stops the server.
pub async fn every(
    log: super::AuditLog,
    every: std::time::Duration,
    to: std::path::PathBuf,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut last: Option<Anchor> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match take(&log).await {
            // The same head again adds nothing; the file stays short.
            Ok(a) if last.as_ref() == Some(&a) => {}
            Ok(a) => match append_to(&to, &a) {
                Ok(()) => {
                    tracing::info!(anchor = %a, file = %to.display(), "audit anchor written");
                    last = Some(a);
                }
                Err(e) => tracing::error!(error = %e, "audit anchor not written"),
            },
            Err(AnchorError::Empty) => {}
            Err(e) => tracing::error!(error = %e, "audit anchor not written"),
        }
    }
}

/// Checks the rows `verify` walks against the anchors it was given.
#[derive(Default)]
pub(super) struct AnchorCheck {
    anchors: Vec<(Anchor, bool)>,
    pub(super) problems: Vec<String>,
}

impl AnchorCheck {
    pub(super) fn new(anchors: Vec<Anchor>) -> AnchorCheck {
        AnchorCheck {
            anchors: anchors.into_iter().map(|a| (a, false)).collect(),
            problems: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, seq: i64, run: i64, hash: &str) {
        for (a, seen) in self.anchors.iter_mut().filter(|(a, _)| a.seq == seq) {
            *seen = true;
            if a.run != run || a.hash != hash {
                self.problems.push(format!(
                    "record {seq}: differs from the anchor ({a}) — the log was rewritten after it was anchored"
                ));
            }
        }
    }

    pub(super) fn finish(self) -> Vec<String> {
        let mut problems = self.problems;
        for (a, _) in self.anchors.into_iter().filter(|(_, seen)| !*seen) {
            problems.push(format!(
                "record {} is not in the log, but it was anchored ({a}) — the tail was truncated?",
                a.seq
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_line_reads_back_as_written() {
        let a = Anchor {
            seq: 42,
            run: 7,
            hash: "ab".repeat(32),
        };
        assert_eq!(a.to_string().parse::<Anchor>(), Ok(a.clone()));
        let file = format!("# anchors\n\n{a}\n{a}\n");
        assert_eq!(parse_lines(&file).unwrap().len(), 2);
    }

    #[test]
    fn malformed_anchor_lines_are_refused_with_the_expected_shape() {
        for bad in [
            "",
            "seq=1 run=1",
            "opsbot-audit-anchor seq=x run=1 hash=00",
            "opsbot-audit-anchor seq=1 run=1 hash=zz",
            "opsbot-audit-anchor seq=1 hash=0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let e = bad.parse::<Anchor>().unwrap_err().to_string();
            assert!(e.contains("opsbot audit anchor"), "{bad}: {e}");
        }
    }
}
