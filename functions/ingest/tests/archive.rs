//! The raw archive's layout and retention, on the memory archive.

use chrono::{NaiveDate, TimeZone, Utc};
use dd0c_adapters_memory::MemoryArchive;
use dd0c_ingest::archive::{account_folder, expire, put_raw, read_raw};
use dd0c_ports::archive::Archive;

#[tokio::test]
async fn records_are_kept_per_account_and_day_once_and_old_days_expire_oldest_first() {
    let archive = MemoryArchive::new();
    let records = vec![
        r#"{"eventID":"a"}"#.to_owned(),
        r#"{"eventID":"b"}"#.to_owned(),
    ];
    for day in [1, 2, 3] {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap();
        put_raw(&archive, "acme", "111122223333", at, &records)
            .await
            .unwrap();
        // The same batch again the same day (a retry) is the same object.
        put_raw(&archive, "acme", "111122223333", at, &records)
            .await
            .unwrap();
    }
    put_raw(&archive, "acme", "444455556666", Utc::now(), &records)
        .await
        .unwrap();
    let folder = account_folder("acme", "111122223333");
    let keys = archive.list(&folder, 100).await.unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys[0].starts_with("raw/acme/111122223333/2026/11/01/"),
        "{keys:?}"
    );
    let bytes = archive.get(&keys[0]).await.unwrap().unwrap();
    assert_eq!(
        read_raw(&bytes).unwrap(),
        records,
        "gzip JSON lines, read back"
    );

    let cutoff = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
    let deleted = expire(&archive, "acme", "111122223333", cutoff)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let kept = archive.list(&folder, 100).await.unwrap();
    assert!(
        kept.len() == 1 && kept[0].contains("/2026/11/03/"),
        "{kept:?}"
    );
    assert_eq!(
        archive
            .list(&account_folder("acme", "444455556666"), 10)
            .await
            .unwrap()
            .len(),
        1,
        "another account's days are its own"
    );
}
