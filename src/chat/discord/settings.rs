//! Discord settings: what the adapter needs, typed, taken from the loaded
//! config (which reads the `DISCORD_*` variables of DESIGN §4).

use std::time::Duration;

use secrecy::SecretString;
use std::path::Path;

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
    /// Connecting to the API may take this long at most.
    pub connect_timeout: Duration,
    /// One API call, answer included, may take this long at most.
    pub call_timeout: Duration,
    /// The commands of `commands/` (and the builtins): `/ops` gets a typed
    /// subcommand for each (see [`super::options`]). Filled in once the
    /// command files are loaded; empty means only `/ops run TEXT`.
    pub commands: Vec<crate::command::CommandSpec>,
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
            .field("commands", &self.commands.len())
            .finish()
    }
}

impl DiscordSettings {
    /// From the loaded config, which already applied the `DISCORD_*`
    /// environment overrides and checked the key and the id: the settings
    /// are parsed once, there.
    pub fn from_config(c: &crate::config::DiscordConfig) -> DiscordSettings {
        DiscordSettings {
            public_key: c.public_key.clone(),
            application_id: c.application_id,
            bot_token: c.bot_token.clone(),
            api_url: c.api_url.clone(),
            max_clock_skew: Duration::from_secs(300),
            connect_timeout: super::api::CONNECT_TIMEOUT,
            call_timeout: super::api::CALL_TIMEOUT,
            commands: Vec::new(),
        }
    }

    /// Discord's settings from the environment alone (`opsbot discord
    /// register` without `--config`), read by the config loader like any
    /// other config: `Ok(None)` when Discord is not configured, an error
    /// naming the variable when it is half configured or malformed.
    pub fn from_env_only(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<DiscordSettings>> {
        let config =
            crate::config::Config::from_str("environment", "discord: {}\n", Path::new("."), env)
                .map_err(|d| anyhow::anyhow!("{d}"))?;
        Ok(config.discord.as_ref().map(DiscordSettings::from_config))
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
        assert!(DiscordSettings::from_env_only(&env(&[])).unwrap().is_none());
    }

    #[test]
    fn half_configured_is_an_error_naming_the_missing_variable() {
        let e = DiscordSettings::from_env_only(&env(&[("DISCORD_PUBLIC_KEY", KEY)])).unwrap_err();
        assert!(e.to_string().contains("DISCORD_APPLICATION_ID"), "{e}");
    }

    #[test]
    fn bad_public_key_is_rejected_at_startup() {
        let e = DiscordSettings::from_env_only(&env(&[
            ("DISCORD_PUBLIC_KEY", "abc"),
            ("DISCORD_APPLICATION_ID", "1"),
        ]))
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("64-character hex public key"),
            "{e:#}"
        );
    }

    #[test]
    fn api_url_override_and_token_are_read_and_the_token_is_not_printed() {
        let s = DiscordSettings::from_env_only(&env(&[
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
