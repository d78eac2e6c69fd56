//! Wiring for `dd0c-cost serve`: logging, the backend, the demo data, the listener, signals.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use dd0c_ingest::handler::IngestMessage;
use dd0c_ingest::input;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::domain::{Account, Tenant, DEFAULT_TENANT};
use dd0c_ports::PortError;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::cli::{BackendArgs, ServeArgs};
use crate::consumer::ConsumerConfig;
use crate::serve::{listens, roles, terminated, Dispatcher, Role, ServeConfig};

/// `dd0c-cost serve`: checks the settings, opens the backend, queues the demo's sample, binds
/// the HTTP listener, says where everything is, then runs the dispatcher (and the agents' gRPC
/// listener) until SIGINT or SIGTERM, finishing the work in hand.
pub async fn serve(backend_args: &BackendArgs, args: ServeArgs) -> Result<ExitCode> {
    let roles = roles(&args.process.role);
    let jwt_secret = checked_jwt_secret(&args, &roles, backend_args.database_url.is_some())?;
    let backend = crate::admin::open_backend(backend_args).await?;
    tracing::info!(backend = %backend.description, roles = ?roles, "dd0c-cost serve starting");
    let catalog = match &args.catalog {
        // The first update writes it.
        Some(path) if args.catalog_update && !path.exists() => PriceCatalog::bundled(),
        Some(path) => Arc::new(PriceCatalog::from_path(path)?),
        None => PriceCatalog::bundled(),
    };
    dd0c_ingest::catalog::refresh::warn_if_stale(&catalog, Utc::now());
    if let Some(dir) = &args.demo {
        let records = rebased(sample_records(dir)?, Utc::now());
        queue_records(&backend, records, dir).await?;
    }
    let config = serve_config(&args, roles, jwt_secret)?;
    let listener = match listens(&config.roles) {
        true => Some(
            tokio::net::TcpListener::bind(&args.process.listen)
                .await
                .with_context(|| format!("listening on {}", args.process.listen))?,
        ),
        false => None,
    };
    if let Some(listener) = &listener {
        announce(&backend, &args, &config, listener.local_addr()?).await?;
    }
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        terminated().await;
        tracing::info!("shutting down: finishing work in hand");
        stop.cancel();
    });
    let ingests = config.roles.contains(&Role::Ingest);
    let dispatcher = Dispatcher::new(backend, config, catalog)?;
    let agents = match args.grpc_listen.filter(|_| ingests) {
        Some(address) => Some(listen_for_agents(&args, address, &dispatcher, &shutdown).await?),
        None => None,
    };
    dispatcher.run(listener, shutdown).await?;
    if let Some(agents) = agents {
        agents.await.context("the gRPC listener")??;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The dashboard tokens' signing secret: refused when weak, and required where tokens must
/// outlive the process (the api role on Postgres).
fn checked_jwt_secret(
    args: &ServeArgs,
    roles: &std::collections::BTreeSet<Role>,
    persistent: bool,
) -> Result<Option<String>> {
    let jwt_secret = args.jwt_secret.clone().filter(|s| !s.is_empty());
    if let Some(why) = jwt_secret
        .as_deref()
        .and_then(dd0c_adapters_jwt::weak_secret)
    {
        anyhow::bail!(why);
    }
    if persistent && roles.contains(&Role::Api) && jwt_secret.is_none() {
        anyhow::bail!("DD0C_JWT_SECRET must be set for the api role on Postgres: dashboard tokens are signed with it (e.g. `openssl rand -hex 32`)");
    }
    Ok(jwt_secret)
}

/// The dispatcher's settings from the command line; fails when the dashboard role has no
/// build to serve.
fn serve_config(
    args: &ServeArgs,
    roles: std::collections::BTreeSet<Role>,
    jwt_secret: Option<String>,
) -> Result<ServeConfig> {
    let dashboard = dashboard(args)?;
    if roles.contains(&Role::Dashboard) && !roles.contains(&Role::Api) && dashboard.is_none() {
        anyhow::bail!(
            "the dashboard role needs the built app: {}",
            dd0c_api::dashboard::BUILD_HINT
        );
    }
    Ok(ServeConfig {
        roles,
        consumer: ConsumerConfig {
            batch: args.batch_size.max(1),
            visibility: Duration::from_secs(args.visibility_seconds.max(1)),
            max_receives: args.max_receives.max(1),
            concurrency: args.consumers.max(1),
            ..ConsumerConfig::default()
        },
        max_body: args.max_body_bytes,
        retention_every: Duration::from_secs(args.retention_every_seconds.max(1)),
        slack_signing_secret: args.slack_signing_secret.clone().filter(|s| !s.is_empty()),
        jwt_secret,
        trusted_proxies: args.trusted_proxies.clone(),
        metrics_token: args.metrics_token.clone().filter(|s| !s.is_empty()),
        metrics_public: args.metrics_public,
        metrics_tenant_labels: args.metrics_tenant_labels,
        max_event_skew: chrono::TimeDelta::minutes(i64::from(args.max_event_skew_minutes)),
        inflate: args.inflate.limit(),
        poll_every: Duration::from_secs(args.poll_seconds),
        http: crate::server::Limits {
            header_timeout: Duration::from_secs(args.header_timeout_seconds.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout_seconds.max(1)),
            max_connections: args.max_connections.max(1),
        },
        grpc: crate::grpc::Limits {
            max_connections: args.grpc_max_connections.max(1),
            handshake_timeout: Duration::from_secs(args.header_timeout_seconds.max(1)),
            idle_timeout: Duration::from_secs(args.grpc_idle_seconds.max(1)),
            max_streams: args.grpc_max_streams.max(1),
        },
        // Containers on one host's network share its name, and each is process 1: the random
        // part keeps replicas apart in job claims.
        replica: format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id(),
            &dd0c_api::accounts::random_secret()[..8]
        ),
        cognito: cognito_pool(&args.cognito),
        dashboard,
        health_file: args.process.health_file.clone(),
        catalog: args.catalog.clone().map(|path| crate::serve::CatalogFile {
            path,
            update_from: args.catalog_update.then(|| args.price_list_url.clone()),
            reload_every: Duration::from_secs(args.catalog_reload_seconds.max(1)),
        }),
    })
}

/// Logs what answers at `address`: the API, the dashboard (or how to build it), the demo's
/// sign-in (a fresh password for [`DEMO_USER`]), and a warning when tokens die with the process.
async fn announce(
    backend: &Backend,
    args: &ServeArgs,
    config: &ServeConfig,
    address: std::net::SocketAddr,
) -> Result<()> {
    let api = config.roles.contains(&Role::Api);
    let url = format!("http://{address}/");
    if api {
        tracing::info!(%address, "HTTP API: POST /v1/events, /v1/auth/login, /v1/anomalies…, GET /healthz /readyz /metrics");
    }
    match &config.dashboard {
        Some(dashboard) => tracing::info!(%url, dir = %dashboard.dir.display(), "dashboard"),
        None => tracing::info!("no dashboard here: {}", dd0c_api::dashboard::BUILD_HINT),
    }
    if api && args.demo.is_some() && config.cognito.is_none() {
        let password = demo_user(backend).await?;
        tracing::info!(%url, email = %DEMO_USER, %password, "demo: sign in to the dashboard as the tenant `default`'s admin");
    }
    if api && config.jwt_secret.is_none() && config.cognito.is_none() {
        tracing::warn!("DD0C_JWT_SECRET is not set: dashboard tokens are signed with a random key and end with this process");
    }
    Ok(())
}

/// Binds the agents' gRPC listener at `address` (with TLS when a certificate and key are
/// given) and serves it beside `dispatcher` until `shutdown`.
async fn listen_for_agents(
    args: &ServeArgs,
    address: std::net::SocketAddr,
    dispatcher: &Dispatcher,
    shutdown: &CancellationToken,
) -> Result<tokio::task::JoinHandle<Result<()>>> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for agents on {address} (DD0C_GRPC_LISTEN)"))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::grpc::Tls {
            cert: std::fs::read(cert)
                .with_context(|| format!("reading DD0C_TLS_CERT {}", cert.display()))?,
            key: std::fs::read(key)
                .with_context(|| format!("reading DD0C_TLS_KEY {}", key.display()))?,
        }),
        _ => None,
    };
    tracing::info!(%address, tls = tls.is_some(), "listening for agents (gRPC)");
    Ok(tokio::spawn(crate::grpc::serve(
        dispatcher.clone(),
        listener,
        tls,
        shutdown.clone(),
    )))
}

/// The Cognito pool of `args`, when one is named.
fn cognito_pool(args: &crate::cli::CognitoArgs) -> Option<dd0c_adapters_jwt::CognitoConfig> {
    let issuer = args.cognito_issuer.as_deref()?;
    let client = args.cognito_client_id.as_deref().unwrap_or_default();
    let mut pool = dd0c_adapters_jwt::CognitoConfig::new(issuer, client);
    pool.jwks_url = args.cognito_jwks_url.clone();
    pool.token_use = args.cognito_token_use;
    Some(pool)
}

/// The dashboard to serve: the directory given, else with `--demo` the repository's build when
/// there is one; its sign-in local, or Cognito's hosted page when a pool is named.
fn dashboard(args: &ServeArgs) -> Result<Option<dd0c_api::dashboard::Dashboard>> {
    use dd0c_api::dashboard::{Config, Dashboard, HostedUi};
    let built = std::path::Path::new(DEMO_DASHBOARD_DIR);
    let dir = match (&args.dashboard_dir, &args.demo) {
        (Some(dir), _) => dir.as_path(),
        (None, Some(_)) if built.join("index.html").is_file() => built,
        (None, _) => return Ok(None),
    };
    let config = match (
        &args.cognito.cognito_domain,
        &args.cognito.cognito_client_id,
    ) {
        (Some(domain), Some(client_id)) => Config::cloud(HostedUi {
            domain: domain.clone(),
            client_id: client_id.clone(),
            redirect_uri: None,
        }),
        _ => Config::local(),
    };
    Dashboard::new(dir, config)
        .map(Some)
        .context("DD0C_DASHBOARD_DIR")
}

/// Where `--demo` finds the dashboard's build, from the repository's root.
const DEMO_DASHBOARD_DIR: &str = "dashboard/dist";

/// The demo's dashboard user, an admin of tenant `default`.
pub const DEMO_USER: &str = "demo@dd0c.local";

/// Gives [`DEMO_USER`] a new random password (adding the user on first use); the password.
async fn demo_user(backend: &Backend) -> Result<String> {
    // 80 random bits, short enough to type.
    let password = dd0c_api::accounts::random_secret()[..20].to_owned();
    let password_hash = dd0c_api::passwords::hash(&password)?;
    let users = &backend.stores.users;
    if users.user(DEMO_USER).await?.is_some() {
        users.set_password_hash(DEMO_USER, &password_hash).await?;
    } else {
        users
            .add_user(&dd0c_ports::auth::User {
                tenant: DEFAULT_TENANT.into(),
                email: DEMO_USER.into(),
                role: dd0c_ports::auth::Role::Admin,
                password_hash,
            })
            .await?;
    }
    Ok(password)
}

/// One CloudTrail record of a sample directory.
#[derive(Debug, Clone)]
pub struct SampleRecord {
    /// Its `eventTime`.
    pub event_time: chrono::DateTime<Utc>,
    /// Its account.
    pub account_id: String,
    /// Its `eventID`, or one derived from its text.
    pub event_id: String,
    /// The record, verbatim.
    pub text: String,
}

/// Every record of the CloudTrail under `dir`, in time order: files come in path order
/// (account, region, day), CloudTrail delivers in time order, and baselines learn in the order
/// they are fed.
pub fn sample_records(dir: &std::path::Path) -> Result<Vec<SampleRecord>> {
    let sources = input::expand(&[dir.to_path_buf()]).map_err(|e| {
        anyhow::anyhow!(
            "--demo: {e} (run from the repository root, or pass the sample's directory)"
        )
    })?;
    let mut records = Vec::new();
    for source in &sources {
        let bytes = source
            .read()
            .with_context(|| format!("reading {}", source.label()))?;
        let limit = dd0c_ingest::inflate::InflateLimit::default();
        dd0c_ingest::split_records(&bytes, &source.label(), limit, &mut |record| {
            if let Ok(raw) = record {
                records.push(SampleRecord {
                    event_time: raw.event_time,
                    account_id: raw.account_id.clone(),
                    event_id: raw
                        .event_id
                        .clone()
                        .unwrap_or_else(|| dd0c_ingest::derived_event_id(raw.text)),
                    text: raw.text.to_owned(),
                });
            }
        })
        .with_context(|| format!("reading {}", source.label()))?;
    }
    records.sort_by_key(|r| r.event_time);
    Ok(records)
}

/// Moves `records` whole days forward so that the last falls within the day before `now`: the
/// demo's anomalies and spend then show in the dashboard's recent ranges, with their times of
/// day and the gaps between them as recorded.
pub fn rebased(mut records: Vec<SampleRecord>, now: chrono::DateTime<Utc>) -> Vec<SampleRecord> {
    let Some(last) = records.iter().map(|r| r.event_time).max() else {
        return records;
    };
    let days = (now - last).num_days();
    if days <= 0 {
        return records;
    }
    let shift = chrono::TimeDelta::days(days);
    for record in &mut records {
        // Every record came through `split_records`: it is a JSON object.
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&record.text) {
            record.event_time += shift;
            value["eventTime"] = record
                .event_time
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
                .into();
            record.text = value.to_string();
        }
    }
    records
}

/// Queues the CloudTrail under `dir` for tenant `default`, creating the tenant and its accounts.
pub async fn queue_sample(backend: &Backend, dir: &std::path::Path) -> Result<()> {
    queue_records(backend, sample_records(dir)?, dir).await
}

/// Queues `records` (read from `dir`) for tenant `default`, creating the tenant and its
/// accounts.
async fn queue_records(
    backend: &Backend,
    records: Vec<SampleRecord>,
    dir: &std::path::Path,
) -> Result<()> {
    match backend
        .stores
        .tenants
        .add_tenant(&Tenant {
            name: DEFAULT_TENANT.into(),
            created_at: Utc::now(),
        })
        .await
    {
        Ok(()) | Err(PortError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let accounts: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.account_id.as_str()).collect();
    for account_id in &accounts {
        let account = Account {
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
            tenant: DEFAULT_TENANT.into(),
            account_id: (*account_id).to_owned(),
            name: None,
            created_at: Utc::now(),
        };
        match backend.stores.tenants.add_account(&account).await {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let count = records.len();
    let batch = records
        .iter()
        .map(|r| IngestMessage::outgoing(DEFAULT_TENANT, &r.account_id, &r.event_id, &r.text))
        .collect::<Result<Vec<_>, _>>()?;
    for chunk in batch.chunks(500) {
        backend.ingest_queue.send_batch(chunk.to_vec()).await?;
    }
    tracing::info!(records = count, accounts = accounts.len(), directory = %dir.display(), "demo: queued the sample for tenant `default`; anomalies are logged as they are scored");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_moves_the_sample_whole_days_so_its_last_record_is_within_the_last_day() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail");
        let recorded = sample_records(&dir).expect("the sample");
        let now = Utc::now();
        let moved = rebased(recorded.clone(), now);
        let last = moved.iter().map(|r| r.event_time).max().expect("records");
        assert!(
            last <= now && now - last < chrono::TimeDelta::days(1),
            "{last}"
        );
        let shift = moved[0].event_time - recorded[0].event_time;
        assert_eq!(shift.num_seconds() % 86_400, 0, "whole days: {shift}");
        for (before, after) in recorded.iter().zip(&moved) {
            assert_eq!(after.event_time - before.event_time, shift);
            assert_eq!(after.event_id, before.event_id);
            let text: serde_json::Value = serde_json::from_str(&after.text).expect("json");
            let written = chrono::DateTime::parse_from_rfc3339(
                text["eventTime"].as_str().expect("eventTime"),
            )
            .expect("a time");
            assert_eq!(written, after.event_time);
        }
    }
}
