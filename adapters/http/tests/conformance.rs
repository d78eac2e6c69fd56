//! HttpWebhook against a real HTTP server on loopback.

use async_trait::async_trait;
use dd0c_adapters_http::HttpWebhook;
use dd0c_ports::conformance::{self, WebhookSink};
use dd0c_tests::CaptureServer;

struct Captured(CaptureServer);

#[async_trait]
impl WebhookSink for Captured {
    fn accepting_url(&self, name: &str) -> String {
        self.0.url(&format!("/services/{name}"))
    }
    fn failing_url(&self) -> String {
        self.0.url("/fail/services/x")
    }
    async fn received(&self, name: &str) -> Vec<serde_json::Value> {
        self.0.posts(&format!("/services/{name}"))
    }
}

#[tokio::test]
async fn http_webhook_passes_the_webhook_suite_against_a_real_server() {
    let server = CaptureServer::start().await.expect("server");
    let webhook = HttpWebhook::new().expect("client");
    conformance::webhook_suite(&webhook, &Captured(server)).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_backend_error() {
    let webhook = HttpWebhook::new().expect("client");
    let result = dd0c_ports::webhook::Webhook::post(
        &webhook,
        "http://127.0.0.1:9/x",
        &serde_json::json!({}),
    )
    .await;
    assert!(
        matches!(result, Err(dd0c_ports::PortError::Backend(_))),
        "{result:?}"
    );
}
