//! # dd0c-adapters-smtp
//!
//! [`SmtpMail`]: the mail port over SMTP with lettre, for self-hosted installs (the cloud sends
//! through SES). One URL configures it, `DD0C_SMTP_URL`:
//!
//! - `smtp://user:pass@host:587?tls=required` — STARTTLS, refusing to send in clear;
//! - `smtp://host:587?tls=opportunistic` — STARTTLS when offered;
//! - `smtps://user:pass@host:465` — implicit TLS;
//! - `smtp://host:25` (or `?tls=none`) — plain, for a relay on the same host or network.
//!
//! Credentials in the URL are percent-decoded. The sender is `DD0C_MAIL_FROM`.
//!
//! [`mime`] builds the message itself — the same multipart for SMTP and for SES, which sends it
//! raw; without the default `transport` feature the crate is only that.

pub mod mime;

#[cfg(feature = "transport")]
mod transport;

#[cfg(feature = "transport")]
pub use transport::SmtpMail;
