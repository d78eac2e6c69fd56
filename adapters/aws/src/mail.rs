//! [`SesMail`]: mail through SES v2, sent as raw MIME (built with lettre, the same multipart
//! the SMTP adapter sends), so both the HTML and the text part reach the recipient as written.

use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::{PortError, PortResult};
use lettre::message::{Mailbox, MultiPart};

use crate::backend;

/// Sends mail with SES (v2) from a verified identity.
#[derive(Debug, Clone)]
pub struct SesMail {
    client: aws_sdk_sesv2::Client,
    from: Mailbox,
}

impl SesMail {
    /// A sender through `config`'s SES, mailing as `from` (an identity verified in SES).
    pub fn new(config: &aws_config::SdkConfig, from: &str) -> Result<Self, String> {
        Ok(SesMail {
            client: aws_sdk_sesv2::Client::new(config),
            from: from
                .parse()
                .map_err(|e| format!("DD0C_MAIL_FROM {from:?} is not a mailbox: {e}"))?,
        })
    }
}

#[async_trait]
impl Mail for SesMail {
    async fn send(&self, email: &Email) -> PortResult<String> {
        email.validate().map_err(PortError::Invalid)?;
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(&email.subject);
        for to in &email.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| PortError::Invalid(format!("recipient {to:?}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let mime = builder
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| PortError::Invalid(format!("building the message: {e}")))?
            .formatted();
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|e| PortError::Invalid(e.to_string()))?;
        let sent = self
            .client
            .send_email()
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| {
                backend(
                    "SES SendEmail",
                    aws_sdk_sesv2::error::DisplayErrorContext(e),
                )
            })?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }
}
