//! [`SesMail`]: mail through SES v2, sent as raw MIME (the very message the SMTP adapter sends,
//! from `dd0c_adapters_smtp::mime`), so both the HTML and the text part reach the recipient as
//! written.

use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use dd0c_adapters_smtp::mime;
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::{PortError, PortResult};

use crate::table::sdk;

/// Sends mail with SES (v2) from a verified identity.
#[derive(Debug, Clone)]
pub struct SesMail {
    client: aws_sdk_sesv2::Client,
    from: mime::Sender,
}

impl SesMail {
    /// A sender through `config`'s SES, mailing as `from` (an identity verified in SES).
    pub fn new(config: &aws_config::SdkConfig, from: &str) -> PortResult<Self> {
        Ok(SesMail {
            client: aws_sdk_sesv2::Client::new(config),
            from: mime::sender(from)?,
        })
    }
}

#[async_trait]
impl Mail for SesMail {
    async fn send(&self, email: &Email) -> PortResult<String> {
        let mime = mime::message(&self.from, email)?.formatted();
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
            .map_err(|e| sdk("SES SendEmail", e))?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }
}
