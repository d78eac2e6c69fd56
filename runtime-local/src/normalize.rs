//! `dd0c-cost normalize`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use dd0c_ingest::Item;
use dd0c_ports::domain::{format_usd, CostEvent};

use crate::cli::{Format, NormalizeArgs};
use crate::read;
use crate::table::{short_actor, Align, Table};

pub fn run(args: NormalizeArgs) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut events: Vec<CostEvent> = Vec::new();
    let (summary, unreadable) = read::each_item(&args.input, &mut |item| {
        if let Item::Cost(batch) = item {
            match args.format {
                Format::Jsonl => {
                    for event in &batch {
                        serde_json::to_writer(&mut out, event).context("writing a cost event")?;
                        out.write_all(b"\n").context("writing a cost event")?;
                    }
                }
                Format::Table => events.extend(batch),
            }
        }
        Ok(())
    })?;
    if args.format == Format::Table {
        write!(out, "{}", cost_table(&events)).context("writing the table")?;
    }
    out.flush().context("writing output")?;
    eprintln!("{summary}");
    Ok(read::exit_code(&summary, unreadable))
}

fn cost_table(events: &[CostEvent]) -> Table {
    let mut table = Table::new(&[
        ("TIME (UTC)", Align::Left),
        ("ACCOUNT", Align::Left),
        ("REGION", Align::Left),
        ("ACTOR", Align::Left),
        ("EVENT", Align::Left),
        ("KIND", Align::Left),
        ("TYPE", Align::Left),
        ("QTY", Align::Right),
        ("$/HOUR", Align::Right),
        ("$/MONTH", Align::Right),
        ("PRICE", Align::Left),
    ]);
    for e in events {
        table.row(vec![
            e.event_time.format("%Y-%m-%d %H:%M").to_string(),
            e.account_id.clone(),
            e.region.clone(),
            short_actor(&e.actor_arn, e.actor_session.as_deref()),
            e.event_name.clone(),
            e.resource_kind.clone(),
            e.resource_type.clone(),
            e.quantity.to_string(),
            format_usd(e.hourly_usd),
            format_usd(e.monthly_usd),
            e.price_source.as_str().to_owned(),
        ]);
    }
    table
}
