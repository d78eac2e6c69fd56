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
use crate::serve::{roles, terminated, Dispatcher, Role, ServeConfig};

pub async fn serve(backend_args: &BackendArgs, args: ServeArgs) -> Result<ExitCode> {
    let roles = roles(&args.role);
    let jwt_secret = args.jwt_secret.clone().filter(|s| !s.is_empty());
    if let Some(why) = jwt_secret
        .as_deref()
        .and_then(dd0c_adapters_jwt::weak_secret)
    {
        anyhow::bail!(why);
    }
    let persistent = backend_args.database_url.is_some();
    if persistent && roles.contains(&Role::Api) && jwt_secret.is_none() {
        anyhow::bail!("DD0C_JWT_SECRET must be set for the api role on Postgres: dashboard tokens are signed with it (e.g. `openssl rand -hex 32`)");
    }
    let backend = Backend::from_args(backend_args).await?;
    tracing::info!(backend = %backend.description, roles = ?roles, "dd0c-cost serve starting");
    let catalog = match &args.catalog {
        Some(path) => Arc::new(PriceCatalog::from_path(path)?),
        None => PriceCatalog::bundled(),
    };
    if let Some(dir) = &args.demo {
        queue_sample(&backend, dir).await?;
    }
    let listener = if roles.contains(&Role::Api) {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tracing::info!(address = %listener.local_addr()?, "HTTP API: POST /v1/events, /v1/auth/login, /v1/anomalies…, GET /healthz /readyz /metrics");
        if jwt_secret.is_none() {
            tracing::warn!("DD0C_JWT_SECRET is not set: dashboard tokens are signed with a random key and end with this process");
        }
        Some(listener)
    } else {
        None
    };
    let config = ServeConfig {
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
        metrics_tenant_labels: args.metrics_tenant_labels,
        max_event_skew: chrono::TimeDelta::minutes(i64::from(args.max_event_skew_minutes)),
        poll_every: Duration::from_secs(args.poll_seconds),
        http: crate::server::Limits {
            header_timeout: Duration::from_secs(args.header_timeout_seconds.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout_seconds.max(1)),
            max_connections: args.max_connections.max(1),
        },
        replica: format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            std::process::id()
        ),
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        terminated().await;
        tracing::info!("shutting down: finishing work in hand");
        stop.cancel();
    });
    let roles_ingest = config.roles.contains(&Role::Ingest);
    let dispatcher = Dispatcher::new(backend, config, catalog)?;
    let agents = match args.grpc_listen.filter(|_| roles_ingest) {
        Some(address) => {
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
            Some(tokio::spawn(crate::grpc::serve(
                dispatcher.clone(),
                listener,
                tls,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    dispatcher.run(listener, shutdown).await?;
    if let Some(agents) = agents {
        agents.await.context("the gRPC listener")??;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
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
        dd0c_ingest::split_records(&bytes, &source.label(), &mut |record| {
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
        });
    }
    records.sort_by_key(|r| r.event_time);
    Ok(records)
}

/// Queues the CloudTrail under `dir` for tenant `default`, creating the tenant and its accounts.
pub async fn queue_sample(backend: &Backend, dir: &std::path::Path) -> Result<()> {
    let records = sample_records(dir)?;
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
