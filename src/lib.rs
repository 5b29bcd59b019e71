//! opsbot: a typed, audited, multi-platform ChatOps bot for Kubernetes.
//!
//! Data flows one way, and the folders read in that order:
//! `cli` → `app` → `alerts` → `chat` → `command` / `authz` / `runs` → `audit` →
//! `playbook` → `actions` → `jupyterhub` / `cluster`. The leaves
//! (`diagnostic`, `redact`, `metrics`) import nothing of opsbot's.
//! `tests/it/architecture.rs` fails when an import runs the other way.

pub mod actions;
pub mod alerts;
pub mod app;
pub mod audit;
pub mod authz;
pub mod chart;
pub mod chat;
pub mod cli;
pub mod cluster;
pub mod command;
pub mod config;
pub mod diagnostic;
pub mod jupyterhub;
pub mod metrics;
pub mod playbook;
pub mod prometheus;
pub mod redact;
pub mod retry;
pub mod runs;
pub mod schedules;
pub mod urlpath;
