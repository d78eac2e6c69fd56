//! [`CaptureServer`]: a real HTTP server on loopback that plays Slack's side of an incoming
//! webhook in tests — it records every POSTed JSON body by path and can be told to fail or to
//! redirect.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

#[derive(Default)]
struct Recorded {
    posts: Vec<(String, Value)>,
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
    Json(body): Json<Value>,
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
    recorded.posts.push((path, body));
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
        self.lock()
            .posts
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
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
