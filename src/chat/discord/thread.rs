//! One task per interaction that keeps its message up to date after the
//! HTTP answer: every update is folded into a [`RunView`] and the original
//! response is edited (edits are coalesced: whatever arrived while the last
//! edit was in flight goes out as one). Interaction tokens last 15 minutes;
//! a run that outlives its token ends with a message in the channel instead
//! (which needs `DISCORD_BOT_TOKEN`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::builder::Builder as _;
use serenity::http::Http;
use serenity::model::id::ChannelId;
use tokio::sync::mpsc::UnboundedReceiver;

use super::api;
use super::render::{self, Message};
use crate::chat::view::RunView;
use crate::chat::{Chart, Update};
use serenity::builder::{CreateAllowedMentions, CreateAttachment, CreateMessage};

/// Interaction tokens are valid for 15 minutes; keep a margin.
const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);

/// Where a story's message lives.
pub struct Thread {
    pub http: Arc<Http>,
    pub token: String,
    pub channel: ChannelId,
    pub opened: Instant,
}

/// Follow a request's updates until its channel closes. `story` holds what
/// the HTTP answer already folded in; `show_now` edits the original response
/// at once (the answer was a deferred "thinking…" response).
pub fn spawn(
    thread: Thread,
    mut story: RunView,
    mut rx: UnboundedReceiver<Update>,
    show_now: bool,
) {
    tokio::spawn(async move {
        if show_now {
            thread.show(&story).await;
        }
        let mut expired_note_sent = false;
        while let Some(first) = rx.recv().await {
            let mut changed = false;
            let mut pending = vec![first];
            while let Ok(more) = rx.try_recv() {
                pending.push(more);
            }
            let charts: Vec<Chart> = pending
                .iter()
                .flat_map(|u| match u {
                    Update::Done { charts, .. } => charts.clone(),
                    _ => Vec::new(),
                })
                .collect();
            for u in pending {
                if story.apply(&u) {
                    changed = true;
                } else {
                    thread.private(&u).await;
                }
            }
            if !changed {
                continue;
            }
            if thread.opened.elapsed() < TOKEN_LIFETIME {
                thread.show(&story).await;
            } else if story.finished() || !expired_note_sent {
                // Past the token's life only the channel is reachable: say
                // once that the run goes on, then post its end.
                expired_note_sent = true;
                thread.to_channel(&story).await;
            }
            if !charts.is_empty() {
                thread.charts(&story, charts).await;
            }
        }
    });
}

impl Thread {
    async fn show(&self, story: &RunView) {
        let result = api::retry("editing the reply", || {
            render::story(story)
                .into_edit()
                .execute(&*self.http, &self.token)
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(run = ?story.run, error = %e, "discord: editing the reply failed; giving up on this edit");
        }
    }

    /// A refusal or note that arrives after the answer (for example "1 of 2
    /// approvals"): an ephemeral follow-up only the asker sees.
    async fn private(&self, u: &Update) {
        if self.opened.elapsed() >= TOKEN_LIFETIME {
            return;
        }
        let m: Message = render::private(u);
        let file = m.file.clone();
        let followup = serenity::builder::CreateInteractionResponseFollowup::new()
            .content(m.content)
            .ephemeral(true)
            .files(file);
        if let Err(e) = followup.execute(&*self.http, (None, &self.token)).await {
            tracing::warn!(error = %e, "discord: follow-up failed");
        }
    }

    /// A run's charts, as attachments of one message under its answer: a
    /// public follow-up while the interaction token lives, else a channel
    /// message. The text answer says the same, so a failure is only logged.
    async fn charts(&self, story: &RunView, charts: Vec<Chart>) {
        let run = story
            .run
            .map(|r| r.to_string())
            .unwrap_or_else(|| "?".into());
        let titles: Vec<String> = charts.iter().map(|c| c.title.clone()).collect();
        let content = format!("📈 run {run}: {}", titles.join(" · "));
        let files: Vec<CreateAttachment> = charts
            .into_iter()
            .map(|c| CreateAttachment::bytes(c.png.to_vec(), c.file_name))
            .collect();
        let sent = if self.opened.elapsed() < TOKEN_LIFETIME {
            serenity::builder::CreateInteractionResponseFollowup::new()
                .content(content)
                .allowed_mentions(CreateAllowedMentions::new())
                .files(files)
                .execute(&*self.http, (None, &self.token))
                .await
                .map(|_| ())
        } else {
            let msg = CreateMessage::new()
                .content(content)
                .allowed_mentions(CreateAllowedMentions::new())
                .files(files);
            self.channel
                .send_message(&*self.http, msg)
                .await
                .map(|_| ())
        };
        if let Err(e) = sent {
            tracing::warn!(run = ?story.run, error = %e, "discord: attaching the run's chart failed; the text answer stands");
        }
    }

    async fn to_channel(&self, story: &RunView) {
        let msg = render::story(story).into_channel_message();
        if let Err(e) = self.channel.send_message(&*self.http, msg).await {
            tracing::warn!(run = ?story.run, error = %e, "discord: the interaction token expired and posting to the channel failed (is DISCORD_BOT_TOKEN set?)");
        }
    }
}
