//! opsbot: a typed, audited, multi-platform ChatOps bot for Kubernetes.
//!
//! Data flows one way: chat → command/authz/runs → playbook → actions →
//! cluster. Each module owns one job; see `README.md` for the tour.

pub mod actions;
pub mod app;
pub mod audit;
pub mod authz;
pub mod chat;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod command;
pub mod config;
pub mod demo;
pub mod diagnose;
pub mod hub_api;
pub mod hubs;
pub mod kubespawner;
pub mod metrics;
pub mod playbook;
pub mod rbac;
pub mod redact;
pub mod runs;
pub mod server;
pub mod sim;
pub mod yaml;
