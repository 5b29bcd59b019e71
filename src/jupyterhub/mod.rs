//! What opsbot knows about JupyterHub, in one place: its REST API
//! ([`api`]), the hubs of a fleet and how they are found ([`directory`]),
//! how KubeSpawner names a user's pods ([`username`]) and how they are found ([`server_pod`]), and the diagnosis
//! engine behind `triage` and `pending` ([`diagnose`]).

pub mod api;
pub mod diagnose;
pub mod directory;
pub mod server_pod;
pub mod username;
