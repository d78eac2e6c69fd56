//! `dd0c-cost zombies scan|list|ignore`: the zombie hunter from the command line, and the
//! hunter the scheduler runs daily.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use dd0c_ports::clock::{Clock, FixedClock, SystemClock};
use dd0c_ports::domain::format_usd;
use dd0c_ports::zombie::{Finding, FindingFilter, FindingStatus};
use dd0c_zombie::ScanRequest;

use crate::admin::{backend, existing_tenant};
use crate::cli::{BackendArgs, ListFormat, ZombiesCommand};
use crate::table::{Align, Table};

pub async fn zombies(args: &BackendArgs, command: ZombiesCommand) -> Result<ExitCode> {
    let backend = backend(args).await?;
    match command {
        ZombiesCommand::Scan {
            tenant,
            account_id,
            regions,
            format,
            as_of,
        } => {
            let clock: Arc<dyn Clock> = match as_of {
                Some(at) => Arc::new(FixedClock(at)),
                None => Arc::new(SystemClock),
            };
            let request = ScanRequest {
                tenant,
                account_id,
                regions,
            };
            let report = backend.hunter(clock).scan(&request).await?;
            print(&report.findings, format)?;
            for failure in &report.failures {
                eprintln!(
                    "dd0c-cost: account {} ({}) was not scanned: {}",
                    failure.account_id,
                    failure.region.as_deref().unwrap_or("every region"),
                    failure.error
                );
            }
            eprintln!(
                "resources={} findings={} no_data={} waste_monthly_usd={:.2} api_calls={} gone={} regions={}",
                report.resources,
                report.findings.len(),
                report.no_data(),
                report.waste_monthly_usd(),
                report.api_calls,
                report.gone.len(),
                report.regions,
            );
            Ok(if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ZombiesCommand::List {
            tenant,
            status,
            format,
        } => {
            existing_tenant(&backend, &tenant).await?;
            let statuses = if status.is_empty() {
                vec![FindingStatus::Open, FindingStatus::Ignored]
            } else {
                status
            };
            let filter = FindingFilter {
                statuses,
                ..FindingFilter::default()
            };
            let findings = backend.stores.zombies.findings(&tenant, &filter).await?;
            print(&findings, format)?;
            Ok(ExitCode::SUCCESS)
        }
        ZombiesCommand::Ignore { tenant, id, reason } => {
            let finding = dd0c_zombie::summary::ignore(
                backend.stores.zombies.as_ref(),
                &tenant,
                &id,
                &reason,
            )
            .await?;
            println!(
                "ignored {} ({} {})",
                finding.finding_id, finding.kind, finding.resource_id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print(findings: &[Finding], format: ListFormat) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Csv => out.write_all(dd0c_api::export::findings_csv(findings).as_bytes())?,
        ListFormat::Jsonl => {
            for finding in findings {
                serde_json::to_writer(&mut out, finding)?;
                out.write_all(b"\n")?;
            }
        }
        ListFormat::Table => {
            let mut table = Table::new(&[
                ("WASTE/MONTH", Align::Right),
                ("KIND", Align::Left),
                ("STATE", Align::Left),
                ("STATUS", Align::Left),
                ("ACCOUNT", Align::Left),
                ("REGION", Align::Left),
                ("RESOURCE", Align::Left),
                ("IDLE SINCE", Align::Left),
                ("FINDING", Align::Left),
            ]);
            for f in findings {
                table.row(vec![
                    format_usd(f.monthly_waste_usd),
                    f.kind.to_string(),
                    f.state.to_string(),
                    f.status.to_string(),
                    f.account_id.clone(),
                    f.region.clone(),
                    f.resource_id.clone(),
                    f.first_seen.format("%Y-%m-%d").to_string(),
                    f.finding_id.clone(),
                ]);
            }
            write!(out, "{table}")?;
            for f in findings {
                writeln!(out, "{}: {}", f.finding_id, f.explanation)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
