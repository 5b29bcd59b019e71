//! Server-side `meta.k8s.io/v1 Table` output, so `kubectl get` prints the
//! same columns (READY, STATUS, RESTARTS, AGE; NODE with `-o wide`) as against
//! a real cluster.

use serde_json::{json, Value};

use super::discovery::ResourceDef;

/// kubectl's `HumanDuration` rendering of an age.
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age_of(ts: Option<&str>) -> String {
    match ts.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => human_age((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()),
        None => "<unknown>".into(),
    }
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(x: &str) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x.into()
    }
}

/// The STATUS column of a pod, computed the way kubectl does.
pub fn pod_status(p: &Value) -> String {
    let mut reason = s(p, "/status/phase").to_string();
    if !s(p, "/status/reason").is_empty() {
        reason = s(p, "/status/reason").into();
    }
    let empty = vec![];
    let statuses = p
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut init_reason = None;
    for c in p
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
            if r != "PodInitializing" {
                init_reason = Some(format!("Init:{r}"));
            }
        }
    }
    if let Some(r) = init_reason {
        reason = r;
    } else {
        let mut has_running = false;
        for c in statuses.iter().rev() {
            if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
                reason = r.into();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = match t.get("reason").and_then(Value::as_str) {
                    Some(r) => r.into(),
                    None => format!(
                        "ExitCode:{}",
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
                    ),
                };
            } else if c.pointer("/state/running").is_some()
                && c.get("ready").and_then(Value::as_bool) == Some(true)
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if s(p, "/status/reason") == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

fn col(name: &str, ty: &str, priority: i64, desc: &str) -> Value {
    let mut c =
        json!({"name": name, "type": ty, "format": "", "description": desc, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

fn columns(def: &ResourceDef) -> Vec<Value> {
    let name = col(
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object was created.");
    match (def.group, def.plural) {
        ("", "pods") => vec![
            name,
            col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            col("Status", "string", 0, "The aggregate status of the containers in this pod."),
            col("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            age,
            col("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
            col("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."),
            col("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
            col("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
        ],
        ("", "nodes") => vec![
            name,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            age,
            col("Version", "string", 0, "Kubelet Version reported by the node."),
            col("Internal-IP", "string", 1, "List of internal IPs for the node."),
            col("External-IP", "string", 1, "List of external IPs for the node."),
            col("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            col("Kernel-Version", "string", 1, "Kernel Version reported by the node."),
            col("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node."),
        ],
        ("apps", "deployments") => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            col("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            age,
            col("Containers", "string", 1, "Names of each container in the template."),
            col("Images", "string", 1, "Images referenced by each container in the template."),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        ("apps", "statefulsets") => vec![name, col("Ready", "string", 0, "Number of the pod with ready state"), age],
        ("apps", "replicasets") => vec![
            name,
            col("Desired", "integer", 0, "Replicas is the number of desired replicas."),
            col("Current", "integer", 0, "Replicas is the most recently observed number of replicas."),
            col("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            age,
        ],
        ("", "services") => vec![
            name,
            col("Type", "string", 0, "The type of the service."),
            col("Cluster-IP", "string", 0, "The cluster IP of the service."),
            col("External-IP", "string", 0, "The external IP of the service."),
            col("Port(s)", "string", 0, "The ports of the service."),
            age,
        ],
        ("", "events") => vec![
            col("Last Seen", "string", 0, "Time when last event occurred."),
            col("Type", "string", 0, "Type of this event."),
            col("Reason", "string", 0, "Reason why this event was generated."),
            col("Object", "string", 0, "The object this Event is about."),
            col("Message", "string", 0, "A human-readable description of the status of this operation."),
        ],
        ("", "namespaces") => vec![name, col("Status", "string", 0, "The status of the namespace"), age],
        ("", "persistentvolumeclaims") => vec![
            name,
            col("Status", "string", 0, "The phase of the claim."),
            col("Volume", "string", 0, "The volume bound to the claim."),
            col("Capacity", "string", 0, "The capacity of the claim."),
            col("Access Modes", "string", 0, "The access modes of the claim."),
            col("StorageClass", "string", 0, "The storage class of the claim."),
            age,
        ],
        _ => vec![name, age],
    }
}

fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = json!(s(o, "/metadata/name"));
    let age = json!(age_of(
        o.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
    ));
    match (def.group, def.plural) {
        ("", "pods") => {
            let empty = vec![];
            let cs = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let total = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|a| a.len())
                .unwrap_or(cs.len());
            let ready = cs
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let restarts: i64 = cs
                .iter()
                .map(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0))
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(o)),
                json!(restarts.to_string()),
                age,
                json!(or_none(s(o, "/status/podIP"))),
                json!(or_none(s(o, "/spec/nodeName"))),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        ("", "nodes") => {
            let empty = vec![];
            let conds = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let ready = conds
                .iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"] == "True");
            let mut st = match ready {
                Some(true) => "Ready".to_string(),
                Some(false) => "NotReady".to_string(),
                None => "Unknown".to_string(),
            };
            if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
                st.push_str(",SchedulingDisabled");
            }
            let mut roles: Vec<String> = o
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|l| {
                    l.keys()
                        .filter_map(|k| {
                            k.strip_prefix("node-role.kubernetes.io/").map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            roles.sort();
            let addr = |t: &str| {
                o.pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|x| x["type"] == t))
                    .and_then(|x| x["address"].as_str())
                    .unwrap_or("<none>")
                    .to_string()
            };
            vec![
                name,
                json!(st),
                json!(if roles.is_empty() {
                    "<none>".into()
                } else {
                    roles.join(",")
                }),
                age,
                json!(s(o, "/status/nodeInfo/kubeletVersion")),
                json!(addr("InternalIP")),
                json!(addr("ExternalIP")),
                json!(or_none(s(o, "/status/nodeInfo/osImage"))),
                json!(or_none(s(o, "/status/nodeInfo/kernelVersion"))),
                json!(or_none(s(o, "/status/nodeInfo/containerRuntimeVersion"))),
            ]
        }
        ("apps", "deployments") => {
            let empty = vec![];
            let cs = o
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            let names: Vec<&str> = cs.iter().filter_map(|c| c["name"].as_str()).collect();
            let images: Vec<&str> = cs.iter().filter_map(|c| c["image"].as_str()).collect();
            let sel = o
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    i(o, "/status/readyReplicas"),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(i(o, "/status/updatedReplicas")),
                json!(i(o, "/status/availableReplicas")),
                age,
                json!(names.join(",")),
                json!(images.join(",")),
                json!(sel),
            ]
        }
        ("apps", "statefulsets") => vec![
            name,
            json!(format!(
                "{}/{}",
                i(o, "/status/readyReplicas"),
                o.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            )),
            age,
        ],
        ("apps", "replicasets") => vec![
            name,
            json!(i(o, "/spec/replicas")),
            json!(i(o, "/status/replicas")),
            json!(i(o, "/status/readyReplicas")),
            age,
        ],
        ("", "services") => {
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ext = o
                .pointer("/status/loadBalancer/ingress/0/ip")
                .and_then(Value::as_str)
                .unwrap_or(if s(o, "/spec/type") == "LoadBalancer" {
                    "<pending>"
                } else {
                    "<none>"
                });
            vec![
                name,
                json!(if s(o, "/spec/type").is_empty() {
                    "ClusterIP"
                } else {
                    s(o, "/spec/type")
                }),
                json!(or_none(s(o, "/spec/clusterIP"))),
                json!(ext),
                json!(if ports.is_empty() {
                    "<none>".into()
                } else {
                    ports.join(",")
                }),
                age,
            ]
        }
        ("", "events") => {
            let last = o
                .pointer("/lastTimestamp")
                .and_then(Value::as_str)
                .or_else(|| o.pointer("/eventTime").and_then(Value::as_str));
            vec![
                json!(age_of(last)),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(format!(
                    "{}/{}",
                    s(o, "/involvedObject/kind").to_lowercase(),
                    s(o, "/involvedObject/name")
                )),
                json!(s(o, "/message")),
            ]
        }
        ("", "namespaces") => vec![
            name,
            json!(if s(o, "/status/phase").is_empty() {
                "Active"
            } else {
                s(o, "/status/phase")
            }),
            age,
        ],
        ("", "persistentvolumeclaims") => {
            let modes: Vec<&str> = o
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|m| match m {
                            "ReadWriteOnce" => "RWO",
                            "ReadOnlyMany" => "ROX",
                            "ReadWriteMany" => "RWX",
                            x => x,
                        })
                        .collect()
                })
                .unwrap_or_default();
            vec![
                name,
                json!(s(o, "/status/phase")),
                json!(s(o, "/spec/volumeName")),
                json!(s(o, "/status/capacity/storage")),
                json!(modes.join(",")),
                json!(s(o, "/spec/storageClassName")),
                age,
            ]
        }
        _ => vec![name, age],
    }
}

/// One row per object; `include_object` = `Object` embeds the whole object, else its metadata.
pub fn table(
    def: &ResourceDef,
    objects: &[Value],
    list_meta: Value,
    include_object: &str,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let obj = match include_object {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}),
            };
            json!({"cells": cells(def, o), "object": obj})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns(def), "rows": rows})
}
