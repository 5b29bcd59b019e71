//! The HTTP endpoints: `POST /slack/commands`, `/slack/events`,
//! `/slack/interactions`.
//!
//! Each one reads the body under the size cap, verifies the signature, and
//! only then parses; a refusal is counted (`core.refused`) and answered
//! 401/413/400 without running anything. The rest is the shared ack path.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::handler::{ephemeral_json, Ack, Slack};
use super::inbound::{self, Inbound, ParseError};
use super::verify::{verify_signature, Rejection};
use super::SlackSettings;
use crate::chat::Core;

/// The Slack endpoints, ready for the server to `.merge()`. If the Web API
/// client cannot be built (no TLS root certificates on the machine), the
/// endpoints answer 503 and the cause is logged once.
pub fn routes(core: Arc<dyn Core>, settings: SlackSettings) -> Router {
    match Slack::new(core, &settings) {
        Ok(slack) => Router::new()
            .route("/slack/commands", post(commands))
            .route("/slack/events", post(events))
            .route("/slack/interactions", post(interactions))
            .with_state(Arc::new(slack)),
        Err(err) => {
            tracing::error!(error = %err, "the Slack endpoints are disabled");
            let unavailable = || async { StatusCode::SERVICE_UNAVAILABLE };
            Router::new()
                .route("/slack/commands", post(unavailable))
                .route("/slack/events", post(unavailable))
                .route("/slack/interactions", post(unavailable))
        }
    }
}

async fn commands(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    serve(&slack, &headers, body, inbound::parse_slash_command_form).await
}

async fn events(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    if let Some(retry) = headers.get("x-slack-retry-num") {
        tracing::debug!(retry = ?retry, "Slack event redelivery");
    }
    serve(&slack, &headers, body, inbound::parse_event).await
}

async fn interactions(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    serve(&slack, &headers, body, inbound::parse_interaction_form).await
}

/// Cap, verify, parse, then the shared ack path.
async fn serve(
    slack: &Arc<Slack>,
    headers: &HeaderMap,
    body: Body,
    parse: fn(&[u8]) -> Result<Inbound, ParseError>,
) -> Response {
    let bytes = match read_verified(slack, headers, body).await {
        Ok(bytes) => bytes,
        Err(rejection) => return reject(slack, rejection),
    };
    let inbound = match parse(&bytes) {
        Ok(inbound) => inbound,
        Err(err) => {
            tracing::warn!(error = %err, "signed Slack payload did not parse");
            return reject(slack, Rejection::Malformed);
        }
    };
    answer(slack.handle(inbound).await)
}

async fn read_verified(
    slack: &Slack,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, Rejection> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > slack.max_body_bytes) {
        return Err(Rejection::BodyTooLarge);
    }
    let bytes = axum::body::to_bytes(body, slack.max_body_bytes)
        .await
        .map_err(|_| Rejection::BodyTooLarge)?;
    verify_signature(&slack.verifier, headers, &bytes)?;
    Ok(bytes)
}

fn reject(slack: &Slack, rejection: Rejection) -> Response {
    slack.core.refused("slack", rejection.reason());
    tracing::warn!(
        reason = rejection.reason(),
        "Slack request refused: {rejection}"
    );
    (rejection.status(), rejection.to_string()).into_response()
}

fn answer(ack: Ack) -> Response {
    match ack {
        Ack::Empty => StatusCode::OK.into_response(),
        Ack::Challenge(challenge) => {
            Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Ack::Ephemeral(content) => Json(ephemeral_json(&content)).into_response(),
        Ack::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
