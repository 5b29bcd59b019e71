//! serenity's HTTP client, pointed at Discord or at whatever
//! `DISCORD_API_URL` names (a local fake in tests).
//!
//! Against Discord itself serenity's rate limiter is on and waits out a 429
//! exactly as `Retry-After` says. serenity 0.12 ignores its `proxy` setting
//! while its rate limiter is on (the limiter builds requests without it), so
//! with another API URL the limiter is off and [`retry`] backs off on 429s
//! and server errors instead.

use anyhow::bail;
use secrecy::ExposeSecret;
use serenity::http::{Http, HttpBuilder};
use serenity::model::id::ApplicationId;

use super::settings::{DiscordSettings, DEFAULT_API_URL};
use crate::chat::retry::{Retry, RetryPolicy};

/// The path serenity puts after the host; only the host can be replaced.
const API_PATH: &str = "/api/v10";

/// Build the client for these settings.
pub fn client(settings: &DiscordSettings) -> anyhow::Result<Http> {
    let token = settings
        .bot_token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
        .unwrap_or_default();
    let mut builder =
        HttpBuilder::new(token).application_id(ApplicationId::new(settings.application_id));
    if let Some(origin) = origin(&settings.api_url)? {
        builder = builder.proxy(origin).ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

/// Run `call` under the one [`RetryPolicy`]: 429s, 5xx answers and
/// connection errors back off; anything else fails at once.
pub async fn retry<T, F, Fut>(what: &str, call: F) -> serenity::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = serenity::Result<T>>,
{
    RetryPolicy::default()
        .run(&format!("discord: {what}"), classify, call)
        .await
        .map_err(|gave_up| gave_up.error)
}

fn classify(e: &serenity::Error) -> Retry {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 429 || r.status_code.is_server_error() =>
        {
            Retry::Backoff
        }
        serenity::Error::Http(HttpError::Request(_)) => Retry::Backoff,
        _ => Retry::Never,
    }
}

/// The scheme and host serenity should use instead of `https://discord.com`,
/// or `None` for Discord itself.
fn origin(api_url: &str) -> anyhow::Result<Option<String>> {
    let url = api_url.trim_end_matches('/');
    if url == DEFAULT_API_URL {
        return Ok(None);
    }
    let Some(origin) = url.strip_suffix(API_PATH) else {
        bail!("DISCORD_API_URL must end with {API_PATH} (the API version serenity speaks), like http://127.0.0.1:3000{API_PATH}; got `{api_url}`");
    };
    if !(origin.starts_with("http://") || origin.starts_with("https://")) {
        bail!("DISCORD_API_URL must start with http:// or https://; got `{api_url}`");
    }
    Ok(Some(origin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn discord_itself_needs_no_proxy() {
        assert_eq!(origin("https://discord.com/api/v10/").unwrap(), None);
    }

    #[test]
    fn a_local_fake_replaces_the_host() {
        assert_eq!(
            origin("http://127.0.0.1:3000/api/v10").unwrap().as_deref(),
            Some("http://127.0.0.1:3000")
        );
    }

    #[test]
    fn another_api_version_is_refused_with_the_expected_shape() {
        let e = origin("http://127.0.0.1:3000/api/v9")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/api/v10"), "{e}");
    }
}
