//! What the Slack adapter needs, typed, taken from the loaded config (which
//! read the `SLACK_*` variables of DESIGN §4 once).

use std::collections::BTreeSet;
use std::time::Duration;

use secrecy::SecretString;

use crate::retry::RetryPolicy;

/// Slack's public Web API base URL, used when `SLACK_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Largest request body accepted before verification: Slack's own payloads
/// (a `block_actions` form carrying the whole message) stay far below this.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// How many requests may be rendered into Slack at once by default.
pub const DEFAULT_MAX_LIVE_THREADS: usize = 4096;

/// Everything the Slack adapter needs to run, resolved once at start-up.
///
/// Secrets are [`SecretString`]s so a `Debug` print of the settings never
/// shows them.
#[derive(Debug, Clone)]
pub struct SlackSettings {
    /// Verifies every HTTP request (`X-Slack-Signature`). May be empty when
    /// only Socket Mode is used; the HTTP endpoints then refuse everything.
    pub signing_secret: SecretString,
    /// `xoxb-…`: posts and edits messages, uploads files.
    pub bot_token: SecretString,
    /// `xapp-…`: when set, Socket Mode is used instead of a public URL.
    pub app_token: Option<SecretString>,
    /// Web API base URL (`https://slack.com/api`); tests point it at a fake.
    /// `apps.connections.open` is called here too, so it is also where the
    /// Socket Mode WebSocket URL comes from.
    pub api_url: String,
    /// Bodies larger than this are refused (413) before any parsing.
    pub max_body_bytes: usize,
    /// The least time between two edits of a run's status message; step
    /// updates arriving faster are coalesced into one edit (Slack allows
    /// roughly one `chat.update` per second per message).
    pub edit_interval: Duration,
    /// How Web API calls are retried (429 `Retry-After`, 5xx, transport).
    pub retry: RetryPolicy,
    /// The most requests whose updates are being rendered into Slack at
    /// once. Past it, new runs still run and are acked, but are not
    /// followed in a thread (the asker is pointed to `/ops audit N`).
    pub max_live_threads: usize,
    /// Channels in incident mode (`slack.channels.ID.incident: true`): a
    /// run's status message, result and audit reference go to the channel
    /// itself rather than into a thread, so they show in the timeline
    /// people watch during an incident.
    pub incident_channels: BTreeSet<String>,
}

impl SlackSettings {
    /// Settings with the defaults for everything but the credentials.
    pub fn new(signing_secret: SecretString, bot_token: SecretString) -> Self {
        SlackSettings {
            signing_secret,
            bot_token,
            app_token: None,
            api_url: DEFAULT_API_URL.to_string(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            edit_interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            max_live_threads: DEFAULT_MAX_LIVE_THREADS,
            incident_channels: BTreeSet::new(),
        }
    }
}

impl SlackSettings {
    /// From the loaded config (which already applied the `SLACK_*`
    /// environment overrides). `None` without a bot token: opsbot cannot
    /// answer anyone then.
    pub fn from_config(c: &crate::config::SlackConfig) -> Option<SlackSettings> {
        let bot_token = c.bot_token.clone()?;
        let mut settings = SlackSettings::new(
            c.signing_secret
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
            bot_token,
        );
        settings.app_token = c.app_token.clone();
        settings.api_url = c.api_url.trim_end_matches('/').to_string();
        settings.incident_channels = c.incident_channels.clone();
        Some(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// The settings the config loader makes from these variables alone.
    fn from_env(vars: &'static [(&'static str, &'static str)]) -> Option<SlackSettings> {
        let config = crate::config::Config::from_str(
            "environment",
            "slack: {}\n",
            std::path::Path::new("."),
            &env(vars),
        )
        .ok()?;
        config.slack.as_ref().and_then(SlackSettings::from_config)
    }

    #[test]
    fn the_design_variables_reach_the_settings_through_the_config() {
        let settings = from_env(&[
            ("SLACK_SIGNING_SECRET", "s3cr3t"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
            ("SLACK_API_URL", "http://127.0.0.1:9/api/"),
        ])
        .expect("configured");
        assert_eq!(settings.signing_secret.expose_secret(), "s3cr3t");
        assert_eq!(settings.bot_token.expose_secret(), "xoxb-1");
        assert_eq!(
            settings
                .app_token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            Some("xapp-1".to_string())
        );
        assert_eq!(settings.api_url, "http://127.0.0.1:9/api");
    }

    #[test]
    fn no_settings_without_a_bot_token_or_any_way_to_receive() {
        assert!(from_env(&[("SLACK_SIGNING_SECRET", "s")]).is_none());
        assert!(from_env(&[("SLACK_BOT_TOKEN", "xoxb-1")]).is_none());
        assert!(from_env(&[("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_SIGNING_SECRET", "")]).is_none());
        let socket_only = from_env(&[("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_APP_TOKEN", "xapp-1")])
            .expect("Socket Mode needs no signing secret");
        assert_eq!(socket_only.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn channels_marked_incident_reach_the_settings_and_others_do_not() {
        let config = crate::config::Config::from_str(
            "opsbot.yaml",
            "slack:\n  channels:\n    C0INCIDENT: { incident: true }\n    C0CALM: { incident: false, commands: [\"hub status\"] }\n    C0SUPPORT: [\"help\"]\n",
            std::path::Path::new("."),
            &env(&[("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_SIGNING_SECRET", "s")]),
        )
        .expect("valid");
        let slack = config.slack.as_ref().expect("slack on");
        let settings = SlackSettings::from_config(slack).expect("configured");
        assert_eq!(
            settings.incident_channels.iter().collect::<Vec<_>>(),
            ["C0INCIDENT"]
        );
        // An incident channel without `commands` stays unrestricted; the
        // others keep their command lists.
        assert!(!slack.channels.contains_key("C0INCIDENT"));
        assert_eq!(slack.channels["C0CALM"], ["hub status"]);
        assert_eq!(slack.channels["C0SUPPORT"], ["help"]);
    }

    #[test]
    fn debug_print_of_settings_shows_no_secret() {
        let mut settings =
            SlackSettings::new(SecretString::from("sign-me"), SecretString::from("xoxb-42"));
        settings.app_token = Some(SecretString::from("xapp-42"));
        let printed = format!("{settings:?}");
        for secret in ["sign-me", "xoxb-42", "xapp-42"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
