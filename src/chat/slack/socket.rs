//! Socket Mode: the same handlers as the HTTP endpoints, over a WebSocket
//! opsbot opens itself, so a team behind a firewall needs no public URL.
//!
//! The URL comes from `apps.connections.open` (called with the app-level
//! token at the configured `api_url`, so tests point it at a local server).
//! The socket itself is tokio-tungstenite rather than slack-morphism's
//! listener: we need to send each envelope's ack only after `core.submit`
//! has recorded the request (and to carry the slash command's ephemeral
//! answer in the ack payload), which the listener's callback shape does
//! not let us order. Each envelope is handled in its own task; acks go back
//! through one writer. On `disconnect` (Slack rotates connections) or a
//! dropped socket, a fresh URL is fetched and the loop reconnects.

use std::sync::Arc;

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::handler::{ephemeral_json, Ack, Slack};
use super::inbound::{self, Inbound, ParseError};
use super::SlackSettings;
use crate::chat::Core;
use crate::retry::Retry;

/// Serves Slack over Socket Mode until `shutdown` is cancelled,
/// reconnecting (with backoff) whenever the connection ends.
pub async fn run_socket_mode(
    core: Arc<dyn Core>,
    settings: SlackSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app_token = settings.app_token.clone().context(
        "Socket Mode needs an app-level token: set SLACK_APP_TOKEN to the app's xapp-… token",
    )?;
    let slack = Arc::new(Slack::new(core.clone(), &settings)?);
    core.reopen_with(Arc::new(super::reopen::SlackReopen {
        slack: slack.clone(),
        runtime: tokio::runtime::Handle::current(),
    }));
    let mut failures: u32 = 0;
    while !shutdown.is_cancelled() {
        let session = tokio::select! {
            result = connect_once(&slack, &app_token) => result,
            _ = shutdown.cancelled() => break,
        };
        match session {
            Ok(()) => failures = 0,
            Err(err) => {
                failures += 1;
                // Reconnecting never gives up, but waits as every API call does.
                let wait = settings
                    .retry
                    .delay(Retry::Backoff, failures)
                    .unwrap_or(settings.retry.max_delay);
                tracing::warn!(error = %err, wait_ms = wait.as_millis() as u64, "Slack Socket Mode connection failed; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    Ok(())
}

/// One Socket Mode envelope (`hello`, `disconnect`, `events_api`,
/// `slash_commands`, `interactive`).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    envelope_id: Option<String>,
    #[serde(default)]
    payload: serde_json::Value,
    #[serde(default)]
    accepts_response_payload: bool,
}

/// One connection, from `apps.connections.open` to its end. `Ok` when
/// Slack asked us to reconnect or closed the socket.
async fn connect_once(slack: &Arc<Slack>, app_token: &SecretString) -> anyhow::Result<()> {
    let url = slack.api.open_socket_url(app_token).await?;
    // The URL carries a connection ticket: it is not logged.
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .context("cannot open the Socket Mode WebSocket")?;
    tracing::info!("Slack Socket Mode connected");
    let (mut sink, mut stream) = socket.split();
    let (acks, mut pending) = mpsc::unbounded_channel::<String>();
    loop {
        tokio::select! {
            Some(ack) = pending.recv() => sink.send(Message::Text(ack.into())).await?,
            frame = stream.next() => match frame {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(err)) => return Err(err.into()),
                Some(Ok(Message::Ping(data))) => sink.send(Message::Pong(data)).await?,
                Some(Ok(Message::Text(text))) => {
                    let envelope: Envelope = match serde_json::from_str(text.as_str()) {
                        Ok(envelope) => envelope,
                        Err(err) => {
                            tracing::warn!(error = %err, "unreadable Socket Mode frame ignored");
                            continue;
                        }
                    };
                    match envelope.kind.as_str() {
                        "hello" => tracing::debug!("Socket Mode hello"),
                        "disconnect" => return Ok(()),
                        _ => {
                            let slack = slack.clone();
                            let acks = acks.clone();
                            tokio::spawn(async move {
                                if let Some(ack) = handle_envelope(&slack, envelope).await {
                                    let _ = acks.send(ack);
                                }
                            });
                        }
                    }
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Handles one envelope with the shared ack path and returns the ack
/// frame to send (`None` for envelopes without an id).
async fn handle_envelope(slack: &Arc<Slack>, envelope: Envelope) -> Option<String> {
    let id = envelope.envelope_id?;
    let parse: fn(serde_json::Value) -> Result<Inbound, ParseError> = match envelope.kind.as_str() {
        "events_api" => inbound::parse_event_json,
        "slash_commands" => inbound::parse_slash_command_json,
        "interactive" => inbound::parse_interaction_json,
        other => {
            tracing::debug!(kind = other, "Socket Mode envelope type ignored");
            return Some(ack_frame(&id, None));
        }
    };
    let ack = match parse(envelope.payload) {
        Ok(inbound) => slack.handle(inbound).await,
        Err(err) => {
            tracing::warn!(error = %err, "Socket Mode payload did not parse");
            slack.core.refused("slack", "malformed_payload");
            Ack::Empty
        }
    };
    let payload = match ack {
        // Not acking lets Slack redeliver once the dedup store is back.
        Ack::Unavailable => return None,
        Ack::Ephemeral(content) if envelope.accepts_response_payload => {
            Some(ephemeral_json(&content))
        }
        Ack::Empty | Ack::Challenge(_) | Ack::Ephemeral(_) => None,
    };
    Some(ack_frame(&id, payload))
}

fn ack_frame(id: &str, payload: Option<serde_json::Value>) -> String {
    let mut frame = serde_json::json!({ "envelope_id": id });
    if let Some(payload) = payload {
        frame["payload"] = payload;
    }
    frame.to_string()
}
