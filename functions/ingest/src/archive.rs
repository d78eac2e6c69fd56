//! The raw archive's layout, the same in both modes: each batch of one account's records as a
//! gzip JSON-lines object under `raw/{tenant}/{account}/{yyyy}/{mm}/{dd}/{digest}.jsonl.gz`, the
//! day being the day of arrival. The name is the content's digest, so a batch archived twice the
//! same day (a retried file, a redelivered message, a restarted poller) is one object; the date
//! in the path lets retention delete whole days, oldest first.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use dd0c_ports::archive::Archive;
use dd0c_ports::text::hex;
use dd0c_ports::PortError;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use crate::inflate::InflateLimit;

/// How many keys one listing of the retention sweep reads.
const SWEEP_PAGE: usize = 1000;

/// Archives `records` (JSON texts) of one account as one object; nothing for none.
pub async fn put_raw(
    archive: &dyn Archive,
    tenant: &str,
    account_id: &str,
    now: DateTime<Utc>,
    records: &[String],
) -> Result<(), PortError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut lines = String::with_capacity(records.iter().map(|r| r.len() + 1).sum());
    for record in records {
        lines.push_str(record);
        lines.push('\n');
    }
    let digest = hex(&Sha256::digest(lines.as_bytes())[..16]);
    let key = format!(
        "{}{}/{digest}.jsonl.gz",
        account_folder(tenant, account_id),
        now.format("%Y/%m/%d"),
    );
    archive.put(&key, &gzip(lines.as_bytes())?).await
}

/// The folder of one account's raw records.
pub fn account_folder(tenant: &str, account_id: &str) -> String {
    format!("raw/{tenant}/{account_id}/")
}

/// The records of an archived object, one JSON text per line (inflated within the default
/// bound: the archive is a bucket others may write to).
pub fn read_raw(bytes: &[u8]) -> Result<Vec<String>, PortError> {
    let invalid =
        |e: String| PortError::Invalid(format!("not a gzip JSON-lines archive object: {e}"));
    let inflated = InflateLimit::default()
        .gunzip(bytes)
        .map_err(|e| invalid(e.to_string()))?;
    let text = String::from_utf8(inflated).map_err(|e| invalid(e.to_string()))?;
    Ok(text.lines().map(str::to_owned).collect())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, PortError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| PortError::caused("compressing archived records", e))
}

/// The day of an archive key in an account folder (`…/{yyyy}/{mm}/{dd}/…`).
fn day_of(key: &str, folder: &str) -> Option<NaiveDate> {
    let mut parts = key.strip_prefix(folder)?.splitn(4, '/');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Deletes one account's objects archived before `cutoff` (a day), oldest first, and returns
/// how many: the listing is in key order, so it stops at the first day kept, and its cost
/// follows what is deleted, not what is kept.
pub async fn expire(
    archive: &dyn Archive,
    tenant: &str,
    account_id: &str,
    cutoff: NaiveDate,
) -> Result<u64, PortError> {
    let folder = account_folder(tenant, account_id);
    let mut deleted = 0;
    loop {
        let keys = archive.list(&folder, SWEEP_PAGE).await?;
        let expired: Vec<&String> = keys
            .iter()
            .take_while(|k| day_of(k, &folder).is_some_and(|day| day < cutoff))
            .collect();
        for key in &expired {
            archive.delete(key).await?;
        }
        deleted += expired.len() as u64;
        if expired.len() < keys.len() || keys.len() < SWEEP_PAGE {
            return Ok(deleted);
        }
    }
}
