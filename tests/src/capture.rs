//! [`CaptureServer`]: a real HTTP server on loopback that plays Slack's side of an incoming
//! webhook (and of Teams, PagerDuty and a tenant's own endpoint) in tests — it records every
//! POSTed JSON body with its headers by path and can be told to fail or to redirect.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use dd0c_ports::conformance::Received;
use serde_json::Value;

#[derive(Default)]
struct Recorded {
    posts: Vec<(String, Received)>,
    failing: HashSet<String>,
}

/// The server; it stops when dropped.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct CaptureServer {
    base: String,
    recorded: Arc<Mutex<Recorded>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

async fn receive(
    State(recorded): State<Arc<Mutex<Recorded>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut recorded = recorded.lock().unwrap_or_else(|p| p.into_inner());
    let path = format!("/{path}");
    if let Some(target) = path.strip_prefix("/moved") {
        return (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, target.to_owned())],
        )
            .into_response();
    }
    if recorded.failing.contains(&path) || path.starts_with("/fail") {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if serde_json::from_slice::<Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let headers = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    recorded.posts.push((
        path,
        Received {
            headers,
            body: body.to_vec(),
        },
    ));
    StatusCode::OK.into_response()
}

impl CaptureServer {
    /// Starts on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<CaptureServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(recorded.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(CaptureServer {
            base,
            recorded,
            task: Arc::new(task),
        })
    }

    /// The URL of `path` (which starts with `/`); paths under `/fail` always answer 500, and
    /// `/moved/P` redirects (307) to `/P`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The bodies posted to `path`, in order.
    pub fn posts(&self, path: &str) -> Vec<Value> {
        self.requests(path).iter().map(Received::json).collect()
    }

    /// The posts to `path` with their headers, in order.
    pub fn requests(&self, path: &str) -> Vec<Received> {
        self.lock()
            .posts
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, request)| request.clone())
            .collect()
    }

    /// Makes `path` answer 500 (`true`) or record again.
    pub fn set_failing(&self, path: &str, failing: bool) {
        let mut recorded = self.lock();
        if failing {
            recorded.failing.insert(path.to_owned());
        } else {
            recorded.failing.remove(path);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }
}
