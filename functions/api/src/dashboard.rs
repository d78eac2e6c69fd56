//! The dashboard on the API's origin: the built single-page app (`dashboard/dist`) at `/`, its
//! runtime `/config.json` (which sign-in it shows), and the headers that keep it safe.
//!
//! - A path that names no file of the build and is not an API path (`/anomalies/a-1`) answers
//!   `index.html`, so a link into the app opens it there; a missing asset (`/assets/x.js`) is a
//!   plain 404, never HTML a browser would refuse as script.
//! - Hashed assets are cached for a year; `index.html` and `config.json` are revalidated, so a
//!   new build is picked up on the next load.
//! - Every response of the app carries a strict Content-Security-Policy: scripts and styles from
//!   this origin only (the build has no inline script), requests to this origin and to the
//!   identity provider's, no framing.
//!
//! The cloud serves the same build from S3 behind CloudFront, with a `config.json` the stack
//! writes; one build serves both modes.

use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// Which sign-in the app shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The e-mail and password form (`POST /v1/auth/login`).
    Local,
    /// The identity provider's hosted page (Cognito: authorization code with PKCE).
    Cloud,
}

/// Cognito's hosted sign-in, as the app needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostedUi {
    /// The hosted UI's origin (`https://dd0c.auth.eu-west-1.amazoncognito.com`).
    pub domain: String,
    /// The public app client (no secret: PKCE).
    pub client_id: String,
    /// Where the provider sends the browser back; absent: the app's own origin, `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// The app's runtime configuration, served as `/config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Which sign-in.
    pub mode: Mode,
    /// The API's base URL; empty: this origin.
    pub api: String,
    /// The hosted sign-in, in [`Mode::Cloud`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cognito: Option<HostedUi>,
}

impl Config {
    /// The local sign-in form, the API on this origin.
    pub fn local() -> Self {
        Config {
            mode: Mode::Local,
            api: String::new(),
            cognito: None,
        }
    }

    /// Sign-in through `hosted`, the API on this origin.
    pub fn cloud(hosted: HostedUi) -> Self {
        Config {
            mode: Mode::Cloud,
            api: String::new(),
            cognito: Some(hosted),
        }
    }

    /// The Content-Security-Policy of the app's responses: this origin, and the identity
    /// provider's for the token exchange.
    pub fn content_security_policy(&self) -> String {
        let provider = self
            .cognito
            .as_ref()
            .map(|c| format!(" {}", c.domain.trim_end_matches('/')))
            .unwrap_or_default();
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'{provider}; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'"
        )
    }
}

/// How to get a dashboard to serve, for the messages that say none is there.
pub const BUILD_HINT: &str =
    "build it (`npm ci && npm run build` in dashboard/) and set DD0C_DASHBOARD_DIR to dashboard/dist";

/// The built app and its configuration, with what every response of it shares made once.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The build's directory (holding `index.html`).
    pub dir: PathBuf,
    /// Served as `/config.json`.
    pub config: Config,
    files: ServeDir,
    index: ServeFile,
    csp: HeaderValue,
}

impl Dashboard {
    /// The build in `dir` with `config`; fails when `dir` holds no `index.html`, or when the
    /// identity provider's domain cannot be written in a header, naming it.
    pub fn new(dir: &Path, config: Config) -> std::io::Result<Self> {
        let index = dir.join("index.html");
        if !index.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} has no index.html: {BUILD_HINT}", dir.display()),
            ));
        }
        let csp = HeaderValue::from_str(&config.content_security_policy()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the identity provider's domain {:?} cannot be written in a Content-Security-Policy",
                    config.cognito.as_ref().map(|c| c.domain.as_str()).unwrap_or_default()
                ),
            )
        })?;
        Ok(Dashboard {
            dir: dir.to_owned(),
            files: ServeDir::new(dir),
            index: ServeFile::new(index),
            config,
            csp,
        })
    }

    /// Answers `request`, a GET the API's routes did not take.
    pub(crate) async fn serve(&self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        let mut response = if path == "/config.json" {
            Json(self.config.clone()).into_response()
        } else if is_app_route(&path) {
            self.index.clone().oneshot(request).await.into_response()
        } else {
            self.files.clone().oneshot(request).await.into_response()
        };
        let cache = match path.starts_with("/assets/") && response.status().is_success() {
            // Vite names each asset by its content hash: a new build has new names.
            true => "public, max-age=31536000, immutable",
            false => "no-cache",
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
}

/// Whether `path` is one of the app's own pages (no file extension in its last segment), which
/// `index.html` answers.
fn is_app_route(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !last.contains('.')
}

/// Whether `path` belongs to the API (or its operations), where the app never answers.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/")
        || path == "/v1"
        || [
            "/healthz",
            "/readyz",
            "/metrics",
            crate::operations::OPENAPI_PATH,
        ]
        .contains(&path)
}

/// What a path outside the API answers where no dashboard is served: where it would be.
pub(crate) fn not_served() -> Response {
    crate::ApiError::NotFound(format!("the dashboard is not served here: {BUILD_HINT}"))
        .into_response()
}

/// The dashboard alone, for a process that serves only the app (the self-hosted `dashboard`
/// service behind its reverse proxy): the app's files and `/config.json`, `/healthz` and
/// `/readyz` (it has no backend to wait for); every API path answers 404.
pub fn app(dashboard: Dashboard) -> axum::Router {
    let dashboard = std::sync::Arc::new(dashboard);
    axum::Router::new()
        .route("/healthz", axum::routing::get(crate::operations::healthz))
        .route("/readyz", axum::routing::get(crate::operations::healthz))
        .fallback(move |request: Request| async move {
            fallback(Some(dashboard.as_ref()), request).await
        })
        .layer(axum::middleware::map_response(crate::finish_response))
}

/// The answer to a request no route took: the app's page or file for a GET outside the API,
/// else the router's own 404.
pub(crate) async fn fallback(dashboard: Option<&Dashboard>, request: Request) -> Response {
    let path = request.uri().path();
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if is_api_path(path) || !reads {
        return StatusCode::NOT_FOUND.into_response();
    }
    match dashboard {
        Some(dashboard) => dashboard.serve(request).await,
        None => not_served(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_the_app_are_answered_with_index_and_files_are_not() {
        assert!(is_app_route("/"));
        assert!(is_app_route("/anomalies/a-1"));
        assert!(!is_app_route("/assets/index-1a2b.js"));
        assert!(!is_app_route("/favicon.svg"));
    }

    #[test]
    fn api_paths_are_never_the_apps() {
        assert!(is_api_path("/v1/anomalies"));
        assert!(is_api_path("/openapi.json"));
        assert!(!is_api_path("/v1anomalies"));
        assert!(!is_api_path("/anomalies"));
    }

    #[test]
    fn the_policy_admits_the_identity_provider_only_where_the_token_exchange_needs_it() {
        let local = Config::local().content_security_policy();
        assert!(local.contains("connect-src 'self';"), "{local}");
        assert!(!local.contains("unsafe"), "{local}");
        let cloud = Config::cloud(HostedUi {
            domain: "https://idp.example/".into(),
            client_id: "c".into(),
            redirect_uri: None,
        })
        .content_security_policy();
        assert!(
            cloud.contains("connect-src 'self' https://idp.example;"),
            "{cloud}"
        );
        assert!(cloud.contains("script-src 'self';"), "{cloud}");
    }
}
