//! # dd0c-adapters-memory
//!
//! In-process implementations of every port: [`MemoryStore`] (all store ports), [`MemoryQueue`],
//! [`MemoryAuth`], [`MemoryMail`], [`MemoryWebhook`], [`MemoryArchive`], [`MemoryFlags`], [`MemoryBuckets`], [`MemorySources`]. They back the embedded
//! default (`dd0c-cost analyze`, `serve` without `DATABASE_URL`) and fast unit tests, and pass the
//! same conformance suites as the Postgres and AWS adapters. State lives behind one `std` mutex
//! per adapter that is never held across an `.await`.

mod archive;
mod attempts;
mod auth;
mod flags;
mod mail;
mod queue;
mod rate;
mod sources;
mod store;
mod webhook;

pub use archive::MemoryArchive;
pub use attempts::MemoryAttempts;
pub use auth::MemoryAuth;
pub use flags::MemoryFlags;
pub use mail::MemoryMail;
pub use queue::MemoryQueue;
pub use rate::MemoryBuckets;
pub use sources::MemorySources;
pub use store::MemoryStore;
pub use webhook::{MemoryWebhook, Posted};

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every adapter method
/// leaves its state consistent before it can panic, so the data is still valid.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
