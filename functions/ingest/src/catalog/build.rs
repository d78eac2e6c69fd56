//! A catalog from AWS Price List offer files (`dd0c-cost catalog build --from DIR`, `catalog
//! update`), and what changed against the previous catalog.
//!
//! The build reads the offer index, each service's region index and every commercial region's
//! offer file, in that order, from a [`PriceList`]: a directory laid out as the Price List's
//! URLs, or the Price List itself over HTTP. It writes:
//! - `hourly`: the base region's prices for what the offer files list (a kind's table is
//!   replaced whole, so a type AWS no longer sells is estimated, not kept at an old price);
//! - `region_prices`: every other region's exact prices;
//! - `region_multipliers`: per region, the median ratio of its EC2 prices to the base region's
//!   — the marked fallback for what the offer files do not list (Fargate, DynamoDB, …);
//! - `sources`: per service, the offer file's publication date and the regions read.
//!
//! Everything the offer files do not give (those kinds, EBS IOPS, spot fractions, …) is kept
//! from the previous catalog.

use std::collections::BTreeMap;

use dd0c_ports::price_list::{PriceList, OFFER_INDEX};
use dd0c_ports::PortError;

use super::price_list::{
    read_offer, OfferError, OfferIndex, OfferPrices, RegionIndex, Target, OFFERS,
};
use super::{
    median, products, rds_kind, storage_kind, storage_table, CatalogError, CatalogFile,
    PriceCatalog, Provenance, Table,
};

/// A catalog that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file could not be had.
    #[error("cannot get {path}")]
    Fetch {
        /// The file's path.
        path: String,
        /// Why.
        source: PortError,
    },
    /// A file is not what the Price List serves.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// The offer files gave no EC2 prices in the base region: nothing to build on.
    #[error(
        "no EC2 instance prices in {0}, the catalog's base region: the regions read must include \
         it, and the files must be the Price List's"
    )]
    NoBase(String),
    /// The result is not a valid catalog.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

/// What a build read, per service.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServiceReport {
    /// Regions read.
    pub regions: usize,
    /// Prices taken.
    pub prices: usize,
    /// Prices of one target that disagreed (the higher was kept).
    pub conflicts: usize,
}

/// A built catalog and what went into it.
#[derive(Debug)]
pub struct Built {
    /// The catalog.
    pub catalog: PriceCatalog,
    /// Per offer code.
    pub services: BTreeMap<String, ServiceReport>,
}

/// Builds a catalog from the offer files `source` serves, keeping from `previous` what they
/// do not give. `only_regions` narrows the regions read (all commercial regions when empty).
pub async fn build(
    source: &dyn PriceList,
    previous: &PriceCatalog,
    only_regions: &[String],
) -> Result<Built, BuildError> {
    let index: OfferIndex = json(source, OFFER_INDEX).await?;
    let described = source.describe();
    let mut collected = Collected::default();
    for offer in OFFERS {
        let Some(entry) = index.offers.get(offer) else {
            continue;
        };
        let regions: RegionIndex = json(source, &entry.current_region_index_url).await?;
        for (region, entry) in regions.commercial() {
            if !only_regions.is_empty() && !only_regions.iter().any(|r| r == region) {
                continue;
            }
            let path = &entry.current_version_url;
            let text = fetch(source, path).await?;
            let prices = read_offer(&text, path, products::rule)?;
            collected.add(offer, region, prices, &described);
        }
    }
    let services = collected.reports.clone();
    let file = collected.into_file(previous.file.clone(), &described)?;
    let catalog = PriceCatalog::from_file(file, "the built catalog")?;
    Ok(Built { catalog, services })
}

async fn json<T: serde::de::DeserializeOwned>(
    source: &dyn PriceList,
    path: &str,
) -> Result<T, BuildError> {
    let bytes = fetch(source, path).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        BuildError::Offer(OfferError {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    })
}

async fn fetch(source: &dyn PriceList, path: &str) -> Result<Vec<u8>, BuildError> {
    source.get(path).await.map_err(|source| BuildError::Fetch {
        path: path.to_owned(),
        source,
    })
}

/// Prices gathered from every offer file read.
#[derive(Debug, Default)]
struct Collected {
    by_region: BTreeMap<String, BTreeMap<Target, f64>>,
    provenance: BTreeMap<String, Provenance>,
    reports: BTreeMap<String, ServiceReport>,
}

impl Collected {
    fn add(&mut self, offer: &str, region: &str, prices: OfferPrices, source: &str) {
        let report = self.reports.entry(offer.to_owned()).or_default();
        report.regions += 1;
        report.prices += prices.prices.len();
        report.conflicts += prices.conflicts;
        let date = prices
            .publication_date
            .get(..10)
            .unwrap_or_default()
            .to_owned();
        let provenance = self
            .provenance
            .entry(offer.to_owned())
            .or_insert_with(|| Provenance {
                as_of: String::new(),
                source: format!("{source}, {offer} version {}", prices.version),
                regions: 0,
            });
        provenance.regions += 1;
        if date > provenance.as_of {
            provenance.as_of = date;
        }
        self.by_region
            .entry(region.to_owned())
            .or_default()
            .extend(prices.prices);
    }

    /// Writes what was gathered over `file`: see the module's documentation.
    fn into_file(self, mut file: CatalogFile, source: &str) -> Result<CatalogFile, BuildError> {
        let base_region = file.base_region.clone();
        let tables: BTreeMap<String, Table> = self
            .by_region
            .into_iter()
            .map(|(region, prices)| (region, as_table(prices)))
            .collect();
        let base = tables
            .get(&base_region)
            .filter(|t| t.contains_key("ec2.instance"))
            .ok_or_else(|| BuildError::NoBase(base_region.clone()))?;
        for (region, table) in &tables {
            if let Some(ratio) = median_ratio(base, table) {
                file.region_multipliers.insert(region.clone(), ratio);
            }
        }
        for (kind, prices) in base {
            match storage_table(kind) {
                Some(storage) => file
                    .monthly_per_gb
                    .entry(storage.to_owned())
                    .or_default()
                    .extend(prices.iter().map(|(t, p)| (t.clone(), *p))),
                None => {
                    file.hourly.insert(kind.clone(), prices.clone());
                }
            }
        }
        for (region, table) in tables {
            if region != base_region {
                file.region_prices.insert(region, table);
            }
        }
        file.as_of = self
            .provenance
            .values()
            .map(|p| p.as_of.clone())
            .max()
            .unwrap_or(file.as_of);
        file.sources = self.provenance;
        file.catalog =
            Some("dd0c/cost AWS price catalog, built by `dd0c-cost catalog build`".into());
        file.source = format!("AWS Price List bulk offer files: on-demand list prices, Linux, shared tenancy ({source})");
        file.notes = built_notes();
        Ok(file)
    }
}

/// The catalog's table entries of one region's prices.
fn as_table(prices: BTreeMap<Target, f64>) -> Table {
    let mut table = Table::new();
    let mut put = |kind: String, resource_type: String, price: f64| {
        table.entry(kind).or_default().insert(resource_type, price);
    };
    for (target, price) in prices {
        match target {
            Target::Hourly {
                kind,
                resource_type,
            } => put(kind.to_owned(), resource_type, price),
            Target::MonthlyPerGb { table, volume_type } => {
                put(storage_kind(table), volume_type, price);
            }
            Target::Rds {
                engine,
                multi_az,
                class,
            } => {
                if engine == "mysql" && !multi_az {
                    // MySQL Single-AZ is the class table the estimator and the engine
                    // multipliers (the fallback) work from.
                    put("rds.instance".into(), class.clone(), price);
                }
                put(rds_kind(&engine, multi_az), class, price);
            }
        }
    }
    table
}

/// The median of a region's EC2 prices over the base region's, for the types both list.
fn median_ratio(base: &Table, region: &Table) -> Option<f64> {
    let (base, region) = (base.get("ec2.instance")?, region.get("ec2.instance")?);
    let ratios: Vec<f64> = region
        .iter()
        .filter_map(|(t, p)| Some(p / base.get(t).filter(|b| **b > 0.0)?))
        .collect();
    Some((median(ratios)? * 1000.0).round() / 1000.0)
}

fn built_notes() -> Vec<String> {
    [
        "Prices under 'hourly' are the base region's USD per resource-hour; 'region_prices' lists every other commercial region's exact prices, as the AWS Price List gives them.",
        "region_multipliers are the median ratio of a region's EC2 prices to the base region's: the fallback for what the offer files do not list, and every price through it is marked 'estimated' where the region lists the kind.",
        "RDS classes are listed per engine and deployment (rds.instance/<engine>[/multi-az]); rds.instance is MySQL Single-AZ, from which rds_engines multipliers estimate an engine the offer files do not list.",
        "A type missing from its table is estimated from its family and size (AWS normalization units) and marked 'estimated'; failing that, from its class letters' median per-unit price.",
        "Spot capacity is priced as an estimate: on-demand × spot.fraction_of_on_demand (or the family's own fraction).",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// One price that moved between two catalogs.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The region.
    pub region: String,
    /// The catalog kind.
    pub kind: String,
    /// The type.
    pub resource_type: String,
    /// USD before.
    pub from: f64,
    /// USD after.
    pub to: f64,
}

impl Move {
    /// How far it moved, either way, as a factor's logarithm (a halving and a doubling weigh
    /// the same).
    fn size(&self) -> f64 {
        (self.to / self.from).ln().abs()
    }
}

/// What a new catalog changes against the previous one.
#[derive(Debug, Default)]
pub struct Changes {
    /// `kind type` listed in some region now and in none before.
    pub added: Vec<String>,
    /// `kind type` listed before and in no region now.
    pub removed: Vec<String>,
    /// Prices listed in both that differ, biggest move first.
    pub moved: Vec<Move>,
}

/// Compares two catalogs' listed prices, region by region.
pub fn compare(old: &PriceCatalog, new: &PriceCatalog) -> Changes {
    let (old, new) = (old.entries(), new.entries());
    let types = |entries: &BTreeMap<(String, String, String), f64>| {
        entries
            .keys()
            .map(|(_, kind, t)| format!("{kind} {t}"))
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (old_types, new_types) = (types(&old), types(&new));
    let mut moved: Vec<Move> = new
        .iter()
        .filter_map(|(key, to)| {
            let from = *old.get(key)?;
            let differs = from > 0.0 && (to - from).abs() > 1e-9 * from.max(1.0);
            differs.then(|| Move {
                region: key.0.clone(),
                kind: key.1.clone(),
                resource_type: key.2.clone(),
                from,
                to: *to,
            })
        })
        .collect();
    moved.sort_by(|a, b| b.size().total_cmp(&a.size()));
    Changes {
        added: new_types.difference(&old_types).cloned().collect(),
        removed: old_types.difference(&new_types).cloned().collect(),
        moved,
    }
}

impl std::fmt::Display for Changes {
    /// A few lines: counts, the first types added and removed, the biggest moves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 10;
        let first = |list: &[String]| {
            let mut shown = list
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if list.len() > SHOWN {
                shown.push_str(", …");
            }
            shown
        };
        writeln!(
            f,
            "types added: {} {}",
            self.added.len(),
            first(&self.added)
        )?;
        writeln!(
            f,
            "types removed: {} {}",
            self.removed.len(),
            first(&self.removed)
        )?;
        writeln!(f, "prices moved: {}", self.moved.len())?;
        for m in self.moved.iter().take(SHOWN) {
            let percent = (m.to / m.from - 1.0) * 100.0;
            writeln!(
                f,
                "  {} {} {}: ${} → ${} ({percent:+.1} %)",
                m.region, m.kind, m.resource_type, m.from, m.to
            )?;
        }
        Ok(())
    }
}
