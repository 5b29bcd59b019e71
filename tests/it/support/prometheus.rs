//! A real Prometheus (Debian's `prometheus`) for the tests: its own config
//! scraping the given targets every second, its own temporary storage, on
//! a free loopback port. Tests wait on what it has scraped by querying it,
//! never by sleeping a fixed time.
//!
//! A missing binary fails the test with what to install; it never skips.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// One scrape job: a `host:port` target, the path, a bearer token and
/// labels to attach to every series it yields.
pub struct Job<'a> {
    pub name: &'a str,
    pub target: &'a str,
    pub path: &'a str,
    pub bearer: Option<&'a str>,
    pub labels: &'a [(&'a str, &'a str)],
}

pub struct Prometheus {
    child: Child,
    pub base: String,
    dir: tempfile::TempDir,
}

const BINARY: &str = "prometheus";

/// How long Prometheus may take to start and to scrape what a test waits for.
const WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Prometheus {
    /// Start Prometheus scraping `jobs` every second and wait until it
    /// answers `/-/ready`.
    pub async fn start(jobs: &[Job<'_>]) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for j in jobs {
            config.push_str(&format!(
                "  - job_name: '{}'\n    metrics_path: '{}'\n",
                j.name, j.path
            ));
            if let Some(t) = j.bearer {
                config.push_str(&format!(
                    "    authorization: {{ type: Bearer, credentials: '{t}' }}\n"
                ));
            }
            let labels: Vec<String> = j
                .labels
                .iter()
                .map(|(k, v)| format!("{k}: '{v}'"))
                .collect();
            config.push_str(&format!(
                "    static_configs:\n      - targets: ['{}']\n        labels: {{ {} }}\n",
                j.target,
                labels.join(", ")
            ));
        }
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{BINARY}` ({e}): the Prometheus tests need Debian's \
                     prometheus; run `scripts/test` (it installs it) or \
                     `apt-get install prometheus`"
                )
            });
        let p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        p.wait_for("/-/ready answers 200", |_| true, "/-/ready")
            .await;
        p
    }

    /// Poll `path` until it answers 2xx with a body `done` accepts.
    async fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool, path: &str) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = http.get(format!("{}{path}", self.base)).send().await {
                if r.status().is_success() {
                    if let Ok(body) = r.text().await {
                        if done(&body) {
                            return;
                        }
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "Prometheus: no {what} within {WAIT:?}; its log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until an instant query yields at least one series.
    pub async fn wait_for_series(&self, query: &str) {
        let path = format!("/api/v1/query?query={}", url_escape(query));
        self.wait_for(
            &format!("series for `{query}`"),
            |body| {
                serde_json::from_str::<Value>(body).is_ok_and(|v| {
                    v["data"]["result"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty())
                })
            },
            &path,
        )
        .await;
    }

    /// What Prometheus logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

/// Percent-encoding for a query parameter value.
fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
