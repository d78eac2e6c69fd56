//! The trail poller over the dispatcher's backend (the ingest role schedules its
//! [`dd0c_ingest::trail::PollJob`], one replica per period) and `dd0c-cost backfill`, which reads older files — from the bucket,
//! or from a local directory — with a progress bar and a rate summary.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use dd0c_ingest::trail::Deliver;

use crate::serve::Dispatcher;

/// `dd0c-cost backfill` on the backend `args` configure.
pub async fn backfill_command(
    args: &crate::cli::BackendArgs,
    backfill_args: crate::cli::BackfillArgs,
) -> Result<ExitCode> {
    let backend = crate::admin::backend(args).await?;
    crate::admin::existing_tenant(&backend, &backfill_args.tenant).await?;
    let config = crate::serve::ServeConfig::defaults(Default::default(), "backfill");
    let dispatcher = Dispatcher::new(backend, config, dd0c_ingest::PriceCatalog::bundled())?;
    backfill(
        &dispatcher,
        &backfill_args.tenant,
        &backfill_args.account_id,
        backfill_args.since,
        backfill_args.from.as_deref(),
    )
    .await
}

/// `dd0c-cost backfill`: the account's trail from `since` (or the files under `from`).
pub async fn backfill(
    dispatcher: &Dispatcher,
    tenant: &str,
    account_id: &str,
    since: Option<NaiveDate>,
    from: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let (files, bytes, records, cost_events) = match (from, since) {
        (Some(dir), _) => from_directory(dispatcher, tenant, account_id, dir).await?,
        (None, Some(since)) => from_bucket(dispatcher, tenant, account_id, since).await?,
        (None, None) => bail!("give --since DATE (the account's trail bucket) or --from DIR"),
    };
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "backfill: {files} files, {:.1} MB, {records} records, {cost_events} cost events in {seconds:.1} s ({:.0} records/s, {:.1} MB/s)",
        bytes as f64 / 1e6,
        records as f64 / seconds,
        bytes as f64 / 1e6 / seconds,
    );
    Ok(ExitCode::SUCCESS)
}

fn bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

async fn from_bucket(
    dispatcher: &Dispatcher,
    tenant: &str,
    account_id: &str,
    since: NaiveDate,
) -> Result<(usize, u64, usize, usize)> {
    let trail = dispatcher
        .backend
        .sources
        .trails(Some(tenant))
        .await?
        .into_iter()
        .find(|t| t.account_id == account_id)
        .with_context(|| {
            format!(
                "account {account_id} of tenant {tenant} has no trail bucket: add it with \
                 `account add --cloudtrail-s3 s3://…`, or backfill --from a directory"
            )
        })?;
    let poller = dispatcher.poller();
    let now = Utc::now();
    let (open, backlog) = poller.backlog(&trail, since, now).await?;
    let progress = bar(backlog.len() as u64, "files");
    let (mut bytes, mut records, mut cost_events) = (0, 0, 0);
    for file in &backlog {
        let delivered = poller.read(&trail, &open, file, now).await?;
        bytes += file.object.size;
        records += delivered.records;
        cost_events += delivered.cost_events;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((backlog.len(), bytes, records, cost_events))
}

async fn from_directory(
    dispatcher: &Dispatcher,
    tenant: &str,
    account_id: &str,
    dir: &std::path::Path,
) -> Result<(usize, u64, usize, usize)> {
    let sources = dd0c_ingest::input::expand(&[dir.to_owned()])
        .with_context(|| format!("listing {}", dir.display()))?;
    let admitter = dispatcher.admitter();
    let progress = bar(sources.len() as u64, "files");
    let (mut bytes, mut records, mut cost_events) = (0, 0, 0);
    for source in &sources {
        let content = source
            .read()
            .with_context(|| format!("reading {}", source.label()))?;
        bytes += content.len() as u64;
        let delivered = admitter
            .deliver(tenant, account_id, &source.label(), content)
            .await?;
        records += delivered.records;
        cost_events += delivered.cost_events;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((sources.len(), bytes, records, cost_events))
}
