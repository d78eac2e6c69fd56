//! [`RuntimeApi`]: the Lambda Runtime API on loopback — what the Lambda service offers a
//! function's process — so tests run the real compiled Lambda binaries: [`RuntimeApi::invoke`]
//! queues an event and waits for the function's answer, and [`Function`] is one running binary.
//!
//! Routes (as AWS documents them): `GET /2018-06-01/runtime/invocation/next` (long poll; the
//! event, with its request id, deadline and function ARN in headers),
//! `POST /2018-06-01/runtime/invocation/{id}/response`, `POST …/{id}/error`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST …/response` with this body.
    Response(Value),
    /// `POST …/error` with this body (`errorType`, `errorMessage`).
    Error(Value),
    /// The function answered but the harness dropped the answer and never replied, as if the
    /// process had been killed before the service heard it (see [`RuntimeApi::lose_next_answer`]).
    Lost,
}

/// An invocation's outcome and how long the function had it (from `/next` to its answer).
#[derive(Debug, Clone)]
pub struct Invocation {
    /// How it ended.
    pub outcome: Outcome,
    /// From handing the event out to receiving the answer.
    pub busy: Duration,
}

struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    waiting: Mutex<HashMap<String, (oneshot::Sender<Invocation>, Instant)>>,
    polls: Mutex<Vec<Instant>>,
    lose_next: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The Runtime API server; it stops when dropped.
#[allow(missing_debug_implementations)]
pub struct RuntimeApi {
    address: String,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<(String, Value)>,
    next_id: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    lock(&shared.polls).push(Instant::now());
    let received = shared.events.lock().await.recv().await;
    let Some((id, event)) = received else {
        return (StatusCode::GONE, HeaderMap::new(), Vec::new());
    };
    if let Some((_, handed_out)) = lock(&shared.waiting).get_mut(&id) {
        *handed_out = Instant::now();
    }
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(60))
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:dd0c-test".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event.to_string().into_bytes())
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn answer(shared: Arc<Shared>, id: String, outcome: Outcome) -> StatusCode {
    let Some((waiter, handed_out)) = lock(&shared.waiting).remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let busy = handed_out.elapsed();
    let lost = shared.lose_next.swap(false, Ordering::SeqCst);
    let outcome = if lost { Outcome::Lost } else { outcome };
    let _ = waiter.send(Invocation { outcome, busy });
    if lost {
        // Never answer: the test kills the process that is waiting here.
        std::future::pending::<()>().await;
    }
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    answer(shared, id, Outcome::Response(parse(&body))).await
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    answer(shared, id, Outcome::Error(parse(&body))).await
}

impl RuntimeApi {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::default(),
            polls: Mutex::default(),
            lose_next: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            address,
            shared,
            sender,
            next_id: AtomicU64::new(1),
            task,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Invokes the function with `event` and waits (at most `timeout`) for its answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Invocation, String> {
        let id = format!("req-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        let (waiter, answered) = oneshot::channel();
        lock(&self.shared.waiting).insert(id.clone(), (waiter, Instant::now()));
        self.sender
            .send((id.clone(), event))
            .map_err(|_| "the runtime API stopped".to_owned())?;
        match tokio::time::timeout(timeout, answered).await {
            Ok(Ok(invocation)) => Ok(invocation),
            Ok(Err(_)) => Err(format!("invocation {id} was dropped")),
            Err(_) => Err(format!("invocation {id}: no answer within {timeout:?}")),
        }
    }

    /// The next answer is taken as lost: the invocation ends [`Outcome::Lost`] and the
    /// function's request is left hanging, as if its process died reporting.
    pub fn lose_next_answer(&self) {
        self.shared.lose_next.store(true, Ordering::SeqCst);
    }

    /// When the first `GET …/next` at or after `since` arrived: a function's init is done then.
    pub fn first_poll_after(&self, since: Instant) -> Option<Instant> {
        lock(&self.shared.polls)
            .iter()
            .copied()
            .find(|t| *t >= since)
    }

    /// Waits (at most `timeout`) for the first `/next` poll at or after `since`.
    pub async fn wait_for_poll(&self, since: Instant, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(at) = self.first_poll_after(since) {
                return Some(at);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    }
}

/// One running Lambda binary, killed when dropped.
#[derive(Debug)]
pub struct Function {
    child: tokio::process::Child,
    /// When the process was started.
    pub started: Instant,
}

impl Function {
    /// Starts `binary` against `api` with Lambda's own variables and `env`.
    pub fn spawn(
        binary: &Path,
        api: &RuntimeApi,
        env: &[(&str, String)],
    ) -> std::io::Result<Function> {
        let mut command = tokio::process::Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env(
                "AWS_LAMBDA_FUNCTION_NAME",
                binary
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("DD0C_LOG", "warn")
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let started = Instant::now();
        Ok(Function {
            child: command.spawn()?,
            started,
        })
    }

    /// Kills the process and waits for it to end.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Whether the process has exited, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}
