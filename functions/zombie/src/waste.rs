//! What a zombie costs a month, from the bundled price catalog: what deleting or stopping it
//! would save.

use dd0c_ingest::{Price, PriceCatalog};
use dd0c_ports::zombie::{Database, Instance, LoadBalancer, Snapshot, Volume};

/// Monthly prices in one region.
#[derive(Debug, Clone, Copy)]
pub struct Waste<'a> {
    catalog: &'a PriceCatalog,
    region: &'a str,
}

impl<'a> Waste<'a> {
    /// Prices in `region` from `catalog`.
    pub fn new(catalog: &'a PriceCatalog, region: &'a str) -> Self {
        Waste { catalog, region }
    }

    fn monthly(&self, price: Price) -> f64 {
        price.hourly_usd * self.catalog.hours_per_month()
    }

    /// An instance's compute (its storage and addresses are priced on their own).
    pub fn instance(&self, instance: &Instance) -> f64 {
        self.monthly(
            self.catalog
                .hourly("ec2.instance", &instance.instance_type, self.region),
        )
    }

    /// A volume: capacity, IOPS and throughput.
    pub fn volume(&self, volume: &Volume) -> f64 {
        self.monthly(self.catalog.ebs_volume(
            &volume.volume_type,
            volume.size_gib,
            volume.iops.unwrap_or(0.0),
            volume.throughput_mibps.unwrap_or(0.0),
            self.region,
        ))
    }

    /// A public IPv4 address.
    pub fn address(&self) -> f64 {
        self.monthly(
            self.catalog
                .hourly("ec2.elastic-ip", "public-ipv4", self.region),
        )
    }

    /// A NAT gateway's hours (its data processing is zero when idle).
    pub fn nat_gateway(&self) -> f64 {
        self.monthly(
            self.catalog
                .hourly("ec2.nat-gateway", "nat-gateway", self.region),
        )
    }

    /// A load balancer's hours (its capacity units are zero when idle).
    pub fn load_balancer(&self, lb: &LoadBalancer) -> f64 {
        self.monthly(
            self.catalog
                .hourly("elb.load-balancer", &lb.lb_type, self.region),
        )
    }

    /// A DB instance with its storage.
    pub fn database(&self, db: &Database) -> f64 {
        let storage = (db.storage_gib > 0.0).then_some((db.storage_gib, db.storage_type.as_str()));
        self.monthly(self.catalog.rds_instance(
            &db.class,
            Some(db.engine.as_str()).filter(|e| !e.is_empty()),
            db.multi_az,
            storage,
            self.region,
        ))
    }

    /// A snapshot at its source volume's size: an upper bound, as snapshots store only the
    /// blocks that changed.
    pub fn snapshot(&self, snapshot: &Snapshot) -> f64 {
        self.monthly(
            self.catalog
                .storage_gb_hourly("snapshot", "standard", self.region)
                .times(snapshot.size_gib),
        )
    }
}

/// Rounds to cents, as every figure is shown.
pub fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}
