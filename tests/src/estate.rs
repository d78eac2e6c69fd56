//! A zombie estate planted in moto: one fresh account (reached by assuming its role with an
//! ExternalId, which gives moto's account isolation), one region, idle and busy resources of
//! every kind with 14–32 days of CloudWatch datapoints ending at [`Estate::now`] — a time 40
//! days after the planting, since moto stamps every resource with the real time of creation.
//!
//! [`Estate::expected`] says what a correct hunter finds, with the waste computed here from AWS
//! list prices (us-east-1, 730 hours a month), independently of the catalog code.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudwatch::primitives::DateTime as CwTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_ec2::types::{
    DomainType, InstanceType, ResourceType, Tag, TagSpecification, VolumeType,
};
use chrono::{DateTime, Duration, Utc};

/// The region every estate lives in: its prices carry no regional multiplier.
pub const REGION: &str = "us-east-1";

/// How far after planting the estate is judged.
pub const JUDGED_AFTER_DAYS: i64 = 40;

/// One finding a correct hunter reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// `ec2.idle`, …
    pub kind: &'static str,
    /// The resource.
    pub resource_id: String,
    /// `idle` or `no_data`.
    pub state: &'static str,
    /// USD a month, to the cent.
    pub monthly_waste_usd: f64,
}

/// A planted estate.
#[derive(Debug, Clone)]
pub struct Estate {
    /// The account (fresh per estate).
    pub account_id: String,
    /// The role dd0c assumes.
    pub role_arn: String,
    /// Its ExternalId.
    pub external_id: String,
    /// When to judge it.
    pub now: DateTime<Utc>,
    /// Every zombie planted.
    pub expected: Vec<Expected>,
    /// Resources that are busy, in use or ignored: never a finding.
    pub spared: Vec<String>,
    /// The SDK configuration inside the account, to change the estate later.
    pub config: SdkConfig,
}

/// Rounds to cents as the hunter shows money.
fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

const HOURS: f64 = 730.0;
/// A root volume moto gives every instance: 8 GiB gp2 at $0.10/GB-month.
const ROOT_VOLUME: f64 = 8.0 * 0.10;

/// The SDK configuration inside `account_id` of the moto at `endpoint`.
pub async fn account_config(endpoint: &str, account_id: &str, external_id: &str) -> SdkConfig {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    let role = AssumeRoleProvider::builder(format!("arn:aws:iam::{account_id}:role/dd0c-reader"))
        .external_id(external_id)
        .session_name("dd0c-estate")
        .configure(&base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(role))
        .build()
}

fn tags(kind: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    pairs
        .iter()
        .fold(
            TagSpecification::builder().resource_type(kind),
            |t, (k, v)| t.tags(Tag::builder().key(*k).value(*v).build()),
        )
        .build()
}

/// One CloudWatch datapoint of `metric` for the resource `dimension` names.
pub fn datum(metric: &str, dimension: (&str, &str), at: DateTime<Utc>, value: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name(dimension.0)
                .value(dimension.1)
                .build(),
        )
        .timestamp(CwTime::from_secs(at.timestamp()))
        .value(value)
        .build()
}

struct Planter {
    ec2: aws_sdk_ec2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    now: DateTime<Utc>,
    subnets: Vec<String>,
    vpc: String,
}

impl Planter {
    async fn instance(&self, instance_type: &str, extra_tags: &[(&str, &str)]) -> (String, String) {
        let mut run = self
            .ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .min_count(1)
            .max_count(1)
            .instance_type(InstanceType::from(instance_type))
            .subnet_id(&self.subnets[0]);
        if !extra_tags.is_empty() {
            run = run.tag_specifications(tags(ResourceType::Instance, extra_tags));
        }
        let out = run.send().await.expect("moto runs an instance");
        let instance = &out.instances()[0];
        let id = instance.instance_id().expect("an id").to_owned();
        let root = instance.block_device_mappings()[0]
            .ebs()
            .and_then(|e| e.volume_id())
            .expect("a root volume")
            .to_owned();
        (id, root)
    }

    /// One datapoint a day for `days` days before `now`.
    async fn daily(
        &self,
        namespace: &str,
        metric: &str,
        dimension: (&str, &str),
        days: i64,
        value: f64,
    ) {
        let data: Vec<MetricDatum> = (0..days)
            .map(|d| {
                let at = self.now - Duration::days(d) - Duration::hours(1);
                datum(metric, dimension, at, value)
            })
            .collect();
        self.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .expect("moto stores metrics");
    }

    async fn ec2_metrics(&self, id: &str, cpu: f64, network_bytes: f64) {
        self.daily("AWS/EC2", "CPUUtilization", ("InstanceId", id), 14, cpu)
            .await;
        self.daily(
            "AWS/EC2",
            "NetworkIn",
            ("InstanceId", id),
            14,
            network_bytes / 2.0,
        )
        .await;
        self.daily(
            "AWS/EC2",
            "NetworkOut",
            ("InstanceId", id),
            14,
            network_bytes / 2.0,
        )
        .await;
    }

    async fn address(&self) -> (String, String) {
        let out = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .send()
            .await
            .expect("moto allocates an address");
        (
            out.allocation_id().expect("an allocation").to_owned(),
            out.public_ip().unwrap_or_default().to_owned(),
        )
    }

    async fn volume(&self, size: i32) -> String {
        self.ec2
            .create_volume()
            .size(size)
            .availability_zone(format!("{REGION}a"))
            .volume_type(VolumeType::Gp3)
            .send()
            .await
            .expect("moto creates a volume")
            .volume_id()
            .expect("an id")
            .to_owned()
    }

    async fn snapshot(&self, volume: &str) -> String {
        self.ec2
            .create_snapshot()
            .volume_id(volume)
            .send()
            .await
            .expect("moto snapshots a volume")
            .snapshot_id()
            .expect("an id")
            .to_owned()
    }

    async fn nat_gateway(&self) -> String {
        let (allocation, _) = self.address().await;
        let out = self
            .ec2
            .create_nat_gateway()
            .subnet_id(&self.subnets[0])
            .allocation_id(allocation)
            .send()
            .await
            .expect("moto creates a NAT gateway");
        let id = out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .expect("an id")
            .to_owned();
        for metric in [
            "ActiveConnectionCount",
            "PacketsInFromSource",
            "PacketsInFromDestination",
        ] {
            self.daily("AWS/NATGateway", metric, ("NatGatewayId", &id), 32, 0.0)
                .await;
        }
        id
    }
}

impl Estate {
    /// Plants a fresh estate in the moto at `endpoint`.
    pub async fn plant(endpoint: &str) -> Estate {
        let account_id = fresh_account_id();
        let external_id = format!("ext-{account_id}");
        let config = account_config(endpoint, &account_id, &external_id).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let subnets_out = ec2
            .describe_subnets()
            .send()
            .await
            .expect("default subnets");
        let subnets: Vec<String> = subnets_out
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_owned))
            .collect();
        let vpc = subnets_out.subnets()[0].vpc_id().expect("a VPC").to_owned();
        let p = Planter {
            ec2: ec2.clone(),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            now: Utc::now() + Duration::days(JUDGED_AFTER_DAYS),
            subnets,
            vpc,
        };
        let mut expected = Vec::new();
        let mut spared = Vec::new();
        let mut expect = |kind, resource_id: &str, state, usd: f64| {
            expected.push(Expected {
                kind,
                resource_id: resource_id.to_owned(),
                state,
                monthly_waste_usd: cents(usd),
            })
        };

        // Instances: idle, busy, without metrics, ignored by tag, stopped.
        let (idle, _) = p.instance("t3.large", &[]).await;
        p.ec2_metrics(&idle, 1.5, 1e6).await;
        expect("ec2.idle", &idle, "idle", 0.0832 * HOURS + ROOT_VOLUME);
        let (busy, busy_root) = p.instance("t3.small", &[]).await;
        p.ec2_metrics(&busy, 60.0, 5e9).await;
        spared.push(busy.clone());
        let (silent, _) = p.instance("t3.medium", &[]).await;
        expect("ec2.idle", &silent, "no_data", 0.0416 * HOURS + ROOT_VOLUME);
        let (kept, _) = p
            .instance("t3.large", &[("dd0c:ignore", "load test rig")])
            .await;
        p.ec2_metrics(&kept, 0.5, 0.0).await;
        spared.push(kept);
        let (stopped, _) = p.instance("m5.large", &[]).await;
        ec2.stop_instances()
            .instance_ids(&stopped)
            .send()
            .await
            .expect("moto stops an instance");
        expect("ec2.stopped", &stopped, "idle", ROOT_VOLUME);

        // Storage: an unattached volume, an orphaned snapshot, a snapshot of a live volume.
        let loose = p.volume(100).await;
        expect("ebs.unattached", &loose, "idle", 100.0 * 0.08);
        let doomed = p.volume(50).await;
        let orphan = p.snapshot(&doomed).await;
        ec2.delete_volume()
            .volume_id(&doomed)
            .send()
            .await
            .expect("moto deletes a volume");
        expect("snapshot.orphaned", &orphan, "idle", 50.0 * 0.05);
        spared.push(p.snapshot(&busy_root).await);

        // Addresses: one free, one on the busy instance.
        let (free, _) = p.address().await;
        expect("eip.unassociated", &free, "idle", 0.005 * HOURS);
        let (held, _) = p.address().await;
        ec2.associate_address()
            .allocation_id(&held)
            .instance_id(&busy)
            .send()
            .await
            .expect("moto associates an address");
        spared.push(held);

        // NAT gateways: both without traffic; one a route table uses (standby, not waste).
        let lonely = p.nat_gateway().await;
        expect("nat.idle", &lonely, "idle", 0.045 * HOURS);
        let standby = p.nat_gateway().await;
        let table = ec2
            .create_route_table()
            .vpc_id(&p.vpc)
            .send()
            .await
            .expect("moto creates a route table");
        ec2.create_route()
            .route_table_id(
                table
                    .route_table()
                    .and_then(|t| t.route_table_id())
                    .expect("an id"),
            )
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&standby)
            .send()
            .await
            .expect("moto adds a route");
        spared.push(standby);

        // Load balancers: one without targets, one serving the busy instance, a Classic one
        // with no instances.
        let v2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let create_lb = |name: &str| {
            v2.create_load_balancer()
                .name(name)
                .subnets(&p.subnets[0])
                .subnets(&p.subnets[1])
                .send()
        };
        create_lb("empty")
            .await
            .expect("moto creates a load balancer");
        expect("elb.idle", "empty", "idle", 0.0225 * HOURS);
        let web = create_lb("web")
            .await
            .expect("moto creates a load balancer");
        let web_arn = web.load_balancers()[0]
            .load_balancer_arn()
            .expect("an ARN")
            .to_owned();
        let group = v2
            .create_target_group()
            .name("web")
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&p.vpc)
            .send()
            .await
            .expect("moto creates a target group");
        let group_arn = group.target_groups()[0]
            .target_group_arn()
            .expect("an ARN")
            .to_owned();
        v2.register_targets()
            .target_group_arn(&group_arn)
            .targets(
                aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                    .id(&busy)
                    .build(),
            )
            .send()
            .await
            .expect("moto registers a target");
        v2.create_listener()
            .load_balancer_arn(&web_arn)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(
                aws_sdk_elasticloadbalancingv2::types::Action::builder()
                    .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                    .target_group_arn(&group_arn)
                    .build(),
            )
            .send()
            .await
            .expect("moto creates a listener");
        let dimension = web_arn
            .split_once(":loadbalancer/")
            .map(|(_, t)| t)
            .unwrap_or_default();
        p.daily(
            "AWS/ApplicationELB",
            "RequestCount",
            ("LoadBalancer", dimension),
            7,
            5000.0,
        )
        .await;
        spared.push("web".to_owned());
        let classic = aws_sdk_elasticloadbalancing::Client::new(&config);
        for name in ["legacy", "legacy-busy"] {
            classic
                .create_load_balancer()
                .load_balancer_name(name)
                .availability_zones(format!("{REGION}a"))
                .listeners(
                    aws_sdk_elasticloadbalancing::types::Listener::builder()
                        .protocol("HTTP")
                        .load_balancer_port(80)
                        .instance_port(80)
                        .build()
                        .expect("a listener"),
                )
                .send()
                .await
                .expect("moto creates a Classic load balancer");
        }
        expect("elb.idle", "legacy", "idle", 0.025 * HOURS);
        classic
            .register_instances_with_load_balancer()
            .load_balancer_name("legacy-busy")
            .instances(
                aws_sdk_elasticloadbalancing::types::Instance::builder()
                    .instance_id(&busy)
                    .build(),
            )
            .send()
            .await
            .expect("moto registers an instance");
        p.daily(
            "AWS/ELB",
            "RequestCount",
            ("LoadBalancerName", "legacy-busy"),
            7,
            1000.0,
        )
        .await;
        spared.push("legacy-busy".to_owned());

        // A database nobody connects to.
        aws_sdk_rds::Client::new(&config)
            .create_db_instance()
            .db_instance_identifier("reports")
            .db_instance_class("db.t3.medium")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("dd0c")
            .master_user_password("not-a-secret-1")
            .send()
            .await
            .expect("moto creates a database");
        p.daily(
            "AWS/RDS",
            "DatabaseConnections",
            ("DBInstanceIdentifier", "reports"),
            7,
            0.0,
        )
        .await;
        // PostgreSQL's engine multiplier on MySQL's class price, and 20 GiB of gp2 at $0.115.
        expect(
            "rds.idle",
            "reports",
            "idle",
            0.068 * 1.045 * HOURS + 20.0 * 0.115,
        );

        Estate {
            role_arn: format!("arn:aws:iam::{account_id}:role/dd0c-reader"),
            account_id,
            external_id,
            now: p.now,
            expected,
            spared,
            config,
        }
    }

    /// The estate's account as `tenant` connects it: through its role, with its ExternalId.
    pub fn account(&self, tenant: &str) -> dd0c_ports::domain::Account {
        dd0c_ports::domain::Account {
            tenant: tenant.to_owned(),
            account_id: self.account_id.clone(),
            name: None,
            created_at: self.now,
            role_arn: Some(self.role_arn.clone()),
            external_id: Some(self.external_id.clone()),
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        }
    }

    /// Deletes the unattached volume: a scan after this finds its finding gone.
    pub async fn delete_loose_volume(&self) -> String {
        let loose = self
            .expected
            .iter()
            .find(|e| e.kind == "ebs.unattached")
            .expect("an unattached volume")
            .resource_id
            .clone();
        aws_sdk_ec2::Client::new(&self.config)
            .delete_volume()
            .volume_id(&loose)
            .send()
            .await
            .expect("moto deletes a volume");
        loose
    }
}

/// A 12-digit account id no other estate of any run uses.
fn fresh_account_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mixed = (nanos as u64 ^ (u64::from(std::process::id()) << 20)).wrapping_add(n * 7919);
    format!("{:012}", 200_000_000_000 + mixed % 700_000_000_000)
}
