//! The integration tests: one crate, so the library is linked once.
//! Each file is one area of behaviour; `support/` holds what they share.

mod support;

mod architecture;
mod audit_anchor;
mod audit_crash;
mod audit_store;
mod cli;
mod config_authz;
mod config_errors;
mod config_example;
mod diagnose_catalogue;
mod discord_e2e;
mod discord_interactions;
mod fleet_hubs;
mod fleet_naming;
mod github_webhook;
mod http_limits;
mod names;
mod opspack;
mod opspack_bot;
mod opspack_hubapi;
mod opspack_rbac;
mod playbook_exec;
mod playbook_fleet;
mod playbook_http;
mod playbook_kube;
mod playbook_load;
mod playbook_shipped;
mod playbook_sim;
mod render_snapshots;
mod runs_lifecycle;
mod runs_state;
mod sim_client;
mod sim_http;
mod sim_kube;
mod sim_kubectl;
mod sim_seed;
mod sim_selector;
mod sim_watch;
mod slack_e2e;
mod slack_http;
mod slack_render;
mod slack_socket;
mod triage_autoscaling;
mod trust_binary;
