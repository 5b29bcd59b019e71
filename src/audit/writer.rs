//! Group commit: how one writer turns a drained batch of requests into one
//! transaction and answers every caller with its share of the outcome.
//!
//! [`plan`] validates and seals the whole batch before the database is
//! touched, so both backends write exactly the same records and a refused
//! request never leaves a gap in the chain.

use std::collections::HashSet;

use tokio::sync::oneshot;

use super::log::{Op, Read, Reply};
use super::{chain, AuditError, EventKind, NewEvent, Record, RunId};
use crate::redact;

/// At most this many requests share one transaction.
pub(super) const MAX_BATCH: usize = 4096;

/// The chain's tip as read inside a write transaction.
#[derive(Clone, Debug)]
pub(super) struct Head {
    pub(super) seq: i64,
    pub(super) hash: String,
}

/// A record plus the exact canonical `data` text that was hashed (stored
/// as-is so verification never depends on re-serialisation).
pub(super) struct Sealed {
    pub(super) record: Record,
    pub(super) data_text: String,
}

/// A run opened in this batch: its row in the `runs` index.
pub(super) struct NewRun {
    pub(super) run: RunId,
    pub(super) requested_at: String,
    pub(super) person: String,
    pub(super) command: String,
    pub(super) text: String,
    pub(super) hub: Option<String>,
    pub(super) cluster: Option<String>,
}

/// Everything one write transaction does, computed before touching the
/// database so both backends write the same thing.
#[derive(Default)]
pub(super) struct Plan {
    /// Per append request, in arrival order: its records or why it was refused.
    pub(super) outcomes: Vec<Result<Vec<usize>, AuditError>>,
    pub(super) sealed: Vec<Sealed>,
    pub(super) new_runs: Vec<NewRun>,
    /// (run, new state if a lifecycle event, updated_at), last one per run.
    pub(super) touched: Vec<(RunId, Option<String>, String)>,
}

/// Runs named by the requests (to look up which exist) and how many new run
/// ids they may need.
pub(super) fn referenced_runs(requests: &[&[NewEvent]]) -> (Vec<RunId>, usize) {
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

pub(super) fn data_str(data: &serde_json::Value, key: &str) -> Option<String> {
    match data.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Validates and seals a batch of append requests on top of `head`.
/// `existing` are the referenced runs that already exist; `new_ids` yields
/// fresh run ids. A refused request leaves the chain untouched.
pub(super) fn plan(
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
            redact::secret_keys(&mut data);
            let data_text = chain::canonical_json(&data);
            let seq = head.seq + 1;
            let hash = chain::hash(
                seq,
                run.get(),
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

/// Splits a drained set of ops into the writes (one transaction) and the rest.
pub(super) struct Drained {
    pub(super) appends: Vec<(Vec<NewEvent>, Reply<Vec<Record>>)>,
    pub(super) deliveries: Vec<(String, String, Reply<bool>)>,
    pub(super) pings: Vec<Reply<()>>,
    pub(super) reads: Vec<Read>,
    pub(super) close: Option<oneshot::Sender<()>>,
}

impl Drained {
    pub(super) fn new() -> Drained {
        Drained {
            appends: Vec::new(),
            deliveries: Vec::new(),
            pings: Vec::new(),
            reads: Vec::new(),
            close: None,
        }
    }

    pub(super) fn push(&mut self, op: Op) {
        match op {
            Op::Append(es, r) => self.appends.push((es, r)),
            Op::Deliver(s, i, r) => self.deliveries.push((s, i, r)),
            Op::Ping(r) => self.pings.push(r),
            Op::Read(r) => self.reads.push(r),
            Op::Close(c) => self.close = Some(c),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.appends.len() + self.deliveries.len() + self.pings.len() + self.reads.len()
    }

    pub(super) fn has_writes(&self) -> bool {
        !(self.appends.is_empty() && self.deliveries.is_empty() && self.pings.is_empty())
    }

    /// Answers every writer with the outcome of the shared transaction.
    pub(super) fn answer_writes(&mut self, result: Result<(Plan, Vec<bool>), AuditError>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refused_request_in_a_batch_leaves_the_chain_untouched() {
        let mut head = Head {
            seq: 0,
            hash: chain::GENESIS.into(),
        };
        let good = vec![NewEvent::requested("a", json!({"person": "a"}))];
        let bad = vec![NewEvent::new(RunId(7), EventKind::Step, "a", json!({}))];
        let also_good = vec![NewEvent::requested("b", json!({}))];
        let mut next = 41;
        let p = plan(
            &mut head,
            &[&good, &bad, &also_good],
            &HashSet::new(),
            &mut || {
                next += 1;
                RunId(next)
            },
        );
        assert!(matches!(
            p.outcomes[1],
            Err(AuditError::UnknownRun(RunId(7)))
        ));
        let records: Vec<&Record> = p.sealed.iter().map(|s| &s.record).collect();
        assert_eq!(records.len(), 2);
        assert_eq!((records[0].seq, records[0].run), (1, RunId(42)));
        assert_eq!((records[1].seq, records[1].run), (2, RunId(43)));
        assert_eq!(records[1].prev_hash, records[0].hash);
        assert_eq!(head.seq, 2);
        assert_eq!(head.hash, records[1].hash);
        assert_eq!(p.new_runs[1].person, "b", "person falls back to the actor");
    }
}
