//! Writes the bundled sample: `write-sample DIR [SEED] [START] [DAYS]`.
//!
//! Layout as CloudTrail delivers to S3 (one gzipped `{"Records": […]}` file per account, region
//! and day), except the data-science account's last day, written as NDJSON of EventBridge
//! envelopes the way a forwarding agent exports them — with one corrupted record, to show how
//! bad input is reported.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: write-sample DIR [SEED] [START] [DAYS]")?,
    );
    let seed = args.get(1).map_or(Ok(1), |s| s.parse())?;
    let start = args.get(2).map_or(
        Ok(NaiveDate::from_ymd_opt(2026, 3, 1).ok_or("date")?),
        |s| s.parse(),
    )?;
    let days = args.get(3).map_or(Ok(14), |s| s.parse())?;
    write(&dir, seed, start, days)?;
    println!("wrote the sample to {}", dir.display());
    Ok(())
}

fn write(
    dir: &Path,
    seed: u64,
    start: NaiveDate,
    days: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let story = dd0c_tests::story(seed, start, days);
    let last_day = (start + chrono::Duration::days(i64::from(days) - 1))
        .format("%Y-%m-%d")
        .to_string();
    let data_account = story
        .records
        .iter()
        .rev()
        .find(|r| r["eventSource"] == "sagemaker.amazonaws.com")
        .map(|r| r["recipientAccountId"].clone());
    let mut files: BTreeMap<PathBuf, Vec<Value>> = BTreeMap::new();
    let mut agent = Vec::new();
    for r in story.records {
        let (account, region, time) = (
            r["recipientAccountId"].as_str().unwrap_or(""),
            r["awsRegion"].as_str().unwrap_or(""),
            r["eventTime"].as_str().unwrap_or(""),
        );
        if Some(&r["recipientAccountId"]) == data_account.as_ref() && time.starts_with(&last_day) {
            agent.push(r);
            continue;
        }
        let (date, compact) = (&time[..10], time[..10].replace('-', ""));
        let path = PathBuf::from(format!("AWSLogs/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{compact}T0000Z_dd0c.json.gz", date.replace('-', "/")));
        files.entry(path).or_default().push(r);
    }
    for (path, records) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().ok_or("path")?)?;
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), flate2::Compression::best());
        gz.write_all(json!({"Records": records}).to_string().as_bytes())?;
        std::fs::write(full, gz.finish()?)?;
    }
    let mut lines = String::new();
    for (i, r) in agent.into_iter().enumerate() {
        let mut record = r;
        if i == 3 {
            record["eventTime"] = json!("last Tuesday");
        }
        let envelope = json!({"version": "0", "id": format!("agent-{i}"), "detail-type": "AWS API Call via CloudTrail", "source": "aws.sagemaker",
            "account": record["recipientAccountId"], "time": record["eventTime"], "region": record["awsRegion"], "resources": [], "detail": record});
        lines.push_str(&envelope.to_string());
        lines.push('\n');
    }
    std::fs::create_dir_all(dir.join("agent"))?;
    std::fs::write(dir.join("agent/eventbridge-export.jsonl"), lines)?;
    Ok(())
}
