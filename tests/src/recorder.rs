//! [`RecordingProxy`]: an HTTP proxy on loopback in front of moto that keeps every AWS request
//! and its answer, so a benchmark can count what the cloud would bill — requests per operation,
//! and DynamoDB's request units from the items written and read ([`dynamodb_item_size`]).
//! Clients point their endpoint at [`RecordingProxy::url`]; moto infers the service from the
//! request's signature scope, so nothing else changes.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// One request and moto's answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `service:Operation`, e.g. `dynamodb:TransactWriteItems`, `sqs:SendMessageBatch`,
    /// `s3:PutObject`; `other:METHOD` when it cannot tell.
    pub operation: String,
    /// The request body.
    pub request: Bytes,
    /// The response body.
    pub response: Bytes,
}

impl Exchange {
    /// The request body as JSON (the JSON protocols: DynamoDB, SQS), `Null` otherwise.
    pub fn request_json(&self) -> Value {
        serde_json::from_slice(&self.request).unwrap_or(Value::Null)
    }

    /// The response body as JSON, `Null` otherwise.
    pub fn response_json(&self) -> Value {
        serde_json::from_slice(&self.response).unwrap_or(Value::Null)
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    exchanges: Mutex<Vec<Exchange>>,
}

/// The proxy; it stops when dropped.
#[allow(missing_debug_implementations)]
pub struct RecordingProxy {
    base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingProxy {
    /// Starts on an ephemeral loopback port, forwarding to `upstream` (moto's URL).
    pub async fn start(upstream: &str) -> std::io::Result<RecordingProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            exchanges: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RecordingProxy { base, shared, task })
    }

    /// The endpoint URL clients use.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Everything recorded since the last take, in order; recording goes on.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(
            &mut *self
                .shared
                .exchanges
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }
}

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: [&str; 4] = ["connection", "content-length", "transfer-encoding", "host"];

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let operation = operation(&parts.method, &parts.uri, &parts.headers, &body);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = shared
        .client
        .request(parts.method.clone(), format!("{}{path}", shared.upstream))
        .body(body.clone());
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let Ok(response) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    shared
        .exchanges
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Exchange {
            operation,
            request: body,
            response: response.clone(),
        });
    let mut out = Response::new(Body::from(response));
    *out.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// `service:Operation` of a request: the JSON protocols name it in `X-Amz-Target`, the query
/// protocol in `Action`, S3 by its method; the service is the signature's scope.
fn operation(
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …
    let service = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("other");
    if let Some(target) = header("x-amz-target") {
        let name = target.rsplit('.').next().unwrap_or(target);
        return format!("{service}:{name}");
    }
    let query = uri.query().unwrap_or("");
    let form = std::str::from_utf8(body).unwrap_or("");
    if let Some(action) = [query, form]
        .iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("Action="))
    {
        return format!("{service}:{action}");
    }
    let name = match (service, method.as_str()) {
        ("s3", "PUT") => "PutObject".to_owned(),
        ("s3", "GET") if uri.path().trim_matches('/').contains('/') => "GetObject".to_owned(),
        ("s3", "GET") => "ListObjects".to_owned(),
        (_, m) => m.to_owned(),
    };
    format!("{service}:{name}")
}

/// The size DynamoDB bills an item (or one attribute map) by, from its wire form (`{"name":
/// {"S": "…"}, …}`): each attribute's name plus its value — strings and binaries by their
/// bytes, numbers about one byte per two digits plus one, booleans and nulls one byte, lists
/// and maps three bytes plus their elements and a byte each.
pub fn dynamodb_item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attributes| {
        attributes
            .iter()
            .map(|(name, value)| name.len() + attribute_size(value))
            .sum()
    })
}

fn attribute_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    let number = |n: &Value| {
        let digits = n
            .as_str()
            .map_or(0, |s| s.chars().filter(char::is_ascii_digit).count());
        digits.div_ceil(2) + 1
    };
    let text = |s: &Value| s.as_str().map_or(0, str::len);
    // Binaries travel as base64: three bytes for every four characters.
    let binary = |b: &Value| text(b) * 3 / 4;
    let each = |f: &dyn Fn(&Value) -> usize| inner.as_array().map_or(0, |a| a.iter().map(f).sum());
    match kind.as_str() {
        "S" => text(inner),
        "N" => number(inner),
        "B" => binary(inner),
        "BOOL" | "NULL" => 1,
        "SS" => each(&text),
        "NS" => each(&number),
        "BS" => each(&binary),
        "L" => 3 + each(&|v| 1 + attribute_size(v)),
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter()
                    .map(|(name, v)| 1 + name.len() + attribute_size(v))
                    .sum()
            })
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_items_size_counts_names_and_values() {
        let item = json!({
            "pk": {"S": "tenant#acme"},
            "n": {"N": "12345"},
            "ok": {"BOOL": true},
            "tags": {"L": [{"S": "ab"}, {"N": "7"}]},
        });
        // pk 2+11, n 1+(3+1), ok 2+1, tags 4+(3 + (1+2) + (1+2)).
        assert_eq!(dynamodb_item_size(&item), 13 + 5 + 3 + 13);
    }
}
