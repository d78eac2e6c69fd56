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
//! - [`actions`] — remediation: request, approve, reject and list actions, their decision log,
//!   the tenant's remediation settings.
//! - [`accounts`] — onboarding (server-side ExternalId, the IAM policy; the CLI calls the same
//!   [`accounts::onboard`]), ingest tokens, baselines and the cost time series.
//! - [`resources`] — the resources followed to their end, with their cost and burn now.
//! - [`catalog`] — the price catalog in use: its source and age.
//! - [`zombies`] — the zombie hunter's findings: listed by waste, summed up, ignored.
//! - [`export`] — anomalies and findings as CSV (`Accept: text/csv`, `format=csv`), formulas
//!   neutralised.
//! - [`sources`] — trail buckets and agents (self-hosted): `/v1/ingest`, `/v1/agents`, lag.
//! - [`ingest`] — `POST /v1/events`: pushed CloudTrail priced on arrival.
//! - [`slack`] — `POST /v1/slack/actions`: the alert buttons, signed by Slack.
//! - [`dashboard`] — the built web app at `/` with its `config.json` and security headers.
//! - [`operations`] — `/healthz`, `/readyz`, `/metrics`; [`metrics`] — the counters.
//! - [`passwords`] — argon2id hashing at OWASP's minimum, upgraded on sign-in.
//! - [`throttle`] — failed sign-ins per address and account, per address, and per account.
//! - [`ApiError`] — failures as problem details, mapped in one place.

pub mod accounts;
pub mod actions;
pub mod anomalies;
pub mod auth;
pub mod catalog;
pub mod client;
pub mod dashboard;
pub mod export;
pub mod ingest;
pub mod metrics;
pub mod operations;
pub mod passwords;
pub mod quick_create;
pub mod resources;
pub mod settings;
pub mod slack;
pub mod sources;
pub mod throttle;
pub mod zombies;

mod error;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use dd0c_ports::auth::{Auth, Principal, Role, TokenIssuer};
use dd0c_ports::flags::Flags;
use dd0c_ports::store::Stores;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use client::{ClientAddress, TrustedProxies};
pub use error::{ApiError, Problem};

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
    /// Counts failed sign-ins; local sign-in is served only with it.
    pub throttle: Option<throttle::Throttle>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Push ingestion (`POST /v1/events`); `None`: 404.
    pub edge: Option<ingest::Edge>,
    /// The Slack app of the alert buttons (`POST /v1/slack/actions`); `None`: 404.
    pub slack: Option<slack::SlackApp>,
    /// Probes and metrics.
    pub operations: operations::Operations,
    /// Seals the secret of an account's access key; `None`: access keys are refused.
    pub secrets: Option<dd0c_ports::secrets::SecretsKey>,
    /// Trail buckets polled and agents (self-hosted); `None`: `/v1/ingest` and `/v1/agents`
    /// answer 404 and an account's `cloudtrail_s3` is refused.
    pub sources: Option<Arc<dyn dd0c_ports::sources::SourceStore>>,
    /// The cloud's customer template: a new account's answer carries its quick-create link,
    /// and the role the template creates is the one assumed when none is named.
    pub quick_create: Option<quick_create::QuickCreate>,
    /// The web app served at `/`; `None`: `/` says how to build it (the cloud serves it from
    /// CloudFront).
    pub dashboard: Option<dashboard::Dashboard>,
    /// Where URLs that tenants set may lead: checked, and their hosts resolved, when saved.
    pub outbound: dd0c_ports::webhook::Outbound,
    /// The notification channels, for test alerts; those missing answer that this deployment
    /// does not send on them.
    pub channels: Vec<Arc<dyn dd0c_notify::channels::Deliver>>,
    /// Actions on customer accounts; `None`: requests and approvals are refused (409).
    pub remediation: Option<dd0c_actions::Remediation>,
    /// The price catalog in use (the bundled one unless set), for its age and source.
    pub catalog: dd0c_ingest::Current,
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
            throttle: None,
            trusted_proxies: Default::default(),
            edge: None,
            slack: None,
            operations: Default::default(),
            secrets: None,
            sources: None,
            quick_create: None,
            dashboard: None,
            outbound: Default::default(),
            channels: Vec::new(),
            remediation: None,
            catalog: dd0c_ingest::PriceCatalog::bundled().into(),
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
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
        .routes(routes!(anomalies::list))
        .routes(routes!(anomalies::detail))
        .routes(routes!(anomalies::act))
        .routes(routes!(accounts::list, accounts::add))
        .routes(routes!(accounts::remove))
        .routes(routes!(accounts::add_token))
        .routes(routes!(accounts::revoke_token))
        .routes(routes!(accounts::baselines))
        .routes(routes!(accounts::costs))
        .routes(routes!(settings::settings, settings::put_settings))
        .routes(routes!(settings::new_webhook_secret))
        .routes(routes!(settings::test_alert))
        .routes(routes!(resources::list))
        .routes(routes!(resources::running))
        .routes(routes!(catalog::info))
        .routes(routes!(zombies::list))
        .routes(routes!(zombies::summary))
        .routes(routes!(zombies::ignore))
        .routes(routes!(sources::ingest))
        .routes(routes!(sources::agents))
        .routes(routes!(settings::panic, settings::put_panic))
        .routes(routes!(actions::request, actions::list))
        .routes(routes!(actions::detail))
        .routes(routes!(actions::approve))
        .routes(routes!(actions::reject))
        .routes(routes!(actions::settings, actions::put_settings))
        .split_for_parts();
    (router.with_state(api), operations::with_openapi_path(spec))
}

/// What both runtimes serve: every route, the OpenAPI 3.1 document of all of them at
/// `GET /openapi.json`, the dashboard where one is set, and every response finished by
/// [`finish_response`].
pub fn app(api: Arc<Api>) -> Router {
    let dashboard = Arc::new(api.dashboard.clone());
    let (router, spec) = router(api);
    let spec = Arc::new(spec);
    router
        .route(
            operations::OPENAPI_PATH,
            axum::routing::get(move || async move { Json(spec.as_ref().clone()) }),
        )
        .fallback(move |request: axum::extract::Request| async move {
            dashboard::fallback(dashboard.as_ref().as_ref(), request).await
        })
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
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", scheme);
    components.schemas.insert(
        "Problem".into(),
        <Problem as utoipa::PartialSchema>::schema(),
    );
    spec
}

/// A query parameter's value unless it is absent or empty: for the parameters whose document
/// allows an empty value and says it is the same as none.
pub(crate) fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|t| !t.is_empty())
}

/// The `limit` query parameter: `default` when absent, else 1 to `most`.
pub(crate) fn page_limit(asked: Option<u32>, default: u32, most: u32) -> Result<usize, ApiError> {
    match asked.unwrap_or(default) {
        limit if (1..=most).contains(&limit) => Ok(limit as usize),
        other => Err(ApiError::BadRequest(format!("limit {other}: 1 to {most}"))),
    }
}

/// An RFC 3339 time query parameter named `name`.
pub(crate) fn time_param(
    name: &str,
    text: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    text.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| {
                ApiError::BadRequest(format!("{name}: {t:?} is not an RFC 3339 time: {e}"))
            })
    })
    .transpose()
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
