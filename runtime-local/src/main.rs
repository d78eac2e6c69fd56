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

mod analyze;
mod cli;
mod normalize;
mod read;
mod table;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Normalize(args) => normalize::run(args),
        cli::Command::Analyze(args) => analyze::run(args),
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

/// `dd0c-cost normalize … | head` closes stdout early; that is the reader's choice, not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
