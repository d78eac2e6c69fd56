//! The HTTP surface of the dispatcher: `POST /v1/events`, `POST /v1/slack/actions`,
//! `GET /healthz`, `GET /readyz`, `GET /metrics`. Errors are problem details (RFC 9457), mapped in one place.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH;
use dd0c_ingest::handler::score_message;
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::{Admitted, Item};
use dd0c_ports::auth::token_sha256;
use dd0c_ports::queue::{OutgoingMessage, SendOutcome};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::backend::Backend;
use crate::metrics::{Counter, Metrics};
use dd0c_api::bearer;
pub use dd0c_api::ApiError;

/// How many rejection reasons a response lists.
const REASONS_SHOWN: usize = 20;

/// Shared by every request.
#[allow(missing_debug_implementations)]
pub struct App {
    pub backend: Backend,
    pub metrics: Arc<Metrics>,
    /// Largest accepted request body, compressed or not (bytes).
    pub max_body: usize,
    /// The Slack app's signing secret; without it `/v1/slack/actions` answers 404.
    pub slack_signing_secret: Option<String>,
    /// The bearer token `/metrics` asks for; `None`: open.
    pub metrics_token: Option<String>,
    /// Whether metrics name tenants (an operator's choice: a scrape then lists every tenant).
    pub metrics_tenant_labels: bool,
    /// Slack requests already seen.
    pub slack_replays: crate::slack::ReplayCache,
    /// Prices pushed records on arrival, so only their cost events reach the database; each
    /// tenant's normalizer remembers facts across records (instance types, task sizes), shared
    /// with the ingest function.
    pub normalizers: Arc<Normalizers>,
}

/// The answer to an accepted push.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Records admitted: valid CloudTrail of the token's account, normalized on arrival.
    pub accepted: usize,
    /// Cost events the accepted records became, queued for scoring.
    pub priced: usize,
    /// Cost events already queued within the deduplication window (not queued again).
    pub duplicates: usize,
    /// Accepted records that create nothing billable (reads, failed calls, free changes):
    /// counted, not queued.
    pub skipped: usize,
    /// Records refused: another account's, or not valid CloudTrail.
    pub rejected: usize,
    /// Why, for the first few.
    pub rejections: Vec<String>,
}

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// `spec` with its own path described, the ingest-token scheme declared, as OpenAPI 3.1.
pub fn with_openapi_path(mut spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::ResponseBuilder;
    let operation = OperationBuilder::new()
        .tag("operations")
        .summary(Some("This document"))
        .response("200", ResponseBuilder::new().description("OpenAPI 3.1"))
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
    spec.components
        .get_or_insert_with(Default::default)
        .add_security_scheme("ingest_token", ingest);
    spec
}

/// The router over `app` and its OpenAPI paths.
pub fn router(app: Arc<App>) -> (Router, utoipa::openapi::OpenApi) {
    let (router, spec) = OpenApiRouter::new()
        .routes(routes!(post_events))
        .routes(routes!(crate::slack::actions))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .split_for_parts();
    (router.with_state(app), spec)
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "ok")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: whether the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200), (status = 503)))]
async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.backend.ready().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        ApiError::Unavailable("the database does not answer".into()).into_response()
    }
}

/// Prometheus metrics; with `DD0C_METRICS_TOKEN` set, only for `Authorization: Bearer <it>`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain"), (status = 401)), security((), ("metrics_token" = [])))]
async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &app.metrics_token {
        // Compared as digests, so the time taken says nothing about the token's characters.
        let given = bearer(&headers).unwrap_or_default();
        if token_sha256(given) != token_sha256(expected) {
            return ApiError::Unauthorized("/metrics needs its bearer token".into())
                .into_response();
        }
    }
    let mut depths = Vec::new();
    for (name, queue) in [
        ("ingest", &app.backend.ingest_queue),
        ("score", &app.backend.score_queue),
    ] {
        if let Ok(d) = queue.depth().await {
            depths.push((name.to_owned(), d.visible, d.in_flight, d.dead));
        }
    }
    let mut text = app.metrics.render(&depths);
    text.push_str(&notification_gauges(&app.backend, app.metrics_tenant_labels).await);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Panic mode and open breakers, read at scrape time from the shared flags (what every replica
/// sees): per tenant and channel when `per_tenant`, else how many tenants are in each state.
/// Unreadable flags are left out, not guessed.
async fn notification_gauges(backend: &Backend, per_tenant: bool) -> String {
    use std::fmt::Write;
    let Ok(tenants) = backend.stores.tenants.tenants().await else {
        return String::new();
    };
    let now = chrono::Utc::now();
    let channels = [dd0c_notify::Channel::Slack, dd0c_notify::Channel::Email];
    let mut panicking = Vec::new();
    let mut open: Vec<(&str, &str, bool)> = Vec::new();
    for tenant in &tenants {
        if let Ok(on) = backend.flags.panic_mode(&tenant.name).await {
            panicking.push((tenant.name.as_str(), on));
        }
        for channel in channels {
            if let Ok(state) = backend
                .flags
                .breaker(&channel.breaker_key(&tenant.name))
                .await
            {
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

async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, ApiError> {
    let raw = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::TooLarge(format!("the body exceeds {limit} bytes"))
        } else {
            // The server's body timeout, or the client went away mid-body.
            ApiError::Timeout("the body did not arrive in time".into())
        }
    })?;
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
    {
        None => Ok(raw.to_vec()),
        Some(e) if e == "identity" => Ok(raw.to_vec()),
        Some(e) if e == "gzip" => {
            // Bound the inflated size too: a small gzip bomb must not exhaust memory.
            let mut inflated = Vec::new();
            let read = flate2::read::MultiGzDecoder::new(&raw[..])
                .take(limit as u64 * 10 + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "Content-Encoding is gzip but the body is not: {e}"
                    ))
                })?;
            if read > limit * 10 {
                return Err(ApiError::TooLarge(format!(
                    "the body inflates beyond {} bytes",
                    limit * 10
                )));
            }
            Ok(inflated)
        }
        Some(other) => Err(ApiError::UnsupportedMedia(format!(
            "Content-Encoding {other:?} is not supported (use gzip or none)"
        ))),
    }
}

/// CloudTrail in any shape (plain or gzip), authenticated by an account's ingest token. Records
/// are priced here, on arrival: only cost events are queued (for the score function), so the
/// reads and free changes that make up most of CloudTrail never reach the database, and a
/// record the normalizer refuses is refused to the pusher, naming the field.
#[utoipa::path(post, path = "/v1/events", tag = "ingest", request_body(content = Object, description = "CloudTrail: S3 log file, EventBridge envelope, SQS/SNS message, record, array or NDJSON"), responses((status = 202, description = "{accepted, priced, duplicates, skipped, rejected, rejections}", body = Object), (status = 400), (status = 401), (status = 403), (status = 413)), security(("ingest_token" = [])))]
async fn post_events(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let token = bearer(&headers).ok_or_else(|| {
        ApiError::Unauthorized("an ingest token is required: Authorization: Bearer <token>".into())
    })?;
    let grant = app
        .backend
        .stores
        .tokens
        .grant(&token_sha256(token))
        .await
        .map_err(|e| ApiError::port("checking an ingest token", e))?
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked ingest token".into()))?;
    let bytes = read_body(body, &headers, app.max_body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the body is empty".into()));
    }

    let mut pushed = Pushed::default();
    for admitted in app
        .normalizers
        .normalize_account(
            &grant.tenant,
            &grant.account_id,
            bytes,
            "body",
            MAX_RECORDS_PER_PUSH,
        )
        .await
        .map_err(|e| ApiError::port("pricing pushed records", e))?
    {
        pushed.admit(admitted);
    }
    if pushed.over_limit > 0 {
        return Err(ApiError::TooLarge(format!(
            "the body holds {} records, more than the {MAX_RECORDS_PER_PUSH} one push may; \
             nothing was queued: push them in smaller parts",
            MAX_RECORDS_PER_PUSH + pushed.over_limit
        )));
    }
    if let Some(e) = pushed.encode_error {
        return Err(ApiError::BadRequest(format!(
            "a record could not be queued: {e}"
        )));
    }
    app.metrics.count(
        Counter::Rejected,
        "other_account",
        pushed.other_account as u64,
    );
    app.metrics.count(
        Counter::Rejected,
        "invalid",
        (pushed.rejected - pushed.other_account) as u64,
    );
    if pushed.accepted + pushed.other_account == 0 {
        let first = pushed
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| "no record found".into());
        return Err(ApiError::BadRequest(format!(
            "no valid CloudTrail record in the body; {first}"
        )));
    }
    if pushed.accepted == 0 {
        return Err(ApiError::Forbidden(format!(
            "none of the {} records belongs to account {}, the only one this token admits",
            pushed.other_account, grant.account_id
        )));
    }
    let outcomes = app
        .backend
        .score_queue
        .send_batch(pushed.messages)
        .await
        .map_err(|e| ApiError::port("queueing cost events", e))?;
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == SendOutcome::Duplicate)
        .count();
    let tenant_label = if app.metrics_tenant_labels {
        grant.tenant.as_str()
    } else {
        "all"
    };
    app.metrics
        .count(Counter::Accepted, tenant_label, pushed.accepted as u64);
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: pushed.accepted,
            priced: outcomes.len() - duplicates,
            duplicates,
            skipped: pushed.skipped,
            rejected: pushed.rejected,
            rejections: pushed.reasons,
        }),
    ))
}

/// What a push's records became, record by record.
#[derive(Default)]
struct Pushed {
    /// Valid records of the token's account.
    accepted: usize,
    /// Accepted records that create nothing billable.
    skipped: usize,
    /// Records refused, of another account or invalid.
    rejected: usize,
    /// Of `rejected`, those valid but of another account.
    other_account: usize,
    /// Records past the most one push may hold.
    over_limit: usize,
    reasons: Vec<String>,
    /// Score-queue messages of the accepted records' cost events.
    messages: Vec<OutgoingMessage>,
    encode_error: Option<String>,
}

impl Pushed {
    /// Counts one record of the body; a record the normalizer refuses is refused to the
    /// pusher, naming the field.
    fn admit(&mut self, admitted: Admitted) {
        match admitted {
            Admitted::OtherAccount { index, account_id } => {
                self.other_account += 1;
                self.refuse(format!(
                    "record {index}: recipientAccountId {account_id} is not this token's account"
                ));
            }
            Admitted::OverLimit { .. } => self.over_limit += 1,
            Admitted::Item(Item::Cost(events)) => {
                self.accepted += 1;
                for event in &events {
                    match score_message(event) {
                        Ok(message) => self.messages.push(message),
                        Err(e) => self.encode_error = Some(e.to_string()),
                    }
                }
            }
            Admitted::Item(Item::Skipped(_)) => {
                self.accepted += 1;
                self.skipped += 1;
            }
            Admitted::Item(Item::Rejected(r)) => self.refuse(format!(
                "record {}: field {}: {}",
                r.index, r.field, r.reason
            )),
        }
    }

    fn refuse(&mut self, reason: String) {
        self.rejected += 1;
        if self.reasons.len() < REASONS_SHOWN {
            self.reasons.push(reason);
        }
    }
}
