//! The tenant's settings (`/v1/settings`) and panic mode with the channels' circuit breakers
//! (`/v1/panic`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use dd0c_ports::domain::{Channel, Settings};
use dd0c_ports::webhook::{Outbound, SigningSecret};
use dd0c_ports::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::refusals::{AdminOnly, Inconsistent, JsonBody, Signed};
use crate::{Api, ApiError, Caller};

/// The tenant's settings; a member sees the Slack, Teams and webhook URLs only to their hosts
/// (the rest of such a URL is a credential: whoever holds it can post to the channel) and no
/// PagerDuty key.
#[utoipa::path(get, path = "/v1/settings", tag = "settings", responses((status = 200, description = "The settings", body = Settings), Signed), security(("bearer" = [])))]
pub(crate) async fn settings(
    State(api): State<Arc<Api>>,
    caller: Caller,
) -> Result<Json<Settings>, ApiError> {
    let mut settings = api.stores.settings.settings(&caller.0.tenant).await?;
    if caller.admin().is_err() {
        for url in [
            &mut settings.slack_webhook_url,
            &mut settings.teams_webhook_url,
            &mut settings.webhook_url,
        ] {
            *url = url.as_deref().map(redacted);
        }
        settings.pagerduty_routing_key = None;
    }
    Ok(Json(settings))
}

/// `url` to its origin: `https://hooks.slack.com/(hidden)`.
fn redacted(url: &str) -> String {
    let origin = url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "https://(hidden)".to_owned());
    format!("{origin}/(hidden)")
}

/// Replaces the tenant's settings (admins); absent fields take their defaults. A routing rule
/// may name only channels these settings set up, and a webhook URL needs the signing secret
/// made first (422 otherwise).
#[utoipa::path(put, path = "/v1/settings", tag = "settings", request_body = Settings, responses((status = 200, description = "The settings stored", body = Settings), JsonBody, Inconsistent, AdminOnly, Signed), security(("bearer" = [])))]
pub(crate) async fn put_settings(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<Settings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Settings>, ApiError> {
    caller.admin()?;
    let Json(settings) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    settings.validate_fields()?;
    settings
        .validate_channels()
        .map_err(ApiError::Unprocessable)?;
    for (field, url) in settings.outbound_urls() {
        reachable(&api.outbound, url)
            .await
            .map_err(|why| FieldError::new(field, why))?;
    }
    let tenant = &caller.0.tenant;
    if settings.webhook_url.is_some() && api.stores.settings.webhook_secret(tenant).await?.is_none()
    {
        return Err(ApiError::Unprocessable(FieldError::new(
            "webhook_url",
            "make the webhook's signing secret first (POST /v1/settings/webhook-secret): \
             every event is signed with it",
        )));
    }
    api.stores
        .settings
        .put_settings(&caller.0.tenant, &settings)
        .await?;
    Ok(Json(settings))
}

/// A new webhook signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewWebhookSecret {
    /// `whsec_` and the key in base64, as the Standard Webhooks libraries take it: verify each
    /// event's `webhook-signature` with it. It is not shown again; a new one replaces it.
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+={0,2}$")]
    secret: String,
}

/// Makes the tenant's webhook signing secret, replacing any before it (admins): events are
/// signed with the new one from now on. The secret is in this answer only.
#[utoipa::path(post, path = "/v1/settings/webhook-secret", tag = "settings", responses((status = 201, description = "The new secret", body = NewWebhookSecret), AdminOnly, Signed), security(("bearer" = [])))]
pub(crate) async fn new_webhook_secret(
    State(api): State<Arc<Api>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let secret = SigningSecret::generate();
    api.stores
        .settings
        .put_webhook_secret(&caller.0.tenant, &secret)
        .await?;
    tracing::info!(tenant = %caller.0.tenant, by = %caller.0.subject, "webhook signing secret made");
    Ok(crate::no_store((
        StatusCode::CREATED,
        Json(NewWebhookSecret {
            secret: secret.to_string(),
        }),
    )))
}

/// The channel to try.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestAlert {
    /// A channel the settings set up.
    channel: Channel,
}

/// How a test alert went.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestAlertSent {
    /// The channel tried.
    channel: Channel,
    /// Whether the channel took it.
    delivered: bool,
    /// Why not, in the channel's words, when it did not.
    error: Option<String>,
}

/// Sends a sample critical alert on one channel as the settings stored set it up, whatever the
/// routing rules say (admins): whether it arrived, or why not. Refused (409) in panic mode,
/// when nothing goes out, and for a channel not set up. PagerDuty opens a real incident, to
/// resolve there.
#[utoipa::path(post, path = "/v1/settings/test-alert", tag = "settings", request_body = TestAlert, responses((status = 200, description = "Tried: whether the channel took it", body = TestAlertSent), (status = 409, description = "Panic mode is on, or the settings do not set the channel up, or this deployment does not send on it", body = crate::error::Problem, content_type = "application/problem+json"), JsonBody, AdminOnly, Signed), security(("bearer" = [])))]
pub(crate) async fn test_alert(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<TestAlert>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TestAlertSent>, ApiError> {
    caller.admin()?;
    let Json(TestAlert { channel }) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let tenant = &caller.0.tenant;
    if api.flags.panic_mode(tenant).await? {
        return Err(ApiError::Conflict(
            "panic mode is on: nothing is sent until it is lifted".into(),
        ));
    }
    let settings = api.stores.settings.settings(tenant).await?;
    let tried = dd0c_notify::channels::send_test_alert(
        &api.channels,
        tenant,
        &settings,
        channel,
        Utc::now(),
    )
    .await
    .map_err(|e| ApiError::Conflict(e.to_string()))?;
    tracing::info!(%tenant, %channel, delivered = tried.is_ok(), by = %caller.0.subject, "test alert");
    Ok(Json(TestAlertSent {
        channel,
        delivered: tried.is_ok(),
        error: tried.err().map(|e| e.to_string()),
    }))
}

/// Whether `url`, a URL a tenant sets, may be requested: its shape, and the addresses its host
/// resolves to now. A host that does not resolve is let through (it may later); the webhook
/// client checks the addresses again whenever it connects.
async fn reachable(outbound: &Outbound, url: &str) -> Result<(), String> {
    let host = outbound.check_url(url)?;
    if let Ok(addresses) = tokio::net::lookup_host((host.as_str(), 443)).await {
        let ips: Vec<_> = addresses.map(|a| a.ip()).collect();
        outbound.check_addresses(&host, &ips)?;
    }
    Ok(())
}

/// Panic mode on or off.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Panic {
    /// On: every notification of the tenant is held; off: held ones go out.
    on: bool,
}

/// Panic mode and the circuit breakers of the tenant's notification channels.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PanicState {
    /// Whether notifications are held.
    on: bool,
    /// Each channel's breaker.
    breakers: Vec<ChannelBreaker>,
}

/// One channel's circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelBreaker {
    /// The channel.
    channel: Channel,
    /// Skipped until `open_until` (then one trial goes through).
    open: bool,
    /// Failures in a row.
    consecutive_failures: u32,
    /// When the next trial may go.
    open_until: Option<DateTime<Utc>>,
}

/// Panic mode and the channels' circuit breakers.
#[utoipa::path(get, path = "/v1/panic", tag = "settings", responses((status = 200, description = "Panic mode and breakers", body = PanicState), Signed), security(("bearer" = [])))]
pub(crate) async fn panic(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<PanicState>, ApiError> {
    let now = Utc::now();
    let mut breakers = Vec::new();
    for channel in Channel::ALL {
        let state = api
            .flags
            .breaker(&channel.breaker_key(&principal.tenant))
            .await?;
        breakers.push(ChannelBreaker {
            channel,
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

/// Turns panic mode on or off (admins).
#[utoipa::path(put, path = "/v1/panic", tag = "settings", request_body = Panic, responses((status = 200, description = "Panic mode as set", body = Panic), JsonBody, AdminOnly, Signed), security(("bearer" = [])))]
pub(crate) async fn put_panic(
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
