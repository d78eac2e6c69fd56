//! [`PriceListHttp`]: the price list port over HTTP(S) — AWS's public Price List endpoint
//! (no credentials), or a mirror of it. The base URL is the operator's setting, not a tenant's,
//! so it is not held to the webhook's outbound policy.

use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::price_list::{validate_path, PriceList};
use dd0c_ports::{PortError, PortResult};

/// AWS's public Price List endpoint.
pub const AWS_PRICE_LIST: &str = "https://pricing.us-east-1.amazonaws.com";

/// A region's EC2 offer file runs to hundreds of megabytes: time to connect is short, time to
/// read is not.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(600);

/// Offer files under a base URL.
#[derive(Debug, Clone)]
pub struct PriceListHttp {
    base: String,
    client: reqwest::Client,
}

impl PriceListHttp {
    /// The files under `base` (`https://pricing.us-east-1.amazonaws.com`).
    pub fn new(base: &str) -> PortResult<Self> {
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(PortError::Invalid(format!(
                "price list URL {base:?}: must be http:// or https://"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(READ_TIMEOUT)
            .user_agent(concat!("dd0c-cost/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PortError::caused("building the HTTP client", e))?;
        Ok(PriceListHttp {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }
}

#[async_trait]
impl PriceList for PriceListHttp {
    async fn get(&self, path: &str) -> PortResult<Vec<u8>> {
        validate_path(path)?;
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| PortError::Unavailable(format!("GET {url}: {e}")))?;
        match response.status() {
            s if s.is_success() => {}
            reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::FORBIDDEN => {
                // S3-backed endpoints answer 403 for a key that does not exist.
                return Err(PortError::NotFound(url));
            }
            s => return Err(PortError::Unavailable(format!("GET {url}: HTTP {s}"))),
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| PortError::Unavailable(format!("reading {url}: {e}")))?;
        Ok(body.to_vec())
    }

    fn describe(&self) -> String {
        self.base.clone()
    }
}
