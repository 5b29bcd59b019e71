//! A verified delivery, read: which event it is and, for a new issue or
//! pull-request comment, who wrote what where. Pure: no I/O, so every
//! payload shape is tested without a server.

use axum::http::StatusCode;
use serde_json::Value;

use crate::chat::verify::Refusal;

/// What a delivery asks of us.
#[derive(Debug)]
pub enum Inbound {
    /// GitHub's `ping` when a webhook is created: answered with its zen.
    Ping { zen: Value },
    /// Another event, or a comment opsbot does not act on.
    Ignored(&'static str),
    /// A new or edited issue, pull-request or review comment (its command
    /// lines are found by [`super::lines`]).
    Comment(Comment),
}

/// A comment on an issue or pull request, or in a pull-request review.
#[derive(Debug, Clone)]
pub struct Comment {
    /// For display only (mentions): logins can be renamed and recycled.
    pub login: String,
    /// Who wrote it: the account's immutable id (`comment.user.id`).
    pub user_id: u64,
    /// The delivery's `action`: `created` or `edited`.
    pub action: String,
    /// `comment.updated_at` as GitHub wrote it: with the comment id and the
    /// action it names this version of the comment, inside the signed body.
    pub updated_at: String,
    /// `owner/name`.
    pub repo: String,
    /// The GitHub App installation the delivery came from, if any.
    pub installation: Option<u64>,
    /// For a pull-request review comment: the first comment of its review
    /// thread, which replies go under. `None` for issue comments.
    pub review_thread: Option<u64>,
    pub issue: u64,
    pub comment_id: u64,
    pub body: String,
}

/// Read one delivery of event `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Inbound, Refusal> {
    let payload: Value = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("malformed JSON payload: {e}"),
        )
    })?;
    if event == "ping" {
        return Ok(Inbound::Ping {
            zen: payload["zen"].clone(),
        });
    }
    // Edited comments are read too; whether their new lines run is the
    // adapter's `run_on_edit` decision.
    let review = event == "pull_request_review_comment";
    if !(event == "issue_comment" || review)
        || !(payload["action"] == "created" || payload["action"] == "edited")
    {
        return Ok(Inbound::Ignored(
            "ignored: opsbot acts on new (and, with run_on_edit, edited) issue and pull-request comments",
        ));
    }
    let user = &payload["comment"]["user"];
    let login = user["login"].as_str().unwrap_or_default().to_string();
    if user["type"] == "Bot" || login.ends_with("[bot]") {
        return Ok(Inbound::Ignored(
            "ignored: comments by bots never run commands",
        ));
    }
    let number = if review {
        payload["pull_request"]["number"].as_u64()
    } else {
        payload["issue"]["number"].as_u64()
    };
    let (Some(repo), Some(issue), Some(comment_id), Some(user_id)) = (
        payload["repository"]["full_name"].as_str(),
        number,
        payload["comment"]["id"].as_u64(),
        user["id"].as_u64(),
    ) else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!(
                "an {event} event needs repository.full_name, {}, comment.id and comment.user.id",
                if review {
                    "pull_request.number"
                } else {
                    "issue.number"
                }
            ),
        ));
    };
    // GitHub replies only to a thread's first comment.
    let review_thread = review.then(|| {
        payload["comment"]["in_reply_to_id"]
            .as_u64()
            .unwrap_or(comment_id)
    });
    let comment = &payload["comment"];
    let updated_at = comment["updated_at"]
        .as_str()
        .or(comment["created_at"].as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Inbound::Comment(Comment {
        login,
        user_id,
        action: payload["action"].as_str().unwrap_or_default().to_string(),
        updated_at,
        repo: repo.to_string(),
        installation: payload["installation"]["id"].as_u64(),
        review_thread,
        issue,
        comment_id,
        body: payload["comment"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(user: Value) -> Vec<u8> {
        serde_json::json!({
            "action": "created",
            "repository": {"full_name": "o/r"},
            "issue": {"number": 7},
            "comment": {"id": 99, "body": "/ops help", "user": user, "updated_at": "2026-01-01T00:00:00Z"},
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_new_comment_reads_as_who_wrote_what_where() {
        let Inbound::Comment(c) = parse(
            "issue_comment",
            &comment(serde_json::json!({"login": "alice", "id": 5, "type": "User"})),
        )
        .unwrap() else {
            panic!("a comment");
        };
        assert_eq!(
            (
                c.login.as_str(),
                c.user_id,
                c.repo.as_str(),
                c.issue,
                c.comment_id,
                c.body.as_str(),
                c.updated_at.as_str()
            ),
            (
                "alice",
                5,
                "o/r",
                7,
                99,
                "/ops help",
                "2026-01-01T00:00:00Z"
            )
        );
    }

    #[test]
    fn a_review_comment_reads_as_its_pull_request_and_review_thread() {
        let fixture = include_str!(
            "../../../tests/it/fixtures/github/pull_request_review_comment.created.0.json"
        );
        let Inbound::Comment(c) = parse("pull_request_review_comment", fixture.as_bytes()).unwrap()
        else {
            panic!("a comment");
        };
        assert_eq!(
            (
                c.repo.as_str(),
                c.issue,
                c.comment_id,
                c.review_thread,
                c.user_id
            ),
            (
                "Codertocat/Hello-World",
                2,
                284312630,
                Some(284312630),
                21031067
            )
        );
        let mut reply: Value = serde_json::from_str(fixture).unwrap();
        reply["comment"]["in_reply_to_id"] = serde_json::json!(284312000u64);
        let Inbound::Comment(c) = parse(
            "pull_request_review_comment",
            &serde_json::to_vec(&reply).unwrap(),
        )
        .unwrap() else {
            panic!("a comment");
        };
        assert_eq!(
            c.review_thread,
            Some(284312000),
            "replies go under the thread's first comment"
        );
    }

    #[test]
    fn bots_other_events_and_broken_json_run_nothing() {
        let bot = parse(
            "issue_comment",
            &comment(serde_json::json!({"login": "ci[bot]"})),
        )
        .unwrap();
        assert!(matches!(bot, Inbound::Ignored(_)));
        assert!(matches!(parse("push", b"{}").unwrap(), Inbound::Ignored(_)));
        assert_eq!(
            parse("issue_comment", b"{").unwrap_err().reason,
            "malformed"
        );
        let no_issue = br#"{"action":"created","comment":{"id":1,"user":{"login":"a"}}}"#;
        assert_eq!(
            parse("issue_comment", no_issue).unwrap_err().reason,
            "malformed"
        );
        let no_user_id = comment(serde_json::json!({"login": "alice", "type": "User"}));
        assert_eq!(
            parse("issue_comment", &no_user_id).unwrap_err().reason,
            "malformed",
            "who wrote it is the user id; without one nothing runs"
        );
    }
}
