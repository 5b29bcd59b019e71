//! The one retry policy: every chat platform's API calls and every playbook step go through it.
//!
//! Each adapter says only which of its client's errors are worth another
//! try ([`Retry`]); how long to wait, how often, and the cap on a server's
//! `Retry-After` are decided here, once, so Slack, GitHub and Discord back
//! off the same way and a misbehaving server cannot park a task for an hour.

use std::future::Future;
use std::time::Duration;

/// Whether (and how) a failed call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient (5xx, connection reset, timeout): back off exponentially.
    Backoff,
    /// The server said how long to wait (429 `Retry-After`); capped at
    /// [`RetryPolicy::max_delay`].
    After(Duration),
    /// Permanent (bad request, forbidden, not found): fail at once.
    Never,
}

/// How API calls are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts per call, the first one included.
    pub max_attempts: u32,
    /// First backoff for transient failures; doubles per attempt.
    pub base_delay: Duration,
    /// No single wait (backoff or `Retry-After`) is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// A call that failed for good: its last error and how often it was tried.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

impl RetryPolicy {
    /// How long to wait after failed attempt number `attempt` (1-based).
    pub fn delay(&self, retry: Retry, attempt: u32) -> Option<Duration> {
        match retry {
            Retry::Never => None,
            Retry::After(wait) => Some(wait.min(self.max_delay)),
            Retry::Backoff => {
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
                Some(self.base_delay.saturating_mul(factor).min(self.max_delay))
            }
        }
    }

    /// Run `call` until it succeeds, `classify` calls its error permanent,
    /// or the attempts are used up. Each retry is logged with `what` (the
    /// platform and method, never request data).
    pub async fn run<T, E, F, Fut>(
        &self,
        what: &str,
        classify: impl Fn(&E) -> Retry,
        mut call: F,
    ) -> Result<T, GaveUp<E>>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let wait = match self.delay(classify(&error), attempt) {
                Some(wait) if attempt < self.max_attempts => wait,
                _ => {
                    return Err(GaveUp {
                        error,
                        attempts: attempt,
                    })
                }
            };
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "{what} failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        }
    }

    #[test]
    fn backoff_doubles_and_a_servers_retry_after_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(Retry::Backoff, 1), Some(Duration::from_millis(250)));
        assert_eq!(
            p.delay(Retry::Backoff, 3),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(p.delay(Retry::Backoff, 30), Some(Duration::from_secs(30)));
        assert_eq!(
            p.delay(Retry::After(Duration::from_secs(3600)), 1),
            Some(Duration::from_secs(30))
        );
        assert_eq!(p.delay(Retry::Never, 1), None);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_the_attempts_are_used_up() {
        let calls = AtomicU32::new(0);
        let out: Result<(), GaveUp<String>> = quick()
            .run(
                "test call",
                |_| Retry::Backoff,
                || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err("503".to_string()) }
                },
            )
            .await;
        let gave_up = out.unwrap_err();
        assert_eq!((gave_up.attempts, gave_up.error.as_str()), (3, "503"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_fail_at_once_and_success_ends_the_loop() {
        let calls = AtomicU32::new(0);
        let out: Result<(), GaveUp<String>> = quick()
            .run(
                "test call",
                |_| Retry::Never,
                || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err("404".to_string()) }
                },
            )
            .await;
        assert_eq!(out.unwrap_err().attempts, 1);
        let n = AtomicU32::new(0);
        let ok: Result<u32, GaveUp<String>> = quick()
            .run(
                "test call",
                |_| Retry::Backoff,
                || {
                    let k = n.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if k == 0 {
                            Err("reset".to_string())
                        } else {
                            Ok(k)
                        }
                    }
                },
            )
            .await;
        assert_eq!(ok.unwrap(), 1);
    }
}
