//! The operator commands: `migrate`, `tenant add`, `account add`, `anomalies list`, `invoke`,
//! `dlq list|show|redrive`, `settings show|set`, `panic on|off`. Each uses `DATABASE_URL` (and
//! `DD0C_REDIS_URL` for panic mode) when set.

use std::io::Write;
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use dd0c_ingest::handler::{ingest_messages, IngestMessage, Ingested};
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::domain::{CostEvent, Tenant};
use dd0c_ports::ledger::{ResourceFilter, ResourceView};
use dd0c_ports::store::AnomalyFilter;
use dd0c_score::{Scored, Scorer, Verdict};

use dd0c_api::accounts::{onboard, NewAccessKey, NewAccount};

use crate::backend::default_connections;
use crate::backend::Backend;
use crate::cli::{
    AccountCommand, AddAccount, AnomaliesCommand, CatalogCommand, CatalogOutput, DlqCommand,
    Format, Function, InvokeArgs, ListFormat, PanicArgs, ResourcesCommand, SettingsCommand, Switch,
    TenantCommand,
};
use crate::cli::{BackendArgs, UserCommand, UserRole};
use dd0c_adapters_memory::MemoryBuckets;
use dd0c_adapters_redis::{RedisAttempts, RedisBuckets, RedisFlags};
use dd0c_adapters_smtp::SmtpMail;
use dd0c_ingest::limit::IntakeLimit;
use dd0c_ports::rate::TokenBuckets;
use dd0c_ports::webhook::Outbound;

/// The backend `args` configure: Postgres when a database URL is given, else memory; then
/// Redis flags and SMTP mail where given. The one place a backend is built from settings.
pub async fn open_backend(args: &BackendArgs) -> Result<Backend> {
    let mut backend = match &args.database_url {
        Some(url) => {
            let connections = args.db_connections.unwrap_or_else(default_connections);
            Backend::postgres_as(url, args.owner_database_url.as_deref(), connections).await?
        }
        None => Backend::memory()?,
    };
    backend.secrets = args.secrets_key.clone();
    backend = backend.outbound(Outbound::allowing_private(&args.outbound_private_hosts))?;
    if let Some(location) = &args.archive {
        backend.archive = Some(
            crate::archive::open(location, args.archive_s3_endpoint.as_deref())
                .await
                .with_context(|| format!("opening the archive DD0C_ARCHIVE={location}"))?,
        );
        backend
            .description
            .push_str(&format!("; raw archive at {location}"));
    }
    backend.archive_retention_days = args.archive_retention_days;
    backend.ledger_retention_days = args.ledger_retention_days;
    backend.endpoints = dd0c_notify::channels::Endpoints {
        pagerduty_events_url: args.pagerduty_events_url.clone(),
        dashboard_url: args.dashboard_url.clone(),
    };
    let mut buckets: Arc<dyn TokenBuckets> = Arc::new(MemoryBuckets::new());
    if let Some(url) = &args.redis_url {
        let flags = RedisFlags::connect(url)
            .await
            .context("connecting to DD0C_REDIS_URL")?;
        backend.attempts = Arc::new(RedisAttempts::of(&flags));
        buckets = Arc::new(RedisBuckets::of(&flags));
        backend.flags = Arc::new(flags);
        backend.description.push_str("; flags in Redis");
    }
    if let Some(rate) = args.tenant_events_per_second {
        let burst = args.tenant_events_burst.unwrap_or(rate.saturating_mul(10));
        backend.intake = Some(IntakeLimit::new(buckets, rate.into(), burst.into()));
        backend.description.push_str(&format!(
            "; each tenant sends at most {rate} records a second (bursts of {burst})"
        ));
    }
    if let Some(url) = &args.smtp_url {
        let from = args
            .mail_from
            .as_deref()
            .context("DD0C_MAIL_FROM must be set with DD0C_SMTP_URL: the sender of alert e-mail")?;
        backend.mail = Some(Arc::new(SmtpMail::new(url, from)?));
        backend.description.push_str("; mail over SMTP");
    }
    Ok(backend)
}

/// [`open_backend`] for a command, warning when it keeps nothing.
pub(crate) async fn backend(args: &BackendArgs) -> Result<Backend> {
    let backend = open_backend(args).await?;
    if backend.pool.is_none() {
        eprintln!("dd0c-cost: DATABASE_URL is not set: this command runs on an empty in-memory store and keeps nothing");
    }
    Ok(backend)
}

/// Fails unless `tenant` exists: a typo must not create settings nobody reads.
pub(crate) async fn existing_tenant(backend: &Backend, tenant: &str) -> Result<()> {
    if backend.stores.tenants.tenant(tenant).await?.is_none() {
        bail!("no tenant {tenant:?}: create it with `dd0c-cost tenant add {tenant}`");
    }
    Ok(())
}

pub async fn migrate(args: &BackendArgs) -> Result<ExitCode> {
    // The schema's owner migrates; the application may connect as a role that owns nothing.
    let url = args
        .owner_database_url
        .as_ref()
        .or(args.database_url.as_ref())
        .context("migrate needs DATABASE_URL (e.g. postgres://user:pass@host:5432/dd0c)")?;
    Backend::postgres(url, 2).await?;
    println!("migrated");
    Ok(ExitCode::SUCCESS)
}

pub async fn tenant(args: &BackendArgs, command: TenantCommand) -> Result<ExitCode> {
    let name = match command {
        TenantCommand::Add { name } => name,
        TenantCommand::List => {
            for tenant in backend(args).await?.stores.tenants.tenants().await? {
                println!("{}", tenant.name);
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    if !dd0c_ports::domain::valid_tenant_name(&name) {
        bail!(
            "tenant name {name:?} must be letters, digits, '-' and '_', at most {} of them",
            dd0c_ports::domain::MAX_TENANT_NAME
        );
    }
    backend(args)
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

pub async fn account(args: &BackendArgs, command: AccountCommand) -> Result<ExitCode> {
    match command {
        AccountCommand::Add(add) => add_account(args, add).await,
        AccountCommand::Remove { tenant, account_id } => {
            let backend = backend(args).await?;
            let sources = Some(backend.sources.as_ref());
            dd0c_api::accounts::offboard(&backend.stores, sources, &tenant, &account_id).await?;
            println!("removed tenant={tenant} account_id={account_id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `account add`: the roles' names checked, the keys' secrets read (reading key first), the
/// account onboarded as the API does, and what the customer needs printed.
async fn add_account(args: &BackendArgs, add: AddAccount) -> Result<ExitCode> {
    let role_name = add
        .role_arn
        .as_deref()
        .map(|arn| role_name_of("--role-arn", arn, &add.account_id))
        .transpose()?;
    let remediation_role_name = add
        .remediation_role_arn
        .as_deref()
        .map(|arn| role_name_of("--remediation-role-arn", arn, &add.account_id))
        .transpose()?;
    if (add.access_key_id.is_some() || add.remediation_access_key_id.is_some())
        && args.secrets_key.is_none()
    {
        bail!(
            "DD0C_SECRETS_KEY must be set to store an access key (make one with `openssl rand -hex 32`, and keep it)"
        );
    }
    let access_key = add.access_key_id.map(given_key).transpose()?;
    let remediation_access_key = add.remediation_access_key_id.map(given_key).transpose()?;
    let backend = backend(args).await?;
    existing_tenant(&backend, &add.tenant).await?;
    let new_trail = add.cloudtrail_s3.clone();
    let new = NewAccount {
        account_id: add.account_id,
        name: add.name,
        role_name,
        remediation_role_name,
        access_key,
        remediation_access_key,
        cloudtrail_s3: add.cloudtrail_s3,
    };
    let tenant = add.tenant;
    let added = onboard(
        &backend.stores,
        &tenant,
        new,
        args.secrets_key.as_ref(),
        Some(backend.sources.as_ref()),
    )
    .await?;
    let account = &added.account;
    println!("tenant={tenant} account_id={}", account.account_id);
    if let Some(role) = &account.role_arn {
        println!("role_arn={role} external_id={}", added.external_id);
    }
    if let Some(role) = &account.remediation_role_arn {
        println!(
            "remediation_role_arn={role} external_id={}",
            added.external_id
        );
    }
    if let Some(key) = &account.access_key_id {
        println!("access_key_id={key} (secret key stored sealed)");
    }
    if let Some(key) = &account.remediation_access_key_id {
        println!("remediation_access_key_id={key} (secret key stored sealed)");
    }
    if let Some(trail) = &new_trail {
        println!("cloudtrail_s3={trail} (polled by the ingest role)");
    }
    println!("ingest_token={}", added.ingest_token);
    Ok(ExitCode::SUCCESS)
}

/// Access key `access_key_id` with its secret, read from a prompt or stdin.
fn given_key(access_key_id: String) -> Result<NewAccessKey> {
    Ok(NewAccessKey {
        secret_access_key: read_secret(&format!("Secret access key for {access_key_id}: "))?,
        access_key_id,
    })
}

/// The role name of `arn`, a role of `account_id` at the root path.
/// The name of the role of `arn`, given as `flag`, checked to be a root-path role of
/// `account_id`.
fn role_name_of(flag: &str, arn: &str, account_id: &str) -> Result<String> {
    let Some((account, name)) = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":iam::"))
        .and_then(|(_, rest)| rest.split_once(":role/"))
    else {
        bail!("{flag} {arn:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
    };
    if account != account_id {
        bail!("{flag} {arn:?} is a role of account {account}, not of {account_id}");
    }
    if name.contains('/') {
        bail!("{flag} {arn:?}: roles under a path are not supported; use a role at the root path");
    }
    Ok(name.to_owned())
}

/// A secret from a prompt, or from stdin's first line when it is not a terminal — never from
/// the command line, where other users and shell history would see it.
fn read_secret(prompt: &str) -> Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        Ok(rpassword::prompt_password(prompt)?)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

pub async fn anomalies(args: &BackendArgs, command: AnomaliesCommand) -> Result<ExitCode> {
    let AnomaliesCommand::List {
        tenant,
        format,
        limit,
    } = command;
    let backend = backend(args).await?;
    let page = backend
        .stores
        .anomalies
        .anomalies(&tenant, &AnomalyFilter::default(), None, limit)
        .await?;
    let now = Utc::now();
    let items = dd0c_score::lifecycle::followed_all(
        backend.stores.ledger.as_ref(),
        &tenant,
        page.items,
        now,
    )
    .await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Csv => out.write_all(dd0c_api::export::anomalies_csv(&items).as_bytes())?,
        ListFormat::Jsonl => {
            for item in &items {
                serde_json::to_writer(&mut out, item)?;
                out.write_all(b"\n")?;
            }
        }
        ListFormat::Table => write!(out, "{}", crate::analyze::report_followed(&items))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `resources list`: pages through the tenant's ledger up to the limit.
pub async fn resources(args: &BackendArgs, command: ResourcesCommand) -> Result<ExitCode> {
    let ResourcesCommand::List {
        tenant,
        running,
        ended,
        format,
        limit,
    } = command;
    let backend = backend(args).await?;
    let filter = ResourceFilter {
        ended: (running || ended).then_some(ended),
        ..ResourceFilter::default()
    };
    let now = Utc::now();
    let mut views: Vec<ResourceView> = Vec::new();
    let mut cursor: Option<String> = None;
    while views.len() < limit {
        let page = backend
            .stores
            .ledger
            .list(
                &tenant,
                &filter,
                cursor.as_deref(),
                (limit - views.len()).min(500),
            )
            .await?;
        views.extend(page.items.iter().map(|r| ResourceView::of(r, now)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        Format::Jsonl => {
            for view in &views {
                serde_json::to_writer(&mut out, view)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Table => write!(out, "{}", crate::table::resources(&views))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub async fn invoke(args: &BackendArgs, given: InvokeArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&given.event)
        .with_context(|| format!("reading {}", given.event.display()))?;
    let backend = backend(args).await?;
    let origin = given.event.display().to_string();
    match given.function {
        Function::Ingest => {
            let normalizers =
                Normalizers::new(PriceCatalog::bundled(), backend.stores.recall.clone());
            let mut records = Vec::new();
            let limit = normalizers.inflate_limit();
            dd0c_ingest::split_records(&bytes, &origin, limit, &mut |r| match r {
                Ok(raw) => records.push(raw.text.to_owned()),
                Err(rejection) => eprintln!("rejected: {rejection}"),
            })
            .with_context(|| format!("reading {origin}"))?;
            for text in records {
                let message = IngestMessage {
                    tenant: given.tenant.clone(),
                    record: serde_json::value::RawValue::from_string(text)?,
                };
                match ingest_messages(&normalizers, backend.score_queue.as_ref(), &[&message])
                    .await
                    .map(|mut ingested| ingested.pop())
                {
                    Ok(Some(Ingested::Priced(events))) => {
                        for event in &events {
                            println!("{}", serde_json::to_string(event)?);
                        }
                    }
                    Ok(Some(Ingested::Skipped(reason))) => eprintln!("skipped: {reason:?}"),
                    Ok(None) => {}
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
                    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), &given.tenant);
                    match normalizer.normalize_record(&String::from_utf8_lossy(&bytes), &origin, 0) {
                        Item::Cost(mut events) if !events.is_empty() => events.remove(0),
                        other => bail!("{origin} is neither a cost event nor a priced CloudTrail record ({other:?})"),
                    }
                }
            };
            match scorer.score(&event).await? {
                Scored::New(Verdict {
                    anomaly: Some(anomaly),
                    ..
                }) => println!("{}", serde_json::to_string(&anomaly)?),
                Scored::New(Verdict { anomaly: None, .. }) => eprintln!("scored: no anomaly"),
                Scored::Duplicate => eprintln!("already scored: nothing changed"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn dlq(args: &BackendArgs, command: DlqCommand) -> Result<ExitCode> {
    let backend = backend(args).await?;
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

pub async fn settings(args: &BackendArgs, command: SettingsCommand) -> Result<ExitCode> {
    let backend = backend(args).await?;
    let tenant = match &command {
        SettingsCommand::Show { tenant }
        | SettingsCommand::Set { tenant, .. }
        | SettingsCommand::WebhookSecret { tenant } => tenant.clone(),
    };
    existing_tenant(&backend, &tenant).await?;
    let store = &backend.stores.settings;
    let mut settings = store.settings(&tenant).await?;
    match command {
        SettingsCommand::Show { .. } => {}
        SettingsCommand::Set { assignments, .. } => {
            for assignment in &assignments {
                let (key, value) = assignment
                    .split_once('=')
                    .with_context(|| format!("{assignment:?} is not KEY=VALUE"))?;
                settings.set(key.trim(), value.trim())?;
            }
            // Every event to the webhook is signed: it needs a secret before its first alert.
            if settings.webhook_url.is_some() && store.webhook_secret(&tenant).await?.is_none() {
                let secret = new_webhook_secret(store.as_ref(), &tenant).await?;
                eprintln!("dd0c-cost: the webhook's signing secret (shown this once): {secret}");
            }
            store.put_settings(&tenant, &settings).await?;
            eprintln!("dd0c-cost: settings of {tenant} updated");
        }
        SettingsCommand::WebhookSecret { .. } => {
            println!("{}", new_webhook_secret(store.as_ref(), &tenant).await?);
            return Ok(ExitCode::SUCCESS);
        }
    }
    println!("{}", serde_json::to_string_pretty(&settings)?);
    Ok(ExitCode::SUCCESS)
}

/// A new signing secret for `tenant`'s webhook, stored.
async fn new_webhook_secret(
    store: &dyn dd0c_ports::store::SettingsStore,
    tenant: &str,
) -> Result<dd0c_ports::webhook::SigningSecret> {
    let secret = dd0c_ports::webhook::SigningSecret::generate();
    store.put_webhook_secret(tenant, &secret).await?;
    Ok(secret)
}

pub async fn panic(args: &BackendArgs, given: PanicArgs) -> Result<ExitCode> {
    if args.redis_url.is_none() {
        bail!("panic mode is shared with the running dispatchers through Redis: set DD0C_REDIS_URL (as they have it)");
    }
    let backend = backend(args).await?;
    existing_tenant(&backend, &given.tenant).await?;
    let on = given.state == Switch::On;
    backend.flags.set_panic_mode(&given.tenant, on).await?;
    if on {
        println!(
            "panic=on tenant={}: notifications are held until `dd0c-cost panic off`",
            given.tenant
        );
    } else {
        println!(
            "panic=off tenant={}: held notifications go out now",
            given.tenant
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The shortest password `user add` accepts.
const MIN_PASSWORD_CHARS: usize = 12;

pub async fn user(args: &BackendArgs, command: UserCommand) -> Result<ExitCode> {
    let UserCommand::Add {
        tenant,
        email,
        role,
    } = command;
    if !dd0c_ports::mail::is_address(&email) {
        bail!("--email {email:?} is not an e-mail address");
    }
    let backend = backend(args).await?;
    existing_tenant(&backend, &tenant).await?;
    let password = read_secret(&format!("Password for {email}: "))?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
    }
    let password_hash = dd0c_api::passwords::hash(&password)?;
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

/// `dd0c-cost catalog build|update`: builds the catalog from offer files in a directory or
/// from AWS's Price List, writes it, and says what it holds and what changed.
pub async fn catalog(command: CatalogCommand) -> Result<ExitCode> {
    let (list, output): (Box<dyn dd0c_ports::price_list::PriceList>, CatalogOutput) = match command
    {
        CatalogCommand::Build { from, output } => (
            Box::new(dd0c_adapters_file::PriceListDirectory::new(from)),
            output,
        ),
        CatalogCommand::Update { url, output } => (
            Box::new(dd0c_adapters_http::PriceListHttp::new(&url)?),
            output,
        ),
    };
    let (archive, key) = crate::catalog::file_archive(&output.out)?;
    let previous = match &output.previous {
        Some(path) => Arc::new(PriceCatalog::from_path(path)?),
        None => dd0c_ingest::catalog::refresh::kept_or_bundled(&archive, &key).await?,
    };
    let refreshed = dd0c_ingest::catalog::refresh::refresh(
        list.as_ref(),
        &archive,
        &key,
        &previous,
        &output.regions,
    )
    .await?;
    let entries = refreshed.catalog.entries();
    let regions: std::collections::BTreeSet<&str> = entries
        .keys()
        .map(|(region, _, _)| region.as_str())
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} ({} bytes): prices as of {}, {} prices in {} regions",
        output.out.display(),
        refreshed.bytes,
        refreshed.catalog.as_of(),
        entries.len(),
        regions.len()
    )?;
    for (service, report) in &refreshed.services {
        let provenance = refreshed.catalog.sources().get(service);
        writeln!(
            out,
            "{service}: {} regions, {} prices, published {}{}",
            report.regions,
            report.prices,
            provenance.map_or("?", |p| p.as_of.as_str()),
            match report.conflicts {
                0 => String::new(),
                n => format!(", {n} disagreeing prices (the higher kept)"),
            }
        )?;
    }
    write!(out, "{}", refreshed.changes)?;
    Ok(ExitCode::SUCCESS)
}
