//! The stack infra-cdk synthesizes, created in moto's CloudFormation.
//!
//! moto creates some resource types and not others (Cognito, CloudFront, API Gateway v2, …), and
//! the functions' code would come from CDK's asset bucket, which an emulator has not got: the
//! functions run here as processes under the Runtime API harness instead. So the template is
//! first reduced to what moto can create — every resource of a type it creates, less those that
//! refer to a resource left out — and both lists are printed.
//!
//! CloudFormation is spoken through its query protocol with a plain HTTP client: the one call
//! site does not earn an AWS SDK crate's build time, and moto does not check signatures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// The resource types moto's CloudFormation creates, of those the stack uses (moto 5.2.5:
/// `moto.cloudformation.parsing.get_model_map()`).
const CREATED_BY_MOTO: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
];

/// A template `cdk synth` wrote: `file` beside `DD0C_TEST_CDK_TEMPLATE` (the stack's), which
/// scripts/test.sh sets after synthesizing infra-cdk.
pub fn synthesized(file: Option<&str>) -> Value {
    let stack = std::env::var_os("DD0C_TEST_CDK_TEMPLATE")
        .map(PathBuf::from)
        .expect("DD0C_TEST_CDK_TEMPLATE: run the tests with scripts/test.sh, which synthesizes infra-cdk");
    let path = match file {
        Some(name) => stack.with_file_name(name),
        None => stack,
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("a JSON template")
}

/// A template reduced to what moto creates.
#[derive(Debug)]
pub struct Reduced {
    pub template: Value,
    /// Kept: (logical id, type).
    pub kept: Vec<(String, String)>,
    /// Left out: (logical id, type, why).
    pub left_out: Vec<(String, String, String)>,
}

/// The logical ids `value` refers to: `Ref`, `Fn::GetAtt`, `${…}` in `Fn::Sub`, `DependsOn`.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("Ref", Value::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            found.insert(id.clone());
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let text = match sub {
                            Value::String(t) => t.as_str(),
                            Value::Array(parts) => {
                                parts.first().and_then(Value::as_str).unwrap_or("")
                            }
                            _ => "",
                        };
                        for piece in text.split("${").skip(1) {
                            if let Some(name) = piece.split('}').next() {
                                found.insert(name.split('.').next().unwrap_or(name).to_owned());
                            }
                        }
                    }
                    ("DependsOn", Value::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("DependsOn", Value::Array(ids)) => {
                        found.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
                references(v, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// `template` less what moto cannot create, what refers to that, and CDK's bootstrap check
/// (an SSM parameter of CDK's bootstrap stack).
pub fn reduce(template: &Value) -> Reduced {
    let mut template = template.clone();
    let resources = template["Resources"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out: BTreeMap<String, String> = resources
        .iter()
        .filter_map(|(id, r)| {
            let kind = r["Type"].as_str().unwrap_or_default();
            let why = if kind.starts_with("AWS::Lambda::") && !CREATED_BY_MOTO.contains(&kind) {
                "its code is in CDK's asset bucket: the binaries run under the Runtime API harness"
                    .to_owned()
            } else {
                format!("moto does not create {kind}")
            };
            (!CREATED_BY_MOTO.contains(&kind)).then_some((id.clone(), why))
        })
        .collect();
    loop {
        let before = out.len();
        for (id, resource) in &resources {
            if out.contains_key(id) {
                continue;
            }
            let mut refs = BTreeSet::new();
            references(resource, &mut refs);
            if let Some(missing) = refs.iter().find(|r| out.contains_key(*r)) {
                let why = format!("refers to {missing}");
                out.insert(id.clone(), why);
            }
        }
        if out.len() == before {
            break;
        }
    }
    let kind = |id: &str| {
        resources[id]["Type"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let kept: Vec<(String, String)> = resources
        .keys()
        .filter(|id| !out.contains_key(*id))
        .map(|id| (id.clone(), kind(id)))
        .collect();
    let left_out = out
        .iter()
        .map(|(id, why)| (id.clone(), kind(id), why.clone()))
        .collect();
    let object = template.as_object_mut().expect("a template object");
    object.insert(
        "Resources".into(),
        Value::Object(
            resources
                .into_iter()
                .filter(|(id, _)| !out.contains_key(id))
                .collect(),
        ),
    );
    if let Some(Value::Object(outputs)) = object.get_mut("Outputs") {
        outputs.retain(|_, o| {
            let mut refs = BTreeSet::new();
            references(o, &mut refs);
            refs.iter().all(|r| !out.contains_key(r))
        });
    }
    object.remove("Rules");
    if let Some(Value::Object(parameters)) = object.get_mut("Parameters") {
        parameters.remove("BootstrapVersion");
    }
    Reduced {
        template,
        kept,
        left_out,
    }
}

/// CloudFormation in moto through its query protocol.
#[derive(Debug)]
pub struct CloudFormation {
    http: reqwest::Client,
    endpoint: String,
}

/// A created stack: its resources' statuses and its outputs.
#[derive(Debug)]
pub struct Created {
    pub status: String,
    pub resources: Vec<(String, String)>,
    pub outputs: BTreeMap<String, String>,
}

impl CloudFormation {
    pub fn new(endpoint: &str) -> CloudFormation {
        CloudFormation {
            http: reqwest::Client::new(),
            endpoint: endpoint.to_owned(),
        }
    }

    /// One call: the response's XML, or a panic naming the action and moto's answer.
    async fn call(&self, action: &str, params: &[(String, String)]) -> String {
        let mut form = vec![
            ("Action".to_owned(), action.to_owned()),
            ("Version".into(), "2010-05-15".into()),
        ];
        form.extend(params.iter().cloned());
        let body = serde_urlencoded::to_string(&form).expect("form");
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            // moto routes by the credential scope's service and checks no signature.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CloudFormation {action}: {e}"));
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert!(
            status.is_success(),
            "CloudFormation {action}: {status} {text}"
        );
        text
    }

    /// Creates `name` from `template` with `parameters` and waits for it to settle.
    pub async fn create(
        &self,
        name: &str,
        template: &Value,
        parameters: &[(&str, &str)],
    ) -> Created {
        let mut params = vec![
            ("StackName".to_owned(), name.to_owned()),
            ("TemplateBody".into(), template.to_string()),
            ("Capabilities.member.1".into(), "CAPABILITY_IAM".into()),
            (
                "Capabilities.member.2".into(),
                "CAPABILITY_NAMED_IAM".into(),
            ),
        ];
        for (n, (key, value)) in parameters.iter().enumerate() {
            params.push((
                format!("Parameters.member.{}.ParameterKey", n + 1),
                (*key).to_owned(),
            ));
            params.push((
                format!("Parameters.member.{}.ParameterValue", n + 1),
                (*value).to_owned(),
            ));
        }
        self.call("CreateStack", &params).await;
        let name = [("StackName".to_owned(), name.to_owned())];
        let mut described = String::new();
        for _ in 0..120 {
            described = self.call("DescribeStacks", &name).await;
            if !elements(&described, "StackStatus")
                .iter()
                .any(|s| s.ends_with("IN_PROGRESS"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let listed = self.call("ListStackResources", &name).await;
        Created {
            status: elements(&described, "StackStatus")
                .into_iter()
                .next()
                .unwrap_or_default(),
            resources: elements(&listed, "LogicalResourceId")
                .into_iter()
                .zip(elements(&listed, "ResourceStatus"))
                .collect(),
            outputs: elements(&described, "OutputKey")
                .into_iter()
                .zip(elements(&described, "OutputValue"))
                .collect(),
        }
    }
}

/// Puts CloudTrail `records` on the event bus `bus` as EventBridge delivers CloudTrail calls
/// (`aws.SERVICE`, "AWS API Call via CloudTrail"), through EventBridge's JSON protocol; returns
/// how many moto took.
pub async fn put_cloudtrail_events(endpoint: &str, bus: &str, records: &[Value]) -> usize {
    let entries: Vec<Value> = records
        .iter()
        .map(|record| {
            let service = record["eventSource"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches(".amazonaws.com");
            serde_json::json!({
                "Source": format!("aws.{service}"),
                "DetailType": "AWS API Call via CloudTrail",
                "Detail": record.to_string(),
                "EventBusName": bus,
            })
        })
        .collect();
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSEvents.PutEvents")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(serde_json::json!({ "Entries": entries }).to_string())
        .send()
        .await
        .expect("PutEvents");
    let answer: Value = response.json().await.expect("a PutEvents answer");
    let failed = answer["FailedEntryCount"].as_u64().unwrap_or(u64::MAX);
    assert_eq!(failed, 0, "PutEvents: {answer}");
    records.len()
}

/// The text of every `<tag>…</tag>` in `xml`, in order (the answers here nest nothing inside
/// these, and escape only `&amp;`-style entities).
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(|text| {
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}
