//! Discord settings, read from the environment (DESIGN §4) so that a
//! deployment or a test needs no file edits.

use std::time::Duration;

use anyhow::{bail, Context as _};
use secrecy::SecretString;

/// Discord's public REST API base; `DISCORD_API_URL` replaces it.
pub const DEFAULT_API_URL: &str = "https://discord.com/api/v10";

/// How to talk to one Discord application.
#[derive(Clone)]
pub struct DiscordSettings {
    /// The application's Ed25519 public key (hex), from the developer portal.
    /// Public by design, so not held as a secret.
    pub public_key: String,
    /// The application id: interaction webhooks and command registration are under it.
    pub application_id: u64,
    /// The bot token: only needed to register the command and to post into
    /// the channel once an interaction token (15 minutes) has expired.
    pub bot_token: Option<SecretString>,
    /// REST API base URL, e.g. `https://discord.com/api/v10` or a local fake.
    pub api_url: String,
    /// How far an interaction's timestamp may be from our clock.
    pub max_clock_skew: Duration,
}

impl std::fmt::Debug for DiscordSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSettings")
            .field("public_key", &self.public_key)
            .field("application_id", &self.application_id)
            .field(
                "bot_token",
                &self.bot_token.as_ref().map(|_| crate::redact::PLACEHOLDER),
            )
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl DiscordSettings {
    /// `Ok(None)` when Discord is not configured (`DISCORD_PUBLIC_KEY` and
    /// `DISCORD_APPLICATION_ID` unset); an error when it is half configured
    /// or a value is malformed, so a typo is never silently "Discord off".
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<DiscordSettings>> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let key = get("DISCORD_PUBLIC_KEY");
        let app = get("DISCORD_APPLICATION_ID");
        let (public_key, app) = match (key, app) {
            (None, None) => return Ok(None),
            (Some(k), Some(a)) => (k, a),
            (Some(_), None) => bail!("DISCORD_PUBLIC_KEY is set but DISCORD_APPLICATION_ID is not; set both (developer portal → General Information)"),
            (None, Some(_)) => bail!("DISCORD_APPLICATION_ID is set but DISCORD_PUBLIC_KEY is not; set both (developer portal → General Information)"),
        };
        let application_id = app
            .parse::<u64>()
            .with_context(|| format!("DISCORD_APPLICATION_ID must be a numeric snowflake like 1111111111111111111, not `{app}`"))?;
        super::verify::Verifier::new(&public_key, Duration::from_secs(1))
            .context("DISCORD_PUBLIC_KEY")?;
        Ok(Some(DiscordSettings {
            public_key,
            application_id,
            bot_token: get("DISCORD_BOT_TOKEN").map(SecretString::from),
            api_url: get("DISCORD_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            max_clock_skew: Duration::from_secs(300),
        }))
    }
}

impl DiscordSettings {
    /// From the loaded config (which already applied the environment
    /// overrides and checked the key and id).
    pub fn from_config(c: &crate::config::DiscordConfig) -> anyhow::Result<DiscordSettings> {
        let application_id = c.application_id.parse::<u64>().with_context(|| {
            format!(
                "discord.application_id must be a numeric snowflake, not `{}`",
                c.application_id
            )
        })?;
        super::verify::Verifier::new(&c.public_key, Duration::from_secs(1))
            .context("discord.public_key")?;
        Ok(DiscordSettings {
            public_key: c.public_key.clone(),
            application_id,
            bot_token: c.bot_token.clone(),
            api_url: c.api_url.clone(),
            max_clock_skew: Duration::from_secs(300),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089";

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn unset_means_discord_is_off() {
        assert!(DiscordSettings::from_env(&env(&[])).unwrap().is_none());
    }

    #[test]
    fn half_configured_is_an_error_naming_the_missing_variable() {
        let e = DiscordSettings::from_env(&env(&[("DISCORD_PUBLIC_KEY", KEY)])).unwrap_err();
        assert!(e.to_string().contains("DISCORD_APPLICATION_ID"), "{e}");
    }

    #[test]
    fn bad_public_key_is_rejected_at_startup() {
        let e = DiscordSettings::from_env(&env(&[
            ("DISCORD_PUBLIC_KEY", "abc"),
            ("DISCORD_APPLICATION_ID", "1"),
        ]))
        .unwrap_err();
        assert!(format!("{e:#}").contains("64 hex digits"), "{e:#}");
    }

    #[test]
    fn api_url_override_and_token_are_read_and_the_token_is_not_printed() {
        let s = DiscordSettings::from_env(&env(&[
            ("DISCORD_PUBLIC_KEY", KEY),
            ("DISCORD_APPLICATION_ID", "1111111111111111111"),
            ("DISCORD_BOT_TOKEN", "very-secret-token"),
            ("DISCORD_API_URL", "http://127.0.0.1:9/api/v10"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.api_url, "http://127.0.0.1:9/api/v10");
        assert_eq!(s.application_id, 1111111111111111111);
        assert!(!format!("{s:?}").contains("very-secret-token"));
    }
}
