//! The Slack Web API client opsbot uses: slack-morphism's hyper client
//! pointed at a configurable base URL, with retries.
//!
//! Retries follow the one [`RetryPolicy`]: a 429 waits for its `Retry-After`
//! (capped), transient failures (5xx, transport errors, Slack's
//! `internal_error`-style codes) back off exponentially; anything else fails
//! at once. Every call is logged with its method name only, never the token.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::retry::{GaveUp, Retry, RetryPolicy};

/// A Web API call that failed for good (after retries).
#[derive(Debug, thiserror::Error)]
#[error("Slack {method} failed after {attempts} attempt(s): {cause}")]
pub struct SlackApiError {
    pub method: &'static str,
    pub attempts: u32,
    /// Slack's error code or the transport error, without request data.
    pub cause: String,
}

/// The Web API calls opsbot makes, with retries. Cheap to clone.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    retry: RetryPolicy,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi").finish_non_exhaustive()
    }
}

/// Connecting to Slack gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One call (request and answer) gives up after this: a silent Slack API
/// must not hold a thread's renderer forever.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether sending a call again could do its work twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads and edits: the same result however often they are sent, so
    /// any transient failure is retried.
    Safe,
    /// Posts: a timed-out or 5xx `chat.postMessage` may have been posted,
    /// so it is retried only when Slack said it did nothing (rate limited).
    Once,
}

/// A connector that speaks https (Slack) and plain http (a local fake).
fn connector(api_url: &str) -> anyhow::Result<SlackClientHyperHttpsConnector> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| anyhow::anyhow!("cannot load the system's TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(SlackClientHyperConnector::from(https).with_slack_api_url(api_url.trim_end_matches('/')))
}

impl SlackApi {
    /// A client for `api_url` (e.g. `https://slack.com/api`) acting with
    /// the bot token.
    pub fn new(
        api_url: &str,
        bot_token: &SecretString,
        retry: RetryPolicy,
    ) -> anyhow::Result<Self> {
        let client = SlackClient::new(connector(api_url)?);
        Ok(SlackApi {
            client: Arc::new(client),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose_secret().to_string())),
            retry,
        })
    }

    /// `chat.postMessage`; returns the new message's `ts`.
    pub async fn post_message(
        &self,
        req: &SlackApiChatPostMessageRequest,
    ) -> Result<SlackTs, SlackApiError> {
        self.call("chat.postMessage", Repeat::Once, &self.token, |s| {
            Box::pin(async move { s.chat_post_message(req).await })
        })
        .await
        .map(|r| r.ts)
    }

    /// `chat.update`: edits a message in place.
    pub async fn update_message(
        &self,
        req: &SlackApiChatUpdateRequest,
    ) -> Result<(), SlackApiError> {
        self.call("chat.update", Repeat::Safe, &self.token, |s| {
            Box::pin(async move { s.chat_update(req).await })
        })
        .await
        .map(|_| ())
    }

    /// `chat.postEphemeral`: a message only `req.user` sees.
    pub async fn post_ephemeral(
        &self,
        req: &SlackApiChatPostEphemeralRequest,
    ) -> Result<(), SlackApiError> {
        self.call("chat.postEphemeral", Repeat::Once, &self.token, |s| {
            Box::pin(async move { s.chat_post_ephemeral(req).await })
        })
        .await
        .map(|_| ())
    }

    /// Uploads `content` as a file into a thread with Slack's external
    /// upload flow: `files.getUploadURLExternal`, the upload itself, then
    /// `files.completeUploadExternal` sharing it into the channel/thread.
    /// `content_type` is what Slack is told the bytes are (`text/plain`
    /// for a long output, `image/png` for a chart Slack shows inline).
    pub async fn upload_file(
        &self,
        channel: &SlackChannelId,
        thread_ts: Option<&SlackTs>,
        filename: &str,
        title: &str,
        content: &[u8],
        content_type: &str,
    ) -> Result<(), SlackApiError> {
        let url_req =
            SlackApiFilesGetUploadUrlExternalRequest::new(filename.to_string(), content.len());
        let target = self
            .call(
                "files.getUploadURLExternal",
                Repeat::Safe,
                &self.token,
                |s| {
                    let url_req = &url_req;
                    Box::pin(async move { s.get_upload_url_external(url_req).await })
                },
            )
            .await?;
        let upload = SlackApiFilesUploadViaUrlRequest::new(
            target.upload_url.clone(),
            content.to_vec(),
            content_type.to_string(),
        );
        self.call(
            "files.upload (external URL)",
            Repeat::Safe,
            &self.token,
            |s| {
                let upload = &upload;
                Box::pin(async move { s.files_upload_via_url(upload).await })
            },
        )
        .await?;
        let complete =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                target.file_id.clone(),
            )
            .with_title(title.to_string())])
            .with_channel_id(channel.clone())
            .opt_thread_ts(thread_ts.cloned());
        self.call(
            "files.completeUploadExternal",
            Repeat::Once,
            &self.token,
            |s| {
                let complete = &complete;
                Box::pin(async move { s.files_complete_upload_external(complete).await })
            },
        )
        .await
        .map(|_| ())
    }

    /// `apps.connections.open` with the app-level token: the WebSocket URL
    /// for one Socket Mode connection.
    pub async fn open_socket_url(&self, app_token: &SecretString) -> Result<String, SlackApiError> {
        let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose_secret().to_string()));
        let req = SlackApiAppsConnectionOpenRequest::new();
        self.call("apps.connections.open", Repeat::Safe, &token, |s| {
            let req = &req;
            Box::pin(async move { s.apps_connections_open(req).await })
        })
        .await
        .map(|r| r.url.0.to_string())
    }

    /// Runs one API call with the retry policy.
    async fn call<'a, T, F>(
        &'a self,
        method: &'static str,
        repeat: Repeat,
        token: &'a SlackApiToken,
        f: F,
    ) -> Result<T, SlackApiError>
    where
        F: for<'s> Fn(
            &'s SlackClientSession<'a, SlackClientHyperHttpsConnector>,
        ) -> futures::future::BoxFuture<'s, ClientResult<T>>,
    {
        let session = self.client.open_session(token);
        let what = format!("Slack {method}");
        self.retry
            .run(
                &what,
                |e: &Described| match (e, repeat) {
                    (Described::Client(c), Repeat::Safe) => classify(c),
                    (Described::Client(c), Repeat::Once) => match classify(c) {
                        wait @ Retry::After(_) => wait,
                        _ => Retry::Never,
                    },
                    (Described::TimedOut, Repeat::Safe) => Retry::Backoff,
                    (Described::TimedOut, Repeat::Once) => Retry::Never,
                },
                || async {
                    match tokio::time::timeout(CALL_TIMEOUT, f(&session)).await {
                        Ok(r) => r.map_err(Described::Client),
                        Err(_) => Err(Described::TimedOut),
                    }
                },
            )
            .await
            .map_err(|GaveUp { error, attempts }| SlackApiError {
                method,
                attempts,
                cause: error.to_string(),
            })
    }
}

/// A failed call, shown by [`describe`] in retry logs.
enum Described {
    Client(SlackClientError),
    /// No answer within [`CALL_TIMEOUT`].
    TimedOut,
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Described::Client(e) => f.write_str(&describe(e)),
            Described::TimedOut => write!(
                f,
                "no answer within {}",
                humantime::format_duration(CALL_TIMEOUT)
            ),
        }
    }
}

/// Whether `err` is worth another try.
fn classify(err: &SlackClientError) -> Retry {
    match err {
        SlackClientError::RateLimitError(rate) => {
            Retry::After(rate.retry_after.unwrap_or(Duration::from_secs(1)))
        }
        SlackClientError::HttpError(http) if http.status_code.is_server_error() => Retry::Backoff,
        SlackClientError::HttpProtocolError(_) | SlackClientError::EndOfStream(_) => Retry::Backoff,
        SlackClientError::ApiError(api)
            if matches!(
                api.code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
            ) =>
        {
            Retry::Backoff
        }
        _ => Retry::Never,
    }
}

/// The failure in words, without bodies that could echo request data.
fn describe(err: &SlackClientError) -> String {
    match err {
        SlackClientError::ApiError(api) => format!("Slack answered error `{}`", api.code),
        SlackClientError::HttpError(http) => format!("HTTP {}", http.status_code),
        SlackClientError::RateLimitError(rate) => match rate.retry_after {
            Some(after) => format!("rate limited (Retry-After {}s)", after.as_secs()),
            None => "rate limited".to_string(),
        },
        SlackClientError::HttpProtocolError(e) => format!("transport error: {e}"),
        SlackClientError::EndOfStream(_) => "connection closed early".to_string(),
        SlackClientError::SystemError(e) => format!("client error: {e}"),
        SlackClientError::ProtocolError(e) => format!("unexpected response: {e}"),
        SlackClientError::SocketModeProtocolError(e) => format!("socket mode error: {e}"),
    }
}
