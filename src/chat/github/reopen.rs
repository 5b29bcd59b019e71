//! Speaking into a GitHub issue or pull request again from its place alone
//! (a run another process started, now ended here): a new comment in the
//! same conversation, and the reaction on the command's comment.

use tokio::sync::mpsc;

use super::api::{GithubApi, Issue};
use super::thread::Thread;
use crate::chat::{Place, Reopen, Replies};

/// Reopens GitHub conversations; the followers run on the server's runtime.
pub(crate) struct GithubReopen {
    pub api: GithubApi,
    pub runtime: tokio::runtime::Handle,
}

impl Reopen for GithubReopen {
    fn reopen(&self, place: &Place) -> Option<Replies> {
        let Place::Github(place) = place else {
            return None;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = Thread {
            api: self.api.clone(),
            issue: Issue::new(&place.repo, place.issue, place.installation),
            labels: false,
            command_comment: place.comment_id,
        };
        self.runtime.spawn(thread.follow(rx, String::new()));
        Some(tx)
    }
}
