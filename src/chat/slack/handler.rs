//! The ack path shared by the HTTP endpoints and Socket Mode.
//!
//! For one verified, parsed payload: deduplicate Events API deliveries,
//! await `core.submit` (the durable record, nothing more), choose the
//! immediate answer, and hand the rest of the conversation to a spawned
//! [`thread`](super::thread) renderer. Nothing here calls the Slack Web API,
//! so the answer never waits on Slack or on a cluster.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tokio::sync::{mpsc, Semaphore};

use super::api::SlackApi;
use super::inbound::Inbound;
use super::render;
use super::thread::{self, Threads};
use super::SlackSettings;
use crate::chat::place::SlackSource;
use crate::chat::{Core, Update};

/// The adapter's shared state: one per process, behind an `Arc`.
pub(crate) struct Slack {
    pub core: Arc<dyn Core>,
    pub api: SlackApi,
    pub verifier: super::verify::Verifier,
    pub edit_interval: Duration,
    pub threads: Threads,
    /// Bounds the spawned renderer tasks, so a flood of requests (or a
    /// Slack outage that makes every call retry) cannot grow memory without
    /// limit or starve the ack path.
    pub renderers: Arc<Semaphore>,
    pub max_live_threads: usize,
    /// Channels whose runs post at the top level (incident mode).
    pub incident_channels: std::collections::BTreeSet<String>,
}

/// What Slack gets back right away, over HTTP or in a Socket Mode ack.
#[derive(Debug)]
pub(crate) enum Ack {
    /// 200 with no body: Slack shows nothing.
    Empty,
    /// `url_verification`'s answer.
    Challenge(String),
    /// A message only the asker sees (slash commands only).
    Ephemeral(SlackMessageContent),
    /// The dedup store could not answer: 503, so Slack retries later
    /// instead of us risking a second run.
    Unavailable,
}

impl Slack {
    pub fn new(core: Arc<dyn Core>, settings: &SlackSettings) -> anyhow::Result<Self> {
        let api = SlackApi::new(
            &settings.api_url,
            &settings.bot_token,
            settings.retry.clone(),
        )?;
        let secret = SlackSigningSecret::new(settings.signing_secret.expose_secret().to_string());
        Ok(Slack {
            core,
            api,
            verifier: super::verify::Verifier {
                signature: SlackEventSignatureVerifier::new(&secret),
                max_body: settings.max_body_bytes,
            },
            edit_interval: settings.edit_interval,
            threads: Threads::default(),
            renderers: Arc::new(Semaphore::new(settings.max_live_threads)),
            max_live_threads: settings.max_live_threads,
            incident_channels: settings.incident_channels.clone(),
        })
    }

    /// Records delivery `id` as seen; `Some(ack)` when it was seen before
    /// (or cannot be checked) and nothing must run.
    async fn first_time(&self, id: Option<&str>) -> Option<Ack> {
        let id = id?;
        match self.core.first_delivery("slack-event", id).await {
            Ok(true) => None,
            Ok(false) => {
                tracing::info!(event_id = id, "Slack event seen before; not run again");
                self.core.refused("slack", "duplicate_delivery");
                Some(Ack::Empty)
            }
            Err(err) => {
                tracing::error!(event_id = id, error = %err, "cannot check Slack event for redelivery");
                Some(Ack::Unavailable)
            }
        }
    }

    /// Handles one inbound payload and returns the immediate answer; the
    /// run's later updates are rendered by a spawned task.
    pub async fn handle(self: &Arc<Self>, inbound: Inbound) -> Ack {
        let (request, place, delivery) = match inbound {
            Inbound::Challenge(challenge) => return Ack::Challenge(challenge),
            Inbound::Ignored(why) => {
                tracing::debug!(why, "Slack payload ignored");
                return Ack::Empty;
            }
            Inbound::Command {
                request,
                place,
                delivery,
            } => (request, place, delivery),
        };
        let text = request.text.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        if let Some(busy) = self.core.busy(&text) {
            self.core.refused("slack", "busy");
            let _ = tx.send(busy);
            drop(tx);
        } else {
            if let Some(stop) = self.first_time(delivery.as_deref()).await {
                return stop;
            }
            self.core.submit(request, tx).await;
        }
        let mut ready = Vec::new();
        while let Ok(update) = rx.try_recv() {
            ready.push(update);
        }
        let mut ack = match place.source {
            SlackSource::SlashCommand => slash_answer(&text, &mut ready),
            SlackSource::Mention | SlackSource::Button => Ack::Empty,
        };
        // Nothing left to render when the core already dropped its sender
        // (checked before emptiness: a send just before the drop still counts).
        if ready.is_empty() && rx.is_closed() && rx.is_empty() {
            return ack;
        }
        match self.renderers.clone().try_acquire_owned() {
            Ok(permit) => {
                let slack = self.clone();
                tokio::spawn(async move {
                    thread::render(slack, place, ready, rx).await;
                    drop(permit);
                });
            }
            Err(_) => {
                // Overload: the run is recorded and goes on; only its Slack
                // thread is skipped, and the asker is told where to look.
                let run = ready.iter().find_map(Update::run);
                tracing::warn!(
                    run = ?run,
                    limit = self.max_live_threads,
                    "too many runs are being rendered in Slack; this one is not followed in a thread"
                );
                self.core.refused("slack", "render_overloaded");
                if let (Ack::Ephemeral(content), Some(run)) = (&mut ack, run) {
                    let text = content.text.get_or_insert_with(String::new);
                    text.push_str(&format!(
                        " (opsbot is busy and will not post progress here; follow it with `/ops audit {run}`)"
                    ));
                }
            }
        }
        ack
    }
}

/// A slash command's HTTP answer is an ephemeral message: the ack line for
/// an accepted run, or the whole refusal / help text when that is all there
/// is (then nothing else needs posting).
fn slash_answer(text: &str, ready: &mut Vec<Update>) -> Ack {
    let only_private =
        ready.len() == 1 && matches!(ready[0], Update::Refused { .. } | Update::Info { .. });
    if only_private {
        return match ready.remove(0) {
            Update::Refused {
                run,
                reason,
                detail,
            } => Ack::Ephemeral(render::refused(run, &reason, &detail)),
            Update::Info { title, body } => Ack::Ephemeral(render::info(&title, &body)),
            _ => Ack::Empty,
        };
    }
    let line = ready.iter().find_map(|u| match u {
        Update::Accepted { run, command, .. } => Some(render::ack_text(command, *run)),
        Update::AwaitingApproval { run, command, .. } => Some(format!(
            "run {run} `{}` needs approval; the plan is posted in this channel",
            render::escape(&command.replace('`', "'"))
        )),
        _ => None,
    });
    let line = line.unwrap_or_else(|| {
        format!(
            "received `{}`, working on it",
            render::escape(&text.replace('`', "'"))
        )
    });
    Ack::Ephemeral(SlackMessageContent::new().with_text(line))
}

/// The HTTP body of an ephemeral slash command answer.
pub(crate) fn ephemeral_json(content: &SlackMessageContent) -> serde_json::Value {
    let mut value = serde_json::to_value(content).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(map) = value.as_object_mut() {
        map.insert("response_type".into(), "ephemeral".into());
    }
    value
}
