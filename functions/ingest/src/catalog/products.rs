//! Which Price List products the catalog takes, and as what: one function per service, each
//! naming the attributes that make a product the one the normalizer prices (Linux, shared
//! tenancy, no license, `Used` capacity for EC2; Redis nodes for ElastiCache; endpoints for
//! SageMaker; …).

use super::price_list::{Attributes, Target, Unit};

/// The rule the catalog is built with: what a product of `offer` prices, if anything.
pub fn rule(offer: &str, family: &str, attributes: &Attributes) -> Option<(Target, Unit)> {
    let a = Attrs(attributes);
    if a.get("locationType").is_some_and(|l| l != "AWS Region") {
        return None;
    }
    match offer {
        "AmazonEC2" => ec2(family, a),
        "AmazonVPC" => vpc(a),
        "AWSELB" => elb(family, a),
        "AmazonRDS" => rds(family, a),
        "AmazonElastiCache" => node(family, a, "Cache Instance", "elasticache.node")
            .filter(|_| a.is("cacheEngine", "Redis")),
        "AmazonES" => opensearch(family, a),
        "AmazonRedshift" => node(family, a, "Compute Instance", "redshift.node"),
        "AmazonSageMaker" => sagemaker(family, a),
        "AmazonMSK" => msk(a),
        "AmazonEKS" => a
            .usage_ends("AmazonEKS-Hours:perCluster")
            .then(|| hourly("eks.cluster", "standard")),
        _ => None,
    }
}

#[derive(Clone, Copy)]
struct Attrs<'a>(&'a Attributes);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn is(&self, name: &str, value: &str) -> bool {
        self.get(name) == Some(value)
    }

    /// `usagetype` without its region prefix ends with `suffix` (`USE2-NatGateway-Hours`).
    fn usage_ends(&self, suffix: &str) -> bool {
        self.get("usagetype").is_some_and(|u| u.ends_with(suffix))
    }
}

fn hourly(kind: &'static str, resource_type: &str) -> (Target, Unit) {
    let target = Target::Hourly {
        kind,
        resource_type: resource_type.to_owned(),
    };
    (target, Unit::Hour)
}

fn storage(table: &'static str, volume_type: &str) -> (Target, Unit) {
    let target = Target::MonthlyPerGb {
        table,
        volume_type: volume_type.to_owned(),
    };
    (target, Unit::GbMonth)
}

fn ec2(family: &str, a: Attrs<'_>) -> Option<(Target, Unit)> {
    match family {
        "Compute Instance" | "Compute Instance (bare metal)" => {
            let linux_on_demand = a.is("operatingSystem", "Linux")
                && a.is("tenancy", "Shared")
                && a.is("preInstalledSw", "NA")
                && a.is("licenseModel", "No License required")
                && a.is("capacitystatus", "Used")
                && a.get("marketoption").is_none_or(|m| m == "OnDemand");
            linux_on_demand.then(|| Some(hourly("ec2.instance", a.get("instanceType")?)))?
        }
        "Storage" => Some(storage("ebs", a.get("volumeApiName")?)),
        "Storage Snapshot" if a.usage_ends("EBS:SnapshotUsage") => {
            Some(storage("snapshot", "standard"))
        }
        "Storage Snapshot" if a.usage_ends("EBS:SnapshotArchiveStorage") => {
            Some(storage("snapshot", "archive"))
        }
        "NAT Gateway" if a.usage_ends("NatGateway-Hours") => {
            Some(hourly("ec2.nat-gateway", "nat-gateway"))
        }
        _ => public_ipv4(a),
    }
}

fn public_ipv4(a: Attrs<'_>) -> Option<(Target, Unit)> {
    a.usage_ends("PublicIPv4:InUseAddress")
        .then(|| hourly("ec2.elastic-ip", "public-ipv4"))
}

fn vpc(a: Attrs<'_>) -> Option<(Target, Unit)> {
    let usage = a.get("usagetype")?;
    if usage.contains("VpcEndpoint") && usage.ends_with("Hours") {
        let kind = if usage.contains("GWLBE") {
            "gatewayloadbalancer"
        } else {
            "interface"
        };
        return Some(hourly("ec2.vpc-endpoint", kind));
    }
    if usage.ends_with("TransitGateway-Hours") {
        return Some(hourly("ec2.transit-gateway", "attachment"));
    }
    public_ipv4(a)
}

fn elb(family: &str, a: Attrs<'_>) -> Option<(Target, Unit)> {
    if !a.usage_ends("LoadBalancerUsage") {
        return None;
    }
    let kind = match family {
        "Load Balancer-Application" => "application",
        "Load Balancer-Network" => "network",
        "Load Balancer-Gateway" => "gateway",
        "Load Balancer" => "classic",
        _ => return None,
    };
    Some(hourly("elb.load-balancer", kind))
}

fn rds(family: &str, a: Attrs<'_>) -> Option<(Target, Unit)> {
    let multi_az = match a.get("deploymentOption")? {
        "Single-AZ" => false,
        "Multi-AZ" => true,
        _ => return None,
    };
    if a.get("usagetype")
        .is_some_and(|u| u.contains("IOOptimized"))
    {
        return None;
    }
    match family {
        "Database Instance" => {
            let engine = rds_engine(
                a.get("databaseEngine")?,
                a.get("databaseEdition").unwrap_or(""),
            )?;
            let class = a.get("instanceType")?.to_owned();
            let target = Target::Rds {
                engine: engine.to_owned(),
                multi_az,
                class,
            };
            Some((target, Unit::Hour))
        }
        "Database Storage" if !multi_az => {
            let engine = a.get("databaseEngine").unwrap_or("Any");
            if engine.starts_with("Aurora") {
                return None;
            }
            Some(storage("rds", rds_volume(a.get("volumeType")?)?))
        }
        _ => None,
    }
}

/// The RDS API's engine name for the Price List's engine and edition.
fn rds_engine(engine: &str, edition: &str) -> Option<&'static str> {
    Some(match (engine, edition) {
        ("MySQL", _) => "mysql",
        ("PostgreSQL", _) => "postgres",
        ("MariaDB", _) => "mariadb",
        ("Aurora MySQL", _) => "aurora-mysql",
        ("Aurora PostgreSQL", _) => "aurora-postgresql",
        ("Oracle", "Enterprise") => "oracle-ee",
        ("Oracle", "Standard Two") => "oracle-se2",
        ("SQL Server", "Express") => "sqlserver-ex",
        ("SQL Server", "Web") => "sqlserver-web",
        ("SQL Server", "Standard") => "sqlserver-se",
        ("SQL Server", "Enterprise") => "sqlserver-ee",
        _ => return None,
    })
}

/// The RDS API's storage type for the Price List's volume type.
fn rds_volume(volume: &str) -> Option<&'static str> {
    Some(match volume {
        "General Purpose" => "gp2",
        "General Purpose-GP3" => "gp3",
        "Provisioned IOPS" => "io1",
        "Provisioned IOPS-IO2" => "io2",
        "Magnetic" => "standard",
        _ => return None,
    })
}

fn node(family: &str, a: Attrs<'_>, wanted: &str, kind: &'static str) -> Option<(Target, Unit)> {
    (family == wanted).then(|| Some(hourly(kind, a.get("instanceType")?)))?
}

fn opensearch(family: &str, a: Attrs<'_>) -> Option<(Target, Unit)> {
    match family {
        "Amazon OpenSearch Service Instance" | "Elastic Search Instance" => {
            Some(hourly("opensearch.node", a.get("instanceType")?))
        }
        "Amazon OpenSearch Service Volume" | "Elastic Search Volume" => {
            let volume = match a.get("storageMedia")? {
                "GP3" => "gp3",
                "GP2" => "gp2",
                "PIOPS-Storage" | "PIOPS" => "io1",
                _ => return None,
            };
            Some(storage("opensearch", volume))
        }
        _ => None,
    }
}

fn sagemaker(family: &str, a: Attrs<'_>) -> Option<(Target, Unit)> {
    if family != "ML Instance" || !a.is("component", "Hosting") {
        return None;
    }
    let class = a.get("instanceName").or_else(|| a.get("instanceType"))?;
    Some(hourly("sagemaker.instance", class))
}

fn msk(a: Attrs<'_>) -> Option<(Target, Unit)> {
    let usage = a.get("usagetype")?;
    if usage.contains("Kafka.Storage") {
        return Some(storage("msk", "standard"));
    }
    let broker = a.get("instanceType").filter(|t| t.starts_with("kafka."))?;
    Some(hourly("msk.broker", broker))
}
