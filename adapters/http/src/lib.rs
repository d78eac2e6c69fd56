//! # dd0c-adapters-http
//!
//! - [`PriceListHttp`] (`price_list`): AWS Price List offer files over HTTP(S).
//!
//! [`HttpWebhook`]: the webhook port over HTTP(S) with reqwest and rustls — how alerts reach
//! Slack incoming webhooks in both deployment modes.
//!
//! The URLs are set by tenants, so every post is held to an [`Outbound`] policy: the URL's shape
//! is checked before anything is sent, its host is resolved by [`PublicOnly`] — which refuses a
//! host with any non-public address at connect time, so a name that resolves differently later
//! (DNS rebinding) gains nothing — and redirects are not followed. A refused destination fails
//! before a connection is tried, the same way whatever answers there.

mod price_list;

pub use price_list::{PriceListHttp, AWS_PRICE_LIST};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::webhook::{Outbound, Webhook};
use dd0c_ports::{PortError, PortResult};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one post may take: a stuck webhook must not hold a notifier's claim past its lease.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Posts JSON over HTTP(S) to destinations its policy allows.
#[derive(Debug, Clone)]
pub struct HttpWebhook {
    client: reqwest::Client,
    outbound: Outbound,
}

impl HttpWebhook {
    /// A client with a 5 s timeout that posts only where `outbound` allows.
    pub fn new(outbound: Outbound) -> PortResult<HttpWebhook> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("dd0c-cost/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly(outbound.clone())))
            .build()
            .map_err(|e| PortError::caused("building the HTTP client", e))?;
        Ok(HttpWebhook { client, outbound })
    }
}

/// Resolves a host and refuses it when any of its addresses is not public (unless the policy
/// allows the host though private).
#[derive(Debug)]
pub struct PublicOnly(pub Outbound);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let outbound = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<_> = addresses.iter().map(SocketAddr::ip).collect();
            outbound.check_addresses(&host, &ips)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[async_trait]
impl Webhook for HttpWebhook {
    async fn post_bytes(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> PortResult<()> {
        self.outbound.check_url(url).map_err(PortError::Invalid)?;
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| PortError::backend(format!("posting to the webhook: {}", causes(&e))))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(PortError::backend(format!(
                "the webhook answered {status}: redirects are not followed"
            )))
        } else {
            // Slack explains refusals in the body (`invalid_payload`, `no_active_hooks`…).
            let detail = response.text().await.unwrap_or_default();
            Err(PortError::backend(format!(
                "the webhook answered {status}: {}",
                detail.chars().take(200).collect::<String>()
            )))
        }
    }
}

/// An error with its causes, so a refusal by [`PublicOnly`] is named and not only "error
/// sending request".
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
