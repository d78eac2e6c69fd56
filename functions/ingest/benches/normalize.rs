//! Normalizer throughput against a plain `serde_json::Value` parse of the same bytes.
//!
//! The corpus: a CloudTrail S3 log file (`{"Records": [...]}`) of at least 100,000 records from
//! the seeded story generator — routine reads, writes, failed calls and resource creations in
//! their real mix. Target: the normalizer at 0.5× or better of the plain parse rate, with the
//! bundled catalog and with one the size `dd0c-cost catalog update` writes (every type of every
//! kind listed in every region, RDS per engine and deployment), whose size, load time and memory
//! are printed first.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use serde_json::{json, Value};

fn corpus() -> (Vec<u8>, u64) {
    let start = NaiveDate::from_ymd_opt(2023, 1, 1).expect("date");
    let story = dd0c_tests::story(11, start, 1_200);
    let count = story.records.len() as u64;
    assert!(count >= 100_000, "corpus too small: {count}");
    (
        serde_json::json!({"Records": story.records})
            .to_string()
            .into_bytes(),
        count,
    )
}

/// The text of a catalog the size a Price List build writes: the bundled catalog's prices
/// listed again for each of its regions (at its multiplier), and its RDS classes per engine,
/// Single- and Multi-AZ.
fn full_size_catalog_text() -> String {
    let mut file: Value = serde_json::from_str(&PriceCatalog::bundled().to_json()).expect("json");
    let multipliers = file["region_multipliers"]
        .as_object()
        .expect("regions")
        .clone();
    let hourly = file["hourly"].as_object().expect("hourly").clone();
    let engines: Vec<String> = ["catalog", "estimated"]
        .iter()
        .flat_map(|k| {
            file["rds_engines"][k]
                .as_object()
                .expect("engines")
                .keys()
                .cloned()
        })
        .collect();
    let classes = hourly["rds.instance"].as_object().expect("rds").clone();
    let mut tables = serde_json::Map::new();
    for (region, m) in &multipliers {
        let m = m.as_f64().expect("a multiplier");
        let mut table: serde_json::Map<String, Value> = hourly
            .iter()
            .map(|(kind, types)| {
                let priced = types.as_object().expect("types").iter();
                let listed = priced.map(|(t, p)| (t.clone(), json!(p.as_f64().unwrap_or(0.0) * m)));
                (kind.clone(), Value::Object(listed.collect()))
            })
            .collect();
        for engine in &engines {
            for az in ["", "/multi-az"] {
                let listed = classes
                    .iter()
                    .map(|(c, p)| (c.clone(), json!(p.as_f64().unwrap_or(0.0) * m)));
                table.insert(
                    format!("rds.instance/{engine}{az}"),
                    Value::Object(listed.collect()),
                );
            }
        }
        tables.insert(region.clone(), Value::Object(table));
    }
    file["region_prices"] = Value::Object(tables);
    file.to_string()
}

/// This process's resident memory, KiB.
fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// Loads the full-size catalog, printing its size, load time and memory.
fn full_size_catalog() -> Arc<PriceCatalog> {
    let text = full_size_catalog_text();
    let before = resident_kib();
    let started = Instant::now();
    let catalog = PriceCatalog::parse(&text, "full-size").expect("valid");
    let took = started.elapsed();
    println!(
        "full-size catalog: {} prices, {:.1} MB of JSON, loaded in {:.0} ms, about {:.1} MB resident",
        catalog.entries().len(),
        text.len() as f64 / 1e6,
        took.as_secs_f64() * 1e3,
        resident_kib().saturating_sub(before) as f64 / 1024.0
    );
    Arc::new(catalog)
}

/// Records per second of `run` over `bytes`, once.
fn rate(bytes: &[u8], records: u64, run: &dyn Fn(&[u8])) -> f64 {
    let started = Instant::now();
    run(bytes);
    records as f64 / started.elapsed().as_secs_f64()
}

fn normalized(catalog: &Arc<PriceCatalog>, bytes: &[u8]) -> usize {
    let mut normalizer = Normalizer::new(catalog.clone(), "default");
    let mut events = 0usize;
    normalizer.normalize_document(bytes, "bench", &mut |item| {
        if let Item::Cost(batch) = item {
            events += batch.len();
        }
    });
    events
}

/// The ratios to the plain parse, each measured beside it in the same round (the median of
/// seven rounds), for the bundled and the full-size catalog.
fn print_ratios(bytes: &[u8], records: u64, full: &Arc<PriceCatalog>) {
    let bundled = PriceCatalog::bundled();
    let parse = |b: &[u8]| {
        std::hint::black_box(serde_json::from_slice::<Value>(b).expect("valid"));
    };
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let plain = rate(bytes, records, &parse);
        small.push(
            rate(bytes, records, &|b| {
                std::hint::black_box(normalized(&bundled, b));
            }) / plain,
        );
        let plain = rate(bytes, records, &parse);
        large.push(
            rate(bytes, records, &|b| {
                std::hint::black_box(normalized(full, b));
            }) / plain,
        );
    }
    for ratios in [&mut small, &mut large] {
        ratios.sort_by(f64::total_cmp);
    }
    println!(
        "normalize / serde_json::Value: {:.2}× with the bundled catalog, {:.2}× with the full-size one (medians of 7 side-by-side rounds)",
        small[3], large[3]
    );
}

fn bench(c: &mut Criterion) {
    let full = full_size_catalog();
    let (bytes, records) = corpus();
    print_ratios(&bytes, records, &full);
    let mut group = c.benchmark_group("cloudtrail");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&bytes).expect("valid"));
    });
    let bundled = PriceCatalog::bundled();
    group.bench_function("normalize", |b| {
        b.iter(|| normalized(&bundled, &bytes));
    });
    group.bench_function("normalize_full_size_catalog", |b| {
        b.iter(|| normalized(&full, &bytes));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
