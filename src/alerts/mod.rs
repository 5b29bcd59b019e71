//! Alerts from Alertmanager: diagnosis that starts before anyone types.
//!
//! `POST /alertmanager/webhook` takes Alertmanager's webhook payload
//! (version 4), authenticated by the bearer token or basic auth
//! Alertmanager sends ([`receiver`]), and answers at once; a single worker
//! ([`groups`]) then keeps one Slack thread per alert group (`groupKey`):
//! the first notification posts the group and runs the diagnosis its
//! [`route`] names into the thread, repeats edit that message, `resolved`
//! marks it resolved. Runs are bounded: one per group at a time, at most
//! `max_runs_per_minute` per receiver, the groups past that summarised in
//! one message. Every run goes through the core like a person's request,
//! as the configured `alertmanager` person, so it is authorised and
//! audited; its audit record keeps the group's thread, which is how a
//! restarted opsbot finds the thread again.

pub mod destination;
pub mod groups;
pub mod payload;
pub mod receiver;
pub mod route;

pub use receiver::router;
