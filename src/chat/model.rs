//! The platform-neutral conversation model at the bottom of the import graph:
//! what a person asked ([`Request`]), from where ([`Platform`]), and what
//! opsbot answers ([`Update`]). It imports nothing of opsbot's, so the config,
//! the runner and every adapter can share it without a cycle.

use serde::Serialize;
use tokio::sync::mpsc;

use futures::future::BoxFuture;

use super::place::Place;

/// A run's number: its audit log key, shown in every reply ("run 42").
///
/// A newtype rather than a bare `i64` so a run number cannot be confused
/// with a count, a duration or a sequence number; it serialises as the plain
/// number, so audit records and JSON answers are unchanged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl RunId {
    /// The number as stored in the audit log.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for RunId {
    fn from(n: i64) -> RunId {
        RunId(n)
    }
}

impl std::str::FromStr for RunId {
    type Err = std::num::ParseIntError;

    /// Accepts what people type after `approve`, `deny`, `cancel`, `audit`:
    /// `42` or `#42`.
    fn from_str(s: &str) -> Result<RunId, Self::Err> {
        s.trim().trim_start_matches('#').parse().map(RunId)
    }
}

impl PartialEq<i64> for RunId {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

/// Where a request came from; people are linked to an id on each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Slack,
    Github,
    Discord,
    Console,
    /// A run an Alertmanager notification started (the receiver's person).
    Alertmanager,
    /// A run a schedule started (the schedule's person).
    Schedule,
}

impl Platform {
    /// The lower-case name used in metrics, records and messages.
    pub fn word(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Github => "github",
            Platform::Discord => "discord",
            Platform::Console => "console",
            Platform::Alertmanager => "alertmanager",
            Platform::Schedule => "schedule",
        }
    }
}

/// What a person asked, from where. The platform id is resolved to a person
/// by [`crate::runs`]; adapters never decide who someone is.
#[derive(Debug, Clone)]
pub struct Request {
    /// The sender's id on that platform (Slack user id, the `people[].github`
    /// value the GitHub account id resolved to (or `id:N`), Discord
    /// user id, or the person id for the console).
    pub sender: String,
    /// The command text with any `/ops` or mention prefix already stripped.
    pub text: String,
    /// Where the answer goes (channel + thread, issue number, interaction
    /// token...), kept in the audit record so a restarted process can still
    /// tell the thread what happened.
    pub place: Place,
    /// Groups the platform says the sender belongs to (Discord guild role
    /// ids; GitHub `org/team` slugs), turned into opsbot roles by the config
    /// (`discord.roles`, `github.teams`) for this request only.
    pub memberships: Vec<String>,
}

impl Request {
    /// The platform the request came from (its place says).
    pub fn platform(&self) -> Platform {
        self.place.platform()
    }
}

/// The `reason` of the refusal a full queue gives: adapters that must not
/// answer every such refusal (GitHub's API budget) recognise it by this.
pub const BUSY: &str = "opsbot is busy";

/// How a run (or a refused request) ended, for colours, reactions and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Partial,
    Cancelled,
    Denied,
    Interrupted,
}

impl Outcome {
    /// The word people read in replies and `audit list`.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Partial => "partially failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Denied => "denied",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One step's line in a run's live progress.
#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    pub id: String,
    pub action: String,
    pub target: String,
    /// `ok`, `skipped`, `failed: …`, `partial: 2 ok, 1 failed`.
    pub outcome: String,
    pub millis: u64,
    pub dry_run: bool,
}

/// A PNG picture of a run's answer (a range query drawn as lines).
///
/// The bytes are shared (runs hand one chart to every platform) and never
/// serialised or printed: audit records and logs name the chart and its
/// size, not tens of kilobytes of image.
#[derive(Clone, PartialEq, Eq)]
pub struct Chart {
    /// `pool-usage-run-42.png`: what the upload is called.
    pub file_name: String,
    /// What it shows (the upload's title, the alt text).
    pub title: String,
    pub png: std::sync::Arc<[u8]>,
}

impl Serialize for Chart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Chart", 3)?;
        st.serialize_field("file_name", &self.file_name)?;
        st.serialize_field("title", &self.title)?;
        st.serialize_field("bytes", &self.png.len())?;
        st.end()
    }
}

impl std::fmt::Debug for Chart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chart")
            .field("file_name", &self.file_name)
            .field("title", &self.title)
            .field("bytes", &self.png.len())
            .finish()
    }
}

/// Something to show the person, in order. A request produces exactly one
/// final update (`Done`, `Refused`, `Info` or `AwaitingApproval`); runs add
/// `Accepted` and `Step`s before it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// The run is recorded and queued: the adapter's fast answer.
    Accepted {
        run: RunId,
        command: String,
        person: String,
    },
    /// A step finished.
    Step { run: RunId, step: StepLine },
    /// A mutating run waits for someone else: show the plan and who can approve.
    AwaitingApproval {
        run: RunId,
        command: String,
        person: String,
        plan: Vec<String>,
        approvers: Vec<String>,
        expires_in: String,
    },
    /// Someone approved or denied a run.
    Decided {
        run: RunId,
        by: String,
        approved: bool,
    },
    /// The run ended; `output` is the playbook's result text (Markdown).
    Done {
        run: RunId,
        command: String,
        person: String,
        outcome: Outcome,
        output: String,
        steps: Vec<StepLine>,
        millis: u64,
        /// Short names classifying the answer (the playbook's `labels:`, e.g.
        /// `triage: image-pull`), for platforms that can tag the conversation:
        /// GitHub labels the issue. Empty for most runs.
        labels: Vec<String>,
        /// Pictures of the answer (the playbook's `chart:`), for platforms
        /// that show images: Slack uploads them into the thread, Discord
        /// attaches them. Empty for most runs.
        charts: Vec<Chart>,
    },
    /// Nothing ran: not set up, parse error, denied, busy. Shown only to the asker.
    Refused {
        run: Option<RunId>,
        reason: String,
        detail: String,
    },
    /// A builtin's answer (help, runs, audit, clusters, hubs): shown only to the asker.
    Info { title: String, body: String },
}

impl Update {
    /// Whether this update ends what one request produces.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Update::Done { .. }
                | Update::Refused { .. }
                | Update::Info { .. }
                | Update::AwaitingApproval { .. }
        )
    }

    /// The run this update is about, if any.
    pub fn run(&self) -> Option<RunId> {
        match self {
            Update::Accepted { run, .. }
            | Update::Step { run, .. }
            | Update::AwaitingApproval { run, .. }
            | Update::Decided { run, .. }
            | Update::Done { run, .. } => Some(*run),
            Update::Refused { run, .. } => *run,
            Update::Info { .. } => None,
        }
    }
}

/// Where a request's updates go. Adapters create one per request (or per
/// conversation) and render what arrives.
pub type Replies = mpsc::UnboundedSender<Update>;

/// What a chat adapter needs from the core (implemented by `runs::Runs` in
/// the assembled crate). Adapters are written against this trait so they
/// can be tested with a recording fake.
pub trait Core: Send + Sync + 'static {
    /// Handle one request: identify, parse, decide, record durably, queue.
    /// Returns once the request is recorded and acknowledged (the playbook
    /// runs later); every [`Update`] goes to `replies`, exactly one final.
    fn submit(&self, req: Request, replies: Replies) -> BoxFuture<'_, ()>;
    /// `Ok(true)` the first time a delivery id is seen (durable across
    /// restarts): webhook redeliveries and event retries must not run twice.
    fn first_delivery<'a>(
        &'a self,
        source: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// The "busy" refusal when the run queue has no place left for the
    /// playbook `text` asks for (not counted: the caller that answers with
    /// it counts it with [`Core::refused`]),
    /// asked before a platform writes its durable dedup mark: a burst past
    /// the queue is refused at the cost of a channel check, not an fsync
    /// each. `None` says go on; [`Core::submit`] still refuses if the last
    /// place is taken in between. A refused delivery is not marked, so a
    /// redelivery of it may run: it never ran.
    fn busy(&self, _text: &str) -> Option<Update> {
        None
    }
    /// Count a request refused before the core saw it (bad signature, stale
    /// timestamp, oversized body...), by platform and reason.
    fn refused(&self, platform: &str, reason: &str);
    /// Names for autocomplete: command names, hub names, cluster names.
    fn completions(&self) -> Completions;
    /// Values for an argument someone is typing that only the core can
    /// know (a hub's users, the runs they may act on), limited to what that
    /// person may see. Answered within a platform's autocomplete deadline:
    /// nothing rather than late.
    fn suggest<'a>(&'a self, ask: Ask<'a>) -> BoxFuture<'a, Vec<Choice>>;
    /// A platform offers to speak into its conversations again from a
    /// request's [`crate::chat::Place`] alone: how a run whose process
    /// stopped gets its ending into its thread from another process.
    fn reopen_with(&self, _reopen: std::sync::Arc<dyn Reopen>) {}
    /// The conversation a run's story is shown in, once the platform knows
    /// it (a Slack thread's ts exists only after the first post), so that
    /// another process can reopen that very thread.
    fn shown(&self, _run: RunId, _place: crate::chat::Place) {}
}

/// Replies into an existing conversation, built from where it is.
pub trait Reopen: Send + Sync + 'static {
    /// A sender whose updates reach the conversation at `place`, or `None`
    /// when `place` is not on this platform.
    fn reopen(&self, place: &crate::chat::Place) -> Option<Replies>;
}

/// One autocomplete question: who is typing, for which command, what.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub platform: Platform,
    /// The platform's id of the person typing (as in [`Request::sender`]).
    pub sender: &'a str,
    /// The command's canonical name (`user status`, `approve`).
    pub command: &'a str,
    pub what: AskFor<'a>,
    /// What has been typed into the option so far.
    pub typed: &'a str,
}

/// What an autocomplete question is about.
#[derive(Debug, Clone)]
pub enum AskFor<'a> {
    /// JupyterHub users with a server (running or starting) on this hub.
    Users { hub: &'a str },
    /// Runs: for `approve`/`deny` those awaiting approval, for `cancel`
    /// those not yet ended, otherwise the most recent.
    Runs,
}

/// One suggestion: what the person sees, and the value filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub value: ChoiceValue,
}

/// A suggestion's value, typed as the option it fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceValue {
    Text(String),
    Number(i64),
}

/// Names a platform can offer while a person types.
#[derive(Debug, Clone, Default)]
pub struct Completions {
    pub commands: Vec<String>,
    pub hubs: Vec<String>,
    pub clusters: Vec<String>,
}
