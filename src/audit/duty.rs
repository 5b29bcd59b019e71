//! Singleton duties (the approval-expiry sweeper, schedules later): of the
//! processes sharing one store, one does each duty at a time.
//!
//! On PostgreSQL the holder is the session holding an advisory lock named
//! for the duty, on a connection of its own: the server releases it the
//! moment that session ends, so when the leader dies (or loses the
//! database) another replica takes the duty at its next try. On SQLite,
//! whose processes share one host, the holder is the process holding an
//! OS lock on a file beside the database, released by the kernel when it
//! exits. In a Kubernetes cluster a Lease may elect instead (see
//! `crate::runs::elect`).
//!
//! Leadership is a hint for efficiency, not the safety net: every duty's
//! writes are conditional in the store (a run ends once), so two leaders
//! for a moment (a network partition) do no harm.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::pg_connect::Target;

/// Where a duty's lock lives.
#[derive(Debug, Clone)]
pub(super) enum DutyPlace {
    Postgres(String),
    Sqlite(PathBuf),
    /// `sqlite::memory:`: the store is this process's alone.
    Alone,
}

/// Whether this process holds a duty now. Dropping it gives the duty up.
#[derive(Debug)]
pub struct Duty {
    leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Duty {
    /// Whether this process is the one doing the duty now.
    pub fn leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// Changes of [`Duty::leading`], for tasks that wait to lead.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }
}

impl Drop for Duty {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Start trying to hold `duty`, every `retry` while another holds it.
pub(super) fn elect(place: &DutyPlace, duty: &str, retry: Duration) -> Duty {
    let (tx, leading) = watch::channel(false);
    let task = match place.clone() {
        DutyPlace::Alone => {
            let _ = tx.send(true);
            tokio::spawn(async move { tx.closed().await })
        }
        DutyPlace::Sqlite(db) => {
            let path = lock_file(&db, duty);
            tokio::spawn(hold_file(path, tx, retry))
        }
        DutyPlace::Postgres(url) => tokio::spawn(hold_advisory(url, key(duty), tx, retry)),
    };
    Duty { leading, task }
}

/// The advisory lock key of a duty: stable across processes and versions.
fn key(duty: &str) -> i64 {
    let digest = Sha256::digest(format!("opsbot duty {duty}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// `audit.db` → `audit.db.<duty>.lock`.
fn lock_file(db: &std::path::Path, duty: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{duty}.lock"));
    db.with_file_name(name)
}

async fn hold_file(path: PathBuf, tx: watch::Sender<bool>, retry: Duration) {
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        match file.map(|f| (f.try_lock(), f)) {
            Ok((Ok(()), held)) => {
                let _ = tx.send(true);
                // Held until this task ends (the duty is dropped or the
                // process exits); the kernel lets go of it either way.
                tx.closed().await;
                drop(held);
                return;
            }
            Ok((Err(std::fs::TryLockError::WouldBlock), _)) => {}
            Ok((Err(std::fs::TryLockError::Error(e)), _)) | Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot lock the duty file; trying again later");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = tx.closed() => return,
        }
    }
}

async fn hold_advisory(url: String, key: i64, tx: watch::Sender<bool>, retry: Duration) {
    loop {
        if let Err(e) = try_advisory(&url, key, &tx, retry).await {
            tracing::debug!(error = %e, "duty election on PostgreSQL failed; trying again");
        }
        let _ = tx.send(false);
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = tx.closed() => return,
        }
    }
}

/// One session: take the lock if free and hold it while the session lives.
async fn try_advisory(
    url: &str,
    key: i64,
    tx: &watch::Sender<bool>,
    retry: Duration,
) -> Result<(), super::AuditError> {
    let client = Target::parse(url)?.connect().await?;
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .get(0);
        if got {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = tx.closed() => return Ok(()),
        }
    }
    let _ = tx.send(true);
    // Leading while the session answers; the server lets go when it ends.
    loop {
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = tx.closed() => return Ok(()),
        }
        client.simple_query("SELECT 1").await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duty_key_is_stable_and_differs_per_duty() {
        assert_eq!(key("expiry"), key("expiry"));
        assert_ne!(key("expiry"), key("schedules"));
    }

    /// Two holders of one SQLite store's duty: one leads; when it lets go
    /// the other takes the duty at its next try.
    #[tokio::test]
    async fn of_two_processes_on_a_sqlite_store_one_leads_and_the_other_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let place = DutyPlace::Sqlite(dir.path().join("audit.db"));
        let retry = Duration::from_millis(20);
        let first = elect(&place, "expiry", retry);
        let mut w = first.watch();
        w.wait_for(|l| *l).await.unwrap();
        let second = elect(&place, "expiry", retry);
        // Another duty is elected separately.
        let other = elect(&place, "schedules", retry);
        other.watch().wait_for(|l| *l).await.unwrap();
        assert!(!second.leading());
        drop(first);
        second.watch().wait_for(|l| *l).await.unwrap();
    }
}
