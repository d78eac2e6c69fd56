//! The memory adapters against every port's conformance suite.

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_adapters_memory::{
    MemoryArchive, MemoryAuth, MemoryFlags, MemoryMail, MemoryQueue, MemoryStore, MemoryWebhook,
};
use dd0c_ports::auth::{Principal, Role};
use dd0c_ports::conformance::{self, MailSink};
use dd0c_ports::mail::Email;
use dd0c_ports::queue::Queue;
use dd0c_ports::store::Stores;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_store_suite() {
    conformance::store_suite(Stores::of(Arc::new(MemoryStore::new()))).await;
}

#[tokio::test]
async fn memory_queue_passes_the_queue_suite() {
    conformance::queue_suite(|| async { Arc::new(MemoryQueue::new()) as Arc<dyn Queue> }).await;
}

#[tokio::test]
async fn memory_auth_passes_the_auth_suite() {
    let auth = MemoryAuth::new();
    let principal = Principal {
        subject: "tok-1".into(),
        email: None,
        tenant: "acme".into(),
        role: Role::Member,
    };
    auth.issue("dd0c_ingest_abc", principal.clone());
    conformance::auth_suite(
        &auth,
        "dd0c_ingest_abc",
        &principal,
        &["dd0c_ingest_abd".into()],
    )
    .await;
}

struct Sent(Arc<MemoryMail>);

#[async_trait]
impl MailSink for Sent {
    async fn delivered_to(&self, to: &str) -> Vec<Email> {
        self.0
            .sent()
            .into_iter()
            .filter(|e| e.to.iter().any(|t| t == to))
            .collect()
    }
}

#[tokio::test]
async fn memory_mail_passes_the_mail_suite() {
    let mail = Arc::new(MemoryMail::new());
    conformance::mail_suite(mail.as_ref(), &Sent(mail.clone())).await;
}

#[tokio::test]
async fn memory_archive_passes_the_archive_suite() {
    conformance::archive_suite(&MemoryArchive::new()).await;
}

#[tokio::test]
async fn memory_flags_pass_the_flags_suite() {
    conformance::flags_suite(&MemoryFlags::new()).await;
}

/// The memory webhook is its own sink: it records what it accepted.
struct Hooks(Arc<MemoryWebhook>);

const HOOKS: &str = "https://hooks.memory.invalid";

#[async_trait]
impl conformance::WebhookSink for Hooks {
    fn accepting_url(&self, name: &str) -> String {
        format!("{HOOKS}/{name}")
    }
    fn failing_url(&self) -> String {
        let url = format!("{HOOKS}/failing");
        self.0.set_failing(&url, true);
        url
    }
    async fn received(&self, name: &str) -> Vec<serde_json::Value> {
        self.0.posts_to(&self.accepting_url(name))
    }
}

#[tokio::test]
async fn memory_webhook_passes_the_webhook_suite() {
    let webhook = Arc::new(MemoryWebhook::new());
    conformance::webhook_suite(webhook.as_ref(), &Hooks(webhook.clone())).await;
}
