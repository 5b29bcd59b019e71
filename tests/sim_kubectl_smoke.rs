//! The real `kubectl` against the simulator's small test seed: it must not be
//! able to tell it from a small cluster. Skips loudly when kubectl is absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use opsbot::sim::{Fleet, Seed};

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// Run kubectl off the async runtime; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
            .await
            .expect("kubectl finishes")
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    }
}

fn kubectl_present() -> bool {
    std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_against_the_simulator_like_a_small_cluster() {
    if !kubectl_present() {
        eprintln!("\n\n!!! SKIPPED: kubectl is not installed; install it (apt-get install kubernetes-client) to run this test !!!\n\n");
        return;
    }
    let seed =
        Seed::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seeds/small")).unwrap();
    let fleet = Fleet::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    fleet
        .cluster("alpha")
        .unwrap()
        .set_rollout_delay(Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let k = Kubectl {
        kubeconfig: dir.path().join("kubeconfig"),
        cache: dir.path().join("cache"),
    };
    fleet.write_kubeconfig(&k.kubeconfig).unwrap();

    let all = k.ok(&["get", "pods", "-A"]).await;
    assert!(all.starts_with("NAMESPACE   NAME"), "{all}");
    assert!(
        all.lines().any(|l| l.contains("jupyter-frank")
            && l.contains("1/2")
            && l.contains("CrashLoopBackOff")
            && l.contains("14")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.contains("jupyter-stuck") && l.contains("Terminating")),
        "{all}"
    );

    let wide = k
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
    assert!(wide.lines().next().unwrap().contains("NODE"), "{wide}");
    assert!(
        wide.lines()
            .any(|l| l.contains("jupyter-frank") && l.contains("node-user-1")),
        "{wide}"
    );
    assert_eq!(wide.lines().count(), 4, "{wide}");

    let describe = k
        .ok(&["describe", "pod", "jupyter-grace", "-n", "staging"])
        .await;
    assert!(
        describe.contains("FailedScheduling") && describe.contains("Insufficient memory"),
        "{describe}"
    );

    let logs = k
        .ok(&[
            "logs",
            "jupyter-frank",
            "-n",
            "staging",
            "-c",
            "notebook",
            "--tail",
            "1",
        ])
        .await;
    assert_eq!(
        logs,
        "[I 2024-05-01 10:00:02.000 SingleUserLabApp] line three\n"
    );

    let scaled = k
        .ok(&["scale", "deployment/proxy", "-n", "staging", "--replicas=3"])
        .await;
    assert_eq!(scaled.trim(), "deployment.apps/proxy scaled");

    let restarted = k
        .ok(&["rollout", "restart", "deployment/hub", "-n", "staging"])
        .await;
    assert_eq!(restarted.trim(), "deployment.apps/hub restarted");
    let status = k
        .ok(&[
            "rollout",
            "status",
            "deployment/hub",
            "-n",
            "staging",
            "--timeout=30s",
        ])
        .await;
    assert!(
        status
            .trim_end()
            .ends_with("deployment \"hub\" successfully rolled out"),
        "{status}"
    );

    let pods = k
        .ok(&[
            "get",
            "pods",
            "-n",
            "staging",
            "-l",
            "component=proxy",
            "-o",
            "name",
        ])
        .await;
    let victim = pods
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("pod/")
        .to_string();
    let deleted = k.ok(&["delete", "pod", &victim, "-n", "staging"]).await;
    assert_eq!(deleted.trim(), format!("pod \"{victim}\" deleted"));
    let back = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let now = k
                .ok(&[
                    "get",
                    "pods",
                    "-n",
                    "staging",
                    "-l",
                    "component=proxy",
                    "-o",
                    "name",
                ])
                .await;
            if now.lines().count() == 3 && !now.contains(&victim) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "a replacement proxy pod comes back");

    assert_eq!(
        k.ok(&["cordon", "node-user-1"]).await.trim(),
        "node/node-user-1 cordoned"
    );
    assert!(k
        .ok(&["get", "nodes"])
        .await
        .lines()
        .any(|l| l.contains("node-user-1") && l.contains("Ready,SchedulingDisabled")));
    assert_eq!(
        k.ok(&["uncordon", "node-user-1"]).await.trim(),
        "node/node-user-1 uncordoned"
    );

    let dask = k.ok(&["get", "daskclusters", "-n", "staging"]).await;
    assert!(
        dask.starts_with("NAME") && dask.contains("dask-abc123"),
        "{dask}"
    );

    let (ok, _, err) = k.run(&["get", "pod", "nope", "-n", "staging"]).await;
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "Error from server (NotFound): pods \"nope\" not found"
    );

    let (ok, _, err) = k
        .run(&[
            "--token",
            "readonly-token",
            "delete",
            "pod",
            "jupyter-frank",
            "-n",
            "staging",
        ])
        .await;
    assert!(!ok);
    assert_eq!(err.trim(), "Error from server (Forbidden): pods \"jupyter-frank\" is forbidden: User \"support-readonly\" cannot delete resource \"pods\" in API group \"\" in the namespace \"staging\"");
    fleet.shutdown().await;
}
