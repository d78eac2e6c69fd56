use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// dd0c/cost: catch expensive AWS mistakes minutes after the API call.
#[derive(Debug, Parser)]
#[command(name = "dd0c-cost", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub backend: BackendArgs,
}

impl Cli {
    /// The command line, with every setting's variable read where its flag is absent. A
    /// variable set to the empty string counts as unset (as compose files and shells leave
    /// them), so its default applies.
    pub fn from_env_and_args() -> Cli {
        let empty: Vec<std::ffi::OsString> = std::env::vars_os()
            .filter(|(name, value)| {
                let name = name.to_string_lossy();
                value.is_empty() && (name.starts_with("DD0C_") || name == "DATABASE_URL")
            })
            .map(|(name, _)| name)
            .collect();
        for name in empty {
            // Single-threaded still: nothing else reads the environment yet.
            std::env::remove_var(name);
        }
        Cli::parse()
    }
}

/// Where state lives and how alerts leave: every command that touches the backend reads these.
#[derive(Debug, Clone, Default, Args)]
pub struct BackendArgs {
    /// Postgres (queues on pgmq); unset: the embedded in-memory store, which keeps nothing.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The schema owner's connection: migrations run through it and DATABASE_URL may then be a
    /// role that owns nothing, so row-level security applies to it.
    #[arg(
        long,
        global = true,
        env = "DD0C_OWNER_DATABASE_URL",
        hide_env_values = true
    )]
    pub owner_database_url: Option<String>,
    /// Postgres connections per process [default: two per CPU, from 4 to 16].
    #[arg(long, global = true, env = "DD0C_DB_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub db_connections: Option<u32>,
    /// Private hosts (names or addresses, comma-separated) that URLs tenants set may reach
    /// anyway, over http too: an in-house relay. Every other such URL must be https to a
    /// public address; loopback, private, link-local and metadata addresses are refused.
    #[arg(
        long,
        global = true,
        env = "DD0C_OUTBOUND_PRIVATE_HOSTS",
        value_delimiter = ','
    )]
    pub outbound_private_hosts: Vec<String>,
    /// Redis for panic mode and circuit breakers shared by every replica; unset: in-process.
    #[arg(long, global = true, env = "DD0C_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// CloudTrail records one tenant may send per second, counted over push, agents, the trail
    /// poller and `backfill` (which wait behind live traffic) and shared by every replica
    /// through DD0C_REDIS_URL; a push over it is refused with 429 and Retry-After. Unset: no
    /// limit.
    #[arg(long, global = true, env = "DD0C_TENANT_EVENTS_PER_SECOND", value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_events_per_second: Option<u32>,
    /// How many records one tenant may send at once before its rate applies; unset: ten
    /// seconds' worth. A larger push still passes when the tenant's allowance is whole, and is
    /// repaid before the next.
    #[arg(long, global = true, env = "DD0C_TENANT_EVENTS_BURST", value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_events_burst: Option<u32>,
    /// SMTP server for alert e-mail: smtp://user:pass@host:587?tls=required (STARTTLS),
    /// ?tls=opportunistic, smtps://user:pass@host:465 (implicit TLS), smtp://host:25 or
    /// ?tls=none (plain); unset: no e-mail.
    #[arg(long, global = true, env = "DD0C_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of alert e-mail (required with DD0C_SMTP_URL).
    #[arg(long, global = true, env = "DD0C_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The key customer secret keys are sealed under at rest: 32 bytes in hex (`openssl rand
    /// -hex 32`). Required to store or use an account's access key; keep it, or those accounts
    /// must be added again.
    #[arg(
        long,
        global = true,
        env = "DD0C_SECRETS_KEY",
        hide_env_values = true,
        value_parser = clap::value_parser!(dd0c_ports::secrets::SecretsKey)
    )]
    pub secrets_key: Option<dd0c_ports::secrets::SecretsKey>,
    /// Where raw CloudTrail records are kept: `file:///var/lib/dd0c/archive` or
    /// `s3://BUCKET[/PREFIX]` (S3 needs a build with `--features aws`); unset: not kept.
    #[arg(long, global = true, env = "DD0C_ARCHIVE")]
    pub archive: Option<crate::archive::ArchiveLocation>,
    /// The endpoint of an S3-compatible store (MinIO…) for an `s3://` archive; unset: AWS S3.
    #[arg(long, global = true, env = "DD0C_ARCHIVE_S3_ENDPOINT")]
    pub archive_s3_endpoint: Option<String>,
    /// Days raw records are kept in the archive; older days are deleted daily.
    #[arg(long, global = true, env = "DD0C_ARCHIVE_RETENTION_DAYS", default_value_t = crate::backend::DEFAULT_ARCHIVE_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..))]
    pub archive_retention_days: u32,
    /// Days the resource ledger keeps a resource after it ended; the retention job forgets
    /// older ones.
    #[arg(long, global = true, env = "DD0C_LEDGER_RETENTION_DAYS", default_value_t = dd0c_ports::ledger::DEFAULT_LEDGER_RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(1..))]
    pub ledger_retention_days: u32,
    /// Where PagerDuty events go (Events API v2); another address only for a relay or a test.
    #[arg(long, global = true, env = "DD0C_PAGERDUTY_EVENTS_URL", default_value = dd0c_notify::pagerduty::EVENTS_URL)]
    pub pagerduty_events_url: String,
    /// The dashboard's public address (`https://cost.example.com`): Teams cards, PagerDuty
    /// incidents and webhook events link to the anomaly's page there; unset, they carry no link.
    #[arg(long, global = true, env = "DD0C_DASHBOARD_URL")]
    pub dashboard_url: Option<String>,
    /// An OpenTelemetry receiver (`http://collector:4318`): one trace per batch of CloudTrail
    /// records across ingest, queue, score and notify goes to its `/v1/traces` (OTLP over HTTP,
    /// protobuf); unset, no span is made.
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The service the traces name; `dd0c-cost` unless set.
    #[arg(
        long,
        global = true,
        env = "OTEL_SERVICE_NAME",
        default_value = "dd0c-cost"
    )]
    pub otel_service_name: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn CloudTrail logs into priced cost events.
    Normalize(NormalizeArgs),
    /// Normalize and score CloudTrail logs in event-time order and print the anomalies.
    Analyze(AnalyzeArgs),
    /// Run the dispatcher: HTTP ingress, queue consumers and scheduler (Postgres when
    /// DATABASE_URL is set, else in memory).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and install pgmq (needs DATABASE_URL).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage AWS accounts and their ingest tokens.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Inspect anomalies.
    #[command(subcommand)]
    Anomalies(AnomaliesCommand),
    /// The resources dd0c/cost followed from creation to end, with their cost.
    #[command(subcommand)]
    Resources(ResourcesCommand),
    /// Run one function once on a fixture, like `sam local invoke`.
    Invoke(InvokeArgs),
    /// Inspect and redrive dead letters.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Build the price catalog from AWS Price List offer files, or update it from AWS.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Show or change a tenant's settings: alert routing, recipients, digest, thresholds.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Hold every outbound notification of a tenant (on), or deliver what was held (off).
    Panic(PanicArgs),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Find idle and forgotten resources in the tenant's AWS accounts, and their monthly waste.
    #[command(subcommand)]
    Zombies(ZombiesCommand),
    /// The actions requested on a tenant's resources: list them, approve or reject one.
    #[command(subcommand)]
    Actions(ActionsCommand),
    /// Read an account's older CloudTrail files — from its trail bucket since a day, or from a
    /// local directory — into scoring, with a progress bar and a rate summary.
    Backfill(BackfillArgs),
    /// Exit 0 when the `serve` process beside this one (same environment) is healthy: its
    /// listener answers /readyz, and its heartbeat file is fresh; for container healthchecks.
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum ZombiesCommand {
    /// Scan now and print every finding (open and ignored), most waste first; a summary line
    /// goes to stderr.
    Scan {
        #[arg(long)]
        tenant: String,
        /// One account (default: all of the tenant's).
        #[arg(long = "account")]
        account_id: Option<String>,
        /// Regions to scan (repeatable; default: those in the account's CloudTrail and the
        /// tenant's `zombies.regions` setting).
        #[arg(long = "region")]
        regions: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Judge as of this time (RFC 3339) instead of now.
        #[arg(long, value_name = "TIME")]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// List the stored findings, most waste first.
    List {
        #[arg(long)]
        tenant: String,
        /// Only these statuses (open, ignored, gone; comma-separated) [default: open,ignored].
        #[arg(long, value_delimiter = ',')]
        status: Vec<dd0c_ports::zombie::FindingStatus>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Leave a finding alone: later scans keep it ignored and no total counts it.
    Ignore {
        #[arg(long)]
        tenant: String,
        /// The finding id (`zf_…`).
        id: String,
        /// Why it is meant to be so.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// List a tenant's actions, the newest request first (`--status requested`: the approvals
    /// queue).
    List {
        #[arg(long)]
        tenant: String,
        /// Only these statuses (requested, approved, blocked, running, done, failed, rejected,
        /// refused; comma-separated) [default: all].
        #[arg(long, value_delimiter = ',')]
        status: Vec<dd0c_ports::remediation::ActionStatus>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Approve a requested (or blocked) action: it runs on the act role's next receive.
    Approve {
        #[arg(long)]
        tenant: String,
        /// The admin approving, by e-mail (the log names them; with two_person, not the
        /// requester).
        #[arg(long, value_name = "EMAIL")]
        by: String,
        /// The action id (`act_…`).
        id: String,
    },
    /// Reject a requested (or blocked) action.
    Reject {
        #[arg(long)]
        tenant: String,
        /// The admin rejecting, by e-mail.
        #[arg(long, value_name = "EMAIL")]
        by: String,
        /// The action id (`act_…`).
        id: String,
        /// Why, for the log.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from a prompt, or from stdin when it is not a terminal
    /// (never from the command line, where other users and shell history would see it).
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value = "member")]
        role: UserRole,
    },
}

/// A dashboard role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UserRole {
    /// Everything, settings and panic mode included.
    Admin,
    /// Read, and act on anomalies.
    Member,
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print the tenant's settings as JSON.
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Change settings: `slack_webhook_url=URL email_to=a@b,c@d email_min_severity=warning
    /// digest_hour=8 digest_time_zone=Europe/Berlin thresholds.warning_monthly_usd=250`.
    Set {
        #[arg(long)]
        tenant: String,
        /// KEY=VALUE pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
    },
    /// Make the tenant's webhook signing secret, replacing any before it, and print it (it is
    /// not shown again). `set webhook_url=…` makes one itself when there is none.
    WebhookSecret {
        #[arg(long)]
        tenant: String,
    },
}

/// Panic mode on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Hold notifications.
    On,
    /// Deliver them again, held ones first.
    Off,
}

#[derive(Debug, Args)]
pub struct PanicArgs {
    /// on or off.
    #[arg(value_enum)]
    pub state: Switch,
    #[arg(long)]
    pub tenant: String,
}

/// What a serving process is, as `serve` runs it and `healthcheck` checks it: both read the
/// same environment, so a container's healthcheck needs no flags.
#[derive(Debug, Clone, Args)]
pub struct ProcessArgs {
    /// Roles to run, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',', env = "DD0C_ROLES")]
    pub role: Vec<crate::serve::Role>,
    /// Address of the HTTP listener (the api and dashboard roles).
    #[arg(long, default_value = "127.0.0.1:8080", env = "DD0C_LISTEN")]
    pub listen: String,
    /// A file the process rewrites every few seconds while its backend answers, for
    /// `dd0c-cost healthcheck` (roles without a listener have nothing else to ask).
    #[arg(long, value_name = "FILE", env = "DD0C_HEALTH_FILE")]
    pub health_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Oldest heartbeat (DD0C_HEALTH_FILE) still healthy, in seconds.
    #[arg(long, default_value_t = 30, env = "DD0C_HEALTH_MAX_AGE_SECONDS")]
    pub max_age_seconds: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Load the bundled sample (or the CloudTrail under DIR) into tenant `default` on start.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "samples/cloudtrail")]
    pub demo: Option<PathBuf>,
    /// Messages per queue receive; a receive is scored in one commit.
    #[arg(long, default_value_t = crate::consumer::DEFAULT_BATCH, env = "DD0C_BATCH_SIZE")]
    pub batch_size: usize,
    /// Consumers per function in this process.
    #[arg(long, default_value_t = 2, env = "DD0C_CONSUMERS")]
    pub consumers: usize,
    /// Seconds a received message stays hidden before it is redelivered.
    #[arg(long, default_value_t = 30, env = "DD0C_VISIBILITY_SECONDS")]
    pub visibility_seconds: u64,
    /// Deliveries before a failing message moves to the dead letters.
    #[arg(long, default_value_t = 5, env = "DD0C_MAX_RECEIVES")]
    pub max_receives: u32,
    /// Largest request body accepted by POST /v1/events, in bytes.
    #[arg(long, default_value_t = crate::serve::DEFAULT_MAX_BODY, env = "DD0C_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Period of the retention job, in seconds.
    #[arg(long, default_value_t = 3600, env = "DD0C_RETENTION_EVERY_SECONDS")]
    pub retention_every_seconds: u64,
    /// Price catalog to use instead of the bundled one (`dd0c-cost catalog build|update` writes
    /// one). Every replica reloads it when it changes.
    #[arg(long, value_name = "FILE", env = "DD0C_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Rebuild DD0C_CATALOG daily from the AWS Price List (the scheduler role does; the file's
    /// directory should be shared by every replica).
    #[arg(long, env = "DD0C_CATALOG_UPDATE", requires = "catalog")]
    pub catalog_update: bool,
    /// Where the daily update reads the Price List (AWS's public endpoint, or a mirror).
    #[arg(long, env = "DD0C_PRICE_LIST_URL", default_value = dd0c_adapters_http::AWS_PRICE_LIST)]
    pub price_list_url: String,
    /// How often each replica checks DD0C_CATALOG for a newer catalog, in seconds.
    #[arg(long, env = "DD0C_CATALOG_RELOAD_SECONDS", default_value_t = 600)]
    pub catalog_reload_seconds: u64,
    /// The Slack app's signing secret, for the alert buttons (`POST /v1/slack/actions`).
    #[arg(long, env = "DD0C_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// The HS256 secret of dashboard tokens (at least 32 bytes; required on Postgres).
    #[arg(long, env = "DD0C_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names
    /// the client; from any other peer the header is ignored.
    #[arg(long, env = "DD0C_TRUSTED_PROXIES", default_value = "", value_parser = clap::value_parser!(dd0c_api::TrustedProxies))]
    pub trusted_proxies: dd0c_api::TrustedProxies,
    /// The bearer token GET /metrics asks for; unset, /metrics answers 404 unless
    /// --metrics-public.
    #[arg(long, env = "DD0C_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Serve GET /metrics to anyone when no DD0C_METRICS_TOKEN is set (it lists account ids and
    /// queue depths: keep the listener private then).
    #[arg(long, env = "DD0C_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// Label metrics with tenant names (off: counts across tenants, so a scrape lists none).
    #[arg(long, env = "DD0C_METRICS_TENANT_LABELS")]
    pub metrics_tenant_labels: bool,
    /// Where the ingest role listens for dd0c-agents (gRPC), e.g. 0.0.0.0:4317; unset: no
    /// agents.
    #[arg(long, env = "DD0C_GRPC_LISTEN")]
    pub grpc_listen: Option<std::net::SocketAddr>,
    /// gRPC connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024, env = "DD0C_GRPC_MAX_CONNECTIONS")]
    pub grpc_max_connections: usize,
    /// Seconds a gRPC connection may send nothing before it is closed (agents reconnect by
    /// themselves); its first bytes must come within DD0C_HEADER_TIMEOUT_SECONDS.
    #[arg(long, default_value_t = 300, env = "DD0C_GRPC_IDLE_SECONDS")]
    pub grpc_idle_seconds: u64,
    /// Calls one gRPC connection may carry at once.
    #[arg(long, default_value_t = 16, env = "DD0C_GRPC_MAX_STREAMS")]
    pub grpc_max_streams: u32,
    /// The gRPC listener's certificate chain (PEM); with DD0C_TLS_KEY it serves TLS, else plain
    /// HTTP/2 (behind a proxy that terminates TLS).
    #[arg(long, env = "DD0C_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of DD0C_TLS_CERT (PEM).
    #[arg(long, env = "DD0C_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Seconds between polls of the trail buckets (`account add --cloudtrail-s3`), by the
    /// ingest role.
    #[arg(long, default_value_t = 60, env = "DD0C_POLL_SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_seconds: u64,
    /// Minutes past the clock a pushed record's eventTime may be.
    #[arg(long, default_value_t = 60, env = "DD0C_MAX_EVENT_SKEW_MINUTES")]
    pub max_event_skew_minutes: u32,
    #[command(flatten)]
    pub inflate: InflateArgs,
    /// Seconds a connection may take to send a request's headers (idle keep-alive included).
    #[arg(long, default_value_t = 10, env = "DD0C_HEADER_TIMEOUT_SECONDS")]
    pub header_timeout_seconds: u64,
    /// Seconds a request's body may take to arrive.
    #[arg(long, default_value_t = 30, env = "DD0C_BODY_TIMEOUT_SECONDS")]
    pub body_timeout_seconds: u64,
    /// HTTP connections served at once; more wait in the listen backlog.
    #[arg(long, default_value_t = 1024, env = "DD0C_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// The built dashboard (`dashboard/dist`) to serve at `/`; with --demo, `dashboard/dist`
    /// when it is built.
    #[arg(long, value_name = "DIR", env = "DD0C_DASHBOARD_DIR")]
    pub dashboard_dir: Option<PathBuf>,
    #[command(flatten)]
    pub cognito: CognitoArgs,
}

/// Sign-in through a Cognito user pool (or an OIDC provider issuing tokens of its shape) instead
/// of local users: the API verifies the pool's tokens and issues none.
#[derive(Debug, Args)]
pub struct CognitoArgs {
    /// The pool URL (`https://cognito-idp.REGION.amazonaws.com/POOL_ID`): the tokens' issuer.
    #[arg(long, env = "DD0C_COGNITO_ISSUER", requires_all = ["cognito_client_id", "cognito_domain"])]
    pub cognito_issuer: Option<String>,
    /// The pool's public app client (authorization code with PKCE).
    #[arg(long, env = "DD0C_COGNITO_CLIENT_ID", requires = "cognito_issuer")]
    pub cognito_client_id: Option<String>,
    /// The hosted sign-in's origin (`https://NAME.auth.REGION.amazoncognito.com`).
    #[arg(long, env = "DD0C_COGNITO_DOMAIN", requires = "cognito_issuer")]
    pub cognito_domain: Option<String>,
    /// Where the pool's keys are, when not `{issuer}/.well-known/jwks.json`.
    #[arg(long, env = "DD0C_COGNITO_JWKS_URL", requires = "cognito_issuer")]
    pub cognito_jwks_url: Option<String>,
    /// The tokens the API takes: `id` (a pool whose tenant attribute only ID tokens carry) or
    /// `access`.
    #[arg(long, env = "DD0C_COGNITO_TOKEN_USE", default_value = "id")]
    pub cognito_token_use: dd0c_adapters_jwt::TokenUse,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Add {
        /// Its name.
        name: String,
    },
    /// Print every tenant's name, one a line.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an AWS account to a tenant; prints its ingest token on the last line.
    Add(AddAccount),
    /// Remove an AWS account from a tenant, with its ingest tokens: how an operator settles
    /// two tenants' claim to one account.
    Remove {
        #[arg(long)]
        tenant: String,
        /// The 12-digit AWS account id.
        #[arg(long = "account-id")]
        account_id: String,
    },
}

/// `account add`: the account and the ways dd0c/cost reads and acts on it.
#[derive(Debug, Args)]
pub struct AddAccount {
    #[arg(long)]
    pub tenant: String,
    /// The 12-digit AWS account id.
    #[arg(long = "account-id")]
    pub account_id: String,
    /// A human name ("prod").
    #[arg(long)]
    pub name: Option<String>,
    /// A role in the account to read it through, assumed with the host's own credentials
    /// and the ExternalId this prints (put it in the role's trust policy).
    #[arg(long, value_name = "ARN", conflicts_with = "access_key_id")]
    pub role_arn: Option<String>,
    /// Instead of a role: an access key to read the account with. Its secret key is read
    /// from a prompt, or from stdin when it is not a terminal; it is stored sealed under
    /// DD0C_SECRETS_KEY.
    #[arg(long, value_name = "ID")]
    pub access_key_id: Option<String>,
    /// A second role in the account to act on its resources through (remediation: stop,
    /// terminate, delete), assumed with the host's own credentials and the same ExternalId;
    /// without it, no action is offered on the account.
    #[arg(long, value_name = "ARN", conflicts_with = "remediation_access_key_id")]
    pub remediation_role_arn: Option<String>,
    /// Instead of a remediation role: an access key to act on the account's resources
    /// with, apart from the reading one. Its secret key is read as the reading key's is
    /// (after it, when both are given) and stored sealed under DD0C_SECRETS_KEY.
    #[arg(long, value_name = "ID")]
    pub remediation_access_key_id: Option<String>,
    /// The account's CloudTrail bucket, `s3://BUCKET[/PREFIX]` (the folder above
    /// `AWSLogs/`; organization trails too): the ingest role polls it with the account's
    /// role or access key.
    #[arg(long = "cloudtrail-s3", value_name = "S3_URL")]
    pub cloudtrail_s3: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[arg(long)]
    pub tenant: String,
    /// The 12-digit AWS account id.
    #[arg(long = "account")]
    pub account_id: String,
    /// The first day (YYYY-MM-DD, UTC) to read from the account's trail bucket; files already
    /// read are skipped.
    #[arg(long, value_name = "DATE", required_unless_present = "from")]
    pub since: Option<chrono::NaiveDate>,
    /// Read CloudTrail files (any shape, gzip or not) under this directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "since")]
    pub from: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AnomaliesCommand {
    /// List a tenant's anomalies, newest first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Build a catalog from offer files in a directory laid out as the Price List's URLs
    /// (DIR/offers/v1.0/aws/index.json, DIR/offers/v1.0/aws/AmazonEC2/…).
    Build {
        /// The directory.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        #[command(flatten)]
        output: CatalogOutput,
    },
    /// Download the current offer files from AWS's public Price List (no credentials needed)
    /// and build from them.
    Update {
        /// The Price List's base URL (or a mirror of it).
        #[arg(long, env = "DD0C_PRICE_LIST_URL", default_value = dd0c_adapters_http::AWS_PRICE_LIST)]
        url: String,
        #[command(flatten)]
        output: CatalogOutput,
    },
}

/// Where a built catalog goes, and what it builds on.
#[derive(Debug, Args)]
pub struct CatalogOutput {
    /// The catalog file to write (replaced whole, atomically).
    #[arg(long, value_name = "FILE", env = "DD0C_CATALOG")]
    pub out: PathBuf,
    /// The catalog to keep what the offer files do not give from, and to compare against:
    /// by default the file at --out when there is one, else the bundled catalog.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Read only this region (repeatable); by default every commercial region.
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ResourcesCommand {
    /// List a tenant's resources, the newest first.
    List {
        #[arg(long)]
        tenant: String,
        /// Only those not ended (a stopped one among them).
        #[arg(long, conflicts_with = "ended")]
        running: bool,
        /// Only those ended.
        #[arg(long)]
        ended: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Function {
    /// CloudTrail in any shape → cost events.
    Ingest,
    /// One cost event (JSON) → its anomaly, if any.
    Score,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function.
    #[arg(value_enum)]
    pub function: Function,
    /// The fixture.
    #[arg(long)]
    pub event: PathBuf,
    /// Tenant of the records.
    #[arg(long, default_value = dd0c_ports::domain::DEFAULT_TENANT)]
    pub tenant: String,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters.
    List {
        /// The queue: ingest or score.
        #[arg(long, default_value = "score")]
        queue: String,
    },
    /// Show one dead letter in full.
    Show {
        #[arg(long, default_value = "score")]
        queue: String,
        id: String,
    },
    /// Put a dead letter back on its queue.
    Redrive {
        #[arg(long, default_value = "score")]
        queue: String,
        id: String,
    },
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, for scripts.
    Jsonl,
    /// An aligned table, for people.
    Table,
}

/// Output formats of the lists a spreadsheet takes too (anomalies, zombie findings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One JSON object per line, for scripts.
    Jsonl,
    /// An aligned table, for people.
    Table,
    /// Comma-separated values with a header line, as the API exports them (formulas
    /// neutralised).
    Csv,
}

/// Inputs and pricing, shared by `normalize` and `analyze`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// CloudTrail files or directories (read recursively); `-` for stdin. Any shape: S3 log
    /// files (plain or .gz), EventBridge envelopes, SQS messages, bare records, arrays, NDJSON.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Price catalog to use instead of the bundled one (same JSON shape; for negotiated rates).
    #[arg(long, value_name = "FILE", env = "DD0C_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// Tenant the events belong to.
    #[arg(long, default_value = dd0c_ports::domain::DEFAULT_TENANT)]
    pub tenant: String,
    #[command(flatten)]
    pub inflate: InflateArgs,
}

/// How far one gzip input may inflate: `serve` and the commands that read files alike.
#[derive(Debug, Clone, Copy, Args)]
pub struct InflateArgs {
    /// Bytes one gzip input (a push, an agent's batch, a trail file, a file read here) may
    /// inflate to; past it the input is refused whole, nothing of it queued (413,
    /// RESOURCE_EXHAUSTED, a file skipped and reported).
    #[arg(long, default_value_t = dd0c_ingest::inflate::DEFAULT_MAX_INFLATED_BYTES, env = "DD0C_MAX_INFLATED_BYTES")]
    pub max_inflated_bytes: usize,
}

impl InflateArgs {
    /// The bound these flags set.
    pub fn limit(&self) -> dd0c_ingest::inflate::InflateLimit {
        dd0c_ingest::inflate::InflateLimit(self.max_inflated_bytes)
    }
}

#[derive(Debug, Args)]
pub struct NormalizeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Scoring settings (JSON: the tenant settings, e.g. {"thresholds": {"critical_monthly_usd": 5000}}).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}
