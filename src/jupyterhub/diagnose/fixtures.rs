//! Realistic evidence for each known failure, shaped like zero-to-jupyterhub
//! user pods, shared by the unit tests and `tests/it/diagnose_catalogue.rs`
//! (which includes this file by path to check every catalogue entry has one).
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde_json::{json, Value};

use super::{Evidence, PoolCapacity, PoolTaint, Scaling};

/// The fixed "now" every fixture is measured against.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc)
}

/// RFC 3339 time `mins` minutes before [`now`].
pub fn ago(mins: i64) -> String {
    (now() - chrono::Duration::minutes(mins))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub const IMAGE: &str = "quay.io/jupyter/scipy-notebook:2024-05-27";
pub const POD: &str = "jupyter-alice-40example-2ecom";

/// A user server pod as kubespawner creates it, `age` minutes old.
pub fn pod_json(age: i64, phase: &str, node: Option<&str>) -> Value {
    let mut v = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD,
            "namespace": "hub-a",
            "creationTimestamp": ago(age),
            "labels": {
                "app": "jupyterhub",
                "component": "singleuser-server",
                "heritage": "jupyterhub",
                "release": "hub-a",
                "hub.jupyter.org/network-access-hub": "true",
                "hub.jupyter.org/servername": "",
                "hub.jupyter.org/username": "alice-40example-2ecom"
            },
            "annotations": {
                "hub.jupyter.org/username": "alice@example.com"
            }
        },
        "spec": {
            "containers": [{
                "name": "notebook",
                "image": IMAGE,
                "args": ["jupyterhub-singleuser"],
                "ports": [{"containerPort": 8888, "name": "notebook-port"}],
                "resources": {
                    "requests": {"cpu": "500m", "memory": "2Gi"},
                    "limits": {"memory": "4Gi"}
                },
                "volumeMounts": [{"mountPath": "/home/jovyan", "name": "volume-alice-40example-2ecom"}]
            }],
            "schedulerName": "hub-a-user-scheduler",
            "tolerations": [{
                "key": "hub.jupyter.org/dedicated", "operator": "Equal",
                "value": "user", "effect": "NoSchedule"
            }],
            "volumes": [{
                "name": "volume-alice-40example-2ecom",
                "persistentVolumeClaim": {"claimName": "claim-alice-40example-2ecom"}
            }]
        },
        "status": {"phase": phase}
    });
    if let Some(n) = node {
        v["spec"]["nodeName"] = json!(n);
    }
    v
}

pub fn pod(v: Value) -> Pod {
    serde_json::from_value(v).expect("fixture pod is a valid Pod")
}

/// An event about the user pod.
pub fn event(reason: &str, kind: &str, message: &str, mins_ago: i64, count: i32) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{POD}.{reason}{mins_ago}"), "namespace": "hub-a"},
        "involvedObject": {"kind": "Pod", "name": POD, "namespace": "hub-a"},
        "reason": reason,
        "type": kind,
        "message": message,
        "count": count,
        "firstTimestamp": ago(mins_ago),
        "lastTimestamp": ago(mins_ago)
    }))
    .expect("fixture event is a valid Event")
}

/// A user node whose `Ready` condition has `ready` status.
pub fn node(name: &str, ready: &str) -> Node {
    let (reason, message) = match ready {
        "True" => ("KubeletReady", "kubelet is posting ready status"),
        _ => ("NodeStatusUnknown", "Kubelet stopped posting node status."),
    };
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {
                "hub.jupyter.org/node-purpose": "user",
                "cloud.google.com/gke-nodepool": "user-small"
            }
        },
        "spec": {"taints": [{"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"}]},
        "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
            {"type": "Ready", "status": ready, "reason": reason, "message": message}
        ]}
    }))
    .expect("fixture node is a valid Node")
}

/// A GKE pool's shared labels and its `hub.jupyter.org/dedicated` taint.
fn pool(
    name: &str,
    purpose: &str,
    free: (i64, i64),
    new: (i64, i64),
    nodes: usize,
) -> PoolCapacity {
    PoolCapacity {
        name: name.into(),
        largest_free_cpu_m: free.0,
        largest_free_memory: free.1,
        nodes_ready: nodes,
        nodes,
        new_node_cpu_m: new.0,
        new_node_memory: new.1,
        labels: [
            ("cloud.google.com/gke-nodepool", name),
            ("hub.jupyter.org/node-purpose", purpose),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        taints: vec![PoolTaint {
            key: "hub.jupyter.org/dedicated".into(),
            value: purpose.into(),
            effect: "NoSchedule".into(),
        }],
        scaling: Scaling::Unknown,
    }
}

/// The demo cluster's pools: core, a small and a large user pool. The
/// user pods of [`unschedulable`] are pinned to `user-small`.
pub fn pools() -> Vec<PoolCapacity> {
    vec![
        pool("core", "core", (1200, 3 << 30), (3920, 13 << 30), 2),
        pool("user-small", "user", (3500, 6 << 30), (3920, 13 << 30), 3),
        pool(
            "user-large",
            "user",
            (15_000, 58 << 30),
            (15_890, 60 << 30),
            1,
        ),
    ]
}

/// [`pools`] with the autoscaler's word on `user-small`: at `nodes` of `max`.
pub fn pools_with_user_small_autoscaled(nodes: usize, max: usize) -> Vec<PoolCapacity> {
    let mut pools = pools();
    for p in &mut pools {
        p.scaling = if p.name == "user-small" {
            Scaling::Autoscaled {
                nodes,
                min: 1,
                max,
                backoff: None,
            }
        } else {
            Scaling::Fixed
        };
    }
    pools
}

fn evidence(pod: Option<Pod>, events: Vec<Event>, node: Option<Node>) -> Evidence {
    Evidence {
        pod,
        events,
        logs: vec![],
        previous_logs: vec![],
        node,
        pools: pools(),
        now: now(),
    }
}

fn ready_conditions(ready: bool) -> Value {
    let s = if ready { "True" } else { "False" };
    json!([
        {"type": "PodScheduled", "status": "True"},
        {"type": "Initialized", "status": "True"},
        {"type": "ContainersReady", "status": s},
        {"type": "Ready", "status": s}
    ])
}

fn scheduled_events(mins_ago: i64) -> Vec<Event> {
    vec![event(
        "Scheduled",
        "Normal",
        &format!("Successfully assigned hub-a/{POD} to gke-user-small-7f3a"),
        mins_ago,
        1,
    )]
}

pub fn image_pull() -> Evidence {
    let bad = "quay.io/jupyter/scipy-notebok:2024-05-27";
    let mut v = pod_json(4, "Pending", Some("gke-user-small-7f3a"));
    v["spec"]["containers"][0]["image"] = json!(bad);
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": bad, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff",
            "message": format!("Back-off pulling image \"{bad}\"")}}
    }]);
    let mut events = scheduled_events(4);
    events.extend([
        event("Pulling", "Normal", &format!("Pulling image \"{bad}\""), 4, 3),
        event("Failed", "Warning", &format!("Failed to pull image \"{bad}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{bad}\": failed to resolve reference \"{bad}\": unexpected status from HEAD request: 401 UNAUTHORIZED"), 3, 3),
        event("Failed", "Warning", "Error: ErrImagePull", 3, 3),
        event("BackOff", "Normal", &format!("Back-off pulling image \"{bad}\""), 1, 9),
        event("Failed", "Warning", "Error: ImagePullBackOff", 1, 9),
    ]);
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "True")),
    )
}

fn unschedulable(mem: &str, cpu: &str, message: &str) -> Evidence {
    let mut v = pod_json(3, "Pending", None);
    // the profile (kubespawner_override node_selector) pins it to the small pool
    v["spec"]["nodeSelector"] = json!({"cloud.google.com/gke-nodepool": "user-small"});
    v["spec"]["containers"][0]["resources"] = json!({
        "requests": {"cpu": cpu, "memory": mem}, "limits": {"memory": mem}
    });
    v["status"]["conditions"] = json!([{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message
    }]);
    let events = vec![event("FailedScheduling", "Warning", message, 1, 4)];
    evidence(Some(pod(v)), events, None)
}

pub fn insufficient_memory() -> Evidence {
    unschedulable(
        "30Gi",
        "4",
        "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient memory. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
    )
}

/// 10Gi: more than a `user-small` node has free, less than a new one offers.
pub fn insufficient_memory_for_a_new_node() -> Evidence {
    unschedulable(
        "10Gi",
        "2",
        "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient memory. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
    )
}

pub fn insufficient_memory_larger_than_any_node() -> Evidence {
    unschedulable(
        "200Gi",
        "4",
        "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient memory. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
    )
}

pub fn insufficient_cpu() -> Evidence {
    unschedulable(
        "4Gi",
        "6",
        "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient cpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.",
    )
}

pub fn untolerated_taint() -> Evidence {
    unschedulable(
        "2Gi",
        "500m",
        "0/2 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    )
}

/// A container that exited `exit` with `reason` and is now backing off.
fn crashlooping(reason: &str, exit: i32, restarts: i32) -> Value {
    let mut v = pod_json(12, "Running", Some("gke-user-small-7f3a"));
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": restarts,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
            "message": format!("back-off 2m40s restarting failed container=notebook pod={POD}_hub-a(0c1f)")}},
        "lastState": {"terminated": {"reason": reason, "exitCode": exit,
            "startedAt": ago(3), "finishedAt": ago(3)}}
    }]);
    v
}

fn crash_events() -> Vec<Event> {
    let mut events = scheduled_events(12);
    events.extend([
        event(
            "Pulled",
            "Normal",
            &format!("Container image \"{IMAGE}\" already present on machine"),
            3,
            5,
        ),
        event("Created", "Normal", "Created container notebook", 3, 5),
        event("Started", "Normal", "Started container notebook", 3, 5),
        event(
            "BackOff",
            "Warning",
            "Back-off restarting failed container notebook in pod",
            1,
            20,
        ),
    ]);
    events
}

pub fn singleuser_not_found() -> Evidence {
    let mut ev = evidence(
        Some(pod(crashlooping("Error", 127, 5))),
        crash_events(),
        Some(node("gke-user-small-7f3a", "True")),
    );
    ev.previous_logs = vec![
        "Entered start.sh with args: jupyterhub-singleuser".into(),
        "Running hooks in: /usr/local/bin/start-notebook.d as uid: 1000 gid: 100".into(),
        "Done running hooks in: /usr/local/bin/start-notebook.d".into(),
        "Executing the command: jupyterhub-singleuser".into(),
        "/usr/local/bin/start.sh: line 249: exec: jupyterhub-singleuser: not found".into(),
    ];
    ev
}

pub fn singleuser_no_such_file() -> Evidence {
    let mut ev = singleuser_not_found();
    ev.previous_logs = vec![
        "Executing the command: jupyterhub-singleuser".into(),
        "/usr/local/bin/start.sh: /home/jovyan/.conda/envs/py39/bin/jupyterhub-singleuser: /home/jovyan/.conda/envs/py39/bin/python3.9: bad interpreter: No such file or directory".into(),
    ];
    ev
}

pub fn disk_full() -> Evidence {
    let mut ev = evidence(
        Some(pod(crashlooping("Error", 1, 3))),
        crash_events(),
        Some(node("gke-user-small-7f3a", "True")),
    );
    ev.previous_logs = vec![
        "[I 2026-11-23 07:57:01.112 ServerApp] Extension package jupyter_lsp took 0.1s to import".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/opt/conda/lib/python3.11/site-packages/jupyter_server/serverapp.py\", line 2822, in write_server_info_file".into(),
        "    with secure_write(self.info_file) as f:".into(),
        "OSError: [Errno 28] No space left on device: '/home/jovyan/.local/share/jupyter/runtime/jpserver-7.json'".into(),
    ];
    ev
}

pub fn oom_killed() -> Evidence {
    let mut v = pod_json(95, "Running", Some("gke-user-small-7f3a"));
    v["status"]["conditions"] = ready_conditions(true);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": true, "restartCount": 1,
        "state": {"running": {"startedAt": ago(6)}},
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
            "startedAt": ago(95), "finishedAt": ago(6)}}
    }]);
    let mut ev = evidence(
        Some(pod(v)),
        scheduled_events(95),
        Some(node("gke-user-small-7f3a", "True")),
    );
    ev.logs =
        vec!["[I 2026-11-23 07:54:10.001 ServerApp] Jupyter Server 2.14.0 is running at:".into()];
    ev
}

pub fn spawn_timeout() -> Evidence {
    let mut v = pod_json(8, "Pending", Some("gke-user-small-9b21"));
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}}
    }]);
    let mut events = scheduled_events(8);
    events.push(event(
        "Pulling",
        "Normal",
        &format!("Pulling image \"{IMAGE}\""),
        8,
        1,
    ));
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-9b21", "True")),
    )
}

pub fn node_not_ready() -> Evidence {
    let mut v = pod_json(300, "Running", Some("gke-user-small-7f3a"));
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"running": {"startedAt": ago(300)}}
    }]);
    let mut events = scheduled_events(300);
    events.push(event("NodeNotReady", "Warning", "Node is not ready", 7, 1));
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "Unknown")),
    )
}

pub fn stuck_terminating() -> Evidence {
    let mut v = pod_json(600, "Running", Some("gke-user-small-7f3a"));
    v["metadata"]["deletionTimestamp"] = json!(ago(25));
    v["metadata"]["deletionGracePeriodSeconds"] = json!(1);
    v["metadata"]["finalizers"] = json!(["hub.example.org/home-backup"]);
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": ago(25)}}
    }]);
    let mut events = scheduled_events(600);
    events.push(event(
        "Killing",
        "Normal",
        "Stopping container notebook",
        25,
        1,
    ));
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn crashloop_unknown() -> Evidence {
    let mut ev = evidence(
        Some(pod(crashlooping("Error", 1, 4))),
        crash_events(),
        Some(node("gke-user-small-7f3a", "True")),
    );
    ev.previous_logs = vec![
        "Executing the command: jupyterhub-singleuser".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/opt/conda/bin/jupyterhub-singleuser\", line 6, in <module>".into(),
        "    from jupyterhub.singleuser import main".into(),
        "ImportError: cannot import name 'main' from 'jupyterhub.singleuser' (/home/jovyan/.local/lib/python3.11/site-packages/jupyterhub/singleuser/__init__.py)".into(),
    ];
    ev
}

pub fn healthy() -> Evidence {
    let mut v = pod_json(42, "Running", Some("gke-user-small-7f3a"));
    v["status"]["conditions"] = ready_conditions(true);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": ago(41)}}
    }]);
    let mut ev = evidence(
        Some(pod(v)),
        scheduled_events(42),
        Some(node("gke-user-small-7f3a", "True")),
    );
    ev.logs = vec![
        "[I 2026-11-23 07:19:02.551 ServerApp] Jupyter Server 2.14.0 is running at:".into(),
        "[I 2026-11-23 07:19:02.551 ServerApp] http://jupyter-alice-40example-2ecom:8888/user/alice@example.com/lab".into(),
    ];
    ev
}

pub fn evicted() -> Evidence {
    let msg = "The node was low on resource: ephemeral-storage. Threshold quantity: 10120387530, available: 9311628Ki. Container notebook was using 41943040Ki, request is 0, has larger consumption of ephemeral-storage. ";
    let mut v = pod_json(180, "Failed", Some("gke-user-small-7f3a"));
    v["status"]["reason"] = json!("Evicted");
    v["status"]["message"] = json!(msg);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"reason": "ContainerStatusUnknown", "exitCode": 137,
            "message": "The container could not be located when the pod was terminated",
            "finishedAt": ago(20)}}
    }]);
    let mut events = scheduled_events(180);
    events.push(event("Evicted", "Warning", msg, 20, 1));
    events.push(event(
        "Killing",
        "Normal",
        "Stopping container notebook",
        20,
        1,
    ));
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn absent() -> Evidence {
    evidence(None, vec![], None)
}

/// Every fixture: (name, the catalogue id expected as the top finding, evidence).
pub fn all() -> Vec<(&'static str, &'static str, Evidence)> {
    vec![
        ("image_pull", "image-pull", image_pull()),
        (
            "insufficient_memory",
            "insufficient-resources",
            insufficient_memory(),
        ),
        (
            "insufficient_memory_for_a_new_node",
            "insufficient-resources",
            insufficient_memory_for_a_new_node(),
        ),
        (
            "insufficient_memory_larger_than_any_node",
            "insufficient-resources",
            insufficient_memory_larger_than_any_node(),
        ),
        (
            "insufficient_cpu",
            "insufficient-resources",
            insufficient_cpu(),
        ),
        (
            "untolerated_taint",
            "untolerated-taint",
            untolerated_taint(),
        ),
        (
            "singleuser_not_found",
            "singleuser-not-found",
            singleuser_not_found(),
        ),
        (
            "singleuser_no_such_file",
            "singleuser-not-found",
            singleuser_no_such_file(),
        ),
        ("disk_full", "disk-full", disk_full()),
        ("oom_killed", "oom-killed", oom_killed()),
        ("spawn_timeout", "spawn-timeout", spawn_timeout()),
        ("node_not_ready", "node-not-ready", node_not_ready()),
        (
            "stuck_terminating",
            "stuck-terminating",
            stuck_terminating(),
        ),
        ("evicted", "evicted", evicted()),
        ("crashloop_unknown", "crashloop", crashloop_unknown()),
        ("healthy", "healthy", healthy()),
    ]
}
