//! The real `kubectl` against the simulator running the demo fleet
//! (`examples/fleet`): proves a person exploring `opsbot sim` sees what a real
//! cluster would show for get/describe/logs/scale/rollout/delete/cordon, the
//! dask-gateway CRD, and NotFound/Forbidden errors.
//!
//! Each test starts its own fleet on ephemeral ports and its own kubectl cache
//! directory, so tests neither share state nor depend on order. kubectl must
//! be installed (`scripts/test` installs it); without it the tests fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use opsbot_sim::{Fleet, Seed};

/// Upper bound for any condition we wait on (rollouts take ~1s in the demo seed).
const WAIT: Duration = Duration::from_secs(30);

/// A running demo fleet plus a kubeconfig for it.
struct Sim {
    fleet: Fleet,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// What one kubectl invocation produced.
#[derive(Debug)]
struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Fails the test, saying how to install kubectl, when it is missing: these
/// tests prove what kubectl shows, so without it they cannot pass.
fn require_kubectl() {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "kubectl is not installed: run scripts/test, which installs it (or `apt-get install kubernetes-client`)"
    );
}

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet")
}

impl Sim {
    async fn start() -> Sim {
        let seed = Seed::from_dir(&seed_dir()).expect("the demo fleet seed loads");
        let fleet = Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the fleet starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        fleet.write_kubeconfig(&kubeconfig).unwrap();
        Sim {
            fleet,
            dir,
            kubeconfig,
        }
    }

    /// Run `kubectl --kubeconfig ... <args>` off the async runtime.
    async fn kubectl(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args);
        cmd.env_remove("KUBECONFIG");
        let shown = format!("kubectl {}", args.join(" "));
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("kubectl runs");
        let out = Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("$ {shown}\n{}{}", out.stdout, out.stderr);
        out
    }

    /// Like [`Sim::kubectl`] but the command must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.ok,
            "kubectl {} failed:\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// Re-run a read-only kubectl command until `cond` holds on its stdout, or fail after [`WAIT`].
    async fn wait_until(&self, args: &[&str], what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.kubectl(args).await;
            if out.ok && cond(&out.stdout) {
                return out.stdout;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {WAIT:?} waiting for {what}; last output:\n{}{}",
                out.stdout,
                out.stderr
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The row of a `kubectl get` table whose first (or, with -A, second) column is `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().take(2).any(|c| c == name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_all_namespaces_shows_hub_users_and_system_pods_with_their_states() {
    require_kubectl();
    let sim = Sim::start().await;
    let out = sim.ok(&["get", "pods", "-A"]).await;
    let header = out.lines().next().unwrap();
    for col in ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"] {
        assert!(header.contains(col), "header {header:?} lacks {col}");
    }
    // Controller-made hub pods and kube-system pods exist and run.
    assert!(
        out.lines()
            .any(|l| l.starts_with("staging") && l.contains(" hub-") && l.contains("Running")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("prod") && l.contains(" proxy-") && l.contains("Running")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("kube-system") && l.contains("coredns-")),
        "{out}"
    );
    // Seeded user servers keep their seeded states.
    assert!(
        row(&out, "jupyter-alice").contains("1/1")
            && row(&out, "jupyter-alice").contains("Running")
    );
    assert!(
        row(&out, "jupyter-dave").contains("ImagePullBackOff"),
        "{out}"
    );
    assert!(row(&out, "jupyter-erin").contains("Pending"), "{out}");
    assert!(
        row(&out, "jupyter-frank").contains("CrashLoopBackOff"),
        "{out}"
    );
    assert!(row(&out, "jupyter-gina").contains("Terminating"), "{out}");
    // user-placeholder: 2 replicas in staging, 5 in prod.
    assert!(
        out.contains("user-placeholder-1")
            && !out
                .lines()
                .any(|l| l.starts_with("staging") && l.contains("user-placeholder-2")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("prod") && l.contains("user-placeholder-4")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_user_servers_by_label_wide_shows_only_user_pods_and_their_nodes() {
    require_kubectl();
    let sim = Sim::start().await;
    let out = sim
        .ok(&[
            "get",
            "pods",
            "-n",
            "staging",
            "-l",
            "component=singleuser-server",
            "-o",
            "wide",
        ])
        .await;
    assert!(out.lines().next().unwrap().contains("NODE"), "{out}");
    assert!(
        row(&out, "jupyter-alice").contains("ip-10-0-70-15.us-west-2.compute.internal"),
        "{out}"
    );
    assert!(
        row(&out, "jupyter-carol-40uni-2eedu")
            .contains("ip-10-0-81-122.us-west-2.compute.internal"),
        "{out}"
    );
    assert!(
        row(&out, "jupyter-bob-2ejones").contains("Running"),
        "{out}"
    );
    assert!(
        !out.contains("hub-") && !out.contains("proxy-") && !out.contains("user-placeholder"),
        "{out}"
    );
    assert_eq!(
        out.lines().count(),
        1 + 8,
        "header + 8 staging user servers:\n{out}"
    );

    let escaped = sim
        .ok(&[
            "get",
            "pods",
            "-n",
            "staging",
            "-l",
            "hub.jupyter.org/username=bob-2ejones",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(escaped.trim(), "pod/jupyter-bob-2ejones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_broken_pods_shows_their_state_and_events() {
    require_kubectl();
    let sim = Sim::start().await;
    let dave = sim
        .ok(&["describe", "pod", "jupyter-dave", "-n", "staging"])
        .await;
    assert!(
        dave.contains("Name:") && dave.contains("jupyter-dave"),
        "{dave}"
    );
    assert!(dave.contains("ImagePullBackOff"), "{dave}");
    assert!(dave.contains("Events:"), "{dave}");
    assert!(
        dave.contains("Failed to pull image \"quay.io/jupyter/scipy-notebook:2024-13-01\""),
        "{dave}"
    );
    assert!(dave.contains("not found"), "{dave}");

    let erin = sim
        .ok(&["describe", "pod", "jupyter-erin", "-n", "staging"])
        .await;
    assert!(
        erin.contains("FailedScheduling") && erin.contains("Insufficient memory"),
        "{erin}"
    );
    assert!(
        erin.contains("untolerated taint {hub.jupyter.org/dedicated: core}"),
        "{erin}"
    );

    let judy = sim
        .ok(&[
            "describe",
            "pod",
            "jupyter-judy",
            "-n",
            "prod",
            "--context",
            "aws-us",
        ])
        .await;
    assert!(judy.contains("OOMKilled") && judy.contains("137"), "{judy}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tail_and_previous_serve_the_seeded_text() {
    require_kubectl();
    let sim = Sim::start().await;
    let tail = sim
        .ok(&["logs", "-n", "staging", "jupyter-alice", "--tail", "3"])
        .await;
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3, "{tail}");
    assert!(
        lines[2].contains("Saving file at /analysis/fit.ipynb"),
        "{tail}"
    );

    let previous = sim
        .ok(&["logs", "-n", "staging", "jupyter-frank", "--previous"])
        .await;
    assert!(
        previous
            .trim_end()
            .ends_with("/usr/bin/env: 'jupyterhub-singleuser': No such file or directory"),
        "{previous}"
    );

    let full = sim
        .ok(&["logs", "-n", "prod", "jupyter-karl", "-c", "notebook"])
        .await;
    assert!(full.contains("No space left on device"), "{full}");

    let edu = sim
        .ok(&[
            "--context",
            "azure-au",
            "logs",
            "-n",
            "edu",
            "jupyter-tom-40school-2eedu",
            "--previous",
        ])
        .await;
    assert!(
        edu.contains("exec: jupyterhub-singleuser: not found"),
        "{edu}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_statefulset_creates_the_placeholder_pods() {
    require_kubectl();
    let sim = Sim::start().await;
    let out = sim
        .ok(&[
            "scale",
            "statefulset",
            "user-placeholder",
            "-n",
            "staging",
            "--replicas",
            "4",
        ])
        .await;
    assert_eq!(out.trim(), "statefulset.apps/user-placeholder scaled");
    let pods = sim
        .wait_until(
            &[
                "get",
                "pods",
                "-n",
                "staging",
                "-l",
                "component=user-placeholder",
                "-o",
                "name",
            ],
            "4 placeholder pods",
            |s| s.lines().count() == 4,
        )
        .await;
    for i in 0..4 {
        assert!(
            pods.contains(&format!("pod/user-placeholder-{i}")),
            "{pods}"
        );
    }
    let sts = sim
        .ok(&["get", "statefulset", "user-placeholder", "-n", "staging"])
        .await;
    assert!(row(&sts, "user-placeholder").contains("/4"), "{sts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_of_the_hub_completes_and_replaces_its_pod() {
    require_kubectl();
    let sim = Sim::start().await;
    let before = sim
        .ok(&[
            "get",
            "pods",
            "-n",
            "staging",
            "-l",
            "component=hub",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(before.lines().count(), 1, "{before}");
    let out = sim
        .ok(&["rollout", "restart", "deployment/hub", "-n", "staging"])
        .await;
    assert_eq!(out.trim(), "deployment.apps/hub restarted");
    let status = sim
        .ok(&[
            "rollout",
            "status",
            "deployment/hub",
            "-n",
            "staging",
            "--timeout",
            "60s",
        ])
        .await;
    assert!(
        status.contains("deployment \"hub\" successfully rolled out"),
        "{status}"
    );
    let after = sim
        .wait_until(
            &[
                "get",
                "pods",
                "-n",
                "staging",
                "-l",
                "component=hub",
                "-o",
                "name",
            ],
            "a single new hub pod",
            |s| s.lines().count() == 1 && s != before,
        )
        .await;
    assert_ne!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_controller_owned_pod_brings_a_replacement() {
    require_kubectl();
    let sim = Sim::start().await;
    let name = sim
        .ok(&[
            "get",
            "pods",
            "-n",
            "prod",
            "-l",
            "component=proxy",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    assert!(name.starts_with("proxy-"), "{name}");
    let out = sim.ok(&["delete", "pod", &name, "-n", "prod"]).await;
    assert_eq!(out.trim(), format!("pod \"{name}\" deleted"));
    let now = sim
        .wait_until(
            &["get", "pods", "-n", "prod", "-l", "component=proxy"],
            "a replacement proxy pod Running",
            |s| {
                s.lines().skip(1).any(|l| {
                    l.starts_with("proxy-")
                        && !l.starts_with(name.as_str())
                        && l.contains("Running")
                })
            },
        )
        .await;
    assert!(!now.contains(name.as_str()), "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_and_uncordon_toggle_scheduling_disabled() {
    require_kubectl();
    let sim = Sim::start().await;
    let node = "ip-10-0-70-15.us-west-2.compute.internal";
    let nodes = sim.ok(&["get", "nodes"]).await;
    assert!(
        row(&nodes, node).contains("Ready") && !row(&nodes, node).contains("SchedulingDisabled"),
        "{nodes}"
    );
    assert!(
        row(&nodes, "ip-10-0-93-7.us-west-2.compute.internal").contains("NotReady"),
        "{nodes}"
    );
    assert!(
        row(&nodes, "ip-10-0-101-58.us-west-2.compute.internal")
            .contains("Ready,SchedulingDisabled"),
        "{nodes}"
    );

    assert_eq!(
        sim.ok(&["cordon", node]).await.trim(),
        format!("node/{node} cordoned")
    );
    let nodes = sim.ok(&["get", "node", node]).await;
    assert!(
        row(&nodes, node).contains("Ready,SchedulingDisabled"),
        "{nodes}"
    );

    assert_eq!(
        sim.ok(&["uncordon", node]).await.trim(),
        format!("node/{node} uncordoned")
    );
    let nodes = sim.ok(&["get", "node", node]).await;
    assert!(!row(&nodes, node).contains("SchedulingDisabled"), "{nodes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_daskclusters_lists_the_custom_resources() {
    require_kubectl();
    let sim = Sim::start().await;
    let out = sim
        .ok(&["--context", "gcp-eu", "get", "daskclusters", "-A"])
        .await;
    assert!(
        out.contains("climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b"),
        "{out}"
    );
    assert!(
        out.contains("climate.e41d07c2958a4f3bb16c9d2a7e0f8b53"),
        "{out}"
    );
    let pods = sim
        .ok(&[
            "--context",
            "gcp-eu",
            "get",
            "pods",
            "-n",
            "climate",
            "-l",
            "gateway.dask.org/cluster=climate.7c1e3f9a2b4d4e6f8a0b1c2d3e4f5a6b",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(
        pods.lines().count(),
        4,
        "one scheduler and three workers:\n{pods}"
    );
    // The other clusters have no dask-gateway objects.
    let none = sim
        .kubectl(&["--context", "aws-us", "get", "daskclusters", "-A"])
        .await;
    assert!(
        none.stderr.contains("No resources found") || none.stdout.trim().is_empty(),
        "{none:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pod_is_reported_as_not_found() {
    require_kubectl();
    let sim = Sim::start().await;
    let out = sim.kubectl(&["get", "pod", "nope", "-n", "staging"]).await;
    assert!(!out.ok);
    assert_eq!(
        out.stderr.trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_support_user_is_forbidden_to_delete_to_read_secrets_and_other_hubs_logs() {
    require_kubectl();
    let sim = Sim::start().await;
    let ro = ["--token", "readonly-token"];
    // Reading is allowed.
    let list = sim
        .ok(&[&ro[..], &["get", "pods", "-n", "staging"]].concat())
        .await;
    assert!(list.contains("jupyter-alice"), "{list}");
    let logs = sim
        .ok(&[
            &ro[..],
            &["logs", "-n", "staging", "jupyter-alice", "--tail", "1"],
        ]
        .concat())
        .await;
    assert!(logs.contains("Saving file"), "{logs}");

    let del = sim
        .kubectl(
            &[
                &ro[..],
                &["delete", "pod", "jupyter-alice", "-n", "staging"],
            ]
            .concat(),
        )
        .await;
    assert!(!del.ok);
    assert_eq!(
        del.stderr.trim(),
        "Error from server (Forbidden): pods \"jupyter-alice\" is forbidden: User \"support-readonly\" cannot delete resource \"pods\" in API group \"\" in the namespace \"staging\""
    );
    let prod_logs = sim
        .kubectl(&[&ro[..], &["logs", "-n", "prod", "jupyter-heidi"]].concat())
        .await;
    assert!(!prod_logs.ok);
    assert!(
        prod_logs.stderr.contains("Forbidden")
            && prod_logs.stderr.contains("User \"support-readonly\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"prod\""),
        "{prod_logs:?}"
    );
    let secret = sim
        .kubectl(&[&ro[..], &["get", "secret", "hub", "-n", "staging"]].concat())
        .await;
    assert!(!secret.ok);
    assert_eq!(
        secret.stderr.trim(),
        "Error from server (Forbidden): secrets \"hub\" is forbidden: User \"support-readonly\" cannot get resource \"secrets\" in API group \"\" in the namespace \"staging\""
    );
    // The admin context is untouched: the pod is still there.
    sim.ok(&["get", "pod", "jupyter-alice", "-n", "staging"])
        .await;
    sim.fleet.shutdown().await;
}

/// kubespawner's escaping (safe `[a-z0-9]`, escape char `-`, each other UTF-8
/// byte as `-xx`), restated here so the seed data is checked independently.
fn kubespawner_escape(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            out.push(ch);
        } else {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("-{b:02x}"));
            }
        }
    }
    out
}

#[test]
fn kubespawner_escape_matches_the_names_used_in_the_fleet() {
    assert_eq!(kubespawner_escape("alice"), "alice");
    assert_eq!(kubespawner_escape("bob.jones"), "bob-2ejones");
    assert_eq!(kubespawner_escape("carol@uni.edu"), "carol-40uni-2eedu");
    assert_eq!(kubespawner_escape("zoë"), "zo-c3-ab");
}

/// The seed is consistent in the ways the ops pack relies on, checked through
/// the simulator with the kube client (no kubectl needed): user pods are named
/// and labelled with the escaped user name, sit on existing nodes, seeded events
/// point at existing pods, every hub has the zero-to-jupyterhub objects, and
/// every cluster has exactly one NotReady and one cordoned node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_fleet_is_self_consistent() {
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod, Service};
    use kube::api::{Api, ListParams};

    let seed = Seed::from_dir(&seed_dir()).expect("the demo fleet seed loads");
    let fleet = Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(fleet.cluster_names(), ["aws-us", "gcp-eu", "azure-au"]);
    let mut hubs = Vec::new();
    for cluster in fleet.cluster_names() {
        let client = fleet.client(&cluster).await.unwrap();
        let nodes = Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap();
        let node_names: Vec<String> = nodes
            .iter()
            .map(|n| n.metadata.name.clone().unwrap())
            .collect();
        let not_ready = nodes
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status != "True"))
            })
            .count();
        let cordoned = nodes
            .iter()
            .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
            .count();
        assert_eq!(
            (not_ready, cordoned),
            (1, 1),
            "{cluster}: one NotReady and one cordoned node"
        );
        for purpose in ["core", "user"] {
            let n = nodes
                .iter()
                .filter(|n| {
                    n.metadata
                        .labels
                        .as_ref()
                        .unwrap()
                        .get("hub.jupyter.org/node-purpose")
                        .map(String::as_str)
                        == Some(purpose)
                })
                .count();
            assert!(n >= 2, "{cluster}: only {n} {purpose} nodes");
        }

        let pods = Api::<Pod>::all(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap();
        let pod_keys: Vec<(String, String)> = pods
            .iter()
            .map(|p| {
                (
                    p.metadata.namespace.clone().unwrap(),
                    p.metadata.name.clone().unwrap(),
                )
            })
            .collect();
        for p in &pods {
            let name = p.metadata.name.as_deref().unwrap();
            if let Some(node) = p.spec.as_ref().unwrap().node_name.as_deref() {
                assert!(
                    node_names.iter().any(|n| n == node),
                    "{cluster}: pod {name} on unknown node {node}"
                );
            }
            let labels = p.metadata.labels.clone().unwrap_or_default();
            if labels.get("component").map(String::as_str) != Some("singleuser-server") {
                continue;
            }
            let raw = &p.metadata.annotations.as_ref().unwrap()["hub.jupyter.org/username"];
            let escaped = kubespawner_escape(raw);
            assert_eq!(
                name,
                format!("jupyter-{escaped}"),
                "{cluster}: pod name of user {raw:?}"
            );
            assert_eq!(
                labels["hub.jupyter.org/username"], escaped,
                "{cluster}: username label of {name}"
            );
            assert_eq!(labels["app"], "jupyterhub");
            assert_eq!(p.spec.as_ref().unwrap().containers[0].name, "notebook");
        }
        let events = Api::<Event>::all(client.clone())
            .list(&ListParams::default())
            .await
            .unwrap();
        for e in &events {
            let o = &e.involved_object;
            if o.kind.as_deref() == Some("Pod")
                && o.name.as_deref().is_some_and(|n| n.starts_with("jupyter-"))
            {
                let key = (o.namespace.clone().unwrap(), o.name.clone().unwrap());
                assert!(
                    pod_keys.contains(&key),
                    "{cluster}: event {:?} about a pod that does not exist",
                    e.metadata.name
                );
            }
        }

        let hub_deploys = Api::<Deployment>::all(client.clone())
            .list(&ListParams::default().labels("app=jupyterhub,component=hub"))
            .await
            .unwrap();
        for d in &hub_deploys {
            let ns = d.metadata.namespace.clone().unwrap();
            hubs.push(format!("{cluster}/{ns}"));
            let deploys = Api::<Deployment>::namespaced(client.clone(), &ns);
            for (name, strategy) in [
                ("hub", "Recreate"),
                ("proxy", "Recreate"),
                ("user-scheduler", "RollingUpdate"),
            ] {
                let d = deploys
                    .get(name)
                    .await
                    .unwrap_or_else(|e| panic!("{cluster}/{ns}: deployment {name}: {e}"));
                assert_eq!(
                    d.spec.strategy.and_then(|s| s.type_).as_deref(),
                    Some(strategy),
                    "{cluster}/{ns}/{name}"
                );
            }
            Api::<StatefulSet>::namespaced(client.clone(), &ns)
                .get("user-placeholder")
                .await
                .unwrap();
            for svc in ["hub", "proxy-api", "proxy-public"] {
                Api::<Service>::namespaced(client.clone(), &ns)
                    .get(svc)
                    .await
                    .unwrap_or_else(|e| panic!("{cluster}/{ns}: service {svc}: {e}"));
            }
            let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns)
                .get("hub-db-dir")
                .await
                .unwrap();
            assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Bound"));
        }
    }
    hubs.sort();
    assert_eq!(
        hubs,
        [
            "aws-us/prod",
            "aws-us/staging",
            "azure-au/edu",
            "gcp-eu/binder",
            "gcp-eu/climate"
        ]
    );
    fleet.shutdown().await;
}
