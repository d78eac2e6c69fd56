//! Every way a request fails, mapped to its status and a problem-details body (RFC 9457) in one
//! place. Details are written for the caller; internals (SQL, stack, secrets) never appear.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dd0c_ports::{FieldError, PortError};
use dd0c_score::ScoreError;

/// A failed request; `Display` is the detail the caller reads.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: valid credentials, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing of the caller's tenant under this name.
    #[error("{0}")]
    NotFound(String),
    /// 409: it exists already.
    #[error("{0}")]
    Conflict(String),
    /// 408: the request did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 400: the request is malformed; the detail names where.
    #[error("{0}")]
    BadRequest(String),
    /// 400: a value refused; the problem's `field` names where, for a form to show it there.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    /// 422: each value well formed, together inconsistent (a rule naming a channel the
    /// settings do not set up); the problem's `field` names where.
    #[error("{0}")]
    Unprocessable(FieldError),
    /// 415.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// 429: too many failed sign-ins, or records over the tenant's intake rate; retry after the
    /// given seconds.
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// 503: a backend does not answer.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The answer to a port call (`context`, for the log) that failed: what the caller can act
    /// on in the port's words (not found, conflict, invalid); a backend failure as a plain 503,
    /// its details (SQL, the database's own text) only in the log.
    pub fn port(context: &str, error: PortError) -> ApiError {
        match error {
            PortError::NotFound(what) => ApiError::NotFound(what),
            PortError::Conflict(what) => ApiError::Conflict(what),
            PortError::Invalid(what) => ApiError::BadRequest(what),
            PortError::Unauthorized(_) => ApiError::Unauthorized("invalid or expired token".into()),
            other => {
                tracing::warn!(error = %other, context, "backend failure behind an API request");
                ApiError::Unavailable("a backend is unavailable; try again shortly".into())
            }
        }
    }
}

impl From<dd0c_actions::ActionError> for ApiError {
    /// What a caller reads of a refused step: the rules' and the cloud's words; a port's
    /// failure as [`ApiError::port`] maps it.
    fn from(error: dd0c_actions::ActionError) -> Self {
        use dd0c_actions::ActionError;
        let text = error.to_string();
        match error {
            ActionError::Forbidden(_) => ApiError::Forbidden(text),
            ActionError::NotFound(_) => ApiError::NotFound(text),
            ActionError::Invalid(_) => ApiError::BadRequest(text),
            ActionError::Off
            | ActionError::NotOffered(_)
            | ActionError::Refused { .. }
            | ActionError::Moved { .. } => ApiError::Conflict(text),
            ActionError::Port { what, source } => ApiError::port(what, source),
        }
    }
}

impl From<ScoreError> for ApiError {
    /// A feedback or scoring call that failed: a store's failure as [`ApiError::port`] maps it;
    /// contention (other scorers kept winning) as a plain 503.
    fn from(error: ScoreError) -> Self {
        match error {
            ScoreError::Store(port) => ApiError::port("applying feedback", port),
            contended @ ScoreError::Contended(_) => {
                tracing::warn!(error = %contended, "feedback lost the baseline race");
                ApiError::Unavailable("the anomaly's baseline is busy; try again shortly".into())
            }
        }
    }
}

impl From<PortError> for ApiError {
    fn from(error: PortError) -> Self {
        ApiError::port("an API request", error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let mut field = None;
        let (status, title, detail) = match self {
            ApiError::Unauthorized(d) => (StatusCode::UNAUTHORIZED, "Unauthorized", d),
            ApiError::Forbidden(d) => (StatusCode::FORBIDDEN, "Forbidden", d),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "Not found", d),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "Conflict", d),
            ApiError::Timeout(d) => (StatusCode::REQUEST_TIMEOUT, "Request timeout", d),
            ApiError::TooLarge(d) => (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large", d),
            ApiError::BadRequest(d) => (StatusCode::BAD_REQUEST, "Bad request", d),
            ApiError::Invalid(e) => {
                let detail = e.to_string();
                field = Some(e.field);
                (StatusCode::BAD_REQUEST, "Bad request", detail)
            }
            ApiError::Unprocessable(e) => {
                let detail = e.to_string();
                field = Some(e.field);
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Unprocessable content",
                    detail,
                )
            }
            ApiError::UnsupportedMedia(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                d,
            ),
            ApiError::TooManyRequests(d, seconds) => {
                retry_after = Some(seconds);
                (StatusCode::TOO_MANY_REQUESTS, "Too many requests", d)
            }
            ApiError::Unavailable(d) => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable", d),
        };
        problem(
            status,
            title,
            Details {
                detail,
                field,
                retry_after,
            },
        )
    }
}

/// The body of every failed request: problem details (RFC 9457), served as
/// `application/problem+json`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's name.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for the caller: which field, which value.
    pub detail: String,
    /// The field of the request body refused (a dotted path, `thresholds.min_samples`), when
    /// one is: where a form shows the detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// What a problem says beyond its status.
struct Details {
    detail: String,
    field: Option<String>,
    retry_after: Option<u64>,
}

/// A problem-details response (RFC 9457).
fn problem(status: StatusCode, title: &str, details: Details) -> Response {
    let Details {
        detail,
        field,
        retry_after,
    } = details;
    let body = Problem {
        kind: "about:blank".into(),
        title: title.into(),
        status: status.as_u16(),
        detail,
        field,
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Longest framework error text kept as a problem's detail.
const MAX_DETAIL: usize = 4096;

/// `response` as problem details if it is an error in another form (axum's extractors answer
/// in plain text); any other response as it is.
pub(crate) async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), MAX_DETAIL).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let detail = if text.is_empty() { title.clone() } else { text };
    let details = Details {
        detail,
        field: None,
        retry_after: None,
    };
    problem(status, &title, details)
}

/// The failures routes share, each a set of documented problem responses (see [`Problem`]);
/// routes list the sets that apply to them beside their own responses.
pub(crate) mod refusals {
    use std::collections::BTreeMap;

    use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, Response, ResponseBuilder};
    use utoipa::IntoResponses;

    /// `(status, description)` pairs as problem-details responses.
    fn problems(statuses: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
        statuses
            .iter()
            .map(|(status, description)| {
                let content = ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                    .build();
                let mut response = ResponseBuilder::new()
                    .description(*description)
                    .content("application/problem+json", content);
                if *status == "429" {
                    let seconds = HeaderBuilder::new()
                        .schema(Some(
                            utoipa::openapi::schema::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::Integer)
                                .build(),
                        ))
                        .description(Some("Seconds to wait"))
                        .build();
                    response = response.header("Retry-After", seconds);
                }
                ((*status).to_owned(), RefOr::T(response.build()))
            })
            .collect()
    }

    macro_rules! refusal {
        ($(#[$doc:meta])* $name:ident: $($status:literal => $description:literal),+) => {
            $(#[$doc])*
            pub(crate) struct $name;
            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    problems(&[$(($status, $description)),+])
                }
            }
        };
    }

    refusal!(
        /// A route behind a dashboard token, on a backend that may be down.
        Signed: "401" => "No, an invalid or an expired token",
                "503" => "A backend is unavailable; try again shortly"
    );
    refusal!(
        /// A route only admins may call.
        AdminOnly: "403" => "The caller is not an admin"
    );
    refusal!(
        /// A route whose query or path names something wrongly.
        Invalid: "400" => "A parameter is malformed; the detail names it"
    );
    refusal!(
        /// A route that reads a JSON body.
        JsonBody: "400" => "The body is not what the route takes; the detail names where",
                  "415" => "The body is not application/json"
    );
    refusal!(
        /// A route whose body's values must also agree with each other or with what is stored.
        Inconsistent: "422" => "The values are well formed but do not agree; the detail names where"
    );
    refusal!(
        /// A route about one thing of the caller's tenant.
        Missing: "404" => "The caller's tenant has no such thing"
    );
}
