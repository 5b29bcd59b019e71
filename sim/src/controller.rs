//! The controller loop: Deployments → ReplicaSets → Pods and StatefulSets →
//! ordinal Pods, with rollouts that become ready after the rollout delay,
//! status fields `kubectl rollout status` reads, and Events for what it does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use super::cluster::ClusterState;
use super::discovery::{self, ResourceDef};
use super::store::{now_ts, random_suffix};

/// Server-side defaulting of workload specs (what the apiserver fills in on create).
pub fn default_fields(def: &ResourceDef, obj: &mut Value) {
    if obj.is_object() && def.group.is_empty() && def.plural == "pods" {
        default_container_statuses(obj);
        return;
    }
    if !obj.is_object() || def.group != "apps" {
        return;
    }
    if obj.get("spec").is_none_or(|s| !s.is_object()) {
        return;
    }
    let spec = &mut obj["spec"];
    match def.plural {
        "deployments" => {
            if spec.get("replicas").is_none() {
                spec["replicas"] = json!(1);
            }
            if spec.get("strategy").is_none() {
                spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
            }
            for (k, v) in [
                ("revisionHistoryLimit", 10),
                ("progressDeadlineSeconds", 600),
            ] {
                if spec.get(k).is_none() {
                    spec[k] = json!(v);
                }
            }
        }
        "statefulsets" => {
            if spec.get("replicas").is_none() {
                spec["replicas"] = json!(1);
            }
            if spec.get("updateStrategy").is_none() {
                spec["updateStrategy"] =
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
            }
            if spec.get("podManagementPolicy").is_none() {
                spec["podManagementPolicy"] = json!("OrderedReady");
            }
        }
        _ => {}
    }
}

/// The fields of a container status that are required on the wire (what a
/// kubelet always writes): official clients refuse a status without them
/// (the Python `kubernetes` client raises on a missing `imageID`), so a seed
/// may leave them out and still be served as a real cluster serves it.
fn default_container_statuses(pod: &mut Value) {
    let images: Vec<(String, String)> = ["containers", "initContainers"]
        .iter()
        .flat_map(|k| pod["spec"][k].as_array().cloned().unwrap_or_default())
        .map(|c| (s(&c, "/name").to_string(), s(&c, "/image").to_string()))
        .collect();
    for key in ["containerStatuses", "initContainerStatuses"] {
        let Some(list) = pod
            .get_mut("status")
            .and_then(|st| st.get_mut(key))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in list.iter_mut().filter(|c| c.is_object()) {
            let name = s(c, "/name").to_string();
            if c.get("image").is_none() {
                let image = images
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, i)| i.clone())
                    .unwrap_or_default();
                c["image"] = json!(image);
            }
            if c.get("imageID").is_none() {
                c["imageID"] = json!("");
            }
            if c.get("ready").is_none() {
                c["ready"] = json!(false);
            }
            if c.get("restartCount").is_none() {
                c["restartCount"] = json!(0);
            }
        }
    }
}

fn res(plural: &str, group: &str) -> &'static ResourceDef {
    discovery::RESOURCES
        .iter()
        .find(|r| r.plural == plural && r.group == group)
        .expect("built-in resource")
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn owned_by(o: &Value, uid: &str) -> bool {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|r| r["uid"] == uid))
}

/// Whether some ownerReference of `o` is its controller.
fn has_controller(o: &Value) -> bool {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|r| r["controller"] == true))
}

fn terminating(o: &Value) -> bool {
    o.pointer("/metadata/deletionTimestamp").is_some()
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn template_hash(t: &Value) -> String {
    let d = Sha256::digest(serde_json::to_vec(t).unwrap_or_default());
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    d.iter()
        .take(10)
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

fn owner_ref(o: &Value) -> Value {
    json!({"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"], "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

/// The per-cluster controller; remembers when created pods become ready.
pub struct Controller {
    st: Arc<ClusterState>,
    ready_at: HashMap<String, Instant>,
    /// Last seen `spec.unschedulable` per node, to emit (un)cordon Events.
    cordoned: HashMap<String, bool>,
    /// At startup, seeded workloads come up Ready at once.
    initial: bool,
}

impl Controller {
    /// A controller for one cluster.
    pub fn new(st: Arc<ClusterState>) -> Self {
        Controller {
            st,
            ready_at: HashMap::new(),
            cordoned: HashMap::new(),
            initial: true,
        }
    }

    /// Reconcile until stable once (used at startup before serving).
    pub fn settle(&mut self) {
        for _ in 0..10 {
            let before = self.st.store.rv();
            self.reconcile();
            if self.st.store.rv() == before {
                break;
            }
        }
        self.initial = false;
    }

    /// Run until cancelled, reconciling on every change and while pods are pending readiness.
    pub async fn run(mut self, cancel: CancellationToken) {
        let changed = self.st.store.changed.clone();
        loop {
            self.reconcile();
            let wait = if self.ready_at.is_empty() {
                Duration::from_secs(5)
            } else {
                Duration::from_millis(50)
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The pods of `ns` with an owner (what every workload pass looks at);
    /// user servers, owned by nobody, are never copied.
    fn managed_pods(&self, ns: &str) -> Vec<Value> {
        self.st.store.list_where("pods", Some(ns), |p| {
            p.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
    }

    /// One pass over every workload.
    pub fn reconcile(&mut self) {
        self.mark_ready();
        self.node_events();
        self.schedule_pending();
        let (deps, _) = self.st.store.list("deployments", None);
        for d in deps {
            if !terminating(&d) {
                self.deployment(&d);
            }
        }
        let (rss, _) = self.st.store.list("replicasets", None);
        for rs in rss {
            if !terminating(&rs) {
                self.replicaset(&rs);
            }
        }
        let (stss, _) = self.st.store.list("statefulsets", None);
        for sts in stss {
            if !terminating(&sts) {
                self.statefulset(&sts);
            }
        }
    }

    fn mark_ready(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .ready_at
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.ready_at.remove(&key);
            let (ns, name) = key.split_once('/').unwrap_or(("", ""));
            if let Some(mut p) = self.st.store.get("pods", ns, name) {
                if terminating(&p) {
                    continue;
                }
                set_running(&mut p, now_ts());
                let _ = self.st.store.update(res("pods", ""), ns, name, p, false);
                self.event(
                    ns,
                    "Pod",
                    name,
                    "",
                    "Normal",
                    "Started",
                    "Started container",
                    "kubelet",
                );
            }
        }
    }

    fn unschedulable_message(&self) -> String {
        let (nodes, _) = self.st.store.list("nodes", None);
        let n = nodes.len();
        format!("0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector or were unschedulable. preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.")
    }

    /// Place controller-owned Pending pods once a matching node is schedulable again.
    fn schedule_pending(&mut self) {
        let pods = self.st.store.list_where("pods", None, |p| {
            has_controller(p) && p.pointer("/spec/nodeName").is_none()
        });
        for mut p in pods {
            let owned = p
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|r| r["controller"] == true));
            if !owned || terminating(&p) || p.pointer("/spec/nodeName").is_some() {
                continue;
            }
            let Some(node) = self.pick_node(&p["spec"]) else {
                continue;
            };
            let (ns, name) = (
                s(&p, "/metadata/namespace").to_string(),
                s(&p, "/metadata/name").to_string(),
            );
            p["spec"]["nodeName"] = json!(node);
            set_creating(&mut p, &node);
            if self
                .st
                .store
                .update(res("pods", ""), &ns, &name, p, false)
                .is_ok()
            {
                self.ready_at
                    .insert(format!("{ns}/{name}"), Instant::now() + self.st.delay());
                self.event(
                    &ns,
                    "Pod",
                    &name,
                    "",
                    "Normal",
                    "Scheduled",
                    &format!("Successfully assigned {ns}/{name} to {node}"),
                    "default-scheduler",
                );
            }
        }
    }

    fn node_events(&mut self) {
        let (nodes, _) = self.st.store.list("nodes", None);
        for n in nodes {
            let name = s(&n, "/metadata/name").to_string();
            let now = n.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
            let before = self.cordoned.insert(name.clone(), now);
            if before.is_some_and(|b| b != now) {
                let what = if now {
                    "NodeNotSchedulable"
                } else {
                    "NodeSchedulable"
                };
                let msg = format!("Node {name} status is now: {what}");
                self.event(
                    "default",
                    "Node",
                    &name,
                    s(&n, "/metadata/uid"),
                    "Normal",
                    what,
                    &msg,
                    "kubelet",
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        ns: &str,
        kind: &str,
        name: &str,
        uid: &str,
        ty: &str,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let now = now_ts();
        let ev = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{}", hex::encode(rand::random::<[u8; 8]>())), "namespace": ns},
            "involvedObject": {"kind": kind, "namespace": if kind == "Node" { "" } else { ns }, "name": name, "uid": uid, "apiVersion": if kind == "Pod" || kind == "Node" { "v1" } else { "apps/v1" }},
            "reason": reason, "message": message, "type": ty, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now, "source": {"component": component},
            "reportingComponent": component, "reportingInstance": "",
        });
        let _ = self.st.store.create(res("events", ""), ns, ev, false);
    }

    fn pick_node(&self, spec: &Value) -> Option<String> {
        let (nodes, _) = self.st.store.list("nodes", None);
        let sel = spec.get("nodeSelector").and_then(Value::as_object);
        let candidates: Vec<&Value> = nodes
            .iter()
            .filter(|n| n.pointer("/spec/unschedulable").and_then(Value::as_bool) != Some(true))
            .filter(|n| {
                n.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_none_or(|a| {
                        !a.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] != "True")
                    })
            })
            .filter(|n| {
                sel.is_none_or(|m| {
                    m.iter().all(|(k, v)| {
                        n.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v)
                    })
                })
            })
            .collect();
        // The pods on each candidate, counted without a copy of any name.
        let mut per_node: HashMap<String, usize> = candidates
            .iter()
            .map(|n| (s(n, "/metadata/name").to_string(), 0))
            .collect();
        self.st.store.for_each("pods", None, |p| {
            if let Some(n) = p.pointer("/spec/nodeName").and_then(Value::as_str) {
                if let Some(count) = per_node.get_mut(n) {
                    *count += 1;
                }
            }
        });
        per_node
            .into_iter()
            .map(|(n, c)| (c, n))
            .min()
            .map(|(_, n)| n)
    }

    fn create_pod(
        &mut self,
        ns: &str,
        name: &str,
        template: &Value,
        owner: &Value,
        extra_labels: &[(&str, String)],
    ) {
        let mut meta = template
            .get("metadata")
            .cloned()
            .unwrap_or_else(|| json!({}));
        meta["name"] = json!(name);
        if self.initial {
            // Seeded workloads have been running since their owner was created.
            meta["creationTimestamp"] = owner["metadata"]["creationTimestamp"].clone();
        }
        meta["namespace"] = json!(ns);
        meta["ownerReferences"] = json!([owner_ref(owner)]);
        if !meta["labels"].is_object() {
            meta["labels"] = json!({});
        }
        for (k, v) in extra_labels {
            meta["labels"][*k] = json!(v);
        }
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        for (k, v) in [
            ("restartPolicy", json!("Always")),
            ("dnsPolicy", json!("ClusterFirst")),
            ("schedulerName", json!("default-scheduler")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("serviceAccountName", json!("default")),
        ] {
            if spec.get(k).is_none() {
                spec[k] = v;
            }
        }
        let node = self.pick_node(&spec);
        let owner_kind = s(owner, "/kind").to_string();
        let owner_name = s(owner, "/metadata/name").to_string();
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": "Pending", "qosClass": "Burstable"}});
        match &node {
            Some(n) => {
                pod["spec"]["nodeName"] = json!(n);
                set_creating(&mut pod, n);
            }
            None => {
                pod["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": now_ts(),
                    "message": self.unschedulable_message()}]);
            }
        }
        let delay = if self.initial {
            Duration::ZERO
        } else {
            self.st.delay()
        };
        if node.is_some() && delay.is_zero() {
            let at = pod
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(now_ts);
            set_running(&mut pod, at);
        }
        if self
            .st
            .store
            .create(res("pods", ""), ns, pod, false)
            .is_ok()
        {
            let reason_msg = format!("Created pod: {name}");
            let comp = if owner_kind == "StatefulSet" {
                "statefulset-controller"
            } else {
                "replicaset-controller"
            };
            self.event(
                ns,
                &owner_kind,
                &owner_name,
                s(owner, "/metadata/uid"),
                "Normal",
                "SuccessfulCreate",
                &reason_msg,
                comp,
            );
            match node {
                Some(n) => {
                    self.event(
                        ns,
                        "Pod",
                        name,
                        "",
                        "Normal",
                        "Scheduled",
                        &format!("Successfully assigned {ns}/{name} to {n}"),
                        "default-scheduler",
                    );
                    if !delay.is_zero() {
                        self.ready_at
                            .insert(format!("{ns}/{name}"), Instant::now() + delay);
                    }
                }
                None => self.event(
                    ns,
                    "Pod",
                    name,
                    "",
                    "Warning",
                    "FailedScheduling",
                    &self.unschedulable_message(),
                    "default-scheduler",
                ),
            }
        }
    }

    fn delete_pod(&mut self, ns: &str, name: &str, owner: &Value) {
        if self
            .st
            .store
            .delete(res("pods", ""), ns, name, Some(30), false)
            .is_ok()
        {
            self.ready_at.remove(&format!("{ns}/{name}"));
            let comp = if s(owner, "/kind") == "StatefulSet" {
                "statefulset-controller"
            } else {
                "replicaset-controller"
            };
            self.event(
                ns,
                s(owner, "/kind"),
                s(owner, "/metadata/name"),
                s(owner, "/metadata/uid"),
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {name}"),
                comp,
            );
        }
    }

    fn replicaset(&mut self, rs: &Value) {
        let ns = s(rs, "/metadata/namespace").to_string();
        let uid = s(rs, "/metadata/uid").to_string();
        let want = rs
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        let pods = self.managed_pods(&ns);
        let mut mine: Vec<Value> = pods
            .into_iter()
            .filter(|p| owned_by(p, &uid) && !terminating(p))
            .collect();
        let hash = s(rs, "/metadata/labels/pod-template-hash").to_string();
        let rs_name = s(rs, "/metadata/name").to_string();
        if mine.len() < want {
            for _ in mine.len()..want {
                let name = format!("{rs_name}-{}", random_suffix(5));
                self.create_pod(
                    &ns,
                    &name,
                    &rs["spec"]["template"],
                    rs,
                    &[("pod-template-hash", hash.clone())],
                );
            }
        } else if mine.len() > want {
            mine.sort_by_key(|p| {
                (
                    pod_ready(p),
                    std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_string()),
                )
            });
            for p in mine.iter().take(mine.len() - want) {
                self.delete_pod(&ns, s(p, "/metadata/name"), rs);
            }
        }
        let pods = self.managed_pods(&ns);
        let mine: Vec<&Value> = pods
            .iter()
            .filter(|p| owned_by(p, &uid) && !terminating(p))
            .collect();
        let ready = mine.iter().filter(|p| pod_ready(p)).count();
        let status = json!({"replicas": mine.len(), "fullyLabeledReplicas": mine.len(), "readyReplicas": ready, "availableReplicas": ready,
            "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1))});
        self.set_status(res("replicasets", "apps"), &ns, rs, status);
    }

    fn set_status(&self, def: &ResourceDef, ns: &str, obj: &Value, mut status: Value) {
        if let Value::Object(m) = &mut status {
            m.retain(|_, v| v != &json!(0) && !v.is_null());
        }
        if obj.get("status") == Some(&status) {
            return;
        }
        let mut o = obj.clone();
        o["status"] = status;
        let _ = self
            .st
            .store
            .update(def, ns, s(obj, "/metadata/name"), o, false);
    }

    fn deployment(&mut self, d: &Value) {
        let ns = s(d, "/metadata/namespace").to_string();
        let uid = s(d, "/metadata/uid").to_string();
        let name = s(d, "/metadata/name").to_string();
        let want = d
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0);
        let recreate = s(d, "/spec/strategy/type") == "Recreate";
        let hash = template_hash(&d["spec"]["template"]);
        let (all_rs, _) = self.st.store.list("replicasets", Some(&ns));
        let owned: Vec<Value> = all_rs.into_iter().filter(|r| owned_by(r, &uid)).collect();
        let max_rev = owned
            .iter()
            .filter_map(|r| {
                s(
                    r,
                    "/metadata/annotations/deployment.kubernetes.io~1revision",
                )
                .parse::<i64>()
                .ok()
            })
            .max()
            .unwrap_or(0);
        let pods = self.managed_pods(&ns);
        let pods_of = |rs: &Value| -> Vec<&Value> {
            pods.iter()
                .filter(|p| owned_by(p, s(rs, "/metadata/uid")) && !terminating(p))
                .collect()
        };
        let new_rs = owned
            .iter()
            .find(|r| s(r, "/metadata/labels/pod-template-hash") == hash)
            .cloned();
        let old: Vec<&Value> = owned
            .iter()
            .filter(|r| s(r, "/metadata/labels/pod-template-hash") != hash)
            .collect();
        let old_pods: usize = old.iter().map(|r| pods_of(r).len()).sum();
        let new_target = if recreate && old_pods > 0 { 0 } else { want };
        let new_rs = match new_rs {
            Some(mut r) => {
                if r.pointer("/spec/replicas").and_then(Value::as_i64) != Some(new_target) {
                    let from = r
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    r["spec"]["replicas"] = json!(new_target);
                    if let Ok(u) = self.st.store.update(
                        res("replicasets", "apps"),
                        &ns,
                        s(&r, "/metadata/name"),
                        r.clone(),
                        false,
                    ) {
                        let verb = if new_target > from { "up" } else { "down" };
                        self.event(
                            &ns,
                            "Deployment",
                            &name,
                            &uid,
                            "Normal",
                            "ScalingReplicaSet",
                            &format!(
                                "Scaled {verb} replica set {} from {from} to {new_target}",
                                s(&u, "/metadata/name")
                            ),
                            "deployment-controller",
                        );
                        r = u;
                    }
                }
                r
            }
            None => {
                let mut template = d["spec"]["template"].clone();
                if !template["metadata"].is_object() {
                    template["metadata"] = json!({});
                }
                if !template["metadata"]["labels"].is_object() {
                    template["metadata"]["labels"] = json!({});
                }
                template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d["spec"]["selector"].clone();
                if !selector["matchLabels"].is_object() {
                    selector["matchLabels"] = json!({});
                }
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let mut labels = template["metadata"]["labels"].clone();
                labels["pod-template-hash"] = json!(hash);
                let rs_name = format!("{name}-{hash}");
                let rs = json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns, "labels": labels, "ownerReferences": [owner_ref(d)],
                        "creationTimestamp": if self.initial { d["metadata"]["creationTimestamp"].clone() } else { Value::Null },
                        "annotations": {"deployment.kubernetes.io/revision": (max_rev + 1).to_string(), "deployment.kubernetes.io/desired-replicas": want.to_string()}},
                    "spec": {"replicas": new_target, "selector": selector, "template": template},
                });
                match self
                    .st
                    .store
                    .create(res("replicasets", "apps"), &ns, rs, false)
                {
                    Ok(r) => {
                        if new_target > 0 {
                            self.event(
                                &ns,
                                "Deployment",
                                &name,
                                &uid,
                                "Normal",
                                "ScalingReplicaSet",
                                &format!("Scaled up replica set {rs_name} from 0 to {new_target}"),
                                "deployment-controller",
                            );
                        }
                        r
                    }
                    Err(_) => return,
                }
            }
        };
        let new_pods = pods_of(&new_rs);
        let new_ready = new_pods.iter().filter(|p| pod_ready(p)).count() as i64;
        for r in &old {
            let cur = r
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if cur > 0 && (recreate || new_ready >= want) {
                let mut r2 = (*r).clone();
                r2["spec"]["replicas"] = json!(0);
                if self
                    .st
                    .store
                    .update(
                        res("replicasets", "apps"),
                        &ns,
                        s(r, "/metadata/name"),
                        r2,
                        false,
                    )
                    .is_ok()
                {
                    self.event(
                        &ns,
                        "Deployment",
                        &name,
                        &uid,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!(
                            "Scaled down replica set {} from {cur} to 0",
                            s(r, "/metadata/name")
                        ),
                        "deployment-controller",
                    );
                }
            }
        }
        // Status from the pods as they are now.
        let pods = self.managed_pods(&ns);
        let mut total = 0;
        let mut ready = 0;
        for r in &owned {
            for p in pods
                .iter()
                .filter(|p| owned_by(p, s(r, "/metadata/uid")) && !terminating(p))
            {
                total += 1;
                if pod_ready(p) {
                    ready += 1;
                }
            }
        }
        if !owned
            .iter()
            .any(|r| r["metadata"]["uid"] == new_rs["metadata"]["uid"])
        {
            total += new_pods.len() as i64;
        }
        let updated = pods
            .iter()
            .filter(|p| owned_by(p, s(&new_rs, "/metadata/uid")) && !terminating(p))
            .count() as i64;
        let complete = updated == want && total == want && ready >= want;
        let rs_name = s(&new_rs, "/metadata/name");
        let old_conds = d
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cond = |ty: &str, status: &str, reason: &str, msg: String| {
            let prev = old_conds.iter().find(|c| c["type"] == ty);
            let same = prev.is_some_and(|c| c["status"] == status && c["reason"] == reason);
            let ts = if same {
                prev.map(|c| c["lastTransitionTime"].clone())
                    .unwrap_or(json!(now_ts()))
            } else {
                json!(now_ts())
            };
            let upd = if same {
                prev.map(|c| c["lastUpdateTime"].clone())
                    .unwrap_or(json!(now_ts()))
            } else {
                json!(now_ts())
            };
            json!({"type": ty, "status": status, "reason": reason, "message": msg, "lastTransitionTime": ts, "lastUpdateTime": upd})
        };
        let available = if ready >= want {
            cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let progressing = if complete {
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else {
            cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        let mut status = json!({
            "observedGeneration": d.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
            "unavailableReplicas": (total - ready).max(0),
            "conditions": [available, progressing],
        });
        if want == 0 && total == 0 {
            status["replicas"] = json!(0);
        }
        self.set_status(res("deployments", "apps"), &ns, d, status);
        // Keep the revision annotation in step with the new ReplicaSet.
        let rev = s(
            &new_rs,
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        )
        .to_string();
        if let Some(cur) = self.st.store.get("deployments", &ns, &name) {
            if s(
                &cur,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            ) != rev
                && !rev.is_empty()
            {
                let mut c = cur.clone();
                if !c["metadata"]["annotations"].is_object() {
                    c["metadata"]["annotations"] = json!({});
                }
                c["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!(rev);
                let _ = self
                    .st
                    .store
                    .update(res("deployments", "apps"), &ns, &name, c, false);
            }
        }
    }

    fn statefulset(&mut self, sts: &Value) {
        let ns = s(sts, "/metadata/namespace").to_string();
        let uid = s(sts, "/metadata/uid").to_string();
        let name = s(sts, "/metadata/name").to_string();
        let want = sts
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(0) as usize;
        let revision = format!("{name}-{}", template_hash(&sts["spec"]["template"]));
        let pods = self.managed_pods(&ns);
        let mine: Vec<&Value> = pods.iter().filter(|p| owned_by(p, &uid)).collect();
        let by_ord = |i: usize| {
            mine.iter()
                .find(|p| s(p, "/metadata/name") == format!("{name}-{i}"))
                .copied()
        };
        let all_ready =
            (0..want).all(|i| by_ord(i).is_some_and(|p| pod_ready(p) && !terminating(p)));
        // Create missing ordinals.
        for i in 0..want {
            if by_ord(i).is_none() {
                let pod_name = format!("{name}-{i}");
                let labels = [
                    ("controller-revision-hash", revision.clone()),
                    ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                    ("apps.kubernetes.io/pod-index", i.to_string()),
                ];
                self.create_pod(&ns, &pod_name, &sts["spec"]["template"], sts, &labels);
            }
        }
        // Remove extra ordinals.
        for p in mine.iter().filter(|p| {
            s(p, "/metadata/name")
                .rsplit_once('-')
                .and_then(|(_, o)| o.parse::<usize>().ok())
                .is_some_and(|o| o >= want)
        }) {
            if !terminating(p) {
                self.delete_pod(&ns, s(p, "/metadata/name"), sts);
            }
        }
        // Rolling update: replace the highest outdated ordinal once everything is ready.
        if all_ready {
            if let Some(p) = (0..want)
                .rev()
                .filter_map(by_ord)
                .find(|p| s(p, "/metadata/labels/controller-revision-hash") != revision)
            {
                self.delete_pod(&ns, s(p, "/metadata/name"), sts);
            }
        }
        let pods = self.managed_pods(&ns);
        let mine: Vec<&Value> = pods
            .iter()
            .filter(|p| owned_by(p, &uid) && !terminating(p))
            .collect();
        let ready = mine.iter().filter(|p| pod_ready(p)).count();
        let updated = mine
            .iter()
            .filter(|p| s(p, "/metadata/labels/controller-revision-hash") == revision)
            .count();
        let prev_current = s(sts, "/status/currentRevision").to_string();
        let current = if updated == want && ready == want || prev_current.is_empty() {
            revision.clone()
        } else {
            prev_current
        };
        let current_replicas = mine
            .iter()
            .filter(|p| s(p, "/metadata/labels/controller-revision-hash") == current)
            .count();
        let status = json!({
            "observedGeneration": sts.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": mine.len(), "readyReplicas": ready, "currentReplicas": current_replicas, "updatedReplicas": updated,
            "availableReplicas": ready, "currentRevision": current, "updateRevision": revision, "collisionCount": 0,
        });
        self.set_status(res("statefulsets", "apps"), &ns, sts, status);
    }
}

fn set_creating(pod: &mut Value, node: &str) {
    let now = now_ts();
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    pod["status"] = json!({
        "phase": "Pending", "qosClass": "Burstable", "hostIP": node_ip(node), "startTime": now,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": now},
        ],
        "containerStatuses": containers.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "restartCount": 0, "started": false,
            "state": {"waiting": {"reason": "ContainerCreating"}}})).collect::<Vec<_>>(),
    });
}

/// Mark a pod Running and Ready, with its containers started at `at`.
fn set_running(pod: &mut Value, at: String) {
    let now = at;
    let node = s(pod, "/spec/nodeName").to_string();
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ip = format!(
        "10.244.{}.{}",
        rand::random::<u8>() % 8,
        2 + rand::random::<u8>() % 250
    );
    let start = pod
        .pointer("/status/startTime")
        .cloned()
        .unwrap_or(json!(now));
    pod["status"] = json!({
        "phase": "Running", "qosClass": "Burstable", "hostIP": node_ip(&node), "podIP": ip, "podIPs": [{"ip": ip}], "startTime": start,
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "Ready", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        ],
        "containerStatuses": containers.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": format!("{}@sha256:{}", c["image"].as_str().unwrap_or(""), hex::encode(rand::random::<[u8; 32]>())),
            "containerID": format!("containerd://{}", hex::encode(rand::random::<[u8; 32]>())), "ready": true, "restartCount": 0, "started": true,
            "state": {"running": {"startedAt": now}}})).collect::<Vec<_>>(),
    });
}

fn node_ip(node: &str) -> String {
    let d = Sha256::digest(node.as_bytes());
    format!("10.0.{}.{}", d[0] % 16, 10 + d[1] % 200)
}
