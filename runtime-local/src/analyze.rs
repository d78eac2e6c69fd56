use anyhow::Result;
use std::process::ExitCode;
pub fn run(_a: crate::cli::AnalyzeArgs) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}
