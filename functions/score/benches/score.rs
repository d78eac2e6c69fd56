//! Scorer throughput on the memory adapters for 1,000,000 cost events over 1,000 accounts, and
//! the normalizer over the same events' CloudTrail records, measured side by side in one run.
//!
//! `cargo bench -p dd0c-score --bench score` prints events/s for each and their ratio.
//! `DD0C_BENCH_EVENTS` overrides the event count (e.g. for a quick look).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dd0c_adapters_memory::MemoryStore;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::domain::CostEvent;
use dd0c_score::Scorer;

const ACCOUNTS: usize = 1_000;
const CHUNK: usize = 20_000;

fn main() {
    let total: usize = std::env::var("DD0C_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Resource-creating records of one story, replayed across 1,000 accounts in time order.
    let story = dd0c_tests::story(5, NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"), 400);
    let templates: Vec<serde_json::Value> = story
        .records
        .into_iter()
        .filter(|r| r["errorCode"].is_null() && r["readOnly"] == false)
        .filter(|r| {
            matches!(
                r["eventName"].as_str(),
                Some(
                    "RunInstances"
                        | "CreateVolume"
                        | "CreateTrainingJob"
                        | "CreateNotebookInstance"
                        | "CreateDBInstance"
                )
            )
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let scorer = Scorer::new(store.clone(), store.clone(), store);
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
    let (mut normalize_time, mut score_time) = (Duration::ZERO, Duration::ZERO);
    let (mut normalized, mut scored, mut anomalies) = (0usize, 0usize, 0usize);
    let mut sequence = 0usize;
    while scored < total {
        let chunk: Vec<String> = (0..CHUNK.min(total - scored))
            .map(|_| {
                let mut record = templates[(sequence / ACCOUNTS) % templates.len()].clone();
                record["recipientAccountId"] = serde_json::json!(format!(
                    "{:012}",
                    100_000_000_000usize + sequence % ACCOUNTS
                ));
                record["eventID"] = serde_json::json!(format!("bench-{sequence}"));
                sequence += 1;
                record.to_string()
            })
            .collect();
        let started = Instant::now();
        let mut events: Vec<CostEvent> = Vec::with_capacity(chunk.len());
        for (i, text) in chunk.iter().enumerate() {
            if let Item::Cost(batch) = normalizer.normalize_record(text, "bench", i) {
                events.extend(batch);
            }
        }
        normalize_time += started.elapsed();
        normalized += chunk.len();
        let started = Instant::now();
        runtime.block_on(async {
            for event in &events {
                if let dd0c_score::Scored::New(dd0c_score::Verdict {
                    anomaly: Some(_), ..
                }) = scorer.score(event).await.expect("scores")
                {
                    anomalies += 1;
                }
            }
        });
        score_time += started.elapsed();
        scored += events.len();
    }
    let normalize_rate = normalized as f64 / normalize_time.as_secs_f64();
    let score_rate = scored as f64 / score_time.as_secs_f64();
    println!("events={scored} accounts={ACCOUNTS} anomalies={anomalies}");
    println!(
        "normalizer: {normalize_rate:>12.0} records/s ({:.2} s)",
        normalize_time.as_secs_f64()
    );
    println!(
        "scorer:     {score_rate:>12.0} events/s  ({:.2} s)",
        score_time.as_secs_f64()
    );
    println!(
        "scorer / normalizer ratio: {:.3}",
        score_rate / normalize_rate
    );
}
