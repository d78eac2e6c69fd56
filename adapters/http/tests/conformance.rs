//! HttpWebhook against a real HTTP server on loopback (an operator-allowed private host), and
//! the destinations it refuses.

use std::str::FromStr;

use async_trait::async_trait;
use dd0c_adapters_http::{HttpWebhook, PublicOnly};
use dd0c_ports::conformance::{self, Received, WebhookSink};
use dd0c_ports::webhook::{Outbound, Webhook};
use dd0c_ports::PortError;
use dd0c_tests::CaptureServer;
use reqwest::dns::{Name, Resolve};
use serde_json::json;

struct Captured(CaptureServer);

#[async_trait]
impl WebhookSink for Captured {
    fn accepting_url(&self, name: &str) -> String {
        self.0.url(&format!("/services/{name}"))
    }
    fn failing_url(&self) -> String {
        self.0.url("/fail/services/x")
    }
    async fn received(&self, name: &str) -> Vec<Received> {
        self.0.requests(&format!("/services/{name}"))
    }
}

fn allowing_loopback() -> HttpWebhook {
    HttpWebhook::new(Outbound::allowing_private(["127.0.0.1"])).expect("client")
}

#[tokio::test]
async fn http_webhook_passes_the_webhook_suite_against_a_real_server() {
    let server = CaptureServer::start().await.expect("server");
    conformance::webhook_suite(&allowing_loopback(), &Captured(server)).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_backend_error() {
    let result = allowing_loopback()
        .post("http://127.0.0.1:9/x", &json!({}))
        .await;
    assert!(
        matches!(result, Err(PortError::Backend { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_loopback_server_is_refused_unless_the_operator_allows_it_and_nothing_reaches_it() {
    let server = CaptureServer::start().await.expect("server");
    let webhook = HttpWebhook::new(Outbound::default()).expect("client");
    let https = server.url("/services/x").replace("http://", "https://");
    for url in [server.url("/services/x"), https] {
        let result = webhook.post(&url, &json!({"text": "hi"})).await;
        assert!(
            matches!(result, Err(PortError::Invalid(_))),
            "{url}: {result:?}"
        );
    }
    assert!(server.posts("/services/x").is_empty());
}

#[tokio::test]
async fn the_metadata_service_is_refused_before_any_connection() {
    let webhook = HttpWebhook::new(Outbound::default()).expect("client");
    let result = webhook
        .post("https://169.254.169.254/latest/meta-data/", &json!({}))
        .await;
    let Err(PortError::Invalid(why)) = result else {
        panic!("{result:?}");
    };
    assert!(why.contains("link-local"), "{why}");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
    let resolved = PublicOnly(Outbound::default())
        .resolve(Name::from_str("localhost").expect("a name"))
        .await;
    let error = resolved.err().expect("refused").to_string();
    assert!(error.contains("loopback"), "{error}");
    let allowed = PublicOnly(Outbound::allowing_private(["localhost"]))
        .resolve(Name::from_str("localhost").expect("a name"))
        .await;
    assert!(allowed.is_ok());
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = CaptureServer::start().await.expect("server");
    let result = allowing_loopback()
        .post(&server.url("/moved/services/x"), &json!({"text": "hi"}))
        .await;
    let Err(error @ PortError::Backend { .. }) = result else {
        panic!("{result:?}");
    };
    let why = error.to_string();
    assert!(why.contains("307") && why.contains("redirect"), "{why}");
    assert!(
        server.posts("/services/x").is_empty(),
        "the redirect was followed"
    );
}
