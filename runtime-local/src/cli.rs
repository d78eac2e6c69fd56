use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// dd0c/cost: catch expensive AWS mistakes minutes after the API call.
#[derive(Debug, Parser)]
#[command(name = "dd0c-cost", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn CloudTrail logs into priced cost events.
    Normalize(NormalizeArgs),
    /// Normalize and score CloudTrail logs in event-time order and print the anomalies.
    Analyze(AnalyzeArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object per line, for scripts.
    Jsonl,
    /// An aligned table, for people.
    Table,
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
