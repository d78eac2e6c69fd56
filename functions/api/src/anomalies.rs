//! Anomalies: the filtered, paged list (`GET /v1/anomalies`, or every match as CSV), one
//! anomaly with its feedback (`GET /v1/anomalies/{id}`), and acting on one
//! (`POST /v1/anomalies/{id}/{action}`). Every anomaly is shown with what its resources amount
//! to now ([`FollowedAnomaly`]): how many still run, the cost so far, the month-end forecast,
//! and how they ended.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use dd0c_ports::auth::Role;
use dd0c_ports::domain::{
    Anomaly, AnomalyStatus, Feedback, FeedbackAction, OutboxMessage, Severity, SnoozeScope,
};
use dd0c_ports::keys::{is_anomaly_id, Cursor};
use dd0c_ports::ledger::{Followed, FollowedAnomaly, ResourceView};
use dd0c_ports::store::AnomalyFilter;
use dd0c_ports::PortError;
use dd0c_score::{feedback, lifecycle};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::refusals::{AdminOnly, Invalid, JsonBody, Missing, Signed};
use crate::{export, given, time_param, Api, ApiError, Caller};

/// Most anomalies one page returns.
pub const MAX_PAGE: u32 = 200;

/// The list's filters and paging. An empty value is the same as none, but for a time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Severities to list, comma-separated.
    #[param(pattern = "^((critical|warning|info)(,(critical|warning|info))*)?$")]
    severity: Option<String>,
    /// Statuses to list, comma-separated.
    #[param(
        pattern = "^((open|acknowledged|snoozed|expected|resolved)(,(open|acknowledged|snoozed|expected|resolved))*)?$"
    )]
    status: Option<String>,
    /// One AWS account.
    #[param(pattern = "^([0-9]{12})?$")]
    account: Option<String>,
    /// Anomalies from this time on (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Anomalies before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^([0-9]{1,11}\.[0-9]{9}~[A-Za-z0-9_.:#-]{1,128})?$")]
    cursor: Option<String>,
    /// Anomalies per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `csv`: every match at once as CSV, as `Accept: text/csv` asks (`cursor` and `limit`
    /// are for pages); `json` (the default): a page.
    #[param(pattern = "^(json|csv)?$")]
    format: Option<String>,
}

/// One page of anomalies, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnomalyPage {
    /// The anomalies.
    items: Vec<FollowedAnomaly>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

/// A comma-separated query parameter of enum values, spelled as in JSON (`critical,warning`).
pub(crate) fn parse_list<T: serde::de::DeserializeOwned>(
    name: &str,
    text: Option<&str>,
) -> Result<Vec<T>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|s| {
            serde_json::from_value(serde_json::Value::from(s))
                .map_err(|_| ApiError::BadRequest(format!("{name}: {s:?} is not a known value")))
        })
        .collect()
}

impl ListQuery {
    /// The store's filter: every parameter checked as the document describes it.
    fn filter(&self) -> Result<AnomalyFilter, ApiError> {
        let account_id = given(&self.account).map(str::to_owned);
        if let Some(account) = &account_id {
            crate::accounts::check_account_id("account", account)?;
        }
        Ok(AnomalyFilter {
            severities: parse_list::<Severity>("severity", given(&self.severity))?,
            statuses: parse_list::<AnomalyStatus>("status", given(&self.status))?,
            account_id,
            from: time_param("from", self.from.as_deref())?,
            to: time_param("to", self.to.as_deref())?,
        })
    }

    /// The cursor, checked.
    fn cursor(&self) -> Result<Option<&str>, ApiError> {
        let cursor = given(&self.cursor);
        if let Some(cursor) = cursor {
            Cursor::from_str(cursor)?;
        }
        Ok(cursor)
    }
}

/// The caller's tenant's anomalies, newest first: a page, or every match as CSV.
#[utoipa::path(get, path = "/v1/anomalies", operation_id = "list_anomalies", tag = "anomalies", params(ListQuery),
    responses((status = 200, description = "A page of anomalies, or every match as CSV",
        content((AnomalyPage = "application/json"), (String = "text/csv"))), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = query.filter()?;
    if export::wanted(given(&query.format), &headers)? {
        return Ok(export_all(api, principal.tenant, filter));
    }
    let limit = crate::page_limit(query.limit, 50, MAX_PAGE)?;
    let page = api
        .stores
        .anomalies
        .anomalies(&principal.tenant, &filter, query.cursor()?, limit)
        .await?;
    let items = lifecycle::followed_all(
        api.stores.ledger.as_ref(),
        &principal.tenant,
        page.items,
        Utc::now(),
    )
    .await?;
    Ok(Json(AnomalyPage {
        items,
        next_cursor: page.next_cursor,
    })
    .into_response())
}

/// Where an export has got to.
enum Step {
    Header,
    Page(Option<String>),
    Done,
}

/// Every anomaly of `tenant` matching `filter`, newest first, as CSV: read and written a page at
/// a time, each followed as of the request. A read that fails ends the transfer unfinished (the
/// client sees it cut), and is logged.
fn export_all(api: Arc<Api>, tenant: String, filter: AnomalyFilter) -> Response {
    let now = Utc::now();
    let chunks = futures_util::stream::try_unfold(
        (api, tenant, filter, Step::Header),
        move |(api, tenant, filter, step)| async move {
            let (chunk, next) = match step {
                Step::Done => return Ok(None),
                Step::Header => (export::anomaly_header(), Step::Page(None)),
                Step::Page(cursor) => {
                    let page = api
                        .stores
                        .anomalies
                        .anomalies(&tenant, &filter, cursor.as_deref(), MAX_PAGE as usize)
                        .await?;
                    let items = lifecycle::followed_all(
                        api.stores.ledger.as_ref(),
                        &tenant,
                        page.items,
                        now,
                    )
                    .await?;
                    let next = page.next_cursor.map_or(Step::Done, |c| Step::Page(Some(c)));
                    (items.iter().map(export::anomaly_line).collect(), next)
                }
            };
            Ok::<_, PortError>(Some((Bytes::from(chunk), (api, tenant, filter, next))))
        },
    )
    .inspect_err(|error| tracing::warn!(%error, "an anomaly export stopped short"));
    (export::headers("anomalies"), Body::from_stream(chunks)).into_response()
}

/// An anomaly, what people did about it, and its resources' timelines.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnomalyDetail {
    /// The anomaly.
    anomaly: FollowedAnomaly,
    /// Its feedback, oldest first.
    feedback: Vec<Feedback>,
    /// The resources it named, as the ledger follows them: each one's intervals (created,
    /// started, resized → stopped or ended) with what each cost; empty where the ledger holds
    /// none.
    resources: Vec<ResourceView>,
}

/// An anomaly id from a path: one of another shape names nothing.
fn anomaly_id(id: &str) -> Result<&str, ApiError> {
    if is_anomaly_id(id) {
        Ok(id)
    } else {
        Err(ApiError::NotFound(format!("no anomaly {id:?}")))
    }
}

/// One anomaly with its feedback.
#[utoipa::path(get, path = "/v1/anomalies/{id}", tag = "anomalies",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_.:#-]{1,128}$", description = "The anomaly id")),
    responses((status = 200, description = "The anomaly", body = AnomalyDetail), Missing, Signed),
    security(("bearer" = [])))]
pub(crate) async fn detail(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<AnomalyDetail>, ApiError> {
    let id = anomaly_id(&id)?;
    let anomalies = &api.stores.anomalies;
    let anomaly = anomalies
        .anomaly(&principal.tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no anomaly {id}")))?;
    let feedback = anomalies.feedback(&principal.tenant, id).await?;
    let mut records = api.stores.ledger.of_anomaly(&principal.tenant, id).await?;
    records.sort_by(|a, b| a.key.cmp(&b.key));
    let now = Utc::now();
    let followed = Followed::of_anomaly(&anomaly, &records, now);
    let resources: Vec<ResourceView> = records
        .iter()
        .filter(|r| !r.changes.is_empty())
        .map(|r| ResourceView::of(r, now))
        .collect();
    Ok(Json(AnomalyDetail {
        anomaly: FollowedAnomaly { anomaly, followed },
        feedback,
        resources,
    }))
}

/// What a person does about an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    /// "I've seen it."
    Acknowledge,
    /// Silence what it matches for a while (body: `hours`, `scope`).
    Snooze,
    /// "This is normal": the baseline learns it.
    Expected,
    /// "Dealt with."
    Resolve,
}

impl FromStr for Action {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        serde_json::from_value(serde_json::Value::from(s)).map_err(|_| {
            ApiError::NotFound(format!(
                "no action {s:?} (acknowledge, snooze, expected, resolve)"
            ))
        })
    }
}

/// The longest snooze: 90 days.
const MAX_SNOOZE_HOURS: u32 = 24 * 90;

/// The longest snooze a member may set: silencing for longer is a decision for an admin.
const MEMBER_MAX_SNOOZE_HOURS: u32 = 24 * 7;

/// What a snooze silences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SnoozeBy {
    /// Everything the anomaly's actor does.
    #[default]
    Actor,
    /// Every anomaly of its resource kind.
    ResourceKind,
    /// Everything in its account.
    Account,
}

/// Options of an action; only a snooze reads them.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    /// Snooze length in hours (default 24).
    #[serde(default, deserialize_with = "dd0c_ports::domain::integral_option")]
    #[schema(minimum = 1, maximum = 2160)]
    hours: Option<u32>,
    /// What a snooze silences (default `actor`).
    scope: Option<SnoozeBy>,
}

impl ActBody {
    /// The body of a request: none, only white space or `null` is the defaults; anything else
    /// must be an object (serde would also read a struct from an array).
    fn read(bytes: &[u8]) -> Result<ActBody, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ActBody::default());
        }
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?;
        if !(value.is_object() || value.is_null()) {
            return Err(ApiError::BadRequest(
                "the body: an object (hours, scope) or nothing".into(),
            ));
        }
        let body: ActBody = serde_json::from_value::<Option<ActBody>>(value)
            .map_err(|e| ApiError::BadRequest(format!("the body: {e}")))?
            .unwrap_or_default();
        match body.hours {
            Some(hours) if !(1..=MAX_SNOOZE_HOURS).contains(&hours) => Err(ApiError::BadRequest(
                format!("hours {hours}: 1 to {MAX_SNOOZE_HOURS}"),
            )),
            _ => Ok(body),
        }
    }

    /// Whether `role` may take `action` so: what silences beyond one actor for a week, or
    /// teaches the baseline that a cost is normal, changes what the whole tenant is alerted to,
    /// and is an admin's decision. A member may acknowledge, resolve, and snooze an anomaly's
    /// actor for up to a week.
    fn allowed(&self, action: Action, role: Role) -> Result<(), ApiError> {
        if role == Role::Admin {
            return Ok(());
        }
        let refuse = |what: &str| {
            Err(ApiError::Forbidden(format!(
                "{what} needs the admin role; a member may acknowledge, resolve, and snooze an \
                 anomaly's actor for up to {MEMBER_MAX_SNOOZE_HOURS} hours"
            )))
        };
        match action {
            Action::Expected => refuse("marking an anomaly expected"),
            Action::Snooze if self.scope.is_some_and(|s| s != SnoozeBy::Actor) => {
                refuse("snoozing a whole resource kind or account")
            }
            Action::Snooze if self.hours.is_some_and(|h| h > MEMBER_MAX_SNOOZE_HOURS) => {
                refuse("a snooze longer than a week")
            }
            _ => Ok(()),
        }
    }

    /// The feedback `action` on `anomaly` at `now`.
    fn feedback(&self, action: Action, anomaly: &Anomaly, now: DateTime<Utc>) -> FeedbackAction {
        match action {
            Action::Acknowledge => FeedbackAction::Acknowledge,
            Action::Expected => FeedbackAction::MarkExpected,
            Action::Resolve => FeedbackAction::Resolve,
            Action::Snooze => {
                let hours = self.hours.unwrap_or(24);
                let scope = match self.scope.unwrap_or_default() {
                    SnoozeBy::Actor => SnoozeScope::Actor(anomaly.actor_arn.clone()),
                    SnoozeBy::ResourceKind => {
                        SnoozeScope::ResourceKind(anomaly.resource_kind.clone())
                    }
                    SnoozeBy::Account => SnoozeScope::Account(anomaly.account_id.clone()),
                };
                FeedbackAction::Snooze {
                    scope,
                    until: now + TimeDelta::hours(i64::from(hours)),
                }
            }
        }
    }
}

/// Acknowledges, snoozes, marks expected or resolves an anomaly; answers it as it is then.
/// A member may acknowledge, resolve, and snooze the anomaly's actor for up to a week; marking
/// expected, a snooze of a resource kind or an account, or a longer one, needs an admin (403).
#[utoipa::path(post, path = "/v1/anomalies/{id}/{action}", tag = "anomalies",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_.:#-]{1,128}$", description = "The anomaly id"),
        ("action" = inline(Action), Path)),
    request_body(content = Option<ActBody>, description = "Snooze options; optional"),
    responses((status = 200, description = "The anomaly after the action", body = AnomalyDetail), JsonBody, AdminOnly, Missing, Signed),
    security(("bearer" = [])))]
pub(crate) async fn act(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<AnomalyDetail>, ApiError> {
    let (id, action) = (anomaly_id(&id)?, action.parse::<Action>()?);
    let body = ActBody::read(&body)?;
    body.allowed(action, principal.role)?;
    let (tenant, stores) = (&principal.tenant, &api.stores);
    let found = stores
        .anomalies
        .anomaly(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no anomaly {id}")))?;
    let now = Utc::now();
    let closes = matches!(action, Action::Resolve) && found.status != AnomalyStatus::Resolved;
    let action = body.feedback(action, &found, now);
    let (score, anomalies) = (stores.score.as_ref(), stores.anomalies.as_ref());
    feedback::apply(
        score,
        anomalies,
        tenant,
        id,
        action,
        &principal.subject,
        now,
    )
    .await?;
    let id = id.to_owned();
    let Json(detail) = detail(State(api.clone()), Caller(principal.clone()), Path(id)).await?;
    if closes {
        // PagerDuty keeps the incident open until told, and automation waits on the webhook.
        let person = principal.email.as_deref().unwrap_or(&principal.subject);
        let followed = &detail.anomaly;
        let message = OutboxMessage::resolved_by_person(
            followed.anomaly.clone(),
            person,
            followed.followed.cost_so_far_usd,
            now,
        );
        stores.outbox.enqueue(&message).await?;
    }
    Ok(Json(detail))
}
