//! The AWS Price List's files by path: where `catalog build` (a directory) and `catalog update`
//! (AWS's public endpoint, over HTTP) read offer files from.

use async_trait::async_trait;

use crate::PortResult;

/// The offer index's path, from which every other file is found.
pub const OFFER_INDEX: &str = "/offers/v1.0/aws/index.json";

/// Read-only files named as the Price List's URLs name them.
#[async_trait]
pub trait PriceList: Send + Sync {
    /// The file at `path` (`/offers/v1.0/aws/index.json`): `NotFound` naming it when there is
    /// none, `Invalid` for a path that leaves the tree (`..`).
    async fn get(&self, path: &str) -> PortResult<Vec<u8>>;

    /// Where the files come from (a directory, a URL), for the catalog's provenance.
    fn describe(&self) -> String;
}

/// Checks a path before it is read: absolute as the Price List's URLs are, no `..`, no
/// backslashes, no query.
pub fn validate_path(path: &str) -> PortResult<()> {
    let bad = !path.starts_with('/')
        || path.contains('\\')
        || path.contains('?')
        || path.contains('#')
        || path.split('/').any(|part| part == ".." || part == ".");
    if bad {
        return Err(crate::PortError::Invalid(format!(
            "price list path {path:?}: must start with / and stay inside the tree"
        )));
    }
    Ok(())
}
