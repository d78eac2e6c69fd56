//! What a million CloudTrail records cost in the cloud mode, from a measured run: the real
//! `lambda-ingest`, `lambda-score` and `lambda-notify` binaries (the Runtime API harness, the
//! SQS event source mapping in miniature) on moto, their every AWS request kept by a recording
//! proxy (`dd0c_tests::recorder`). [`RECORDS`] records of the generated story, as the
//! customer's EventBridge rule forwards them (successful calls the classifier prices), go
//! through ingest → score → notify (alerts to a Slack stand-in); then:
//! - Lambda: invocations and billed GB-seconds — each invocation's measured busy time, rounded
//!   up to the millisecond, at the stack's memory size ([`MEMORY_MB`]);
//! - SQS (FIFO): one `SendMessage` per record from the bus's rule, one `ReceiveMessage` and one
//!   `DeleteMessageBatch` per invocation by Lambda's poller, and every request the functions
//!   make, each 64 KB of payload counting as one request;
//! - DynamoDB (on demand): write units from the items written (1 KB each, twice in a
//!   transaction, once more for GSI1 when the item carries its key — every update counted as
//!   if it moved the index, an upper bound), read units from the items answered (4 KB each,
//!   half for an eventually consistent read); an update is sized by the item as the run
//!   leaves it;
//! - S3 (the raw archive): `PutObject` requests;
//! - EventBridge: one cross-account event per record.
//!
//! Priced at [`PRICES`], us-east-1, as AWS publishes them ([`PRICES_AS_OF`]). Durations are
//! measured against moto on loopback, which answers far slower than DynamoDB: the Lambda line is
//! an upper bound, the request lines are counts. moto copies a table for every transaction, so
//! the run is kept to a few hundred records.
//!
//! `DD0C_TEST_AWS_ENDPOINT=http://127.0.0.1:55500 cargo bench -p dd0c-lambda --bench cost`

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use dd0c_adapters_aws::table::{GSI1_KEYS, KEYS};
use dd0c_ports::domain::Settings;
use dd0c_ports::store::SettingsStore;
use dd0c_tests::lambda::{Function, Invocation, RuntimeApi};
use dd0c_tests::recorder::{dynamodb_item_size, Exchange, RecordingProxy};
use dd0c_tests::CaptureServer;
use serde_json::Value;
use support::Cloud;

/// Records through the pipeline.
const RECORDS: usize = 500;
const TENANT: &str = "bench";
/// The functions' memory, as infra-cdk sets it.
const MEMORY_MB: f64 = 256.0;

/// Published on-demand prices, us-east-1, in dollars, as of [`PRICES_AS_OF`].
struct Prices {
    lambda_gb_second: f64,
    lambda_request: f64,
    sqs_fifo_request: f64,
    dynamodb_write_unit: f64,
    dynamodb_read_unit: f64,
    s3_put: f64,
    eventbridge_event: f64,
}

/// When the prices below were last read from AWS's pricing pages: none has changed since
/// DynamoDB's on-demand cut of November 2024.
const PRICES_AS_OF: &str = "AWS pricing pages, 2025 (DynamoDB after its 2024-11-01 on-demand cut)";

const PRICES: Prices = Prices {
    // x86_64, the stack's default architecture.
    lambda_gb_second: 0.000_016_666_7,
    lambda_request: 0.20 / 1e6,
    sqs_fifo_request: 0.50 / 1e6,
    dynamodb_write_unit: 0.625 / 1e6,
    dynamodb_read_unit: 0.125 / 1e6,
    s3_put: 0.005 / 1e3,
    // A cross-account event is billed as a custom event.
    eventbridge_event: 1.00 / 1e6,
};

/// The records the customer's rule forwards: successful calls the classifier prices.
fn forwarded_records() -> Vec<(String, String, String)> {
    let priced: std::collections::HashSet<(&str, &str)> = dd0c_ingest::priced_calls().collect();
    let mut out = Vec::new();
    let mut seed = 11;
    while out.len() < RECORDS {
        let story = dd0c_tests::story(seed, NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"), 60);
        for r in &story.records {
            let (Some(source), Some(name)) = (r["eventSource"].as_str(), r["eventName"].as_str())
            else {
                continue;
            };
            if r["errorCode"].is_null() && priced.contains(&(source, name)) {
                let account = r["recipientAccountId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let id = r["eventID"].as_str().unwrap_or_default().to_owned();
                out.push((account, id, r.to_string()));
            }
        }
        seed += 1;
    }
    out.truncate(RECORDS);
    out
}

/// The three functions, each on its own Runtime API.
struct Functions {
    // Dropped first: a function whose Runtime API went away first would panic.
    _running: Vec<Function>,
    apis: [RuntimeApi; 3],
}

impl Functions {
    async fn spawn(cloud: &Cloud) -> Functions {
        let apis = [
            RuntimeApi::start().await.expect("runtime API"),
            RuntimeApi::start().await.expect("runtime API"),
            RuntimeApi::start().await.expect("runtime API"),
        ];
        let binaries = [
            env!("CARGO_BIN_EXE_lambda-ingest"),
            env!("CARGO_BIN_EXE_lambda-score"),
            env!("CARGO_BIN_EXE_lambda-notify"),
        ];
        let running = binaries
            .iter()
            .zip(&apis)
            .map(|(binary, api)| cloud.spawn(binary, api))
            .collect();
        Functions {
            _running: running,
            apis,
        }
    }

    /// Delivers every queue to its function until all three are empty: each function's
    /// invocations.
    async fn drain(&self, cloud: &Cloud) -> [Vec<Invocation>; 3] {
        let queues = [&cloud.ingest_queue, &cloud.score_queue, &cloud.notify_queue];
        let mut invocations: [Vec<Invocation>; 3] = Default::default();
        loop {
            let mut any = false;
            for (i, queue) in queues.iter().enumerate() {
                let polled = cloud.drain(queue, &self.apis[i]).await;
                any |= !polled.is_empty();
                invocations[i].extend(polled.into_iter().map(|(_, invocation)| invocation));
            }
            if !any {
                return invocations;
            }
        }
    }
}

/// Request units and requests counted from the functions' exchanges.
#[derive(Default, Debug)]
struct Usage {
    sqs_requests: f64,
    dynamodb_write_units: f64,
    dynamodb_read_units: f64,
    s3_puts: f64,
    /// Write units by operation: where DynamoDB's share goes.
    write_units_by: BTreeMap<String, f64>,
    other: BTreeMap<String, usize>,
}

/// Sizes the table's items by their key, as the run left them.
async fn item_sizes(cloud: &Cloud) -> HashMap<String, (usize, bool)> {
    let client = aws_sdk_dynamodb::Client::new(&cloud.aws);
    let mut sizes = HashMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&cloud.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let wire = item_json(item);
            sizes.insert(key_of(&wire), (dynamodb_item_size(&wire), indexed(&wire)));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return sizes;
        }
    }
}

/// An SDK item in DynamoDB's wire form.
fn item_json(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn one(v: &A) -> Value {
        match v {
            A::S(s) => serde_json::json!({"S": s}),
            A::N(n) => serde_json::json!({"N": n}),
            A::Bool(b) => serde_json::json!({"BOOL": b}),
            A::Null(_) => serde_json::json!({"NULL": true}),
            A::Ss(s) => serde_json::json!({"SS": s}),
            A::Ns(n) => serde_json::json!({"NS": n}),
            A::L(l) => serde_json::json!({"L": l.iter().map(one).collect::<Vec<_>>()}),
            A::M(m) => {
                serde_json::json!({"M": m.iter().map(|(k, v)| (k.clone(), one(v))).collect::<serde_json::Map<_, _>>()})
            }
            A::B(b) => serde_json::json!({"B": "x".repeat(b.as_ref().len() * 4 / 3)}),
            _ => Value::Null,
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
}

/// An item's table key (from the item or from a request's `Key`), as one string.
fn key_of(item: &Value) -> String {
    format!("{}|{}", item[KEYS.0], item[KEYS.1])
}

/// Whether an item carries GSI1's key, so that writing it writes the index too.
fn indexed(item: &Value) -> bool {
    item.get(GSI1_KEYS.0).is_some()
}

/// Write units of one item write: 1 KB each, at least one; once more for GSI1.
fn write_units(size: usize, indexed: bool) -> f64 {
    let units = size.div_ceil(1024).max(1) as f64;
    if indexed {
        units * 2.0
    } else {
        units
    }
}

/// Read units of `bytes` read: 4 KB each, at least one; half when eventually consistent.
fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

impl Usage {
    fn count(exchanges: &[Exchange], sizes: &HashMap<String, (usize, bool)>) -> Usage {
        let updated = |key: &Value| sizes.get(&key_of(key)).copied().unwrap_or((1024, false));
        let mut usage = Usage::default();
        for x in exchanges {
            let writes_before = usage.dynamodb_write_units;
            let body = x.request_json();
            let answer = x.response_json();
            let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
            match x.operation.as_str() {
                op if op.starts_with("sqs:") => {
                    usage.sqs_requests += x.request.len().div_ceil(64 * 1024).max(1) as f64
                }
                "dynamodb:PutItem" => {
                    let item = &body["Item"];
                    usage.dynamodb_write_units +=
                        write_units(dynamodb_item_size(item), indexed(item));
                }
                "dynamodb:UpdateItem" => {
                    let (size, indexed) = updated(&body["Key"]);
                    usage.dynamodb_write_units += write_units(size, indexed);
                }
                "dynamodb:DeleteItem" => usage.dynamodb_write_units += write_units(1, false),
                "dynamodb:TransactWriteItems" => {
                    for item in body["TransactItems"].as_array().into_iter().flatten() {
                        let units = if let Some(put) = item.get("Put") {
                            write_units(dynamodb_item_size(&put["Item"]), indexed(&put["Item"]))
                        } else if let Some(update) = item.get("Update") {
                            let (size, indexed) = updated(&update["Key"]);
                            write_units(size, indexed)
                        } else {
                            // Delete and ConditionCheck: one unit of a small item.
                            write_units(1, false)
                        };
                        usage.dynamodb_write_units += 2.0 * units;
                    }
                }
                "dynamodb:BatchWriteItem" => {
                    for requests in body["RequestItems"]
                        .as_object()
                        .into_iter()
                        .flat_map(|m| m.values())
                    {
                        for r in requests.as_array().into_iter().flatten() {
                            let item = &r["PutRequest"]["Item"];
                            usage.dynamodb_write_units +=
                                write_units(dynamodb_item_size(item), indexed(item));
                        }
                    }
                }
                "dynamodb:GetItem" => {
                    usage.dynamodb_read_units +=
                        read_units(dynamodb_item_size(&answer["Item"]), consistent)
                }
                "dynamodb:Query" | "dynamodb:Scan" => {
                    let bytes = answer["Items"]
                        .as_array()
                        .map_or(0, |items| items.iter().map(dynamodb_item_size).sum());
                    usage.dynamodb_read_units += read_units(bytes, consistent);
                }
                "dynamodb:BatchGetItem" => {
                    for items in answer["Responses"]
                        .as_object()
                        .into_iter()
                        .flat_map(|m| m.values())
                    {
                        for item in items.as_array().into_iter().flatten() {
                            usage.dynamodb_read_units +=
                                read_units(dynamodb_item_size(item), consistent);
                        }
                    }
                }
                "s3:PutObject" => usage.s3_puts += 1.0,
                other => *usage.other.entry(other.to_owned()).or_insert(0) += 1,
            }
            let written = usage.dynamodb_write_units - writes_before;
            if written > 0.0 {
                *usage
                    .write_units_by
                    .entry(x.operation.clone())
                    .or_insert(0.0) += written;
            }
        }
        usage
    }
}

/// Billed GB-seconds of `invocations`: busy time rounded up to the millisecond.
fn gb_seconds(invocations: &[Invocation]) -> f64 {
    invocations
        .iter()
        .map(|i| (i.busy.as_secs_f64() * 1000.0).ceil() / 1000.0)
        .sum::<f64>()
        * MEMORY_MB
        / 1024.0
}

fn median_ms(invocations: &[Invocation]) -> f64 {
    let mut ms: Vec<f64> = invocations
        .iter()
        .map(|i| i.busy.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let Ok(moto) = std::env::var("DD0C_TEST_AWS_ENDPOINT") else {
        eprintln!("cost bench: set DD0C_TEST_AWS_ENDPOINT to moto (scripts/test.sh starts one)");
        return;
    };
    let proxy = RecordingProxy::start(&moto).await.expect("recording proxy");
    let mut cloud = Cloud::new().await;
    cloud.functions_endpoint = proxy.url().to_owned();
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let records = forwarded_records();
    cloud
        .watch(
            TENANT,
            records.iter().map(|(account, _, _)| account.as_str()),
        )
        .await;
    cloud
        .store()
        .put_settings(
            TENANT,
            &Settings {
                slack_webhook_url: Some(slack.url("/hook")),
                ..Settings::default()
            },
        )
        .await
        .expect("settings");
    let functions = Functions::spawn(&cloud).await;

    // The functions' cold starts and first reads are not what a million records cost.
    let (warm_up, measured) = records.split_at(20);
    cloud.send_records(TENANT, warm_up).await;
    functions.drain(&cloud).await;
    proxy.take();

    cloud.send_records(TENANT, measured).await;
    let invocations = functions.drain(&cloud).await;
    let exchanges = proxy.take();
    let usage = Usage::count(&exchanges, &item_sizes(&cloud).await);
    let n = measured.len() as f64;
    let per_million = 1e6 / n;

    let invocations_total: usize = invocations.iter().map(Vec::len).sum();
    let gb_s: f64 = invocations.iter().map(|i| gb_seconds(i)).sum();
    // Lambda's poller: a receive and a batch delete per invocation; the rule: a send per record.
    let sqs = usage.sqs_requests + 2.0 * invocations_total as f64 + n;
    let lines = [
        (
            "Lambda requests",
            invocations_total as f64,
            PRICES.lambda_request,
        ),
        ("Lambda GB-seconds", gb_s, PRICES.lambda_gb_second),
        ("SQS FIFO requests", sqs, PRICES.sqs_fifo_request),
        (
            "DynamoDB write units",
            usage.dynamodb_write_units,
            PRICES.dynamodb_write_unit,
        ),
        (
            "DynamoDB read units",
            usage.dynamodb_read_units,
            PRICES.dynamodb_read_unit,
        ),
        ("S3 PUT requests", usage.s3_puts, PRICES.s3_put),
        ("EventBridge events", n, PRICES.eventbridge_event),
    ];
    println!(
        "{} records (the story's forwarded calls) → {} ingest, {} score, {} notify invocations; {} Slack alerts",
        measured.len(),
        invocations[0].len(),
        invocations[1].len(),
        invocations[2].len(),
        slack.posts("/hook").len()
    );
    println!(
        "busy per invocation, median: ingest {:.1} ms, score {:.1} ms, notify {:.1} ms (against moto)",
        median_ms(&invocations[0]),
        median_ms(&invocations[1]),
        median_ms(&invocations[2])
    );
    println!("prices: us-east-1 on demand, {PRICES_AS_OF}");
    println!(
        "{:<22} {:>14} {:>16} {:>12}",
        "per million records", "units", "price/unit", "dollars"
    );
    let mut total = 0.0;
    for (name, units, price) in lines {
        let dollars = units * per_million * price;
        total += dollars;
        println!(
            "{name:<22} {:>14.0} {:>16.10} {:>12.2}",
            units * per_million,
            price,
            dollars
        );
    }
    println!("{:<22} {:>14} {:>16} {:>12.2}", "total", "", "", total);
    println!(
        "DynamoDB write units per record by operation: {}",
        usage
            .write_units_by
            .iter()
            .map(|(op, units)| format!("{op} {:.2}", units / n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !usage.other.is_empty() {
        println!("requests not priced above: {:?}", usage.other);
    }
}
