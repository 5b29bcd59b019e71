//! The platform-neutral conversation model every adapter speaks.
//!
//! An adapter (console, Slack, GitHub, Discord) turns what a person typed into
//! a [`Request`], hands it to [`crate::runs`], and renders the [`Update`]s it
//! gets back for its platform. Nothing here knows about Slack blocks or
//! GitHub comments, and nothing in an adapter knows about playbooks.

pub mod console;
pub mod discord;
pub mod github;
pub mod model;
pub mod place;
pub mod render;
pub mod slack;
pub mod verify;
pub mod view;

pub use model::*;
pub use place::Place;
