//! Configuration from the environment, the SDK configuration and JSON logs.
//!
//! | variable | used by | meaning |
//! |---|---|---|
//! | `DD0C_TABLE_NAME` | all | the DynamoDB table (required) |
//! | `DD0C_SCORE_QUEUE_URL` | ingest | the score queue, SQS FIFO (required there) |
//! | `DD0C_NOTIFY_QUEUE_URL` | score | the notifier's wake-up queue, SQS FIFO (required there) |
//! | `DD0C_ARCHIVE_BUCKET` | ingest | the S3 bucket of raw envelopes (required there) |
//! | `DD0C_ARCHIVE_BUCKET` | ingest, zombie, api, catalog | where the price catalog is kept (`catalog/aws-price-catalog.json`), read at cold start; unset: the bundled catalog (required by catalog) |
//! | `DD0C_PRICE_LIST_URL` | catalog | the AWS Price List's base URL (default AWS's public endpoint) |
//! | `DD0C_ACTIONS_QUEUE_URL` | actions, api, zombie | the queue of approved actions, SQS FIFO (required by actions; unset elsewhere: no action is requested or taken) |
//! | `DD0C_MAIL_FROM` | notify, digest, api (test alerts) | the SES sender; unset: nothing is e-mailed |
//! | `DD0C_COGNITO_ISSUER`, `DD0C_COGNITO_CLIENT_ID` | api | the user pool URL and app client (required there) |
//! | `DD0C_COGNITO_JWKS_URL` | api | where the pool's keys are, when not `{issuer}/.well-known/jwks.json` |
//! | `DD0C_COGNITO_TOKEN_USE` | api | the tokens the API takes: `access` (default) or `id` (a pool whose tenant attribute only ID tokens carry) |
//! | `DD0C_SLACK_SIGNING_SECRET` | api | the Slack app's signing secret; unset: `/v1/slack/actions` answers 404 |
//! | `DD0C_METRICS_TOKEN` | api | the bearer token `/metrics` asks for; unset: open |
//! | `DD0C_ONBOARDING_TEMPLATE_URL`, `DD0C_EVENT_BUS_ARN` | api | the customer template and the bus its rules forward to: a new account's quick-create link; unset: none |
//! | `DD0C_DASHBOARD_URL` | notify, api (test alerts) | the dashboard's public address, which Teams cards, PagerDuty incidents and webhook events link to; unset: no link |
//! | `DD0C_PAGERDUTY_EVENTS_URL` | notify, api (test alerts) | where PagerDuty events go (`https://events.pagerduty.com/v2/enqueue`) |
//! | `DD0C_OUTBOUND_PRIVATE_HOSTS` | notify, api | private hosts tenants' URLs may reach anyway (comma-separated) |
//! | `DD0C_LEDGER_RETENTION_DAYS` | all (the table) | days the ledger keeps a resource after it ended (400) |
//! | `DD0C_MAX_RECEIVES` | SQS functions | deliveries before a failing message is dead-lettered (5) |
//! | `DD0C_LOG` | all | the log filter (`info`) |
//! | `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | all | set by Lambda |
//! | `AWS_ENDPOINT_URL` | all | an emulator (moto) instead of AWS |

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use dd0c_function::trace::Telemetry;

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required variable is unset or empty.
    #[error("{0} is not set: see the table in dd0c-lambda's env module")]
    Missing(&'static str),
    /// A variable has a value that cannot work.
    #[error("{name}={value:?}: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A client could not be built.
    #[error("building {what}: {why}")]
    Client {
        /// Which client.
        what: &'static str,
        /// Why not.
        why: String,
    },
}

/// A required variable.
pub fn required(name: &'static str) -> Result<String, StartError> {
    optional(name).ok_or(StartError::Missing(name))
}

/// An optional variable (empty counts as unset).
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Deliveries of a failing message before it is dead-lettered, unless `DD0C_MAX_RECEIVES`.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// What every function starts from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The SDK configuration: region and credentials from Lambda's variables, and
    /// `AWS_ENDPOINT_URL` when set.
    pub aws: SdkConfig,
    /// `DD0C_TABLE_NAME`.
    pub table: String,
    /// `DD0C_MAX_RECEIVES`.
    pub max_receives: u32,
    /// `DD0C_LEDGER_RETENTION_DAYS`: days the ledger keeps a resource after it ended.
    pub ledger_retention_days: u32,
    /// The trace exporter, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub telemetry: Option<Telemetry>,
    /// The price catalog: the one `lambda-catalog` keeps in `DD0C_ARCHIVE_BUCKET`, read at cold
    /// start where that is set; else, or when it cannot be read, the bundled one.
    pub catalog: dd0c_ingest::Current,
}

impl Settings {
    /// Reads the common settings and starts JSON logging, and traces where
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` says.
    pub async fn load() -> Result<Settings, StartError> {
        let telemetry = init_logs()?;
        let region = required("AWS_REGION")?;
        let max_receives = count("DD0C_MAX_RECEIVES", DEFAULT_MAX_RECEIVES)?;
        let ledger_retention_days = count(
            "DD0C_LEDGER_RETENTION_DAYS",
            dd0c_ports::ledger::DEFAULT_LEDGER_RETENTION_DAYS,
        )?;
        let aws = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .load()
            .await;
        let catalog = catalog_at_start(&aws).await;
        Ok(Settings {
            aws,
            table: required("DD0C_TABLE_NAME")?,
            max_receives,
            ledger_retention_days,
            telemetry,
            catalog,
        })
    }

    /// Sends this invocation's spans before Lambda may freeze the process.
    pub async fn flush_traces(&self) {
        if let Some(telemetry) = self.telemetry.clone() {
            let _ = tokio::task::spawn_blocking(move || telemetry.flush()).await;
        }
    }
}

/// The catalog kept in `DD0C_ARCHIVE_BUCKET`, or the bundled one (with a warning when the kept
/// one cannot be read: pricing goes on).
async fn catalog_at_start(aws: &SdkConfig) -> dd0c_ingest::Current {
    use dd0c_ingest::catalog::refresh::{kept_or_bundled, warn_if_stale, ARCHIVE_KEY};
    use dd0c_ingest::PriceCatalog;
    let Some(bucket) = optional("DD0C_ARCHIVE_BUCKET") else {
        return PriceCatalog::bundled().into();
    };
    let archive = dd0c_adapters_aws::S3Archive::new(aws, &bucket);
    let catalog = kept_or_bundled(&archive, ARCHIVE_KEY)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the kept price catalog cannot be read: pricing with the bundled one");
            PriceCatalog::bundled()
        });
    warn_if_stale(&catalog, chrono::Utc::now());
    catalog.into()
}

/// A positive count in the variable `name`, `default` when unset.
fn count(name: &'static str, default: u32) -> Result<u32, StartError> {
    match optional(name) {
        None => Ok(default),
        Some(value) => match value.parse() {
            Ok(count) if count > 0 => Ok(count),
            Ok(_) => Err(StartError::Invalid {
                name,
                value,
                why: "not a positive count".into(),
            }),
            Err(e) => Err(StartError::Invalid {
                name,
                value,
                why: format!("not a count: {e}"),
            }),
        },
    }
}

/// JSON lines on stdout, which Lambda sends to CloudWatch Logs; and the pipeline's spans to
/// `OTEL_EXPORTER_OTLP_ENDPOINT` when set, as `OTEL_SERVICE_NAME` (the function's name unless
/// set).
fn init_logs() -> Result<Option<Telemetry>, StartError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_new(
        optional("DD0C_LOG").unwrap_or_else(|| "info".into()),
    )
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_ansi(false)
        .with_filter(filter);
    let service = optional("OTEL_SERVICE_NAME")
        .or_else(|| optional("AWS_LAMBDA_FUNCTION_NAME"))
        .unwrap_or_else(|| "dd0c-lambda".into());
    let endpoint = optional("OTEL_EXPORTER_OTLP_ENDPOINT");
    let (traces, telemetry) = dd0c_function::trace::install(endpoint.as_deref(), &service)
        .map_err(|e| StartError::Invalid {
            name: "OTEL_EXPORTER_OTLP_ENDPOINT",
            value: e.endpoint.clone(),
            why: e.why,
        })?
        .unzip();
    // A second load in one process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
    Ok(telemetry)
}

/// A failed invocation as Lambda reports it: `errorType` names the kind (`dd0c.NotFound`,
/// `dd0c.Unavailable`, …), `errorMessage` says what failed.
#[derive(Debug)]
pub struct Failure(pub dd0c_ports::PortError);

impl From<dd0c_ports::PortError> for Failure {
    fn from(error: dd0c_ports::PortError) -> Self {
        Failure(error)
    }
}

impl From<dd0c_function::FunctionError> for Failure {
    fn from(error: dd0c_function::FunctionError) -> Self {
        match error {
            dd0c_function::FunctionError::Port { source, .. } => Failure(source),
            other => Failure(dd0c_ports::PortError::Invalid(other.to_string())),
        }
    }
}

impl From<Failure> for lambda_runtime::Diagnostic {
    fn from(Failure(error): Failure) -> Self {
        use dd0c_ports::PortError::*;
        let kind = match &error {
            NotFound(_) => "NotFound",
            Conflict(_) => "Conflict",
            Invalid(_) => "Invalid",
            Unauthorized(_) => "Unauthorized",
            Unavailable(_) => "Unavailable",
            Backend { .. } => "Backend",
        };
        lambda_runtime::Diagnostic {
            error_type: format!("dd0c.{kind}"),
            error_message: error.to_string(),
        }
    }
}
