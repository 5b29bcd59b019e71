//! Where a request came from and where its answers go, per platform.
//!
//! Typed, so the core can ask "which Slack channel?" without reading JSON
//! keys, and an adapter cannot hand the core a place another adapter would
//! misread. It serialises untagged, exactly as the JSON each adapter wrote
//! before it was typed, so the `where` of old audit records still reads back.

use serde::{Deserialize, Serialize};

use super::model::Platform;

/// Where one request was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Place {
    Slack(SlackPlace),
    Github(GithubPlace),
    Discord(DiscordPlace),
    Alert(AlertPlace),
    Schedule(SchedulePlace),
    Console(ConsolePlace),
}

impl Place {
    /// The platform this place is on.
    pub fn platform(&self) -> Platform {
        match self {
            Place::Slack(_) => Platform::Slack,
            Place::Github(_) => Platform::Github,
            Place::Discord(_) => Platform::Discord,
            Place::Console(_) => Platform::Console,
            Place::Alert(_) => Platform::Alertmanager,
            Place::Schedule(_) => Platform::Schedule,
        }
    }

    /// The Slack channel, for the per-channel command limits
    /// (`slack.channels`); other platforms have none.
    pub fn slack_channel(&self) -> Option<&str> {
        match self {
            Place::Slack(p) => Some(&p.channel),
            _ => None,
        }
    }
}

/// How a Slack request reached us; decides how refusals and the first
/// answer are shown (slash commands answer in the HTTP response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackSource {
    SlashCommand,
    Mention,
    Button,
}

/// A Slack channel, and the thread and message a request was made in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackPlace {
    pub source: SlackSource,
    /// The channel (or DM) id.
    pub channel: String,
    /// The Slack user id of the person who asked (or pressed).
    pub user: String,
    /// The thread the request was made in, if any: replies go there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// The message a button was pressed on (an approval or status message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// A comment on a GitHub issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubPlace {
    /// `owner/name`.
    pub repo: String,
    pub issue: u64,
    pub comment_id: u64,
    /// The App installation the delivery came from (to answer with its
    /// token from another process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<u64>,
}

/// A Discord interaction (the `/ops` command or a button on its message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscordPlace {
    pub guild_id: Option<String>,
    pub channel_id: String,
    pub interaction_id: String,
    /// The message a button was pressed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// An Alertmanager notification's group, and the thread its diagnosis is
/// posted in: kept in the run's audit record, so a restarted process finds
/// the group's thread again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertPlace {
    /// Alertmanager's `groupKey`.
    pub group_key: String,
    /// The Alertmanager receiver that sent it.
    pub receiver: String,
    /// The Slack channel and the thread's first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// The GitHub issue (`owner/name` and number) the group is told in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_issue: Option<u64>,
    /// The Discord channel and the group's message there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord_message: Option<String>,
}

/// A run a schedule (`schedules:`) started, and the thread it posts in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePlace {
    /// The schedule's `name`.
    pub schedule: String,
    /// When it was due (RFC 3339): one run per schedule and time.
    pub due: String,
    pub slack_channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
}

/// The console: the person id typed at the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolePlace {
    pub console: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The audit log keeps `where` as JSON: every place written before the
    /// type existed must read back as the same platform, and write the same.
    #[test]
    fn places_read_back_from_the_json_adapters_wrote_before_they_were_typed() {
        let written = [
            (
                json!({"source": "slash_command", "channel": "C1", "user": "U1", "thread_ts": "1.2"}),
                Platform::Slack,
            ),
            (
                json!({"repo": "o/r", "issue": 7, "comment_id": 99}),
                Platform::Github,
            ),
            (
                json!({"guild_id": null, "channel_id": "5", "interaction_id": "6"}),
                Platform::Discord,
            ),
            (
                json!({"guild_id": "1", "channel_id": "5", "interaction_id": "6", "message_id": "8"}),
                Platform::Discord,
            ),
            (json!({"console": "alice"}), Platform::Console),
            (
                json!({"schedule": "morning", "due": "2026-12-03T08:00:00Z", "slack_channel": "C1", "thread_ts": "1.2"}),
                Platform::Schedule,
            ),
            (
                json!({"group_key": "{}:{alertname=\"X\"}", "receiver": "opsbot", "slack_channel": "C1", "thread_ts": "1.2"}),
                Platform::Alertmanager,
            ),
            (
                json!({"group_key": "{}:{alertname=\"X\"}", "receiver": "opsbot", "github_repo": "o/r", "github_issue": 7, "discord_channel": "5", "discord_message": "6"}),
                Platform::Alertmanager,
            ),
        ];
        for (json, platform) in written {
            let place: Place = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(place.platform(), platform, "{json}");
            assert_eq!(serde_json::to_value(&place).unwrap(), json);
        }
    }

    #[test]
    fn only_slack_places_have_a_channel_for_channel_limits() {
        let slack: Place =
            serde_json::from_value(json!({"source": "mention", "channel": "C9", "user": "U1"}))
                .unwrap();
        assert_eq!(slack.slack_channel(), Some("C9"));
        let console = Place::Console(ConsolePlace {
            console: "bob".into(),
        });
        assert_eq!(console.slack_channel(), None);
    }
}
