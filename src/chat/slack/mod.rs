//! The Slack adapter: slash commands, mentions, buttons, threads.
//!
//! It owns everything between Slack and the neutral [`crate::chat`] model:
//! verifying Slack's request signature before anything else, turning the
//! three inbound payload kinds (slash command form, Events API JSON,
//! interactivity form) into [`Request`](crate::chat::Request)s, the fast
//! answer Slack needs within 3 seconds, and the per-request task that renders
//! the run's [`Update`](crate::chat::Update)s as Block Kit into one thread.
//!
//! The same handlers serve the HTTP endpoints ([`routes`]) and Socket Mode
//! ([`run_socket_mode`]); only the transport of the answer differs.
//!
//! Layout: `settings` (typed, from the config), `verify` (signature,
//! timestamp, body cap, for the shared gate), `inbound` (payload
//! parsing, pure), `render` (Block Kit, pure, snapshot-tested), `api` (the
//! slack-morphism Web API client with retries), `thread` (the per-request
//! renderer that keeps a run's story in one thread), `handler` (the ack path
//! shared by HTTP and Socket Mode), `http` (axum routes), `socket` (Socket
//! Mode client).

mod api;
mod handler;
mod http;
pub mod inbound;
mod notify;
pub mod render;
mod reopen;
mod settings;
mod socket;
mod thread;
mod verify;

pub use crate::retry::RetryPolicy;
pub use api::{SlackApi, SlackApiError};
pub use http::routes;
pub use notify::Notifier;
pub use settings::{
    SlackSettings, DEFAULT_API_URL, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_LIVE_THREADS,
};
pub use socket::run_socket_mode;
pub use verify::{verify_signature, Rejection};
