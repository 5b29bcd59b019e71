//! The API surface the simulator serves: which resources exist in which
//! group/version, how they are named, scoped and what verbs they take. The
//! discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`) are
//! generated from this one table, shaped like a real API server's.

use serde_json::{json, Value};

/// One resource type.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short: &'static [&'static str],
    pub subresources: &'static [Sub],
    /// Objects live in the store under another resource (events.k8s.io
    /// events are core events seen through another version).
    pub stored_as: Option<&'static str>,
}

/// A subresource (`pods/log`, `deployments/scale`...).
#[derive(Debug, Clone, Copy)]
pub struct Sub {
    pub name: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

const RW: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn sub(name: &'static str, group: &'static str, version: &'static str, kind: &'static str, verbs: &'static [&'static str]) -> Sub {
    Sub { name, group, version, kind, verbs }
}

macro_rules! res {
    ($g:expr, $v:expr, $kind:expr, $plural:expr, $singular:expr, $ns:expr, [$($short:expr),*], [$($sub:expr),*]) => {
        Resource { group: $g, version: $v, kind: $kind, plural: $plural, singular: $singular, namespaced: $ns,
                   short: &[$($short),*], subresources: &[$($sub),*], stored_as: None }
    };
}

/// Every resource the simulator serves.
pub static RESOURCES: &[Resource] = &[
    res!("", "v1", "Namespace", "namespaces", "namespace", false, ["ns"], [sub("status", "", "v1", "Namespace", STATUS_VERBS)]),
    res!("", "v1", "Node", "nodes", "node", false, ["no"], [sub("status", "", "v1", "Node", STATUS_VERBS)]),
    res!("", "v1", "Pod", "pods", "pod", true, ["po"], [
        sub("log", "", "v1", "Pod", &["get"]),
        sub("eviction", "policy", "v1", "Eviction", &["create"]),
        sub("status", "", "v1", "Pod", STATUS_VERBS)
    ]),
    res!("", "v1", "Service", "services", "service", true, ["svc"], [sub("status", "", "v1", "Service", STATUS_VERBS)]),
    res!("", "v1", "Event", "events", "event", true, ["ev"], []),
    res!("", "v1", "ConfigMap", "configmaps", "configmap", true, ["cm"], []),
    res!("", "v1", "Secret", "secrets", "secret", true, [], []),
    res!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true, ["pvc"], [sub("status", "", "v1", "PersistentVolumeClaim", STATUS_VERBS)]),
    res!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, ["sa"], []),
    res!("apps", "v1", "Deployment", "deployments", "deployment", true, ["deploy"], [
        sub("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
        sub("status", "apps", "v1", "Deployment", STATUS_VERBS)
    ]),
    res!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, ["sts"], [
        sub("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
        sub("status", "apps", "v1", "StatefulSet", STATUS_VERBS)
    ]),
    res!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, ["rs"], [
        sub("scale", "autoscaling", "v1", "Scale", STATUS_VERBS),
        sub("status", "apps", "v1", "ReplicaSet", STATUS_VERBS)
    ]),
    res!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, ["ds"], [sub("status", "apps", "v1", "DaemonSet", STATUS_VERBS)]),
    res!("coordination.k8s.io", "v1", "Lease", "leases", "lease", true, [], []),
    res!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true, ["pdb"], [sub("status", "policy", "v1", "PodDisruptionBudget", STATUS_VERBS)]),
    Resource {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        namespaced: true,
        short: &["ev"],
        subresources: &[],
        stored_as: Some("events"),
    },
    res!("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition", false, ["crd", "crds"], [sub("status", "apiextensions.k8s.io", "v1", "CustomResourceDefinition", STATUS_VERBS)]),
    res!("gateway.dask.org", "v1alpha1", "DaskCluster", "daskclusters", "daskcluster", true, ["daskcluster"], []),
];

/// The groups in discovery order, with their one served version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.iter().any(|(g, _)| *g == r.group) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// Find a resource by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource for a stored object kind (for owner references and events).
pub fn by_kind(kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.kind == kind && r.stored_as.is_none())
}

impl Resource {
    /// The store's name for this resource's objects.
    pub fn store_key(&self) -> &'static str {
        self.stored_as.unwrap_or(self.plural)
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `GET /version`.
pub fn version(git_version: &str) -> Value {
    let v = git_version.trim_start_matches('v');
    let mut parts = v.split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("31");
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-10-22T20:28:14Z",
        "goVersion": "go1.22.8",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `GET /api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server }]
    })
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({ "groupVersion": format!("{g}/{v}"), "version": v });
            json!({ "name": g, "versions": [gv.clone()], "preferredVersion": gv })
        })
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `GET /apis/<group>` (one group).
pub fn group(group: &str) -> Option<Value> {
    let (g, v) = groups().into_iter().find(|(g, _)| *g == group)?;
    let gv = json!({ "groupVersion": format!("{g}/{v}"), "version": v });
    Some(json!({ "kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv }))
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let in_gv: Vec<&Resource> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if in_gv.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for r in in_gv {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": RW,
            "storageVersionHash": format!("{:x}", fnv(r.plural))[..11].to_string(),
        });
        if !r.short.is_empty() {
            entry["shortNames"] = json!(r.short);
        }
        if matches!(r.plural, "pods" | "deployments" | "statefulsets" | "replicasets" | "daemonsets" | "services") {
            entry["categories"] = json!(["all"]);
        }
        list.push(entry);
        for s in r.subresources {
            let mut e = json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.group != group || s.version != version {
                e["group"] = json!(s.group);
                e["version"] = json!(s.version);
            }
            list.push(e);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list }))
}

/// The dask-gateway CRD as the API server lists it.
pub fn dask_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "daskclusters.gateway.dask.org" },
        "spec": {
            "group": "gateway.dask.org",
            "names": { "kind": "DaskCluster", "listKind": "DaskClusterList", "plural": "daskclusters", "singular": "daskcluster", "shortNames": ["daskcluster"] },
            "scope": "Namespaced",
            "versions": [{ "name": "v1alpha1", "served": true, "storage": true, "subresources": { "status": {} },
                           "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }]
        },
        "status": { "acceptedNames": { "kind": "DaskCluster", "plural": "daskclusters" }, "storedVersions": ["v1alpha1"],
                    "conditions": [{ "type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted" }] }
    })
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_names_pods_with_their_subresources_and_short_name() {
        let v = resource_list("", "v1").unwrap();
        let names: Vec<&str> = v["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"pods") && names.contains(&"pods/log") && names.contains(&"pods/eviction"));
        let eviction = v["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods/eviction").unwrap();
        assert_eq!(eviction["group"], "policy");
        let pods = v["resources"].as_array().unwrap().iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
    }

    #[test]
    fn every_group_is_listed_once_with_its_version() {
        let v = group_list();
        let names: Vec<&str> = v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"apps") && names.contains(&"gateway.dask.org"));
        let mut dedup = names.clone();
        dedup.dedup();
        assert_eq!(names.len(), dedup.len());
    }
}
