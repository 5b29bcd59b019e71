//! Server-side printing: `kubectl get` asks for a `meta.k8s.io/v1 Table`
//! and prints its columns, so the columns here are the API server's own
//! (pods: READY, STATUS, RESTARTS, AGE, and IP/NODE with `-o wide`).

use serde_json::{json, Value};

fn col(name: &str, kind: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({ "name": name, "type": kind, "format": format, "description": "", "priority": priority })
}

/// Age as kubectl prints it (`5d`, `3h12m`, `45s`).
pub fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else {
        return "<unknown>".into();
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    let (d, h, m) = (secs / 86400, (secs % 86400) / 3600, (secs % 3600) / 60);
    if d >= 2 {
        if d < 8 && h > 0 { format!("{d}d{h}h") } else { format!("{d}d") }
    } else if secs >= 3 * 3600 {
        format!("{}h", secs / 3600)
    } else if secs >= 3600 {
        if m > 0 { format!("{}h{m}m", secs / 3600) } else { format!("{}h", secs / 3600) }
    } else if secs >= 600 {
        format!("{}m", secs / 60)
    } else if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

fn created(o: &Value) -> String {
    age(o["metadata"]["creationTimestamp"].as_str().unwrap_or_default())
}

fn name(o: &Value) -> Value {
    o["metadata"]["name"].clone()
}

/// The STATUS column kubectl shows for a pod.
pub fn pod_status(p: &Value) -> String {
    if !p["metadata"]["deletionTimestamp"].is_null() {
        return "Terminating".into();
    }
    let mut reason = p["status"]["reason"].as_str().or(p["status"]["phase"].as_str()).unwrap_or("Unknown").to_string();
    for c in p["status"]["containerStatuses"].as_array().into_iter().flatten() {
        if let Some(r) = c["state"]["waiting"]["reason"].as_str() {
            reason = r.to_string();
        } else if let Some(r) = c["state"]["terminated"]["reason"].as_str() {
            reason = r.to_string();
        }
    }
    reason
}

fn row(cells: Vec<Value>, obj: &Value, include: &str) -> Value {
    let object = if include == "Object" {
        obj.clone()
    } else {
        json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"] })
    };
    json!({ "cells": cells, "object": object })
}

/// A Table of `objects` of `plural`.
pub fn table(plural: &str, objects: &[Value], rv: u64, include: &str) -> Value {
    let (columns, rows): (Vec<Value>, Vec<Value>) = match plural {
        "pods" => (
            vec![col("Name", "string", 0), col("Ready", "string", 0), col("Status", "string", 0), col("Restarts", "string", 0), col("Age", "string", 0), col("IP", "string", 1), col("Node", "string", 1), col("Nominated Node", "string", 1), col("Readiness Gates", "string", 1)],
            objects.iter().map(|p| {
                let cs = p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
                let total = p["spec"]["containers"].as_array().map(|c| c.len()).unwrap_or(cs.len());
                let ready = cs.iter().filter(|c| c["ready"] == json!(true)).count();
                let restarts: i64 = cs.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum();
                row(vec![name(p), json!(format!("{ready}/{total}")), json!(pod_status(p)), json!(restarts.to_string()), json!(created(p)),
                         json!(p["status"]["podIP"].as_str().unwrap_or("<none>")), json!(p["spec"]["nodeName"].as_str().unwrap_or("<none>")), json!("<none>"), json!("<none>")], p, include)
            }).collect(),
        ),
        "nodes" => (
            vec![col("Name", "string", 0), col("Status", "string", 0), col("Roles", "string", 0), col("Age", "string", 0), col("Version", "string", 0), col("Internal-IP", "string", 1), col("OS-Image", "string", 1)],
            objects.iter().map(|n| {
                let ready = n["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Ready")).map(|c| c["status"].clone());
                let mut status = match ready.as_ref().and_then(|v| v.as_str()) { Some("True") => "Ready".to_string(), _ => "NotReady".to_string() };
                if n["spec"]["unschedulable"] == json!(true) { status.push_str(",SchedulingDisabled"); }
                let ip = n["status"]["addresses"].as_array().and_then(|a| a.iter().find(|a| a["type"] == "InternalIP")).and_then(|a| a["address"].as_str()).unwrap_or("<none>");
                row(vec![name(n), json!(status), json!("<none>"), json!(created(n)), json!(n["status"]["nodeInfo"]["kubeletVersion"].as_str().unwrap_or("")), json!(ip), json!(n["status"]["nodeInfo"]["osImage"].as_str().unwrap_or(""))], n, include)
            }).collect(),
        ),
        "deployments" => (
            vec![col("Name", "string", 0), col("Ready", "string", 0), col("Up-to-date", "integer", 0), col("Available", "integer", 0), col("Age", "string", 0)],
            objects.iter().map(|d| {
                let st = &d["status"];
                row(vec![name(d), json!(format!("{}/{}", st["readyReplicas"].as_i64().unwrap_or(0), d["spec"]["replicas"].as_i64().unwrap_or(1))), json!(st["updatedReplicas"].as_i64().unwrap_or(0)), json!(st["availableReplicas"].as_i64().unwrap_or(0)), json!(created(d))], d, include)
            }).collect(),
        ),
        "statefulsets" => (
            vec![col("Name", "string", 0), col("Ready", "string", 0), col("Age", "string", 0)],
            objects.iter().map(|d| row(vec![name(d), json!(format!("{}/{}", d["status"]["readyReplicas"].as_i64().unwrap_or(0), d["spec"]["replicas"].as_i64().unwrap_or(1))), json!(created(d))], d, include)).collect(),
        ),
        "replicasets" => (
            vec![col("Name", "string", 0), col("Desired", "integer", 0), col("Current", "integer", 0), col("Ready", "integer", 0), col("Age", "string", 0)],
            objects.iter().map(|d| row(vec![name(d), json!(d["spec"]["replicas"].as_i64().unwrap_or(1)), json!(d["status"]["replicas"].as_i64().unwrap_or(0)), json!(d["status"]["readyReplicas"].as_i64().unwrap_or(0)), json!(created(d))], d, include)).collect(),
        ),
        "daemonsets" => (
            vec![col("Name", "string", 0), col("Desired", "integer", 0), col("Current", "integer", 0), col("Ready", "integer", 0), col("Up-to-date", "integer", 0), col("Available", "integer", 0), col("Age", "string", 0)],
            objects.iter().map(|d| { let s = &d["status"]; row(vec![name(d), s["desiredNumberScheduled"].clone(), s["currentNumberScheduled"].clone(), s["numberReady"].clone(), s["updatedNumberScheduled"].clone(), s["numberAvailable"].clone(), json!(created(d))], d, include) }).collect(),
        ),
        "services" => (
            vec![col("Name", "string", 0), col("Type", "string", 0), col("Cluster-IP", "string", 0), col("External-IP", "string", 0), col("Port(s)", "string", 0), col("Age", "string", 0)],
            objects.iter().map(|svc| {
                let ports: Vec<String> = svc["spec"]["ports"].as_array().into_iter().flatten().map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))).collect();
                row(vec![name(svc), json!(svc["spec"]["type"].as_str().unwrap_or("ClusterIP")), json!(svc["spec"]["clusterIP"].as_str().unwrap_or("None")), json!("<none>"), json!(ports.join(",")), json!(created(svc))], svc, include)
            }).collect(),
        ),
        "events" => (
            vec![col("Last Seen", "string", 0), col("Type", "string", 0), col("Reason", "string", 0), col("Object", "string", 0), col("Message", "string", 0)],
            objects.iter().map(|e| {
                let last = e["lastTimestamp"].as_str().or(e["eventTime"].as_str()).unwrap_or_default();
                let obj = format!("{}/{}", e["involvedObject"]["kind"].as_str().unwrap_or_default().to_lowercase(), e["involvedObject"]["name"].as_str().unwrap_or_default());
                row(vec![json!(age(last)), e["type"].clone(), e["reason"].clone(), json!(obj), e["message"].clone()], e, include)
            }).collect(),
        ),
        "persistentvolumeclaims" => (
            vec![col("Name", "string", 0), col("Status", "string", 0), col("Volume", "string", 0), col("Capacity", "string", 0), col("Access Modes", "string", 0), col("StorageClass", "string", 0), col("Age", "string", 0)],
            objects.iter().map(|p| row(vec![name(p), json!(p["status"]["phase"].as_str().unwrap_or("Pending")), json!(p["spec"]["volumeName"].as_str().unwrap_or("")), json!(p["status"]["capacity"]["storage"].as_str().unwrap_or("")), json!("RWO"), json!(p["spec"]["storageClassName"].as_str().unwrap_or("")), json!(created(p))], p, include)).collect(),
        ),
        "namespaces" => (
            vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
            objects.iter().map(|n| row(vec![name(n), json!(n["status"]["phase"].as_str().unwrap_or("Active")), json!(created(n))], n, include)).collect(),
        ),
        _ => (
            vec![col("Name", "string", 0), col("Age", "string", 0)],
            objects.iter().map(|o| row(vec![name(o), json!(created(o))], o, include)).collect(),
        ),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": { "resourceVersion": rv.to_string() },
        "columnDefinitions": columns,
        "rows": rows
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rows_show_readiness_status_and_restarts_like_kubectl() {
        let p = json!({ "metadata": { "name": "jupyter-a", "creationTimestamp": "2020-01-01T00:00:00Z" },
            "spec": { "containers": [{ "name": "notebook" }], "nodeName": "n1" },
            "status": { "phase": "Running", "containerStatuses": [{ "ready": false, "restartCount": 7,
                "state": { "waiting": { "reason": "CrashLoopBackOff" } } }] } });
        let t = table("pods", &[p], 5, "Metadata");
        assert_eq!(t["rows"][0]["cells"][1], "0/1");
        assert_eq!(t["rows"][0]["cells"][2], "CrashLoopBackOff");
        assert_eq!(t["rows"][0]["cells"][3], "7");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
