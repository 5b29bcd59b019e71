//! The per-request renderer that keeps a run's story in one Slack thread.
//!
//! One task per request consumes its [`Update`]s and calls the Web API:
//! the status message (posted once, then edited in place with coalesced
//! step lines), the approval message (updated to say who decided), the
//! result, an uploaded file when the output is too long, and the audit
//! reference that closes the thread. Refusals and help go ephemeral to the
//! asker. Several requests can speak about one run (the requester's, then
//! the approver's button press); [`Threads`] maps run ids to their thread so
//! they all land in the same place.
//!
//! In a channel in incident mode every message of a run is posted at the
//! top level instead: the thread is still remembered (as the place another
//! process reopens), but nothing is hidden inside it while people watch the
//! channel's timeline. The status message is still edited in place.
//!
//! A failed Web API call is logged and skipped: the run itself is recorded
//! and carries on in the core whatever Slack does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use slack_morphism::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

use super::handler::Slack;
use super::render::{self, Approval};
use crate::chat::place::SlackPlace;
use crate::chat::view::RunView;
use crate::chat::{Chart, RunId, StepLine, Update};

/// Where each live run's messages are, shared by every renderer task.
#[derive(Default)]
pub(crate) struct Threads {
    runs: Mutex<HashMap<RunId, RunThread>>,
}

/// One run's messages in Slack.
#[derive(Debug, Clone)]
struct RunThread {
    channel: String,
    /// The thread everything after the first message goes into.
    thread_ts: Option<String>,
    status_ts: Option<String>,
    approval_ts: Option<String>,
    approval: Option<Approval>,
    /// The run as folded so far: what the status message shows.
    view: RunView,
}

impl Threads {
    fn get(&self, run: RunId) -> Option<RunThread> {
        self.lock().get(&run).cloned()
    }

    fn put(&self, run: RunId, thread: RunThread) {
        self.lock().insert(run, thread);
    }

    fn update(&self, run: RunId, f: impl FnOnce(&mut RunThread)) {
        if let Some(thread) = self.lock().get_mut(&run) {
            f(thread);
        }
    }

    fn remove(&self, run: RunId) -> Option<RunThread> {
        self.lock().remove(&run)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, RunThread>> {
        // A panic elsewhere must not stop every later run from rendering.
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Renders every update of one request until the core drops its sender.
pub(crate) async fn render(
    slack: Arc<Slack>,
    place: SlackPlace,
    first: Vec<Update>,
    mut updates: UnboundedReceiver<Update>,
) {
    let mut r = Renderer {
        slack,
        place,
        dirty: None,
        next_edit: Instant::now(),
    };
    for update in first {
        if ends_request(&update) {
            r.apply(update).await;
            r.flush().await;
            return;
        }
        r.apply(update).await;
    }
    loop {
        let deadline = r.dirty.map(|_| r.next_edit);
        tokio::select! {
            update = updates.recv() => match update {
                Some(update) if ends_request(&update) => {
                    r.apply(update).await;
                    break;
                }
                Some(update) => {
                    r.apply(update).await;
                    if r.dirty.is_some() && Instant::now() >= r.next_edit {
                        // Take everything already queued before editing once.
                        while let Ok(update) = updates.try_recv() {
                            let last = ends_request(&update);
                            r.apply(update).await;
                            if last {
                                r.flush().await;
                                return;
                            }
                        }
                        r.flush().await;
                    }
                }
                None => break,
            },
            _ = sleep_until(deadline), if deadline.is_some() => r.flush().await,
        }
    }
    r.flush().await;
}

/// Nothing follows these for one request (the seam promises exactly one
/// final update; `AwaitingApproval` is final too, but the run's later
/// updates may still come to the requester, so it keeps listening).
fn ends_request(update: &Update) -> bool {
    matches!(
        update,
        Update::Done { .. } | Update::Refused { .. } | Update::Info { .. }
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

struct Renderer {
    slack: Arc<Slack>,
    place: SlackPlace,
    /// A run whose status message has step lines not yet shown.
    dirty: Option<RunId>,
    next_edit: Instant,
}

impl Renderer {
    async fn apply(&mut self, update: Update) {
        match update {
            Update::Accepted {
                run,
                command,
                person,
            } => self.accepted(run, command, person).await,
            Update::Step { run, step } => {
                self.slack
                    .threads
                    .update(run, |t| _ = t.view.apply(&Update::Step { run, step }));
                if self.dirty.is_some_and(|d| d != run) {
                    self.flush().await;
                }
                self.dirty = Some(run);
            }
            Update::AwaitingApproval {
                run,
                command,
                person,
                plan,
                approvers,
                expires_in,
            } => {
                let approval = Approval {
                    run,
                    command,
                    person,
                    plan,
                    approvers,
                    expires_in,
                };
                self.awaiting_approval(approval).await;
            }
            Update::Decided { run, by, approved } => self.decided(run, by, approved).await,
            Update::Done {
                run,
                command,
                person,
                outcome,
                output,
                steps,
                millis,
                charts,
                ..
            } => {
                if self.dirty == Some(run) {
                    self.dirty = None;
                }
                let done = render::Done {
                    run,
                    command: &command,
                    person: &person,
                    outcome,
                    output: &output,
                    millis,
                };
                self.done(&done, steps, &charts).await;
            }
            Update::Refused {
                run,
                reason,
                detail,
            } => {
                self.ephemeral(render::refused(run, &reason, &detail)).await;
            }
            Update::Info { title, body } => self.ephemeral(render::info(&title, &body)).await,
        }
    }

    /// Tells the core which thread holds the run's story, so another
    /// process can reopen that very thread.
    fn shown(&self, run: RunId, thread: &RunThread) {
        if thread.thread_ts.is_some() {
            self.slack.core.shown(
                run,
                crate::chat::Place::Slack(SlackPlace {
                    channel: thread.channel.clone(),
                    thread_ts: thread.thread_ts.clone(),
                    ..self.place.clone()
                }),
            );
        }
    }

    /// A new thread for a run the place does not know yet.
    fn fresh(&self) -> RunThread {
        RunThread {
            channel: self.place.channel.clone(),
            thread_ts: self.place.thread_ts.clone(),
            status_ts: None,
            approval_ts: None,
            approval: None,
            view: RunView::default(),
        }
    }

    async fn accepted(&mut self, run: RunId, command: String, person: String) {
        let mut thread = self.slack.threads.get(run).unwrap_or_else(|| self.fresh());
        thread.view.apply(&Update::Accepted {
            run,
            command,
            person,
        });
        let content = render::status(&thread.view);
        match &thread.status_ts {
            Some(ts) => self.edit(&thread.channel, ts, content).await,
            None => {
                let ts = self
                    .post(&thread.channel, self.reply_to(&thread), content)
                    .await;
                if thread.thread_ts.is_none() {
                    thread.thread_ts = ts.clone();
                }
                thread.status_ts = ts;
                self.shown(run, &thread);
            }
        }
        self.slack.threads.put(run, thread);
    }

    async fn awaiting_approval(&mut self, approval: Approval) {
        let run = approval.run;
        let mut thread = self.slack.threads.get(run).unwrap_or_else(|| self.fresh());
        thread.view.apply(&Update::AwaitingApproval {
            run,
            command: approval.command.clone(),
            person: approval.person.clone(),
            plan: approval.plan.clone(),
            approvers: approval.approvers.clone(),
            expires_in: approval.expires_in.clone(),
        });
        // The request is answered at once with the plan as stated; its dry
        // run's resolved plan follows and replaces it in the same message.
        if let Some(ts) = thread.approval_ts.clone() {
            self.edit(&thread.channel, &ts, render::approval(&approval))
                .await;
            thread.approval = Some(approval);
            self.slack.threads.put(run, thread);
            return;
        }
        let ts = self
            .post(
                &thread.channel,
                self.reply_to(&thread),
                render::approval(&approval),
            )
            .await;
        if thread.thread_ts.is_none() {
            thread.thread_ts = ts.clone();
        }
        thread.approval_ts = ts;
        thread.approval = Some(approval);
        self.shown(run, &thread);
        self.slack.threads.put(run, thread);
    }

    async fn decided(&mut self, run: RunId, by: String, approved: bool) {
        let thread = self.slack.threads.get(run);
        let channel = thread
            .as_ref()
            .map_or(self.place.channel.clone(), |t| t.channel.clone());
        // The button press names the approval message; a restarted process
        // knows it only from there.
        let approval_ts = thread
            .as_ref()
            .and_then(|t| t.approval_ts.clone())
            .or_else(|| self.place.message_ts.clone());
        let content = render::decided(
            thread.as_ref().and_then(|t| t.approval.as_ref()),
            run,
            &by,
            approved,
            Utc::now(),
        );
        match approval_ts {
            Some(ts) => self.edit(&channel, &ts, content).await,
            None => {
                let thread_ts = thread
                    .as_ref()
                    .and_then(|t| t.thread_ts.clone())
                    .or_else(|| self.place.thread_ts.clone())
                    .filter(|_| !self.incident(&channel));
                self.post(&channel, thread_ts.as_deref(), content).await;
            }
        }
    }

    async fn done(&mut self, done: &render::Done<'_>, steps: Vec<StepLine>, charts: &[Chart]) {
        let thread = self
            .slack
            .threads
            .remove(done.run)
            .unwrap_or_else(|| self.fresh());
        let mut view = thread.view.clone();
        if !steps.is_empty() {
            view.steps = steps;
        }
        view.apply(&Update::Done {
            run: done.run,
            command: done.command.to_string(),
            person: done.person.to_string(),
            outcome: done.outcome,
            output: String::new(),
            steps: Vec::new(),
            millis: done.millis,
            labels: Vec::new(),
            charts: vec![],
        });
        let status = render::status(&view);
        let mut thread_ts = self.reply_to(&thread).map(str::to_string);
        match &thread.status_ts {
            Some(ts) => self.edit(&thread.channel, ts, status).await,
            None => {
                let ts = self
                    .post(&thread.channel, thread_ts.as_deref(), status)
                    .await;
                if !self.incident(&thread.channel) {
                    thread_ts = thread_ts.or(ts);
                }
            }
        }
        let result = render::result(done);
        self.post(&thread.channel, thread_ts.as_deref(), result.content)
            .await;
        if result.hidden_lines > 0 {
            let uploaded = self
                .slack
                .api
                .upload_file(
                    &SlackChannelId(thread.channel.clone()),
                    thread_ts.clone().map(SlackTs).as_ref(),
                    &format!("run-{}-output.txt", done.run),
                    &format!("run {} output", done.run),
                    done.output.as_bytes(),
                    "text/plain",
                )
                .await;
            if let Err(err) = uploaded {
                tracing::error!(run = %done.run, error = %err, "cannot upload a run's full output to Slack");
            }
        }
        // Below the answer they picture; a chart that cannot be uploaded
        // leaves the text answer, which says the same, standing.
        for chart in charts {
            let uploaded = self
                .slack
                .api
                .upload_file(
                    &SlackChannelId(thread.channel.clone()),
                    thread_ts.clone().map(SlackTs).as_ref(),
                    &chart.file_name,
                    &chart.title,
                    &chart.png,
                    "image/png",
                )
                .await;
            if let Err(err) = uploaded {
                tracing::error!(run = %done.run, chart = %chart.file_name, error = %err, "cannot upload a run's chart to Slack; the text answer stands");
            }
        }
        let reference = render::audit_reference(
            done.run,
            done.person,
            done.command,
            done.outcome,
            Utc::now(),
        );
        self.post(&thread.channel, thread_ts.as_deref(), reference)
            .await;
    }

    /// Is `channel` in incident mode (everything at the top level)?
    fn incident(&self, channel: &str) -> bool {
        self.slack.incident_channels.contains(channel)
    }

    /// The thread a new message of this run goes into: none in an incident
    /// channel.
    fn reply_to<'t>(&self, thread: &'t RunThread) -> Option<&'t str> {
        if self.incident(&thread.channel) {
            return None;
        }
        thread.thread_ts.as_deref()
    }

    /// Shows the latest step lines of the dirty run in its status message.
    async fn flush(&mut self) {
        let Some(run) = self.dirty.take() else {
            return;
        };
        self.next_edit = Instant::now() + self.slack.edit_interval;
        let Some(thread) = self.slack.threads.get(run) else {
            return;
        };
        let Some(ts) = thread.status_ts.as_deref() else {
            return;
        };
        let content = render::status(&thread.view);
        self.edit(&thread.channel, ts, content).await;
    }

    async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        content: SlackMessageContent,
    ) -> Option<String> {
        let req = SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_string()), content)
            .opt_thread_ts(thread_ts.map(|ts| SlackTs(ts.to_string())));
        match self.slack.api.post_message(&req).await {
            Ok(ts) => Some(ts.0),
            Err(err) => {
                tracing::error!(channel, error = %err, "cannot post to Slack");
                None
            }
        }
    }

    async fn edit(&self, channel: &str, ts: &str, content: SlackMessageContent) {
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            content,
            SlackTs(ts.to_string()),
        );
        if let Err(err) = self.slack.api.update_message(&req).await {
            tracing::error!(channel, error = %err, "cannot edit a Slack message");
        }
    }

    async fn ephemeral(&self, content: SlackMessageContent) {
        let req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(self.place.channel.clone()),
            SlackUserId(self.place.user.clone()),
            content,
        )
        .opt_thread_ts(self.place.thread_ts.clone().map(SlackTs));
        if let Err(err) = self.slack.api.post_ephemeral(&req).await {
            tracing::error!(channel = %self.place.channel, error = %err, "cannot post an ephemeral Slack message");
        }
    }
}
