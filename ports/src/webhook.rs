//! The webhook port: one JSON document POSTed to a URL (Slack incoming webhooks).

use async_trait::async_trait;

use crate::PortResult;

/// Posts JSON to webhooks.
#[async_trait]
pub trait Webhook: Send + Sync {
    /// POSTs `body` as `application/json` to `url` and succeeds on a 2xx answer. A URL that is
    /// not `http(s)://` is `Invalid` and nothing is sent; any other answer, a timeout or a
    /// refused connection is `Backend` with the status or cause.
    async fn post(&self, url: &str, body: &serde_json::Value) -> PortResult<()>;
}

/// Whether `url` is an absolute http or https URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !url.contains(crate::text::is_blank))
}
