//! One request's story as one comment: posted on the first update, then
//! edited as the run goes on (whatever arrived during an API call goes out
//! in one edit), and the issue labelled when a succeeded run names labels.
//! The comment that carried the command gets GitHub's reactions: `eyes`
//! when the command is accepted, `rocket` when its run succeeded and
//! `confused` when it did not (failed, partial, cancelled) or nothing ran
//! (refused).

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
    /// The comment that carried the command (it gets the reactions).
    pub command_comment: u64,
}

impl Thread {
    /// Follow one request's updates, keeping its comment up to date.
    pub async fn follow(self, rx: mpsc::UnboundedReceiver<Update>, login: String) {
        self.follow_from(None, rx, login).await
    }

    /// [`Thread::follow`], `first` (already taken from `rx`) first.
    pub async fn follow_from(
        self,
        mut first: Option<Update>,
        mut rx: mpsc::UnboundedReceiver<Update>,
        login: String,
    ) {
        let mut view = RunView::default();
        let mut comment: Option<u64> = None;
        loop {
            let first = match first.take() {
                Some(u) => u,
                None => match rx.recv().await {
                    Some(u) => u,
                    None => break,
                },
            };
            let mut labels = Vec::new();
            let mut reactions = Vec::new();
            let mut take = |u: &Update| {
                view.apply(u);
                labels.extend_from_slice(labels_of(u));
                reactions.extend(reaction_to(u));
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
            // After the comment: the answer is what matters, a label or a
            // reaction is an extra.
            for content in reactions {
                self.api
                    .react(&self.issue, self.command_comment, content)
                    .await;
            }
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

/// The reaction an update calls for on the command's comment, if any.
fn reaction_to(u: &Update) -> Option<&'static str> {
    match u {
        Update::Accepted { .. } => Some("eyes"),
        Update::Done {
            outcome: Outcome::Succeeded,
            ..
        } => Some("rocket"),
        Update::Done { .. } | Update::Refused { .. } => Some("confused"),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::RunId;

    #[test]
    fn accepted_is_eyes_success_is_rocket_anything_else_at_the_end_is_confused() {
        let done = |outcome| Update::Done {
            run: RunId(1),
            command: "c".into(),
            person: "p".into(),
            outcome,
            output: String::new(),
            steps: vec![],
            millis: 1,
            labels: vec![],
            charts: vec![],
        };
        let accepted = Update::Accepted {
            run: RunId(1),
            command: "c".into(),
            person: "p".into(),
        };
        assert_eq!(reaction_to(&accepted), Some("eyes"));
        assert_eq!(reaction_to(&done(Outcome::Succeeded)), Some("rocket"));
        assert_eq!(reaction_to(&done(Outcome::Failed)), Some("confused"));
        let refused = Update::Refused {
            run: None,
            reason: "r".into(),
            detail: "d".into(),
        };
        assert_eq!(reaction_to(&refused), Some("confused"));
        let info = Update::Info {
            title: "t".into(),
            body: "b".into(),
        };
        assert_eq!(reaction_to(&info), None);
    }
}
