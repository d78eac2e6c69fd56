//! Reading every input with a progress bar on a terminal, reporting rejections as they come.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::{Context, Result};
use dd0c_ingest::input::{self, Source};
use dd0c_ingest::{Item, Normalizer, PriceCatalog, Summary};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::InputArgs;

/// Inputs above this size get a progress bar (when stderr is a terminal).
const PROGRESS_FROM_BYTES: u64 = 16 << 20;

/// The catalog the user chose, or the bundled one.
pub fn catalog(args: &InputArgs) -> Result<Arc<PriceCatalog>> {
    match &args.catalog {
        Some(path) => Ok(Arc::new(PriceCatalog::from_path(path)?)),
        None => Ok(PriceCatalog::bundled()),
    }
}

/// Normalizes every input in order, passing each item to `sink`; prints each rejection and
/// unreadable input to stderr and returns the counts and how many inputs could not be read.
pub fn each_item(
    args: &InputArgs,
    sink: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<(Summary, usize)> {
    let sources = input::expand(&args.paths)?;
    let mut normalizer =
        Normalizer::new(catalog(args)?, &args.tenant).inflating_at_most(args.inflate.limit());
    let total: u64 = sources.iter().filter_map(Source::len).sum();
    let progress = if std::io::stderr().is_terminal() && total >= PROGRESS_FROM_BYTES {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {eta} {msg}")
                .context("progress template")?,
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = Summary::default();
    let mut unreadable = 0;
    let mut failure: Option<anyhow::Error> = None;
    for source in &sources {
        let label = source.label();
        progress.set_message(label.clone());
        let bytes = match source.read() {
            Ok(bytes) => bytes,
            Err(e) => {
                progress.suspend(|| eprintln!("dd0c-cost: cannot read {label}: {e}"));
                unreadable += 1;
                continue;
            }
        };
        normalizer.normalize_document(&bytes, &label, &mut |item| {
            if failure.is_some() {
                return;
            }
            summary.add(&item);
            if let Item::Rejected(rejection) = &item {
                progress.suspend(|| {
                    let _ = writeln!(std::io::stderr(), "rejected: {rejection}");
                });
            }
            if let Err(e) = sink(item) {
                failure = Some(e);
            }
        });
        if let Some(e) = failure.take() {
            return Err(e);
        }
        progress.inc(source.len().unwrap_or(bytes.len() as u64));
    }
    progress.finish_and_clear();
    Ok((summary, unreadable))
}

/// Exit status: failure only when nothing could be read at all.
pub fn exit_code(summary: &Summary, unreadable: usize) -> std::process::ExitCode {
    let valid = summary.records - summary.rejected;
    if valid == 0 && (unreadable > 0 || summary.rejected > 0) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
