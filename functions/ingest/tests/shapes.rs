//! Every shape CloudTrail arrives in, and garbage reported with where it is wrong.

mod common;

use std::io::Write;

use common::record;
use dd0c_ingest::{Admitted, Item, Normalizer, PriceCatalog, Rejection, SkipReason, Summary};
use serde_json::json;

fn nat_gateway(event_id: &str) -> serde_json::Value {
    let mut r = record(
        "ec2.amazonaws.com",
        "CreateNatGateway",
        json!({"CreateNatGatewayRequest": {"SubnetId": "subnet-1"}}),
        json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-1"}}}),
    );
    r["eventID"] = json!(event_id);
    r
}

fn read_only(event_id: &str) -> serde_json::Value {
    let mut r = record(
        "ec2.amazonaws.com",
        "DescribeInstances",
        json!({}),
        json!(null),
    );
    r["eventID"] = json!(event_id);
    r["readOnly"] = json!(true);
    r
}

fn normalize(bytes: &[u8]) -> (Vec<Item>, Summary) {
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
    let mut items = Vec::new();
    let mut summary = Summary::default();
    normalizer.normalize_document(bytes, "input.json", &mut |item| {
        summary.add(&item);
        items.push(item);
    });
    (items, summary)
}

fn cost_ids(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Cost(events) => Some(events[0].event_id.clone()),
            _ => None,
        })
        .collect()
}

fn rejections(items: &[Item]) -> Vec<Rejection> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Rejected(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn envelope(record: &serde_json::Value) -> serde_json::Value {
    json!({"version": "0", "id": "6f4c1b0e-0000-4000-8000-000000000000", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2", "account": "111122223333", "time": "2026-03-01T10:15:00Z", "region": "us-east-1", "resources": [], "detail": record})
}

#[test]
fn an_s3_log_file_plain_and_gzipped() {
    let file = json!({"Records": [nat_gateway("a"), read_only("b"), nat_gateway("c")]}).to_string();
    let (items, summary) = normalize(file.as_bytes());
    assert_eq!(cost_ids(&items), vec!["a", "c"]);
    assert_eq!(
        summary.to_string(),
        "records=3 cost_events=2 ends=0 failed_calls=0 read_only=1 not_cost=0 rejected=0"
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(file.as_bytes()).expect("gzip");
    let (items, _) = normalize(&gz.finish().expect("gzip"));
    assert_eq!(cost_ids(&items), vec!["a", "c"]);
}

#[test]
fn an_eventbridge_envelope_and_an_sqs_message_holding_one() {
    let (items, _) = normalize(envelope(&nat_gateway("eb")).to_string().as_bytes());
    assert_eq!(cost_ids(&items), vec!["eb"]);

    let sqs_api = json!({"MessageId": "m-1", "ReceiptHandle": "rh", "Body": envelope(&nat_gateway("sqs1")).to_string()});
    let lambda_event = json!({"Records": [
        {"messageId": "m-2", "receiptHandle": "rh", "body": envelope(&nat_gateway("sqs2")).to_string(), "attributes": {}, "eventSource": "aws:sqs"},
        {"messageId": "m-3", "receiptHandle": "rh", "body": envelope(&nat_gateway("sqs3")).to_string(), "attributes": {}, "eventSource": "aws:sqs"}]});
    let (items, _) = normalize(sqs_api.to_string().as_bytes());
    assert_eq!(cost_ids(&items), vec!["sqs1"]);
    let (items, _) = normalize(lambda_event.to_string().as_bytes());
    assert_eq!(cost_ids(&items), vec!["sqs2", "sqs3"]);
}

#[test]
fn a_bare_record_an_array_and_ndjson() {
    let (items, _) = normalize(
        serde_json::to_string_pretty(&nat_gateway("bare"))
            .expect("json")
            .as_bytes(),
    );
    assert_eq!(cost_ids(&items), vec!["bare"]);
    let (items, _) = normalize(
        json!([nat_gateway("x"), envelope(&nat_gateway("y"))])
            .to_string()
            .as_bytes(),
    );
    assert_eq!(cost_ids(&items), vec!["x", "y"]);
    let ndjson = format!(
        "{}\n{}\n\n{}\n",
        nat_gateway("n1"),
        read_only("n2"),
        envelope(&nat_gateway("n3"))
    );
    let (items, summary) = normalize(ndjson.as_bytes());
    assert_eq!(cost_ids(&items), vec!["n1", "n3"]);
    assert_eq!(summary.records, 3);
}

#[test]
fn garbage_is_rejected_with_origin_index_and_field_and_reading_goes_on() {
    let mut bad_time = nat_gateway("t");
    bad_time["eventTime"] = json!("yesterday");
    let mut no_source = nat_gateway("s");
    no_source
        .as_object_mut()
        .expect("object")
        .remove("eventSource");
    let mut numeric_name = nat_gateway("n");
    numeric_name["eventName"] = json!(42);
    let mut bad_count = record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": "lots"}]}, "instanceType": "m5.large"}),
        json!(null),
    );
    bad_count["eventID"] = json!("c");
    let mut bad_identity = nat_gateway("i");
    bad_identity["userIdentity"]["arn"] = json!(["not", "a", "string"]);
    let ndjson = [
        nat_gateway("ok1").to_string(),
        bad_time.to_string(),
        "{\"eventVersion\": \"1.08\", truncated".to_owned(),
        no_source.to_string(),
        numeric_name.to_string(),
        "42".to_owned(),
        bad_count.to_string(),
        bad_identity.to_string(),
        nat_gateway("ok2").to_string(),
    ]
    .join("\n");
    let (items, summary) = normalize(ndjson.as_bytes());
    assert_eq!(
        cost_ids(&items),
        vec!["ok1", "ok2"],
        "reading goes on after every bad record"
    );
    let found: Vec<(usize, String)> = rejections(&items)
        .into_iter()
        .map(|r| (r.index, r.field))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "eventTime".to_owned()),
            (2, "(record)".to_owned()),
            (3, "eventSource".to_owned()),
            (4, "eventName".to_owned()),
            (5, "(record)".to_owned()),
            (6, "requestParameters.instancesSet[0].maxCount".to_owned()),
            (7, "userIdentity.arn".to_owned()),
        ]
    );
    assert_eq!(
        (summary.records, summary.rejected, summary.cost_events),
        (9, 7, 2)
    );
    let shown = rejections(&items)[0].to_string();
    assert_eq!(
        shown,
        "input.json: record 1: field eventTime: \"yesterday\" is neither RFC 3339 nor a UTC \"YYYY-MM-DD HH:MM:SS\" time"
    );
    assert!(
        rejections(&items)[1].reason.starts_with("not valid JSON"),
        "{:?}",
        rejections(&items)[1]
    );
}

#[test]
fn export_timestamps_are_read_as_utc() {
    // CloudTrail Lake, Athena and SIEM exports write eventTime without the T and the zone.
    let mut whole = nat_gateway("lake-1");
    whole["eventTime"] = json!("2024-05-01 12:00:00");
    let mut fraction = nat_gateway("lake-2");
    fraction["eventTime"] = json!("2024-05-01 12:00:00.250");
    let mut missing = nat_gateway("lake-3");
    missing.as_object_mut().unwrap().remove("eventTime");
    let text = format!("{whole}\n{fraction}\n{missing}\n");
    let (items, _) = normalize(text.as_bytes());
    let times: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            Item::Cost(events) => Some(events[0].event_time.to_rfc3339()),
            _ => None,
        })
        .collect();
    assert_eq!(
        times,
        ["2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00.250+00:00"]
    );
    let refused = rejections(&items);
    assert_eq!(
        (refused[0].field.as_str(), refused[0].reason.as_str()),
        ("eventTime", "is missing")
    );
}

#[test]
fn a_record_inside_an_s3_file_is_rejected_alone() {
    let mut bad = nat_gateway("bad");
    bad["awsRegion"] = json!("");
    let file = json!({"Records": [nat_gateway("a"), bad, 17, nat_gateway("c")]}).to_string();
    let (items, summary) = normalize(file.as_bytes());
    assert_eq!(cost_ids(&items), vec!["a", "c"]);
    let found: Vec<(usize, String)> = rejections(&items)
        .into_iter()
        .map(|r| (r.index, r.field))
        .collect();
    assert_eq!(
        found,
        vec![(1, "awsRegion".to_owned()), (2, "(record)".to_owned())]
    );
    assert_eq!(summary.records, 4);
}

#[test]
fn a_broken_gzip_and_a_body_that_is_not_json_are_reported() {
    let (items, _) = normalize(&[0x1f, 0x8b, 0x08, 0, 1, 2, 3]);
    assert_eq!(rejections(&items)[0].field, "(file)");
    let (items, _) = normalize(json!({"Body": "not json at all"}).to_string().as_bytes());
    assert_eq!(rejections(&items)[0].field, "body");
}

#[test]
fn hostile_nesting_is_cut_off() {
    let mut value = nat_gateway("deep");
    for _ in 0..10 {
        value = json!({"Body": value.to_string()});
    }
    let (items, _) = normalize(value.to_string().as_bytes());
    assert!(rejections(&items)[0].reason.contains("nested deeper"));
}

#[test]
fn the_account_falls_back_to_the_identity_and_else_is_required() {
    let mut r = nat_gateway("acc");
    r.as_object_mut()
        .expect("object")
        .remove("recipientAccountId");
    let (items, _) = normalize(r.to_string().as_bytes());
    assert_eq!(cost_ids(&items), vec!["acc"]);
    r["userIdentity"]
        .as_object_mut()
        .expect("object")
        .remove("accountId");
    let (items, _) = normalize(r.to_string().as_bytes());
    assert_eq!(rejections(&items)[0].field, "recipientAccountId");
}

#[test]
fn read_only_as_a_string_is_understood() {
    let mut r = nat_gateway("ro");
    r["readOnly"] = json!("true");
    let (items, _) = normalize(r.to_string().as_bytes());
    assert_eq!(items, vec![Item::Skipped(SkipReason::ReadOnly)]);
}

/// A push of three records: one of account 111122223333, one of another account, and one
/// whose `eventTime` is not a timestamp.
fn own_other_and_bad() -> String {
    let mut other = nat_gateway("other");
    other["recipientAccountId"] = json!("999999999999");
    let mut bad = nat_gateway("bad");
    bad["eventTime"] = json!("soon");
    json!({"Records": [nat_gateway("a"), other, bad]}).to_string()
}

#[test]
fn split_records_yields_each_valid_record_with_its_account() {
    let file = own_other_and_bad();
    let mut found = Vec::new();
    let limit = dd0c_ingest::inflate::InflateLimit::default();
    dd0c_ingest::split_records(file.as_bytes(), "push", limit, &mut |r| {
        found.push(
            r.map(|raw| {
                (
                    raw.index,
                    raw.account_id,
                    raw.event_id,
                    serde_json::from_str::<serde_json::Value>(raw.text).is_ok(),
                )
            })
            .map_err(|e| (e.index, e.field)),
        )
    })
    .expect("within the bound");
    assert_eq!(
        found,
        vec![
            Ok((0, "111122223333".to_owned(), Some("a".to_owned()), true)),
            Ok((1, "999999999999".to_owned(), Some("other".to_owned()), true)),
            Err((2, "eventTime".to_owned())),
        ]
    );
}

#[test]
fn normalize_account_prices_only_the_admitted_accounts_records() {
    let file = own_other_and_bad();
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
    let mut found = Vec::new();
    normalizer
        .normalize_account(
            "acme",
            "111122223333",
            file.as_bytes(),
            "push",
            usize::MAX,
            &mut |a, _| found.push(a),
        )
        .expect("within the bound");
    let [Admitted::Item(Item::Cost(events)), other, Admitted::Item(Item::Rejected(bad))] =
        &found[..]
    else {
        panic!("one priced, one other account, one rejected: {found:?}");
    };
    assert_eq!(
        events
            .iter()
            .map(|e| (e.tenant.as_str(), e.event_id.as_str()))
            .collect::<Vec<_>>(),
        vec![("acme", "a")]
    );
    assert_eq!(
        other,
        &Admitted::OtherAccount {
            index: 1,
            account_id: "999999999999".into()
        }
    );
    assert_eq!((bad.index, bad.field.as_str()), (2, "eventTime"));
}

/// A file of `size` inflated bytes (one record padded), gzip-compressed.
fn padded_gzip(size: usize) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let pad = "x".repeat(size);
    let mut record = nat_gateway("big");
    record["requestParameters"]["pad"] = json!(pad);
    gz.write_all(json!({ "Records": [record] }).to_string().as_bytes())
        .unwrap();
    gz.finish().unwrap()
}

#[test]
fn split_records_refuses_a_file_that_inflates_past_the_bound_before_any_record() {
    let file = padded_gzip(1 << 20);
    let mut seen = 0;
    let refused = dd0c_ingest::split_records(
        &file,
        "bucket/big.json.gz",
        dd0c_ingest::inflate::InflateLimit(1 << 20),
        &mut |_| seen += 1,
    )
    .expect_err("past the bound");
    assert!(refused.to_string().contains("1048576 bytes"), "{refused}");
    assert_eq!(seen, 0);
}

#[test]
fn analyze_reports_a_file_past_the_bound_as_one_rejection_of_the_file() {
    let file = padded_gzip(1 << 20);
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default")
        .inflating_at_most(dd0c_ingest::inflate::InflateLimit(1 << 20));
    let mut items = Vec::new();
    normalizer.normalize_document(&file, "big.json.gz", &mut |item| items.push(item));
    let [Item::Rejected(rejection)] = &items[..] else {
        panic!("one rejection: {items:?}");
    };
    assert_eq!(rejection.field, "(file)");
    assert!(
        rejection.reason.contains("DD0C_MAX_INFLATED_BYTES"),
        "{rejection}"
    );
}
