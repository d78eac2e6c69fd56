//! # dd0c-ports
//!
//! The vocabulary of dd0c/cost and the narrow interfaces ("ports") that every handler in
//! `functions/` is written against. Nothing here names an AWS, Postgres or Redis type: adapters in
//! `adapters/` implement these traits for one technology each, and must pass the port's
//! conformance suite in [`conformance`] (feature `conformance`).
//!
//! Map:
//! - [`domain`] — cost events, anomalies, severities, reasons, feedback, tenants, accounts, settings.
//! - [`baseline`] — the per-account, per-resource-kind Welford baseline and its merge.
//! - [`store`] — persistence ports split by capability; [`store::ScoreStore::commit`] is the one
//!   atomic step of the scorer (processed-event record + baselines + anomaly + outbox).
//! - [`queue`] — FIFO-by-group work queues with visibility timeouts and dead letters.
//! - [`keys`] — wire keys (queue group and deduplication keys, Slack action values), each
//!   written by `Display` and read by `FromStr`.
//! - [`ledger`] — every priced resource followed from its creation to its end: what it cost,
//!   what it will cost by month end, who ended it.
//! - [`rate`] — token buckets shared by replicas: each tenant's intake rate.
//! - [`recall`] — what the normalizer learns from one record to price a later one, per tenant.
//! - [`auth`], [`mail`], [`webhook`], [`archive`], [`flags`], [`clock`] — the remaining ports.
//! - [`zombie`] — the zombie hunter: findings, its settings, the inventory and metrics ports on
//!   a customer account, and the findings store.
//! - [`secrets`] — customer secrets sealed at rest under `DD0C_SECRETS_KEY`, and the
//!   [`secrets::Credentials`] an account is read with.
//! - [`sources`] — ingestion without EventBridge: trail buckets polled, agents, ingest lag.
//! - [`text`] — what no URL, address or name may hold.
//! - [`price_list`] — the AWS Price List's offer files, by path, that the catalog is built from.
//! - [`PortError`] — the one error type every port returns.

/// Serde through a type's text form: `TryFrom<String>` by its `FromStr`, `Into<String>` by its
/// `Display` — what `#[serde(try_from = "String", into = "String")]` asks of a wire type.
macro_rules! serde_as_text {
    ($type:ty) => {
        impl TryFrom<String> for $type {
            type Error = $crate::PortError;

            fn try_from(s: String) -> Result<Self, $crate::PortError> {
                s.parse()
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.to_string()
            }
        }
    };
}
pub(crate) use serde_as_text;

/// An enum of wire names: `as_str`, `ALL`, `Display`/`FromStr` (naming the expected values),
/// serde and the OpenAPI schema all by the one name each variant is given.
macro_rules! wire_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in JSON, tables and filters.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        // Written by hand: the derive does not see a `serde(rename)` made by this macro, and
        // would describe the variants' Rust names instead of what goes on the wire.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let doc: &[&str] = &[$($doc),*];
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(doc.iter().map(|line| line.trim()).collect::<Vec<_>>().join(" ")))
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::PortError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::PortError::Invalid(format!(
                        "unknown {} {s:?} (expected one of {})",
                        stringify!($name),
                        names.join(", ")
                    ))
                })
            }
        }
    };
}

pub mod archive;
pub mod attempts;
pub mod auth;
pub mod baseline;
pub mod clock;
pub mod domain;
pub mod flags;
pub mod keys;
pub mod ledger;
pub mod mail;
pub mod price_list;
pub mod queue;
pub mod rate;
pub mod recall;
pub mod remediation;
pub mod secrets;
pub mod sources;
pub mod store;
pub mod text;
pub mod webhook;
pub mod zombie;

#[cfg(feature = "conformance")]
pub mod conformance;

mod error;
pub use error::{Cause, FieldError, PortError, PortResult};
