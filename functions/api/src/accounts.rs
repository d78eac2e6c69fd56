//! Accounts, their ingest tokens, baselines and the cost time series: what the dashboard's
//! account pages show and change.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::baseline::Baseline;
use dd0c_ports::domain::Account;
use dd0c_ports::store::Stores;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Api, ApiError, Caller};

/// Most cost events one time series reads.
const MAX_SERIES_EVENTS: usize = 100_000;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 random bytes from the operating system, hex: ingest tokens, per-process signing keys.
pub fn random_secret() -> String {
    hex(&random_bytes::<32>())
}

/// A new ingest token: a [`random_secret`] with a prefix secret scanners recognize.
pub fn new_ingest_token() -> String {
    format!("dd0c_ing_{}", random_secret())
}

/// A random (version 4) UUID, as the ExternalId of a customer's role trust policy.
pub fn new_external_id() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The read-only permissions dd0c/cost needs in a customer account (zombie hunting reads
/// resources and their metrics; nothing is ever changed).
pub fn iam_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Dd0cCostReadOnly",
            "Effect": "Allow",
            "Action": [
                "ec2:Describe*", "rds:Describe*", "elasticloadbalancing:Describe*",
                "elasticache:Describe*", "es:Describe*", "sagemaker:List*", "sagemaker:Describe*",
                "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                "tag:GetResources"
            ],
            "Resource": "*"
        }]
    })
}

/// An account add request. The ExternalId is generated here: a client-chosen one is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The 12-digit AWS account id.
    pub account_id: String,
    /// A human name ("prod").
    #[serde(default)]
    pub name: Option<String>,
    /// The role dd0c/cost assumes in the account (with the ExternalId returned).
    #[serde(default)]
    pub role_arn: Option<String>,
}

/// A freshly added account.
#[derive(Debug, Serialize)]
pub struct Added {
    /// The account as stored.
    pub account: Account,
    /// The ExternalId to put in the role's trust policy.
    pub external_id: String,
    /// The permissions to grant that role.
    pub iam_policy: Value,
    /// The account's first ingest token (shown once).
    pub ingest_token: String,
}

#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", responses((status = 200, body = Object)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Vec<Account>>, ApiError> {
    Ok(Json(api.stores.tenants.accounts(&principal.tenant).await?))
}

fn check_account_id(account_id: &str) -> Result<(), ApiError> {
    if dd0c_ports::domain::is_account_id(account_id) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "account_id {account_id:?} is not a 12-digit AWS account id"
        )))
    }
}

#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body(content = Object, description = "{\"account_id\", \"name\", \"role_arn\"}"), responses((status = 201, description = "The account, its ExternalId, IAM policy and first ingest token", body = Object), (status = 400), (status = 403), (status = 409)), security(("bearer" = [])))]
pub(crate) async fn add(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<NewAccount>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let Json(new) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let added = onboard(&api.stores, &caller.0.tenant, new).await?;
    Ok(crate::no_store((StatusCode::CREATED, Json(added))))
}

/// Onboards an account for `tenant` — the API's `POST /v1/accounts` and the CLI's `account add`
/// alike: checks the request, generates the ExternalId here (a client never chooses it), stores
/// the account and its first ingest token, and returns what the customer needs to finish.
pub async fn onboard(stores: &Stores, tenant: &str, new: NewAccount) -> Result<Added, ApiError> {
    check_account_id(&new.account_id)?;
    if let Some(arn) = &new.role_arn {
        check_role_arn(arn, &new.account_id)?;
    }
    let external_id = new_external_id();
    let account = Account {
        tenant: tenant.to_owned(),
        account_id: new.account_id,
        name: new.name,
        created_at: Utc::now(),
        role_arn: new.role_arn,
        external_id: Some(external_id.clone()),
    };
    stores.tenants.add_account(&account).await?;
    let ingest_token = new_ingest_token();
    let grant = IngestGrant {
        tenant: account.tenant.clone(),
        account_id: account.account_id.clone(),
    };
    stores
        .tokens
        .add_token(&grant, &token_sha256(&ingest_token))
        .await?;
    Ok(Added {
        account,
        external_id,
        iam_policy: iam_policy(),
        ingest_token,
    })
}

/// A role ARN must name a role of the account being added.
fn check_role_arn(arn: &str, account_id: &str) -> Result<(), ApiError> {
    let mut parts = arn.split(':');
    let valid = arn.starts_with("arn:aws:iam::")
        && parts.nth(4) == Some(account_id)
        && parts.next().is_some_and(|r| r.starts_with("role/"));
    if valid {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "role_arn {arn:?} is not a role of account {account_id}"
        )))
    }
}

#[utoipa::path(delete, path = "/v1/accounts/{account_id}", tag = "accounts", params(("account_id" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    api.stores
        .tenants
        .remove_account(&caller.0.tenant, &account_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new ingest token (shown once) and the hash it is stored and revoked by.
#[derive(Debug, Serialize)]
pub struct NewToken {
    ingest_token: String,
    token_sha256: String,
}

#[utoipa::path(post, path = "/v1/accounts/{account_id}/tokens", tag = "accounts", params(("account_id" = String, Path)), responses((status = 201, body = Object), (status = 404)), security(("bearer" = [])))]
pub(crate) async fn add_token(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let tenant = &caller.0.tenant;
    if api
        .stores
        .tenants
        .account(tenant, &account_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("no account {account_id}")));
    }
    let ingest_token = new_ingest_token();
    let hash = token_sha256(&ingest_token);
    api.stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: tenant.clone(),
                account_id,
            },
            &hash,
        )
        .await?;
    Ok(crate::no_store((
        StatusCode::CREATED,
        Json(NewToken {
            ingest_token,
            token_sha256: hash,
        }),
    )))
}

#[utoipa::path(delete, path = "/v1/tokens/{token_sha256}", tag = "accounts", params(("token_sha256" = String, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub(crate) async fn revoke_token(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    // Another tenant's token is answered like an unknown one.
    match api.stores.tokens.grant(&hash).await? {
        Some(grant) if grant.tenant == caller.0.tenant => {
            api.stores.tokens.revoke_token(&hash).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::NotFound("no such ingest token".into())),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct BaselineQuery {
    account: Option<String>,
}

#[utoipa::path(get, path = "/v1/baselines", tag = "baselines", params(("account" = Option<String>, Query)), responses((status = 200, body = Object)), security(("bearer" = [])))]
pub(crate) async fn baselines(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    Query(query): Query<BaselineQuery>,
) -> Result<Json<Vec<Baseline>>, ApiError> {
    Ok(Json(
        api.stores
            .score
            .baselines(&principal.tenant, query.account.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CostQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// `hour` or `day` (default).
    bucket: Option<String>,
}

/// New spend per bucket: the $/h of resources created in it, by account and resource kind.
#[derive(Debug, Serialize)]
pub struct CostSeries {
    bucket: &'static str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    series: Vec<Series>,
}

/// One line of the chart.
#[derive(Debug, Serialize)]
pub struct Series {
    account_id: String,
    resource_kind: String,
    points: Vec<Point>,
}

/// One bucket of a line.
#[derive(Debug, Serialize)]
pub struct Point {
    at: DateTime<Utc>,
    hourly_usd: f64,
    events: u32,
}

#[utoipa::path(get, path = "/v1/costs", tag = "baselines", params(("from" = Option<String>, Query), ("to" = Option<String>, Query), ("bucket" = Option<String>, Query, description = "hour or day")), responses((status = 200, body = Object), (status = 400)), security(("bearer" = [])))]
pub(crate) async fn costs(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<CostQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CostSeries>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (bucket, width) = match query.bucket.as_deref().unwrap_or("day") {
        "hour" => ("hour", TimeDelta::hours(1)),
        "day" => ("day", TimeDelta::days(1)),
        other => {
            return Err(ApiError::BadRequest(format!(
                "bucket {other:?}: hour or day"
            )))
        }
    };
    let to = query.to.unwrap_or_else(Utc::now);
    let from = query.from.unwrap_or(to - TimeDelta::days(7));
    if from >= to {
        return Err(ApiError::BadRequest("from must be before to".into()));
    }
    let events = api
        .stores
        .events
        .cost_events(&principal.tenant, from, to, MAX_SERIES_EVENTS)
        .await?;
    // (account, kind) → bucket start → ($/h created, events).
    type Buckets = BTreeMap<DateTime<Utc>, (f64, u32)>;
    let mut lines: BTreeMap<(String, String), Buckets> = BTreeMap::new();
    for event in events {
        let at = event
            .event_time
            .duration_trunc(width)
            .unwrap_or(event.event_time);
        let point = lines
            .entry((event.account_id, event.resource_kind))
            .or_default()
            .entry(at)
            .or_default();
        point.0 += event.hourly_usd;
        point.1 += 1;
    }
    Ok(Json(CostSeries {
        bucket,
        from,
        to,
        series: lines
            .into_iter()
            .map(|((account_id, resource_kind), points)| Series {
                account_id,
                resource_kind,
                points: points
                    .into_iter()
                    .map(|(at, (hourly_usd, events))| Point {
                        at,
                        hourly_usd,
                        events,
                    })
                    .collect(),
            })
            .collect(),
    }))
}
