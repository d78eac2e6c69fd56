use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::archive::{validate_key, Archive};
use dd0c_ports::auth::{Auth, Principal};
use dd0c_ports::flags::{BreakerState, Flags};
use dd0c_ports::mail::{Email, Mail};
use dd0c_ports::webhook::{is_http_url, Webhook};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

/// Bearer tokens issued in process (the embedded default's ingest tokens, tests).
#[derive(Debug, Default)]
pub struct MemoryAuth {
    tokens: Mutex<HashMap<String, Principal>>,
}

impl MemoryAuth {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `token` verify to `principal`.
    pub fn issue(&self, token: &str, principal: Principal) {
        lock(&self.tokens).insert(token.to_owned(), principal);
    }
}

#[async_trait]
impl Auth for MemoryAuth {
    async fn verify(&self, bearer: &str) -> PortResult<Principal> {
        lock(&self.tokens)
            .get(bearer)
            .cloned()
            .ok_or_else(|| PortError::Unauthorized("unknown token".into()))
    }
}

/// Keeps sent mail in memory; `sent()` shows what went out.
#[derive(Debug, Default)]
pub struct MemoryMail {
    sent: Mutex<Vec<Email>>,
}

impl MemoryMail {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent, in order.
    pub fn sent(&self) -> Vec<Email> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Mail for MemoryMail {
    async fn send(&self, email: &Email) -> PortResult<String> {
        email.validate()?;
        let mut sent = lock(&self.sent);
        sent.push(email.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}

/// Archive objects in memory.
#[derive(Debug, Default)]
pub struct MemoryArchive {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryArchive {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Archive for MemoryArchive {
    async fn put(&self, key: &str, bytes: &[u8]) -> PortResult<()> {
        validate_key(key)?;
        lock(&self.objects).insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(lock(&self.objects).get(key).cloned())
    }

    async fn list(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let objects = lock(&self.objects);
        Ok(objects
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, _)| key.clone())
            .collect())
    }
}

/// Panic mode and breakers in memory (single-process installs).
#[derive(Debug, Default)]
pub struct MemoryFlags {
    panic: Mutex<HashMap<String, bool>>,
    breakers: Mutex<HashMap<String, BreakerState>>,
}

impl MemoryFlags {
    /// Everything off.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Flags for MemoryFlags {
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool> {
        Ok(lock(&self.panic).get(tenant).copied().unwrap_or(false))
    }

    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()> {
        lock(&self.panic).insert(tenant.to_owned(), on);
        Ok(())
    }

    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>> {
        Ok(lock(&self.breakers).get(channel).copied())
    }

    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()> {
        lock(&self.breakers).insert(channel.to_owned(), *state);
        Ok(())
    }
}

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
            return Err(PortError::Backend(format!("{url} answered HTTP 500")));
        }
        lock(&self.posts).push((url.to_owned(), body.clone()));
        Ok(())
    }
}
