//! A verified delivery, read: which event it is and, for a new issue or
//! pull-request comment, who wrote what where. Pure: no I/O, so every
//! payload shape is tested without a server.

use std::borrow::Cow;

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

/// The parts of a delivery opsbot reads. Deserialized straight from the
/// body, borrowing its strings: a delivery is 5 to 20 KB of JSON of which
/// opsbot needs a dozen fields, and building the whole tree as a
/// `serde_json::Value` (then dropping it) was most of the cost of a
/// delivery. Every field is optional here; what a comment must have is
/// checked below, so a missing one is a `malformed` refusal that names it.
#[derive(serde::Deserialize)]
struct Payload<'a> {
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    comment: Option<PayloadComment<'a>>,
    #[serde(default)]
    issue: Option<Numbered>,
    #[serde(default)]
    pull_request: Option<Numbered>,
    #[serde(borrow, default)]
    repository: Option<Repository<'a>>,
    #[serde(default)]
    installation: Option<Installation>,
}

#[derive(serde::Deserialize)]
struct PayloadComment<'a> {
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: Option<User<'a>>,
    #[serde(borrow, default)]
    updated_at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    created_at: Option<Cow<'a, str>>,
    #[serde(default)]
    in_reply_to_id: Option<u64>,
}

#[derive(serde::Deserialize)]
struct User<'a> {
    #[serde(borrow, default)]
    login: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct Numbered {
    #[serde(default)]
    number: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Repository<'a> {
    #[serde(borrow, default)]
    full_name: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct Installation {
    #[serde(default)]
    id: Option<u64>,
}

/// `ping`'s one field.
#[derive(serde::Deserialize)]
struct Ping {
    #[serde(default)]
    zen: Value,
}

fn malformed(e: serde_json::Error) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "malformed",
        format!("malformed JSON payload: {e}"),
    )
}

/// Read one delivery of event `event` (the `X-GitHub-Event` header).
pub fn parse(event: &str, body: &[u8]) -> Result<Inbound, Refusal> {
    if event == "ping" {
        let ping: Ping = serde_json::from_slice(body).map_err(malformed)?;
        return Ok(Inbound::Ping { zen: ping.zen });
    }
    let review = event == "pull_request_review_comment";
    if !(event == "issue_comment" || review) {
        // Still checked to be JSON (without building it), so a broken
        // delivery is told so whatever its event.
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(malformed)?;
        return Ok(ignored_event());
    }
    let payload: Payload = serde_json::from_slice(body).map_err(malformed)?;
    // Edited comments are read too; whether their new lines run is the
    // adapter's `run_on_edit` decision.
    let action = payload.action.as_deref().unwrap_or_default();
    if !(action == "created" || action == "edited") {
        return Ok(ignored_event());
    }
    let comment = payload.comment.as_ref();
    let user = comment.and_then(|c| c.user.as_ref());
    let login = user
        .and_then(|u| u.login.as_deref())
        .unwrap_or_default()
        .to_string();
    if user.and_then(|u| u.kind.as_deref()) == Some("Bot") || login.ends_with("[bot]") {
        return Ok(Inbound::Ignored(
            "ignored: comments by bots never run commands",
        ));
    }
    let number = if review {
        payload.pull_request.as_ref().and_then(|p| p.number)
    } else {
        payload.issue.as_ref().and_then(|i| i.number)
    };
    let (Some(repo), Some(issue), Some((comment, comment_id)), Some(user_id)) = (
        payload
            .repository
            .as_ref()
            .and_then(|r| r.full_name.as_deref()),
        number,
        comment.and_then(|c| Some((c, c.id?))),
        user.and_then(|u| u.id),
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
    let review_thread = review.then(|| comment.in_reply_to_id.unwrap_or(comment_id));
    let updated_at = comment
        .updated_at
        .as_deref()
        .or(comment.created_at.as_deref())
        .unwrap_or_default()
        .to_string();
    Ok(Inbound::Comment(Comment {
        login,
        user_id,
        action: action.to_string(),
        updated_at,
        repo: repo.to_string(),
        installation: payload.installation.and_then(|i| i.id),
        review_thread,
        issue,
        comment_id,
        body: comment.body.as_deref().unwrap_or_default().to_string(),
    }))
}

fn ignored_event() -> Inbound {
    Inbound::Ignored(
        "ignored: opsbot acts on new (and, with run_on_edit, edited) issue and pull-request comments",
    )
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
    fn escaped_strings_and_fields_opsbot_does_not_read_come_through_as_github_sent_them() {
        let body =
            br#"{"action":"created","repository":{"full_name":"o/r","topics":[1,{"x":null}]},
            "issue":{"number":7,"title":42,"labels":[{"name":"a\"b"}]},
            "comment":{"id":99,"body":"/ops hub status \u00e9t\u00e9\n/ops help","updated_at":"t",
                "user":{"login":"al\u0069ce","id":5,"type":"User","site_admin":false}},
            "sender":{"login":"alice","weird":[[[]]]}}"#;
        let Inbound::Comment(c) = parse("issue_comment", body).unwrap() else {
            panic!("a comment");
        };
        assert_eq!(c.body, "/ops hub status \u{e9}t\u{e9}\n/ops help");
        assert_eq!(c.login, "alice");
        assert_eq!(
            parse("push", b"{\"ref\": ").unwrap_err().reason,
            "malformed",
            "any event's broken JSON is told so"
        );
        assert_eq!(
            parse(
                "issue_comment",
                br#"{"action":"created","comment":{"id":"99"}}"#
            )
            .unwrap_err()
            .reason,
            "malformed",
            "a field opsbot reads, of the wrong type"
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
