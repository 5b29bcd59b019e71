//! Schedules: read-only commands opsbot runs by itself at cron times
//! (`schedules:` in `opsbot.yaml`), each run in its own Slack thread.
//!
//! One task walks every schedule's next due time. When one is due, the run
//! is started only if (1) this process does the `schedules` duty (one
//! replica does: the same election as the approval-expiry sweeper) and
//! (2) the store has not seen this schedule at this due time before
//! ([`Core::first_delivery`]), which keeps it to one run per due time even
//! when two processes believe they lead for a moment. A due time missed
//! while no opsbot ran is not caught up: the next one is.
//!
//! Time comes from a [`Clock`], so tests run a schedule under a frozen
//! clock they move by hand.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::chat::place::{Place, SchedulePlace};
use crate::chat::slack::Notifier;
use crate::chat::{Core, Request};
use crate::config::Schedule;

/// The singleton duty of running schedules (one replica does).
pub const DUTY: &str = "schedules";

/// Where the scheduler reads the time and waits for it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once [`Clock::now`] has reached `at`.
    fn sleep_until(&self, at: DateTime<Utc>) -> futures::future::BoxFuture<'_, ()>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            // Re-checked in a loop: the wall clock may be stepped meanwhile.
            loop {
                let left = at - Utc::now();
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(std::time::Duration::from_secs(60))).await;
            }
        })
    }
}

/// Whether this process does the `schedules` duty now.
pub use crate::runs::leader::Leading;

/// The scheduler's parts.
pub struct Scheduler {
    pub core: Arc<dyn Core>,
    pub slack: Notifier,
    pub schedules: Vec<Schedule>,
    pub leading: Leading,
    pub clock: Arc<dyn Clock>,
}

/// A schedule with its parsed expression and next due time.
struct Entry {
    schedule: Schedule,
    cron: croner::Cron,
    due: Option<DateTime<Utc>>,
}

impl Scheduler {
    /// Runs until the task is dropped. Schedules whose expression does not
    /// parse were refused when the config was loaded.
    pub async fn run(self) {
        let now = self.clock.now();
        let mut entries: Vec<Entry> = self
            .schedules
            .iter()
            .filter_map(|s| {
                let cron = crate::config::parse_cron(&s.cron).ok()?;
                let due = cron.find_next_occurrence(&now, false).ok();
                Some(Entry {
                    schedule: s.clone(),
                    cron,
                    due,
                })
            })
            .collect();
        loop {
            let Some(next) = entries.iter().filter_map(|e| e.due).min() else {
                return;
            };
            self.clock.sleep_until(next).await;
            let now = self.clock.now();
            for e in entries.iter_mut() {
                let Some(due) = e.due.filter(|d| *d <= now) else {
                    continue;
                };
                e.due = e.cron.find_next_occurrence(&now, false).ok();
                if (self.leading)() {
                    self.fire(&e.schedule, due).await;
                }
            }
        }
    }

    /// Starts `schedule`'s run for `due` (once per due time in the store)
    /// and follows it into a new thread in its channel.
    async fn fire(&self, schedule: &Schedule, due: DateTime<Utc>) {
        let due = due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match self
            .core
            .first_delivery("schedule", &format!("{}@{due}", schedule.name))
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(schedule = %schedule.name, error = %e, "cannot record the scheduled run's due time; skipping it");
                return;
            }
        }
        let header = format!(
            ":alarm_clock: *{}*: `{}` (scheduled `{}`, due {due})",
            schedule.name, schedule.command, schedule.cron
        );
        let ts = match self
            .slack
            .post(&schedule.slack_channel, None, &header)
            .await
        {
            Ok(ts) => ts,
            Err(e) => {
                tracing::error!(schedule = %schedule.name, error = %e, "cannot post the scheduled run's thread; not running it");
                return;
            }
        };
        let req = Request {
            sender: schedule.person.clone(),
            text: schedule.command.clone(),
            place: Place::Schedule(SchedulePlace {
                schedule: schedule.name.clone(),
                due,
                slack_channel: schedule.slack_channel.clone(),
                thread_ts: Some(ts.clone()),
            }),
            memberships: Vec::new(),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.core.submit(req, tx).await;
        let (slack, channel) = (self.slack.clone(), schedule.slack_channel.clone());
        tokio::spawn(async move { slack.follow_run(&channel, &ts, "Not run", rx).await });
    }
}
