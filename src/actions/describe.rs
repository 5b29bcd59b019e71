//! `kube.describe`: what `kubectl describe` tells a person about one object,
//! as data and as ready-made lines: its state, the conditions that are not
//! fine, each container's state and last termination (OOMKilled, exit 137),
//! and the object's own recent events, newest first. No exec, no shell.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::kube::{dyn_api, events_of, from_kube, summarise};
use super::{
    check_args, parse_args, short_age, ActionCall, ActionError, ActionSpec, Permission, Target,
};

/// How many of the object's events are kept unless the step says otherwise.
const DEFAULT_EVENTS: usize = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DescribeArgs {
    cluster: String,
    /// Omit for cluster-scoped kinds (Node).
    #[serde(default)]
    namespace: Option<String>,
    kind: String,
    name: String,
    #[serde(default)]
    events: Option<usize>,
}

/// The `kube.describe` step kind.
pub fn actions() -> Vec<ActionSpec> {
    vec![ActionSpec {
        name: "kube.describe",
        mutates: false,
        idempotent: false,
        check: |v| {
            check_args::<DescribeArgs>(v)?;
            match v.get("kind").and_then(Value::as_str) {
                Some(k) if !k.contains("{{") => super::kube::kind_resource(k).map(|_| ()),
                _ => Ok(()),
            }
        },
        permissions: |a| {
            let mut p = super::kube::perms_for(a, "get");
            p.push(Permission::new("list", "", "events"));
            p
        },
        describe: |a| {
            let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
            let ns = s("namespace");
            let obj = if ns.is_empty() {
                s("name").to_string()
            } else {
                format!("{ns}/{}", s("name"))
            };
            Target {
                verb: "describe".into(),
                target: format!("{} {obj} @{}", s("kind"), s("cluster")),
            }
        },
        run: Arc::new(|c| Box::pin(describe(c))),
    }]
}

fn age_since(t: Option<&str>) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(t?).ok()?;
    let d = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or_default();
    Some(short_age(d))
}

/// Conditions as `{type, status, reason, message, age, ok}`; `ok` is what a
/// healthy object shows (`True`, except for pressure-style node conditions).
fn conditions(v: &Value) -> Vec<Value> {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let kind = c["type"].as_str().unwrap_or("");
                    let status = c["status"].as_str().unwrap_or("");
                    let healthy_false = kind.ends_with("Pressure")
                        || kind == "NetworkUnavailable"
                        || kind == "ReplicaFailure";
                    let ok = if healthy_false {
                        status == "False"
                    } else {
                        status == "True"
                    };
                    json!({
                        "type": kind,
                        "status": status,
                        "reason": c["reason"],
                        "message": c["message"],
                        "age": age_since(c["lastTransitionTime"].as_str()),
                        "ok": ok,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each container's state and its last termination, for pods.
fn containers(v: &Value) -> Vec<Value> {
    let statuses = v
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (true, c))
        .chain(
            v.pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| (false, c)),
        );
    statuses
        .map(|(init, c)| {
            let state = c["state"]
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_else(|| "unknown".into());
            let detail = &c["state"][&state];
            let last = &c["lastState"]["terminated"];
            let last_termination = if last.is_object() {
                json!({
                    "reason": last["reason"],
                    "exit_code": last["exitCode"],
                    "finished": age_since(last["finishedAt"].as_str()),
                })
            } else {
                Value::Null
            };
            json!({
                "name": c["name"],
                "init": init,
                "ready": c["ready"],
                "restarts": c["restartCount"],
                "state": state,
                "reason": detail["reason"],
                "message": detail["message"],
                "exit_code": detail["exitCode"],
                "since": age_since(detail["startedAt"].as_str().or(detail["finishedAt"].as_str())),
                "last_termination": last_termination,
            })
        })
        .collect()
}

/// The lines a person reads, kubectl-describe style but only what matters.
fn lines(kind: &str, s: &Value, conds: &[Value], ctrs: &[Value], events: &[Value]) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    let mut head = format!("{kind} {}", text(&s["name"]));
    match kind.to_ascii_lowercase().as_str() {
        "pod" => head.push_str(&format!(
            ": {}, ready {}, restarts {}, node {}, age {}",
            text(&s["phase"]),
            text(&s["ready"]),
            s["restarts"],
            s["node"].as_str().unwrap_or("none"),
            text(&s["age"])
        )),
        "deployment" | "statefulset" | "replicaset" | "daemonset" => head.push_str(&format!(
            ": ready {}, updated {}, available {}, age {}",
            text(&s["ready"]),
            s["updated"],
            s["available"],
            text(&s["age"])
        )),
        "node" => head.push_str(&format!(
            ": {}{}, pool {}, age {}",
            if s["ready"] == true {
                "Ready"
            } else {
                "NotReady"
            },
            if s["unschedulable"] == true {
                ", cordoned"
            } else {
                ""
            },
            s["pool"].as_str().unwrap_or("?"),
            text(&s["age"])
        )),
        _ => head.push_str(&format!(", age {}", text(&s["age"]))),
    }
    if s["terminating"] == true {
        head.push_str(&format!(
            ", terminating for {}",
            s["terminating_for"].as_str().unwrap_or("?")
        ));
    }
    out.push(head);
    for c in conds.iter().filter(|c| c["ok"] == false) {
        let mut l = format!("condition {}={}", text(&c["type"]), text(&c["status"]));
        if let Some(r) = c["reason"].as_str() {
            l.push_str(&format!(" ({r})"));
        }
        if let Some(m) = c["message"].as_str().filter(|m| !m.is_empty()) {
            l.push_str(&format!(": {m}"));
        }
        out.push(l);
    }
    for c in ctrs {
        let mut l = format!(
            "{}container {}: {}",
            if c["init"] == true { "init " } else { "" },
            text(&c["name"]),
            text(&c["state"])
        );
        if let Some(r) = c["reason"].as_str() {
            l.push_str(&format!(" ({r})"));
        }
        if let Some(code) = c["exit_code"].as_i64() {
            l.push_str(&format!(", exit {code}"));
        }
        if let Some(n) = c["restarts"].as_i64().filter(|n| *n > 0) {
            l.push_str(&format!(", {n} restarts"));
        }
        let last = &c["last_termination"];
        if last.is_object() {
            l.push_str(&format!(
                "; last terminated {} (exit {}){}",
                last["reason"].as_str().unwrap_or("?"),
                last["exit_code"],
                last["finished"]
                    .as_str()
                    .map(|a| format!(" {a} ago"))
                    .unwrap_or_default()
            ));
        }
        out.push(l);
    }
    for e in events {
        let count = e["count"].as_i64().filter(|n| *n > 1);
        out.push(format!(
            "event {} {}{} ({} ago): {}",
            text(&e["type"]),
            text(&e["reason"]),
            count.map(|n| format!(" ×{n}")).unwrap_or_default(),
            e["age"].as_str().unwrap_or("?"),
            text(&e["message"])
        ));
    }
    out
}

async fn describe(call: ActionCall) -> Result<Value, ActionError> {
    let a: DescribeArgs = parse_args(&call.args)?;
    let (api, _) = dyn_api(&call, &a.cluster, &a.kind, a.namespace.as_deref())?;
    let obj = api.get(&a.name).await.map_err(from_kube)?;
    let raw = serde_json::to_value(obj).unwrap_or_default();
    let mut out = summarise(&a.kind, &raw);
    let conds = conditions(&raw);
    let ctrs = if a.kind.eq_ignore_ascii_case("pod") {
        containers(&raw)
    } else {
        Vec::new()
    };
    // Cluster-scoped objects' events live in `default`, as kubectl looks them up.
    let ns = a.namespace.clone().unwrap_or_else(|| "default".into());
    let kind = raw["kind"].as_str().unwrap_or(&a.kind).to_string();
    let events = events_of(&call, &a.cluster, &ns, &kind, &a.name).await?;
    let mut events: Vec<Value> = events;
    events.truncate(a.events.unwrap_or(DEFAULT_EVENTS));
    let text = lines(&kind, &out, &conds, &ctrs, &events);
    let o = out.as_object_mut().expect("summaries are objects");
    o.remove("raw");
    o.insert("conditions".into(), json!(conds));
    o.insert("containers".into(), json!(ctrs));
    o.insert(
        "warnings".into(),
        json!(events.iter().filter(|e| e["type"] == "Warning").count()),
    );
    o.insert("events".into(), json!(events));
    o.insert("lines".into(), json!(text));
    Ok(out)
}
