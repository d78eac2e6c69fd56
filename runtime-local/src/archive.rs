//! The raw archive `DD0C_ARCHIVE` names: a local directory or an S3 (or S3-compatible) bucket.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Result;
use dd0c_ports::archive::Archive;

/// Where the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveLocation {
    /// `file:///ABSOLUTE/PATH`.
    File(PathBuf),
    /// `s3://BUCKET[/PREFIX]`.
    S3 {
        /// The bucket.
        bucket: String,
        /// Keys are written under this prefix (empty: the bucket's root).
        prefix: String,
    },
}

impl fmt::Display for ArchiveLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveLocation::File(path) => write!(f, "file://{}", path.display()),
            ArchiveLocation::S3 { bucket, prefix } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            ArchiveLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl FromStr for ArchiveLocation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "{s:?}: a file archive needs an absolute path (file:///var/lib/dd0c/archive)"
                ));
            }
            return Ok(ArchiveLocation::File(PathBuf::from(path)));
        }
        if s.starts_with("s3://") {
            let trail: dd0c_ports::sources::TrailLocation = s
                .parse()
                .map_err(|e: dd0c_ports::PortError| e.to_string())?;
            return Ok(ArchiveLocation::S3 {
                bucket: trail.bucket,
                prefix: trail.prefix,
            });
        }
        Err(format!(
            "{s:?} is neither file:///PATH nor s3://BUCKET[/PREFIX]"
        ))
    }
}

/// Opens the archive at `location`; `s3_endpoint` replaces AWS's for an S3-compatible store.
pub async fn open(
    location: &ArchiveLocation,
    s3_endpoint: Option<&str>,
) -> Result<Arc<dyn Archive>> {
    match location {
        ArchiveLocation::File(path) => Ok(Arc::new(dd0c_adapters_file::FileArchive::open(path)?)),
        ArchiveLocation::S3 { bucket, prefix } => s3(bucket, prefix, s3_endpoint).await,
    }
}

#[cfg(feature = "aws")]
async fn s3(bucket: &str, prefix: &str, endpoint: Option<&str>) -> Result<Arc<dyn Archive>> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
        aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1"),
    );
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    Ok(Arc::new(
        dd0c_adapters_aws::S3Archive::new(&config, bucket).under(prefix),
    ))
}

#[cfg(not(feature = "aws"))]
async fn s3(bucket: &str, _: &str, _: Option<&str>) -> Result<Arc<dyn Archive>> {
    anyhow::bail!(
        "DD0C_ARCHIVE names s3://{bucket}, but this dd0c-cost was built without AWS access \
         (build it with `--features aws`, as the compose image is)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_back_as_written() {
        for text in [
            "file:///var/lib/dd0c/archive",
            "s3://raw-bucket",
            "s3://raw-bucket/dd0c",
        ] {
            let location: ArchiveLocation = text.parse().unwrap();
            assert_eq!(location.to_string(), text);
        }
        for bad in ["file://relative", "/var/lib", "s3://"] {
            assert!(bad.parse::<ArchiveLocation>().is_err(), "{bad}");
        }
    }
}
