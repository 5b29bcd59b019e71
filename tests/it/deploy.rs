//! The plain manifests in `deploy/manifests/opsbot.yaml` (issue 15; the Helm
//! chart's rendering, see `deploy_chart.rs`): every
//! document is a well-formed object of its kind (it survives a round trip
//! through the Kubernetes types, so a misspelt or misplaced field fails),
//! the simulator's API server accepts each in a server-side dry run, the
//! ClusterRole is exactly what `opsbot rbac` prints for the config it ships,
//! and that config passes `opsbot check`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::binary::{opsbot, output_text, SimProcess};

fn manifests_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/manifests/opsbot.yaml")
}

fn documents() -> Vec<Value> {
    let text = std::fs::read_to_string(manifests_path()).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind(kind: &str) -> Value {
    documents()
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in the manifests"))
}

/// The config the ConfigMap ships, written to a scratch directory.
fn shipped_config(dir: &Path) -> PathBuf {
    let cm = of_kind("ConfigMap");
    let path = dir.join("opsbot.yaml");
    std::fs::write(&path, cm["data"]["opsbot.yaml"].as_str().unwrap()).unwrap();
    path
}

/// `v` through the Kubernetes type `T` and back: what the type does not
/// know is dropped, so any difference is a field the API would not take.
pub(crate) fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> Value {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", v["kind"]));
    serde_json::to_value(typed).unwrap()
}

/// `doc` after a round trip through the type of its kind; `None` for a kind
/// this suite has no type for.
pub(crate) fn through_its_type(doc: &Value) -> Option<Value> {
    use k8s_openapi::api::{apps, core, policy, rbac};
    Some(match doc["kind"].as_str()? {
        "Namespace" => round_trip::<core::v1::Namespace>(doc),
        "ServiceAccount" => round_trip::<core::v1::ServiceAccount>(doc),
        "ConfigMap" => round_trip::<core::v1::ConfigMap>(doc),
        "Service" => round_trip::<core::v1::Service>(doc),
        "Deployment" => round_trip::<apps::v1::Deployment>(doc),
        "PodDisruptionBudget" => round_trip::<policy::v1::PodDisruptionBudget>(doc),
        "ClusterRole" => round_trip::<rbac::v1::ClusterRole>(doc),
        "ClusterRoleBinding" => round_trip::<rbac::v1::ClusterRoleBinding>(doc),
        "Role" => round_trip::<rbac::v1::Role>(doc),
        "RoleBinding" => round_trip::<rbac::v1::RoleBinding>(doc),
        _ => return None,
    })
}

#[test]
fn every_manifest_is_a_well_formed_object_of_its_kind() {
    for doc in documents() {
        let kind = doc["kind"].as_str().unwrap().to_string();
        let back = through_its_type(&doc)
            .unwrap_or_else(|| panic!("a {kind} in the manifests: add its type here"));
        assert_eq!(back, doc, "{kind} has fields its type does not know");
    }
}

#[test]
fn the_cluster_role_is_what_opsbot_rbac_prints_for_the_shipped_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shipped_config(dir.path());
    let out = opsbot(dir.path(), &["rbac", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));
    let printed: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let printed = serde_json::to_value(printed).unwrap();
    let shipped = of_kind("ClusterRole");
    assert_eq!(shipped["metadata"]["name"], printed["metadata"]["name"]);
    assert_eq!(
        shipped["rules"], printed["rules"],
        "deploy/manifests/opsbot.yaml drifted from `opsbot rbac`: paste its rules into \
         deploy/helm/opsbot/templates/clusterrole.yaml and regenerate (see deploy_chart.rs)"
    );
}

#[test]
fn the_shipped_config_passes_opsbot_check() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shipped_config(dir.path());
    let out = opsbot(dir.path(), &["check", "--config", cfg.to_str().unwrap()]);
    let said = output_text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("the built-in pack"), "{said}");
}

/// A simulated cluster with nothing but the `default` namespace, and
/// kubectl against it: (succeeded, stdout and stderr).
pub(crate) struct EmptyCluster(SimProcess);

impl EmptyCluster {
    pub(crate) fn start() -> EmptyCluster {
        EmptyCluster(SimProcess::start(&[(
            "aws-us/00-ns.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: { name: default }\n",
        )]))
    }

    pub(crate) fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.0.kubeconfig())
            .args(args)
            .output()
            .expect("kubectl runs (scripts/test installs it)");
        (out.status.success(), output_text(&out))
    }

    /// `kubectl create --dry-run=server` of every document in `file`,
    /// printing the name of each one accepted.
    pub(crate) fn dry_run(&self, file: &Path) -> (bool, String) {
        self.kubectl(&[
            "create",
            "--dry-run=server",
            "--validate=false",
            "-f",
            file.to_str().unwrap(),
            "-o",
            "name",
        ])
    }
}

#[test]
fn the_simulators_api_server_accepts_every_manifest_in_a_server_side_dry_run() {
    let cluster = EmptyCluster::start();
    let kubectl = |args: &[&str]| cluster.kubectl(args);
    // The namespace for real (a dry-run namespace holds nothing), then
    // every document as a dry run.
    let (ok, said) = kubectl(&["create", "namespace", "opsbot"]);
    assert!(ok, "{said}");
    let (ok, said) = cluster.dry_run(&manifests_path());
    // The Namespace exists now: that one document is refused as such.
    let lines: Vec<&str> = said.lines().collect();
    for kind in [
        "serviceaccount/opsbot",
        "clusterrole.rbac.authorization.k8s.io/opsbot",
        "clusterrolebinding.rbac.authorization.k8s.io/opsbot",
        "configmap/opsbot-config",
        "deployment.apps/opsbot",
        "service/opsbot",
        "poddisruptionbudget.policy/opsbot",
    ] {
        assert!(lines.contains(&kind), "{kind} not accepted ({ok}):\n{said}");
    }
    assert!(
        said.contains("already exists") && said.contains("opsbot"),
        "only the namespace is refused, as existing:\n{said}"
    );
    // A dry run changed nothing.
    let (_, deployments) = kubectl(&["get", "deployments", "-n", "opsbot", "-o", "name"]);
    assert!(!deployments.contains("opsbot"), "{deployments}");
}
