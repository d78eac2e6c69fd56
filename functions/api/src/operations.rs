//! What operators and their tools call: `GET /healthz` (liveness), `GET /readyz` (whether the
//! backend answers), `GET /metrics` (Prometheus text, behind `DD0C_METRICS_TOKEN` when set),
//! and the OpenAPI document's own path.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dd0c_ports::auth::token_sha256;
use dd0c_ports::flags::Flags;
use dd0c_ports::queue::Queue;
use dd0c_ports::store::TenantStore;

use crate::metrics::Metrics;
use crate::{bearer, Api, ApiError, Problem};

/// Whether the backend answers (`GET /readyz`): the runtime knows what to ask.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// Whether requests can be served now.
    async fn ready(&self) -> bool;
}

/// Always ready: a backend with nothing to ask (memory, or managed services in the cloud).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysReady;

#[async_trait]
impl Readiness for AlwaysReady {
    async fn ready(&self) -> bool {
        true
    }
}

/// What the operations routes read.
#[allow(missing_debug_implementations)]
pub struct Operations {
    /// Counters and latencies of this process.
    pub metrics: Arc<Metrics>,
    /// The bearer token `/metrics` asks for; `None`: `/metrics` is served only when
    /// `metrics_public` says so.
    pub metrics_token: Option<String>,
    /// Serve `/metrics` to anyone when no token is set (an operator's choice: a scrape lists
    /// account ids and queue depths).
    pub metrics_public: bool,
    /// Whether metrics name tenants (an operator's choice: a scrape then lists every tenant).
    pub tenant_labels: bool,
    /// The queues whose depth `/metrics` reports, by name.
    pub queues: Vec<(String, Arc<dyn Queue>)>,
    /// What `/readyz` asks.
    pub readiness: Arc<dyn Readiness>,
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            metrics: Arc::default(),
            metrics_token: None,
            metrics_public: false,
            tenant_labels: false,
            queues: Vec::new(),
            readiness: Arc::new(AlwaysReady),
        }
    }
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// `spec` with its own path described, the ingest-token scheme declared, as OpenAPI 3.1.
pub(crate) fn with_openapi_path(mut spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::ResponseBuilder;
    let document = utoipa::openapi::ContentBuilder::new()
        .schema(Some(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::Object)
                .build(),
        ))
        .build();
    let operation = OperationBuilder::new()
        .tag("operations")
        .summary(Some("This document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("OpenAPI 3.1")
                .content("application/json", document),
        )
        .build();
    spec.paths.paths.insert(
        OPENAPI_PATH.into(),
        PathItem::new(HttpMethod::Get, operation),
    );
    let ingest = SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An account's ingest token (dd0c_ing_…)"))
            .build(),
    );
    let metrics = SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The operator's DD0C_METRICS_TOKEN, when set"))
            .build(),
    );
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme("ingest_token", ingest);
    components.add_security_scheme("metrics_token", metrics);
    spec
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process serves", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: whether the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "The backend answers", body = String, content_type = "text/plain"), (status = 503, description = "The backend does not answer", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn readyz(State(api): State<Arc<Api>>) -> Response {
    if api.operations.readiness.ready().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        ApiError::Unavailable("the database does not answer".into()).into_response()
    }
}

/// Prometheus metrics: with `DD0C_METRICS_TOKEN` set, only for `Authorization: Bearer <it>`;
/// without, only when the operator made them public (`--metrics-public`), else 404.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"), (status = 401, description = "The metrics token is required and was not given", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No metrics token is set and metrics are not public", body = Problem, content_type = "application/problem+json")), security((), ("metrics_token" = [])))]
pub(crate) async fn metrics(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let operations = &api.operations;
    match &operations.metrics_token {
        Some(expected) => {
            // Compared as digests, so the time taken says nothing about the token's characters.
            let given = bearer(&headers).unwrap_or_default();
            if token_sha256(given) != token_sha256(expected) {
                return ApiError::Unauthorized("/metrics needs its bearer token".into())
                    .into_response();
            }
        }
        None if !operations.metrics_public => {
            return ApiError::NotFound(
                "/metrics is not served: set DD0C_METRICS_TOKEN (or --metrics-public)".into(),
            )
            .into_response();
        }
        None => {}
    }
    let mut depths = Vec::new();
    for (name, queue) in &operations.queues {
        if let Ok(d) = queue.depth().await {
            depths.push((name.clone(), d.visible, d.in_flight, d.dead));
        }
    }
    let mut text = operations.metrics.render(&depths);
    let gauges = notification_gauges(
        api.stores.tenants.as_ref(),
        api.flags.as_ref(),
        operations.tenant_labels,
    );
    text.push_str(&gauges.await);
    text.push_str(&crate::catalog::gauge(&api.catalog.get()));
    if let Some(sources) = &api.sources {
        text.push_str(
            &crate::sources::lag_gauges(sources.as_ref(), operations.tenant_labels).await,
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Panic mode and open breakers, read at scrape time from the shared flags (what every replica
/// sees): per tenant and channel when `per_tenant`, else how many tenants are in each state.
/// Unreadable flags are left out, not guessed.
async fn notification_gauges(
    tenants: &dyn TenantStore,
    flags: &dyn Flags,
    per_tenant: bool,
) -> String {
    use std::fmt::Write;
    let Ok(tenants) = tenants.tenants().await else {
        return String::new();
    };
    let now = chrono::Utc::now();
    let channels = dd0c_notify::Channel::ALL;
    let mut panicking = Vec::new();
    let mut open: Vec<(&str, &str, bool)> = Vec::new();
    for tenant in &tenants {
        if let Ok(on) = flags.panic_mode(&tenant.name).await {
            panicking.push((tenant.name.as_str(), on));
        }
        for channel in channels {
            if let Ok(state) = flags.breaker(&channel.breaker_key(&tenant.name)).await {
                let is_open = !dd0c_notify::breaker::allows(state.as_ref(), now);
                open.push((tenant.name.as_str(), channel.as_str(), is_open));
            }
        }
    }
    let mut out = String::new();
    if per_tenant {
        out.push_str("# TYPE dd0c_panic_mode gauge\n");
        for (tenant, on) in &panicking {
            let _ = writeln!(
                out,
                "dd0c_panic_mode{{tenant=\"{tenant}\"}} {}",
                u8::from(*on)
            );
        }
        out.push_str("# TYPE dd0c_breaker_open gauge\n");
        for (tenant, channel, is_open) in &open {
            let _ = writeln!(
                out,
                "dd0c_breaker_open{{tenant=\"{tenant}\",channel=\"{channel}\"}} {}",
                u8::from(*is_open)
            );
        }
    } else {
        let in_panic = panicking.iter().filter(|(_, on)| *on).count();
        let _ = writeln!(
            out,
            "# TYPE dd0c_tenants_in_panic_mode gauge\ndd0c_tenants_in_panic_mode {in_panic}"
        );
        out.push_str("# TYPE dd0c_breakers_open gauge\n");
        for channel in channels {
            let n = open
                .iter()
                .filter(|(_, c, is_open)| *is_open && *c == channel.as_str())
                .count();
            let _ = writeln!(
                out,
                "dd0c_breakers_open{{channel=\"{}\"}} {n}",
                channel.as_str()
            );
        }
    }
    out
}
