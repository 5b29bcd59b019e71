//! Speaking into a Discord channel again from its place alone (a run another
//! process started, now ended here). The interaction's token is neither
//! kept nor long-lived, so the story goes to the channel as a message
//! (which needs `DISCORD_BOT_TOKEN`), as it does for a run that outlives
//! its token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::http::Http;
use serenity::model::id::ChannelId;
use tokio::sync::mpsc;

use super::thread::{self, Thread};
use crate::chat::view::RunView;
use crate::chat::{Place, Reopen, Replies};

/// Reopens Discord channels; the followers run on the server's runtime.
pub(crate) struct DiscordReopen {
    pub http: Arc<Http>,
    pub runtime: tokio::runtime::Handle,
}

impl Reopen for DiscordReopen {
    fn reopen(&self, place: &Place) -> Option<Replies> {
        let Place::Discord(place) = place else {
            return None;
        };
        let channel = ChannelId::new(place.channel_id.parse().ok().filter(|id| *id != 0)?);
        let (tx, rx) = mpsc::unbounded_channel();
        // An interaction token too old to use: the channel it is.
        let opened = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        let thread = Thread {
            http: self.http.clone(),
            token: String::new(),
            channel,
            opened,
        };
        let _guard = self.runtime.enter();
        thread::spawn(thread, RunView::default(), rx, false);
        Some(tx)
    }
}
