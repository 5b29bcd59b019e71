//! `opsbot serve --config FILE` as a child process: the binary exactly as
//! deployed. Its stderr (JSON log lines) is collected so a test can wait for
//! a line (the port it bound, an anchor written) instead of sleeping, and
//! the process is killed when the handle drops.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long anything a test waits for may take on a loaded two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    /// The port `serve` bound (the config may say `:0`).
    pub port: u16,
}

impl Server {
    /// Starts `opsbot serve --config config` with `env` added to a clean
    /// platform environment, and waits until it has bound its port.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsbot"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .env("OPSBOT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for var in [
            "OPSBOT_AUDIT_URL",
            "SLACK_SIGNING_SECRET",
            "SLACK_BOT_TOKEN",
            "SLACK_APP_TOKEN",
            "GITHUB_WEBHOOK_SECRET",
            "GITHUB_TOKEN",
            "DISCORD_PUBLIC_KEY",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("the opsbot binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (store, changed) = &*sink;
                store.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                changed.notify_all();
            }
        });
        let mut server = Server {
            child,
            lines,
            port: 0,
        };
        let serving = server.wait_for_log("opsbot serving");
        let addr = serde_json::from_str::<serde_json::Value>(&serving)
            .ok()
            .and_then(|v| v["fields"]["addr"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no addr in the serving line: {serving}"));
        server.port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not an address: {addr}"));
        server
    }

    /// The first log line containing `needle`, waiting for it to be written;
    /// panics with everything logged so far when it never comes (or the
    /// process exits first).
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let (store, changed) = &*self.lines;
        let mut lines = store.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(l) = lines.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let exited = self.child.try_wait().ok().flatten();
            let now = Instant::now();
            if now >= deadline || exited.is_some() {
                panic!(
                    "`{needle}` never logged by opsbot serve ({exited:?}):\n{}",
                    lines.join("\n")
                );
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            lines = changed
                .wait_timeout(lines, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A plain HTTP/1.1 GET: (status, body), or `None` when the connection
    /// failed.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path)
    }
}

/// A plain HTTP/1.1 GET to `127.0.0.1:port`: (status, body), or `None` when
/// the connection failed or nothing came back within [`PATIENCE`].
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(PATIENCE)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let code = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
