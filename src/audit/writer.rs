//! Group commit: how one writer turns a drained batch of requests into one
//! transaction and answers every caller with its share of the outcome.
//!
//! [`plan`] validates and seals the whole batch before the database is
//! touched, so both backends write exactly the same records and a refused
//! request never leaves a gap in the chain.

use std::collections::HashMap;

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

/// What a write does to a run's owner (the process that heartbeats for it,
/// see [`super::AuditLog::open_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ownership {
    /// The writing process now acts for the run (it requested, approved,
    /// started or stepped it): its heartbeat keeps the run its own.
    Claim,
    /// Nobody acts for the run: it ended, or it waits for a person.
    Release,
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
    /// Who acts for each run whose state changed, last one per run.
    pub(super) owners: Vec<(RunId, Ownership)>,
    /// Lock keys taken in this batch: (key, the run now holding it).
    pub(super) locks: Vec<(String, RunId)>,
}

/// The lock key a lifecycle event takes (`data.lock`): the `requested`
/// record of a run that starts at once, or the approval that starts one.
fn lock_of(e: &NewEvent) -> Option<&str> {
    e.kind
        .is_lifecycle()
        .then(|| e.data.get("lock")?.as_str())
        .flatten()
}

/// The lock keys the requests take, to look up who holds them.
pub(super) fn lock_keys(requests: &[&[NewEvent]]) -> Vec<String> {
    let mut keys: Vec<String> = requests
        .iter()
        .flat_map(|es| es.iter().filter_map(lock_of).map(str::to_owned))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
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
/// `existing` are the referenced runs that already exist, with their state;
/// `locks` who holds the [`lock_keys`] (holder run and its state);
/// `new_ids` yields fresh run ids.
///
/// A lock is held by a run until that run ends, so it is released when its
/// holder dies too: the run is taken over (given its ending) once its
/// owner's heartbeat lapses. An event taking a key an open run holds is
/// refused ([`AuditError::Locked`]), inside the transaction every writer of
/// the store goes through, so two replicas cannot both change one target. A refused request leaves the chain
/// untouched. A lifecycle event for a run that has ended is refused
/// ([`AuditError::Ended`]): the check runs inside the write transaction
/// that serialises every writer of the store, so two processes racing to
/// end one run (a takeover and a late step, a cancel and a finish) cannot
/// both write an ending.
pub(super) fn plan(
    head: &mut Head,
    requests: &[&[NewEvent]],
    existing: &HashMap<RunId, String>,
    locks: &HashMap<String, (RunId, String)>,
    new_ids: &mut dyn FnMut() -> RunId,
) -> Plan {
    let mut p = Plan::default();
    // Each key's holder as the batch moves it.
    let mut holders: HashMap<String, RunId> = locks
        .iter()
        .map(|(k, (run, _))| (k.clone(), *run))
        .collect();
    let stored: HashMap<RunId, &str> = locks
        .values()
        .map(|(run, state)| (*run, state.as_str()))
        .collect();
    // Each known run's state, as the batch moves it.
    let mut known: HashMap<RunId, String> = existing.clone();
    let at = chain::now();
    let at_text = chain::format_at(&at);
    let mut touched: std::collections::BTreeMap<RunId, (Option<String>, String)> =
        Default::default();
    for events in requests {
        // Validate first so a refused request allocates and seals nothing.
        let mut opened_here = false;
        let mut refusal = None;
        // States this request moves runs to, checked as it goes.
        let mut moved: HashMap<RunId, &'static str> = HashMap::new();
        for e in events.iter() {
            match (&e.kind, e.run) {
                (EventKind::Requested, Some(id)) => refusal = Some(AuditError::RunGiven(id)),
                (EventKind::Requested, None) => opened_here = true,
                (kind, None) if !opened_here => {
                    refusal = Some(AuditError::MissingRun(kind.clone()))
                }
                (_, None) => {}
                (kind, Some(id)) => match known.get(&id) {
                    None => refusal = Some(AuditError::UnknownRun(id)),
                    Some(state) if kind.is_lifecycle() => {
                        let now = moved.get(&id).copied().unwrap_or(state.as_str());
                        if ended(now) {
                            refusal = Some(AuditError::Ended {
                                run: id,
                                state: now.to_owned(),
                            });
                        } else {
                            moved.insert(id, kind.as_str());
                        }
                    }
                    Some(_) => {}
                },
            }
            if let (None, Some(key)) = (&refusal, lock_of(e)) {
                let holder = holders.get(key).copied().filter(|h| Some(*h) != e.run);
                let open = |h: &RunId| {
                    let state = moved
                        .get(h)
                        .copied()
                        .or_else(|| known.get(h).map(String::as_str))
                        .or_else(|| stored.get(h).copied());
                    state.is_some_and(|s| !ended(s))
                };
                if let Some(holder) = holder.filter(open) {
                    refusal = Some(AuditError::Locked {
                        key: key.to_owned(),
                        holder,
                    });
                }
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
                    known.insert(id, EventKind::Requested.as_str().to_owned());
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
            if let Some(key) = lock_of(e) {
                holders.insert(key.to_owned(), run);
                p.locks.push((key.to_owned(), run));
            }
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
                known.insert(run, e.kind.as_str().to_owned());
            }
            indexes.push(p.sealed.len());
            p.sealed.push(Sealed { record, data_text });
        }
        p.outcomes.push(Ok(indexes));
    }
    p.owners = touched
        .iter()
        .filter_map(|(run, (state, _))| {
            let state = state.as_deref()?;
            let waits = state == EventKind::AwaitingApproval.as_str();
            Some((
                *run,
                if waits || ended(state) {
                    Ownership::Release
                } else {
                    Ownership::Claim
                },
            ))
        })
        .collect();
    p.touched = touched
        .into_iter()
        .map(|(run, (state, at))| (run, state, at))
        .collect();
    p
}

/// Whether a takeover may write: the run is open and nobody else acts for
/// it (no owner row, or another owner whose last beat is before `cutoff`).
pub(super) fn may_take_over(
    state: &str,
    owner: Option<(&str, i64)>,
    me: &str,
    stale_before_ms: i64,
) -> bool {
    !ended(state)
        && match owner {
            None => true,
            Some((who, beat)) => who != me && beat < stale_before_ms,
        }
}

/// Whether a run in `state` (a state word of the runs index) has ended.
fn ended(state: &str) -> bool {
    EventKind::parse(state).is_some_and(|k| k.is_terminal())
}

/// A conditional append: `event` is written to `run` only if the run has
/// not ended and nobody heartbeats for it (no owner, or the owner's last
/// beat is older than `stale_before_ms`). Checked in the write transaction,
/// so of several processes taking over one run exactly one does.
pub(super) struct TakeOver {
    pub(super) run: RunId,
    pub(super) stale_before_ms: i64,
    pub(super) event: NewEvent,
}

/// What one write transaction did, for [`Drained::answer_writes`].
pub(super) struct Written {
    pub(super) plan: Plan,
    /// Per delivery: seen for the first time.
    pub(super) fresh: Vec<bool>,
    /// Per takeover: whether its condition held (then its event is in the
    /// plan, after the appends').
    pub(super) eligible: Vec<bool>,
    /// Per cancel request: whether a live owner will see it.
    pub(super) cancels: Vec<bool>,
    /// For the heartbeats: this process's runs someone asked to stop.
    pub(super) to_stop: Vec<(RunId, String)>,
}

/// Splits a drained set of ops into the writes (one transaction) and the rest.
pub(super) struct Drained {
    pub(super) appends: Vec<(Vec<NewEvent>, Reply<Vec<Record>>)>,
    pub(super) takeovers: Vec<(TakeOver, Reply<Option<Record>>)>,
    pub(super) deliveries: Vec<(String, String, Reply<bool>)>,
    pub(super) pings: Vec<Reply<()>>,
    /// Heartbeats of this process's runs (see [`super::AuditLog::open_with`]).
    pub(super) beats: Vec<Reply<Vec<(RunId, String)>>>,
    /// Asks to stop a run another process runs: (run, who asked).
    pub(super) cancels: Vec<(RunId, String, Reply<bool>)>,
    /// This process gives up its runs (it is closing): others may take
    /// over whatever it leaves open without waiting for its beat to lapse.
    pub(super) releases: Vec<Reply<()>>,
    pub(super) reads: Vec<Read>,
    pub(super) close: Option<oneshot::Sender<()>>,
}

impl Drained {
    pub(super) fn new() -> Drained {
        Drained {
            appends: Vec::new(),
            takeovers: Vec::new(),
            deliveries: Vec::new(),
            pings: Vec::new(),
            beats: Vec::new(),
            cancels: Vec::new(),
            releases: Vec::new(),
            reads: Vec::new(),
            close: None,
        }
    }

    pub(super) fn push(&mut self, op: Op) {
        match op {
            Op::Append(es, r) => self.appends.push((es, r)),
            Op::TakeOver(t, r) => self.takeovers.push((t, r)),
            Op::Deliver(s, i, r) => self.deliveries.push((s, i, r)),
            Op::Ping(r) => self.pings.push(r),
            Op::Beat(r) => self.beats.push(r),
            Op::RequestCancel(run, by, r) => self.cancels.push((run, by, r)),
            Op::Read(r) => self.reads.push(r),
            Op::Release(r) => self.releases.push(r),
            Op::Close(c) => self.close = Some(c),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.appends.len()
            + self.takeovers.len()
            + self.deliveries.len()
            + self.pings.len()
            + self.beats.len()
            + self.cancels.len()
            + self.releases.len()
            + self.reads.len()
    }

    pub(super) fn has_writes(&self) -> bool {
        !(self.appends.is_empty()
            && self.takeovers.is_empty()
            && self.deliveries.is_empty()
            && self.pings.is_empty()
            && self.beats.is_empty()
            && self.cancels.is_empty()
            && self.releases.is_empty())
    }

    /// The append requests of the transaction: every append, then the
    /// takeovers whose condition held.
    pub(super) fn requests(&self, eligible: &[bool]) -> Vec<&[NewEvent]> {
        self.appends
            .iter()
            .map(|(es, _)| es.as_slice())
            .chain(
                self.takeovers
                    .iter()
                    .zip(eligible)
                    .filter(|(_, ok)| **ok)
                    .map(|((t, _), _)| std::slice::from_ref(&t.event)),
            )
            .collect()
    }

    /// Answers every writer with the outcome of the shared transaction.
    pub(super) fn answer_writes(&mut self, result: Result<Written, AuditError>) {
        let appends = std::mem::take(&mut self.appends);
        let takeovers = std::mem::take(&mut self.takeovers);
        let deliveries = std::mem::take(&mut self.deliveries);
        let pings = std::mem::take(&mut self.pings);
        let beats = std::mem::take(&mut self.beats);
        let releases = std::mem::take(&mut self.releases);
        let cancels = std::mem::take(&mut self.cancels);
        match result {
            Ok(Written {
                mut plan,
                fresh,
                eligible,
                cancels: seen,
                to_stop,
            }) => {
                for ((_, _, reply), seen) in cancels.into_iter().zip(seen) {
                    let _ = reply.send(Ok(seen));
                }
                for reply in beats {
                    let _ = reply.send(Ok(to_stop.clone()));
                }
                let mut sealed: Vec<Option<Record>> =
                    plan.sealed.drain(..).map(|s| Some(s.record)).collect();
                let mut take = |idx: Vec<usize>| -> Vec<Record> {
                    idx.into_iter()
                        .map(|i| sealed[i].take().expect("each record answered once"))
                        .collect()
                };
                let mut outcomes = plan.outcomes.into_iter();
                for (_, reply) in appends {
                    let out = outcomes.next().expect("one outcome per append");
                    let _ = reply.send(out.map(&mut take));
                }
                for ((_, reply), ok) in takeovers.into_iter().zip(eligible) {
                    let out = if ok {
                        match outcomes.next().expect("one outcome per eligible takeover") {
                            Ok(idx) => Ok(take(idx).pop()),
                            // Ended within this very batch: someone else's ending won.
                            Err(AuditError::Ended { .. }) => Ok(None),
                            Err(e) => Err(e),
                        }
                    } else {
                        Ok(None)
                    };
                    let _ = reply.send(out);
                }
                for ((_, _, reply), fresh) in deliveries.into_iter().zip(fresh) {
                    let _ = reply.send(Ok(fresh));
                }
                for reply in pings.into_iter().chain(releases) {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                for (_, reply) in appends {
                    let _ = reply.send(Err(e.clone()));
                }
                for (_, reply) in takeovers {
                    let _ = reply.send(Err(e.clone()));
                }
                for (_, _, reply) in deliveries {
                    let _ = reply.send(Err(e.clone()));
                }
                for reply in pings.into_iter().chain(releases) {
                    let _ = reply.send(Err(e.clone()));
                }
                for reply in beats {
                    let _ = reply.send(Err(e.clone()));
                }
                for (_, _, reply) in cancels {
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
            &HashMap::new(),
            &HashMap::new(),
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

    /// A lock key is held by its run until that run ends: a second run
    /// taking it is refused naming the holder, in the same batch or against
    /// a holder already stored; an ended holder's key is free again.
    #[test]
    fn a_lock_key_held_by_an_open_run_refuses_another_and_an_ended_holder_frees_it() {
        let mut head = Head {
            seq: 0,
            hash: chain::GENESIS.into(),
        };
        let take = |who: &str| vec![NewEvent::requested(who, json!({"lock": "hub/staging"}))];
        let (a, b) = (take("a"), take("b"));
        let mut next = 0;
        let mut ids = || {
            next += 1;
            RunId(next)
        };
        let p = plan(
            &mut head,
            &[&a, &b],
            &HashMap::new(),
            &HashMap::new(),
            &mut ids,
        );
        assert!(p.outcomes[0].is_ok());
        assert!(
            matches!(&p.outcomes[1], Err(AuditError::Locked { key, holder: RunId(1) }) if key == "hub/staging"),
            "{:?}",
            p.outcomes[1]
        );
        assert_eq!(p.locks, vec![("hub/staging".to_string(), RunId(1))]);

        let stored = |state: &str| {
            HashMap::from([("hub/staging".to_string(), (RunId(9), state.to_string()))])
        };
        let p = plan(
            &mut head,
            &[&b],
            &HashMap::new(),
            &stored("started"),
            &mut ids,
        );
        assert!(matches!(
            p.outcomes[0],
            Err(AuditError::Locked {
                holder: RunId(9),
                ..
            })
        ));
        let p = plan(
            &mut head,
            &[&b],
            &HashMap::new(),
            &stored("interrupted"),
            &mut ids,
        );
        assert!(p.outcomes[0].is_ok(), "{:?}", p.outcomes[0]);

        // The holder's own approval takes the key it holds.
        let approve = vec![NewEvent::new(
            RunId(9),
            EventKind::Approved,
            "c",
            json!({"lock": "hub/staging"}),
        )];
        let existing = HashMap::from([(RunId(9), "awaiting_approval".to_string())]);
        let p = plan(
            &mut head,
            &[&approve],
            &existing,
            &stored("awaiting_approval"),
            &mut ids,
        );
        assert!(p.outcomes[0].is_ok(), "{:?}", p.outcomes[0]);
    }
}
