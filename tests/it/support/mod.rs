//! What the integration tests share: the binary against `opsbot sim` in its
//! own process ([`binary`]), an in-process bot on the demo fleet
//! ([`bot`]), the simulated fleet with the shipped playbooks ([`fleet`]),
//! recording fakes of the Slack and Discord APIs ([`slack`], [`discord`]) and
//! a throwaway PostgreSQL ([`postgres`]), a real Alertmanager ([`alertmanager`]) and Prometheus
//! ([`prometheus`]), the Helm chart rendered without Helm ([`helm`]), `opsbot serve` as a child
//! process ([`server`]), and the library's log lines
//! ([`logs`]) for waiting on decisions that leave no other trace.

pub mod alertmanager;
pub mod binary;
pub mod bot;
pub mod discord;
pub mod fleet;
pub mod helm;
pub mod logs;
pub mod postgres;
pub mod prometheus;
pub mod server;
pub mod slack;
