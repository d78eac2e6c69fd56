//! # dd0c-agent
//!
//! A small process in the customer's VPC that forwards CloudTrail to a self-hosted dd0c/cost
//! over gRPC, in seconds rather than CloudTrail's S3 delivery delay.
//!
//! Map:
//! - [`Agent`] — the settings (flags and `DD0C_AGENT_*` variables) and [`run`].
//! - the sources, one of: [`sqs`] — an SQS queue an EventBridge rule in the account fills with
//!   "AWS API Call via CloudTrail" events (seconds of latency); [`bucket`] — the trail bucket,
//!   through the dispatcher's own poller code. Records are filtered ([`Filter`]) and spooled.
//! - [`spool`] — batches on disk until the dispatcher acknowledges them.
//! - [`forward`] — the gRPC stream to the dispatcher and the heartbeats.

pub mod bucket;
pub mod forward;
pub mod spool;
pub mod sqs;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dd0c_ingest::{Item, Normalizer, PriceCatalog, SkipReason};
use tokio_util::sync::CancellationToken;

/// Most records one spooled batch holds: well within what the dispatcher admits in one batch
/// (`dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH`).
pub const BATCH_RECORDS: usize = 1_000;

/// What the agent forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Forward {
    /// Every change: the records the shared normalizer does not classify as reads or failed
    /// calls — most of CloudTrail's volume — so what later prices depend on still arrives.
    Cost,
    /// Every record.
    All,
}

/// The agent's settings.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "dd0c-agent",
    version,
    about = "Forwards CloudTrail to dd0c/cost over gRPC."
)]
pub struct Agent {
    /// The dispatcher's gRPC address (https://host:port with TLS, http:// without).
    #[arg(long, env = "DD0C_AGENT_ENDPOINT")]
    pub endpoint: String,
    /// The account's ingest token (`dd0c-cost account add` prints it).
    #[arg(long, env = "DD0C_AGENT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A PEM CA certificate to trust for the dispatcher (a private CA); unset: the web's roots.
    #[arg(long, env = "DD0C_AGENT_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// The SQS queue an EventBridge rule fills with "AWS API Call via CloudTrail" events.
    #[arg(
        long,
        env = "DD0C_AGENT_SQS_QUEUE_URL",
        required_unless_present = "cloudtrail_s3",
        conflicts_with = "cloudtrail_s3"
    )]
    pub sqs_queue_url: Option<String>,
    /// Instead of a queue: the account's CloudTrail bucket, `s3://BUCKET[/PREFIX]`, read with
    /// the host's credentials.
    #[arg(
        long = "cloudtrail-s3",
        env = "DD0C_AGENT_CLOUDTRAIL_S3",
        requires = "account_id"
    )]
    pub cloudtrail_s3: Option<dd0c_ports::sources::TrailLocation>,
    /// The account whose folders of the bucket are read (its ingest token's account).
    #[arg(long = "account-id", env = "DD0C_AGENT_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Seconds between polls of the bucket.
    #[arg(long, default_value_t = 60, env = "DD0C_AGENT_POLL_SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_seconds: u64,
    /// What to forward.
    #[arg(long, value_enum, default_value = "cost", env = "DD0C_AGENT_FORWARD")]
    pub forward: Forward,
    /// Where batches wait for the dispatcher, and the agent keeps its id.
    #[arg(
        long,
        default_value = "/var/lib/dd0c-agent",
        env = "DD0C_AGENT_SPOOL_DIR"
    )]
    pub spool_dir: PathBuf,
    /// The most the spool holds; when full, the source pauses (SQS keeps the rest).
    #[arg(long, default_value_t = 256 << 20, env = "DD0C_AGENT_SPOOL_MAX_BYTES")]
    pub spool_max_bytes: u64,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 30, env = "DD0C_AGENT_HEARTBEAT_SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub heartbeat_seconds: u64,
    /// Bytes one gzip trail file may inflate to; a file past it is skipped and logged.
    #[arg(long, default_value_t = dd0c_ingest::inflate::DEFAULT_MAX_INFLATED_BYTES, env = "DD0C_MAX_INFLATED_BYTES")]
    pub max_inflated_bytes: usize,
}

/// Decides what is forwarded, with the shared normalizer.
#[allow(missing_debug_implementations)]
pub struct Filter {
    normalizer: Mutex<Normalizer>,
    forward: Forward,
}

impl Filter {
    /// A filter by `forward`.
    pub fn new(forward: Forward) -> Self {
        Filter {
            normalizer: Mutex::new(Normalizer::new(PriceCatalog::bundled(), "agent")),
            forward,
        }
    }

    /// Whether `record` is forwarded.
    pub fn keeps(&self, record: &str) -> bool {
        if self.forward == Forward::All {
            return true;
        }
        let item = self
            .normalizer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .normalize_record(record, "sqs", 0);
        !matches!(
            item,
            Item::Skipped(SkipReason::ReadOnly | SkipReason::FailedCall) | Item::Rejected(_)
        )
    }
}

/// The `eventTime` of a record, if it has one.
pub fn event_time(record: &str) -> Option<DateTime<Utc>> {
    let value: serde_json::Value = serde_json::from_str(record).ok()?;
    DateTime::parse_from_rfc3339(value.get("eventTime")?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What the agent has done, for its heartbeats.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records forwarded and acknowledged.
    pub forwarded: std::sync::atomic::AtomicU64,
    /// The newest event time read, in Unix milliseconds.
    pub newest_ms: std::sync::atomic::AtomicI64,
}

/// Runs the agent until `shutdown`: the source and the forwarder side by side.
pub async fn run(agent: Agent, shutdown: CancellationToken) -> anyhow::Result<()> {
    dd0c_grpc::install_crypto();
    let spool = Arc::new(spool::Spool::open(&agent.spool_dir, agent.spool_max_bytes)?);
    let stats = Arc::new(Stats::default());
    let wake = Arc::new(tokio::sync::Notify::new());
    let forwarder = forward::Forwarder::new(&agent, spool.clone(), stats.clone(), wake.clone())?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let filter = Filter::new(agent.forward);
    tracing::info!(endpoint = %agent.endpoint, forward = ?agent.forward, "dd0c-agent starting");
    match (
        &agent.sqs_queue_url,
        &agent.cloudtrail_s3,
        &agent.account_id,
    ) {
        (Some(url), _, _) => {
            let source = sqs::SqsSource {
                queue: dd0c_adapters_aws::EventQueue::new(&config, url),
                filter,
                spool,
                stats,
                wake,
            };
            tokio::join!(source.run(shutdown.clone()), forwarder.run(shutdown));
        }
        (None, Some(location), Some(account_id)) => {
            let state = dd0c_adapters_memory::MemorySources::persisted(
                &agent.spool_dir.join("sources.json"),
            )?;
            let poller = dd0c_ingest::trail::Poller::new(
                Arc::new(state),
                Arc::new(bucket::HostTrails(config)),
                Arc::new(bucket::ToSpool {
                    filter,
                    inflate: dd0c_ingest::inflate::InflateLimit(agent.max_inflated_bytes),
                    spool: spool.clone(),
                    stats,
                    wake,
                }),
            );
            let trail = dd0c_ports::sources::Trail {
                tenant: "agent".to_owned(),
                account_id: account_id.clone(),
                location: location.clone(),
            };
            let every = std::time::Duration::from_secs(agent.poll_seconds);
            tokio::join!(
                bucket::run(poller, trail, spool, every, shutdown.clone()),
                forwarder.run(shutdown)
            );
        }
        _ => anyhow::bail!("give --sqs-queue-url, or --cloudtrail-s3 with --account-id"),
    }
    Ok(())
}
