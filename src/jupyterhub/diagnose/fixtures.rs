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
        hub_logs: vec![],
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

/// A Pending server whose events are `events` (after being scheduled).
fn pending_with(events: Vec<Event>, scheduled: bool) -> Evidence {
    let v = pod_json(6, "Pending", scheduled.then_some("gke-user-small-7f3a"));
    let mut all = if scheduled {
        scheduled_events(6)
    } else {
        vec![]
    };
    all.extend(events);
    evidence(
        Some(pod(v)),
        all,
        scheduled.then(|| node("gke-user-small-7f3a", "True")),
    )
}

/// A Pending server waiting on its image, with this `Failed` pull message.
fn pull_failure(message: &str) -> Evidence {
    let mut v = pod_json(5, "Pending", Some("gke-user-small-7f3a"));
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull", "message": message}}
    }]);
    let mut events = scheduled_events(5);
    events.extend([
        event(
            "Pulling",
            "Normal",
            &format!("Pulling image \"{IMAGE}\""),
            5,
            2,
        ),
        event("Failed", "Warning", message, 4, 2),
        event("Failed", "Warning", "Error: ErrImagePull", 4, 2),
    ]);
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn image_not_found() -> Evidence {
    pull_failure(&format!("Failed to pull image \"{IMAGE}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": {IMAGE}: not found"))
}

pub fn image_pull_rate_limit() -> Evidence {
    pull_failure("Failed to pull image \"jupyter/datascience-notebook:2024-05-27\": rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/jupyter/datascience-notebook:2024-05-27\": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/jupyter/datascience-notebook/manifests/sha256:1f2e: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit")
}

pub fn invalid_image_name() -> Evidence {
    let bad = "quay.io/jupyter/scipy-notebook:Latest Tag";
    let mut v = pod_json(2, "Pending", Some("gke-user-small-7f3a"));
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": bad, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "InvalidImageName",
            "message": format!("Failed to apply default image tag \"{bad}\": couldn't parse image reference")}}
    }]);
    evidence(
        Some(pod(v)),
        scheduled_events(2),
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn pool_at_max_size() -> Evidence {
    let mut ev = unschedulable("2Gi", "500m", "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.");
    ev.events.push(event("NotTriggerScaleUp", "Normal", "pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) didn't match Pod's node affinity/selector", 1, 12));
    ev
}

/// Insufficient memory, no autoscaler status read, but its events say the
/// pool is at its maximum size.
pub fn insufficient_memory_at_max_by_events() -> Evidence {
    let mut ev = unschedulable("12Gi", "500m", "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient memory. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.");
    ev.events.push(event("NotTriggerScaleUp", "Normal", "pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) didn't match Pod's node affinity/selector", 1, 12));
    ev
}

pub fn node_affinity() -> Evidence {
    let mut ev = unschedulable("2Gi", "500m", "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.");
    ev.pools.retain(|p| p.name != "user-small");
    ev
}

pub fn autoscaler_no_fit() -> Evidence {
    let mut ev = unschedulable("2Gi", "500m", "0/5 nodes are available: 2 node(s) had untolerated taint {hub.jupyter.org/dedicated: core}, 3 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.");
    ev.events.push(event("NotTriggerScaleUp", "Normal", "pod didn't trigger scale-up: 3 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector", 1, 5));
    ev
}

pub fn pvc_storage_quota() -> Evidence {
    let mut ev = pending_with(vec![event("FailedScheduling", "Warning", "0/5 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.", 2, 3)], false);
    ev.hub_logs = vec!["[E 2026-11-23 07:58:01.120 JupyterHub user:1012] Unhandled error starting alice@example.com's server: (403) Reason: Forbidden HTTP response body: {\"kind\":\"Status\",\"message\":\"persistentvolumeclaims \\\"claim-alice-40example-2ecom\\\" is forbidden: exceeded quota: storage-quota, requested: requests.storage=10Gi, used: requests.storage=500Gi, limited: requests.storage=500Gi\"}".into()];
    ev
}

pub fn pvc_provisioning() -> Evidence {
    let mut ev = pending_with(vec![event("FailedScheduling", "Warning", "0/5 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.", 2, 3)], false);
    let mut claim_event = event(
        "ProvisioningFailed",
        "Warning",
        "storageclass.storage.k8s.io \"standard-rwo\" not found",
        2,
        4,
    );
    claim_event.involved_object.kind = Some("PersistentVolumeClaim".into());
    claim_event.involved_object.name = Some("claim-alice-40example-2ecom".into());
    ev.events.push(claim_event);
    ev
}

pub fn resource_quota() -> Evidence {
    let mut ev = evidence(None, vec![], None);
    ev.hub_logs = vec![
        "[I 2026-11-23 07:59:58.002 JupyterHub spawner:2713] Attempting to create pod jupyter-alice-40example-2ecom, with timeout 3".into(),
        "[E 2026-11-23 07:59:58.120 JupyterHub spawner:2801] Error creating pod jupyter-alice-40example-2ecom: (403) Reason: Forbidden HTTP response body: {\"message\":\"pods \\\"jupyter-alice-40example-2ecom\\\" is forbidden: exceeded quota: user-quota, requested: limits.memory=4Gi, used: limits.memory=62Gi, limited: limits.memory=64Gi\",\"reason\":\"Forbidden\",\"code\":403}".into(),
    ];
    ev
}

pub fn limit_range() -> Evidence {
    let mut ev = evidence(None, vec![], None);
    ev.hub_logs = vec!["[E 2026-11-23 07:59:58.120 JupyterHub spawner:2801] Error creating pod jupyter-alice-40example-2ecom: (403) Reason: Forbidden HTTP response body: {\"message\":\"pods \\\"jupyter-alice-40example-2ecom\\\" is forbidden: maximum memory usage per Container is 8Gi, but limit is 16Gi\"}".into()];
    ev
}

pub fn volume_multi_attach() -> Evidence {
    pending_with(vec![
        event("FailedAttachVolume", "Warning", "Multi-Attach error for volume \"pvc-4b1e0c7a-2d\" Volume is already exclusively attached to one node and can't be attached to another", 5, 3),
        event("FailedMount", "Warning", "Unable to attach or mount volumes: unmounted volumes=[volume-alice-40example-2ecom], unattached volumes=[volume-alice-40example-2ecom]: timed out waiting for the condition", 3, 2),
    ], true)
}

pub fn volume_attach_failed() -> Evidence {
    pending_with(vec![event("FailedAttachVolume", "Warning", "AttachVolume.Attach failed for volume \"pvc-4b1e0c7a-2d\" : rpc error: code = Internal desc = Failed to Attach: googleapi: Error 400: RESOURCE_IN_USE_BY_ANOTHER_RESOURCE - The disk resource is already being used", 4, 3)], true)
}

pub fn mount_missing_secret() -> Evidence {
    pending_with(vec![event("FailedMount", "Warning", "MountVolume.SetUp failed for volume \"gcs-credentials\" : secret \"gcs-credentials\" not found", 4, 6)], true)
}

pub fn mount_missing_configmap() -> Evidence {
    pending_with(vec![event("FailedMount", "Warning", "MountVolume.SetUp failed for volume \"startup\" : configmap \"user-startup\" not found", 4, 6)], true)
}

pub fn mount_nfs_timeout() -> Evidence {
    pending_with(vec![event("FailedMount", "Warning", "MountVolume.SetUp failed for volume \"home-nfs\" : mount failed: exit status 32\nMounting command: mount\nMounting arguments: -t nfs 10.0.0.2:/export/home /var/lib/kubelet/pods/9f/volumes/kubernetes.io~nfs/home-nfs\nOutput: mount.nfs: Connection timed out", 2, 4)], true)
}

pub fn volume_mount_timeout() -> Evidence {
    pending_with(vec![event("FailedMount", "Warning", "Unable to attach or mount volumes: unmounted volumes=[home], unattached volumes=[home kube-api-access-x]: timed out waiting for the condition", 2, 3)], true)
}

pub fn init_container_failed() -> Evidence {
    let mut v = pod_json(9, "Pending", Some("gke-user-small-7f3a"));
    v["status"]["initContainerStatuses"] = json!([{
        "name": "fix-home-permissions", "image": "busybox:1.36", "imageID": "", "ready": false, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": ago(1)}}
    }]);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "PodInitializing"}}
    }]);
    evidence(
        Some(pod(v)),
        scheduled_events(9),
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn probe_failing() -> Evidence {
    let mut v = pod_json(12, "Running", Some("gke-user-small-7f3a"));
    v["status"]["conditions"] = ready_conditions(false);
    v["status"]["containerStatuses"] = json!([{
        "name": "notebook", "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
        "state": {"running": {"startedAt": ago(11)}}
    }]);
    let mut events = scheduled_events(12);
    events.push(event("Unhealthy", "Warning", "Readiness probe failed: Get \"http://10.8.2.14:8888/user/alice@example.com/api\": dial tcp 10.8.2.14:8888: connect: connection refused", 1, 60));
    evidence(
        Some(pod(v)),
        events,
        Some(node("gke-user-small-7f3a", "True")),
    )
}

pub fn singleuser_version_mismatch() -> Evidence {
    let mut ev = healthy();
    ev.logs.push("[W 2026-11-23 07:19:03.002 JupyterHubSingleUser] jupyterhub version 5.2.1 != jupyterhub-singleuser version 1.4.2. This could cause failure to authenticate and result in redirect loops!".into());
    ev
}

pub fn server_never_responded() -> Evidence {
    let mut ev = probe_failing();
    ev.events
        .retain(|e| e.reason.as_deref() != Some("Unhealthy"));
    ev.hub_logs = vec!["[W 2026-11-23 07:59:40.880 JupyterHub base:1093] User alice@example.com is slow to become responsive (timeout=30)".into(), "[E 2026-11-23 07:59:50.101 JupyterHub gen:630] Exception in Future <Task finished name='Task-1021' coro=<BaseHandler.spawn_single_user.<locals>.finish_user_spawn() done> exception=TimeoutError(\"Server at http://10.8.2.14:8888/user/alice@example.com/ didn't respond in 30 seconds\")>".into(), "[W 2026-11-23 07:59:50.104 JupyterHub user:1012] alice@example.com's server never showed up at http://10.8.2.14:8888/user/alice@example.com/ after 30 seconds. Giving up.".into()];
    ev
}

pub fn hub_spawn_timeout() -> Evidence {
    let mut ev = pending_with(vec![], true);
    ev.hub_logs = vec!["[W 2026-11-23 07:59:30.000 JupyterHub user:881] alice@example.com's server failed to start in 300 seconds, giving up.".into()];
    ev
}

pub fn node_shutdown() -> Evidence {
    let msg = "Pod was terminated in response to imminent node shutdown.";
    let mut v = pod_json(300, "Failed", Some("gke-user-small-7f3a"));
    v["status"]["reason"] = json!("Terminated");
    v["status"]["message"] = json!(msg);
    evidence(Some(pod(v)), scheduled_events(300), None)
}

pub fn evicted_memory_pressure_pod_gone() -> Evidence {
    let msg = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 82128Ki. Container notebook was using 6192272Ki, request is 2Gi, has larger consumption of memory.";
    evidence(None, vec![event("Evicted", "Warning", msg, 30, 1)], None)
}

pub fn absent() -> Evidence {
    evidence(None, vec![], None)
}

/// Every fixture: (name, the catalogue id expected as the top finding, evidence).
pub fn all() -> Vec<(&'static str, &'static str, Evidence)> {
    vec![
        ("image_pull", "image-pull", image_pull()),
        ("image_not_found", "image-pull", image_not_found()),
        (
            "image_pull_rate_limit",
            "image-pull",
            image_pull_rate_limit(),
        ),
        ("invalid_image_name", "image-pull", invalid_image_name()),
        ("pool_at_max_size", "pool-at-max-size", pool_at_max_size()),
        ("node_affinity", "node-affinity", node_affinity()),
        (
            "insufficient_memory_at_max_by_events",
            "insufficient-resources",
            insufficient_memory_at_max_by_events(),
        ),
        (
            "autoscaler_no_fit",
            "autoscaler-no-fit",
            autoscaler_no_fit(),
        ),
        (
            "pvc_storage_quota",
            "pvc-storage-quota",
            pvc_storage_quota(),
        ),
        ("pvc_provisioning", "pvc-provisioning", pvc_provisioning()),
        ("resource_quota", "resource-quota", resource_quota()),
        ("limit_range", "limit-range", limit_range()),
        (
            "volume_multi_attach",
            "volume-multi-attach",
            volume_multi_attach(),
        ),
        (
            "volume_attach_failed",
            "volume-attach-failed",
            volume_attach_failed(),
        ),
        (
            "mount_missing_secret",
            "mount-missing-object",
            mount_missing_secret(),
        ),
        (
            "mount_missing_configmap",
            "mount-missing-object",
            mount_missing_configmap(),
        ),
        ("mount_nfs_timeout", "mount-nfs", mount_nfs_timeout()),
        (
            "volume_mount_timeout",
            "volume-mount-timeout",
            volume_mount_timeout(),
        ),
        (
            "init_container_failed",
            "init-container-failed",
            init_container_failed(),
        ),
        ("probe_failing", "probe-failing", probe_failing()),
        (
            "singleuser_version_mismatch",
            "singleuser-version-mismatch",
            singleuser_version_mismatch(),
        ),
        (
            "server_never_responded",
            "server-never-responded",
            server_never_responded(),
        ),
        (
            "hub_spawn_timeout",
            "hub-spawn-timeout",
            hub_spawn_timeout(),
        ),
        ("node_shutdown", "node-shutdown", node_shutdown()),
        (
            "evicted_memory_pressure_pod_gone",
            "evicted",
            evicted_memory_pressure_pod_gone(),
        ),
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
