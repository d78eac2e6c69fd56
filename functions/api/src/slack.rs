//! `POST /v1/slack/actions`: the buttons on an alert (Acknowledge, Snooze 24 h): what a member
//! may do, since anyone in the channel can click. "Mark expected" on an older alert is refused.
//! While the tenant's remediation is on, an alert's Stop / Terminate buttons request the action
//! on the anomaly's resources as the clicker, and the approval message's Approve / Reject
//! buttons decide it — as an admin only for the Slack users the tenant named in
//! `remediation.slack_approvers`; the answer of each is what the clicker reads.
//! Slack signs each request (v0: HMAC-SHA256 of `v0:{timestamp}:{raw body}` under the app's
//! signing secret, `DD0C_SLACK_SIGNING_SECRET`); a request older than five minutes, or one seen
//! before, is refused; so is a click from a Slack workspace other than the one the alert's
//! tenant bound (`slack_team_id`). The action goes through the scorer's feedback path, as the
//! API's does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{TimeDelta, Utc};
use dd0c_actions::ActionError;
use dd0c_notify::render::{
    ACTION_ACKNOWLEDGE, ACTION_APPROVE, ACTION_MARK_EXPECTED, ACTION_REJECT, ACTION_SNOOZE_24H,
};
use dd0c_ports::auth::{Principal, Role};
use dd0c_ports::domain::{FeedbackAction, SnoozeScope};
use dd0c_ports::keys::{ActionRef, ActionValue};
use dd0c_ports::remediation::{ActionKind, Subject};
use dd0c_score::feedback;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::{Api, ApiError, Problem};

/// How far a request's timestamp may be from now, in seconds.
pub const WINDOW_SECONDS: i64 = 300;

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A header is missing.
    #[error("the {0} header is missing")]
    Missing(&'static str),
    /// The timestamp is not a number or is more than five minutes away.
    #[error("the request timestamp is not within {WINDOW_SECONDS} s of now")]
    Stale,
    /// The signature is not `v0=<hex>`.
    #[error("the signature is not a v0 signature")]
    Version,
    /// The HMAC does not match.
    #[error("the signature does not match")]
    Mismatch,
    /// The same signed request came before.
    #[error("the request was already received")]
    Replay,
}

/// Checks a request's Slack signature at `now` (Unix seconds), in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refused> {
    let timestamp = timestamp.ok_or(Refused::Missing("X-Slack-Request-Timestamp"))?;
    let signature = signature.ok_or(Refused::Missing("X-Slack-Signature"))?;
    let sent: i64 = timestamp.parse().map_err(|_| Refused::Stale)?;
    if (now - sent).abs() > WINDOW_SECONDS {
        return Err(Refused::Stale);
    }
    let hex = signature.strip_prefix("v0=").ok_or(Refused::Version)?;
    let expected = decode_hex(hex).ok_or(Refused::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refused::Mismatch)?;
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Refused::Mismatch)
}

/// The v0 signature of `body` at `timestamp` (what Slack sends; tests sign with it).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("v0={}", dd0c_ports::text::hex(&digest))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The Slack app whose buttons post here.
#[derive(Debug)]
pub struct SlackApp {
    /// Its signing secret (`DD0C_SLACK_SIGNING_SECRET`).
    pub signing_secret: String,
    /// Requests already seen.
    pub replays: ReplayCache,
}

impl SlackApp {
    /// The app signing with `signing_secret`.
    pub fn new(signing_secret: &str) -> Self {
        SlackApp {
            signing_secret: signing_secret.to_owned(),
            replays: ReplayCache::default(),
        }
    }
}

/// Signatures seen within the window: a captured request cannot be played again. Per process;
/// behind a load balancer each replica refuses what it has seen (the timestamp window bounds the
/// rest).
#[derive(Debug, Default)]
pub struct ReplayCache(Mutex<HashMap<String, i64>>);

impl ReplayCache {
    /// Records `signature` sent at `sent`; `Replay` if it was already recorded.
    pub fn admit(&self, signature: &str, sent: i64, now: i64) -> Result<(), Refused> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now - *at <= WINDOW_SECONDS);
        if seen.insert(signature.to_owned(), sent).is_some() {
            return Err(Refused::Replay);
        }
        Ok(())
    }
}

/// The form Slack posts.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SlackForm {
    /// The interaction, JSON.
    payload: String,
}

/// What the clicker sees.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SlackReply {
    /// Always `ephemeral`: only the clicker sees it.
    #[schema(value_type = String)]
    response_type: &'static str,
    /// What was done.
    text: String,
}

#[derive(Debug, Deserialize)]
struct Payload {
    #[serde(default)]
    user: SlackUser,
    #[serde(default)]
    team: SlackTeam,
    actions: Vec<SlackAction>,
}

#[derive(Debug, Default, Deserialize)]
struct SlackTeam {
    #[serde(default)]
    id: String,
}

#[derive(Debug, Default, Deserialize)]
struct SlackUser {
    #[serde(default)]
    id: String,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SlackAction {
    action_id: String,
    value: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The buttons of a Slack alert (Acknowledge, Snooze 24 h; Stop, Terminate while remediation is
/// on) and of an approval message (Approve, Reject), signed by Slack.
#[utoipa::path(post, path = "/v1/slack/actions", tag = "notifications",
    request_body(content = SlackForm, content_type = "application/x-www-form-urlencoded"),
    params(("X-Slack-Request-Timestamp" = Option<String>, Header, description = "Unix seconds, when Slack sent it"),
        ("X-Slack-Signature" = Option<String>, Header, description = "v0=<HMAC-SHA256 hex>")),
    responses((status = 200, description = "What Slack shows the clicker", body = SlackReply),
        (status = 400, description = "Not a Slack interaction, or not one of the alert's buttons", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A missing, wrong, stale or replayed signature", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The workspace is not bound to the alert's tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Slack actions are not configured here, or the anomaly is gone", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A backend is unavailable; try again shortly", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn actions(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&api, &headers, &body).await {
        Ok(text) => Json(SlackReply {
            response_type: "ephemeral",
            text,
        })
        .into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(api: &Api, headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let slack = api.slack.as_ref().ok_or_else(|| {
        ApiError::NotFound("Slack actions are not configured (DD0C_SLACK_SIGNING_SECRET)".into())
    })?;
    let now = Utc::now().timestamp();
    let (timestamp, signature) = (
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
    );
    let unauthorized = |e: Refused| ApiError::Unauthorized(e.to_string());
    verify(
        slack.signing_secret.as_bytes(),
        timestamp,
        signature,
        body,
        now,
    )
    .map_err(unauthorized)?;
    let sent = timestamp.and_then(|t| t.parse().ok()).unwrap_or(now);
    slack
        .replays
        .admit(signature.unwrap_or_default(), sent, now)
        .map_err(unauthorized)?;

    let form: SlackForm = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::BadRequest(format!("not a Slack interaction form: {e}")))?;
    let payload: Payload = serde_json::from_str(&form.payload)
        .map_err(|e| ApiError::BadRequest(format!("payload: {e}")))?;
    let action = payload
        .actions
        .first()
        .ok_or_else(|| ApiError::BadRequest("payload: no action".into()))?;
    match action.action_id.as_str() {
        ACTION_APPROVE | ACTION_REJECT => review(api, &payload, action).await,
        id => match id.parse::<ActionKind>() {
            Ok(kind) => request(api, &payload, action, kind).await,
            Err(_) => feedback_on(api, &payload, action).await,
        },
    }
}

/// Refuses a click unless it came from the Slack workspace `tenant` bound. One Slack app may
/// serve many tenants: the value names the tenant, and the workspace the click came from must
/// be the one that tenant bound, so a crafted value acts on nothing else. An unknown tenant
/// reads as one with nothing bound.
async fn bound(api: &Api, tenant: &str, payload: &Payload) -> Result<(), ApiError> {
    let bound = api.stores.settings.settings(tenant).await?.slack_team_id;
    if payload.team.id.is_empty() || bound.as_deref() != Some(payload.team.id.as_str()) {
        return Err(ApiError::Forbidden(
            "this Slack workspace is not bound to the alert's tenant (setting slack_team_id)"
                .into(),
        ));
    }
    Ok(())
}

/// Who clicked, as the log names them.
fn clicker(payload: &Payload) -> String {
    format!(
        "slack:{}",
        payload.user.username.as_deref().unwrap_or(&payload.user.id)
    )
}

/// The clicker as a principal of `tenant`: an admin if the tenant named them among its Slack
/// approvers, else a member.
async fn principal(api: &Api, tenant: &str, payload: &Payload) -> Result<Principal, ApiError> {
    let approvers = api.flags.remediation(tenant).await?.slack_approvers;
    let admin = !payload.user.id.is_empty() && approvers.contains(&payload.user.id);
    Ok(Principal {
        subject: clicker(payload),
        email: None,
        tenant: tenant.to_owned(),
        role: if admin { Role::Admin } else { Role::Member },
    })
}

/// What the clicker reads of a step the rules or the cloud refused; a failing backend stays an
/// error.
fn answer(result: Result<String, ActionError>) -> Result<String, ApiError> {
    match result {
        Ok(text) => Ok(text),
        Err(ActionError::Port { what, source }) => Err(ApiError::port(what, source)),
        Err(refused) => Ok(refused.to_string()),
    }
}

fn remediation(api: &Api) -> Result<&dd0c_actions::Remediation, ApiError> {
    api.remediation
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no actions are run on customer accounts here".into()))
}

/// Stop / Terminate on an alert: the action requested on the anomaly's running resources.
async fn request(
    api: &Api,
    payload: &Payload,
    action: &SlackAction,
    kind: ActionKind,
) -> Result<String, ApiError> {
    let ActionValue {
        tenant,
        anomaly_ids,
    } = action.value.parse()?;
    bound(api, &tenant, payload).await?;
    let [anomaly_id] = anomaly_ids.as_slice() else {
        return Err(ApiError::BadRequest(
            "an action button names one anomaly".into(),
        ));
    };
    let principal = principal(api, &tenant, payload).await?;
    let requested = remediation(api)?
        .request(&principal, Subject::Anomaly(anomaly_id.clone()), Some(kind))
        .await
        .map(|a| {
            format!(
                "Requested {} on {} ({}): waiting for an admin's approval",
                a.action.kind(),
                a.action.resource_ids().join(", "),
                a.action_id
            )
        });
    answer(requested)
}

/// Approve / Reject on an approval message.
async fn review(api: &Api, payload: &Payload, action: &SlackAction) -> Result<String, ApiError> {
    let ActionRef { tenant, action_id } = action.value.parse()?;
    bound(api, &tenant, payload).await?;
    let principal = principal(api, &tenant, payload).await?;
    let remediation = remediation(api)?;
    let decided = if action.action_id == ACTION_APPROVE {
        remediation.approve(&principal, &action_id).await.map(|a| {
            format!(
                "Approved {}: it runs now (by {})",
                a.action_id, principal.subject
            )
        })
    } else {
        remediation
            .reject(&principal, &action_id, "rejected in Slack")
            .await
            .map(|a| format!("Rejected {} (by {})", a.action_id, principal.subject))
    };
    answer(decided)
}

/// Acknowledge / Snooze 24 h: feedback on the alert's anomalies, as a member.
async fn feedback_on(
    api: &Api,
    payload: &Payload,
    action: &SlackAction,
) -> Result<String, ApiError> {
    let ActionValue {
        tenant,
        anomaly_ids,
    } = action.value.parse()?;
    let tenant = tenant.as_str();
    bound(api, tenant, payload).await?;
    let stores = &api.stores;
    let by = clicker(payload);
    let mut applied = 0;
    for id in &anomaly_ids {
        let feedback_action = match action.action_id.as_str() {
            ACTION_ACKNOWLEDGE => FeedbackAction::Acknowledge,
            ACTION_MARK_EXPECTED => {
                return Err(ApiError::Forbidden(
                    "marking an anomaly expected needs an admin: open it in the dashboard".into(),
                ))
            }
            ACTION_SNOOZE_24H => {
                let anomaly = stores
                    .anomalies
                    .anomaly(tenant, id)
                    .await
                    .map_err(|e| ApiError::port("reading an anomaly", e))?
                    .ok_or_else(|| ApiError::NotFound(format!("no anomaly {id}")))?;
                FeedbackAction::Snooze {
                    scope: SnoozeScope::Actor(anomaly.actor_arn),
                    until: Utc::now() + TimeDelta::hours(24),
                }
            }
            other => return Err(ApiError::BadRequest(format!("unknown action {other:?}"))),
        };
        feedback::apply(
            stores.score.as_ref(),
            stores.anomalies.as_ref(),
            tenant,
            id,
            feedback_action,
            &by,
            Utc::now(),
        )
        .await?;
        applied += 1;
    }
    let done = match action.action_id.as_str() {
        ACTION_ACKNOWLEDGE => "Acknowledged",
        _ => "Snoozed for 24 hours",
    };
    Ok(format!(
        "{done}: {applied} anomal{} (by {by})",
        if applied == 1 { "y" } else { "ies" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &[u8] = b"payload=%7B%22actions%22%3A%5B%5D%7D";

    #[test]
    fn only_the_signed_request_within_the_window_passes() {
        let now = 1_800_000_000;
        let ts = now.to_string();
        let signature = sign(SECRET, &ts, BODY);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&signature), BODY, now),
            Ok(())
        );

        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&signature), &changed, now),
            Err(Refused::Mismatch),
            "one byte changed"
        );
        for skew in [301, -301] {
            let at = (now + skew).to_string();
            let signed = sign(SECRET, &at, BODY);
            assert_eq!(
                verify(SECRET, Some(&at), Some(&signed), BODY, now),
                Err(Refused::Stale),
                "{skew} s"
            );
        }
        assert_eq!(
            verify(SECRET, None, Some(&signature), BODY, now),
            Err(Refused::Missing("X-Slack-Request-Timestamp"))
        );
        assert_eq!(
            verify(SECRET, Some(&ts), None, BODY, now),
            Err(Refused::Missing("X-Slack-Signature"))
        );
        let v1 = signature.replacen("v0=", "v1=", 1);
        assert_eq!(
            verify(SECRET, Some(&ts), Some(&v1), BODY, now),
            Err(Refused::Version)
        );
        assert_eq!(
            verify(b"another secret", Some(&ts), Some(&signature), BODY, now),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(&signature), BODY, now),
            Err(Refused::Stale)
        );

        let replays = ReplayCache::default();
        assert_eq!(replays.admit(&signature, now, now), Ok(()));
        assert_eq!(
            replays.admit(&signature, now, now + 10),
            Err(Refused::Replay)
        );
    }

    #[test]
    fn matches_slacks_published_example() {
        // From Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(
            verify(
                b"8f742231b10e8888abcd99yyyzzz85a5",
                Some("1531420618"),
                Some(signature),
                body,
                1_531_420_618
            ),
            Ok(())
        );
    }
}
