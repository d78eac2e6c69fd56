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

use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::{PortError, PortResult};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Mail over SMTP.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SmtpMail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMail {
    /// A sender through the server at `url` (see the crate doc), mailing as `from`.
    pub fn new(url: &str, from: &str) -> Result<SmtpMail, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("DD0C_MAIL_FROM {from:?} is not a mailbox: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&without_tls_none(url))
            .map_err(|e| format!("DD0C_SMTP_URL is not a valid SMTP URL: {e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        Ok(SmtpMail { transport, from })
    }
}

/// lettre spells "no TLS" as the absence of a `tls` parameter; `tls=none` says it explicitly.
fn without_tls_none(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query.split('&').filter(|p| *p != "tls=none").collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

#[async_trait]
impl Mail for SmtpMail {
    async fn send(&self, email: &Email) -> PortResult<String> {
        email.validate().map_err(PortError::Invalid)?;
        let mut builder = Message::builder()
            .message_id(None)
            .from(self.from.clone())
            .subject(&email.subject);
        for to in &email.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| PortError::Invalid(format!("recipient {to:?}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| PortError::Invalid(format!("building the message: {e}")))?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::to_owned)
            .unwrap_or_default();
        self.transport
            .send(message)
            .await
            .map_err(|e| PortError::Backend(format!("SMTP: {e}")))?;
        Ok(message_id)
    }
}
