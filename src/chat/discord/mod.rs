//! Discord: the `/ops` application command over the HTTP interactions endpoint.
//!
//! Discord POSTs every interaction (PING, the `/ops` command, autocomplete,
//! button presses) to `POST /discord/interactions` and wants an answer within
//! three seconds. The answer path is: verify the Ed25519 signature and the
//! timestamp, parse the interaction with serenity's model, drop replays, hand
//! the text to the [`Core`] (which records it durably), and answer from the
//! first [`Update`]: a deferred response for an accepted run, an ephemeral
//! message for refusals and help, a message with Approve/Deny buttons for
//! approvals. Everything after the answer (step progress, the result, the
//! decision) is rendered by one task per interaction that edits the original
//! response through serenity's HTTP client (see [`story`]).
//!
//! No gateway connection is needed. `DISCORD_API_URL` points serenity's HTTP
//! client at another server (tests use a local fake of the Discord API).

mod answer;
mod api;
mod autocomplete;
pub mod inbound;
mod notify;
pub mod options;
pub mod register;
pub mod render;
mod reopen;
mod settings;
mod thread;
mod verify;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serenity::model::application::Interaction;

use super::verify::{refuse, Gate, Refusal, Verified, Verify};
use super::Core;
pub use notify::ChannelNotifier;
pub use settings::DiscordSettings;
pub use verify::SignatureError;

/// What the handler needs, shared by every request.
struct Shared {
    core: Arc<dyn Core>,
    verifier: verify::Verifier,
    http: Arc<serenity::http::Http>,
    commands: Arc<Vec<crate::command::CommandSpec>>,
}

impl Gate for Shared {
    fn verifier(&self) -> &dyn Verify {
        &self.verifier
    }

    fn core(&self) -> &dyn Core {
        self.core.as_ref()
    }
}

/// The `POST /discord/interactions` endpoint, ready to be merged into the server.
pub fn routes(core: Arc<dyn Core>, settings: DiscordSettings) -> anyhow::Result<Router> {
    let verifier = verify::Verifier::new(&settings.public_key, settings.max_clock_skew)?;
    let http = Arc::new(api::client(&settings)?);
    core.reopen_with(Arc::new(reopen::DiscordReopen {
        http: http.clone(),
        runtime: tokio::runtime::Handle::current(),
    }));
    let shared = Arc::new(Shared {
        core,
        verifier,
        http,
        commands: Arc::new(settings.commands.clone()),
    });
    Ok(Router::new()
        .route("/discord/interactions", post(interactions))
        .with_state(shared))
}

async fn interactions(State(s): State<Arc<Shared>>, v: Verified) -> Response {
    let interaction = match inbound::parse(&v.body) {
        Ok(i) => i,
        Err(e) => {
            return refuse(
                s.core.as_ref(),
                "discord",
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    format!("malformed interaction: {e}; expected an interaction object as Discord documents it"),
                ),
            )
        }
    };
    match interaction {
        Interaction::Ping(_) => Json(serde_json::json!({ "type": 1 })).into_response(),
        Interaction::Autocomplete(ci) => {
            Json(autocomplete::answer(s.core.as_ref(), &ci, &s.commands).await).into_response()
        }
        Interaction::Command(ci) => match answer::busy(&s.core, &ci, &s.commands) {
            Some(busy) => busy.into_response(),
            None => match dedup(&s, ci.id.get()).await {
                Some(stop) => stop,
                None => answer::command(&s.core, &s.http, &ci, &s.commands)
                    .await
                    .into_response(),
            },
        },
        Interaction::Component(ci) => match dedup(&s, ci.id.get()).await {
            Some(stop) => stop,
            None => answer::button(&s.core, &s.http, &ci).await.into_response(),
        },
        _ => {
            s.core.refused("discord", "unsupported");
            (
                StatusCode::BAD_REQUEST,
                "unsupported interaction type: opsbot answers PING, the /ops command, its autocomplete and its buttons",
            )
                .into_response()
        }
    }
}

/// Discord never sends an interaction twice; a second copy is a replay and
/// gets a 409. `Some(response)` means: stop here and answer this.
async fn dedup(s: &Shared, id: u64) -> Option<Response> {
    match s.core.first_delivery("discord", &id.to_string()).await {
        Ok(true) => None,
        Ok(false) => {
            s.core.refused("discord", "replayed");
            Some(
                (
                    StatusCode::CONFLICT,
                    "this interaction was already handled (replayed delivery); nothing was run again",
                )
                    .into_response(),
            )
        }
        Err(e) => {
            // Without the dedup record we cannot promise "at most once": refuse
            // rather than risk running a command twice.
            tracing::error!(error = %e, "discord: cannot record the interaction id");
            Some(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "opsbot cannot record this interaction right now; nothing was run, try again",
                )
                    .into_response(),
            )
        }
    }
}
