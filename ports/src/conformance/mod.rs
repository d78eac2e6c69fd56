//! Conformance suites: one async function per port that exercises any implementation against
//! the port's documented contract, and panics (fails the calling test) on the first breach.
//!
//! Every adapter's test calls the suite of each port it implements against the real backend
//! (memory, Postgres, moto, a real SMTP server…). Suites name their tenants with a fresh random
//! suffix, so they can share one database with other tests and with each other.

mod actions;
mod fixtures;
mod ledger;
mod others;
mod price_list;
mod queue;
mod rate;
mod sources;
mod stores;
mod zombies;

pub use actions::{action_store_suite, requested_action};
pub use fixtures::{
    anomaly_for, commit_anomalies, commit_anomaly, cost_event, unique, unique_account_id,
};
pub use ledger::ledger_suite;
pub use others::{
    archive_suite, attempts_suite, auth_suite, email_from_mime, flags_suite, mail_suite,
    webhook_suite, MailSink, Received, WebhookSink,
};
pub use price_list::price_list_suite;
pub use queue::queue_suite;
pub use rate::buckets_suite;
pub use sources::source_store_suite;
pub use stores::store_suite;
pub use zombies::{finding, zombie_store_suite};
