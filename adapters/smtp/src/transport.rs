//! [`SmtpMail`]: the SMTP transport.

use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::{PortError, PortResult};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::mime;

/// How long one SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Mail over SMTP.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SmtpMail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: mime::Sender,
}

impl SmtpMail {
    /// A sender through the server at `url` (see the crate doc), mailing as `from`.
    pub fn new(url: &str, from: &str) -> PortResult<SmtpMail> {
        let from = mime::sender(from)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&without_tls_none(url))
            .map_err(|e| PortError::Invalid(format!("DD0C_SMTP_URL is not a valid SMTP URL: {e}")))?
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
        let message = mime::message(&self.from, email)?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::to_owned)
            .unwrap_or_default();
        self.transport
            .send(message)
            .await
            .map_err(|e| PortError::caused("SMTP", e))?;
        Ok(message_id)
    }
}
