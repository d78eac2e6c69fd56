//! The resources dd0c/cost followed (`GET /v1/resources`): every priced resource it saw
//! created, started, resized, stopped or ended, with its intervals, what it cost and what it
//! bills now; and the running burn the overview shows, summed by account
//! (`GET /v1/resources/running`).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use chrono::Utc;
use dd0c_ports::ledger::{ResourceFilter, ResourceView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::refusals::{Invalid, Signed};
use crate::{given, Api, ApiError, Caller};

/// Most resources one page returns.
pub const MAX_PAGE: u32 = 500;

/// The list's filters and paging. An empty value is the same as none.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// `true`: those not ended (a stopped one among them, billing nothing now); `false`: those
    /// ended.
    #[param(pattern = "^(true|false)?$")]
    running: Option<String>,
    /// One AWS account.
    #[param(pattern = "^([0-9]{12})?$")]
    account: Option<String>,
    /// One kind (`ec2.instance`).
    #[param(pattern = "^([a-z0-9-]+(\\.[a-z0-9-]+)*)?$", max_length = 64)]
    kind: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(
        pattern = r"^([0-9]{1,11}\.[0-9]{9}~[^/\u0000-\u001f\u007f-\u009f]+/[^/\u0000-\u001f\u007f-\u009f]+/[^\u0000-\u001f\u007f-\u009f]+)?$",
        max_length = 1200
    )]
    cursor: Option<String>,
    /// Resources per page (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// One page of resources, the newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResourcePage {
    /// The resources.
    items: Vec<ResourceView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

impl ListQuery {
    /// The ledger's filter: every parameter checked as the document describes it.
    fn filter(&self) -> Result<ResourceFilter, ApiError> {
        let ended = match given(&self.running) {
            None => None,
            Some("true") => Some(false),
            Some("false") => Some(true),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "running: {other:?} is not true or false"
                )))
            }
        };
        let account_id = given(&self.account).map(str::to_owned);
        if let Some(account) = &account_id {
            crate::accounts::check_account_id("account", account)?;
        }
        let resource_kind = given(&self.kind).map(str::to_owned);
        if let Some(kind) = &resource_kind {
            check_kind(kind)?;
        }
        Ok(ResourceFilter {
            account_id,
            resource_kind,
            ended,
            began_by: None,
        })
    }
}

/// A kind as the catalog names them: dot-separated words of lower-case letters, digits and
/// dashes (`ec2.nat-gateway`), at most 64 characters.
fn check_kind(kind: &str) -> Result<(), ApiError> {
    let word = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if kind.len() <= 64 && kind.split('.').all(word) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "kind: {kind:?} is not a resource kind (like ec2.instance)"
        )))
    }
}

/// The caller's tenant's resources, the newest first.
#[utoipa::path(get, path = "/v1/resources", operation_id = "list_resources", tag = "resources", params(ListQuery),
    responses((status = 200, description = "A page of resources", body = ResourcePage), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ResourcePage>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = query.filter()?;
    let limit = crate::page_limit(query.limit, 100, MAX_PAGE)?;
    let page = api
        .stores
        .ledger
        .list(&principal.tenant, &filter, given(&query.cursor), limit)
        .await?;
    let now = Utc::now();
    Ok(Json(ResourcePage {
        items: page
            .items
            .iter()
            .map(|r| ResourceView::of(r, now))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What the tenant's running resources bill now: every resource dd0c/cost saw created and not
/// yet ended or stopped.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunningBurn {
    /// USD per hour of them all.
    hourly_now_usd: f64,
    /// Units running (an instance is one; a group's capacity of eight is eight).
    running: u64,
    /// The same per account, the costliest first.
    accounts: Vec<AccountBurn>,
}

/// One account's running burn.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountBurn {
    /// The AWS account.
    account_id: String,
    /// Units running.
    running: u64,
    /// USD per hour they bill now.
    hourly_now_usd: f64,
}

/// What the caller's tenant's running resources bill now, by account.
#[utoipa::path(get, path = "/v1/resources/running", operation_id = "running_burn", tag = "resources",
    responses((status = 200, description = "The running burn", body = RunningBurn), Signed),
    security(("bearer" = [])))]
pub(crate) async fn running(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<RunningBurn>, ApiError> {
    let filter = ResourceFilter {
        ended: Some(false),
        ..ResourceFilter::default()
    };
    let now = Utc::now();
    let mut accounts: Vec<AccountBurn> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = api
            .stores
            .ledger
            .list(
                &principal.tenant,
                &filter,
                cursor.as_deref(),
                MAX_PAGE as usize,
            )
            .await?;
        for view in page.items.iter().map(|r| ResourceView::of(r, now)) {
            if !view.running {
                continue;
            }
            let at = match accounts
                .iter()
                .position(|a| a.account_id == view.account_id)
            {
                Some(at) => at,
                None => {
                    accounts.push(AccountBurn {
                        account_id: view.account_id.clone(),
                        running: 0,
                        hourly_now_usd: 0.0,
                    });
                    accounts.len() - 1
                }
            };
            accounts[at].running += u64::from(view.quantity);
            accounts[at].hourly_now_usd += view.hourly_now_usd;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    accounts.sort_by(|a, b| {
        b.hourly_now_usd
            .total_cmp(&a.hourly_now_usd)
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    Ok(Json(RunningBurn {
        hourly_now_usd: accounts.iter().map(|a| a.hourly_now_usd).sum(),
        running: accounts.iter().map(|a| a.running).sum(),
        accounts,
    }))
}
