//! `POST /v1/events`: CloudTrail pushed by a customer's shipper, admitted by an account's ingest
//! token, priced on arrival, its cost events queued for scoring.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use dd0c_ingest::admit::Admitter;
use dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH;
use dd0c_ingest::inflate::{InflateError, InflateLimit};
use dd0c_ports::auth::token_sha256;
use serde::Serialize;

use crate::metrics::Counter;
use crate::{bearer, Api, ApiError, Problem};

/// Largest `POST /v1/events` body by default, in bytes.
pub const DEFAULT_MAX_BODY: usize = 5 << 20;

/// What push ingestion needs; an API without it answers `POST /v1/events` with 404 (in the
/// cloud, CloudTrail arrives through EventBridge instead).
#[allow(missing_debug_implementations)]
pub struct Edge {
    /// Prices pushed records on arrival, so only their cost events reach the database (each
    /// tenant's normalizer, shared with the ingest function, remembers facts across records),
    /// and archives the raw records where an archive is configured.
    pub admitter: Arc<Admitter>,
    /// Largest accepted request body, compressed or not (bytes).
    pub max_body: usize,
}

/// The answer to an accepted push.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Records admitted: valid CloudTrail of the token's account, normalized on arrival.
    pub accepted: usize,
    /// Priced cost events (resources created, started or resized) the accepted records
    /// became, queued for scoring.
    pub priced: usize,
    /// Stops and ends of resources the accepted records became, queued to be followed.
    pub ends: usize,
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

/// The body, inflated when its `Content-Encoding` says gzip (within `inflate`); gzip found in
/// it after that is the document's own and is inflated, within the same bound, as it is priced.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    inflate: InflateLimit,
) -> Result<Vec<u8>, ApiError> {
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
        Some(e) if e == "gzip" => inflate.gunzip(&raw).map_err(|e| match e {
            InflateError::TooLarge { .. } => {
                ApiError::TooLarge(format!("the body is refused: {e}; nothing was queued"))
            }
            InflateError::Corrupt(e) => {
                ApiError::BadRequest(format!("Content-Encoding is gzip but the body is not: {e}"))
            }
        }),
        Some(other) => Err(ApiError::UnsupportedMedia(format!(
            "Content-Encoding {other:?} is not supported (use gzip or none)"
        ))),
    }
}

/// CloudTrail in any shape (plain or gzip), authenticated by an account's ingest token. Records
/// are priced here, on arrival: only cost events are queued (for the score function), so the
/// reads and free changes that make up most of CloudTrail never reach the database, and a
/// record the normalizer refuses is refused to the pusher, naming the field.
#[utoipa::path(post, path = "/v1/events", tag = "ingest",
    request_body(description = "CloudTrail in any shape: an S3 log file, an EventBridge envelope, an SQS or SNS message, a record, an array or NDJSON; gzip with Content-Encoding: gzip",
        content((serde_json::Value = "application/json"), (String = "application/x-ndjson"))),
    responses((status = 202, description = "What became of the records", body = Accepted),
        (status = 400, description = "No valid CloudTrail record, or the body is empty or not gzip as it says", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No, an unknown or a revoked ingest token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "None of the records is the token's account's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Push ingestion is not served here", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body did not arrive in time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body, inflated or not, or its record count is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A Content-Encoding other than gzip", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The records are over the tenant's intake rate (`DD0C_TENANT_EVENTS_PER_SECOND`); nothing was queued", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before sending them again"))),
        (status = 503, description = "A backend is unavailable; try again shortly", body = Problem, content_type = "application/problem+json")),
    security(("ingest_token" = [])))]
pub(crate) async fn post_events(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let edge = api.edge.as_ref().ok_or_else(|| {
        ApiError::NotFound(
            "push ingestion is not served here: CloudTrail arrives through EventBridge".into(),
        )
    })?;
    let token = bearer(&headers).ok_or_else(|| {
        ApiError::Unauthorized("an ingest token is required: Authorization: Bearer <token>".into())
    })?;
    let grant = api
        .stores
        .tokens
        .grant(&token_sha256(token))
        .await
        .map_err(|e| ApiError::port("checking an ingest token", e))?
        .ok_or_else(|| ApiError::Unauthorized("unknown or revoked ingest token".into()))?;
    let inflate = edge.admitter.normalizers.inflate_limit();
    let bytes = read_body(body, &headers, edge.max_body, inflate).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the body is empty".into()));
    }

    let mut pushed = edge
        .admitter
        .price(
            &grant.tenant,
            &grant.account_id,
            bytes,
            "body",
            MAX_RECORDS_PER_PUSH,
        )
        .await
        .map_err(|e| ApiError::port("pricing pushed records", e))?;
    if let Some(refused) = &pushed.refused {
        return Err(ApiError::TooLarge(format!(
            "the body is refused: {refused}; nothing was queued"
        )));
    }
    if pushed.over_limit > 0 {
        return Err(ApiError::TooLarge(format!(
            "the body holds {} records, more than the {MAX_RECORDS_PER_PUSH} one push may; \
             nothing was queued: push them in smaller parts",
            MAX_RECORDS_PER_PUSH + pushed.over_limit
        )));
    }
    if let Some(e) = &pushed.encode_error {
        return Err(ApiError::BadRequest(format!(
            "a record could not be queued: {e}"
        )));
    }
    api.operations.metrics.count(
        Counter::Rejected,
        "other_account",
        pushed.other_account as u64,
    );
    api.operations.metrics.count(
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
    if let Some(over) = edge
        .admitter
        .draw_live(&pushed)
        .await
        .map_err(|e| ApiError::port("drawing on the tenant's intake rate", e))?
    {
        api.operations
            .metrics
            .count(Counter::Rejected, "rate_limited", pushed.accepted as u64);
        return Err(ApiError::TooManyRequests(
            format!("tenant {}: {over}", grant.tenant),
            over.retry_after_secs(),
        ));
    }
    let queued = edge
        .admitter
        .queue(&mut pushed, chrono::Utc::now())
        .await
        .map_err(|e| ApiError::port("queueing cost events", e))?;
    let tenant_label = if api.operations.tenant_labels {
        grant.tenant.as_str()
    } else {
        "all"
    };
    api.operations
        .metrics
        .count(Counter::Accepted, tenant_label, pushed.accepted as u64);
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            accepted: pushed.accepted,
            priced: queued.priced,
            ends: queued.ends,
            duplicates: queued.duplicates,
            skipped: pushed.skipped,
            rejected: pushed.rejected,
            rejections: pushed.reasons,
        }),
    ))
}
