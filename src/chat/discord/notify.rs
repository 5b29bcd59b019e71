//! Posting that no person asked for: the Alertmanager receiver's message
//! per alert group in a Discord channel, edited on repeats, and the run's
//! story posted once it ends as a message of its own (no interaction token
//! exists for it, so this needs `DISCORD_BOT_TOKEN`).

use std::sync::Arc;

use serenity::builder::{CreateAllowedMentions, CreateMessage, EditMessage};
use serenity::http::Http;
use serenity::model::id::{ChannelId, MessageId};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{api, render, DiscordSettings};
use crate::chat::view::RunView;
use crate::chat::Update;

/// Posts into Discord channels on opsbot's own initiative. Cheap to clone.
#[derive(Clone)]
pub struct ChannelNotifier {
    http: Arc<Http>,
}

/// A channel id as Discord writes it, or why not.
fn channel(id: &str) -> Option<ChannelId> {
    id.parse().ok().filter(|n| *n != 0).map(ChannelId::new)
}

impl ChannelNotifier {
    pub fn new(settings: &DiscordSettings) -> anyhow::Result<ChannelNotifier> {
        Ok(ChannelNotifier {
            http: Arc::new(api::client(settings)?),
        })
    }

    /// A message in `channel_id`; its id. A new message is not repeated on
    /// a failure that may have posted it.
    pub async fn post(&self, channel_id: &str, text: &str) -> Option<String> {
        let ch = channel(channel_id)?;
        let msg = CreateMessage::new()
            .content(text)
            .allowed_mentions(CreateAllowedMentions::new());
        match ch.send_message(&*self.http, msg).await {
            Ok(m) => Some(m.id.get().to_string()),
            Err(e) => {
                tracing::warn!(channel = channel_id, error = %e, "discord: cannot post an alert message");
                None
            }
        }
    }

    /// Message `message` in `channel_id` now reads `text`.
    pub async fn edit(&self, channel_id: &str, message: &str, text: &str) {
        let (Some(ch), Some(id)) = (
            channel(channel_id),
            message.parse().ok().filter(|n| *n != 0).map(MessageId::new),
        ) else {
            return;
        };
        let edited = api::retry("editing an alert message", || {
            let edit = EditMessage::new()
                .content(text)
                .allowed_mentions(CreateAllowedMentions::new());
            ch.edit_message(&*self.http, id, edit)
        })
        .await;
        if let Err(e) = edited {
            tracing::warn!(channel = channel_id, error = %e, "discord: cannot edit an alert message");
        }
    }

    /// Folds a run's updates and posts its story once it has ended (a
    /// channel message cannot be edited as often as a run reports steps
    /// without tripping Discord's limits, and the group's message already
    /// says the diagnosis is under way).
    pub async fn follow(&self, channel_id: &str, mut rx: UnboundedReceiver<Update>) {
        let Some(ch) = channel(channel_id) else {
            return;
        };
        let mut view = RunView::default();
        while let Some(u) = rx.recv().await {
            view.apply(&u);
        }
        if view.run.is_none() {
            return;
        }
        let msg = render::story(&view).into_channel_message();
        if let Err(e) = ch.send_message(&*self.http, msg).await {
            tracing::warn!(channel = channel_id, error = %e, "discord: cannot post an alert's diagnosis");
        }
    }
}
