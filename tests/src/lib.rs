//! # dd0c-tests
//!
//! Synthetic CloudTrail for the bundled sample, benchmarks and cross-crate tests, written from
//! the shapes AWS records (see `functions/ingest/tests/events.rs` for one fixture per API).
//!
//! Map:
//! - [`record`] and the identity helpers — one CloudTrail record as AWS writes it.
//! - [`story`] — days of routine activity in two accounts with costly mistakes planted at
//!   seed-dependent times, and which events those are ([`Story::mistakes`]).
//! - [`CaptureServer`] — a loopback HTTP server that records webhook posts (Slack's side).
//! - [`StaticFiles`] — a loopback HTTP server of a directory's files (the AWS Price List's side).
//! - [`lambda`] — the Lambda Runtime API on loopback, to run the real Lambda binaries.
//! - [`otlp`] — a real OTLP/HTTP trace receiver on loopback, for the telemetry tests.
//! - `recorder` (feature `aws`) — a proxy in front of moto that keeps every AWS request and
//!   answer, for the cloud cost benchmark.
//! - [`mutate`] — random damage to records, for the property tests of the normalizer and the
//!   HTTP edge.
//! - `estate` (feature `aws`) — a zombie estate planted in moto, and what a correct hunter finds.
//! - [`Rng`] — a small deterministic generator (SplitMix64), stable across platforms and
//!   dependency versions, so a seed always tells the same story.

mod capture;
#[cfg(feature = "aws")]
pub mod estate;
pub mod lambda;
pub mod mutate;
pub mod otlp;
#[cfg(feature = "aws")]
pub mod recorder;
mod static_files;
mod story;

pub use capture::CaptureServer;
pub use static_files::StaticFiles;
pub use story::{story, Mistake, Story};

use serde_json::{json, Value};

/// SplitMix64: deterministic, tiny, good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A loopback port nothing listens on now, for a server started in another process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `userIdentity` of a role session.
pub fn assumed_role(account: &str, role: &str, session: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{}:{session}", role.to_uppercase().replace(['-', '_'], "").chars().take(12).collect::<String>()),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLEEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-03-01T00:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

/// `userIdentity` of an IAM user.
pub fn iam_user(account: &str, name: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/{name}"), "accountId": account, "accessKeyId": "AKIAEXAMPLE", "userName": name})
}

/// `userIdentity` of an AWS service acting for the account.
pub fn aws_service(service: &str) -> Value {
    json!({"type": "AWSService", "invokedBy": service})
}

/// A CloudTrail record as AWS writes it.
pub fn record(
    identity: &Value,
    account: &str,
    region: &str,
    time: &str,
    source: &str,
    name: &str,
    request: Value,
    response: Value,
    event_id: &str,
) -> Value {
    let read_only = ["Describe", "Get", "List", "Lookup"]
        .iter()
        .any(|p| name.starts_with(p));
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": if identity["type"] == "AWSService" { json!(source) } else { json!("203.0.113.10") },
        "userAgent": "aws-sdk-go-v2/1.30.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": format!("req-{event_id}"),
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    })
}

/// The routes that act on one anomaly, for isolation matrices: called with another tenant's
/// anomaly id, each must answer 404 in every deployment.
pub fn anomaly_routes(anomaly_id: &str) -> Vec<(&'static str, String)> {
    let mut routes = vec![("GET", format!("/v1/anomalies/{anomaly_id}"))];
    for action in ["acknowledge", "snooze", "expected", "resolve"] {
        routes.push(("POST", format!("/v1/anomalies/{anomaly_id}/{action}")));
    }
    routes
}

/// Pages through the caller's three anomalies two at a time, `get` answering a GET's JSON body
/// as that caller: the first page's cursor leads to a last page of one.
pub async fn assert_pages_of_two(get: impl AsyncFn(&str) -> Value) {
    let page = get("/v1/anomalies?limit=2").await;
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let rest = get(&format!("/v1/anomalies?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1), "{rest}");
}
