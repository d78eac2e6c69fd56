//! `dd0c-cost actions list|approve|reject`: the approvals queue and the decision log from the
//! command line, approving and rejecting as a named admin through the same rules as the API.
//! The tenant's remediation settings live with panic mode in Redis, which the CLI shares with
//! the running dispatchers (`DD0C_REDIS_URL`).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use dd0c_ports::auth::Principal;
use dd0c_ports::clock::SystemClock;
use dd0c_ports::domain::format_usd;
use dd0c_ports::remediation::{ActionFilter, ActionId, ActionRecord, Subject};

use crate::admin::{backend, existing_tenant};
use crate::cli::{ActionsCommand, BackendArgs, Format};
use crate::table::{Align, Table};

pub async fn actions(args: &BackendArgs, command: ActionsCommand) -> Result<ExitCode> {
    match command {
        ActionsCommand::List {
            tenant,
            status,
            format,
            limit,
        } => {
            let backend = backend(args).await?;
            existing_tenant(&backend, &tenant).await?;
            let filter = ActionFilter {
                statuses: status,
                account_id: None,
            };
            let page = backend
                .stores
                .actions
                .actions(&tenant, &filter, None, limit)
                .await?;
            print(&page.items, format)?;
            Ok(ExitCode::SUCCESS)
        }
        ActionsCommand::Approve { tenant, by, id } => {
            let (remediation, principal, id) = reviewer(args, &tenant, &by, &id).await?;
            let action = remediation
                .approve(&principal, &id)
                .await
                .with_context(|| format!("approving {id}"))?;
            println!(
                "approved {} ({}): queued to run",
                action.action_id,
                action.action.kind()
            );
            Ok(ExitCode::SUCCESS)
        }
        ActionsCommand::Reject {
            tenant,
            by,
            id,
            reason,
        } => {
            let (remediation, principal, id) = reviewer(args, &tenant, &by, &id).await?;
            let action = remediation
                .reject(&principal, &id, &reason)
                .await
                .with_context(|| format!("rejecting {id}"))?;
            println!("rejected {} ({})", action.action_id, action.action.kind());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The remediation over the backend, the admin `by` of `tenant` as the reviewer, and the id.
async fn reviewer(
    args: &BackendArgs,
    tenant: &str,
    by: &str,
    id: &str,
) -> Result<(dd0c_actions::Remediation, Principal, ActionId)> {
    if args.redis_url.is_none() {
        bail!("remediation settings are shared with the running dispatchers through Redis: set DD0C_REDIS_URL (as they have it)");
    }
    let id: ActionId = id.parse()?;
    let backend = backend(args).await?;
    existing_tenant(&backend, tenant).await?;
    let user = backend
        .stores
        .users
        .user(by)
        .await?
        .filter(|u| u.tenant == tenant)
        .with_context(|| format!("--by {by:?} is no user of tenant {tenant}"))?;
    let principal = Principal {
        subject: format!("cli:{}", user.email),
        email: Some(user.email),
        tenant: tenant.to_owned(),
        role: user.role,
    };
    Ok((backend.remediation(Arc::new(SystemClock)), principal, id))
}

fn print(actions: &[ActionRecord], format: Format) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => {
            for action in actions {
                serde_json::to_writer(&mut out, action)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Table => {
            let mut table = Table::new(&[
                ("REQUESTED", Align::Left),
                ("STATUS", Align::Left),
                ("ACTION", Align::Left),
                ("RESOURCES", Align::Left),
                ("SAVES/MONTH", Align::Right),
                ("FOR", Align::Left),
                ("BY", Align::Left),
                ("ID", Align::Left),
            ]);
            for a in actions {
                table.row(vec![
                    a.requested_at.format("%Y-%m-%d %H:%M").to_string(),
                    a.status.to_string(),
                    a.action.kind().to_string(),
                    a.action.resource_ids().join(","),
                    format_usd(a.monthly_usd),
                    match &a.subject {
                        Subject::Finding(id) | Subject::Anomaly(id) => id.clone(),
                    },
                    a.requested_by.clone(),
                    a.action_id.to_string(),
                ]);
            }
            write!(out, "{table}")?;
        }
    }
    out.flush()?;
    Ok(())
}
