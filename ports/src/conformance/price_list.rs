//! The price list's suite: the caller serves `root` (a directory the suite fills first) through
//! its adapter.

use std::path::Path;

use crate::price_list::{PriceList, OFFER_INDEX};
use crate::PortError;

/// Writes a small tree under `root` and reads it back through `list`.
pub async fn price_list_suite(root: &Path, list: &dyn PriceList) {
    let index = br#"{"offers":{"AmazonEC2":{"currentRegionIndexUrl":"/offers/v1.0/aws/AmazonEC2/current/region_index.json"}}}"#;
    let region = "/offers/v1.0/aws/AmazonEC2/current/region_index.json";
    let large: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let offer = "/offers/v1.0/aws/AmazonEC2/20261101000000/us-east-1/index.json";
    for (path, bytes) in [
        (OFFER_INDEX, &index[..]),
        (region, b"{\"regions\":{}}"),
        (offer, &large[..]),
    ] {
        let file = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, bytes).expect("write");
    }
    assert_eq!(list.get(OFFER_INDEX).await.expect("the index"), index);
    assert_eq!(
        list.get(region).await.expect("a region index"),
        b"{\"regions\":{}}"
    );
    assert_eq!(
        list.get(offer).await.expect("a large file"),
        large,
        "byte for byte"
    );

    let missing = "/offers/v1.0/aws/AmazonNope/current/region_index.json";
    match list.get(missing).await {
        Err(PortError::NotFound(what)) => assert!(what.contains("AmazonNope"), "{what}"),
        other => panic!("a missing file is NotFound naming it: {other:?}"),
    }
    for escaping in ["/offers/../../etc/passwd", "offers/v1.0/aws/index.json"] {
        assert!(
            matches!(list.get(escaping).await, Err(PortError::Invalid(_))),
            "{escaping} is refused"
        );
    }
    assert!(!list.describe().is_empty());
}
