//! serenity's HTTP client, pointed at Discord or at whatever
//! `DISCORD_API_URL` names (a local fake in tests).
//!
//! Against Discord itself serenity's rate limiter is on and waits out a 429
//! exactly as `Retry-After` says. serenity 0.12 ignores its `proxy` setting
//! while its rate limiter is on (the limiter builds requests without it), so
//! with another API URL the limiter is off and [`retry`] backs off on 429s
//! and server errors instead.

use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use serenity::http::{Http, HttpBuilder};
use serenity::model::id::ApplicationId;

use super::settings::{DiscordSettings, DEFAULT_API_URL};
use crate::retry::{Retry, RetryPolicy};

/// The path serenity puts after the host; only the host can be replaced.
const API_PATH: &str = "/api/v10";

/// Connecting to Discord takes well under this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No call opsbot makes should take longer, answer included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Build the client for these settings. serenity's own client has no
/// timeouts, so a silent Discord would hold a run's reply task forever: it
/// gets a reqwest client with [`DiscordSettings::connect_timeout`] and
/// [`DiscordSettings::call_timeout`] (rustls, as serenity's default).
pub fn client(settings: &DiscordSettings) -> anyhow::Result<Http> {
    let token = settings
        .bot_token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
        .unwrap_or_default();
    let reqwest = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.call_timeout)
        .build()
        .context("building the HTTP client for Discord")?;
    let mut builder = HttpBuilder::new(token)
        .client(reqwest)
        .application_id(ApplicationId::new(settings.application_id));
    if let Some(origin) = origin(&settings.api_url)? {
        builder = builder.proxy(origin).ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

/// Run `call` under the one [`RetryPolicy`]: 429s, 5xx answers and
/// connection errors back off; anything else fails at once. Only for calls
/// that may be repeated (editing a reply): a message POST must not go
/// through here, a timed-out one may have been posted.
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
    use crate::chat::discord::DiscordSettings;

    /// A Discord API that accepts the connection and never answers: the
    /// call fails on the call timeout instead of waiting forever.
    #[tokio::test]
    async fn a_silent_discord_api_fails_the_call_on_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                open.push(conn);
            }
        });
        let settings = settings(&format!("http://{addr}/api/v10"));
        let http = super::client(&settings).unwrap();
        // Without a timeout this never returns; the outer bound only turns
        // such a hang into a failure.
        let got = tokio::time::timeout(std::time::Duration::from_secs(60), http.get_current_user())
            .await
            .expect("the client's own timeout ended the call");
        let err = got.expect_err("nothing answered");
        assert!(
            matches!(&err, serenity::Error::Http(serenity::http::HttpError::Request(e)) if e.is_timeout()),
            "{err:?}"
        );
        held.abort();
    }

    fn settings(api_url: &str) -> DiscordSettings {
        DiscordSettings {
            public_key: "0".repeat(64),
            application_id: 1,
            bot_token: Some("t".to_string().into()),
            api_url: api_url.to_string(),
            max_clock_skew: std::time::Duration::from_secs(300),
            connect_timeout: std::time::Duration::from_millis(200),
            call_timeout: std::time::Duration::from_millis(200),
            commands: Vec::new(),
        }
    }

    /// Against Discord itself Retry-After is honoured by serenity's own
    /// limiter (it reads the bucket headers before a 429 and waits out
    /// `retry_after` after one); serenity drops those headers from the
    /// error it returns, so [`super::retry`] could not. Through a proxy
    /// (serenity's `proxy` exists for rate-limiting proxies such as
    /// twilight-http-proxy) the proxy owns the limits and the one policy
    /// backs off.
    #[test]
    fn against_discord_serenitys_limiter_honours_retry_after_and_a_proxy_turns_it_off() {
        let direct = super::client(&settings("https://discord.com/api/v10")).unwrap();
        assert!(direct.ratelimiter.is_some());
        assert_eq!(direct.proxy, None);
        let proxied = super::client(&settings("http://127.0.0.1:3000/api/v10")).unwrap();
        assert!(proxied.ratelimiter.is_none());
        assert_eq!(proxied.proxy.as_deref(), Some("http://127.0.0.1:3000"));
    }

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
