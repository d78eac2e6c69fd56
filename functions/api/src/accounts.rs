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
use dd0c_ports::secrets::SecretsKey;
use dd0c_ports::sources::{SourceStore, Trail, TrailLocation};
use dd0c_ports::store::{KeyUse, Stores};
use dd0c_ports::text::hex;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::error::refusals::{AdminOnly, Invalid, JsonBody, Missing, Signed};
use crate::{given, time_param, Api, ApiError, Caller, Problem};

/// Most cost events one time series reads.
const MAX_SERIES_EVENTS: usize = 100_000;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
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

/// The read-only permissions dd0c/cost needs in a customer account: exactly the actions the
/// zombie hunter calls (`dd0c_zombie::READ_ACTIONS`), and with a trail bucket to poll, listing
/// and reading that bucket alone; nothing is ever changed.
pub fn iam_policy(trail: Option<&TrailLocation>) -> Value {
    let mut statements = vec![json!({
        "Sid": "Dd0cCostReadOnly",
        "Effect": "Allow",
        "Action": dd0c_zombie::READ_ACTIONS,
        "Resource": "*"
    })];
    if let Some(trail) = trail {
        let bucket = format!("arn:aws:s3:::{}", trail.bucket);
        statements.push(json!({
            "Sid": "Dd0cCostTrailBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject"],
            "Resource": [bucket.clone(), format!("{bucket}/*")]
        }));
        // A trail may encrypt its files with a KMS key (SSE-KMS): reading them decrypts through
        // S3, and only through S3. The key's policy must allow the role too.
        statements.push(json!({
            "Sid": "Dd0cCostTrailKms",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Records the tenant when its first account arrives: in the cloud a tenant begins as its first
/// admin's `custom:tenant` in the user pool, and the scheduled jobs (digests, the zombie hunt)
/// go through the tenants recorded.
async fn ensure_tenant(stores: &Stores, tenant: &str) -> Result<(), ApiError> {
    if stores.tenants.tenant(tenant).await?.is_some() {
        return Ok(());
    }
    let new = dd0c_ports::domain::Tenant {
        name: tenant.to_owned(),
        created_at: Utc::now(),
    };
    match stores.tenants.add_tenant(&new).await {
        // Another request recorded it first.
        Ok(()) | Err(dd0c_ports::PortError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The tenant's ExternalId: the one its accounts already have, or a new one for its first.
/// One per tenant, as AWS advises (unique per customer, which is what stops another customer
/// of dd0c/cost from having us assume your role), so one StackSet can pass the same value to
/// every account of an organization.
async fn tenant_external_id(stores: &Stores, tenant: &str) -> Result<String, ApiError> {
    let accounts = stores.tenants.accounts(tenant).await?;
    Ok(accounts
        .into_iter()
        .find_map(|a| a.external_id)
        .unwrap_or_else(new_external_id))
}

/// An account add request. The ExternalId is generated here: a client-chosen one is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The 12-digit AWS account id.
    #[schema(pattern = "^[0-9]{12}$")]
    pub account_id: String,
    /// A human name ("prod"): printable, at most 256 characters.
    #[serde(default)]
    #[schema(
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]{1,256}$"
    )]
    pub name: Option<String>,
    /// The name of the role dd0c/cost assumes in this account, with the ExternalId returned
    /// (IAM role name characters, at most 64).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9+=,.@_-]{1,64}$")]
    pub role_name: Option<String>,
    /// The name of the second role, which dd0c/cost assumes with the same ExternalId to act on
    /// the account's resources (the customer template's `CreateRemediationRole`, named
    /// `dd0c-cost-remediation` by default); without it, no action is offered.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9+=,.@_-]{1,64}$")]
    pub remediation_role_name: Option<String>,
    /// Instead of a role (self-hosted): an access key dd0c/cost reads the account with. Its
    /// secret is stored sealed under the server's `DD0C_SECRETS_KEY` and never returned.
    #[serde(default)]
    pub access_key: Option<NewAccessKey>,
    /// Instead of a remediation role (self-hosted): an access key dd0c/cost acts on the
    /// account's resources with, apart from the reading one; sealed and never returned as that
    /// one is. Without a remediation role or key, no action is offered.
    #[serde(default)]
    pub remediation_access_key: Option<NewAccessKey>,
    /// Self-hosted: the account's CloudTrail bucket (`s3://BUCKET[/PREFIX]`, the folder above
    /// `AWSLogs/`), polled with the account's role or access key.
    #[serde(default)]
    #[schema(
        pattern = "^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_=-][A-Za-z0-9_.=-]*)*/?$"
    )]
    pub cloudtrail_s3: Option<String>,
}

/// An access key pair, as given once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccessKey {
    /// The access key id (`AKIA…`).
    #[schema(pattern = "^[A-Z0-9]{16,128}$")]
    pub access_key_id: String,
    /// The secret access key.
    #[schema(write_only, pattern = "^[A-Za-z0-9/+=]{16,128}$")]
    pub secret_access_key: String,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl NewAccessKey {
    /// Refuses a malformed key given as `field`, naming it.
    fn check(&self, field: &str) -> Result<(), ApiError> {
        let id_ok = (16..=128).contains(&self.access_key_id.len())
            && self
                .access_key_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !id_ok {
            return Err(ApiError::BadRequest(format!(
                "{field}.access_key_id: 16 to 128 capital letters and digits"
            )));
        }
        let secret_ok = (16..=128).contains(&self.secret_access_key.len())
            && self
                .secret_access_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/+=".contains(&b));
        if !secret_ok {
            return Err(ApiError::BadRequest(format!(
                "{field}.secret_access_key: 16 to 128 letters, digits and /+="
            )));
        }
        Ok(())
    }
}

/// A freshly added account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    /// The account as stored.
    pub account: Account,
    /// The ExternalId to put in the role's trust policy.
    pub external_id: String,
    /// The permissions to grant that role.
    #[schema(value_type = Object)]
    pub iam_policy: Value,
    /// The account's first ingest token (shown once).
    pub ingest_token: String,
    /// Cloud: the CloudFormation quick-create link that creates the role (with this
    /// ExternalId) and the rule forwarding the account's CloudTrail, in one click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_create_url: Option<String>,
}

/// The tenant's AWS accounts.
#[utoipa::path(get, path = "/v1/accounts", operation_id = "list_accounts", tag = "accounts", responses((status = 200, description = "The accounts", body = Vec<Account>), Signed), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
) -> Result<Json<Vec<Account>>, ApiError> {
    Ok(Json(api.stores.tenants.accounts(&principal.tenant).await?))
}

/// `account_id`, given as `field`, is a 12-digit AWS account id.
pub(crate) fn check_account_id(field: &str, account_id: &str) -> Result<(), ApiError> {
    if dd0c_ports::domain::is_account_id(account_id) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} {account_id:?} is not a 12-digit AWS account id"
        )))
    }
}

/// Adds an AWS account (admins): its ExternalId, the IAM policy to grant and its first ingest
/// token come back.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, description = "The account, its ExternalId, IAM policy and first ingest token", body = Added),
        JsonBody, AdminOnly, Signed,
        (status = 409, description = "The account is already watched; or both a role and an access key were given, or an access key where the server keeps no secrets; or a CloudTrail bucket without a role or an access key to read it, or where no bucket is polled", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn add(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Result<Json<NewAccount>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let Json(mut new) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if api.quick_create.is_some() && new.role_name.is_none() && new.access_key.is_none() {
        new.role_name = Some(crate::quick_create::ROLE_NAME.into());
    }
    let mut added = onboard(
        &api.stores,
        &caller.0.tenant,
        new,
        api.secrets.as_ref(),
        api.sources.as_deref(),
    )
    .await?;
    added.quick_create_url = api.quick_create.as_ref().map(|q| q.url(&added.external_id));
    Ok(crate::no_store((StatusCode::CREATED, Json(added))))
}

/// Sealing the secrets of the access keys an account is added with.
struct Sealing<'a> {
    tenant: &'a str,
    account_id: &'a str,
    secrets: Option<&'a SecretsKey>,
}

impl Sealing<'_> {
    /// The sealed secret of the key given as `field` for `which`, checked; `None` when none
    /// was given. Refused beside the role named by `role` (a field and whether it was given),
    /// or where the server keeps no secrets.
    fn key(
        &self,
        (role, role_given): (&str, bool),
        (field, key): (&str, Option<&NewAccessKey>),
        which: KeyUse,
    ) -> Result<Option<String>, ApiError> {
        let Some(key) = key else { return Ok(None) };
        key.check(field)?;
        if role_given {
            return Err(ApiError::Conflict(format!(
                "give a {role} or an {field}, not both"
            )));
        }
        let secrets = self.secrets.ok_or_else(|| {
            ApiError::Conflict(format!(
                "this server keeps no secrets: set DD0C_SECRETS_KEY (openssl rand -hex 32) to \
                 store an {field}"
            ))
        })?;
        let owner = dd0c_ports::secrets::secret_owner(self.tenant, self.account_id, which);
        Ok(Some(secrets.seal(&key.secret_access_key, &owner)))
    }
}

/// Onboards an account for `tenant` — the API's `POST /v1/accounts` and the CLI's `account add`
/// alike: checks the request, generates the ExternalId here (a client never chooses it), stores
/// the account, its access key's secret sealed under `secrets`, and its first ingest token, and
/// returns what the customer needs to finish.
pub async fn onboard(
    stores: &Stores,
    tenant: &str,
    new: NewAccount,
    secrets: Option<&SecretsKey>,
    sources: Option<&dyn SourceStore>,
) -> Result<Added, ApiError> {
    check_account_id("account_id", &new.account_id)?;
    let trail = trail_of(&new, sources)?;
    let policy = iam_policy(trail.as_ref());
    let sealing = Sealing {
        tenant,
        account_id: &new.account_id,
        secrets,
    };
    let sealed = sealing.key(
        ("role_name", new.role_name.is_some()),
        ("access_key", new.access_key.as_ref()),
        KeyUse::Read,
    )?;
    let remediation_sealed = sealing.key(
        ("remediation_role_name", new.remediation_role_name.is_some()),
        (
            "remediation_access_key",
            new.remediation_access_key.as_ref(),
        ),
        KeyUse::Act,
    )?;
    if let Some(name) = new.name.as_deref().filter(|n| !valid_name(n)) {
        return Err(ApiError::BadRequest(format!(
            "name {name:?}: 1 to {MAX_NAME} printable characters"
        )));
    }
    let read_role_arn = new
        .role_name
        .as_deref()
        .map(|role| role_arn("role_name", &new.account_id, role))
        .transpose()?;
    let remediation_role_arn = new
        .remediation_role_name
        .as_deref()
        .map(|role| role_arn("remediation_role_name", &new.account_id, role))
        .transpose()?;
    ensure_tenant(stores, tenant).await?;
    let external_id = tenant_external_id(stores, tenant).await?;
    let account = Account {
        tenant: tenant.to_owned(),
        account_id: new.account_id,
        name: new.name,
        created_at: Utc::now(),
        role_arn: read_role_arn,
        external_id: Some(external_id.clone()),
        access_key_id: new.access_key.as_ref().map(|k| k.access_key_id.clone()),
        remediation_role_arn,
        remediation_access_key_id: new
            .remediation_access_key
            .as_ref()
            .map(|k| k.access_key_id.clone()),
    };
    stores.tenants.add_account(&account).await?;
    for (which, sealed) in [(KeyUse::Read, sealed), (KeyUse::Act, remediation_sealed)] {
        let Some(sealed) = sealed else { continue };
        if let Err(e) = stores
            .tenants
            .put_account_secret(tenant, &account.account_id, which, &sealed)
            .await
        {
            // No account may stay behind without its secret: it could never be used.
            let _ = stores
                .tenants
                .remove_account(tenant, &account.account_id)
                .await;
            return Err(e.into());
        }
    }
    if let (Some(location), Some(sources)) = (trail, sources) {
        let trail = Trail {
            tenant: tenant.to_owned(),
            account_id: account.account_id.clone(),
            location,
        };
        if let Err(e) = sources.put_trail(&trail).await {
            let _ = stores
                .tenants
                .remove_account(tenant, &account.account_id)
                .await;
            return Err(e.into());
        }
    }
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
        iam_policy: policy,
        ingest_token,
        quick_create_url: None,
    })
}

/// The trail bucket a new account is to be polled from, checked: a location that parses, on a
/// server that polls, for an account it can read (a role or an access key).
fn trail_of(
    new: &NewAccount,
    sources: Option<&dyn SourceStore>,
) -> Result<Option<TrailLocation>, ApiError> {
    let Some(text) = &new.cloudtrail_s3 else {
        return Ok(None);
    };
    let location: TrailLocation = text
        .parse()
        .map_err(|e: dd0c_ports::PortError| ApiError::BadRequest(format!("cloudtrail_s3: {e}")))?;
    if sources.is_none() {
        return Err(ApiError::Conflict(
            "this server polls no trail buckets: CloudTrail arrives through EventBridge".into(),
        ));
    }
    if new.role_name.is_none() && new.access_key.is_none() {
        return Err(ApiError::Conflict(
            "cloudtrail_s3: the bucket is read as the account: give a role_name or an access_key"
                .into(),
        ));
    }
    Ok(Some(location))
}

/// Longest account name.
const MAX_NAME: usize = 256;

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.chars().count())
        && !name.contains(dd0c_ports::text::is_unprintable)
}

/// The ARN of role `name` in `account_id`; a name IAM would refuse is refused here, as `field`.
fn role_arn(field: &str, account_id: &str, name: &str) -> Result<String, ApiError> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if valid {
        Ok(format!("arn:aws:iam::{account_id}:role/{name}"))
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} {name:?}: up to 64 letters, digits and +=,.@_-"
        )))
    }
}

/// An account id from a path: one of another shape names no account.
fn path_account(account_id: &str) -> Result<&str, ApiError> {
    if dd0c_ports::domain::is_account_id(account_id) {
        Ok(account_id)
    } else {
        Err(ApiError::NotFound(format!("no account {account_id:?}")))
    }
}

/// Removes an account and its ingest tokens (admins).
#[utoipa::path(delete, path = "/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path, pattern = "^[0-9]{12}$")),
    responses((status = 204, description = "Removed"), Missing, AdminOnly, Signed),
    security(("bearer" = [])))]
pub(crate) async fn remove(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let account_id = path_account(&account_id)?;
    offboard(
        &api.stores,
        api.sources.as_deref(),
        &caller.0.tenant,
        account_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an account — `DELETE /v1/accounts/{id}` and `dd0c-cost account remove` alike: the
/// account with its ingest tokens (they admit nothing from now on, open agent streams included)
/// and its trail, where trails are polled.
pub async fn offboard(
    stores: &Stores,
    sources: Option<&dyn SourceStore>,
    tenant: &str,
    account_id: &str,
) -> Result<(), ApiError> {
    stores.tenants.remove_account(tenant, account_id).await?;
    if let Some(sources) = sources {
        sources.remove_trail(tenant, account_id).await?;
    }
    Ok(())
}

/// A new ingest token (shown once) and the hash it is stored and revoked by.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The token (`dd0c_ing_…`), shown this once.
    ingest_token: String,
    /// Its SHA-256, hex: what revokes it.
    token_sha256: String,
}

/// A further ingest token for an account (admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/tokens", tag = "accounts",
    params(("account_id" = String, Path, pattern = "^[0-9]{12}$")),
    responses((status = 201, description = "The token", body = NewToken), Missing, AdminOnly, Signed),
    security(("bearer" = [])))]
pub(crate) async fn add_token(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(account_id): Path<String>,
) -> Result<Response, ApiError> {
    caller.admin()?;
    let account_id = path_account(&account_id)?.to_owned();
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

/// Revokes an ingest token by its hash (admins).
#[utoipa::path(delete, path = "/v1/tokens/{token_sha256}", tag = "accounts",
    params(("token_sha256" = String, Path, pattern = "^[0-9a-f]{64}$")),
    responses((status = 204, description = "Revoked"), Missing, AdminOnly, Signed),
    security(("bearer" = [])))]
pub(crate) async fn revoke_token(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(hash): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.admin()?;
    let is_hash = hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !is_hash {
        return Err(ApiError::NotFound("no such ingest token".into()));
    }
    // Another tenant's token is answered like an unknown one.
    match api.stores.tokens.grant(&hash).await? {
        Some(grant) if grant.tenant == caller.0.tenant => {
            api.stores.tokens.revoke_token(&hash).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::NotFound("no such ingest token".into())),
    }
}

/// Which baselines. An empty value is the same as none.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BaselineQuery {
    /// One AWS account's.
    #[param(pattern = "^([0-9]{12})?$")]
    account: Option<String>,
}

/// The tenant's baselines: what the scorer has learned per account and resource kind.
#[utoipa::path(get, path = "/v1/baselines", tag = "baselines", params(BaselineQuery),
    responses((status = 200, description = "The baselines", body = Vec<Baseline>), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn baselines(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<BaselineQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Baseline>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let account = given(&query.account);
    if let Some(account) = account {
        check_account_id("account", account)?;
    }
    let baselines = api.stores.score.baselines(&principal.tenant, account).await;
    Ok(Json(baselines?))
}

/// The width of a point of the cost series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// An hour.
    Hour,
    /// A day (UTC).
    #[default]
    Day,
}

impl Bucket {
    fn width(self) -> TimeDelta {
        match self {
            Bucket::Hour => TimeDelta::hours(1),
            Bucket::Day => TimeDelta::days(1),
        }
    }
}

/// The series' range and width.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CostQuery {
    /// From this time on (RFC 3339; default: seven days before `to`).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<String>,
    /// Before this time (RFC 3339; default: now). A range that ends before it starts holds
    /// nothing.
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<String>,
    /// The width of a point (default `day`).
    #[param(value_type = Option<Bucket>)]
    bucket: Option<String>,
}

/// New spend per bucket: the $/h of resources created in it, by account and resource kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostSeries {
    /// The width of a point.
    bucket: Bucket,
    /// The range's start.
    from: DateTime<Utc>,
    /// The range's end.
    to: DateTime<Utc>,
    /// One line per account and resource kind.
    series: Vec<Series>,
}

/// One line of the chart.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    /// The AWS account.
    account_id: String,
    /// The resource kind.
    resource_kind: String,
    /// Its buckets with spend, in time order.
    points: Vec<Point>,
}

/// One bucket of a line.
#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    /// The bucket's start.
    at: DateTime<Utc>,
    /// USD per hour of the resources created in it.
    hourly_usd: f64,
    /// How many cost events.
    events: u32,
}

/// New spend over time: the $/h of resources created per bucket, by account and kind.
#[utoipa::path(get, path = "/v1/costs", tag = "baselines", params(CostQuery),
    responses((status = 200, description = "The series", body = CostSeries), Invalid, Signed),
    security(("bearer" = [])))]
pub(crate) async fn costs(
    State(api): State<Arc<Api>>,
    Caller(principal): Caller,
    query: Result<Query<CostQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CostSeries>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let bucket = match query.bucket.as_deref() {
        None => Bucket::default(),
        Some(text) => serde_json::from_value(Value::from(text))
            .map_err(|_| ApiError::BadRequest(format!("bucket {text:?}: hour or day")))?,
    };
    let width = bucket.width();
    let to = time_param("to", query.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = time_param("from", query.from.as_deref())?.unwrap_or(to - TimeDelta::days(7));
    let events = if from < to {
        let events = &api.stores.events;
        let found = events.cost_events(&principal.tenant, from, to, MAX_SERIES_EVENTS);
        found.await?
    } else {
        Vec::new()
    };
    // (account, kind) → bucket start → ($/h created, events).
    type Buckets = BTreeMap<DateTime<Utc>, (f64, u32)>;
    let mut lines: BTreeMap<(String, String), Buckets> = BTreeMap::new();
    // Stops and ends begin no spend (what they take away is the ledger's to say).
    for event in events.into_iter().filter(|e| e.change.is_priced()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON block after `<!-- iam-policy: MARK -->` in docs/self-hosted.md.
    fn documented_policy(mark: &str) -> Value {
        let doc = include_str!("../../../docs/self-hosted.md");
        let after = doc
            .split_once(&format!("<!-- iam-policy: {mark} -->"))
            .unwrap_or_else(|| panic!("docs/self-hosted.md has no iam-policy block {mark:?}"))
            .1;
        let block = after
            .split_once("```json\n")
            .and_then(|(_, rest)| rest.split_once("```"))
            .expect("a ```json block follows the mark")
            .0;
        serde_json::from_str(block).expect("the documented policy is JSON")
    }

    #[test]
    fn the_self_hosted_guide_documents_the_policy_the_api_hands_out() {
        assert_eq!(documented_policy("read-only"), iam_policy(None));
        let trail = TrailLocation {
            bucket: "example-trail-bucket".into(),
            prefix: String::new(),
        };
        assert_eq!(
            documented_policy("trail-bucket example-trail-bucket"),
            iam_policy(Some(&trail))
        );
    }
}
