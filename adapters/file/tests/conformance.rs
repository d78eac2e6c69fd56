//! The file archive against the archive suite, on a real directory.

use dd0c_adapters_file::{FileArchive, PriceListDirectory};
use dd0c_ports::archive::Archive;
use dd0c_ports::conformance;

fn fresh_root(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("dd0c-archive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    root
}

#[tokio::test]
async fn file_archive_passes_the_archive_suite() {
    let root = fresh_root("suite");
    conformance::archive_suite(&FileArchive::open(&root).unwrap()).await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn objects_survive_a_reopen_and_partial_writes_are_never_listed() {
    let root = fresh_root("reopen");
    let archive = FileArchive::open(&root).unwrap();
    archive
        .put("raw/t/1/2026/11/30/a.jsonl.gz", b"kept")
        .await
        .unwrap();
    std::fs::write(root.join("raw/t/1/2026/11/30/b.jsonl.gz.partial"), b"torn").unwrap();
    let reopened = FileArchive::open(&root).unwrap();
    assert_eq!(
        reopened.list("raw/", 10).await.unwrap(),
        vec!["raw/t/1/2026/11/30/a.jsonl.gz".to_owned()]
    );
    assert_eq!(
        reopened
            .get("raw/t/1/2026/11/30/a.jsonl.gz")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"kept"[..])
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_directory_passes_the_price_list_suite() {
    let root = fresh_root("price-list");
    conformance::price_list_suite(&root, &PriceListDirectory::new(&root)).await;
    std::fs::remove_dir_all(&root).unwrap();
}
