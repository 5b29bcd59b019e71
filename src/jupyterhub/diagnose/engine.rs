//! The matching engine: turns [`Evidence`] into the texts each source offers,
//! runs every catalogue entry over them, ranks what matched and renders the
//! templates with the facts of this server.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde_json::Value;

use super::capacity::pod_requests;
use super::catalogue::{Entry, Matcher, Source};
use super::fit::{elsewhere, fit, may_use, Fit};
use super::quantity::human_bytes;
use super::{Diagnosis, Evidence, Finding, PoolCapacity, Scaling};

/// How many log lines the evidence and the `last_logs` fact show.
const LOG_TAIL: usize = 5;
/// How many events the evidence shows (the newest).
const EVENT_TAIL: usize = 10;

type Chrono = chrono::DateTime<chrono::Utc>;

fn to_chrono(ts: &k8s_openapi::jiff::Timestamp) -> Option<Chrono> {
    chrono::DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond().max(0) as u32)
}

/// `"3m"`, `"2h5m"`, `"4d3h"`: an age a person reads at a glance.
pub(super) fn short_age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, h, m, sec) = (s / 86_400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// One event reduced to what matching and the evidence need.
struct EventFact {
    reason: String,
    message: String,
    kind: String,
    count: i32,
    at: Option<Chrono>,
}

fn events(ev: &Evidence) -> Vec<EventFact> {
    let mut out: Vec<EventFact> = ev
        .events
        .iter()
        .map(|e| EventFact {
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            kind: e.type_.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
            at: e
                .last_timestamp
                .as_ref()
                .map(|t| &t.0)
                .or(e.event_time.as_ref().map(|t| &t.0))
                .or(e.first_timestamp.as_ref().map(|t| &t.0))
                .and_then(to_chrono),
        })
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

fn statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let st = pod.status.as_ref();
    st.and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .chain(
            st.and_then(|s| s.container_statuses.as_deref())
                .unwrap_or_default()
                .iter(),
        )
}

/// Reason, exit code and time of every termination (current, then last state).
fn terminations(pod: &Pod) -> Vec<(String, i32, Option<Chrono>)> {
    let mut out = Vec::new();
    for cs in statuses(pod) {
        for state in [cs.state.as_ref(), cs.last_state.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(t) = &state.terminated {
                out.push((
                    t.reason.clone().unwrap_or_default(),
                    t.exit_code,
                    t.finished_at.as_ref().and_then(|f| to_chrono(&f.0)),
                ));
            }
        }
    }
    out
}

/// Each init container's state as `name: Reason` (`name: Error (exit 1)`
/// for a termination), current state then last.
fn init_states(pod: &Pod) -> Vec<String> {
    let inits = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let mut out = Vec::new();
    for cs in inits {
        for state in [cs.last_state.as_ref(), cs.state.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(w) = &state.waiting {
                if let Some(r) = &w.reason {
                    out.push(format!("{}: {r}", cs.name));
                }
            }
            if let Some(t) = &state.terminated {
                if t.exit_code != 0 {
                    let r = t.reason.clone().unwrap_or_else(|| "Error".into());
                    out.push(format!("{}: {r} (exit {})", cs.name, t.exit_code));
                }
            }
        }
    }
    out
}

fn waiting_reasons(pod: &Pod) -> Vec<String> {
    statuses(pod)
        .filter_map(|cs| cs.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .collect()
}

fn deletion_age(ev: &Evidence) -> Option<chrono::Duration> {
    let ts = ev.pod.as_ref()?.metadata.deletion_timestamp.as_ref()?;
    Some(ev.now - to_chrono(&ts.0)?)
}

fn pod_age(ev: &Evidence) -> Option<chrono::Duration> {
    let ts = ev.pod.as_ref()?.metadata.creation_timestamp.as_ref()?;
    Some(ev.now - to_chrono(&ts.0)?)
}

fn finalizers(pod: &Pod) -> String {
    pod.metadata
        .finalizers
        .clone()
        .unwrap_or_default()
        .join(", ")
}

/// The texts a source offers, oldest first (the newest match wins).
fn texts(source: Source, m: &Matcher, ev: &Evidence, evs: &[EventFact]) -> Vec<String> {
    let pod = ev.pod.as_ref();
    let status = pod.and_then(|p| p.status.as_ref());
    match source {
        Source::PodPhase => status.and_then(|s| s.phase.clone()).into_iter().collect(),
        Source::PodReason => status.and_then(|s| s.reason.clone()).into_iter().collect(),
        Source::PodCondition => status
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| format!("{}={}", c.type_, c.status))
                    .collect()
            })
            .unwrap_or_default(),
        Source::ContainerWaitingReason => pod.map(waiting_reasons).unwrap_or_default(),
        Source::ContainerTerminatedReason => pod
            .map(|p| {
                terminations(p)
                    .into_iter()
                    .map(|t| t.0)
                    .filter(|r| !r.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        Source::ExitCode => pod
            .map(|p| {
                terminations(p)
                    .into_iter()
                    .map(|t| t.1.to_string())
                    .collect()
            })
            .unwrap_or_default(),
        Source::Event => evs
            .iter()
            .filter(|e| m.reason.as_ref().is_none_or(|r| *r == e.reason))
            .map(|e| e.message.clone())
            .collect(),
        Source::Log => ev.logs.clone(),
        Source::HubLog => ev.hub_logs.clone(),
        Source::InitContainer => pod.map(init_states).unwrap_or_default(),
        Source::PreviousLog => ev.previous_logs.clone(),
        Source::NodeCondition => ev
            .node
            .as_ref()
            .and_then(|n| n.status.as_ref()?.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| format!("{}={}", c.type_, c.status))
                    .collect()
            })
            .unwrap_or_default(),
        Source::DeletionAge => match (deletion_age(ev), m.older_than) {
            (Some(age), Some(min)) if age.to_std().is_ok_and(|a| a > min) => vec![format!(
                "terminating for {}; finalizers: [{}]",
                short_age(age),
                pod.map(finalizers).unwrap_or_default()
            )],
            _ => vec![],
        },
        Source::PendingAge => {
            let pending = status.and_then(|s| s.phase.as_deref()) == Some("Pending");
            match (pod_age(ev), m.older_than) {
                (Some(age), Some(min)) if pending && age.to_std().is_ok_and(|a| a > min) => {
                    vec![format!("Pending for {}", short_age(age))]
                }
                _ => vec![],
            }
        }
    }
}

/// A matcher that matched: the text, its named captures, how specific it is.
struct Hit {
    text: String,
    captures: Vec<(String, String)>,
    specificity: u32,
}

fn eval(m: &Matcher, ev: &Evidence, evs: &[EventFact]) -> Option<Hit> {
    texts(m.source, m, ev, evs)
        .into_iter()
        .rev()
        .find_map(|text| {
            let captures = match &m.pattern {
                None => vec![],
                Some(re) => {
                    let caps = re.captures(&text)?;
                    re.capture_names()
                        .flatten()
                        .filter_map(|n| Some((n.to_string(), caps.name(n)?.as_str().to_string())))
                        .collect()
                }
            };
            Some(Hit {
                text,
                captures,
                specificity: m.source.specificity(),
            })
        })
}

/// Every matcher in `all` matched and (if any) one in `when`: the hits, the
/// decisive one first.
fn match_entry(e: &Entry, ev: &Evidence, evs: &[EventFact]) -> Option<Vec<Hit>> {
    let mut hits = Vec::new();
    if !e.when.is_empty() {
        let best = e.when.iter().filter_map(|m| eval(m, ev, evs)).fold(
            None::<Hit>,
            |best, h| match best {
                Some(b) if b.specificity >= h.specificity => Some(b),
                _ => Some(h),
            },
        )?;
        hits.push(best);
    }
    for m in &e.all {
        hits.push(eval(m, ev, evs)?);
    }
    if e.when.is_empty() {
        // the most specific of the `all` hits is the one to show
        hits.sort_by_key(|h| std::cmp::Reverse(h.specificity));
    }
    Some(hits)
}

/// `fit`, `fit_pool`, `capacity` and `pool_that_fits`: where the pod would
/// fit, on the pools it may use and (`pool_that_fits`) on any pool.
fn capacity_facts(ev: &Evidence, pod: &Pod, put: &mut impl FnMut(&str, String)) {
    // The cluster autoscaler's own word on this pod, from its
    // `NotTriggerScaleUp` events: a pool at its maximum size shows there
    // even when its status ConfigMap cannot be read.
    let at_max = ev
        .events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("NotTriggerScaleUp"))
        .filter_map(|e| e.message.clone())
        .rfind(|m| m.contains("max node group size reached"));
    if let Some(m) = &at_max {
        put("autoscaler_event", m.clone());
    }
    let autoscaler_says = |capacity: &mut String| {
        if let Some(m) = &at_max {
            capacity.push_str(&format!(" The cluster autoscaler says: \"{m}\"."));
        }
    };
    if ev.pools.is_empty() {
        let mut capacity = "No node pool capacity was gathered.".to_string();
        autoscaler_says(&mut capacity);
        put(
            "fit",
            if at_max.is_some() {
                "at_max"
            } else {
                "unknown"
            }
            .into(),
        );
        put("capacity", capacity);
        put(
            "pool_that_fits",
            "unknown: no node pool capacity was gathered".into(),
        );
        return;
    }
    let verdict = fit(&ev.pools, pod);
    let other = (!matches!(
        verdict,
        Fit::Now { .. } | Fit::ScaleUp { backoff: None, .. }
    ))
    .then(|| elsewhere(&ev.pools, pod))
    .flatten();
    let mut capacity = verdict.sentence();
    match &other {
        Some(Fit::Now { pool }) => capacity.push_str(&format!(
            " Pool {pool}, which the server's profile does not use, has room for it now."
        )),
        Some(Fit::ScaleUp {
            pool, nodes, max, ..
        }) => capacity.push_str(&format!(
            " Pool {pool}, which the server's profile does not use, would fit it once the autoscaler adds a node ({nodes}/{max})."
        )),
        _ => {}
    }
    let (cpu_m, mem) = pod_requests(pod);
    let bigger_than_any_node = !ev.pools.iter().any(|p| {
        p.new_node_cpu_m.max(p.largest_free_cpu_m) >= cpu_m
            && p.new_node_memory.max(p.largest_free_memory) >= mem
    });
    let pool_that_fits = match (&verdict, &other) {
        (Fit::Now { pool } | Fit::ScaleUp { pool, .. }, _) if verdict.will_start() => pool.clone(),
        (_, Some(o)) => o.pool().unwrap_or_default().to_string(),
        _ if bigger_than_any_node => "none: the request is larger than any node".into(),
        _ => "none: every pool with nodes that big is full".into(),
    };
    // A status that was read and says how the pool may grow is newer than
    // the events; without one, the events are the autoscaler's word.
    let status_unread = matches!(verdict, Fit::NoScaleUp { known: false, .. } | Fit::NoPool);
    let kind = if at_max.is_some() && status_unread {
        "at_max"
    } else {
        verdict.kind()
    };
    if kind == "at_max" {
        autoscaler_says(&mut capacity);
    }
    put("fit", kind.into());
    put("fit_pool", verdict.pool().unwrap_or_default().into());
    put("capacity", capacity);
    put("pool_that_fits", pool_that_fits);
}

/// `4000` → `"4"`, `3920` → `"3920m"`: CPU as a request is written.
pub(super) fn cpu_text(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

/// The facts templates can use (see the module doc).
fn facts(ev: &Evidence) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.to_string(), Value::String(v));
    };
    let Some(pod) = ev.pod.as_ref() else {
        return f;
    };
    put("pod", pod.metadata.name.clone().unwrap_or_default());
    let user_key = "hub.jupyter.org/username";
    if let Some(u) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(user_key))
        .or(pod.metadata.labels.as_ref().and_then(|l| l.get(user_key)))
    {
        put("user", u.clone());
    }
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let main = containers
        .iter()
        .find(|c| c.name == "notebook")
        .or(containers.first());
    if let Some(image) = main.and_then(|c| c.image.clone()) {
        put("image", image);
    }
    if let Some(node) = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .or(ev.node.as_ref().and_then(|n| n.metadata.name.clone()))
    {
        put("node", node);
    }
    let (cpu_m, mem) = pod_requests(pod);
    put("requested_cpu", cpu_text(cpu_m));
    put("requested_memory", human_bytes(mem));
    capacity_facts(ev, pod, &mut put);
    if let Some(age) = pod_age(ev) {
        put("age", short_age(age));
    }
    if let Some(age) = deletion_age(ev) {
        put("deletion_age", short_age(age));
    }
    put("finalizers", finalizers(pod));
    if let Some(msg) = pod.status.as_ref().and_then(|s| s.message.clone()) {
        put("pod_message", msg);
    }
    if let Some(claim) = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .find_map(|v| v.persistent_volume_claim.as_ref())
    {
        put("home_claim", claim.claim_name.clone());
    }
    if let Some(t) = terminations(pod).into_iter().max_by_key(|t| t.2) {
        put("exit_code", t.1.to_string());
    }
    let logs = if ev.previous_logs.is_empty() {
        &ev.logs
    } else {
        &ev.previous_logs
    };
    put(
        "last_logs",
        logs[logs.len().saturating_sub(LOG_TAIL)..].join("\n"),
    );
    f
}

fn phase(ev: &Evidence) -> String {
    let Some(pod) = ev.pod.as_ref() else {
        return "absent".into();
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    if let Some(r) = waiting_reasons(pod)
        .into_iter()
        .find(|r| r != "ContainerCreating" && r != "PodInitializing")
    {
        return r;
    }
    let st = pod.status.as_ref();
    st.and_then(|s| s.reason.clone())
        .or(st.and_then(|s| s.phase.clone()))
        .unwrap_or_else(|| "Unknown".into())
}

fn ago(now: Chrono, at: Option<Chrono>) -> String {
    at.map(|t| format!(" {} ago", short_age(now - t)))
        .unwrap_or_default()
}

fn evidence_lines(
    ev: &Evidence,
    facts: &BTreeMap<String, Value>,
    evs: &[EventFact],
) -> Vec<String> {
    let fact = |k: &str| {
        facts
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string()
    };
    let mut out = Vec::new();
    let Some(pod) = ev.pod.as_ref() else {
        out.push("no pod: the user's server is not running".to_string());
        // What happened to a pod that is gone, and what the hub said.
        for e in &evs[evs.len().saturating_sub(EVENT_TAIL)..] {
            let kind = if e.kind == "Warning" { "warning " } else { "" };
            out.push(format!(
                "{kind}event {}{}: {}",
                e.reason,
                ago(ev.now, e.at),
                e.message
            ));
        }
        for l in &ev.hub_logs[ev.hub_logs.len().saturating_sub(LOG_TAIL)..] {
            out.push(format!("hub log: {l}"));
        }
        return out;
    };
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    out.push(format!(
        "pod {} on node {}: phase {phase}, age {}",
        fact("pod"),
        facts
            .get("node")
            .and_then(|v| v.as_str())
            .unwrap_or("(none)"),
        fact("age")
    ));
    if let Some(reason) = pod.status.as_ref().and_then(|s| s.reason.as_ref()) {
        let msg = pod
            .status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        out.push(format!("pod reason {reason}: {msg}"));
    }
    out.push(format!(
        "requests cpu {}, memory {}; image {}",
        fact("requested_cpu"),
        fact("requested_memory"),
        fact("image")
    ));
    let unscheduled = phase == "Pending"
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none();
    if unscheduled {
        out.extend(ev.pools.iter().filter(|p| may_use(pod, p)).map(pool_line));
    }
    if let Some(age) = deletion_age(ev) {
        out.push(format!(
            "terminating for {} (finalizers: [{}])",
            short_age(age),
            finalizers(pod)
        ));
    }
    for cs in statuses(pod) {
        let mut line = format!("container {}: ", cs.name);
        match cs.state.as_ref() {
            Some(s) if s.waiting.is_some() => {
                let w = s.waiting.as_ref().expect("checked");
                line += &format!("waiting {}", w.reason.as_deref().unwrap_or(""));
                if let Some(msg) = w.message.as_deref().filter(|m| !m.is_empty()) {
                    line += &format!(": {msg}");
                }
            }
            Some(s) if s.terminated.is_some() => {
                let t = s.terminated.as_ref().expect("checked");
                line += &format!(
                    "terminated {} (exit {})",
                    t.reason.as_deref().unwrap_or(""),
                    t.exit_code
                );
            }
            Some(s) if s.running.is_some() => {
                line += if cs.ready {
                    "running, ready"
                } else {
                    "running, not ready"
                };
            }
            _ => line += "state unknown",
        }
        line = line.trim_end().to_string();
        if cs.restart_count > 0 {
            line += &format!(", {} restarts", cs.restart_count);
        }
        if let Some(t) = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            line += &format!(
                "; last terminated {} (exit {}){}",
                t.reason.as_deref().unwrap_or(""),
                t.exit_code,
                ago(ev.now, t.finished_at.as_ref().and_then(|f| to_chrono(&f.0)))
            );
        }
        out.push(line);
    }
    if let Some(node) = ev.node.as_ref() {
        let name = node.metadata.name.clone().unwrap_or_default();
        for c in node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
        {
            let bad = if c.type_ == "Ready" {
                c.status != "True"
            } else {
                c.status == "True"
            };
            if bad {
                out.push(format!(
                    "node {name} condition {}={}: {}",
                    c.type_,
                    c.status,
                    c.message.as_deref().unwrap_or("")
                ));
            }
        }
    }
    for e in &evs[evs.len().saturating_sub(EVENT_TAIL)..] {
        let count = if e.count > 1 {
            format!(" (x{})", e.count)
        } else {
            String::new()
        };
        let kind = if e.kind == "Warning" { "warning " } else { "" };
        out.push(format!(
            "{kind}event {}{}{count}: {}",
            e.reason,
            ago(ev.now, e.at),
            e.message
        ));
    }
    for (label, lines) in [
        ("previous log", &ev.previous_logs),
        ("log", &ev.logs),
        ("hub log", &ev.hub_logs),
    ] {
        for l in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
            out.push(format!("{label}: {l}"));
        }
    }
    out
}

/// One pool a Pending pod may use, as evidence: room now, on a new node, and
/// what the autoscaler may do.
fn pool_line(p: &PoolCapacity) -> String {
    let scaling = match &p.scaling {
        Scaling::Unknown => "autoscaler unknown".to_string(),
        Scaling::Fixed => "not autoscaled".to_string(),
        Scaling::Autoscaled {
            nodes,
            max,
            backoff,
            ..
        } => {
            let mut s = format!("autoscaler {nodes}/{max}");
            if nodes >= max {
                s += " (at max)";
            }
            if let Some(b) = backoff {
                s += &format!(", backing off: {b}");
            }
            s
        }
    };
    format!(
        "pool {}: {}/{} nodes ready, most free on one node cpu {} memory {}, a new node cpu {} memory {}; {scaling}",
        p.name,
        p.nodes_ready,
        p.nodes,
        cpu_text(p.largest_free_cpu_m.max(0)),
        human_bytes(p.largest_free_memory.max(0)),
        cpu_text(p.new_node_cpu_m.max(p.largest_free_cpu_m)),
        human_bytes(p.new_node_memory.max(p.largest_free_memory)),
    )
}

fn render(template: &str, ctx: &BTreeMap<String, Value>) -> String {
    let env = minijinja::Environment::new();
    env.render_str(template, ctx)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|e| format!("{} (template error: {e})", template.trim_end()))
}

/// The entries that match `ev`, best first, with their hits: the most
/// specific evidence first, catalogue order among equals, fallbacks only
/// when nothing else matched. Matching reads the pod, its events, logs and
/// node, never the pools (only the rendered texts do).
fn ranked<'a>(
    entries: &'a [Entry],
    ev: &Evidence,
    evs: &[EventFact],
) -> Vec<(&'a Entry, Vec<Hit>)> {
    let mut matched: Vec<(bool, u32, usize, &Entry, Vec<Hit>)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let hits = match_entry(e, ev, evs)?;
            let spec = hits.iter().map(|h| h.specificity).max().unwrap_or(0);
            Some((e.fallback, spec, i, e, hits))
        })
        .collect();
    if matched.iter().any(|m| !m.0) {
        matched.retain(|m| !m.0);
    }
    matched.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    matched
        .into_iter()
        .map(|(_, _, _, e, hits)| (e, hits))
        .collect()
}

/// The entry [`diagnose`] would put first for `ev` (whatever `ev.pools` holds).
pub(super) fn top_entry<'a>(entries: &'a [Entry], ev: &Evidence) -> Option<&'a Entry> {
    ranked(entries, ev, &events(ev))
        .into_iter()
        .next()
        .map(|(e, _)| e)
}

pub(super) fn diagnose(entries: &[Entry], ev: &Evidence) -> Diagnosis {
    let evs = events(ev);
    let facts = facts(ev);
    let findings = ranked(entries, ev, &evs)
        .into_iter()
        .map(|(e, hits)| {
            let mut ctx = facts.clone();
            for h in hits.iter().rev() {
                for (k, v) in &h.captures {
                    ctx.insert(k.clone(), Value::String(v.clone()));
                }
            }
            Finding {
                id: e.id.clone(),
                title: render(&e.title, &ctx),
                cause: render(&e.cause, &ctx),
                fix: render(&e.fix, &ctx),
                reply: render(&e.reply, &ctx),
                matched: hits.first().map(|h| h.text.clone()).unwrap_or_default(),
            }
        })
        .collect();
    Diagnosis {
        phase: phase(ev),
        findings,
        evidence: evidence_lines(ev, &facts, &evs),
    }
}
