//! The normalizers of every tenant, for the services: each tenant has its own [`Normalizer`],
//! whose [`crate::Recall`] is a bounded cache of what the [`RecallStore`] keeps for that tenant.
//!
//! So what one tenant's records teach (an instance's type, a task's size) prices only that
//! tenant's later records, however the AWS account ids overlap; one tenant's flood evicts only
//! its own cache, and the store still has everything; a restart or another replica prices the
//! same, because a fact missing from the cache is looked up in the store.
//!
//! [`Normalizers::run`] is the one way in. In order:
//! 1. lock the tenant's normalizer (records of one tenant are priced one call at a time, in
//!    order; other tenants' go on in parallel);
//! 2. run the job off the async workers, since pricing a large push is CPU work;
//! 3. if lookups missed, ask the store; if it had any of them, undo what the run learned, put
//!    them in the cache and run again, so the result is what it would have been with a warm cache;
//! 4. store what the run learned.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dd0c_ports::recall::RecallStore;
use dd0c_ports::PortError;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::inflate::{InflateError, InflateLimit};
use crate::{Admitted, Current, Item, Normalizer, PriceCatalog};

/// How far past the clock a record's `eventTime` may be, by default: clocks differ a little,
/// and CloudTrail does not record the future.
pub const DEFAULT_MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// What [`Normalizers::normalize_account`] made of one document.
#[derive(Debug, Default)]
pub struct AccountDocument {
    /// Each record, in input order.
    pub admitted: Vec<Admitted>,
    /// The texts of the account's valid records, when asked for.
    pub raw: Vec<String>,
    /// Why the document was refused whole (it inflates past the bound), if it was: then it
    /// was refused before any record, and nothing else is set.
    pub refused: Option<InflateError>,
}

/// A tenant's normalizer and the catalog it prices with.
type MadeWith = (Arc<PriceCatalog>, Arc<AsyncMutex<Normalizer>>);

/// Every tenant's normalizer.
pub struct Normalizers {
    catalog: Current,
    store: Arc<dyn RecallStore>,
    max_skew: chrono::TimeDelta,
    inflate: InflateLimit,
    /// Each tenant's normalizer and the catalog it was made with.
    tenants: Mutex<HashMap<String, MadeWith>>,
}

impl std::fmt::Debug for Normalizers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizers").finish_non_exhaustive()
    }
}

impl Normalizers {
    /// Normalizers pricing with `catalog` (a [`Current`] follows its replacements), keeping
    /// what they learn in `store`, refusing event times more than [`DEFAULT_MAX_SKEW`] past the
    /// clock.
    pub fn new(catalog: impl Into<Current>, store: Arc<dyn RecallStore>) -> Self {
        Normalizers {
            catalog: catalog.into(),
            store,
            max_skew: DEFAULT_MAX_SKEW,
            inflate: InflateLimit::default(),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The same, refusing event times more than `skew` past the clock.
    pub fn refusing_future(mut self, skew: chrono::TimeDelta) -> Self {
        self.max_skew = skew;
        self
    }

    /// The same, refusing inputs that inflate past `limit`.
    pub fn inflating_at_most(mut self, limit: InflateLimit) -> Self {
        self.inflate = limit;
        self
    }

    /// The bound on what one input may inflate to.
    pub fn inflate_limit(&self) -> InflateLimit {
        self.inflate
    }

    /// Normalizes, for `tenant`, the records of a pushed document that belong to `account_id`
    /// ([`Normalizer::normalize_account`]), in input order; past the first `max_records`, each
    /// is only reported as [`Admitted::OverLimit`]. With `keep_raw`, the text of every valid
    /// record of the account comes back too, for the raw archive.
    pub async fn normalize_account(
        &self,
        tenant: &str,
        account_id: &str,
        bytes: Vec<u8>,
        origin: &str,
        max_records: usize,
        keep_raw: bool,
    ) -> Result<AccountDocument, PortError> {
        let (tenant_name, account_id, origin) =
            (tenant.to_owned(), account_id.to_owned(), origin.to_owned());
        self.run(tenant, move |normalizer| {
            let mut document = AccountDocument::default();
            let walked = normalizer.normalize_account(
                &tenant_name,
                &account_id,
                &bytes,
                &origin,
                max_records,
                &mut |admitted, text| {
                    let valid =
                        matches!(admitted, Admitted::Item(Item::Cost(_) | Item::Skipped(_)));
                    if keep_raw && valid {
                        document.raw.push(text.to_owned());
                    }
                    document.admitted.push(admitted);
                },
            );
            document.refused = walked.err();
            document
        })
        .await
    }

    /// Normalizes one bare record of `tenant` ([`Normalizer::normalize_for`]).
    pub async fn normalize_record(&self, tenant: &str, text: String) -> Result<Item, PortError> {
        let mut items = self.normalize_records(tenant, vec![text]).await?;
        items
            .pop()
            .ok_or_else(|| PortError::backend("normalizing produced no item"))
    }

    /// Normalizes bare records of `tenant` in order, in one call of its normalizer: one trip to
    /// the store for what they miss, one for what they teach.
    pub async fn normalize_records(
        &self,
        tenant: &str,
        texts: Vec<String>,
    ) -> Result<Vec<Item>, PortError> {
        let tenant_name = tenant.to_owned();
        self.run(tenant, move |normalizer| {
            texts
                .iter()
                .map(|text| normalizer.normalize_for(&tenant_name, text))
                .collect()
        })
        .await
    }

    /// Runs `job` on `tenant`'s normalizer with what the store knows, and stores what it learned
    /// (the steps in the module's doc). `job` may run twice, each time from the same state.
    pub async fn run<R, J>(&self, tenant: &str, job: J) -> Result<R, PortError>
    where
        R: Send + 'static,
        J: Fn(&mut Normalizer) -> R + Send + Sync + 'static,
    {
        let job = Arc::new(job);
        let normalizer = self.normalizer(tenant).lock_owned().await;
        let (mut normalizer, mut result) = off_workers(normalizer, job.clone()).await?;
        let misses = normalizer.recall_mut().take_misses();
        if !misses.is_empty() {
            let stored = self.store.facts(tenant, &misses).await;
            let found: Vec<_> = match stored {
                Ok(facts) => misses
                    .into_iter()
                    .zip(facts)
                    .filter_map(|(key, fact)| Some((key, fact?)))
                    .collect(),
                Err(e) => {
                    normalizer.recall_mut().undo();
                    return Err(e);
                }
            };
            if !found.is_empty() {
                normalizer.recall_mut().undo();
                normalizer.recall_mut().insert(found);
                (normalizer, result) = off_workers(normalizer, job).await?;
                // What the second run still misses, the store does not have either.
                normalizer.recall_mut().take_misses();
            }
        }
        // Should this fail, the caller's retry learns the same facts again and stores them then.
        let learned = normalizer.recall_mut().take_learned();
        if !learned.is_empty() {
            self.store.remember(tenant, &learned).await?;
        }
        Ok(result)
    }

    /// `tenant`'s normalizer, made on first use and again once the catalog is replaced (what
    /// it learned is in the recall store).
    fn normalizer(&self, tenant: &str) -> Arc<AsyncMutex<Normalizer>> {
        let catalog = self.catalog.get();
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((made_with, normalizer)) = tenants.get(tenant) {
            if Arc::ptr_eq(made_with, &catalog) {
                return normalizer.clone();
            }
        }
        let normalizer = Arc::new(AsyncMutex::new(
            Normalizer::new(catalog.clone(), tenant)
                .refusing_future(self.max_skew)
                .inflating_at_most(self.inflate),
        ));
        tenants.insert(tenant.to_owned(), (catalog, normalizer.clone()));
        normalizer
    }
}

/// Runs `job` on the blocking pool, handing the normalizer back with its result.
async fn off_workers<R, J>(
    mut normalizer: OwnedMutexGuard<Normalizer>,
    job: Arc<J>,
) -> Result<(OwnedMutexGuard<Normalizer>, R), PortError>
where
    R: Send + 'static,
    J: Fn(&mut Normalizer) -> R + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || {
        let result = job(&mut normalizer);
        (normalizer, result)
    })
    .await
    .map_err(|e| PortError::caused("normalizing stopped", e))
}
