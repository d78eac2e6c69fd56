//! Webhook posts recorded in memory, with failures staged per URL.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::webhook::{is_http_url, Webhook};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

/// Webhook posts recorded in memory. URLs marked failing (see [`MemoryWebhook::set_failing`])
/// answer like a server returning 500 — how notifier tests stage a Slack outage.
#[derive(Debug, Default)]
pub struct MemoryWebhook {
    posts: Mutex<Vec<(String, serde_json::Value)>>,
    failing: Mutex<BTreeSet<String>>,
}

impl MemoryWebhook {
    /// Nothing posted yet, nothing failing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every accepted post to `url`, in order.
    pub fn posts_to(&self, url: &str) -> Vec<serde_json::Value> {
        lock(&self.posts)
            .iter()
            .filter(|(to, _)| to == url)
            .map(|(_, body)| body.clone())
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
    async fn post(&self, url: &str, body: &serde_json::Value) -> PortResult<()> {
        if !is_http_url(url) {
            return Err(PortError::Invalid(format!("{url:?} is not an http(s) URL")));
        }
        if lock(&self.failing).contains(url) {
            return Err(PortError::backend(format!("{url} answered HTTP 500")));
        }
        lock(&self.posts).push((url.to_owned(), body.clone()));
        Ok(())
    }
}
