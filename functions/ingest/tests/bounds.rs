//! Each bound of a record, refused naming its field, so nothing unstorable or absurd is queued.

mod common;

use common::record;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use serde_json::{json, Value};

fn launch() -> Value {
    record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m5.large"}),
        json!({"instancesSet": {"items": [{"instanceId": "i-1", "instanceType": "m5.large"}]}}),
    )
}

fn with(mut r: Value, pointer: &str, value: Value) -> Value {
    *r.pointer_mut(pointer).expect("the fixture has this field") = value;
    r
}

/// The field and reason `r` is rejected with by a service's normalizer.
fn refused(r: &Value) -> (String, String) {
    let mut normalizer =
        Normalizer::new(PriceCatalog::bundled(), "t").refusing_future(chrono::TimeDelta::hours(1));
    match normalizer.normalize_record(&r.to_string(), "test", 0) {
        Item::Rejected(rejection) => (rejection.field, rejection.reason),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_nul_in_the_event_id_is_refused() {
    let (field, reason) = refused(&with(launch(), "/eventID", json!("evt\u{0}1")));
    assert_eq!(field, "eventID");
    assert!(reason.contains("U+0000"), "{reason}");
}

#[test]
fn a_line_break_in_the_actor_arn_is_refused_so_it_cannot_forge_log_lines() {
    let forged = "arn:aws:iam::111122223333:user/x\r\nINFO forged line";
    let r = with(launch(), "/userIdentity/arn", json!(forged));
    let r = with(r, "/userIdentity/type", json!("IAMUser"));
    let (field, reason) = refused(&r);
    assert_eq!(field, "userIdentity.arn");
    assert!(reason.contains("U+000D"), "{reason}");
}

#[test]
fn a_bidirectional_override_in_the_actor_arn_is_refused_so_it_cannot_read_backwards() {
    let spoofed = "arn:aws:iam::111122223333:user/admin\u{202E}nimda";
    let r = with(launch(), "/userIdentity/arn", json!(spoofed));
    let r = with(r, "/userIdentity/type", json!("IAMUser"));
    let (field, reason) = refused(&r);
    assert_eq!(field, "userIdentity.arn");
    assert!(
        reason.contains("invisible formatting character U+202E"),
        "{reason}"
    );
}

#[test]
fn a_zero_width_space_in_the_event_id_is_refused() {
    let (field, reason) = refused(&with(launch(), "/eventID", json!("evt\u{200B}1")));
    assert_eq!(field, "eventID");
    assert!(reason.contains("U+200B"), "{reason}");
}

#[test]
fn an_actor_arn_longer_than_iam_allows_is_refused() {
    let long = format!("arn:aws:iam::111122223333:user/{}", "a".repeat(1 << 20));
    let r = with(launch(), "/userIdentity/arn", json!(long));
    let r = with(r, "/userIdentity/type", json!("IAMUser"));
    let (field, reason) = refused(&r);
    assert_eq!(field, "userIdentity.arn");
    assert!(reason.contains("more than 2048"), "{reason}");
}

#[test]
fn a_region_that_is_not_a_region_is_refused() {
    let (field, _) = refused(&with(launch(), "/awsRegion", json!("<!here>")));
    assert_eq!(field, "awsRegion");
}

#[test]
fn an_account_id_that_is_not_twelve_digits_is_refused() {
    let (field, _) = refused(&with(launch(), "/recipientAccountId", json!("<@U123>")));
    assert_eq!(field, "recipientAccountId");
}

#[test]
fn an_event_time_in_the_far_future_is_refused_by_a_service_but_read_from_files() {
    let r = with(launch(), "/eventTime", json!("9999-12-31T23:59:59Z"));
    let (field, _) = refused(&r);
    assert_eq!(field, "eventTime");
    let mut reader = Normalizer::new(PriceCatalog::bundled(), "t");
    assert!(matches!(
        reader.normalize_record(&r.to_string(), "file", 0),
        Item::Cost(_)
    ));
}

#[test]
fn a_count_no_call_can_launch_is_refused_naming_the_field() {
    let r = record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 4294967295u64}]}, "instanceType": "p5.48xlarge"}),
        Value::Null,
    );
    let (field, reason) = refused(&r);
    assert_eq!(field, "requestParameters.instancesSet[0].maxCount");
    assert!(reason.contains("more than the 100000"), "{reason}");
}

#[test]
fn counts_that_add_up_past_the_bound_are_refused_not_wrapped() {
    let r = record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 100000}, {"maxCount": 2}]}, "instanceType": "t3.micro"}),
        Value::Null,
    );
    let (field, reason) = refused(&r);
    assert_eq!(field, "(record)");
    assert!(reason.contains("creates 100002"), "{reason}");
}
