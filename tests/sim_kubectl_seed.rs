//! The real `kubectl` against the simulator: it must not be able to tell it
//! from a small cluster for the commands operators use every day.

use std::path::{Path, PathBuf};
use std::process::Command;

use opsbot::sim::{Fleet, Seed};

struct Kubectl {
    _fleet: Fleet,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    async fn start() -> Kubectl {
        let seed = Seed::from_dir(Path::new("tests/seeds/mini")).unwrap();
        let fleet = Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        fleet.write_kubeconfig(&kubeconfig).unwrap();
        Kubectl {
            _fleet: fleet,
            _dir: dir,
            kubeconfig,
        }
    }

    /// Run kubectl; (exit success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let kubeconfig = self.kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&args)
                .env("HOME", kubeconfig.parent().unwrap())
                .output()
                .expect("kubectl is installed (scripts/test installs it)");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed:\n{err}\n{out}");
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_shows_the_columns_a_real_cluster_shows() {
    let k = Kubectl::start().await;
    let pods = k.ok(&["get", "pods", "-n", "staging", "-o", "wide"]).await;
    let header = pods.lines().next().unwrap();
    for col in ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"] {
        assert!(header.contains(col), "{header}");
    }
    let bob = pods
        .lines()
        .find(|l| l.starts_with("jupyter-bob-2ejones"))
        .unwrap();
    assert!(
        bob.contains("0/1") && bob.contains("CrashLoopBackOff") && bob.contains("user-1"),
        "{bob}"
    );
    let nodes = k.ok(&["get", "nodes"]).await;
    assert!(nodes.contains("core-1") && nodes.contains("Ready"));
    let all = k
        .ok(&[
            "get",
            "pods",
            "-A",
            "-l",
            "component=singleuser-server",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(all.lines().count(), 2, "{all}");
    let deploy = k
        .ok(&[
            "get",
            "deploy",
            "hub",
            "-n",
            "staging",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ])
        .await;
    assert_eq!(deploy, "1");
    let dask = k.ok(&["get", "daskclusters", "-n", "staging"]).await;
    assert!(dask.contains("staging.0123456789abcdef"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_container_state_and_events() {
    let k = Kubectl::start().await;
    let out = k
        .ok(&["describe", "pod", "jupyter-bob-2ejones", "-n", "staging"])
        .await;
    assert!(out.contains("CrashLoopBackOff"), "{out}");
    assert!(
        out.contains("Back-off restarting failed container"),
        "events are listed: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tail_and_previous() {
    let k = Kubectl::start().await;
    let out = k
        .ok(&["logs", "jupyter-alice", "-n", "staging", "--tail", "1"])
        .await;
    assert_eq!(out.lines().count(), 1);
    let prev = k
        .ok(&["logs", "jupyter-bob-2ejones", "-n", "staging", "--previous"])
        .await;
    assert!(prev.contains("jupyterhub-singleuser"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_and_status_complete() {
    let k = Kubectl::start().await;
    k.ok(&["rollout", "restart", "deployment/hub", "-n", "staging"])
        .await;
    let out = k
        .ok(&[
            "rollout",
            "status",
            "deployment/hub",
            "-n",
            "staging",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("successfully rolled out"), "{out}");
    k.ok(&[
        "scale",
        "statefulset/user-placeholder",
        "-n",
        "staging",
        "--replicas=3",
    ])
    .await;
    let out = k
        .ok(&[
            "rollout",
            "status",
            "statefulset/user-placeholder",
            "-n",
            "staging",
            "--timeout=60s",
        ])
        .await;
    assert!(
        out.contains("roll out complete") || out.contains("rolling update complete"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_uncordon_and_delete() {
    let k = Kubectl::start().await;
    k.ok(&["cordon", "user-1"]).await;
    assert!(k
        .ok(&["get", "node", "user-1"])
        .await
        .contains("SchedulingDisabled"));
    k.ok(&["uncordon", "user-1"]).await;
    assert!(!k
        .ok(&["get", "node", "user-1"])
        .await
        .contains("SchedulingDisabled"));
    k.ok(&["delete", "pod", "jupyter-alice", "-n", "staging"])
        .await;
    let (ok, _, err) = k
        .run(&["get", "pod", "jupyter-alice", "-n", "staging"])
        .await;
    assert!(!ok);
    assert!(
        err.contains("NotFound") && err.contains("pods \"jupyter-alice\" not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_reads_like_a_real_cluster() {
    let k = Kubectl::start().await;
    let (ok, _, err) = k
        .run(&[
            "--token",
            "support-token",
            "--user",
            "",
            "delete",
            "pod",
            "jupyter-alice",
            "-n",
            "staging",
        ])
        .await;
    assert!(!ok);
    assert!(
        err.contains("forbidden: User \"support\" cannot delete resource \"pods\""),
        "{err}"
    );
}
