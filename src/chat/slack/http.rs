//! The HTTP endpoints: `POST /slack/commands`, `/slack/events`,
//! `/slack/interactions`.
//!
//! Each one passes the shared [`Verified`] gate (body under the size cap,
//! signature, refusal metric) and only then parses; a refusal is counted
//! (`core.refused`) and answered 401/413/400 without running anything. The
//! rest is the shared ack path.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::handler::{ephemeral_json, Ack, Slack};
use super::inbound::{self, Inbound, ParseError};
use super::verify::Rejection;
use super::SlackSettings;
use crate::chat::verify::{refuse, Gate, Verified, Verify};
use crate::chat::Core;

/// The Slack endpoints, ready for the server to `.merge()`. If the Web API
/// client cannot be built (no TLS root certificates on the machine), the
/// endpoints answer 503 and the cause is logged once.
pub fn routes(core: Arc<dyn Core>, settings: SlackSettings) -> Router {
    match Slack::new(core.clone(), &settings) {
        Ok(slack) => {
            let slack = Arc::new(slack);
            core.reopen_with(Arc::new(super::reopen::SlackReopen {
                slack: slack.clone(),
                runtime: tokio::runtime::Handle::current(),
            }));
            Router::new()
                .route("/slack/commands", post(commands))
                .route("/slack/events", post(events))
                .route("/slack/interactions", post(interactions))
                .with_state(slack)
        }
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

impl Gate for Slack {
    fn verifier(&self) -> &dyn Verify {
        &self.verifier
    }

    fn core(&self) -> &dyn Core {
        self.core.as_ref()
    }
}

async fn commands(State(slack): State<Arc<Slack>>, v: Verified) -> Response {
    serve(&slack, v, inbound::parse_slash_command_form).await
}

async fn events(State(slack): State<Arc<Slack>>, v: Verified) -> Response {
    if let Some(retry) = v.headers.get("x-slack-retry-num") {
        tracing::debug!(retry = ?retry, "Slack event redelivery");
    }
    serve(&slack, v, inbound::parse_event).await
}

async fn interactions(State(slack): State<Arc<Slack>>, v: Verified) -> Response {
    serve(&slack, v, inbound::parse_interaction_form).await
}

/// Parse what the gate let through, then the shared ack path.
async fn serve(
    slack: &Arc<Slack>,
    v: Verified,
    parse: fn(&[u8]) -> Result<Inbound, ParseError>,
) -> Response {
    let inbound = match parse(&v.body) {
        Ok(inbound) => inbound,
        Err(err) => {
            tracing::warn!(error = %err, "signed Slack payload did not parse");
            return refuse(slack.core.as_ref(), "slack", Rejection::Malformed.into());
        }
    };
    answer(slack.handle(inbound).await)
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
