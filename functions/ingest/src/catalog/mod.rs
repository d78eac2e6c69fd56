//! The price catalog: data, not code. The bundled catalog (`data/aws-price-catalog.json`) holds
//! base-region (us-east-1) on-demand prices under `hourly`, exact prices of other regions under
//! `region_prices`, and regional multipliers as the marked fallback for what neither lists;
//! users may pass their own file with the same shape (for negotiated rates).
//!
//! - [`price_list`] — AWS Price List bulk offer files, read in one filtering pass.
//! - [`products`] — which offer products the catalog takes, service by service.
//! - [`build`] — `catalog build` / `catalog update`: a catalog from offer files, by directory or
//!   over HTTP, and what changed against the previous one.
//! - [`refresh`] — the catalog kept under an archive key: rebuilt there on a schedule, reloaded
//!   by every process that prices, its age watched.

pub mod build;
pub mod price_list;
pub mod products;
pub mod refresh;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock, RwLock};

use dd0c_ports::domain::PriceSource;
use serde::{Deserialize, Serialize};

const BUNDLED: &str = include_str!("../../data/aws-price-catalog.json");

/// Kinds whose types are instance classes, priced by family and size when not listed.
const CLASS_KINDS: [&str; 7] = [
    "ec2.instance",
    "rds.instance",
    "elasticache.node",
    "opensearch.node",
    "redshift.node",
    "sagemaker.instance",
    "msk.broker",
];

/// A catalog file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read price catalog {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a catalog.
    #[error("price catalog {path} is invalid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the JSON position or field.
        reason: String,
    },
}

/// Prices by kind, then type.
type Table = BTreeMap<String, BTreeMap<String, f64>>;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog: Option<String>,
    source: String,
    as_of: String,
    /// Per AWS service (offer code): where its prices come from and when AWS published them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sources: BTreeMap<String, Provenance>,
    currency: String,
    hours_per_month: f64,
    base_region: String,
    #[serde(default)]
    notes: Vec<String>,
    region_multipliers: BTreeMap<String, f64>,
    unknown_region_multiplier: f64,
    hourly: Table,
    /// Region → kind → type: exact prices, winning over multipliers. Kinds
    /// `monthly_per_gb.<table>` hold storage per GB-month; `rds.instance/<engine>[/multi-az]`
    /// RDS classes under an engine.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    region_prices: BTreeMap<String, Table>,
    monthly_per_gb: Table,
    ebs_extras: EbsExtras,
    rds_engines: RdsEngines,
    derived_from_ec2: BTreeMap<String, f64>,
    #[serde(default)]
    spot: Spot,
}

/// Where one service's prices come from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// When AWS published them (the offer file's `publicationDate`, a date).
    pub as_of: String,
    /// What they were read from.
    pub source: String,
    /// The regions read.
    pub regions: usize,
}

/// How spot capacity is priced: an estimate, a fraction of the on-demand price. Spot prices
/// move by the hour and differ by zone; no catalog can hold them, and on-demand is what the
/// capacity would cost if it were not spot, not what it costs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spot {
    /// The fraction of on-demand a spot hour costs, for families not listed below.
    pub fraction_of_on_demand: f64,
    /// By instance family (`p5`) or class letters (`p`): a family's own fraction wins.
    #[serde(default)]
    pub by_family: BTreeMap<String, f64>,
}

impl Default for Spot {
    /// AWS advertises spot at "up to 90 %" off; across families the usual saving is about
    /// two thirds, and accelerated capacity, most in demand, saves about half.
    fn default() -> Self {
        Spot {
            fraction_of_on_demand: 0.35,
            by_family: [("p", 0.5), ("g", 0.45), ("trn", 0.5), ("inf", 0.45)]
                .into_iter()
                .map(|(f, v)| (f.to_owned(), v))
                .collect(),
        }
    }
}

/// The catalog kind holding RDS classes under `engine`, Single- or Multi-AZ.
pub fn rds_kind(engine: &str, multi_az: bool) -> String {
    let az = if multi_az { "/multi-az" } else { "" };
    format!("rds.instance/{engine}{az}")
}

/// The catalog kind holding storage prices of a `monthly_per_gb` table, per region.
pub fn storage_kind(table: &str) -> String {
    format!("{STORAGE_KIND}{table}")
}

/// The `monthly_per_gb` table a [`storage_kind`] names; `None` for another kind.
pub fn storage_table(kind: &str) -> Option<&str> {
    kind.strip_prefix(STORAGE_KIND)
}

const STORAGE_KIND: &str = "monthly_per_gb.";

/// Pricing of EBS beyond capacity.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EbsExtras {
    /// IOPS included free with gp3.
    pub gp3_free_iops: f64,
    /// Throughput (MiB/s) included free with gp3.
    pub gp3_free_throughput_mibps: f64,
    /// USD per provisioned IOPS-month by volume type.
    pub iops_month: BTreeMap<String, f64>,
    /// USD per provisioned MiB/s-month by volume type.
    pub throughput_mibps_month: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RdsEngines {
    multi_az_multiplier: f64,
    catalog: BTreeMap<String, f64>,
    estimated: BTreeMap<String, f64>,
}

/// A price and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// USD per hour for one resource.
    pub hourly_usd: f64,
    /// How it was determined.
    pub source: PriceSource,
}

impl Price {
    /// "We cannot tell": zero, and flagged `unknown`.
    pub const UNKNOWN: Price = Price {
        hourly_usd: 0.0,
        source: PriceSource::Unknown,
    };

    /// Scales the price, keeping its source.
    pub fn times(self, factor: f64) -> Price {
        Price {
            hourly_usd: self.hourly_usd * factor,
            source: self.source,
        }
    }

    /// The sum of two prices; the less certain source wins.
    pub fn plus(self, other: Price) -> Price {
        Price {
            hourly_usd: self.hourly_usd + other.hourly_usd,
            source: worst(self.source, other.source),
        }
    }

    /// Downgrades the source to at least `source`.
    pub fn at_best(self, source: PriceSource) -> Price {
        Price {
            hourly_usd: self.hourly_usd,
            source: worst(self.source, source),
        }
    }
}

/// The less certain of two sources.
pub fn worst(a: PriceSource, b: PriceSource) -> PriceSource {
    let rank = |s| match s {
        PriceSource::Catalog => 0,
        PriceSource::Estimated => 1,
        PriceSource::Unknown => 2,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

/// AWS normalization units of an instance size: nano 0.25, micro 0.5, small 1, medium 2,
/// large 4, xlarge 8, Nxlarge 8N, `metal-Nxl` 8N. `None` for `metal` and unknown sizes.
pub fn size_units(size: &str) -> Option<f64> {
    match size {
        "nano" => Some(0.25),
        "micro" => Some(0.5),
        "small" => Some(1.0),
        "medium" => Some(2.0),
        "large" => Some(4.0),
        "xlarge" => Some(8.0),
        "xlplus" => Some(12.0),
        _ => {
            let n = size.strip_suffix("xlarge").or_else(|| {
                size.strip_prefix("metal-")
                    .and_then(|s| s.strip_suffix("xl"))
            })?;
            n.parse::<f64>().ok().filter(|n| *n > 0.0).map(|n| 8.0 * n)
        }
    }
}

/// Splits an instance-class type into (family, size): `m5.xlarge` → (`m5`, `xlarge`),
/// `db.r6g.large` → (`db.r6g`, `large`), `r6g.large.search` → (`r6g`, `large`).
fn family_and_size(resource_type: &str) -> Option<(&str, &str)> {
    let trimmed = resource_type
        .strip_suffix(".search")
        .unwrap_or(resource_type);
    let (family, size) = trimmed.rsplit_once('.')?;
    (!family.is_empty() && !size.is_empty()).then_some((family, size))
}

/// The EC2 type behind a service's instance class: `db.r6g.large` → `r6g.large`.
fn ec2_equivalent(resource_type: &str) -> &str {
    let trimmed = resource_type
        .strip_suffix(".search")
        .unwrap_or(resource_type);
    ["db.", "cache.", "ml.", "kafka."]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix))
        .unwrap_or(trimmed)
}

/// The class letters of a family: `m` of `m7gd`, `inf` of `inf2`, `db.r` of `db.r6g`.
fn class_of(family: &str) -> &str {
    let (prefix, bare) = family
        .rsplit_once('.')
        .map_or(("", family), |(p, b)| (p, b));
    let letters = bare
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(bare.len());
    &family[..prefix.len() + usize::from(!prefix.is_empty()) + letters]
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Per-kind figures precomputed for estimation.
#[derive(Debug, Default)]
struct ClassIndex {
    /// Mean USD per normalization unit by family.
    per_unit_by_family: HashMap<String, f64>,
    /// Largest size (in units) listed by family, for `.metal`.
    max_units_by_family: HashMap<String, f64>,
    /// Median per-unit price by class letters.
    per_unit_by_class: HashMap<String, f64>,
    /// Median per-unit price of the whole kind.
    per_unit_overall: Option<f64>,
}

impl ClassIndex {
    fn build(prices: &BTreeMap<String, f64>) -> Self {
        let mut per_family: HashMap<String, Vec<f64>> = HashMap::new();
        let mut index = ClassIndex::default();
        for (resource_type, price) in prices {
            let Some((family, size)) = family_and_size(resource_type) else {
                continue;
            };
            let Some(units) = size_units(size) else {
                continue;
            };
            per_family
                .entry(family.to_owned())
                .or_default()
                .push(price / units);
            let max = index
                .max_units_by_family
                .entry(family.to_owned())
                .or_insert(0.0);
            *max = max.max(units);
        }
        let mut per_class: HashMap<String, Vec<f64>> = HashMap::new();
        for (family, rates) in &per_family {
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            index.per_unit_by_family.insert(family.clone(), mean);
            per_class
                .entry(class_of(family).to_owned())
                .or_default()
                .push(mean);
        }
        index.per_unit_overall = median(index.per_unit_by_family.values().copied().collect());
        index.per_unit_by_class = per_class
            .into_iter()
            .filter_map(|(c, v)| Some((c, median(v)?)))
            .collect();
        index
    }
}

/// The catalog in use, shared by everything that prices and replaced whole when a refreshed one
/// is loaded: a reader keeps the catalog it got for as long as it prices one thing.
#[derive(Debug, Clone)]
pub struct Current(Arc<RwLock<Arc<PriceCatalog>>>);

impl Current {
    /// `catalog`, in use until replaced.
    pub fn new(catalog: Arc<PriceCatalog>) -> Self {
        Current(Arc::new(RwLock::new(catalog)))
    }

    /// The catalog in use now.
    pub fn get(&self) -> Arc<PriceCatalog> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Uses `catalog` from now on, for everyone sharing this handle.
    pub fn replace(&self, catalog: Arc<PriceCatalog>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = catalog;
    }
}

impl From<Arc<PriceCatalog>> for Current {
    fn from(catalog: Arc<PriceCatalog>) -> Self {
        Current::new(catalog)
    }
}

/// A loaded, validated price catalog.
#[derive(Debug)]
pub struct PriceCatalog {
    file: CatalogFile,
    classes: HashMap<String, ClassIndex>,
}

impl PriceCatalog {
    /// The catalog shipped inside the binary (parsed once per process).
    pub fn bundled() -> Arc<PriceCatalog> {
        static BUNDLED_CATALOG: OnceLock<Arc<PriceCatalog>> = OnceLock::new();
        BUNDLED_CATALOG
            .get_or_init(|| {
                Arc::new(Self::parse(BUNDLED, "bundled catalog").unwrap_or_else(|e| panic!("{e}")))
            })
            .clone()
    }

    /// A catalog file of the same shape as the bundled one.
    pub fn from_path(path: &Path) -> Result<PriceCatalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates catalog text; `name` appears in errors.
    pub fn parse(text: &str, name: &str) -> Result<PriceCatalog, CatalogError> {
        let invalid = |reason: String| CatalogError::Invalid {
            path: name.to_owned(),
            reason,
        };
        let file: CatalogFile = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        Self::from_file(file, name)
    }

    /// Validates a catalog's contents; `name` appears in errors.
    fn from_file(file: CatalogFile, name: &str) -> Result<PriceCatalog, CatalogError> {
        let invalid = |reason: String| CatalogError::Invalid {
            path: name.to_owned(),
            reason,
        };
        if file.currency != "USD" {
            return Err(invalid(format!(
                "currency {:?}: only USD is supported",
                file.currency
            )));
        }
        for (kind, prices) in file
            .hourly
            .iter()
            .chain(file.region_prices.values().flat_map(|m| m.iter()))
        {
            if let Some((t, p)) = prices.iter().find(|(_, p)| !p.is_finite() || **p < 0.0) {
                return Err(invalid(format!(
                    "price of {kind} {t} is {p}: must be a non-negative number"
                )));
            }
        }
        let spot = &file.spot;
        let fractions = std::iter::once(("default", &spot.fraction_of_on_demand))
            .chain(spot.by_family.iter().map(|(f, v)| (f.as_str(), v)));
        for (family, fraction) in fractions {
            if !(*fraction > 0.0 && *fraction <= 1.0) {
                return Err(invalid(format!(
                    "spot fraction of {family} is {fraction}: must be in (0, 1]"
                )));
            }
        }
        for kind in CLASS_KINDS {
            if !file.hourly.contains_key(kind) {
                return Err(invalid(format!("hourly.{kind} is missing")));
            }
        }
        let classes = CLASS_KINDS
            .iter()
            .map(|kind| (kind.to_string(), ClassIndex::build(&file.hourly[*kind])))
            .collect();
        Ok(PriceCatalog { file, classes })
    }

    /// Whether `other` holds the same file: the same prices, rules and provenance.
    pub fn same_as(&self, other: &PriceCatalog) -> bool {
        self.file == other.file
    }

    /// The catalog as a file of the bundled shape.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Where the prices come from, as the file says.
    pub fn source(&self) -> &str {
        &self.file.source
    }

    /// The catalog's own name, if it gives one.
    pub fn name(&self) -> Option<&str> {
        self.file.catalog.as_deref()
    }

    /// How the catalog is to be read (multipliers, estimation rules), as the file says.
    pub fn notes(&self) -> &[String] {
        &self.file.notes
    }

    /// The date the prices were taken.
    pub fn as_of(&self) -> &str {
        &self.file.as_of
    }

    /// Hours in a month for projections.
    pub fn hours_per_month(&self) -> f64 {
        self.file.hours_per_month
    }

    /// The region's multiplier on base-region prices and whether it is an estimate.
    fn region_factor(&self, region: &str) -> (f64, PriceSource) {
        match self.file.region_multipliers.get(region) {
            Some(m) => (*m, PriceSource::Catalog),
            None => (self.file.unknown_region_multiplier, PriceSource::Estimated),
        }
    }

    /// The exact price the catalog lists for `kind` / `resource_type` in `region`: from
    /// `region_prices`, or in the base region from `hourly`.
    fn exact(&self, kind: &str, resource_type: &str, region: &str) -> Option<f64> {
        let listed = |table: &Table| table.get(kind).and_then(|t| t.get(resource_type)).copied();
        self.file
            .region_prices
            .get(region)
            .and_then(listed)
            .or_else(|| (region == self.file.base_region).then(|| listed(&self.file.hourly))?)
    }

    /// Applies the region: an exact regional price wins; else the base price × the region's
    /// multiplier, an estimate when the catalog lists the kind in that region (so the type is
    /// not sold there, or is new) or does not know the region.
    fn in_region(&self, kind: &str, resource_type: &str, region: &str, base: Price) -> Price {
        if let Some(exact) = self.exact(kind, resource_type, region) {
            return Price {
                hourly_usd: exact,
                source: PriceSource::Catalog,
            };
        }
        let (factor, mut source) = self.region_factor(region);
        let lists_kind = self
            .file
            .region_prices
            .get(region)
            .is_some_and(|r| r.contains_key(kind));
        if lists_kind {
            source = PriceSource::Estimated;
        }
        base.times(factor).at_best(source)
    }

    /// USD per hour for one resource of `kind` / `resource_type` in `region`. Instance classes
    /// missing from the table are estimated; other missing types are `Price::UNKNOWN`.
    pub fn hourly(&self, kind: &str, resource_type: &str, region: &str) -> Price {
        let base = self.base_hourly(kind, resource_type);
        if base.source == PriceSource::Unknown {
            return base;
        }
        self.in_region(kind, resource_type, region, base)
    }

    fn base_hourly(&self, kind: &str, resource_type: &str) -> Price {
        if let Some(price) = self
            .file
            .hourly
            .get(kind)
            .and_then(|t| t.get(resource_type))
        {
            return Price {
                hourly_usd: *price,
                source: PriceSource::Catalog,
            };
        }
        if self.classes.contains_key(kind) {
            self.estimate(kind, resource_type).unwrap_or(Price::UNKNOWN)
        } else {
            Price::UNKNOWN
        }
    }

    /// Estimates an instance class missing from its table: from its family's per-unit price;
    /// else (service classes) from the EC2 equivalent × the service's documented ratio; else
    /// from its class letters' median per-unit price. Monotone in size within a family.
    pub fn estimate(&self, kind: &str, resource_type: &str) -> Option<Price> {
        let index = self.classes.get(kind)?;
        let (family, size) = family_and_size(resource_type)?;
        let units = size_units(size).or_else(|| match size {
            "metal" => Some(
                index
                    .max_units_by_family
                    .get(family)
                    .copied()
                    .unwrap_or(192.0),
            ),
            _ => None,
        })?;
        let estimated = |per_unit: f64| Price {
            hourly_usd: per_unit * units,
            source: PriceSource::Estimated,
        };
        if let Some(per_unit) = index.per_unit_by_family.get(family) {
            return Some(estimated(*per_unit));
        }
        if kind != "ec2.instance" {
            let ratio = self.file.derived_from_ec2.get(kind).copied()?;
            let ec2 = self.base_hourly("ec2.instance", ec2_equivalent(resource_type));
            if ec2.source != PriceSource::Unknown {
                return Some(ec2.times(ratio).at_best(PriceSource::Estimated));
            }
        }
        let per_unit = index
            .per_unit_by_class
            .get(class_of(family))
            .copied()
            .or(index.per_unit_overall)?;
        Some(estimated(per_unit))
    }

    /// USD per GB-month of storage in `table` (`ebs`, `rds`, `opensearch`, `msk`, `snapshot`)
    /// for a volume type, converted to USD per GB-hour in `region`: the region's exact price,
    /// else the base price × the region's multiplier.
    pub fn storage_gb_hourly(&self, table: &str, volume_type: &str, region: &str) -> Price {
        let per_hour = |month: f64| Price {
            hourly_usd: month / self.file.hours_per_month,
            source: PriceSource::Catalog,
        };
        // `exact` reads `region_prices`; the base region's storage is `monthly_per_gb` below.
        if let Some(month) = self.exact(&storage_kind(table), volume_type, region) {
            return per_hour(month);
        }
        let Some(month) = self
            .file
            .monthly_per_gb
            .get(table)
            .and_then(|t| t.get(volume_type))
        else {
            return Price::UNKNOWN;
        };
        let (factor, source) = self.region_factor(region);
        per_hour(*month).times(factor).at_best(source)
    }

    /// One EBS volume per hour: its capacity, plus the IOPS and throughput provisioned beyond
    /// what its type includes.
    pub fn ebs_volume(
        &self,
        volume_type: &str,
        size_gb: f64,
        iops: f64,
        throughput_mibps: f64,
        region: &str,
    ) -> Price {
        let extras = &self.file.ebs_extras;
        let mut price = self
            .storage_gb_hourly("ebs", volume_type, region)
            .times(size_gb);
        if let Some(per_iops) = extras.iops_month.get(volume_type) {
            let free = if volume_type == "gp3" {
                extras.gp3_free_iops
            } else {
                0.0
            };
            price = price.plus(self.monthly_to_hourly((iops - free).max(0.0) * per_iops, region));
        }
        if let Some(per_mibps) = extras.throughput_mibps_month.get(volume_type) {
            let billable = (throughput_mibps - extras.gp3_free_throughput_mibps).max(0.0);
            price = price.plus(self.monthly_to_hourly(billable * per_mibps, region));
        }
        price
    }

    /// One RDS instance class per hour under its engine, Single-AZ: the catalog's exact price
    /// for the engine, else MySQL's price × the engine's multiplier (without an engine, an
    /// estimate at MySQL's).
    pub fn rds_class(&self, class: &str, engine: Option<&str>, region: &str) -> Price {
        self.rds_class_in(class, engine, false, region)
    }

    /// [`Self::rds_class`], Single- or Multi-AZ: an exact Multi-AZ price wins over doubling.
    fn rds_class_in(
        &self,
        class: &str,
        engine: Option<&str>,
        multi_az: bool,
        region: &str,
    ) -> Price {
        let engine = engine.map(str::to_ascii_lowercase);
        if let Some(exact) = engine
            .as_deref()
            .and_then(|e| self.exact(&rds_kind(e, multi_az), class, region))
        {
            return Price {
                hourly_usd: exact,
                source: PriceSource::Catalog,
            };
        }
        let base = self.hourly("rds.instance", class, region);
        let (factor, certainty) = match engine.as_deref() {
            Some(e) => self.rds_engine(e),
            None => (1.0, PriceSource::Estimated),
        };
        let az_factor = if multi_az { self.rds_multi_az() } else { 1.0 };
        base.times(factor * az_factor).at_best(certainty)
    }

    /// One RDS DB instance per hour: its class under its engine and its storage (`(GB, type)`;
    /// Aurora's storage bills by use, so none), both Multi-AZ when it is.
    pub fn rds_instance(
        &self,
        class: &str,
        engine: Option<&str>,
        multi_az: bool,
        storage: Option<(f64, &str)>,
        region: &str,
    ) -> Price {
        let az_factor = if multi_az { self.rds_multi_az() } else { 1.0 };
        let mut price = self.rds_class_in(class, engine, multi_az, region);
        let is_aurora = engine.is_some_and(|e| e.starts_with("aurora"));
        if let (false, Some((gb, storage_type))) = (is_aurora, storage) {
            price = price.plus(
                self.storage_gb_hourly("rds", storage_type, region)
                    .times(gb * az_factor),
            );
        }
        price
    }

    /// One spot instance-hour of an EC2 type in `region`: the on-demand price × the spot
    /// fraction of its family, always an estimate.
    pub fn spot_hourly(&self, resource_type: &str, region: &str) -> Price {
        let on_demand = self.hourly("ec2.instance", resource_type, region);
        let spot = &self.file.spot;
        let fraction = family_and_size(resource_type)
            .and_then(|(family, _)| {
                spot.by_family
                    .get(family)
                    .or_else(|| spot.by_family.get(class_of(family)))
            })
            .copied()
            .unwrap_or(spot.fraction_of_on_demand);
        on_demand.times(fraction).at_best(PriceSource::Estimated)
    }

    /// Per AWS service, where its prices come from (empty for a hand-made catalog).
    pub fn sources(&self) -> &BTreeMap<String, Provenance> {
        &self.file.sources
    }

    /// Whole days from the catalog's `as_of` to `today`; `None` when `as_of` is not a date.
    pub fn age_days(&self, today: chrono::NaiveDate) -> Option<i64> {
        let as_of = self.file.as_of.get(..10)?;
        let date = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").ok()?;
        Some((today - date).num_days())
    }

    /// EBS extras (IOPS, throughput).
    pub fn ebs_extras(&self) -> &EbsExtras {
        &self.file.ebs_extras
    }

    /// Converts a monthly USD figure to hourly in `region`.
    pub fn monthly_to_hourly(&self, usd_month: f64, region: &str) -> Price {
        let (factor, source) = self.region_factor(region);
        Price {
            hourly_usd: usd_month / self.file.hours_per_month * factor,
            source,
        }
    }

    /// The RDS engine multiplier on MySQL class prices and its certainty.
    pub fn rds_engine(&self, engine: &str) -> (f64, PriceSource) {
        let engines = &self.file.rds_engines;
        let engine = engine.to_ascii_lowercase();
        if let Some(m) = engines.catalog.get(&engine) {
            (*m, PriceSource::Catalog)
        } else {
            (
                engines.estimated.get(&engine).copied().unwrap_or(1.0),
                PriceSource::Estimated,
            )
        }
    }

    /// The RDS Multi-AZ multiplier.
    pub fn rds_multi_az(&self) -> f64 {
        self.file.rds_engines.multi_az_multiplier
    }

    /// A documented ratio to EC2 prices (`emr.fee`, …).
    pub fn ratio_to_ec2(&self, name: &str) -> Option<f64> {
        self.file.derived_from_ec2.get(name).copied()
    }

    /// Every type listed under a kind, with its base-region price.
    pub fn listed(&self, kind: &str) -> impl Iterator<Item = (&str, f64)> {
        self.file
            .hourly
            .get(kind)
            .into_iter()
            .flat_map(|t| t.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    /// Every price the catalog lists, by (region, kind, type): the base region's `hourly` and
    /// `monthly_per_gb` (as `monthly_per_gb.<table>`), then `region_prices`.
    pub fn entries(&self) -> BTreeMap<(String, String, String), f64> {
        let base = self.file.hourly.iter().map(|(k, t)| (k.clone(), t)).chain(
            self.file
                .monthly_per_gb
                .iter()
                .map(|(table, t)| (storage_kind(table), t)),
        );
        let base = base.map(|(kind, t)| (self.file.base_region.clone(), kind, t));
        let regional = self.file.region_prices.iter().flat_map(|(region, table)| {
            table
                .iter()
                .map(|(kind, t)| (region.clone(), kind.clone(), t))
        });
        base.chain(regional)
            .flat_map(|(region, kind, t)| {
                t.iter()
                    .map(move |(ty, p)| ((region.clone(), kind.clone(), ty.clone()), *p))
            })
            .collect()
    }

    /// The base region.
    pub fn base_region(&self) -> &str {
        &self.file.base_region
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalog_loads_and_knows_its_provenance() {
        let catalog = PriceCatalog::bundled();
        assert!(catalog.source().contains("on-demand"));
        assert_eq!(catalog.as_of(), "2025-06-01");
        assert_eq!(catalog.base_region(), "us-east-1");
        assert_eq!(catalog.hours_per_month(), 730.0);
    }

    #[test]
    fn every_ec2_type_has_a_positive_us_east_1_price() {
        let catalog = PriceCatalog::bundled();
        let mut count = 0;
        for (resource_type, _) in catalog.listed("ec2.instance") {
            let price = catalog.hourly("ec2.instance", resource_type, "us-east-1");
            assert_eq!(price.source, PriceSource::Catalog, "{resource_type}");
            assert!(price.hourly_usd > 0.0, "{resource_type} has no price");
            count += 1;
        }
        assert!(
            count > 700,
            "all current families and common previous generations: {count}"
        );
        for must in [
            "p2.xlarge",
            "p3.2xlarge",
            "p4d.24xlarge",
            "p5.48xlarge",
            "g4dn.xlarge",
            "g5.xlarge",
            "g6.xlarge",
            "inf1.xlarge",
            "inf2.xlarge",
            "trn1.32xlarge",
            "t1.micro",
            "m1.small",
            "m7g.large",
            "c7i.large",
            "r7a.large",
        ] {
            assert!(
                catalog.listed("ec2.instance").any(|(t, _)| t == must),
                "{must} missing"
            );
        }
    }

    #[test]
    fn estimation_is_monotone_in_size_for_every_family() {
        let catalog = PriceCatalog::bundled();
        let sizes = [
            "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge",
            "12xlarge", "16xlarge", "24xlarge", "48xlarge", "96xlarge",
        ];
        let mut families: Vec<&str> = catalog
            .listed("ec2.instance")
            .filter_map(|(t, _)| family_and_size(t).map(|(f, _)| f))
            .collect();
        families.extend(["m99", "zz9", "p9e", "inf9"]);
        families.dedup();
        for family in families {
            let prices: Vec<f64> = sizes
                .iter()
                .map(|s| {
                    catalog
                        .estimate("ec2.instance", &format!("{family}.{s}"))
                        .expect("estimable")
                        .hourly_usd
                })
                .collect();
            assert!(
                prices.windows(2).all(|w| w[0] < w[1]),
                "{family}: {prices:?}"
            );
        }
    }

    #[test]
    fn unknown_types_are_estimated_never_silently_zero() {
        let catalog = PriceCatalog::bundled();
        let m9 = catalog.hourly("ec2.instance", "m9g.4xlarge", "us-east-1");
        assert_eq!(m9.source, PriceSource::Estimated);
        assert!(
            m9.hourly_usd > 0.3 && m9.hourly_usd < 2.0,
            "a 4xlarge general-purpose guess: {}",
            m9.hourly_usd
        );
        let m5_new_size = catalog.hourly("ec2.instance", "m5.48xlarge", "us-east-1");
        assert!(
            (m5_new_size.hourly_usd - 9.216).abs() < 1e-6,
            "m5 per-unit × 384 units"
        );
        let rds = catalog.hourly("rds.instance", "db.m9g.large", "us-east-1");
        assert_eq!(rds.source, PriceSource::Estimated);
        assert!(rds.hourly_usd > 0.05);
        assert_eq!(
            catalog.hourly("rds.instance", "nonsense", "us-east-1"),
            Price::UNKNOWN
        );
        assert_eq!(
            catalog.hourly("ec2.nat-gateway", "carrier-gateway", "us-east-1"),
            Price::UNKNOWN
        );
    }

    #[test]
    fn regions_apply_multipliers_and_unknown_regions_are_estimated() {
        let catalog = PriceCatalog::bundled();
        let base = catalog
            .hourly("ec2.instance", "m5.large", "us-east-1")
            .hourly_usd;
        let ireland = catalog.hourly("ec2.instance", "m5.large", "eu-west-1");
        assert_eq!(ireland.source, PriceSource::Catalog);
        assert!((ireland.hourly_usd - base * 1.11).abs() < 1e-9);
        let mars = catalog.hourly("ec2.instance", "m5.large", "mars-north-1");
        assert_eq!(mars.source, PriceSource::Estimated);
        assert!((mars.hourly_usd - base * 1.25).abs() < 1e-9);
    }

    #[test]
    fn a_custom_catalog_with_region_prices_wins_and_bad_files_say_why() {
        let mut value: serde_json::Value = serde_json::from_str(BUNDLED).expect("bundled parses");
        value["region_prices"] =
            serde_json::json!({"eu-west-1": {"ec2.instance": {"m5.large": 0.05}}});
        let catalog = PriceCatalog::parse(&value.to_string(), "mine.json").expect("valid");
        let negotiated = catalog.hourly("ec2.instance", "m5.large", "eu-west-1");
        assert_eq!(
            negotiated,
            Price {
                hourly_usd: 0.05,
                source: PriceSource::Catalog
            }
        );

        value["hourly"]["ec2.instance"]["m5.large"] = serde_json::json!(-1.0);
        let err = PriceCatalog::parse(&value.to_string(), "mine.json").expect_err("negative");
        assert!(err.to_string().contains("ec2.instance m5.large"), "{err}");
        let err = PriceCatalog::parse("{\"hourly\": 3}", "mine.json").expect_err("garbage");
        assert!(
            err.to_string()
                .starts_with("price catalog mine.json is invalid"),
            "{err}"
        );
    }

    #[test]
    fn spot_is_an_estimate_at_the_familys_fraction_and_bad_fractions_are_named() {
        let catalog = PriceCatalog::bundled();
        let on_demand = catalog.hourly("ec2.instance", "m5.large", "eu-west-1");
        let spot = catalog.spot_hourly("m5.large", "eu-west-1");
        assert_eq!(spot.source, PriceSource::Estimated);
        assert!((spot.hourly_usd - on_demand.hourly_usd * 0.35).abs() < 1e-9);
        let p4d = catalog.spot_hourly("p4d.24xlarge", "us-east-1");
        let p4d_on_demand = catalog.hourly("ec2.instance", "p4d.24xlarge", "us-east-1");
        assert!((p4d.hourly_usd - p4d_on_demand.hourly_usd * 0.5).abs() < 1e-9);

        let mut value: serde_json::Value = serde_json::from_str(BUNDLED).expect("bundled parses");
        value["spot"] = serde_json::json!({"fraction_of_on_demand": 0.3, "by_family": {"m5": 1.5}});
        let err = PriceCatalog::parse(&value.to_string(), "mine.json").expect_err("over 1");
        assert!(err.to_string().contains("spot fraction of m5"), "{err}");
        value["spot"] = serde_json::json!({"fraction_of_on_demand": 0.3, "by_family": {"m5": 0.2}});
        let mine = PriceCatalog::parse(&value.to_string(), "mine.json").expect("valid");
        let m5 = mine.spot_hourly("m5.large", "us-east-1");
        assert!(
            (m5.hourly_usd - 0.096 * 0.2).abs() < 1e-9,
            "the family's own: {m5:?}"
        );
        let c5 = mine.spot_hourly("c5.large", "us-east-1");
        assert!(
            (c5.hourly_usd - 0.085 * 0.3).abs() < 1e-9,
            "the default: {c5:?}"
        );
    }

    #[test]
    fn the_catalogs_age_is_counted_from_as_of() {
        let catalog = PriceCatalog::bundled();
        let as_of = chrono::NaiveDate::parse_from_str(catalog.as_of(), "%Y-%m-%d").expect("a date");
        assert_eq!(catalog.age_days(as_of + chrono::Days::new(121)), Some(121));
    }

    #[test]
    fn class_letters_and_sizes() {
        assert_eq!(class_of("m7gd"), "m");
        assert_eq!(class_of("inf2"), "inf");
        assert_eq!(class_of("db.r6g"), "db.r");
        assert_eq!(size_units("metal-48xl"), Some(384.0));
        assert_eq!(size_units("12xlarge"), Some(96.0));
        assert_eq!(size_units("metal"), None);
        assert_eq!(ec2_equivalent("r6g.large.search"), "r6g.large");
        assert_eq!(ec2_equivalent("ml.g5.xlarge"), "g5.xlarge");
    }
}
