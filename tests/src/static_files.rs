//! [`StaticFiles`]: a loopback HTTP server of one directory's files — the AWS Price List's side
//! of `catalog update`, for its tests.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

/// Serves `GET /P` as the file `root/P`; 404 for what is not there.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    base: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for StaticFiles {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

async fn file(root: Arc<PathBuf>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.split('/').any(|part| part == "..") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match tokio::fs::read(root.join(path)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl StaticFiles {
    /// Starts on an ephemeral loopback port, serving `root`.
    pub async fn serve(root: impl Into<PathBuf>) -> std::io::Result<StaticFiles> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let root = Arc::new(root.into());
        let app = Router::new().fallback(move |uri: Uri| file(root.clone(), uri));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StaticFiles {
            base,
            task: Arc::new(task),
        })
    }

    /// The server's base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.base
    }
}
