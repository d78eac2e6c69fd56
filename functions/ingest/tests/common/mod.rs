//! Helpers shared by the normalizer's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::domain::CostEvent;
use serde_json::{json, Value};

pub const ACCOUNT: &str = "111122223333";

/// A CloudTrail record as AWS writes it, with the given call.
pub fn record(source: &str, name: &str, request: Value, response: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:ana@example.com",
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123/ana@example.com"),
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": format!("arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"),
                    "accountId": ACCOUNT,
                    "userName": "AWSReservedSSO_Admin_0123"
                },
                "attributes": {"creationDate": "2026-03-01T09:00:00Z", "mfaAuthenticated": "false"}
            }
        },
        "eventTime": "2026-03-01T10:15:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": "8c2f1b9e-0000-4000-8000-000000000001",
        "eventID": format!("evt-{name}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    })
}

/// Runs records through one normalizer (so it can recall earlier ones) and returns every item.
pub fn run(records: &[Value]) -> Vec<Item> {
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
    let mut items = Vec::new();
    for (i, r) in records.iter().enumerate() {
        items.push(normalizer.normalize_record(&r.to_string(), "test", i));
    }
    items
}

/// The cost events of the last record, asserting it produced some.
pub fn costs(records: &[Value]) -> Vec<CostEvent> {
    match run(records).pop() {
        Some(Item::Cost(events)) => events,
        other => panic!("expected cost events, got {other:?}"),
    }
}

/// The only cost event of the last record.
pub fn cost(records: &[Value]) -> CostEvent {
    let mut events = costs(records);
    assert_eq!(events.len(), 1, "expected one cost event: {events:?}");
    events.remove(0)
}

pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}
