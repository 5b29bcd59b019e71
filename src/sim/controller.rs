//! The controllers a small cluster runs, reduced to what clients can see:
//! Deployments own ReplicaSets (one per pod template, named with its hash),
//! ReplicaSets, StatefulSets and DaemonSets own pods, pods land on
//! schedulable nodes that match their selector and tolerate their taints,
//! and new pods become Ready after the cluster's rollout delay. Status
//! fields are kept the way `kubectl rollout status` and kube's waiters read
//! them. Everything here runs under the store lock; readiness is flipped by
//! a delayed task.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::store::{now, Store};

/// Fill the defaults the API server fills on create, so clients that read
/// them (`kubectl rollout status` reads the update strategy) see them.
pub fn apply_defaults(obj: &mut Value) {
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    let spec = &mut obj["spec"];
    let set = |spec: &mut Value, key: &str, v: Value| {
        if spec.is_object() && spec.get(key).is_none() {
            spec[key] = v;
        }
    };
    match kind.as_str() {
        "Deployment" => {
            set(spec, "replicas", json!(1));
            set(spec, "strategy", json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } }));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
        }
        "StatefulSet" => {
            set(spec, "replicas", json!(1));
            set(spec, "updateStrategy", json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } }));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            set(spec, "revisionHistoryLimit", json!(10));
        }
        "DaemonSet" => {
            set(spec, "updateStrategy", json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1, "maxSurge": 0 } }));
            set(spec, "revisionHistoryLimit", json!(10));
        }
        "Pod" => {
            set(spec, "restartPolicy", json!("Always"));
            set(spec, "terminationGracePeriodSeconds", json!(30));
            set(spec, "dnsPolicy", json!("ClusterFirst"));
            set(spec, "schedulerName", json!("default-scheduler"));
        }
        _ => {}
    }
}

/// Pods created by a sync, to be marked ready after the rollout delay.
pub type Starting = Vec<(String, String)>;

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or_default()
}

fn uid(v: &Value) -> &str {
    s(v, &["metadata", "uid"])
}

fn owned_by<'a>(objs: &'a [Value], owner_uid: &str) -> Vec<&'a Value> {
    objs.iter()
        .filter(|o| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(owner_uid)))
        })
        .collect()
}

fn owner_ref(owner: &Value) -> Value {
    json!([{
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true
    }])
}

/// A short, stable, DNS-safe hash of a pod template (like pod-template-hash).
pub fn template_hash(template: &Value) -> String {
    let text = serde_json::to_string(template).unwrap_or_default();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5).map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char).collect()
}

fn replicas(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        && pod["metadata"]["deletionTimestamp"].is_null()
}

/// Record a Normal event about `obj`.
pub fn event(store: &mut Store, obj: &Value, reason: &str, message: &str, component: &str) {
    let ns = s(obj, &["metadata", "namespace"]);
    let ns = if ns.is_empty() { "default" } else { ns };
    let t = now();
    let ev = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{}.{:x}", s(obj, &["metadata", "name"]), rand::random::<u64>()), "namespace": ns },
        "involvedObject": {
            "apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"], "uid": obj["metadata"]["uid"]
        },
        "reason": reason, "message": message, "type": "Normal", "count": 1,
        "firstTimestamp": t, "lastTimestamp": t,
        "source": { "component": component }, "reportingComponent": component, "reportingInstance": ""
    });
    let _ = store.create("events", "", ev);
}

/// Pick a node for a pod spec: schedulable, Ready, matching nodeSelector,
/// tolerating NoSchedule taints. Spread by name.
fn schedule(nodes: &[Value], spec: &Value, name: &str) -> Option<String> {
    let selector = spec["nodeSelector"].as_object();
    let tolerations = spec["tolerations"].as_array().cloned().unwrap_or_default();
    let fits: Vec<&Value> = nodes
        .iter()
        .filter(|n| n["spec"]["unschedulable"] != json!(true))
        .filter(|n| {
            n["status"]["conditions"]
                .as_array()
                .is_none_or(|c| c.iter().all(|c| c["type"] != "Ready" || c["status"] == "True"))
        })
        .filter(|n| selector.is_none_or(|sel| sel.iter().all(|(k, v)| n["metadata"]["labels"][k] == *v)))
        .filter(|n| {
            n["spec"]["taints"].as_array().is_none_or(|taints| {
                taints.iter().filter(|t| t["effect"] == "NoSchedule").all(|t| {
                    tolerations.iter().any(|tol| {
                        tol["operator"] == "Exists" && (tol["key"].is_null() || tol["key"] == t["key"])
                            || (tol["key"] == t["key"] && tol["value"] == t["value"])
                    })
                })
            })
        })
        .collect();
    if fits.is_empty() {
        return None;
    }
    let h = name.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    fits[h % fits.len()]["metadata"]["name"].as_str().map(str::to_string)
}

/// A pod from a template.
fn pod_from(template: &Value, ns: &str, name: &str, extra_labels: &Value, owner: &Value, node: Option<String>, ready: bool) -> Value {
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    if let (Some(l), Some(extra)) = (labels.as_object_mut(), extra_labels.as_object()) {
        for (k, v) in extra {
            l.insert(k.clone(), v.clone());
        }
    }
    let mut spec = template["spec"].clone();
    if let Some(n) = &node {
        spec["nodeName"] = json!(n);
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "labels": labels,
            "ownerReferences": owner_ref(owner)
        },
        "spec": spec,
    });
    if let Some(a) = template["metadata"]["annotations"].as_object() {
        pod["metadata"]["annotations"] = json!(a);
    }
    if ready {
        // Settled at startup: as old as its owner, like a long-running cluster.
        if let Some(t) = owner["metadata"]["creationTimestamp"].as_str() {
            pod["metadata"]["creationTimestamp"] = json!(t);
        }
    }
    pod["status"] = if node.is_none() {
        json!({ "phase": "Pending", "qosClass": "Burstable", "conditions": [
            { "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": now(),
              "message": "0/0 nodes are available: no node matches the pod's node selector and tolerations." } ] })
    } else if ready {
        running_status(&pod)
    } else {
        creating_status(&pod)
    };
    pod
}

fn containers(pod: &Value) -> Vec<Value> {
    pod["spec"]["containers"].as_array().cloned().unwrap_or_default()
}

fn creating_status(pod: &Value) -> Value {
    let statuses: Vec<Value> = containers(pod)
        .iter()
        .map(|c| json!({ "name": c["name"], "image": c["image"], "imageID": "", "ready": false, "started": false,
                          "restartCount": 0, "state": { "waiting": { "reason": "ContainerCreating" } } }))
        .collect();
    json!({
        "phase": "Pending", "qosClass": "Burstable", "startTime": now(), "hostIP": "10.0.0.10",
        "conditions": [
            { "type": "PodScheduled", "status": "True", "lastTransitionTime": now() },
            { "type": "Initialized", "status": "True", "lastTransitionTime": now() },
            { "type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now() },
            { "type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now() }
        ],
        "containerStatuses": statuses
    })
}

/// The status of a pod whose containers all run.
pub fn running_status(pod: &Value) -> Value {
    let t = pod["metadata"]["creationTimestamp"].as_str().map(str::to_string).unwrap_or_else(now);
    let statuses: Vec<Value> = containers(pod)
        .iter()
        .map(|c| json!({
            "name": c["name"], "image": c["image"],
            "imageID": format!("{}@sha256:{}", c["image"].as_str().unwrap_or_default().split(':').next().unwrap_or_default(), hex::encode(rand::random::<[u8; 32]>())),
            "containerID": format!("containerd://{}", hex::encode(rand::random::<[u8; 32]>())),
            "ready": true, "started": true, "restartCount": 0, "state": { "running": { "startedAt": t } }
        }))
        .collect();
    let ip = format!("10.{}.{}.{}", 100 + rand::random::<u8>() % 100, rand::random::<u8>(), 1 + rand::random::<u8>() % 250);
    json!({
        "phase": "Running", "qosClass": "Burstable", "startTime": t, "hostIP": "10.0.0.10", "podIP": ip, "podIPs": [{ "ip": ip }],
        "conditions": [
            { "type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": t },
            { "type": "Initialized", "status": "True", "lastTransitionTime": t },
            { "type": "Ready", "status": "True", "lastTransitionTime": t },
            { "type": "ContainersReady", "status": "True", "lastTransitionTime": t },
            { "type": "PodScheduled", "status": "True", "lastTransitionTime": t }
        ],
        "containerStatuses": statuses
    })
}

fn set_status(store: &mut Store, resource: &str, obj: &Value, status: Value) {
    if obj["status"] == status {
        return;
    }
    let mut next = obj.clone();
    next["status"] = status;
    let _ = store.update(resource, "apps", next, None);
}

/// Bring every workload in line with its spec. `instant` makes new pods
/// Ready at once (at startup); otherwise they are returned in `Starting`.
pub fn sync(store: &mut Store, instant: bool) -> Starting {
    let mut starting = Vec::new();
    let nodes = store.list("nodes", None);
    for d in store.list("deployments", None) {
        sync_deployment(store, &d, &nodes, instant, &mut starting);
    }
    for rs in store.list("replicasets", None) {
        sync_replicaset(store, &rs, &nodes, instant, &mut starting);
    }
    for sts in store.list("statefulsets", None) {
        sync_statefulset(store, &sts, &nodes, instant, &mut starting);
    }
    for ds in store.list("daemonsets", None) {
        sync_daemonset(store, &ds, &nodes, instant, &mut starting);
    }
    for d in store.list("deployments", None) {
        deployment_status(store, &d);
    }
    starting
}

fn sync_deployment(store: &mut Store, d: &Value, _nodes: &[Value], _instant: bool, _starting: &mut Starting) {
    let ns = s(d, &["metadata", "namespace"]).to_string();
    let name = s(d, &["metadata", "name"]).to_string();
    let template = &d["spec"]["template"];
    let hash = template_hash(template);
    let rs_name = format!("{name}-{hash}");
    let all_rs = store.list("replicasets", Some(&ns));
    let owned: Vec<Value> = owned_by(&all_rs, uid(d)).into_iter().cloned().collect();
    let mut revision = 1;
    for old in &owned {
        let r: i64 = old["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().and_then(|x| x.parse().ok()).unwrap_or(1);
        revision = revision.max(r);
        if s(old, &["metadata", "name"]) != rs_name && replicas(old) != 0 {
            let mut scaled = old.clone();
            scaled["spec"]["replicas"] = json!(0);
            let _ = store.update("replicasets", "apps", scaled, None);
            event(store, d, "ScalingReplicaSet", &format!("Scaled down replica set {} from {} to 0", s(old, &["metadata", "name"]), replicas(old)), "deployment-controller");
        }
    }
    match store.get("replicasets", &ns, &rs_name).cloned() {
        Some(rs) => {
            if replicas(&rs) != replicas(d) {
                let mut next = rs.clone();
                next["spec"]["replicas"] = json!(replicas(d));
                let _ = store.update("replicasets", "apps", next, None);
                event(store, d, "ScalingReplicaSet", &format!("Scaled replica set {rs_name} to {}", replicas(d)), "deployment-controller");
            }
        }
        None => {
            let revision = if owned.is_empty() { 1 } else { revision + 1 };
            let mut labels = template["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let mut selector = d["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut tpl = template.clone();
            tpl["metadata"]["labels"] = labels.clone();
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": { "name": rs_name, "namespace": ns, "labels": labels,
                              "annotations": { "deployment.kubernetes.io/revision": revision.to_string(),
                                               "deployment.kubernetes.io/desired-replicas": replicas(d).to_string() },
                              "ownerReferences": owner_ref(d) },
                "spec": { "replicas": replicas(d), "selector": selector, "template": tpl },
                "status": { "replicas": 0 }
            });
            let mut rs = rs;
            if owned.is_empty() {
                rs["metadata"]["creationTimestamp"] = d["metadata"]["creationTimestamp"].clone();
            }
            let _ = store.create("replicasets", "apps", rs);
            event(store, d, "ScalingReplicaSet", &format!("Scaled up replica set {rs_name} to {}", replicas(d)), "deployment-controller");
        }
    }
}

fn sync_replicaset(store: &mut Store, rs: &Value, nodes: &[Value], instant: bool, starting: &mut Starting) {
    let ns = s(rs, &["metadata", "namespace"]).to_string();
    let name = s(rs, &["metadata", "name"]).to_string();
    let pods = store.list("pods", Some(&ns));
    let mine: Vec<Value> = owned_by(&pods, uid(rs)).into_iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).cloned().collect();
    let want = replicas(rs) as usize;
    let hash = rs["metadata"]["labels"]["pod-template-hash"].clone();
    for _ in mine.len()..want {
        let pod_name = format!("{name}-{}", suffix());
        let node = schedule(nodes, &rs["spec"]["template"]["spec"], &pod_name);
        let pod = pod_from(&rs["spec"]["template"], &ns, &pod_name, &json!({ "pod-template-hash": hash }), rs, node.clone(), instant);
        if store.create("pods", "", pod).is_ok() {
            event(store, rs, "SuccessfulCreate", &format!("Created pod: {pod_name}"), "replicaset-controller");
            if node.is_some() && !instant {
                starting.push((ns.clone(), pod_name));
            }
        }
    }
    for extra in mine.iter().skip(want) {
        let pod_name = s(extra, &["metadata", "name"]).to_string();
        store.remove("pods", &ns, &pod_name);
        event(store, rs, "SuccessfulDelete", &format!("Deleted pod: {pod_name}"), "replicaset-controller");
    }
    let pods = store.list("pods", Some(&ns));
    let mine = owned_by(&pods, uid(rs));
    let ready = mine.iter().filter(|p| is_ready(p)).count();
    let status = json!({
        "replicas": mine.len(), "fullyLabeledReplicas": mine.len(), "readyReplicas": ready, "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"]
    });
    if let Some(current) = store.get("replicasets", &ns, &name).cloned() {
        set_status(store, "replicasets", &current, status);
    }
}

fn deployment_status(store: &mut Store, d: &Value) {
    let ns = s(d, &["metadata", "namespace"]).to_string();
    let name = s(d, &["metadata", "name"]).to_string();
    let Some(d) = store.get("deployments", &ns, &name).cloned() else { return };
    let hash = template_hash(&d["spec"]["template"]);
    let current_rs = format!("{name}-{hash}");
    let all_rs = store.list("replicasets", Some(&ns));
    let pods = store.list("pods", Some(&ns));
    let (mut total, mut updated, mut ready) = (0, 0, 0);
    for rs in owned_by(&all_rs, uid(&d)) {
        let rs_pods = owned_by(&pods, uid(rs));
        total += rs_pods.len();
        ready += rs_pods.iter().filter(|p| is_ready(p)).count();
        if s(rs, &["metadata", "name"]) == current_rs {
            updated += rs_pods.len();
        }
    }
    let want = replicas(&d) as usize;
    let t = now();
    let done = updated == want && ready == want && total == want;
    let keep_time = |kind: &str, status: &str| -> String {
        d["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == kind && c["status"] == status))
            .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
            .unwrap_or_else(|| t.clone())
    };
    let available = if ready >= want { "True" } else { "False" };
    let mut status = json!({
        "observedGeneration": d["metadata"]["generation"],
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
        "conditions": [
            { "type": "Available", "status": available,
              "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
              "message": if available == "True" { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
              "lastUpdateTime": keep_time("Available", available), "lastTransitionTime": keep_time("Available", available) },
            { "type": "Progressing", "status": "True",
              "reason": if done { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
              "message": if done { format!("ReplicaSet \"{current_rs}\" has successfully progressed.") } else { format!("ReplicaSet \"{current_rs}\" is progressing.") },
              "lastUpdateTime": keep_time("Progressing", "True"), "lastTransitionTime": keep_time("Progressing", "True") }
        ]
    });
    if total > ready {
        status["unavailableReplicas"] = json!(total - ready);
    }
    if d["status"] != status {
        let mut next = d.clone();
        next["status"] = status;
        let _ = store.update("deployments", "apps", next, None);
    }
}

fn sync_statefulset(store: &mut Store, sts: &Value, nodes: &[Value], instant: bool, starting: &mut Starting) {
    let ns = s(sts, &["metadata", "namespace"]).to_string();
    let name = s(sts, &["metadata", "name"]).to_string();
    let revision = format!("{name}-{}", template_hash(&sts["spec"]["template"]));
    let want = replicas(sts) as usize;
    let pods = store.list("pods", Some(&ns));
    let mine: Vec<Value> = owned_by(&pods, uid(sts)).into_iter().cloned().collect();
    for p in &mine {
        let idx: Option<usize> = s(p, &["metadata", "name"]).rsplit('-').next().and_then(|i| i.parse().ok());
        let stale = p["metadata"]["labels"]["controller-revision-hash"].as_str() != Some(&revision);
        if idx.is_none_or(|i| i >= want) || stale {
            store.remove("pods", &ns, s(p, &["metadata", "name"]));
        }
    }
    for i in 0..want {
        let pod_name = format!("{name}-{i}");
        if store.get("pods", &ns, &pod_name).is_some() {
            continue;
        }
        let node = schedule(nodes, &sts["spec"]["template"]["spec"], &pod_name);
        let extra = json!({ "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": i.to_string() });
        let pod = pod_from(&sts["spec"]["template"], &ns, &pod_name, &extra, sts, node.clone(), instant);
        if store.create("pods", "", pod).is_ok() {
            event(store, sts, "SuccessfulCreate", &format!("create Pod {pod_name} in StatefulSet {name} successful"), "statefulset-controller");
            if node.is_some() && !instant {
                starting.push((ns.clone(), pod_name));
            }
        }
    }
    let pods = store.list("pods", Some(&ns));
    let mine = owned_by(&pods, uid(sts));
    let ready = mine.iter().filter(|p| is_ready(p)).count();
    let current = if ready == want { revision.clone() } else { sts["status"]["currentRevision"].as_str().unwrap_or(&revision).to_string() };
    let status = json!({
        "observedGeneration": sts["metadata"]["generation"], "replicas": mine.len(), "readyReplicas": ready,
        "currentReplicas": mine.len(), "updatedReplicas": mine.len(), "availableReplicas": ready,
        "currentRevision": current, "updateRevision": revision, "collisionCount": 0
    });
    if let Some(cur) = store.get("statefulsets", &ns, &name).cloned() {
        set_status(store, "statefulsets", &cur, status);
    }
}

fn sync_daemonset(store: &mut Store, ds: &Value, nodes: &[Value], instant: bool, starting: &mut Starting) {
    let ns = s(ds, &["metadata", "namespace"]).to_string();
    let name = s(ds, &["metadata", "name"]).to_string();
    let pods = store.list("pods", Some(&ns));
    let mine: Vec<Value> = owned_by(&pods, uid(ds)).into_iter().cloned().collect();
    let covered: BTreeSet<String> = mine.iter().map(|p| s(p, &["spec", "nodeName"]).to_string()).collect();
    let mut spec = ds["spec"]["template"]["spec"].clone();
    spec["tolerations"] = json!([{ "operator": "Exists" }]);
    let targets: Vec<String> = nodes
        .iter()
        .filter(|n| schedule(std::slice::from_ref(n), &spec, "x").is_some() || n["spec"]["unschedulable"] == json!(true))
        .map(|n| s(n, &["metadata", "name"]).to_string())
        .collect();
    for node in &targets {
        if covered.contains(node) {
            continue;
        }
        let pod_name = format!("{name}-{}", suffix());
        let pod = pod_from(&ds["spec"]["template"], &ns, &pod_name, &json!({}), ds, Some(node.clone()), instant);
        if store.create("pods", "", pod).is_ok() && !instant {
            starting.push((ns.clone(), pod_name));
        }
    }
    let pods = store.list("pods", Some(&ns));
    let mine = owned_by(&pods, uid(ds));
    let ready = mine.iter().filter(|p| is_ready(p)).count();
    let status = json!({
        "observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": targets.len(),
        "currentNumberScheduled": mine.len(), "updatedNumberScheduled": mine.len(), "numberReady": ready,
        "numberAvailable": ready, "numberMisscheduled": 0
    });
    if let Some(cur) = store.get("daemonsets", &ns, &name).cloned() {
        set_status(store, "daemonsets", &cur, status);
    }
}

/// Flip pods that finished "starting" to Running/Ready.
pub fn mark_ready(store: &mut Store, pods: &Starting) {
    for (ns, name) in pods {
        if let Some(p) = store.get("pods", ns, name).cloned() {
            if p["status"]["phase"] == "Pending" && p["spec"]["nodeName"].is_string() {
                let mut next = p.clone();
                next["status"] = running_status(&p);
                let _ = store.update("pods", "", next, None);
                let container = p["spec"]["containers"][0]["name"].as_str().unwrap_or_default().to_string();
                event(store, &p, "Started", &format!("Started container {container}"), "kubelet");
            }
        }
    }
}
