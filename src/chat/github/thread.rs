//! One request's story as one comment: posted on the first update, then
//! edited as the run goes on (whatever arrived during an API call goes out
//! in one edit), and the issue labelled when a succeeded run names labels.

use tokio::sync::mpsc;

use super::api::{GithubApi, Issue};
use super::render;
use crate::chat::view::RunView;
use crate::chat::{Outcome, Update};

/// Where a request's story is told.
pub struct Thread {
    pub api: GithubApi,
    pub issue: Issue,
    /// Whether a succeeded run's labels go on the issue.
    pub labels: bool,
}

impl Thread {
    /// Follow one request's updates, keeping its comment up to date.
    pub async fn follow(self, mut rx: mpsc::UnboundedReceiver<Update>, login: String) {
        let mut view = RunView::default();
        let mut comment: Option<u64> = None;
        while let Some(first) = rx.recv().await {
            let mut labels = Vec::new();
            let mut take = |u: &Update| {
                view.apply(u);
                labels.extend_from_slice(labels_of(u));
            };
            take(&first);
            while let Ok(more) = rx.try_recv() {
                take(&more);
            }
            let body = render::markdown(&view, &login);
            comment = match comment {
                None => self.api.post_comment(&self.issue, &body).await,
                Some(id) => {
                    self.api.edit_comment(&self.issue, id, &body).await;
                    Some(id)
                }
            };
            // After the comment: the answer is what matters, a label is an extra.
            if self.labels && !labels.is_empty() {
                self.api.add_labels(&self.issue, &labels).await;
            }
        }
    }

    /// A note that is not a run's story (e.g. "too many commands").
    pub async fn post(&self, body: &str) {
        self.api.post_comment(&self.issue, body).await;
    }
}

/// The labels a succeeded run names; nothing for anything else.
fn labels_of(u: &Update) -> &[String] {
    match u {
        Update::Done {
            outcome: Outcome::Succeeded,
            labels,
            ..
        } => labels,
        _ => &[],
    }
}
