//! The operator commands: `migrate`, `tenant add`, `account add`, `anomalies list`, `invoke`,
//! `dlq list|show|redrive`, `settings show|set`, `panic on|off`. Each uses `DATABASE_URL` (and
//! `DD0C_REDIS_URL` for panic mode) when set.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use dd0c_ingest::handler::{ingest_message, IngestMessage, Ingested};
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::domain::{Account, CostEvent, Tenant};
use dd0c_ports::store::AnomalyFilter;
use dd0c_score::{Scored, Scorer};

use crate::backend::Backend;
use crate::cli::{
    AccountCommand, AnomaliesCommand, DlqCommand, Format, Function, InvokeArgs, PanicArgs,
    SettingsCommand, Switch, TenantCommand,
};
use crate::cli::{UserCommand, UserRole};

async fn backend() -> Result<Backend> {
    let backend = Backend::from_env().await?;
    if backend.pool.is_none() {
        eprintln!("dd0c-cost: DATABASE_URL is not set: this command runs on an empty in-memory store and keeps nothing");
    }
    Ok(backend)
}

/// Fails unless `tenant` exists: a typo must not create settings nobody reads.
async fn existing_tenant(backend: &Backend, tenant: &str) -> Result<()> {
    if backend.stores.tenants.tenant(tenant).await?.is_none() {
        bail!("no tenant {tenant:?}: create it with `dd0c-cost tenant add {tenant}`");
    }
    Ok(())
}

pub async fn migrate() -> Result<ExitCode> {
    // The schema's owner migrates; the application may connect as a role that owns nothing.
    let owner = std::env::var("DD0C_OWNER_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let url = match owner {
        Some(url) => url,
        None => std::env::var("DATABASE_URL")
            .context("migrate needs DATABASE_URL (e.g. postgres://user:pass@host:5432/dd0c)")?,
    };
    Backend::postgres(&url, 2).await?;
    println!("migrated");
    Ok(ExitCode::SUCCESS)
}

pub async fn tenant(command: TenantCommand) -> Result<ExitCode> {
    let TenantCommand::Add { name } = command;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("tenant name {name:?} must be letters, digits, '-' and '_'");
    }
    backend()
        .await?
        .stores
        .tenants
        .add_tenant(&Tenant {
            name: name.clone(),
            created_at: Utc::now(),
        })
        .await?;
    println!("tenant={name}");
    Ok(ExitCode::SUCCESS)
}

pub async fn account(command: AccountCommand) -> Result<ExitCode> {
    let (tenant, account_id, name) = match command {
        AccountCommand::Add {
            tenant,
            account_id,
            name,
        } => (tenant, account_id, name),
        AccountCommand::Remove { tenant, account_id } => {
            let backend = backend().await?;
            backend
                .stores
                .tenants
                .remove_account(&tenant, &account_id)
                .await?;
            println!("removed tenant={tenant} account_id={account_id}");
            return Ok(ExitCode::SUCCESS);
        }
    };
    if !dd0c_ports::domain::is_account_id(&account_id) {
        bail!("--account-id {account_id:?} is not a 12-digit AWS account id");
    }
    let backend = backend().await?;
    existing_tenant(&backend, &tenant).await?;
    backend
        .stores
        .tenants
        .add_account(&Account {
            role_arn: None,
            external_id: None,
            tenant: tenant.clone(),
            account_id: account_id.clone(),
            name,
            created_at: Utc::now(),
        })
        .await?;
    let token = dd0c_api::accounts::new_ingest_token();
    let hash = token_sha256(&token);
    backend
        .stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: tenant.clone(),
                account_id: account_id.clone(),
            },
            &hash,
        )
        .await?;
    println!("tenant={tenant} account_id={account_id}");
    println!("ingest_token={token}");
    Ok(ExitCode::SUCCESS)
}

pub async fn anomalies(command: AnomaliesCommand) -> Result<ExitCode> {
    let AnomaliesCommand::List {
        tenant,
        format,
        limit,
    } = command;
    let backend = backend().await?;
    let page = backend
        .stores
        .anomalies
        .anomalies(&tenant, &AnomalyFilter::default(), None, limit)
        .await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => {
            for anomaly in &page.items {
                serde_json::to_writer(&mut out, anomaly)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Table => write!(out, "{}", crate::analyze::report(&page.items, false))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub async fn invoke(args: InvokeArgs) -> Result<ExitCode> {
    let bytes =
        std::fs::read(&args.event).with_context(|| format!("reading {}", args.event.display()))?;
    let backend = backend().await?;
    let origin = args.event.display().to_string();
    match args.function {
        Function::Ingest => {
            let normalizers =
                Normalizers::new(PriceCatalog::bundled(), backend.stores.recall.clone());
            let mut records = Vec::new();
            dd0c_ingest::split_records(&bytes, &origin, &mut |r| match r {
                Ok(raw) => records.push(raw.text.to_owned()),
                Err(rejection) => eprintln!("rejected: {rejection}"),
            });
            for text in records {
                let message = IngestMessage {
                    tenant: args.tenant.clone(),
                    record: serde_json::value::RawValue::from_string(text)?,
                };
                match ingest_message(
                    &normalizers,
                    backend.score_queue.as_ref(),
                    &serde_json::to_string(&message)?,
                )
                .await
                {
                    Ok(Ingested::Priced(events)) => {
                        for event in &events {
                            println!("{}", serde_json::to_string(event)?);
                        }
                    }
                    Ok(Ingested::Skipped(reason)) => eprintln!("skipped: {reason:?}"),
                    Err(e) => eprintln!("failed: {e}"),
                }
            }
        }
        Function::Score => {
            let scorer = Scorer::new(
                backend.stores.score.clone(),
                backend.stores.anomalies.clone(),
                backend.stores.settings.clone(),
            );
            let event: CostEvent = match serde_json::from_slice(&bytes) {
                Ok(event) => event,
                Err(_) => {
                    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), &args.tenant);
                    match normalizer.normalize_record(&String::from_utf8_lossy(&bytes), &origin, 0) {
                        Item::Cost(mut events) if !events.is_empty() => events.remove(0),
                        other => bail!("{origin} is neither a cost event nor a priced CloudTrail record ({other:?})"),
                    }
                }
            };
            match scorer.score(&event).await? {
                Scored::New(Some(anomaly)) => println!("{}", serde_json::to_string(&anomaly)?),
                Scored::New(None) => eprintln!("scored: no anomaly"),
                Scored::Duplicate => eprintln!("already scored: nothing changed"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn dlq(command: DlqCommand) -> Result<ExitCode> {
    let backend = backend().await?;
    match command {
        DlqCommand::List { queue } => {
            for dead in backend.queue(&queue)?.dead_letters(1000).await? {
                println!(
                    "{}\t{}\treceives={}\t{}",
                    dead.message_id,
                    dead.failed_at.to_rfc3339(),
                    dead.receive_count,
                    dead.error
                );
            }
        }
        DlqCommand::Show { queue, id } => {
            let all = backend.queue(&queue)?.dead_letters(100_000).await?;
            let dead = all
                .into_iter()
                .find(|d| d.message_id == id)
                .with_context(|| format!("no dead letter {id} in queue {queue}"))?;
            println!("{}", serde_json::to_string_pretty(&dead)?);
        }
        DlqCommand::Redrive { queue, id } => {
            backend.queue(&queue)?.redrive(&id).await?;
            println!("redriven={id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn settings(command: SettingsCommand) -> Result<ExitCode> {
    let backend = backend().await?;
    let tenant = match &command {
        SettingsCommand::Show { tenant } | SettingsCommand::Set { tenant, .. } => tenant.clone(),
    };
    existing_tenant(&backend, &tenant).await?;
    let mut settings = backend.stores.settings.settings(&tenant).await?;
    if let SettingsCommand::Set { assignments, .. } = command {
        for assignment in &assignments {
            let (key, value) = assignment
                .split_once('=')
                .with_context(|| format!("{assignment:?} is not KEY=VALUE"))?;
            settings
                .set(key.trim(), value.trim())
                .map_err(anyhow::Error::msg)?;
        }
        dd0c_notify::digest::time_zone(&settings.digest_time_zone)
            .map_err(|e| anyhow::anyhow!("digest_time_zone: {e}"))?;
        backend
            .stores
            .settings
            .put_settings(&tenant, &settings)
            .await?;
        eprintln!("dd0c-cost: settings of {tenant} updated");
    }
    println!("{}", serde_json::to_string_pretty(&settings)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn panic(args: PanicArgs) -> Result<ExitCode> {
    if std::env::var("DD0C_REDIS_URL").map_or(true, |u| u.is_empty()) {
        bail!("panic mode is shared with the running dispatchers through Redis: set DD0C_REDIS_URL (as they have it)");
    }
    let backend = backend().await?;
    existing_tenant(&backend, &args.tenant).await?;
    let on = args.state == Switch::On;
    backend.flags.set_panic_mode(&args.tenant, on).await?;
    if on {
        println!(
            "panic=on tenant={}: notifications are held until `dd0c-cost panic off`",
            args.tenant
        );
    } else {
        println!(
            "panic=off tenant={}: held notifications go out now",
            args.tenant
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The shortest password `user add` accepts.
const MIN_PASSWORD_CHARS: usize = 12;

pub async fn user(command: UserCommand) -> Result<ExitCode> {
    let UserCommand::Add {
        tenant,
        email,
        role,
    } = command;
    if !dd0c_ports::mail::is_address(&email) {
        bail!("--email {email:?} is not an e-mail address");
    }
    let backend = backend().await?;
    existing_tenant(&backend, &tenant).await?;
    let password = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password(format!("Password for {email}: "))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
    }
    let password_hash = dd0c_api::passwords::hash(&password).map_err(anyhow::Error::msg)?;
    backend
        .stores
        .users
        .add_user(&dd0c_ports::auth::User {
            tenant: tenant.clone(),
            email: email.to_lowercase(),
            role: match role {
                UserRole::Admin => dd0c_ports::auth::Role::Admin,
                UserRole::Member => dd0c_ports::auth::Role::Member,
            },
            password_hash,
        })
        .await?;
    println!("user={} tenant={tenant}", email.to_lowercase());
    Ok(ExitCode::SUCCESS)
}
