//! # dd0c-api
//!
//! Every HTTP route of dd0c/cost: one axum [`Router`] ([`app`]) that the local dispatcher and
//! `lambda-api` both mount as it is. Dashboard routes take a bearer token, and every store call
//! takes the caller's tenant from that token — never from the request — so one tenant cannot
//! name another's data: it gets 404 or an empty list. Push ingestion takes an account's ingest
//! token; Slack actions a Slack signature.
//!
//! Map:
//! - [`router`] — the routes and the OpenAPI document generated from the same handlers;
//!   [`app`] adds `/openapi.json` and the response finishing both runtimes use.
//! - [`accounts`] — onboarding (server-side ExternalId, the IAM policy; the CLI calls the same
//!   [`accounts::onboard`]), ingest tokens, baselines and the cost time series.
//! - [`ingest`] — `POST /v1/events`: pushed CloudTrail priced on arrival.
//! - [`slack`] — `POST /v1/slack/actions`: the alert buttons, signed by Slack.
//! - [`operations`] — `/healthz`, `/readyz`, `/metrics`; [`metrics`] — the counters.
//! - [`passwords`] — argon2id hashing at OWASP's minimum, upgraded on sign-in.
//! - [`throttle`] — failed sign-ins per e-mail and per address.
//! - [`ApiError`] — failures as problem details, mapped in one place.

pub mod accounts;
pub mod client;
pub mod ingest;
pub mod metrics;
pub mod operations;
pub mod passwords;
pub mod slack;
pub mod throttle;

mod error;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use dd0c_ports::auth::{Auth, Principal, Role, TokenIssuer};
use dd0c_ports::domain::{
    Anomaly, AnomalyStatus, Feedback, FeedbackAction, Settings, Severity, SnoozeScope,
};
use dd0c_ports::flags::Flags;
use dd0c_ports::store::{AnomalyFilter, Stores};
use dd0c_score::feedback;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use client::{ClientAddress, TrustedProxies};
pub use error::ApiError;

/// Most anomalies one page returns.
pub const MAX_PAGE: usize = 200;

/// What the routes use.
#[allow(missing_debug_implementations)]
pub struct Api {
    /// Every store.
    pub stores: Stores,
    /// Panic mode.
    pub flags: Arc<dyn Flags>,
    /// Verifies bearer tokens.
    pub auth: Arc<dyn Auth>,
    /// Issues tokens at local sign-in; `None` where an identity provider signs users in.
    pub issuer: Option<Arc<dyn TokenIssuer>>,
    /// Failed sign-ins.
    pub throttle: throttle::Throttle,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Push ingestion (`POST /v1/events`); `None`: 404.
    pub edge: Option<ingest::Edge>,
    /// The Slack app of the alert buttons (`POST /v1/slack/actions`); `None`: 404.
    pub slack: Option<slack::SlackApp>,
    /// Probes and metrics.
    pub operations: operations::Operations,
}

impl Api {
    /// The API over `stores` and `flags`, verifying tokens with `auth`; no local sign-in, push
    /// ingestion or Slack app until set, and operations at their defaults.
    pub fn new(stores: Stores, flags: Arc<dyn Flags>, auth: Arc<dyn Auth>) -> Self {
        Api {
            stores,
            flags,
            auth,
            issuer: None,
            throttle: Default::default(),
            trusted_proxies: Default::default(),
            edge: None,
            slack: None,
            operations: Default::default(),
        }
    }
}

/// The authenticated caller of a route.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, ApiError> {
        let bearer = bearer(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized("an Authorization: Bearer token is required".into())
        })?;
        api.auth
            .verify(bearer)
            .await
            .map(Caller)
            .map_err(|_| ApiError::Unauthorized("invalid or expired token".into()))
    }
}

impl Caller {
    pub(crate) fn admin(&self) -> Result<(), ApiError> {
        match self.0.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::Forbidden("this needs the admin role".into())),
        }
    }
}

/// The routes over `api`, and the OpenAPI document generated from the same handlers: a route
/// cannot be served without being described.
pub fn router(api: Arc<Api>) -> (Router, utoipa::openapi::OpenApi) {
    let (router, spec) = OpenApiRouter::with_openapi(document())
        .routes(routes!(ingest::post_events))
        .routes(routes!(slack::actions))
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::readyz))
        .routes(routes!(operations::metrics))
        .routes(routes!(login))
        .routes(routes!(me))
        .routes(routes!(anomalies))
        .routes(routes!(anomaly))
        .routes(routes!(act))
        .routes(routes!(accounts::list, accounts::add))
        .routes(routes!(accounts::remove))
        .routes(routes!(accounts::add_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(accounts::baselines))
        .routes(routes!(accounts::costs))
        .routes(routes!(settings, put_settings))
        .routes(routes!(panic, put_panic))
        .split_for_parts();
    (router.with_state(api), operations::with_openapi_path(spec))
}

/// What both runtimes serve: every route, the OpenAPI 3.1 document of all of them at
/// `GET /openapi.json`, and every response finished by [`finish_response`].
pub fn app(api: Arc<Api>) -> Router {
    let (router, spec) = router(api);
    let spec = Arc::new(spec);
    router
        .route(
            operations::OPENAPI_PATH,
            axum::routing::get(move || async move { Json(spec.as_ref().clone()) }),
        )
        .layer(axum::middleware::map_response(finish_response))
}

/// The document's header: title, version, the bearer scheme.
fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let mut spec = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("dd0c/cost")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Cost anomalies from CloudTrail, minutes after the API call.",
                ))
                .build(),
        )
        .build();
    let scheme = SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build(),
    );
    spec.components
        .get_or_insert_with(Default::default)
        .add_security_scheme("bearer", scheme);
    spec
}

#[derive(Debug, Deserialize)]
struct Login {
    email: String,
    password: String,
}

#[derive(Debug, Serialize)]
struct Token {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body(content = Object, description = "{\"email\", \"password\"}"), responses((status = 200, description = "A bearer token", body = Object), (status = 401, description = "Wrong e-mail or password"), (status = 429, description = "Too many failed sign-ins")))]
async fn login(
    State(api): State<Arc<Api>>,
    ClientAddress(client): ClientAddress,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let issuer = api.issuer.clone().ok_or_else(|| {
        ApiError::NotFound("sign-in goes through the identity provider here".into())
    })?;
    let Json(login) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"email\", \"password\"}}: {}",
            e.body_text()
        ))
    })?;
    let email = login.email.trim().to_lowercase();
    let keys = [format!("email:{email}"), format!("addr:{client}")];
    if let Some(seconds) = api.throttle.blocked(&keys) {
        return Err(ApiError::TooManyRequests(
            format!("too many failed sign-ins; try again in {seconds} s"),
            seconds,
        ));
    }
    let user = api.stores.users.user(&email).await?;
    let password = login.password;
    let checked = match &user {
        Some(user) => {
            let stored = user.password_hash.clone();
            let password = password.clone();
            blocking(move || passwords::check(&stored, &password)).await?
        }
        None => {
            let password = password.clone();
            blocking(move || {
                passwords::check_nobody(&password);
                passwords::Checked::Wrong
            })
            .await?
        }
    };
    let user = match (user, checked) {
        (Some(user), passwords::Checked::Right | passwords::Checked::RightButWeak) => user,
        _ => {
            api.throttle.failed(&keys);
            return Err(ApiError::Unauthorized("wrong e-mail or password".into()));
        }
    };
    api.throttle.succeeded(&keys[0]);
    if checked == passwords::Checked::RightButWeak {
        let rehashed = blocking(move || passwords::hash(&password)).await?;
        match rehashed {
            Ok(hash) => {
                api.stores
                    .users
                    .set_password_hash(&user.email, &hash)
                    .await?
            }
            Err(e) => tracing::warn!(error = %e, "could not upgrade a password hash"),
        }
    }
    let principal = Principal {
        subject: user.email.clone(),
        email: Some(user.email),
        tenant: user.tenant,
        role: user.role,
    };
    let (access_token, expires_in) = issuer.issue(&principal)?;
    Ok(no_store(Json(Token {
        access_token,
        token_type: "Bearer",
        expires_in,
    })))
}

/// The bearer token of a request (`Authorization: Bearer <token>`), if it has one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A response holding a secret (a token), which no cache may keep.
pub(crate) fn no_store<T: IntoResponse>(body: T) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// How every response leaves, in both runtimes: an error the framework answered itself (a bad
/// path or query, an unreadable body: plain text) as problem details like every other, and no
/// content sniffing (a JSON body is never run as script or styled as HTML).
pub async fn finish_response(response: Response) -> Response {
    let mut response = error::as_problem(response).await;
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

/// Runs argon2 (tens of milliseconds of CPU) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::Unavailable("password check interrupted".into()))
}

#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, description = "The caller", body = Object), (status = 401)), security(("bearer" = [])))]
async fn me(Caller(principal): Caller) -> Json<Principal> {
    Json(principal)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    severity: Option<String>,
    status: Option<String>,
    account: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct AnomalyPage {
    items: Vec<Anomaly>,
    next_cursor: Option<String>,
}

/// A comma-separated query parameter of enum values, spelled as in JSON (`critical,warning`).
fn parse_list<T: serde::de::DeserializeOwned>(
    name: &str,
    text: Option<&str>,
) -> Result<Vec<T>, ApiError> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(serde_json::Value::from(s))
                .map_err(|_| ApiError::BadRequest(format!("{name}: {s:?} is not a known value")))
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/anomalies", tag = "anomalies", params(("severity" = Option<String>, Query, description = "critical,warning,info"), ("status" = Option<String>, Query), ("account" = Option<String>, Query), ("from" = Option<String>, Query, description = "RFC 3339"), ("to" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)), responses((status = 200, description = "{items, next_cursor}", body = Object), (status = 400), (status = 401)), security(("bearer" = [])))]
async fn anomalies(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AnomalyPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = AnomalyFilter {
        severities: parse_list::<Severity>("severity", query.severity.as_deref())?,
        statuses: parse_list::<AnomalyStatus>("status", query.status.as_deref())?,
        account_id: query.account,
        from: query.from,
        to: query.to,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let page = api
        .stores
        .anomalies
        .anomalies(&principal.tenant, &filter, query.cursor.as_deref(), limit)
        .await?;
    Ok(Json(AnomalyPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize)]
struct AnomalyDetail {
    anomaly: Anomaly,
    feedback: Vec<Feedback>,
}

#[utoipa::path(get, path = "/v1/anomalies/{id}", tag = "anomalies", params(("id" = String, Path)), responses((status = 200, description = "{anomaly, feedback}", body = Object), (status = 404)), security(("bearer" = [])))]
async fn anomaly(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<AnomalyDetail>, ApiError> {
    let anomaly = api
        .stores
        .anomalies
        .anomaly(&principal.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no anomaly {id}")))?;
    let feedback = api
        .stores
        .anomalies
        .feedback(&principal.tenant, &id)
        .await?;
    Ok(Json(AnomalyDetail { anomaly, feedback }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    /// Snooze length in hours (default 24).
    hours: Option<u32>,
    /// What a snooze silences: `actor` (default), `resource_kind` or `account`.
    scope: Option<String>,
}

#[utoipa::path(post, path = "/v1/anomalies/{id}/{action}", tag = "anomalies", params(("id" = String, Path), ("action" = String, Path, description = "acknowledge, snooze, expected or resolve")), request_body(content = Option<Object>, description = "snooze: {\"hours\", \"scope\"}"), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
async fn act(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<ActBody>>,
) -> Result<Json<AnomalyDetail>, ApiError> {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let tenant = &principal.tenant;
    let stores = &api.stores;
    let found = stores
        .anomalies
        .anomaly(tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no anomaly {id}")))?;
    let now = Utc::now();
    let action = match action.as_str() {
        "acknowledge" => FeedbackAction::Acknowledge,
        "expected" => FeedbackAction::MarkExpected,
        "resolve" => FeedbackAction::Resolve,
        "snooze" => {
            let hours = body.hours.unwrap_or(24).clamp(1, 24 * 90);
            let scope = match body.scope.as_deref().unwrap_or("actor") {
                "actor" => SnoozeScope::Actor(found.actor_arn.clone()),
                "resource_kind" => SnoozeScope::ResourceKind(found.resource_kind.clone()),
                "account" => SnoozeScope::Account(found.account_id.clone()),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "scope {other:?}: one of actor, resource_kind, account"
                    )))
                }
            };
            FeedbackAction::Snooze {
                scope,
                until: now + TimeDelta::hours(i64::from(hours)),
            }
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "no action {other:?} (acknowledge, snooze, expected, resolve)"
            )))
        }
    };
    feedback::apply(
        stores.score.as_ref(),
        stores.anomalies.as_ref(),
        tenant,
        &id,
        action,
        &principal.subject,
        now,
    )
    .await?;
    anomaly(State(api.clone()), Caller(principal.clone()), Path(id)).await
}

#[utoipa::path(get, path = "/v1/settings", tag = "settings", responses((status = 200, body = Object)), security(("bearer" = [])))]
async fn settings(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(api.stores.settings.settings(&principal.tenant).await?))
}

#[utoipa::path(put, path = "/v1/settings", tag = "settings", request_body = Object, responses((status = 200, body = Object), (status = 400), (status = 403)), security(("bearer" = [])))]
async fn put_settings(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<Settings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Settings>, ApiError> {
    caller.admin()?;
    let Json(settings) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    settings.validate().map_err(ApiError::BadRequest)?;
    dd0c_notify::digest::time_zone(&settings.digest_time_zone)
        .map_err(|e| ApiError::BadRequest(format!("digest_time_zone: {e}")))?;
    api.stores
        .settings
        .put_settings(&caller.0.tenant, &settings)
        .await?;
    Ok(Json(settings))
}

#[derive(Debug, Serialize, Deserialize)]
struct Panic {
    on: bool,
}

/// Panic mode and the circuit breakers of the tenant's notification channels.
#[derive(Debug, Serialize)]
struct PanicState {
    on: bool,
    breakers: Vec<ChannelBreaker>,
}

#[derive(Debug, Serialize)]
struct ChannelBreaker {
    channel: &'static str,
    /// Skipped until `open_until` (then one trial goes through).
    open: bool,
    consecutive_failures: u32,
    open_until: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/v1/panic", tag = "settings", responses((status = 200, description = "{on, breakers: [{channel, open, consecutive_failures, open_until}]}", body = Object)), security(("bearer" = [])))]
async fn panic(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<PanicState>, ApiError> {
    let now = Utc::now();
    let mut breakers = Vec::new();
    for channel in [dd0c_notify::Channel::Slack, dd0c_notify::Channel::Email] {
        let state = api
            .flags
            .breaker(&channel.breaker_key(&principal.tenant))
            .await?;
        breakers.push(ChannelBreaker {
            channel: channel.as_str(),
            open: !dd0c_notify::breaker::allows(state.as_ref(), now),
            consecutive_failures: state.map_or(0, |s| s.consecutive_failures),
            open_until: state.and_then(|s| s.open_until),
        });
    }
    Ok(Json(PanicState {
        on: api.flags.panic_mode(&principal.tenant).await?,
        breakers,
    }))
}

#[utoipa::path(put, path = "/v1/panic", tag = "settings", request_body = Object, responses((status = 200, body = Object), (status = 403)), security(("bearer" = [])))]
async fn put_panic(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<Panic>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Panic>, ApiError> {
    caller.admin()?;
    let Json(wanted) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    api.flags
        .set_panic_mode(&caller.0.tenant, wanted.on)
        .await?;
    tracing::info!(tenant = %caller.0.tenant, on = wanted.on, by = %caller.0.subject, "panic mode set");
    Ok(Json(wanted))
}
