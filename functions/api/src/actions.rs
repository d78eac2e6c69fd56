//! Acting on resources from the dashboard, the CLI and scripts: request an action on a finding
//! or an anomaly, approve or reject it (admins), list actions and read one's decision log, and
//! read or set the tenant's remediation settings. Every call goes through
//! [`dd0c_actions::Remediation`]; the log is never written here but by its steps.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use dd0c_actions::Remediation;
use dd0c_ports::keys::Cursor;
use dd0c_ports::remediation::{
    ActionFilter, ActionId, ActionKind, ActionRecord, ActionStatus, Decision, RemediationSettings,
    Subject,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::anomalies::parse_list;
use crate::error::refusals::{AdminOnly, Invalid, JsonBody, Missing, Signed};
use crate::{given, Api, ApiError, Caller};

/// Most actions one page returns.
const MAX_PAGE: u32 = 200;

/// What to act on, and how: one finding or one anomaly.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum NewAction {
    /// A zombie finding's resource.
    Finding(OnFinding),
    /// An anomaly's resources still running.
    Anomaly(OnAnomaly),
}

/// An action on a zombie finding's resource.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OnFinding {
    /// The finding.
    #[schema(pattern = "^zf_[0-9a-f]{24}$")]
    finding_id: String,
    /// What to do; by default the first action that fits the finding's kind.
    #[serde(default)]
    action: Option<ActionKind>,
}

/// An action on an anomaly's resources still running.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OnAnomaly {
    /// The anomaly.
    #[schema(pattern = r"^[A-Za-z0-9_.:#-]{1,128}$")]
    anomaly_id: String,
    /// What to do (`stop_instances` by default for instances).
    #[serde(default)]
    action: Option<ActionKind>,
}

impl NewAction {
    /// Its subject and the kind asked for.
    fn subject(self) -> (Subject, Option<ActionKind>) {
        match self {
            NewAction::Finding(on) => (Subject::Finding(on.finding_id), on.action),
            NewAction::Anomaly(on) => (Subject::Anomaly(on.anomaly_id), on.action),
        }
    }
}

/// The server's remediation, or why there is none.
fn remediation(api: &Api) -> Result<&Remediation, ApiError> {
    api.remediation.as_ref().ok_or_else(|| {
        ApiError::Conflict("this server runs no actions on customer accounts".into())
    })
}

/// Requests an action on a finding's or an anomaly's resources: dry-run at once, then waiting
/// for an admin's approval (or approved by `auto` mode's rule).
#[utoipa::path(post, path = "/v1/actions", operation_id = "request_action", tag = "actions", request_body = NewAction,
    responses((status = 201, description = "The action, requested (or approved by auto mode)", body = ActionRecord),
        JsonBody, Missing, Signed,
        (status = 409, description = "Remediation is off, the account has no remediation role, or the dry run refused the action (the detail names the recorded action and the cloud's answer)", body = crate::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn request(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    body: Result<Json<NewAction>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body.map_err(|e| match e {
        axum::extract::rejection::JsonRejection::JsonDataError(_) => {
            let kinds: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::BadRequest(format!(
                "name one finding_id or one anomaly_id, and at most an action ({})",
                kinds.join(", ")
            ))
        }
        other => ApiError::BadRequest(other.body_text()),
    })?;
    let (subject, kind) = new.subject();
    let action = remediation(&api)?
        .request(&principal, subject, kind)
        .await?;
    Ok((StatusCode::CREATED, Json(action)).into_response())
}

/// The list's filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Statuses to list, comma-separated.
    #[param(
        pattern = "^((requested|approved|blocked|running|done|failed|rejected|refused)(,(requested|approved|blocked|running|done|failed|rejected|refused))*)?$"
    )]
    status: Option<String>,
    /// One AWS account.
    #[param(pattern = "^([0-9]{12})?$")]
    account: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^([0-9]{1,11}\.[0-9]{9}~[A-Za-z0-9_.:#-]{1,128})?$")]
    cursor: Option<String>,
    /// Actions per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// One page of actions, newest request first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionPage {
    /// The actions.
    items: Vec<ActionRecord>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// The tenant's actions, newest request first: the approvals queue is `status=requested`.
#[utoipa::path(get, path = "/v1/actions", operation_id = "list_actions", tag = "actions", params(ListQuery),
    responses((status = 200, description = "A page of actions", body = ActionPage), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ActionPage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let account_id = given(&query.account).map(str::to_owned);
    if let Some(account) = &account_id {
        crate::accounts::check_account_id("account", account)?;
    }
    let filter = ActionFilter {
        statuses: parse_list::<ActionStatus>("status", given(&query.status))?,
        account_id,
    };
    let cursor = given(&query.cursor);
    if let Some(cursor) = cursor {
        cursor.parse::<Cursor>()?;
    }
    let limit = crate::page_limit(query.limit, 50, MAX_PAGE)?;
    let page = api
        .stores
        .actions
        .actions(&principal.tenant, &filter, cursor, limit)
        .await?;
    Ok(Json(ActionPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// An action and its decision log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionDetail {
    /// The action.
    action: ActionRecord,
    /// Every step, oldest first: who, when, the rule, the cloud's calls and request ids.
    decisions: Vec<Decision>,
}

fn action_id(text: &str) -> Result<ActionId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NotFound(format!("no action {text:?}")))
}

/// One action with its decision log.
#[utoipa::path(get, path = "/v1/actions/{id}", operation_id = "get_action", tag = "actions",
    params(("id" = String, Path, pattern = "^act_[0-9a-f]{24}$", description = "The action id")),
    responses((status = 200, description = "The action and its log", body = ActionDetail), Missing, Signed),
    security(("bearer" = [])))]
pub(crate) async fn detail(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<ActionDetail>, ApiError> {
    let id = action_id(&id)?;
    let action = api
        .stores
        .actions
        .action(&principal.tenant, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no action {id}")))?;
    let decisions = api.stores.actions.decisions(&principal.tenant, &id).await?;
    Ok(Json(ActionDetail { action, decisions }))
}

/// Approves a requested (or blocked) action and queues it to run (admins; with `two_person`,
/// not the requester).
#[utoipa::path(post, path = "/v1/actions/{id}/approve", operation_id = "approve_action", tag = "actions",
    params(("id" = String, Path, pattern = "^act_[0-9a-f]{24}$", description = "The action id")),
    responses((status = 200, description = "The action, approved and queued", body = ActionRecord), Missing, Signed,
        (status = 403, description = "The caller is not an admin, or is the requester under two_person", body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Remediation is off, or the action was already decided (nothing was done)", body = crate::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<ActionRecord>, ApiError> {
    let id = action_id(&id)?;
    Ok(Json(remediation(&api)?.approve(&principal, &id).await?))
}

/// Why an action is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rejection {
    /// Why: printable, at most 500 characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", max_length = 500)]
    #[serde(default)]
    reason: String,
}

/// Rejects a requested (or blocked) action (admins; with `two_person`, not the requester).
#[utoipa::path(post, path = "/v1/actions/{id}/reject", operation_id = "reject_action", tag = "actions",
    params(("id" = String, Path, pattern = "^act_[0-9a-f]{24}$", description = "The action id")),
    request_body = Rejection,
    responses((status = 200, description = "The action, rejected", body = ActionRecord), JsonBody, Missing, Signed,
        (status = 403, description = "The caller is not an admin, or is the requester under two_person", body = crate::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Remediation is off, or the action was already decided (nothing was done)", body = crate::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn reject(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    body: Result<Json<Rejection>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ActionRecord>, ApiError> {
    let id = action_id(&id)?;
    let Json(rejection) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if rejection.reason.chars().count() > 500 || rejection.reason.contains(char::is_control) {
        return Err(ApiError::BadRequest(
            "reason: at most 500 characters, none a control character".into(),
        ));
    }
    Ok(Json(
        remediation(&api)?
            .reject(&principal, &id, &rejection.reason)
            .await?,
    ))
}

/// The tenant's remediation settings (off until an admin sets them).
#[utoipa::path(get, path = "/v1/settings/remediation", operation_id = "get_remediation", tag = "settings",
    responses((status = 200, description = "The remediation settings", body = RemediationSettings), Signed),
    security(("bearer" = [])))]
pub(crate) async fn settings(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<RemediationSettings>, ApiError> {
    Ok(Json(api.flags.remediation(&principal.tenant).await?))
}

/// Sets the tenant's remediation settings (admins); every replica follows them at once.
#[utoipa::path(put, path = "/v1/settings/remediation", operation_id = "put_remediation", tag = "settings",
    request_body = RemediationSettings,
    responses((status = 200, description = "The settings as stored", body = RemediationSettings), JsonBody, AdminOnly, Signed),
    security(("bearer" = [])))]
pub(crate) async fn put_settings(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<RemediationSettings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RemediationSettings>, ApiError> {
    caller.admin()?;
    let Json(settings) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    settings.validate()?;
    api.flags
        .set_remediation(&caller.0.tenant, &settings)
        .await?;
    tracing::info!(tenant = %caller.0.tenant, mode = %settings.mode, by = %caller.0.subject, "remediation settings set");
    Ok(Json(settings))
}
