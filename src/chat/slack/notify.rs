//! Posting that no person asked for: the Alertmanager receiver's thread
//! per alert group. A [`Notifier`] posts and edits plain `mrkdwn`
//! messages, and follows a run's [`Update`]s into an existing thread with
//! the same renderer person-started runs use.

use std::sync::Arc;

use slack_morphism::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;

use super::handler::Slack;
use super::{SlackApiError, SlackSettings};
use crate::chat::place::{SlackPlace, SlackSource};
use crate::chat::{Core, Update};

/// Posts into Slack on opsbot's own initiative. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    slack: Arc<Slack>,
}

impl Notifier {
    pub fn new(core: Arc<dyn Core>, settings: &SlackSettings) -> anyhow::Result<Notifier> {
        Ok(Notifier {
            slack: Arc::new(Slack::new(core, settings)?),
        })
    }

    /// `chat.postMessage` of `text` (mrkdwn) to `channel`, in `thread_ts`
    /// when given; the new message's `ts`.
    pub async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, SlackApiError> {
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
        )
        .opt_thread_ts(thread_ts.map(|ts| SlackTs(ts.to_string())));
        self.slack.api.post_message(&req).await.map(|ts| ts.0)
    }

    /// `chat.update`: `ts` in `channel` now reads `text`.
    pub async fn edit(&self, channel: &str, ts: &str, text: &str) -> Result<(), SlackApiError> {
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_string()),
            SlackMessageContent::new().with_text(text.to_string()),
            SlackTs(ts.to_string()),
        );
        self.slack.api.update_message(&req).await
    }

    /// Renders a run's updates (status, steps, result, audit reference)
    /// into the thread of `thread_ts`, until the last one. Refusals and
    /// answers only the asker would see are not shown: the caller posts
    /// those itself, since nobody is there to see an ephemeral message.
    pub async fn follow(&self, channel: &str, thread_ts: &str, updates: UnboundedReceiver<Update>) {
        let place = SlackPlace {
            source: SlackSource::Mention,
            channel: channel.to_string(),
            user: String::new(),
            thread_ts: Some(thread_ts.to_string()),
            message_ts: None,
            team: None,
        };
        super::thread::render(self.slack.clone(), place, Vec::new(), updates).await;
    }

    /// [`Notifier::follow`], with the answers a person would have seen
    /// privately (a refusal, an info answer) posted into the thread too,
    /// after `refused` (e.g. "Not diagnosed"): opsbot asked, so the thread
    /// is where the answer goes.
    pub async fn follow_run(
        &self,
        channel: &str,
        thread_ts: &str,
        refused: &str,
        mut updates: UnboundedReceiver<Update>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let render = self.follow(channel, thread_ts, rx);
        let forward = async {
            while let Some(u) = updates.recv().await {
                let text = match u {
                    Update::Refused { reason, detail, .. } => {
                        format!("{refused}: {reason}. {detail}")
                    }
                    Update::Info { title, body } => format!("*{title}*\n{body}"),
                    other => {
                        let _ = tx.send(other);
                        continue;
                    }
                };
                if let Err(e) = self.post(channel, Some(thread_ts), &text).await {
                    tracing::error!(error = %e, channel, "cannot post to Slack");
                }
            }
            drop(tx);
        };
        tokio::join!(render, forward);
    }
}
