//! The message itself: a MIME multipart/alternative (plain text, then HTML) from the configured
//! sender to an [`Email`]'s recipients, with a Message-ID. SMTP sends it as is; SES sends it raw.

use dd0c_ports::mail::Email;
use dd0c_ports::{PortError, PortResult};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

pub use lettre::message::Mailbox as Sender;

/// The sender configured in `DD0C_MAIL_FROM` (`alerts@acme.example` or
/// `dd0c/cost <alerts@acme.example>`), or an error naming the setting.
pub fn sender(from: &str) -> PortResult<Sender> {
    from.parse()
        .map_err(|e| PortError::Invalid(format!("DD0C_MAIL_FROM {from:?} is not a mailbox: {e}")))
}

/// `email` from `from`, after [`Email::validate`] (an invalid message is `Invalid`).
pub fn message(from: &Sender, email: &Email) -> PortResult<Message> {
    email.validate()?;
    let mut builder = Message::builder()
        .message_id(None)
        .from(from.clone())
        .subject(&email.subject);
    for to in &email.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| PortError::Invalid(format!("recipient {to:?}: {e}")))?;
        builder = builder.to(mailbox);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| PortError::Invalid(format!("building the message: {e}")))
}
