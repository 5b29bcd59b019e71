//! A real Alertmanager (Debian's `prometheus-alertmanager`) for the tests:
//! its own config routing every alert to opsbot's receiver with a bearer
//! token, short group timings, its own temporary storage, on a free
//! loopback port, no cluster gossip. Tests post alerts to its API
//! (`POST /api/v2/alerts`) and watch what reaches opsbot.
//!
//! A missing binary fails the test with what to install; it never skips.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How Alertmanager batches and repeats notifications.
#[derive(Debug, Clone)]
pub struct Timing {
    pub group_by: Vec<&'static str>,
    pub group_wait: &'static str,
    pub group_interval: &'static str,
    pub repeat_interval: &'static str,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            group_by: vec!["alertname", "pod"],
            group_wait: "1s",
            group_interval: "1s",
            repeat_interval: "1h",
        }
    }
}

pub struct Alertmanager {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

const BINARY: &str = "prometheus-alertmanager";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Alertmanager {
    /// Start Alertmanager routing everything to `webhook` (opsbot's
    /// `/alertmanager/webhook`) with `Authorization: Bearer token`, and
    /// wait until it answers `/-/ready`.
    pub async fn start(webhook: &str, token: &str, timing: Timing) -> Alertmanager {
        let dir = tempfile::tempdir().expect("tempdir");
        let group_by: Vec<String> = timing.group_by.iter().map(|l| format!("'{l}'")).collect();
        let config = format!(
            "route:
  receiver: opsbot
  group_by: [{}]
  group_wait: {}
  group_interval: {}
  repeat_interval: {}
receivers:
  - name: opsbot
    webhook_configs:
      - url: '{webhook}'
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: '{token}'
",
            group_by.join(", "),
            timing.group_wait,
            timing.group_interval,
            timing.repeat_interval,
        );
        let config_file = dir.path().join("alertmanager.yml");
        std::fs::write(&config_file, config).expect("write alertmanager.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{BINARY}` ({e}): the Alertmanager tests need Debian's \
                     prometheus-alertmanager; run `scripts/test` (it installs it) or \
                     `apt-get install prometheus-alertmanager`"
                )
            });
        let am = Alertmanager {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        am.wait_ready().await;
        am
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/-/ready", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "Alertmanager did not become ready within 30s; its log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /api/v2/alerts` with these alerts (a JSON array).
    pub async fn post_alerts(&self, alerts: &Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v2/alerts", self.base))
            .json(alerts)
            .send()
            .await
            .expect("Alertmanager answers");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST /api/v2/alerts: {status} {body}");
    }

    /// What Alertmanager logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
