//! The mail port: one multipart (HTML + text) message to one or more recipients.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::PortResult;

/// An e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Recipients (at least one).
    pub to: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Email {
    /// Checks what every adapter must refuse with `Invalid` before sending anything: no
    /// recipient, an address without a single `@` between non-empty parts, an empty subject, or a
    /// subject with a line break (header injection).
    pub fn validate(&self) -> Result<(), crate::PortError> {
        if self.to.is_empty() {
            return Err(crate::PortError::Invalid("no recipient".into()));
        }
        for address in &self.to {
            if !is_address(address) {
                return Err(crate::PortError::Invalid(format!(
                    "recipient {address:?} is not an e-mail address"
                )));
            }
        }
        if self.subject.trim().is_empty() {
            return Err(crate::PortError::Invalid("empty subject".into()));
        }
        if self.subject.contains(['\r', '\n']) {
            return Err(crate::PortError::Invalid(
                "subject contains a line break".into(),
            ));
        }
        Ok(())
    }
}

/// Whether `address` is `local@domain`: one `@` between non-empty parts, no whitespace.
pub fn is_address(address: &str) -> bool {
    matches!(address.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !address.contains(crate::text::is_blank)
}

/// Sends mail.
#[async_trait]
pub trait Mail: Send + Sync {
    /// Sends the message and returns the backend's message id. An invalid message (see
    /// [`Email::validate`]) is `Invalid` and nothing is sent.
    async fn send(&self, email: &Email) -> PortResult<String>;
}
