//! Normalizer throughput against a plain `serde_json::Value` parse of the same bytes.
//!
//! The corpus: a CloudTrail S3 log file (`{"Records": [...]}`) of at least 100,000 records from
//! the seeded story generator — routine reads, writes, failed calls and resource creations in
//! their real mix. Target: the normalizer at 0.5× or better of the plain parse rate.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dd0c_ingest::{Item, Normalizer, PriceCatalog};

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

fn bench(c: &mut Criterion) {
    let (bytes, records) = corpus();
    let mut group = c.benchmark_group("cloudtrail");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);
    group.bench_function("serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&bytes).expect("valid"));
    });
    group.bench_function("normalize", |b| {
        b.iter(|| {
            let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
            let mut events = 0usize;
            normalizer.normalize_document(&bytes, "bench", &mut |item| {
                if let Item::Cost(batch) = item {
                    events += batch.len();
                }
            });
            events
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
