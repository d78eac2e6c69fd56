//! # dd0c-cost
//!
//! The command-line entry point of dd0c/cost.
//!
//! Map:
//! - `cli` — the commands and flags (clap).
//! - `normalize` — `dd0c-cost normalize`: CloudTrail in, priced cost events out.
//! - `analyze` — `dd0c-cost analyze`: normalize, then score on the memory adapters.
//! - `read` — reading inputs with progress and rejections, shared by both.
//! - `table` — the human-readable table output.
//! - `serve_cmd`, `serve` — the local dispatcher: `backend` (Postgres or memory), `http` (the
//!   ingress and probes), `consumer` + `handlers` (queue consumers of the `functions/`),
//!   `metrics`, and the scheduler.
//! - `admin` — migrate, tenants, accounts, anomalies, invoke, dead letters.

mod admin;
mod analyze;
mod backend;
mod cli;
mod consumer;
mod handlers;
mod http;
mod metrics;
mod normalize;
mod read;
mod serve;
mod serve_cmd;
mod table;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Normalize(args) => normalize::run(args),
        cli::Command::Analyze(args) => analyze::run(args),
        cli::Command::Serve(args) => service(serve_cmd::serve(args)),
        cli::Command::Migrate => service(admin::migrate()),
        cli::Command::Tenant(c) => service(admin::tenant(c)),
        cli::Command::Account(c) => service(admin::account(c)),
        cli::Command::Anomalies(c) => service(admin::anomalies(c)),
        cli::Command::Invoke(args) => service(admin::invoke(args)),
        cli::Command::Dlq(c) => service(admin::dlq(c)),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "dd0c-cost: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs a command that talks to a backend: logging to stderr (`DD0C_LOG`, default `info`), on a
/// multi-threaded runtime.
fn service(
    command: impl std::future::Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DD0C_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(command)
}

/// `dd0c-cost normalize … | head` closes stdout early; that is the reader's choice, not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
