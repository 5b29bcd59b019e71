//! The worker: one place per alert group at each of its route's
//! destinations (a Slack thread, a GitHub issue, a Discord message, see
//! [`super::destination`]), and the bounds on runs.
//!
//! Notifications are handled one at a time in arrival order, so the group
//! table needs no lock. A group's places are found again after a restart
//! from the audit log: the `where` of the runs alerts started holds the
//! group key and every place (groups that never got a run, because of the
//! storm limit or a missing hub, get new places after a restart).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::destination::{self, Outlets, Spot};
use super::payload::{Notification, Status};
use super::route::{self, Route};
use crate::audit::{AuditLog, Filter};
use crate::chat::place::Place;
use crate::chat::{Core, Request, Update};
use crate::config::AlertmanagerConfig;
use crate::jupyterhub::directory::Hub;

/// What the worker is told.
pub enum Event {
    /// A verified notification from Alertmanager.
    Notified(Box<Notification>),
    /// The run a group started has ended.
    Ended(String),
}

/// The window `max_runs_per_minute` counts in.
const WINDOW: Duration = Duration::from_secs(60);
/// How far back a restarted worker looks for its groups' threads.
const REMEMBER: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// Groups named in one storm summary before "and N more".
const SUMMARY_NAMES: usize = 40;

/// One alert group's places.
#[derive(Debug, Clone)]
struct Group {
    /// Where it was posted; a destination whose first post failed has none.
    spots: Vec<Spot>,
    running: bool,
    resolved: bool,
    notifications: u32,
}

/// The message that lists the groups a storm left undiagnosed.
struct Summary {
    since: Instant,
    ts: Option<String>,
    skipped: Vec<String>,
}

pub struct Worker {
    core: Arc<dyn Core>,
    outlets: Outlets,
    routes: Vec<Route>,
    hubs: Vec<Hub>,
    audit: AuditLog,
    person: String,
    max_runs: usize,
    started: VecDeque<Instant>,
    groups: HashMap<String, Group>,
    summaries: HashMap<String, Summary>,
    restored: bool,
    events: mpsc::Sender<Event>,
}

impl Worker {
    pub fn new(
        core: Arc<dyn Core>,
        outlets: Outlets,
        routes: Vec<Route>,
        hubs: Vec<Hub>,
        audit: AuditLog,
        cfg: &AlertmanagerConfig,
        events: mpsc::Sender<Event>,
    ) -> Worker {
        Worker {
            core,
            outlets,
            routes,
            hubs,
            audit,
            person: cfg.person.clone(),
            max_runs: cfg.max_runs_per_minute.max(1) as usize,
            started: VecDeque::new(),
            groups: HashMap::new(),
            summaries: HashMap::new(),
            restored: false,
            events,
        }
    }

    pub async fn run(mut self, mut events: mpsc::Receiver<Event>) {
        while let Some(e) = events.recv().await {
            match e {
                Event::Notified(n) => {
                    if !self.restored {
                        self.restore().await;
                    }
                    self.notified(*n).await;
                }
                Event::Ended(key) => {
                    if let Some(g) = self.groups.get_mut(&key) {
                        g.running = false;
                    }
                }
            }
        }
    }

    /// The groups' threads from the runs alerts started before a restart.
    async fn restore(&mut self) {
        self.restored = true;
        let filter = Filter {
            person: Some(self.person.clone()),
            since: Some(chrono::Utc::now() - REMEMBER),
            limit: 1000,
            ..Filter::default()
        };
        let runs = match self.audit.list(&filter).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "alertmanager: cannot read earlier alert runs; groups seen before the restart get new threads");
                return;
            }
        };
        for summary in runs {
            let Ok(records) = self.audit.run(summary.run).await else {
                continue;
            };
            let place = records
                .first()
                .and_then(|r| r.data.get("where"))
                .and_then(|w| serde_json::from_value::<Place>(w.clone()).ok());
            if let Some(Place::Alert(p)) = place {
                let spots = destination::spots(&p);
                if spots.is_empty() {
                    continue;
                }
                // Newest first: the first seen is the group's latest place.
                self.groups.entry(p.group_key).or_insert(Group {
                    spots,
                    running: false,
                    resolved: false,
                    notifications: 1,
                });
            }
        }
        tracing::info!(
            groups = self.groups.len(),
            "alertmanager: alert groups' threads restored from the audit log"
        );
    }

    async fn notified(&mut self, n: Notification) {
        // Route on the firing alerts; a resolved group on all of them.
        let firing: Vec<_> = n.firing().collect();
        let matched = if firing.is_empty() {
            route::first_match(&self.routes, n.alerts.iter())
        } else {
            route::first_match(&self.routes, firing.iter().copied())
        };
        let Some((route, alert)) = matched else {
            tracing::info!(group = %n.group_key, "alertmanager: no route matches this group; nothing to do");
            return;
        };
        let route = route.clone();
        if route.to.is_empty() {
            return;
        }
        let (labels, annotations) = (alert.labels.clone(), alert.annotations.clone());
        let key = n.group_key.clone();
        let existing = self.groups.get(&key).cloned();
        let group = match existing {
            Some(mut g) => {
                g.notifications += 1;
                for spot in &g.spots {
                    self.outlets.repeated(spot, &n, g.notifications).await;
                }
                let was_resolved = g.resolved;
                g.resolved = n.status == Status::Resolved;
                if g.resolved && !was_resolved {
                    for spot in &g.spots {
                        self.outlets.resolved(spot).await;
                    }
                } else if was_resolved && !g.resolved {
                    for spot in &g.spots {
                        self.outlets.firing_again(spot).await;
                    }
                }
                let start = was_resolved && !g.resolved;
                self.groups.insert(key.clone(), g.clone());
                if !start {
                    return;
                }
                g
            }
            None => {
                let mut spots = Vec::new();
                for d in &route.to {
                    spots.extend(self.outlets.open(d, &n).await);
                }
                let g = Group {
                    spots,
                    running: false,
                    resolved: n.status == Status::Resolved,
                    notifications: 1,
                };
                self.groups.insert(key.clone(), g.clone());
                if g.resolved {
                    // Nothing to diagnose; an issue opened for it is done.
                    for spot in &g.spots {
                        self.outlets.close(spot).await;
                    }
                    return;
                }
                g
            }
        };
        if group.running {
            return;
        }
        let now = Instant::now();
        while self
            .started
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.started.pop_front();
        }
        if self.started.len() >= self.max_runs {
            let note = format!(
                "Not diagnosed: more alert groups arrived than the {} diagnoses per minute opsbot starts (`alertmanager.max_runs_per_minute`). Ask `{}` yourself if it still matters.",
                self.max_runs,
                route.command
            );
            for spot in &group.spots {
                if let Some(channel) = spot.slack_channel() {
                    self.summarise(channel, &n).await;
                }
                self.outlets.note(spot, &note).await;
            }
            return;
        }
        let text = match route::command_for(&route, &labels, &annotations, &self.hubs) {
            Ok(t) => t,
            Err(e) => {
                for spot in &group.spots {
                    self.outlets
                        .note(spot, &format!("Not diagnosed: {e}."))
                        .await;
                }
                return;
            }
        };
        self.started.push_back(now);
        if let Some(g) = self.groups.get_mut(&key) {
            g.running = true;
        }
        self.start(key, n.receiver.clone(), group, text).await;
    }

    /// Submits the diagnosis as the alertmanager person and follows it
    /// into each of the group's places.
    async fn start(&mut self, key: String, receiver: String, group: Group, text: String) {
        let req = Request {
            sender: self.person.clone(),
            text,
            place: Place::Alert(destination::place(&key, &receiver, &group.spots)),
            memberships: Vec::new(),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.core.submit(req, tx).await;
        let outlets = self.outlets.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let mut followers = Vec::new();
            let mut feeds = Vec::new();
            for spot in &group.spots {
                let (ftx, frx) = mpsc::unbounded_channel();
                let (o, spot) = (outlets.clone(), spot.clone());
                followers.push(tokio::spawn(async move { o.follow(spot, frx).await }));
                feeds.push(ftx);
            }
            while let Some(u) = rx.recv().await {
                // Nobody is there to see an answer meant for the asker only.
                let note = match &u {
                    Update::Refused { reason, detail, .. } => {
                        Some(format!("Not diagnosed: {reason}. {detail}"))
                    }
                    Update::Info { title, body } => Some(format!("*{title}*\n{body}")),
                    _ => None,
                };
                match note {
                    Some(text) => {
                        for spot in &group.spots {
                            outlets.note(spot, &text).await;
                        }
                    }
                    None => {
                        for f in &feeds {
                            let _ = f.send(u.clone());
                        }
                    }
                }
            }
            drop(feeds);
            for f in followers {
                let _ = f.await;
            }
            let _ = events.send(Event::Ended(key)).await;
        });
    }

    /// Adds a group to its channel's storm summary (one message per
    /// window, edited as more groups are left out).
    async fn summarise(&mut self, channel: &str, n: &Notification) {
        let now = Instant::now();
        let fresh = self
            .summaries
            .get(channel)
            .is_none_or(|s| now.duration_since(s.since) >= WINDOW);
        if fresh {
            self.summaries.insert(
                channel.to_string(),
                Summary {
                    since: now,
                    ts: None,
                    skipped: Vec::new(),
                },
            );
        }
        let Some(s) = self.summaries.get_mut(channel) else {
            return;
        };
        s.skipped.push(summary_line(n));
        let text = summary_text(self.max_runs, &s.skipped);
        let ts = s.ts.clone();
        match ts {
            Some(ts) => self.edit(channel, &ts, &text).await,
            None => {
                let ts = self.post(channel, None, &text).await;
                if let Some(s) = self.summaries.get_mut(channel) {
                    s.ts = ts;
                }
            }
        }
    }

    async fn post(&self, channel: &str, thread_ts: Option<&str>, text: &str) -> Option<String> {
        let slack = self.outlets.slack.as_ref()?;
        match slack.post(channel, thread_ts, text).await {
            Ok(ts) => Some(ts),
            Err(e) => {
                tracing::error!(channel, error = %e, "alertmanager: cannot post to Slack");
                None
            }
        }
    }

    async fn edit(&self, channel: &str, ts: &str, text: &str) {
        if let Some(slack) = &self.outlets.slack {
            if let Err(e) = slack.edit(channel, ts, text).await {
                tracing::error!(channel, error = %e, "alertmanager: cannot edit a Slack message");
            }
        }
    }
}

/// Slack's own escaping for text put inside mrkdwn.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The group's first message: state, name, count, the labels that
/// matter, and the first alert's summary.
pub fn header(n: &Notification) -> String {
    let firing = n.firing().count();
    let mut out = match n.status {
        Status::Firing => format!(
            "🔥 *FIRING* `{}`: {firing} alert(s)",
            escape(&n.title()).replace('`', "'")
        ),
        Status::Resolved => format!(
            "✅ *RESOLVED* `{}`: {} alert(s) ended",
            escape(&n.title()).replace('`', "'"),
            n.alerts.len()
        ),
    };
    if n.truncated_alerts > 0 {
        let _ = write!(out, " (+{} not sent by Alertmanager)", n.truncated_alerts);
    }
    let labels: Vec<String> = ["cluster", "namespace", "severity", "pod", "deployment"]
        .iter()
        .filter_map(|k| {
            n.common_labels
                .get(*k)
                .map(|v| format!("{k}={}", escape(v)))
        })
        .collect();
    if !labels.is_empty() {
        let _ = write!(out, "\n{}", labels.join(" · "));
    }
    let first = n.firing().next().or(n.alerts.first());
    if let Some(text) = first.and_then(|a| {
        a.annotations
            .get("summary")
            .or_else(|| a.annotations.get("description"))
            .or_else(|| a.annotations.get("message"))
    }) {
        let text: String = text.chars().take(300).collect();
        let _ = write!(out, "\n> {}", escape(&text).replace('\n', " "));
    }
    let _ = write!(
        out,
        "\n_from Alertmanager receiver `{}`; opsbot's diagnosis follows_",
        escape(&n.receiver).replace('`', "'")
    );
    out
}

fn summary_line(n: &Notification) -> String {
    let labels: Vec<String> = ["cluster", "namespace", "pod", "deployment"]
        .iter()
        .filter_map(|k| {
            n.common_labels
                .get(*k)
                .map(|v| format!("{k}={}", escape(v)))
        })
        .collect();
    format!(
        "`{}` {}",
        escape(&n.title()).replace('`', "'"),
        labels.join(" ")
    )
}

fn summary_text(limit: usize, skipped: &[String]) -> String {
    let mut out = format!(
        "⚠️ *Alert storm*: {} alert group(s) arrived past the {limit} diagnoses per minute opsbot starts, and were not diagnosed:",
        skipped.len()
    );
    for line in skipped.iter().take(SUMMARY_NAMES) {
        let _ = write!(out, "\n• {line}");
    }
    if skipped.len() > SUMMARY_NAMES {
        let _ = write!(out, "\n…and {} more", skipped.len() - SUMMARY_NAMES);
    }
    out
}
