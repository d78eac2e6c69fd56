//! `catalog build` on a miniature AWS Price List in the real format
//! (`tests/fixtures/price-list`, written by its `make.py`): exact prices per region and type,
//! the products the catalog must not take, RDS by engine, what the offer files do not give.

use std::path::PathBuf;

use dd0c_adapters_file::PriceListDirectory as Directory;
use dd0c_ingest::catalog::build::{build, compare, Built};
use dd0c_ingest::PriceCatalog;
use dd0c_ports::domain::PriceSource;

fn fixtures() -> Directory {
    Directory::new(fixtures_root())
}

fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/price-list")
}

async fn built() -> Built {
    build(&fixtures(), &PriceCatalog::bundled(), &[])
        .await
        .expect("the fixtures build")
}

fn cents(price: f64) -> i64 {
    (price * 100.0).round() as i64
}

/// Asserts a listed price to the cent per hour (and to 1e-9, since the fixtures hold it).
fn assert_listed(catalog: &PriceCatalog, kind: &str, resource_type: &str, region: &str, usd: f64) {
    let price = catalog.hourly(kind, resource_type, region);
    assert_eq!(
        price.source,
        PriceSource::Catalog,
        "{kind} {resource_type} in {region}"
    );
    assert_eq!(
        cents(price.hourly_usd),
        cents(usd),
        "{kind} {resource_type} in {region}"
    );
    assert!(
        (price.hourly_usd - usd).abs() < 1e-9,
        "{kind} {resource_type} in {region}: {} for {usd}",
        price.hourly_usd
    );
}

#[tokio::test]
async fn accelerated_types_get_each_regions_own_price_not_a_multiplier() {
    let catalog = built().await.catalog;
    assert_listed(&catalog, "ec2.instance", "p5.48xlarge", "us-east-1", 55.04);
    for (region, premium) in [
        ("ap-northeast-1", 1.45),
        ("ap-southeast-1", 1.40),
        ("sa-east-1", 1.70),
        ("ap-south-1", 1.20),
    ] {
        let usd = (55.04_f64 * premium * 10_000.0).round() / 10_000.0;
        assert_listed(&catalog, "ec2.instance", "p5.48xlarge", region, usd);
    }
    assert_listed(
        &catalog,
        "ec2.instance",
        "p4d.24xlarge",
        "us-east-1",
        21.9576,
    );
    let inf2 = (0.7582_f64 * 1.19 * 10_000.0).round() / 10_000.0;
    assert_listed(
        &catalog,
        "ec2.instance",
        "inf2.xlarge",
        "ap-northeast-1",
        inf2,
    );
}

#[tokio::test]
async fn graviton_in_mumbai_costs_less_than_in_virginia() {
    let catalog = built().await.catalog;
    for (t, us) in [
        ("c6g.large", 0.068),
        ("m6g.large", 0.077),
        ("r6g.large", 0.1008),
    ] {
        let usd = (us * 0.63 * 10_000.0_f64).round() / 10_000.0;
        assert_listed(&catalog, "ec2.instance", t, "ap-south-1", usd);
    }
}

#[tokio::test]
async fn only_linux_shared_unlicensed_used_capacity_in_the_region_itself_is_taken() {
    let Built { catalog, services } = built().await;
    // Windows, dedicated tenancy, unused reservations, SQL pre-installed and the Boston Local
    // Zone are all in the us-east-1 file at other prices.
    assert_listed(&catalog, "ec2.instance", "m5.large", "us-east-1", 0.096);
    assert_eq!(services["AmazonEC2"].conflicts, 0, "{services:?}");
    let ec2 = &catalog.sources()["AmazonEC2"];
    assert_eq!(ec2.as_of, "2026-11-01");
    assert_eq!(ec2.regions, 6, "GovCloud is not a commercial region");
    assert_eq!(catalog.as_of(), "2026-11-01");
    assert!(
        !catalog
            .entries()
            .keys()
            .any(|(region, _, _)| region.starts_with("us-gov")),
        "no GovCloud prices"
    );
}

#[tokio::test]
async fn rds_is_priced_per_engine_and_deployment() {
    let catalog = built().await.catalog;
    let postgres = catalog.rds_instance("db.r6g.large", Some("postgres"), false, None, "us-east-1");
    assert_eq!(
        (postgres.source, cents(postgres.hourly_usd * 10.0)),
        (PriceSource::Catalog, 225)
    );
    let multi = catalog.rds_instance("db.r6g.large", Some("postgres"), true, None, "us-east-1");
    assert!((multi.hourly_usd - 0.45).abs() < 1e-9, "{multi:?}");
    let oracle = catalog.rds_class("db.r6g.large", Some("oracle-se2"), "us-east-1");
    assert!(
        (oracle.hourly_usd - 0.475).abs() < 1e-9,
        "license included, the higher of the two licence models: {oracle:?}"
    );
    let aurora = catalog.rds_class("db.r6g.large", Some("aurora-postgresql"), "us-east-1");
    assert!(
        (aurora.hourly_usd - 0.26).abs() < 1e-9,
        "not I/O-Optimized: {aurora:?}"
    );
    let tokyo = catalog.rds_class("db.r6g.large", Some("sqlserver-se"), "ap-northeast-1");
    assert!((tokyo.hourly_usd - 0.977 * 1.29).abs() < 1e-3, "{tokyo:?}");
    let gp3 = catalog.storage_gb_hourly("rds", "gp3", "sa-east-1");
    assert!(
        (gp3.hourly_usd * 730.0 - 0.115 * 1.58).abs() < 1e-3,
        "{gp3:?}"
    );
}

#[tokio::test]
async fn storage_networking_and_service_nodes_come_from_their_offers() {
    let catalog = built().await.catalog;
    assert_listed(
        &catalog,
        "ec2.nat-gateway",
        "nat-gateway",
        "sa-east-1",
        0.0711,
    );
    assert_listed(
        &catalog,
        "elb.load-balancer",
        "application",
        "eu-west-1",
        0.025,
    );
    assert_listed(&catalog, "ec2.vpc-endpoint", "interface", "us-east-1", 0.01);
    assert_listed(
        &catalog,
        "ec2.elastic-ip",
        "public-ipv4",
        "ap-south-1",
        0.005,
    );
    assert_listed(
        &catalog,
        "elasticache.node",
        "cache.r6g.large",
        "us-east-1",
        0.206,
    );
    assert_listed(
        &catalog,
        "sagemaker.instance",
        "ml.g5.xlarge",
        "us-east-1",
        1.408,
    );
    assert_listed(&catalog, "eks.cluster", "standard", "us-east-1", 0.10);
    let gp3 = catalog.storage_gb_hourly("ebs", "gp3", "ap-northeast-1");
    assert!((gp3.hourly_usd * 730.0 - 0.1032).abs() < 1e-9, "{gp3:?}");
}

#[tokio::test]
async fn what_a_region_does_not_sell_is_estimated_and_never_zero() {
    let catalog = built().await.catalog;
    let p4d_brazil = catalog.hourly("ec2.instance", "p4d.24xlarge", "sa-east-1");
    assert_eq!(p4d_brazil.source, PriceSource::Estimated);
    assert!(p4d_brazil.hourly_usd > 21.9576, "{p4d_brazil:?}");
    let unknown = catalog.hourly("ec2.instance", "m9g.4xlarge", "us-east-1");
    assert_eq!(unknown.source, PriceSource::Estimated);
    assert!(unknown.hourly_usd > 0.0);
    // What no offer file lists keeps the previous catalog's price and multiplier.
    let fargate = catalog.hourly("ecs.fargate", "vcpu", "eu-west-1");
    assert!(fargate.hourly_usd > 0.0, "{fargate:?}");
}

#[tokio::test]
async fn the_update_says_what_moved_biggest_first() {
    let mut before: serde_json::Value =
        serde_json::from_str(&PriceCatalog::bundled().to_json()).expect("json");
    before["hourly"]["ec2.instance"]["p5.48xlarge"] = serde_json::json!(98.32);
    before["hourly"]["ec2.instance"]["m5.large"] = serde_json::json!(0.095);
    let before = PriceCatalog::parse(&before.to_string(), "before.json").expect("valid");
    let catalog = built().await.catalog;
    let changes = compare(&before, &catalog);
    let p5 = changes
        .moved
        .iter()
        .find(|m| m.region == "us-east-1" && m.resource_type == "p5.48xlarge")
        .expect("p5 moved");
    assert_eq!((p5.from, p5.to), (98.32, 55.04));
    assert_eq!(
        changes.moved.last().map(|m| m.resource_type.as_str()),
        Some("m5.large")
    );
    assert!(changes
        .added
        .iter()
        .any(|t| t.starts_with("rds.instance/postgres ")));
    let sizes: Vec<f64> = changes
        .moved
        .iter()
        .map(|m| (m.to / m.from).ln().abs())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "biggest first");
    let text = changes.to_string();
    assert!(text.contains("prices moved: "), "{text}");
}

#[tokio::test]
async fn a_built_catalog_is_written_and_read_back_unchanged() {
    let catalog = built().await.catalog;
    let again = PriceCatalog::parse(&catalog.to_json(), "built.json").expect("reads back");
    assert_eq!(again.entries(), catalog.entries());
    assert_eq!(again.sources(), catalog.sources());
}

#[tokio::test]
async fn regions_can_be_narrowed() {
    let only = ["us-east-1".to_owned(), "ap-south-1".to_owned()];
    let Built { catalog, services } = build(&fixtures(), &PriceCatalog::bundled(), &only)
        .await
        .expect("builds");
    assert_eq!(services["AmazonEC2"].regions, 2);
    let regions: std::collections::BTreeSet<String> =
        catalog.entries().into_keys().map(|(r, _, _)| r).collect();
    assert_eq!(regions.len(), 2, "{regions:?}");
}

#[tokio::test]
async fn regions_without_the_base_region_are_refused_saying_so() {
    let only = ["ap-south-1".to_owned()];
    let err = build(&fixtures(), &PriceCatalog::bundled(), &only)
        .await
        .expect_err("no base region");
    assert!(
        err.to_string()
            .contains("us-east-1, the catalog's base region"),
        "{err}"
    );
}

#[tokio::test]
async fn a_broken_offer_file_is_named_with_its_position() {
    let dir = scratch("broken");
    copy_dir(&fixtures_root(), &dir);
    let victim = dir.join("offers/v1.0/aws/AmazonRDS/20261101000000/ap-south-1/index.json");
    let text = std::fs::read_to_string(&victim).expect("fixture");
    std::fs::write(&victim, &text[..text.len() / 2]).expect("truncate");
    let err = build(&Directory::new(&dir), &PriceCatalog::bundled(), &[])
        .await
        .expect_err("a truncated file");
    let message = err.to_string();
    assert!(
        message.contains("AmazonRDS/20261101000000/ap-south-1/index.json"),
        "{message}"
    );
    assert!(message.contains("line"), "{message}");
}

#[tokio::test]
async fn a_directory_that_is_not_a_price_list_says_what_is_missing() {
    let err = build(
        &Directory::new(scratch("empty")),
        &PriceCatalog::bundled(),
        &[],
    )
    .await
    .expect_err("empty");
    assert!(
        err.to_string().contains("offers/v1.0/aws/index.json"),
        "{err}"
    );
}

/// An empty directory of this test process's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dd0c-catalog-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[tokio::test]
async fn the_update_job_stores_the_catalog_prices_with_it_and_other_processes_reload_it() {
    use dd0c_adapters_file::FileArchive;
    use dd0c_function::job::Job;
    use dd0c_ingest::catalog::refresh::{reload, UpdateJob};
    use dd0c_ingest::Current;
    use std::sync::Arc;

    let dir = scratch("job");
    let archive = Arc::new(FileArchive::open(&dir).expect("archive"));
    let here = Current::new(PriceCatalog::bundled());
    let job = UpdateJob {
        list: Arc::new(fixtures()),
        archive: archive.clone(),
        key: "aws-price-catalog.json".into(),
        current: here.clone(),
    };
    let run = job.run(chrono::Utc::now(), "r1").await.expect("runs");
    assert!(run.summary.contains("as of 2026-11-01"), "{}", run.summary);
    assert_eq!(
        here.get().as_of(),
        "2026-11-01",
        "this process prices with it at once"
    );
    let stored = std::fs::read_to_string(dir.join("aws-price-catalog.json")).expect("stored");
    assert!(stored.contains("\"AmazonEC2\""));

    let elsewhere = Current::new(PriceCatalog::bundled());
    assert!(
        reload(archive.as_ref(), "aws-price-catalog.json", &elsewhere)
            .await
            .expect("reads")
    );
    let p5 = elsewhere
        .get()
        .hourly("ec2.instance", "p5.48xlarge", "us-east-1");
    assert!((p5.hourly_usd - 55.04).abs() < 1e-9, "{p5:?}");
    assert!(
        !reload(archive.as_ref(), "aws-price-catalog.json", &elsewhere)
            .await
            .expect("reads"),
        "the same catalog is not loaded twice"
    );
    std::fs::write(dir.join("aws-price-catalog.json"), "{\"hourly\": 1}").expect("break it");
    let err = reload(archive.as_ref(), "aws-price-catalog.json", &elsewhere)
        .await
        .expect_err("a broken file");
    assert!(err.to_string().contains("aws-price-catalog.json"), "{err}");
    assert_eq!(
        elsewhere.get().as_of(),
        "2026-11-01",
        "the one in use stays"
    );
}
