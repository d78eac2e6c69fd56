//! Webhook posts recorded in memory, with failures staged per URL.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::webhook::{is_http_url, Webhook};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

/// One accepted post.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// Where to.
    pub url: String,
    /// The headers: `content-type` first, as HTTP sends it, then those given.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: serde_json::Value,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

/// Webhook posts recorded in memory. URLs marked failing (see [`MemoryWebhook::set_failing`])
/// answer like a server returning 500 — how notifier tests stage a Slack outage.
#[derive(Debug, Default)]
pub struct MemoryWebhook {
    posts: Mutex<Vec<Posted>>,
    failing: Mutex<BTreeSet<String>>,
}

impl MemoryWebhook {
    /// Nothing posted yet, nothing failing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every accepted post to `url`, in order.
    pub fn posts_to(&self, url: &str) -> Vec<serde_json::Value> {
        self.requests_to(url).into_iter().map(|p| p.body).collect()
    }

    /// Every accepted post to `url` with its headers, in order.
    pub fn requests_to(&self, url: &str) -> Vec<Posted> {
        lock(&self.posts)
            .iter()
            .filter(|p| p.url == url)
            .cloned()
            .collect()
    }

    /// Makes posts to `url` fail (`true`) or succeed again.
    pub fn set_failing(&self, url: &str, failing: bool) {
        let mut set = lock(&self.failing);
        if failing {
            set.insert(url.to_owned());
        } else {
            set.remove(url);
        }
    }
}

#[async_trait]
impl Webhook for MemoryWebhook {
    async fn post_bytes(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> PortResult<()> {
        if !is_http_url(url) {
            return Err(PortError::Invalid(format!("{url:?} is not an http(s) URL")));
        }
        let bytes = body.to_vec();
        let body = serde_json::from_slice(body).map_err(|e| {
            PortError::Invalid(format!("the body posted to {url} is not JSON: {e}"))
        })?;
        if lock(&self.failing).contains(url) {
            return Err(PortError::backend(format!("{url} answered HTTP 500")));
        }
        lock(&self.posts).push(Posted {
            url: url.to_owned(),
            headers: std::iter::once(("content-type".to_owned(), "application/json".to_owned()))
                .chain(
                    headers
                        .iter()
                        .map(|(name, value)| ((*name).to_owned(), value.clone())),
                )
                .collect(),
            body,
            bytes,
        });
        Ok(())
    }
}
