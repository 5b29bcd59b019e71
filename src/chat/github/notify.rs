//! Posting that no person asked for: the Alertmanager receiver's issue per
//! alert group. An [`IssueNotifier`] opens, edits, comments on and closes
//! issues, and follows a run's [`Update`]s as one comment edited in place,
//! rendered as a command's comment is.

use tokio::sync::mpsc::UnboundedReceiver;

use super::api::{GithubApi, Issue};
use super::render;
use super::GithubSettings;
use crate::chat::view::RunView;
use crate::chat::Update;

/// Posts into GitHub on opsbot's own initiative. Cheap to clone.
#[derive(Clone)]
pub struct IssueNotifier {
    api: GithubApi,
}

impl IssueNotifier {
    pub fn new(settings: &GithubSettings) -> anyhow::Result<IssueNotifier> {
        Ok(IssueNotifier {
            api: GithubApi::new(settings)?,
        })
    }

    /// A new issue in `repo` (`owner/name`); its number.
    pub async fn open(&self, repo: &str, title: &str, body: &str) -> Option<u64> {
        self.api.create_issue(repo, title, body).await
    }

    /// The issue's body now reads `body`.
    pub async fn edit(&self, repo: &str, number: u64, body: &str) {
        self.api
            .update_issue(&Issue::new(repo, number, None), Some(body), None)
            .await;
    }

    /// A comment on the issue.
    pub async fn comment(&self, repo: &str, number: u64, body: &str) {
        self.api
            .post_comment(&Issue::new(repo, number, None), body)
            .await;
    }

    /// Close the issue (after saying why in a comment, done by the caller).
    pub async fn close(&self, repo: &str, number: u64) {
        self.api
            .update_issue(&Issue::new(repo, number, None), None, Some("closed"))
            .await;
    }

    /// Reopen an issue of a group that fires again.
    pub async fn reopen(&self, repo: &str, number: u64) {
        self.api
            .update_issue(&Issue::new(repo, number, None), None, Some("open"))
            .await;
    }

    /// A run's story as one comment on the issue: posted on the first
    /// update, edited with whatever arrived during the last call.
    pub async fn follow(&self, repo: &str, number: u64, mut rx: UnboundedReceiver<Update>) {
        let issue = Issue::new(repo, number, None);
        let mut view = RunView::default();
        let mut comment: Option<u64> = None;
        while let Some(first) = rx.recv().await {
            view.apply(&first);
            while let Ok(more) = rx.try_recv() {
                view.apply(&more);
            }
            let body = render::markdown(&view, "alertmanager");
            comment = match comment {
                None => self.api.post_comment(&issue, &body).await,
                Some(id) => {
                    self.api.edit_comment(&issue, id, &body).await;
                    Some(id)
                }
            };
        }
    }
}
