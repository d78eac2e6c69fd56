//! [`PriceListDirectory`]: the price list port on a directory laid out as the Price List's URLs
//! (`DIR/offers/v1.0/aws/index.json`, …) — what `dd0c-cost catalog build --from DIR` reads.

use std::io::ErrorKind;
use std::path::PathBuf;

use async_trait::async_trait;
use dd0c_ports::price_list::{validate_path, PriceList};
use dd0c_ports::{PortError, PortResult};

/// Offer files under one directory.
#[derive(Debug, Clone)]
pub struct PriceListDirectory {
    root: PathBuf,
}

impl PriceListDirectory {
    /// The files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PriceListDirectory { root: root.into() }
    }
}

#[async_trait]
impl PriceList for PriceListDirectory {
    async fn get(&self, path: &str) -> PortResult<Vec<u8>> {
        validate_path(path)?;
        let file = self.root.join(path.trim_start_matches('/'));
        match tokio::fs::read(&file).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Err(PortError::NotFound(file.display().to_string()))
            }
            Err(e) => Err(super::io("reading", &file, e)),
        }
    }

    fn describe(&self) -> String {
        format!("offer files in {}", self.root.display())
    }
}
