//! Keeping the catalog fresh, the same way in both modes: the catalog lives under a key of an
//! [`Archive`] (self-hosted, the directory of the `DD0C_CATALOG` file; in the cloud, the archive
//! bucket), [`refresh`] rebuilds it there from the Price List, [`UpdateJob`] does so on a
//! schedule, and [`reload`] lets every process that prices pick up what another wrote.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_function::job::{Job, JobRun};
use dd0c_function::FunctionError;
use dd0c_ports::archive::Archive;
use dd0c_ports::price_list::PriceList;
use dd0c_ports::PortError;

use super::build::{build, compare, BuildError, Changes, ServiceReport};
use super::{CatalogError, Current, PriceCatalog};

/// A catalog older than this many days is stale: AWS moves prices more often than that.
pub const STALE_AFTER_DAYS: i64 = 120;

/// Whether a catalog `age_days` old is stale.
pub fn is_stale(age_days: i64) -> bool {
    age_days > STALE_AFTER_DAYS
}

/// The catalog's key in the cloud's archive bucket, written by `lambda-catalog` and read at cold
/// start by the functions that price.
pub const ARCHIVE_KEY: &str = "catalog/aws-price-catalog.json";

/// How often the update job runs.
pub const UPDATE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// A catalog rebuilt and stored.
#[derive(Debug)]
pub struct Refreshed {
    /// The catalog now stored.
    pub catalog: Arc<PriceCatalog>,
    /// What each service's offer files gave.
    pub services: BTreeMap<String, ServiceReport>,
    /// Against the previous catalog.
    pub changes: Changes,
    /// The stored file's size.
    pub bytes: usize,
}

/// A catalog that could not be refreshed or loaded.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Building failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The stored catalog is not valid.
    #[error(transparent)]
    Invalid(#[from] CatalogError),
    /// The archive failed.
    #[error("the catalog at {key}: {source}")]
    Archive {
        /// The key.
        key: String,
        /// Why.
        source: PortError,
    },
}

/// Rebuilds the catalog from `list` over `previous` and stores it under `key`.
pub async fn refresh(
    list: &dyn PriceList,
    archive: &dyn Archive,
    key: &str,
    previous: &PriceCatalog,
    regions: &[String],
) -> Result<Refreshed, RefreshError> {
    let built = build(list, previous, regions).await?;
    let changes = compare(previous, &built.catalog);
    let text = built.catalog.to_json();
    archive
        .put(key, text.as_bytes())
        .await
        .map_err(|source| archive_error(key, source))?;
    Ok(Refreshed {
        catalog: Arc::new(built.catalog),
        services: built.services,
        changes,
        bytes: text.len(),
    })
}

/// The catalog stored under `key`, if any.
pub async fn load(archive: &dyn Archive, key: &str) -> Result<Option<PriceCatalog>, RefreshError> {
    let Some(bytes) = archive
        .get(key)
        .await
        .map_err(|source| archive_error(key, source))?
    else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(PriceCatalog::parse(&text, key)?))
}

/// The catalog stored under `key`, else the bundled one.
pub async fn kept_or_bundled(
    archive: &dyn Archive,
    key: &str,
) -> Result<Arc<PriceCatalog>, RefreshError> {
    Ok(load(archive, key)
        .await?
        .map_or_else(PriceCatalog::bundled, Arc::new))
}

/// Replaces `current` with the catalog stored under `key` when that one is another; returns
/// whether it did.
pub async fn reload(
    archive: &dyn Archive,
    key: &str,
    current: &Current,
) -> Result<bool, RefreshError> {
    let Some(stored) = load(archive, key).await? else {
        return Ok(false);
    };
    if stored.same_as(&current.get()) {
        return Ok(false);
    }
    tracing::info!(as_of = stored.as_of(), key, "price catalog reloaded");
    warn_if_stale(&stored, Utc::now());
    current.replace(Arc::new(stored));
    Ok(true)
}

/// The catalog's age in days at `now`, with a warning logged when it is stale.
pub fn warn_if_stale(catalog: &PriceCatalog, now: DateTime<Utc>) -> Option<i64> {
    let age = catalog.age_days(now.date_naive())?;
    if is_stale(age) {
        tracing::warn!(
            as_of = catalog.as_of(),
            age_days = age,
            "the price catalog is older than {STALE_AFTER_DAYS} days and prices may have moved: \
             run `dd0c-cost catalog update`, or set DD0C_CATALOG_UPDATE=1"
        );
    }
    Some(age)
}

/// A port's failure is retried at the next period like any port error; bad offer files are not
/// the job's to fix.
fn job_error(error: RefreshError) -> FunctionError {
    match error {
        RefreshError::Archive { source, .. } => FunctionError::Port {
            what: "storing the price catalog",
            source,
        },
        RefreshError::Build(BuildError::Fetch { source, .. }) => FunctionError::Port {
            what: "reading the AWS Price List",
            source,
        },
        other => FunctionError::Invalid(format!("updating the price catalog: {other}")),
    }
}

fn archive_error(key: &str, source: PortError) -> RefreshError {
    RefreshError::Archive {
        key: key.to_owned(),
        source,
    }
}

/// The daily update: rebuilds the catalog from the Price List into the archive and prices with
/// it from then on.
pub struct UpdateJob {
    /// Where offer files come from.
    pub list: Arc<dyn PriceList>,
    /// Where the catalog is kept.
    pub archive: Arc<dyn Archive>,
    /// Its key there.
    pub key: String,
    /// The catalog in use, replaced by the new one.
    pub current: Current,
}

impl std::fmt::Debug for UpdateJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateJob")
            .field("list", &self.list.describe())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Job for UpdateJob {
    fn name(&self) -> &'static str {
        "catalog-update"
    }

    fn period(&self) -> Duration {
        UPDATE_EVERY
    }

    async fn run(&self, _now: DateTime<Utc>, _replica: &str) -> Result<JobRun, FunctionError> {
        let previous = self.current.get();
        let refreshed = refresh(
            self.list.as_ref(),
            self.archive.as_ref(),
            &self.key,
            &previous,
            &[],
        )
        .await
        .map_err(job_error)?;
        let moved = refreshed.changes.moved.len();
        let summary = format!(
            "price catalog as of {} stored at {} ({} bytes): {moved} prices moved, {} types added, {} removed",
            refreshed.catalog.as_of(),
            self.key,
            refreshed.bytes,
            refreshed.changes.added.len(),
            refreshed.changes.removed.len(),
        );
        self.current.replace(refreshed.catalog);
        Ok(JobRun {
            done: u64::try_from(moved).unwrap_or(u64::MAX).max(1),
            summary,
        })
    }
}
