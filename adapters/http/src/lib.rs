//! # dd0c-adapters-http
//!
//! [`HttpWebhook`]: the webhook port over HTTP(S) with reqwest and rustls — how alerts reach
//! Slack incoming webhooks in both deployment modes.

use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::webhook::{is_http_url, Webhook};
use dd0c_ports::{PortError, PortResult};

/// How long one post may take: a stuck webhook must not hold a notifier's claim past its lease.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Posts JSON over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpWebhook {
    client: reqwest::Client,
}

impl HttpWebhook {
    /// A client with a 5 s timeout.
    pub fn new() -> PortResult<HttpWebhook> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("dd0c-cost/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PortError::Backend(format!("building the HTTP client: {e}")))?;
        Ok(HttpWebhook { client })
    }
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post(&self, url: &str, body: &serde_json::Value) -> PortResult<()> {
        if !is_http_url(url) {
            return Err(PortError::Invalid(format!("{url:?} is not an http(s) URL")));
        }
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| PortError::Backend(format!("posting to the webhook: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            // Slack explains refusals in the body (`invalid_payload`, `no_active_hooks`…).
            let detail = response.text().await.unwrap_or_default();
            Err(PortError::Backend(format!(
                "the webhook answered {status}: {}",
                detail.chars().take(200).collect::<String>()
            )))
        }
    }
}
