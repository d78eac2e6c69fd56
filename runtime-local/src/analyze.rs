//! `dd0c-cost analyze`: normalize CloudTrail, then score it in event-time order on the memory
//! adapters — the zero-setup way to try dd0c/cost on your own logs.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use dd0c_adapters_memory::MemoryStore;
use dd0c_ingest::Item;
use dd0c_ports::domain::{format_usd, Anomaly, CostEvent, Settings, Severity};
use dd0c_ports::ledger::FollowedAnomaly;
use dd0c_ports::store::SettingsStore;
use dd0c_score::{Scored, Scorer, Verdict};

use crate::cli::{AnalyzeArgs, Format};
use crate::read;
use crate::table::{short_actor, Align, Table};

pub fn run(args: AnalyzeArgs) -> Result<ExitCode> {
    let settings = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str::<Settings>(&text)
                .with_context(|| format!("{} is not valid settings", path.display()))?
        }
        None => Settings::default(),
    };
    let mut events: Vec<CostEvent> = Vec::new();
    let (summary, unreadable) = read::each_item(&args.input, &mut |item| {
        if let Item::Cost(batch) = item {
            events.extend(batch);
        }
        Ok(())
    })?;
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let anomalies = runtime.block_on(score_all(&args.input.tenant, settings, &events))?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Jsonl => {
            for anomaly in &anomalies {
                serde_json::to_writer(&mut out, anomaly).context("writing an anomaly")?;
                out.write_all(b"\n").context("writing an anomaly")?;
            }
        }
        Format::Table => write!(
            out,
            "{}",
            report(&anomalies, std::io::stdout().is_terminal())
        )
        .context("writing the report")?,
    }
    out.flush().context("writing output")?;
    let count = |s: Severity| anomalies.iter().filter(|a| a.severity == s).count();
    eprintln!(
        "{summary} scored={} anomalies={} critical={} warning={} info={}",
        events.iter().filter(|e| e.change.is_priced()).count(),
        anomalies.len(),
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info)
    );
    Ok(read::exit_code(&summary, unreadable))
}

async fn score_all(tenant: &str, settings: Settings, events: &[CostEvent]) -> Result<Vec<Anomaly>> {
    let store = Arc::new(MemoryStore::new());
    store.put_settings(tenant, &settings).await?;
    let scorer = Scorer::new(store.clone(), store.clone(), store);
    let mut anomalies = Vec::new();
    for event in events {
        if let Scored::New(Verdict {
            anomaly: Some(anomaly),
            ..
        }) = scorer
            .score(event)
            .await
            .with_context(|| format!("scoring {}", event.event_id))?
        {
            anomalies.push(anomaly);
        }
    }
    Ok(anomalies)
}

/// The table of anomalies, then each one's explanation.
/// [`report`] of anomalies with what their resources amount to now: a column more.
pub fn report_followed(items: &[FollowedAnomaly]) -> String {
    let anomalies: Vec<Anomaly> = items.iter().map(|i| i.anomaly.clone()).collect();
    let now: Vec<String> = items
        .iter()
        .map(|i| i.followed.in_words(i.anomaly.quantity))
        .collect();
    table_of(&anomalies, Some(&now), false)
}

/// The anomalies as a table, each explained, with what is at stake.
pub fn report(anomalies: &[Anomaly], color: bool) -> String {
    table_of(anomalies, None, color)
}

fn table_of(anomalies: &[Anomaly], now: Option<&[String]>, color: bool) -> String {
    if anomalies.is_empty() {
        return "No anomalies: nothing costly stood out.\n".to_owned();
    }
    let paint = |severity: Severity| {
        let code = match severity {
            Severity::Critical => "1;31",
            Severity::Warning => "33",
            Severity::Info => "36",
        };
        if color {
            format!("\x1b[{code}m{:<8}\x1b[0m", severity.as_str().to_uppercase())
        } else {
            severity.as_str().to_uppercase()
        }
    };
    let mut table = Table::new(&[
        ("#", Align::Right),
        ("SEVERITY", Align::Left),
        ("TIME (UTC)", Align::Left),
        ("ACCOUNT", Align::Left),
        ("REGION", Align::Left),
        ("ACTOR", Align::Left),
        ("WHAT", Align::Left),
        ("$/HOUR", Align::Right),
        ("$/MONTH", Align::Right),
        ("SCORE", Align::Right),
    ]);
    if now.is_some() {
        table.column("RESOURCES NOW", Align::Left);
    }
    for (i, a) in anomalies.iter().enumerate() {
        table.row(
            vec![
                (i + 1).to_string(),
                a.severity.as_str().to_uppercase(),
                a.event_time.format("%Y-%m-%d %H:%M").to_string(),
                a.account_id.clone(),
                a.region.clone(),
                short_actor(&a.actor_arn, None),
                a.units(),
                format_usd(a.hourly_usd),
                format_usd(a.monthly_usd),
                format!("{:.0}", a.score),
            ]
            .into_iter()
            .chain(now.map(|n| n[i].clone()))
            .collect(),
        );
    }
    let mut text = table.to_string();
    if color {
        // Colour the severity column after layout, so escape codes do not skew the widths.
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let plain = format!("  {:<8}", severity.as_str().to_uppercase());
            text = text.replace(&plain, &format!("  {}", paint(severity)));
        }
    }
    text.push('\n');
    for (i, a) in anomalies.iter().enumerate() {
        text.push_str(&format!(
            "{:>3}. [{}] {}\n",
            i + 1,
            paint(a.severity),
            a.explanation
        ));
    }
    let at_stake: f64 = anomalies
        .iter()
        .filter(|a| a.severity >= Severity::Warning)
        .map(|a| a.monthly_usd)
        .sum();
    text.push_str(&format!(
        "\n{} anomalies; {}/month at stake in warnings and criticals.\n",
        anomalies.len(),
        format_usd(at_stake)
    ));
    text
}
