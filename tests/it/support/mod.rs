//! What the integration tests share: an in-process bot on the demo fleet
//! ([`bot`]), the simulated fleet with the shipped playbooks ([`fleet`]),
//! recording fakes of the Slack and Discord APIs ([`slack`], [`discord`]) and
//! a throwaway PostgreSQL ([`postgres`]).

pub mod bot;
pub mod discord;
pub mod fleet;
pub mod postgres;
pub mod slack;
