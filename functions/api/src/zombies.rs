//! The zombie hunter's findings: listed by waste, summed up (open waste, saved this month),
//! and ignored with a reason.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use dd0c_ports::zombie::{Finding, FindingFilter, FindingStatus, ZombieKind};
use dd0c_zombie::summary::Summary;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::anomalies::parse_list;
use crate::error::refusals::{Invalid, JsonBody, Missing, Signed};
use crate::{export, given, Api, ApiError, Caller};

/// Most findings one list returns.
const MAX_LIST: u32 = 500;

/// The list's filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// One AWS account.
    #[param(pattern = "^([0-9]{12})?$")]
    account: Option<String>,
    /// Kinds to list, comma-separated.
    #[param(
        pattern = "^(((ec2\\.idle|ec2\\.stopped|ebs\\.unattached|eip\\.unassociated|elb\\.idle|nat\\.idle|rds\\.idle|snapshot\\.orphaned)(,(ec2\\.idle|ec2\\.stopped|ebs\\.unattached|eip\\.unassociated|elb\\.idle|nat\\.idle|rds\\.idle|snapshot\\.orphaned))*)?)$"
    )]
    kind: Option<String>,
    /// Statuses to list, comma-separated (default: all).
    #[param(pattern = "^((open|ignored|gone)(,(open|ignored|gone))*)?$")]
    status: Option<String>,
    /// Findings to return, most waste first (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `csv`: every match as CSV, as `Accept: text/csv` asks (`limit` is for the JSON list);
    /// `json` (the default).
    #[param(pattern = "^(json|csv)?$")]
    format: Option<String>,
}

/// Findings, most waste first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FindingList {
    /// The findings.
    items: Vec<Finding>,
    /// How many matched (more than `items` when the limit cut the list).
    matched: usize,
}

/// The caller's tenant's findings, most waste first; every match as CSV when asked.
#[utoipa::path(get, path = "/v1/zombies", operation_id = "list_zombies", tag = "zombies", params(ListQuery),
    responses((status = 200, description = "Findings, most waste first, or every match as CSV",
        content((FindingList = "application/json"), (String = "text/csv"))), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let account_id = given(&query.account).map(str::to_owned);
    if let Some(account) = &account_id {
        crate::accounts::check_account_id("account", account)?;
    }
    let filter = FindingFilter {
        account_id,
        region: None,
        kinds: parse_list::<ZombieKind>("kind", given(&query.kind))?,
        statuses: parse_list::<FindingStatus>("status", given(&query.status))?,
    };
    let limit = crate::page_limit(query.limit, 100, MAX_LIST)?;
    let mut items = api
        .stores
        .zombies
        .findings(&principal.tenant, &filter)
        .await?;
    if export::wanted(given(&query.format), &headers)? {
        return Ok((export::headers("zombies"), export::findings_csv(&items)).into_response());
    }
    let matched = items.len();
    items.truncate(limit);
    Ok(Json(FindingList { items, matched }).into_response())
}

/// Open waste, what was saved this month, and the open findings per kind.
#[utoipa::path(get, path = "/v1/zombies/summary", tag = "zombies",
    responses((status = 200, description = "The findings in figures", body = Summary), Signed),
    security(("bearer" = [])))]
pub(crate) async fn summary(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(
        dd0c_zombie::summary::summary(api.stores.zombies.as_ref(), &principal.tenant, Utc::now())
            .await?,
    ))
}

/// Why a finding is left alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IgnoreBody {
    /// Why it is meant to be so ("standby for the DR drill"): printable, at most 500 characters.
    #[schema(
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]*$",
        max_length = 500
    )]
    reason: String,
}

/// Leaves a finding alone: later scans keep it ignored and no total counts its waste.
#[utoipa::path(post, path = "/v1/zombies/{id}/ignore", tag = "zombies",
    params(("id" = String, Path, pattern = "^zf_[0-9a-f]{24}$", description = "The finding id")),
    request_body = IgnoreBody,
    responses((status = 200, description = "The finding, ignored", body = Finding), JsonBody, Missing, Signed,
        (status = 409, description = "The resource is gone", body = crate::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn ignore(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    body: Result<Json<IgnoreBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Finding>, ApiError> {
    if !Finding::is_id(&id) {
        return Err(ApiError::NotFound(format!("no finding {id:?}")));
    }
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let finding = dd0c_zombie::summary::ignore(
        api.stores.zombies.as_ref(),
        &principal.tenant,
        &id,
        &body.reason,
    )
    .await?;
    Ok(Json(finding))
}

#[cfg(test)]
mod tests {
    use dd0c_ports::zombie::{FindingStatus, ZombieKind, ZombieState};
    use serde_json::Value;

    /// The values a schema describes, and the values serde writes.
    fn described_and_written<T: utoipa::PartialSchema + serde::Serialize>(
        all: &[T],
    ) -> (Value, Value) {
        let schema = serde_json::to_value(T::schema()).expect("schema");
        let written = all
            .iter()
            .map(|v| serde_json::to_value(v).expect("value"))
            .collect();
        (schema["enum"].clone(), Value::Array(written))
    }

    #[test]
    fn the_document_describes_the_zombie_enums_as_they_are_written() {
        let (described, written) = described_and_written(ZombieKind::ALL);
        assert_eq!(described, written);
        let (described, written) = described_and_written(ZombieState::ALL);
        assert_eq!(described, written);
        let (described, written) = described_and_written(FindingStatus::ALL);
        assert_eq!(described, written);
    }
}
