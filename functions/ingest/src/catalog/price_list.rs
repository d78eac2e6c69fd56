//! AWS Price List bulk offer files, read as the catalog needs them.
//!
//! The public format, as AWS serves it under `https://pricing.us-east-1.amazonaws.com`:
//! - the offer index `/offers/v1.0/aws/index.json` names each service's offer and its
//!   `currentRegionIndexUrl`;
//! - a service's region index names one offer file per region (`currentVersionUrl`);
//! - an offer file holds `products` (SKU → product family and attributes) and `terms`
//!   (`OnDemand`: SKU → term → price dimensions with a unit and `pricePerUnit.USD`).
//!
//! Offer files are large (EC2's run to hundreds of megabytes a region), so a file is read in
//! one pass that keeps only the products a [`Rule`] prices and their on-demand dimensions;
//! everything else is skipped without being built.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

/// The services whose offer files the catalog is built from.
pub const OFFERS: [&str; 10] = [
    "AmazonEC2",
    "AmazonVPC",
    "AWSELB",
    "AmazonRDS",
    "AmazonElastiCache",
    "AmazonES",
    "AmazonRedshift",
    "AmazonSageMaker",
    "AmazonMSK",
    "AmazonEKS",
];

/// The offer index: where each service's region index is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferIndex {
    /// When AWS published the index.
    #[serde(default)]
    pub publication_date: String,
    /// Offer code → its entry.
    pub offers: BTreeMap<String, OfferEntry>,
}

/// One service in the offer index.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferEntry {
    /// Path of the service's current region index.
    pub current_region_index_url: String,
}

/// A service's region index: one offer file per region.
#[derive(Debug, Deserialize)]
pub struct RegionIndex {
    /// Region code → its entry.
    pub regions: BTreeMap<String, RegionEntry>,
}

/// One region of a service.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionEntry {
    /// Path of the region's current offer file.
    pub current_version_url: String,
}

/// Whether a region is a commercial AWS Region: not GovCloud, China or an isolated partition.
pub fn is_commercial(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() == 3
        && parts[2].parse::<u8>().is_ok()
        && !matches!(parts[0], "cn")
        && parts[1] != "gov"
        && !parts[1].starts_with("iso")
}

/// What one product prices in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A resource-hour of `kind` / `resource_type` (`ec2.instance` / `p5.48xlarge`).
    Hourly {
        /// The catalog kind.
        kind: &'static str,
        /// The type within it.
        resource_type: String,
    },
    /// A GB-month of storage in a `monthly_per_gb` table.
    MonthlyPerGb {
        /// `ebs`, `rds`, `opensearch`, `msk`, `snapshot`.
        table: &'static str,
        /// The volume type (`gp3`, `standard`, `archive`).
        volume_type: String,
    },
    /// An RDS instance-hour of a class under an engine (as the RDS API names engines).
    Rds {
        /// `mysql`, `postgres`, `oracle-se2`, …
        engine: String,
        /// Multi-AZ (one standby) rather than Single-AZ.
        multi_az: bool,
        /// `db.r6g.large`.
        class: String,
    },
}

/// A product's attributes, as the offer file gives them.
pub type Attributes = HashMap<String, String>;

/// Decides what a product of an offer prices, if anything: the offer code, the product
/// family and the attributes in, the catalog entry and the unit its price must have out.
pub type Rule = fn(offer: &str, family: &str, attributes: &Attributes) -> Option<(Target, Unit)>;

/// The unit a price dimension must be in to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Per hour (`Hrs`, `Hours`, `hour`).
    Hour,
    /// Per GB-month (`GB-Mo`, `GB-month`).
    GbMonth,
}

impl Unit {
    fn accepts(self, unit: &str) -> bool {
        let unit = unit.to_ascii_lowercase();
        match self {
            Unit::Hour => matches!(unit.as_str(), "hrs" | "hours" | "hour" | "hr"),
            Unit::GbMonth => matches!(unit.as_str(), "gb-mo" | "gb-month" | "gb-months"),
        }
    }
}

/// The on-demand prices one offer file gives, by what they price.
#[derive(Debug, Default)]
pub struct OfferPrices {
    /// The file's `publicationDate`.
    pub publication_date: String,
    /// The file's `version`.
    pub version: String,
    /// USD per unit by target.
    pub prices: BTreeMap<Target, f64>,
    /// Targets two products priced differently; the higher price was kept, so an alert
    /// overstates rather than understates.
    pub conflicts: usize,
}

/// An offer file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("offer file {path}: {reason}")]
pub struct OfferError {
    /// The file.
    pub path: String,
    /// What is wrong, with the JSON position.
    pub reason: String,
}

/// Reads one offer file, keeping the on-demand prices `rule` takes.
pub fn read_offer(text: &[u8], path: &str, rule: Rule) -> Result<OfferPrices, OfferError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let raw = FileSeed { rule }
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(|e| OfferError {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(raw.into_prices())
}

/// What one pass over a file keeps.
#[derive(Debug, Default)]
struct RawOffer {
    offer_code: String,
    publication_date: String,
    version: String,
    /// SKU → what it prices (products `rule` took).
    kept: HashMap<String, (Target, Unit)>,
    /// SKU → its on-demand dimensions: of kept SKUs, or of every SKU when the terms came
    /// before the products (not AWS's order, but valid JSON).
    dimensions: HashMap<String, Vec<Dimension>>,
}

impl RawOffer {
    fn into_prices(self) -> OfferPrices {
        let mut out = OfferPrices {
            publication_date: self.publication_date,
            version: self.version,
            ..OfferPrices::default()
        };
        for (sku, dimensions) in self.dimensions {
            let Some((target, unit)) = self.kept.get(&sku) else {
                continue;
            };
            let Some(price) = first_tier(&dimensions, *unit) else {
                continue;
            };
            match out.prices.get(target) {
                Some(seen) if (*seen - price).abs() > 1e-12 => {
                    out.conflicts += 1;
                    if price > *seen {
                        out.prices.insert(target.clone(), price);
                    }
                }
                Some(_) => {}
                None => {
                    out.prices.insert(target.clone(), price);
                }
            }
        }
        out
    }
}

/// The price of the first tier (`beginRange` 0) in `unit`; a free tier does not count.
fn first_tier(dimensions: &[Dimension], unit: Unit) -> Option<f64> {
    dimensions
        .iter()
        .filter(|d| unit.accepts(&d.unit))
        .filter(|d| d.begin_range.as_deref().unwrap_or("0") == "0")
        .filter_map(|d| d.price_per_unit.usd.as_deref()?.parse::<f64>().ok())
        .find(|p| p.is_finite() && *p > 0.0)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dimension {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    begin_range: Option<String>,
    #[serde(default)]
    price_per_unit: PricePerUnit,
}

#[derive(Debug, Default, Deserialize)]
struct PricePerUnit {
    #[serde(rename = "USD")]
    usd: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Product {
    #[serde(default)]
    product_family: String,
    #[serde(default)]
    attributes: Attributes,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Term {
    #[serde(default)]
    price_dimensions: HashMap<String, Dimension>,
}

/// The top level of an offer file, visited key by key.
struct FileSeed {
    rule: Rule,
}

impl<'de> DeserializeSeed<'de> for FileSeed {
    type Value = RawOffer;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawOffer, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed {
    type Value = RawOffer;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an AWS Price List offer file (an object with products and terms)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawOffer, A::Error> {
        let mut raw = RawOffer::default();
        let mut saw_products = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "offerCode" => raw.offer_code = map.next_value()?,
                "publicationDate" => raw.publication_date = map.next_value()?,
                "version" => raw.version = map.next_value()?,
                "products" => {
                    raw.kept = map.next_value_seed(ProductsSeed {
                        rule: self.rule,
                        offer: &raw.offer_code,
                    })?;
                    saw_products = true;
                }
                "terms" => {
                    let keep = saw_products.then_some(&raw.kept);
                    raw.dimensions = map.next_value_seed(TermsSeed { keep })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !saw_products {
            return Err(serde::de::Error::missing_field("products"));
        }
        Ok(raw)
    }
}

/// `products`: keeps the SKUs the rule prices.
struct ProductsSeed<'a> {
    rule: Rule,
    offer: &'a str,
}

impl<'de> DeserializeSeed<'de> for ProductsSeed<'_> {
    type Value = HashMap<String, (Target, Unit)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProductsSeed<'_> {
    type Value = HashMap<String, (Target, Unit)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("products: an object of SKU to product")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = HashMap::new();
        while let Some(sku) = map.next_key::<String>()? {
            let product: Product = map.next_value()?;
            if let Some(target) =
                (self.rule)(self.offer, &product.product_family, &product.attributes)
            {
                kept.insert(sku, target);
            }
        }
        Ok(kept)
    }
}

/// `terms`: keeps `OnDemand` dimensions of kept SKUs (of every SKU when products come later).
struct TermsSeed<'a> {
    keep: Option<&'a HashMap<String, (Target, Unit)>>,
}

impl<'de> DeserializeSeed<'de> for TermsSeed<'_> {
    type Value = HashMap<String, Vec<Dimension>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TermsSeed<'_> {
    type Value = HashMap<String, Vec<Dimension>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("terms: an object of term type (OnDemand, Reserved) to SKU terms")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut on_demand = HashMap::new();
        while let Some(kind) = map.next_key::<String>()? {
            if kind == "OnDemand" {
                on_demand = map.next_value_seed(OnDemandSeed { keep: self.keep })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(on_demand)
    }
}

/// `terms.OnDemand`: SKU → term code → term.
struct OnDemandSeed<'a> {
    keep: Option<&'a HashMap<String, (Target, Unit)>>,
}

impl<'de> DeserializeSeed<'de> for OnDemandSeed<'_> {
    type Value = HashMap<String, Vec<Dimension>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnDemandSeed<'_> {
    type Value = HashMap<String, Vec<Dimension>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("terms.OnDemand: an object of SKU to its terms")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = HashMap::new();
        while let Some(sku) = map.next_key::<String>()? {
            if self.keep.is_some_and(|k| !k.contains_key(&sku)) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let terms: HashMap<String, Term> = map.next_value()?;
            let dimensions = terms
                .into_values()
                .flat_map(|t| t.price_dimensions.into_values())
                .collect();
            out.insert(sku, dimensions);
        }
        Ok(out)
    }
}

impl RegionIndex {
    /// Its commercial regions and their offer files, in region order.
    pub fn commercial(&self) -> impl Iterator<Item = (&str, &RegionEntry)> {
        self.regions
            .iter()
            .filter(|(region, _)| is_commercial(region))
            .map(|(region, entry)| (region.as_str(), entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec2_rule(_: &str, family: &str, a: &Attributes) -> Option<(Target, Unit)> {
        (family == "Compute Instance").then(|| {
            let target = Target::Hourly {
                kind: "ec2.instance",
                resource_type: a.get("instanceType")?.clone(),
            };
            Some((target, Unit::Hour))
        })?
    }

    const TERMS_FIRST: &str = r#"{
      "terms": {"OnDemand": {"S1": {"S1.T": {"priceDimensions": {"S1.T.R": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0960000000"}}}}},
                             "S2": {"S2.T": {"priceDimensions": {"S2.T.R": {"unit": "Hrs", "pricePerUnit": {"USD": "0.0000000000"}}}}}},
                "Reserved": {"S1": {"S1.R": {"priceDimensions": {"x": {"unit": "Hrs", "pricePerUnit": {"USD": "0.01"}}}}}}},
      "offerCode": "AmazonEC2", "publicationDate": "2026-11-01T00:00:00Z", "version": "v1",
      "products": {"S1": {"productFamily": "Compute Instance", "attributes": {"instanceType": "m5.large"}},
                   "S2": {"productFamily": "Compute Instance", "attributes": {"instanceType": "m5.free"}},
                   "S3": {"productFamily": "Storage", "attributes": {"volumeApiName": "gp3"}}}
    }"#;

    #[test]
    fn terms_before_products_are_still_matched_and_free_or_reserved_prices_ignored() {
        let prices = read_offer(TERMS_FIRST.as_bytes(), "x.json", ec2_rule).expect("reads");
        let listed: Vec<(String, f64)> = prices
            .prices
            .iter()
            .map(|(t, p)| match t {
                Target::Hourly { resource_type, .. } => (resource_type.clone(), *p),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(listed, vec![("m5.large".to_owned(), 0.096)]);
        assert_eq!(prices.publication_date, "2026-11-01T00:00:00Z");
    }

    #[test]
    fn a_file_without_products_is_refused() {
        let err = read_offer(br#"{"terms": {}}"#, "x.json", ec2_rule).expect_err("no products");
        assert!(err.to_string().contains("products"), "{err}");
    }

    #[test]
    fn only_commercial_regions_count() {
        for region in ["us-east-1", "ap-south-2", "il-central-1", "mx-central-1"] {
            assert!(is_commercial(region), "{region}");
        }
        for region in [
            "us-gov-west-1",
            "cn-north-1",
            "us-isob-east-1",
            "us-east-1-bos-1",
            "global",
        ] {
            assert!(!is_commercial(region), "{region}");
        }
    }
}
