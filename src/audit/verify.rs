//! `verify`: re-hashes every stored row and walks the chain, naming each
//! record that was edited (hash mismatch), deleted (gap in `seq`, or a tail
//! shorter than the head row says) or reordered (hash fits another position,
//! or a broken `prev_hash` link).

use super::anchor::AnchorCheck;
use super::{chain, Anchor, Head, RawRow, VerifyReport};

/// How far from its position `verify` looks for the seq a moved record was
/// written with.
const MOVE_WINDOW: i64 = 64;

/// Walks raw rows in `seq` order, checking every hash and link, then the
/// stored head against the last row (a truncated tail).
pub(super) struct Verifier {
    report: VerifyReport,
    prev: Option<(i64, String)>,
    /// hash → seq of the most recent rows (at most `2 * MOVE_WINDOW`), to say
    /// which record a broken link really points at.
    recent: std::collections::HashMap<String, i64>,
    recent_order: std::collections::VecDeque<String>,
    anchors: AnchorCheck,
}

impl Verifier {
    /// A verifier that also checks the log still holds each of `anchors`.
    pub(super) fn new(anchors: Vec<Anchor>) -> Verifier {
        Verifier {
            report: VerifyReport::default(),
            prev: None,
            recent: Default::default(),
            recent_order: Default::default(),
            anchors: AnchorCheck::new(anchors),
        }
    }

    pub(super) fn row(&mut self, r: &RawRow) {
        self.report.records += 1;
        self.anchors.row(r.seq, r.run, &r.hash);
        self.report.last = Some(Anchor {
            seq: r.seq,
            run: r.run,
            hash: r.hash.clone(),
        });
        let name = format!("record {} (run {}, {})", r.seq, r.run, r.kind);
        let (expected_seq, expected_prev) = match &self.prev {
            Some((seq, hash)) => (seq + 1, hash.as_str()),
            None => (1, chain::GENESIS),
        };
        let rehash =
            |seq: i64| chain::hash(seq, r.run, &r.at, &r.kind, &r.actor, &r.data, &r.prev_hash);
        let intact = rehash(r.seq) == r.hash;
        // A record whose hash fits another position was moved, not edited.
        let written_as = if intact {
            None
        } else {
            (r.seq - MOVE_WINDOW..=r.seq + MOVE_WINDOW)
                .filter(|s| *s != r.seq && *s > 0)
                .find(|s| rehash(*s) == r.hash)
        };
        if r.seq > expected_seq {
            let gap = if r.seq - expected_seq == 1 {
                format!("record {expected_seq} is missing")
            } else {
                format!("records {expected_seq}..{} are missing", r.seq - 1)
            };
            self.report
                .problems
                .push(format!("{name}: {gap} before it (gap in seq) — deleted?"));
        } else if let Some(original) = written_as {
            self.report.problems.push(format!(
                "{name}: was written as record {original} — reordered?"
            ));
        } else if r.prev_hash != expected_prev {
            let after = match &self.prev {
                Some((seq, _)) => format!("record {seq}"),
                None => "the start of the log".into(),
            };
            let really = match self.recent.get(&r.prev_hash) {
                Some(seq) => format!("it was written right after the record now at {seq}"),
                None if r.prev_hash == chain::GENESIS => "it was written first".into(),
                None => "the record it was written after is not just before it".into(),
            };
            self.report.problems.push(format!(
                "{name}: prev_hash link broken — it follows {after} but {really}; reordered?"
            ));
        }
        if !intact && written_as.is_none() {
            self.report
                .problems
                .push(format!("{name}: hash mismatch — edited?"));
        }
        self.recent.insert(r.hash.clone(), r.seq);
        self.recent_order.push_back(r.hash.clone());
        if self.recent_order.len() > 2 * MOVE_WINDOW as usize {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
        self.prev = Some((r.seq, r.hash.clone()));
    }

    pub(super) fn finish(mut self, head: Option<Head>) -> VerifyReport {
        if let Some(head) = head {
            let (last_seq, last_hash) = self.prev.clone().unwrap_or((0, chain::GENESIS.into()));
            if head.seq > last_seq {
                let missing = if head.seq == last_seq + 1 {
                    format!("record {} is missing", head.seq)
                } else {
                    format!("records {}..{} are missing", last_seq + 1, head.seq)
                };
                self.report.problems.push(format!(
                    "{missing} at the end of the log (the head says the last record is {}) — deleted?",
                    head.seq
                ));
            } else if head.seq == last_seq && head.hash != last_hash && last_seq > 0 {
                self.report.problems.push(format!(
                    "record {last_seq}: its hash differs from the one the head recorded — edited?"
                ));
            }
        }
        let anchored = std::mem::take(&mut self.anchors).finish();
        self.report.problems.extend(anchored);
        self.report
    }
}
