//! The AWS adapters against moto (`moto_server` on loopback; `scripts/test.sh` starts it and
//! sets `DD0C_TEST_AWS_ENDPOINT`).

use async_trait::async_trait;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use dd0c_adapters_aws::{DynamoFlags, SesMail};
use dd0c_ports::conformance::{self, email_from_mime, unique, MailSink};
use dd0c_ports::mail::Email;
use serde_json::Value;

const SENDER: &str = "alerts@dd0c.test";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

async fn config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// What moto recorded as sent (`GET /moto-api/data.json`): the raw MIME of each message, parsed.
struct Sent;

#[async_trait]
impl MailSink for Sent {
    async fn delivered_to(&self, to: &str) -> Vec<Email> {
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
            .await
            .expect("moto answers")
            .json()
            .await
            .expect("json");
        let raws = data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        for raw in raws {
            let text = raw["raw_data"].as_str().unwrap_or_default();
            if let Some((_, email)) = email_from_mime(text.as_bytes()) {
                if email.to.iter().any(|r| r == to) {
                    found.push(email);
                }
            }
        }
        found
    }
}

#[tokio::test]
async fn ses_mail_passes_the_mail_suite_against_moto() {
    let config = config().await;
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("the sender is verified");
    let mail = SesMail::new(&config, SENDER).expect("a mailbox");
    conformance::mail_suite(&mail, &Sent).await;
}

#[tokio::test]
async fn a_sender_that_is_not_a_mailbox_names_the_setting() {
    let error = SesMail::new(&config().await, "not a mailbox").expect_err("refused");
    assert!(error.contains("DD0C_MAIL_FROM"), "{error}");
}

#[tokio::test]
async fn dynamo_flags_pass_the_flags_suite_against_moto() {
    let config = config().await;
    let table = unique("dd0c").replace('-', "_");
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    aws_sdk_dynamodb::Client::new(&config)
        .create_table()
        .table_name(&table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("table");
    conformance::flags_suite(&DynamoFlags::new(&config, &table)).await;
}
