//! `analyze`'s promise on logs it has never seen: the costly mistakes are critical on their
//! first event, routine activity stays quiet, and every flag explains itself.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use dd0c_adapters_memory::MemoryStore;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::domain::{Anomaly, CostEvent, Severity, Signal};
use dd0c_score::{Scored, Scorer, Verdict};

async fn analyze(records: &[serde_json::Value]) -> Vec<Anomaly> {
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
    let mut events: Vec<CostEvent> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        if let Item::Cost(batch) = normalizer.normalize_record(&record.to_string(), "story", i) {
            events.extend(batch);
        }
    }
    events.sort_by(|a, b| {
        a.event_time
            .cmp(&b.event_time)
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    let store = Arc::new(MemoryStore::new());
    let scorer = Scorer::new(store.clone(), store.clone(), store);
    let mut anomalies = Vec::new();
    for event in &events {
        if let Scored::New(Verdict {
            anomaly: Some(a), ..
        }) = scorer.score(event).await.expect("scores")
        {
            anomalies.push(a);
        }
    }
    anomalies
}

#[tokio::test]
async fn mistakes_are_critical_at_once_and_routine_is_quiet_on_unseen_logs() {
    let stories = [
        (7, (2025, 11, 3), 21),
        (42, (2026, 6, 15), 12),
        (2027, (2027, 1, 1), 30),
        (99, (2026, 9, 9), 10),
    ];
    for (seed, (y, m, d), days) in stories {
        let start = NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let story = dd0c_tests::story(seed, start, days);
        let anomalies = analyze(&story.records).await;
        let by_event: HashMap<&str, &Anomaly> =
            anomalies.iter().map(|a| (a.event_id.as_str(), a)).collect();

        for mistake in &story.mistakes {
            let raised: Vec<&Anomaly> = mistake
                .event_ids
                .iter()
                .filter_map(|id| by_event.get(id.as_str()).copied())
                .collect();
            if mistake.event_ids.len() == 1 {
                let a = raised
                    .first()
                    .unwrap_or_else(|| panic!("seed {seed}: {} raised nothing", mistake.what));
                assert_eq!(
                    a.severity,
                    Severity::Critical,
                    "seed {seed}: {}: {}",
                    mistake.what,
                    a.explanation
                );
            } else {
                assert!(
                    raised.iter().any(|a| a.severity == Severity::Critical),
                    "seed {seed}: {} never critical: {raised:#?}",
                    mistake.what
                );
                assert!(
                    raised.len() <= 2,
                    "seed {seed}: {} alerted {} times",
                    mistake.what,
                    raised.len()
                );
                assert!(raised
                    .iter()
                    .all(|a| a.reasons.iter().any(|r| r.signal == Signal::Burst)));
            }
        }

        let planted: Vec<&str> = story
            .mistakes
            .iter()
            .flat_map(|m| m.event_ids.iter().map(String::as_str))
            .collect();
        let routine: Vec<&Anomaly> = anomalies
            .iter()
            .filter(|a| {
                !planted.contains(&a.event_id.as_str()) && !story.notable.contains(&a.event_id)
            })
            .collect();
        assert!(
            routine.iter().all(|a| a.severity == Severity::Info),
            "seed {seed}: routine activity raised {routine:#?}"
        );
        assert!(
            routine.len() <= 2,
            "seed {seed}: only first-ever novelties may be noted: {routine:#?}"
        );
        for a in &story.notable {
            assert!(
                by_event
                    .get(a.as_str())
                    .is_none_or(|x| x.severity < Severity::Critical),
                "seed {seed}: notable event critical"
            );
        }

        for a in &anomalies {
            assert!(
                a.explanation.contains("/h, about $") && a.explanation.contains("/month"),
                "{}",
                a.explanation
            );
            assert!(
                a.explanation.contains(&a.region) && a.explanation.contains(&a.account_id),
                "{}",
                a.explanation
            );
            assert!(!a.reasons.is_empty());
        }
    }
}

#[test]
fn the_bundled_sample_is_what_the_generator_writes() {
    let dir = std::env::temp_dir().join(format!("dd0c-sample-{}", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_write-sample"))
        .arg(&dir)
        .output()
        .expect("runs write-sample");
    assert!(status.status.success(), "{status:?}");
    let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail");
    let mut written = Vec::new();
    collect(&dir, &dir, &mut written);
    let mut committed = Vec::new();
    collect(&bundled, &bundled, &mut committed);
    assert_eq!(written.len(), committed.len(), "same files");
    for ((path_a, bytes_a), (path_b, bytes_b)) in written.iter().zip(&committed) {
        assert_eq!(path_a, path_b);
        assert!(bytes_a == bytes_b, "{path_a} differs: run `cargo run -p dd0c-tests --bin write-sample -- samples/cloudtrail`");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn collect(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .expect("inside")
                .display()
                .to_string();
            out.push((relative, std::fs::read(&path).expect("readable")));
        }
    }
}
