//! The `opsbot` binary as an operator runs it: `opsbot sim` as a separate
//! process serving a seed written by the test, a kubeconfig for the bot's own
//! Kubernetes user, an `opsbot.yaml` pointing at both, and `opsbot run
//! --config F --as P "text"`. For findings that only show in the binary
//! (how `App::build` wires clusters, how errors read on a terminal).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long `opsbot sim` may take to write its kubeconfig (it does so once
/// every cluster listens): generous for a loaded two-core machine.
const SIM_START: Duration = Duration::from_secs(60);

/// How long one `opsbot run` may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A running `opsbot sim` process, killed when dropped.
pub struct SimProcess {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl SimProcess {
    /// Write `files` (path relative to the seed directory → text) as a seed
    /// and start `opsbot sim` on it with ephemeral ports; returns once the
    /// kubeconfig it writes after every cluster listens is there and whole.
    pub fn start(files: &[(&str, &str)]) -> SimProcess {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        for (path, text) in files {
            let path = seed.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let args = vec!["--seed".into(), seed.into_os_string()];
        SimProcess::spawn(dir, &args)
    }

    /// Start `opsbot sim --synthetic SHAPE --write-config …` (a generated
    /// fleet, see `opsbot_sim::synthetic`); returns the sim and the
    /// `opsbot.yaml` it wrote (person `sre` may run everything).
    pub fn start_synthetic(shape: &str) -> (SimProcess, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("opsbot.yaml");
        let args = vec![
            "--synthetic".into(),
            shape.into(),
            "--write-config".into(),
            config.clone().into_os_string(),
        ];
        (SimProcess::spawn(dir, &args), config)
    }

    /// `opsbot sim ARGS --listen 127.0.0.1:0 --kubeconfig DIR/sim.kubeconfig`,
    /// once the kubeconfig (written last) is there.
    fn spawn(dir: tempfile::TempDir, args: &[std::ffi::OsString]) -> SimProcess {
        let kubeconfig = dir.path().join("sim.kubeconfig");
        let out = std::fs::File::create(dir.path().join("sim.out")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
            .arg("sim")
            .args(args.iter())
            .args(["--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("the opsbot binary runs");
        let mut sim = SimProcess {
            child,
            dir,
            kubeconfig,
        };
        sim.wait_for_kubeconfig();
        sim
    }

    /// Start `opsbot sim` on a copy of the shipped seed `tests/seeds/<name>`
    /// (its cluster directories and `fleet.yaml`; a README is skipped).
    pub fn start_seed(name: &str) -> SimProcess {
        SimProcess::start_seed_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/seeds")
                .join(name),
        )
    }

    /// [`SimProcess::start_seed`] on any seed directory (`examples/fleet`).
    pub fn start_seed_dir(root: &Path) -> SimProcess {
        let mut files: Vec<(String, String)> = Vec::new();
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            let top = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                for file in std::fs::read_dir(&path).unwrap() {
                    let file = file.unwrap().path();
                    let leaf = file.file_name().unwrap().to_string_lossy().to_string();
                    files.push((
                        format!("{top}/{leaf}"),
                        std::fs::read_to_string(&file).unwrap(),
                    ));
                }
            } else if top == "fleet.yaml" {
                files.push((top, std::fs::read_to_string(&path).unwrap()));
            }
        }
        let borrowed: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        SimProcess::start(&borrowed)
    }

    /// The URL of the simulated hub API of `cluster`/`namespace` (a
    /// `jupyterhub:` entry of the seed's `sim.yaml`), from the line the sim
    /// prints for it once it serves (the marker waited for).
    pub fn hub_api_url(&mut self, cluster: &str, namespace: &str) -> String {
        let prefix = format!("hub {cluster}/{namespace}  ");
        let deadline = Instant::now() + SIM_START;
        loop {
            let text = std::fs::read_to_string(self.dir.path().join("sim.out")).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with(&prefix)) {
                let url = line[prefix.len()..].split_whitespace().next().unwrap_or("");
                return url.to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("opsbot sim exited before serving hub {cluster}/{namespace}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "opsbot sim printed no hub {cluster}/{namespace} within {SIM_START:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The kubeconfig the sim wrote (its admin user).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Poll for the kubeconfig (the sim's readiness marker) until it parses
    /// with at least one cluster; fail if the sim exits or takes too long.
    fn wait_for_kubeconfig(&mut self) {
        let deadline = Instant::now() + SIM_START;
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.kubeconfig) {
                let doc: Result<serde_yaml::Value, _> = serde_yaml::from_str(&text);
                if doc.is_ok_and(|d| d["clusters"].as_sequence().is_some_and(|c| !c.is_empty())) {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("opsbot sim exited before it was ready: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "opsbot sim wrote no kubeconfig within {SIM_START:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A copy of the sim's kubeconfig whose users all carry `token` instead
    /// of the admin token: how the bot gets its own, narrower Kubernetes user.
    pub fn kubeconfig_with_token(&self, token: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        for user in doc["users"].as_sequence_mut().unwrap() {
            user["user"]["token"] = serde_yaml::Value::from(token);
        }
        let path = self.dir.path().join(format!("{token}.kubeconfig"));
        std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
        path
    }

    /// Write an `opsbot.yaml` in the scratch directory: the shipped commands
    /// and playbooks, a SQLite audit log beside it, then `body` (clusters,
    /// hubs, people, roles, policy) as written. Returns its path.
    pub fn write_config(&self, body: &str) -> PathBuf {
        let root = env!("CARGO_MANIFEST_DIR");
        let path = self.dir.path().join("opsbot.yaml");
        let text = format!(
            "audit: {{ url: \"sqlite://{audit}\" }}\ncommands: {root}/commands\nplaybooks: {root}/playbooks\n{body}",
            audit = self.dir.path().join("audit.db").display(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `opsbot run --config CONFIG --as PERSON TEXT`, with no platform secrets
/// from the environment, bounded by [`RUN_LIMIT`].
pub fn opsbot_run(config: &Path, person: &str, text: &str) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .args(["--as", person, text])
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .env_remove("DISCORD_PUBLIC_KEY")
        .env_remove("OPSBOT_AUDIT_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the opsbot binary runs");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(RUN_LIMIT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: killing our own child process, which has not been reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("opsbot run {text:?} did not end within {RUN_LIMIT:?}");
        }
    }
}

/// `opsbot ARGS…` in `dir`, with no platform secrets from the environment and
/// the audit log in `dir/audit.db`: the demo and audit subcommands as a
/// person at a shell runs them.
pub fn opsbot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsbot"))
        .args(args)
        .current_dir(dir)
        .env_remove("SLACK_SIGNING_SECRET")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("GITHUB_WEBHOOK_SECRET")
        .env_remove("DISCORD_PUBLIC_KEY")
        .env(
            "OPSBOT_AUDIT_URL",
            format!("sqlite://{}", dir.join("audit.db").display()),
        )
        .output()
        .expect("the opsbot binary runs")
}

/// stdout then stderr of a finished command, as one text for assertions.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A seed file with namespace `namespace` holding a z2jh hub Deployment
/// (labels `app=jupyterhub,component=hub`): the smallest hub a test fleet has.
pub fn hub_seed(namespace: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{ name: {namespace} }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hub
  namespace: {namespace}
  labels: {{ app: jupyterhub, component: hub }}
spec:
  replicas: 1
  selector: {{ matchLabels: {{ app: jupyterhub, component: hub }} }}
  template:
    metadata: {{ labels: {{ app: jupyterhub, component: hub }} }}
    spec:
      containers: [{{ name: hub, image: "quay.io/jupyterhub/k8s-hub:4.1.0" }}]
"#
    )
}
