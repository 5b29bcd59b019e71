//! Slack's inbound payloads, parsed into what the core understands.
//!
//! Pure functions over already-verified bytes: a slash command (form-encoded
//! over HTTP, JSON in Socket Mode), an Events API callback (JSON), and an
//! interactivity payload (`payload=<JSON>` form over HTTP, JSON in Socket
//! Mode). Each becomes an [`Inbound`]: a [`Request`] plus the [`SlackPlace`] its
//! answers go to, a URL challenge, or nothing to do.

use serde::Deserialize;

use crate::chat::place::{Place, SlackPlace, SlackSource};
use crate::chat::Request;

/// What an inbound payload asks of us.
// Moved once per request and never stored: boxing the big variant would
// only add an allocation to the ack path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Inbound {
    /// Slack's `url_verification`: answer with the challenge.
    Challenge(String),
    /// A command to submit. `delivery` is the id to deduplicate on: the
    /// Events API `event_id`, or the `trigger_id` Slack mints for every
    /// slash command and button press. Both are inside the signed body, so
    /// a captured request replayed within the signature's five-minute
    /// window is recognised and not run again.
    Command {
        request: Request,
        place: SlackPlace,
        delivery: Option<String>,
    },
    /// A payload we do not act on (other event types, the bot's own
    /// messages, unknown buttons): acknowledged with 200 and nothing else.
    Ignored(&'static str),
}

/// A payload that verified but is not what Slack sends to this endpoint.
#[derive(Debug, thiserror::Error)]
#[error("malformed Slack {kind}: {detail}")]
pub struct ParseError {
    pub kind: &'static str,
    pub detail: String,
}

fn malformed(kind: &'static str, detail: impl ToString) -> ParseError {
    ParseError {
        kind,
        detail: detail.to_string(),
    }
}

/// A slash command's fields (the same names in the HTTP form and the Socket
/// Mode JSON payload).
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommand {
    pub user_id: String,
    pub channel_id: String,
    pub command: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub team_id: Option<String>,
    /// Unique per invocation (and signed with the body).
    #[serde(default)]
    pub trigger_id: Option<String>,
}

/// Parses the `application/x-www-form-urlencoded` body of `/slack/commands`.
pub fn parse_slash_command_form(body: &[u8]) -> Result<Inbound, ParseError> {
    let cmd: SlashCommand =
        serde_urlencoded::from_bytes(body).map_err(|e| malformed("slash command form", e))?;
    slash_command(cmd)
}

/// Parses a Socket Mode `slash_commands` envelope payload.
pub fn parse_slash_command_json(payload: serde_json::Value) -> Result<Inbound, ParseError> {
    let cmd: SlashCommand =
        serde_json::from_value(payload).map_err(|e| malformed("slash command payload", e))?;
    slash_command(cmd)
}

fn slash_command(cmd: SlashCommand) -> Result<Inbound, ParseError> {
    if cmd.user_id.is_empty() || cmd.channel_id.is_empty() {
        return Err(malformed(
            "slash command",
            "user_id and channel_id must be set",
        ));
    }
    let place = SlackPlace {
        source: SlackSource::SlashCommand,
        channel: cmd.channel_id,
        user: cmd.user_id,
        thread_ts: None,
        message_ts: None,
        team: cmd.team_id,
    };
    let delivery = trigger_delivery(cmd.trigger_id.as_deref());
    Ok(command(place, unescape(cmd.text.trim()), delivery))
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventBody {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        event_id: String,
        event: serde_json::Value,
        #[serde(default)]
        team_id: Option<String>,
        #[serde(default)]
        authorizations: Vec<Authorization>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct Authorization {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AppMention {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    text: String,
    ts: String,
    #[serde(default)]
    thread_ts: Option<String>,
    channel: String,
}

/// Parses an Events API body (`/slack/events`, or a Socket Mode
/// `events_api` payload).
pub fn parse_event(body: &[u8]) -> Result<Inbound, ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| malformed("event JSON", e))?;
    parse_event_json(value)
}

/// [`parse_event`] for an already-decoded JSON value.
pub fn parse_event_json(value: serde_json::Value) -> Result<Inbound, ParseError> {
    let body: EventBody = serde_json::from_value(value).map_err(|e| malformed("event", e))?;
    let (event_id, event, team_id, authorizations) = match body {
        EventBody::UrlVerification { challenge } => return Ok(Inbound::Challenge(challenge)),
        EventBody::Other => return Ok(Inbound::Ignored("not an event callback")),
        EventBody::EventCallback {
            event_id,
            event,
            team_id,
            authorizations,
        } => (event_id, event, team_id, authorizations),
    };
    if event.get("type").and_then(|t| t.as_str()) != Some("app_mention") {
        return Ok(Inbound::Ignored("event type opsbot does not subscribe to"));
    }
    let mention: AppMention =
        serde_json::from_value(event).map_err(|e| malformed("app_mention event", e))?;
    debug_assert_eq!(mention.kind, "app_mention");
    // The bot's own messages (and other bots') never run anything.
    let Some(user) = mention.user.filter(|_| mention.bot_id.is_none()) else {
        return Ok(Inbound::Ignored("message from a bot"));
    };
    let bot_user = authorizations.iter().find_map(|a| a.user_id.as_deref());
    let text = strip_mention(&unescape(&mention.text), bot_user);
    let place = SlackPlace {
        source: SlackSource::Mention,
        channel: mention.channel,
        user,
        // A mention at the top level starts a thread under itself.
        thread_ts: Some(mention.thread_ts.unwrap_or(mention.ts)),
        message_ts: None,
        team: team_id,
    };
    Ok(command(place, text, Some(event_id)))
}

#[derive(Debug, Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: IdOnly,
    #[serde(default)]
    channel: Option<IdOnly>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    message: Option<MessageRef>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    team: Option<IdOnly>,
    /// Unique per press (and signed with the body).
    #[serde(default)]
    trigger_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Container {
    #[serde(default)]
    message_ts: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    ts: String,
    #[serde(default)]
    thread_ts: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// The buttons opsbot puts on messages; each becomes the plain request
/// `<verb> <run>` from the person who pressed it.
pub const BUTTON_VERBS: [&str; 3] = ["approve", "deny", "cancel"];

/// Parses the `/slack/interactions` form body (`payload=<JSON>`).
pub fn parse_interaction_form(body: &[u8]) -> Result<Inbound, ParseError> {
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form =
        serde_urlencoded::from_bytes(body).map_err(|e| malformed("interaction form", e))?;
    let value: serde_json::Value =
        serde_json::from_str(&form.payload).map_err(|e| malformed("interaction payload", e))?;
    parse_interaction_json(value)
}

/// Parses an interaction payload (HTTP form's `payload`, or a Socket Mode
/// `interactive` envelope payload).
pub fn parse_interaction_json(value: serde_json::Value) -> Result<Inbound, ParseError> {
    let it: Interaction = serde_json::from_value(value).map_err(|e| malformed("interaction", e))?;
    if it.kind != "block_actions" {
        return Ok(Inbound::Ignored("interaction type opsbot does not use"));
    }
    let Some(action) = it.actions.first() else {
        return Ok(Inbound::Ignored("block_actions without an action"));
    };
    let Some(verb) = BUTTON_VERBS.iter().find(|v| **v == action.action_id) else {
        return Ok(Inbound::Ignored("button opsbot did not post"));
    };
    let Some(run) = action
        .value
        .as_deref()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Err(malformed("button", "the value must be a run number"));
    };
    let container = it.container.as_ref();
    let channel = it
        .channel
        .map(|c| c.id)
        .or_else(|| container.and_then(|c| c.channel_id.clone()))
        .ok_or_else(|| malformed("interaction", "no channel"))?;
    let message_ts = container
        .and_then(|c| c.message_ts.clone())
        .or_else(|| it.message.as_ref().map(|m| m.ts.clone()));
    let thread_ts = it
        .message
        .as_ref()
        .and_then(|m| m.thread_ts.clone())
        .or_else(|| container.and_then(|c| c.thread_ts.clone()))
        .or_else(|| message_ts.clone());
    let place = SlackPlace {
        source: SlackSource::Button,
        channel,
        user: it.user.id,
        thread_ts,
        message_ts,
        team: it.team.map(|t| t.id),
    };
    let delivery = trigger_delivery(it.trigger_id.as_deref());
    Ok(command(place, format!("{verb} {run}"), delivery))
}

/// The dedup key of a slash command or button press: its `trigger_id`,
/// kept apart from Events API ids by its prefix.
fn trigger_delivery(trigger_id: Option<&str>) -> Option<String> {
    trigger_id
        .filter(|t| !t.is_empty())
        .map(|t| format!("trigger:{t}"))
}

fn command(place: SlackPlace, text: String, delivery: Option<String>) -> Inbound {
    let request = Request {
        sender: place.user.clone(),
        text,
        place: Place::Slack(place.clone()),
        memberships: Vec::new(),
    };
    Inbound::Command {
        request,
        place,
        delivery,
    }
}

/// Removes the bot's mention (`<@U123>` or `<@U123|opsbot>`) and anything
/// before it, so `hey <@U123> hub status` reads `hub status`. Without a known
/// bot id the first mention counts.
pub fn strip_mention(text: &str, bot_user: Option<&str>) -> String {
    let mut search = 0;
    while let Some(start) = text[search..].find("<@").map(|i| i + search) {
        let Some(end) = text[start..].find('>').map(|i| i + start) else {
            break;
        };
        let id = text[start + 2..end].split('|').next().unwrap_or_default();
        if bot_user.is_none_or(|bot| bot == id) {
            return text[end + 1..].trim().to_string();
        }
        search = end + 1;
    }
    text.trim().to_string()
}

/// Undoes Slack's escaping of `&`, `<` and `>` in message text.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mention_prefix_and_text_before_it_are_stripped() {
        assert_eq!(
            strip_mention("<@U0LAN0Z89> user status staging alice", Some("U0LAN0Z89")),
            "user status staging alice"
        );
        assert_eq!(
            strip_mention("hey <@U1> and <@BOT|opsbot> hub status", Some("BOT")),
            "hub status"
        );
        assert_eq!(strip_mention("<@X> help", None), "help");
        assert_eq!(strip_mention("no mention", Some("BOT")), "no mention");
    }

    #[test]
    fn button_with_non_numeric_value_is_malformed() {
        let v = serde_json::json!({
            "type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "C1"},
            "actions": [{"action_id": "approve", "value": "42; rm"}]
        });
        assert!(parse_interaction_json(v).is_err());
    }

    #[test]
    fn button_becomes_plain_request_from_presser_in_the_thread() {
        let v = serde_json::json!({
            "type": "block_actions", "user": {"id": "U9"}, "channel": {"id": "C1"},
            "container": {"message_ts": "2.0"},
            "message": {"ts": "2.0", "thread_ts": "1.0"},
            "actions": [{"action_id": "deny", "value": "7"}]
        });
        let Inbound::Command { request, place, .. } = parse_interaction_json(v).unwrap() else {
            panic!("expected a command");
        };
        assert_eq!(request.text, "deny 7");
        assert_eq!(request.sender, "U9");
        assert_eq!(place.thread_ts.as_deref(), Some("1.0"));
        assert_eq!(place.message_ts.as_deref(), Some("2.0"));
    }

    #[test]
    fn slash_commands_and_button_presses_are_deduplicated_on_their_signed_trigger_id() {
        let form = b"user_id=U1&channel_id=C1&command=%2Fops&text=help&trigger_id=123.456.abc";
        let Inbound::Command { delivery, .. } = parse_slash_command_form(form).unwrap() else {
            panic!("expected a command");
        };
        assert_eq!(delivery.as_deref(), Some("trigger:123.456.abc"));
        let v = serde_json::json!({
            "type": "block_actions", "user": {"id": "U9"}, "channel": {"id": "C1"},
            "trigger_id": "9.8.7", "actions": [{"action_id": "approve", "value": "7"}]
        });
        let Inbound::Command { delivery, .. } = parse_interaction_json(v).unwrap() else {
            panic!("expected a command");
        };
        assert_eq!(delivery.as_deref(), Some("trigger:9.8.7"));
    }
}
