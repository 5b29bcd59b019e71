//! Speaking into a Slack thread again from its place alone (a run another
//! process started, now ended here): the same renderer as a live request,
//! fed by a fresh sender.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::handler::Slack;
use super::thread;
use crate::chat::{Place, Reopen, Replies};

/// Reopens Slack threads; the renderers run on the server's runtime.
pub(crate) struct SlackReopen {
    pub slack: Arc<Slack>,
    pub runtime: tokio::runtime::Handle,
}

impl Reopen for SlackReopen {
    fn reopen(&self, place: &Place) -> Option<Replies> {
        let Place::Slack(place) = place else {
            return None;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (slack, place) = (self.slack.clone(), place.clone());
        self.runtime
            .spawn(async move { thread::render(slack, place, Vec::new(), rx).await });
        Some(tx)
    }
}
