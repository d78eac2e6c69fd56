//! The `dd0c-cost` binary as users run it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail")
}

fn dd0c(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
        .args(args)
        .env_remove("DD0C_CATALOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dd0c-cost starts");
    let mut input = child.stdin.take().expect("stdin");
    // A command that fails before reading stdin closes it; that is its answer, not the test's error.
    if let Err(e) = input.write_all(stdin.unwrap_or_default()) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    drop(input);
    child.wait_with_output().expect("dd0c-cost finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn normalize_writes_cost_events_with_exactly_the_documented_fields() {
    let out = dd0c(&["normalize", sample().to_str().expect("utf-8")], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let summary = stderr.lines().last().expect("a summary line");
    assert!(
        summary.starts_with(
            "records=1232 cost_events=232 ends=99 failed_calls=16 read_only=839 not_cost=45 rejected=1"
        ),
        "{summary}"
    );
    assert!(
        stderr.contains("rejected: ")
            && stderr.contains("eventbridge-export.jsonl: record 3: field eventTime"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 232 + 99, "priced events and ends");
    let ends = lines
        .iter()
        .filter(|l| matches!(l["change"].as_str(), Some("stop" | "end")))
        .count();
    assert_eq!(ends, 99);
    let keys: Vec<&str> = lines[0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "event_id",
        "event_time",
        "tenant",
        "account_id",
        "region",
        "event_source",
        "event_name",
        "actor_arn",
        "actor_session",
        "actor_type",
        "resource_kind",
        "resource_type",
        "resource_ids",
        "quantity",
        "unit_hourly_usd",
        "hourly_usd",
        "monthly_usd",
        "price_source",
    ];
    expected.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, expected);
}

#[test]
fn normalize_reads_stdin_and_prints_a_table() {
    let record = serde_json::json!({"eventVersion": "1.09", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "CreateNatGateway", "awsRegion": "eu-west-1", "recipientAccountId": "123456789012", "eventID": "e1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/ana"},
        "requestParameters": {"CreateNatGatewayRequest": {"SubnetId": "s"}}, "responseElements": null});
    let out = dd0c(
        &["normalize", "--format", "table", "--tenant", "acme", "-"],
        Some(record.to_string().as_bytes()),
    );
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let row = stdout.lines().nth(1).expect("a row");
    for cell in [
        "2026-03-01 10:00",
        "123456789012",
        "eu-west-1",
        "user/ana",
        "CreateNatGateway",
        "ec2.nat-gateway",
        "$0.0500",
        "$36.46",
        "catalog",
    ] {
        assert!(row.contains(cell), "{cell} missing from {row}");
    }
}

#[test]
fn normalize_fails_only_when_nothing_could_be_read() {
    let garbage = dd0c(
        &["normalize", "-"],
        Some(b"this is not json\n{\"Records\": 5}\n"),
    );
    assert_eq!(garbage.status.code(), Some(1));
    assert!(text(&garbage.stderr).contains(
        "records=2 cost_events=0 ends=0 failed_calls=0 read_only=0 not_cost=0 rejected=2"
    ));
    let missing = dd0c(&["normalize", "/nonexistent/trail.json"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("/nonexistent/trail.json: no such file or directory"));
    let empty = dd0c(&["normalize", "-"], Some(b""));
    assert!(empty.status.success(), "empty input is not an error");
}

#[test]
fn a_custom_catalog_prices_with_negotiated_rates_and_a_bad_one_is_refused() {
    let bundled: serde_json::Value = serde_json::from_str(include_str!(
        "../../functions/ingest/data/aws-price-catalog.json"
    ))
    .expect("json");
    let mut negotiated = bundled.clone();
    negotiated["hourly"]["ec2.nat-gateway"]["nat-gateway"] = serde_json::json!(0.03);
    let dir = std::env::temp_dir().join(format!("dd0c-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("rates.json");
    std::fs::write(&good, negotiated.to_string()).expect("written");
    let record = r#"{"eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"CreateNatGateway","awsRegion":"us-east-1","recipientAccountId":"111122223333","eventID":"e"}"#;
    let out = dd0c(
        &["normalize", "--catalog", good.to_str().expect("utf-8"), "-"],
        Some(record.as_bytes()),
    );
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one event");
    assert_eq!(event["unit_hourly_usd"], serde_json::json!(0.03));

    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"hourly\": {}}").expect("written");
    let out = dd0c(
        &["normalize", "--catalog", bad.to_str().expect("utf-8"), "-"],
        Some(record.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.json is invalid"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn analyze_flags_the_samples_mistakes_and_explains_them() {
    let out = dd0c(
        &[
            "analyze",
            "--format",
            "jsonl",
            sample().to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let anomalies: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let critical: Vec<&serde_json::Value> = anomalies
        .iter()
        .filter(|a| a["severity"] == "critical")
        .collect();
    assert_eq!(critical.len(), 4, "{anomalies:#?}");
    for field in [
        "anomaly_id",
        "event_id",
        "event_time",
        "tenant",
        "account_id",
        "region",
        "actor_arn",
        "resource_kind",
        "resource_type",
        "quantity",
        "hourly_usd",
        "monthly_usd",
        "severity",
        "score",
        "reasons",
        "explanation",
    ] {
        assert!(critical[0].get(field).is_some(), "{field} missing");
    }
    let summary = text(&out.stderr);
    assert!(
        summary.contains("scored=232") && summary.contains("critical=4"),
        "{summary}"
    );

    let table = dd0c(&["analyze", sample().to_str().expect("utf-8")], None);
    let report = text(&table.stdout);
    assert!(
        report
            .lines()
            .next()
            .expect("header")
            .starts_with("#  SEVERITY  TIME (UTC)"),
        "{report}"
    );
    assert!(
        report.contains("CRITICAL") && report.contains("It stands out because"),
        "{report}"
    );
    assert!(
        !report.contains("\x1b["),
        "no colour codes when stdout is not a terminal"
    );
}

#[test]
fn analyze_takes_settings_and_names_a_bad_settings_file() {
    let dir = std::env::temp_dir().join(format!("dd0c-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let strict = dir.join("strict.json");
    std::fs::write(
        &strict,
        r#"{"thresholds": {"critical_monthly_usd": 1000000, "critical_hourly_usd": 100000}}"#,
    )
    .expect("written");
    let out = dd0c(
        &[
            "analyze",
            "--format",
            "jsonl",
            "--config",
            strict.to_str().expect("utf-8"),
            sample().to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(
        text(&out.stderr).contains("critical=0"),
        "{}",
        text(&out.stderr)
    );
    let typo = dir.join("typo.json");
    std::fs::write(&typo, r#"{"thresholds": {"critical_monthy_usd": 5}}"#).expect("written");
    let out = dd0c(
        &[
            "analyze",
            "--config",
            typo.to_str().expect("utf-8"),
            sample().to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("typo.json is not valid settings") && err.contains("critical_monthy_usd"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn a_trace_receiver_that_is_not_a_url_stops_start_up_naming_it() {
    let out = dd0c(&["--otlp-endpoint", "collector:4318", "migrate"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "OTEL_EXPORTER_OTLP_ENDPOINT \"collector:4318\": not an http:// or https:// URL"
        ),
        "{}",
        text(&out.stderr)
    );
}

fn price_list_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/ingest/tests/fixtures/price-list")
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_update_reads_the_price_list_over_http_says_what_moved_and_prices_with_it() {
    let server = dd0c_tests::StaticFiles::serve(price_list_fixtures())
        .await
        .expect("server");
    let dir = std::env::temp_dir().join(format!("dd0c-cli-catalog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let out_file = dir.join("aws-price-catalog.json");
    let out_path = out_file.to_str().expect("utf-8");
    let mut before: serde_json::Value = serde_json::from_str(include_str!(
        "../../functions/ingest/data/aws-price-catalog.json"
    ))
    .expect("json");
    before["hourly"]["ec2.instance"]["p5.48xlarge"] = serde_json::json!(98.32);
    let before_file = dir.join("before.json");
    std::fs::write(&before_file, before.to_string()).expect("written");
    let update = |url: &str, previous: &[&str]| {
        let mut args = vec!["catalog", "update", "--url", url, "--out", out_path];
        args.extend(["--region", "us-east-1", "--region", "ap-northeast-1"]);
        args.extend(previous);
        dd0c(&args, None)
    };
    let first = update(
        server.url(),
        &["--previous", before_file.to_str().expect("utf-8")],
    );
    let said = text(&first.stdout);
    assert!(first.status.success(), "{said}{}", text(&first.stderr));
    assert!(said.contains("prices as of 2026-11-01"), "{said}");
    assert!(said.contains("AmazonEC2: 2 regions"), "{said}");
    assert!(
        said.contains("us-east-1 ec2.instance p5.48xlarge: $98.32 → $55.04 (-44.0 %)"),
        "{said}"
    );

    let record = r#"{"eventTime":"2026-11-02T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"ap-northeast-1","recipientAccountId":"111122223333","eventID":"e","requestParameters":{"instanceType":"p5.48xlarge","instancesSet":{"items":[{"minCount":1,"maxCount":1}]}}}"#;
    let priced = dd0c(
        &["normalize", "--catalog", out_path, "-"],
        Some(record.as_bytes()),
    );
    let event: serde_json::Value = serde_json::from_slice(&priced.stdout).expect("one event");
    assert_eq!(
        event["unit_hourly_usd"],
        serde_json::json!(79.808),
        "Tokyo's own price"
    );
    assert_eq!(event["price_source"], "catalog");

    let again = update(server.url(), &[]);
    assert!(
        text(&again.stdout).contains("prices moved: 0"),
        "built over the file it wrote: {}",
        text(&again.stdout)
    );
    let unreachable = update(
        &format!("http://127.0.0.1:{}", dd0c_tests::free_port()),
        &[],
    );
    assert!(!unreachable.status.success());
    assert!(
        text(&unreachable.stderr).contains("/offers/v1.0/aws/index.json"),
        "{}",
        text(&unreachable.stderr)
    );
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("kept")).expect("json");
    assert_eq!(
        kept["as_of"], "2026-11-01",
        "a failed update leaves the file as it was"
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}
