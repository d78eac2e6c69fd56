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
async fn memory_store_passes_the_ledger_suite() {
    conformance::ledger_suite(&MemoryStore::new()).await;
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
async fn memory_attempts_pass_the_attempts_suite() {
    conformance::attempts_suite(&dd0c_adapters_memory::MemoryAttempts::new()).await;
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
    async fn received(&self, name: &str) -> Vec<conformance::Received> {
        self.0
            .requests_to(&self.accepting_url(name))
            .into_iter()
            .map(|p| conformance::Received {
                headers: p.headers,
                body: p.bytes,
            })
            .collect()
    }
}

#[tokio::test]
async fn memory_webhook_passes_the_webhook_suite() {
    let webhook = Arc::new(MemoryWebhook::new());
    conformance::webhook_suite(webhook.as_ref(), &Hooks(webhook.clone())).await;
}

#[tokio::test]
async fn memory_sources_pass_the_source_store_suite() {
    conformance::source_store_suite(&dd0c_adapters_memory::MemorySources::default()).await;
}

#[tokio::test]
async fn memory_sources_kept_in_a_file_pass_it_and_read_back_after_a_restart() {
    use dd0c_ports::sources::{SourceStore, Trail};
    let dir = std::env::temp_dir().join(format!("dd0c-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sources.json");
    let _ = std::fs::remove_file(&file);
    let store = dd0c_adapters_memory::MemorySources::persisted(&file).unwrap();
    conformance::source_store_suite(&store).await;
    let trails = store.trails(None).await.unwrap();
    let trail = Trail {
        tenant: "kept".into(),
        account_id: "123456789012".into(),
        location: "s3://kept-bucket".parse().unwrap(),
    };
    store.put_trail(&trail).await.unwrap();
    drop(store);
    let restarted = dd0c_adapters_memory::MemorySources::persisted(&file).unwrap();
    let mut expected = trails;
    expected.push(trail);
    expected.sort_by(|a, b| (&a.tenant, &a.account_id).cmp(&(&b.tenant, &b.account_id)));
    assert_eq!(restarted.trails(None).await.unwrap(), expected);
    std::fs::write(&file, b"{not json").unwrap();
    let error = dd0c_adapters_memory::MemorySources::persisted(&file)
        .err()
        .expect("a broken state file is refused");
    assert!(
        error.to_string().contains("not a source state file"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn memory_sources_forget_files_read_days_ago_so_a_kept_state_stays_small() {
    use dd0c_ports::sources::{SourceStore, TrailObject};
    let store = dd0c_adapters_memory::MemorySources::default();
    let now = chrono::Utc::now();
    let file = |key: &str| TrailObject {
        key: key.to_owned(),
        etag: "e".to_owned(),
        size: 1,
        last_modified: now,
    };
    let (old, new) = (file("f/old.json.gz"), file("f/new.json.gz"));
    store
        .mark_read("t", "1", "f/", &old, None, now - chrono::TimeDelta::days(4))
        .await
        .unwrap();
    store
        .mark_read("t", "1", "f/", &new, None, now)
        .await
        .unwrap();
    assert_eq!(
        store.already_read("t", "1", &[old, new]).await.unwrap(),
        vec![false, true]
    );
}

#[tokio::test]
async fn memory_buckets_pass_the_buckets_suite() {
    conformance::buckets_suite(&dd0c_adapters_memory::MemoryBuckets::new()).await;
}
