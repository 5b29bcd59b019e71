//! What the library logs, captured, for tests that must wait for a decision
//! that leaves no other trace: a refusal that is final (logged, then nothing
//! more) is proven by waiting for its log line, never by sleeping and
//! seeing nothing.
//!
//! One capturing subscriber is installed for the whole test process (the
//! library never installs one; only the binary does), at `warn` for
//! `opsbot`, so every test may wait on it.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use tokio::sync::Notify;

use super::bot::PATIENCE;

struct Captured {
    lines: Mutex<Vec<String>>,
    changed: Notify,
}

static CAPTURED: OnceLock<Captured> = OnceLock::new();

/// Appends what the subscriber formats to [`CAPTURED`].
struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let c = captured();
        let text = String::from_utf8_lossy(buf);
        c.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(text.lines().map(str::to_string));
        c.changed.notify_waiters();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    CAPTURED.get_or_init(|| Captured {
        lines: Mutex::new(Vec::new()),
        changed: Notify::new(),
    })
}

/// Starts capturing (idempotent). Call before the code under test runs.
pub fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        captured();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("opsbot=warn"))
            .with_ansi(false)
            .with_writer(|| Sink)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global tracing subscriber");
    });
}

/// Waits until a captured line contains every one of `needles` and returns
/// it; fails the test (showing what was logged) after [`PATIENCE`].
pub async fn wait_for(needles: &[&str]) -> String {
    let c = captured();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let changed = c.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let found = c
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .cloned();
        if let Some(line) = found {
            return line;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            let lines = c.lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
            panic!("no log line with {needles:?}; logged: {lines:#?}");
        }
    }
}
