//! From one CloudTrail call to the resources it creates: kind, type, count, ids and unit price.
//! One function per API, each written from the API's request and response shapes.

use std::collections::HashMap;

use dd0c_ports::domain::PriceSource;
use dd0c_ports::recall::{Fact, FactKey, FactKind};

use crate::catalog::{Price, PriceCatalog};
use crate::json::{FieldError, J};

/// One group of identical resources created by a call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub kind: &'static str,
    pub resource_type: String,
    pub quantity: u32,
    pub ids: Vec<String>,
    pub unit: Price,
}

/// What a call amounts to.
#[derive(Debug)]
pub(crate) enum Classified {
    Lines(Vec<Line>),
    /// A candidate call that creates nothing billable (a gateway endpoint, an on-demand table,
    /// a configuration dd0c/cost remembers for later pricing).
    NotCost,
}

type Outcome = Result<Classified, FieldError>;

/// The parts of a record a classifier reads.
#[derive(Debug)]
pub(crate) struct Call<'v> {
    pub account: &'v str,
    pub region: &'v str,
    pub req: J<'v>,
    pub resp: J<'v>,
}

/// Facts learned from earlier records that later records need to be priced (SageMaker endpoint
/// configs, ECS task sizes, Lambda memory, instance and Auto Scaling group types): one tenant's
/// bounded cache of what its [`dd0c_ports::recall::RecallStore`] keeps.
///
/// Besides the cache it logs, for whoever persists it, the keys a lookup missed and the facts
/// learned since they were last taken, and it can undo what was learned since then — so a
/// document can be normalized again, from the same start, once the store has answered the misses.
#[derive(Debug, Default)]
pub struct Recall {
    facts: HashMap<FactKey, Fact>,
    /// Lookups that found nothing.
    misses: Vec<FactKey>,
    /// What was learned, in order, with what the cache held before (for [`Recall::undo`]).
    learned: Vec<(FactKey, Fact, Option<Fact>)>,
    /// Where the current record's share of `learned` starts (never past its end).
    record_start: usize,
}

/// Bound on one tenant's cached facts; past it the cache starts over (the store still has them).
const MAX_FACTS: usize = 50_000;

/// Bound on the facts one record teaches: a record listing more ids than any real call can
/// launch must not flood the store.
pub const MAX_FACTS_PER_RECORD: usize = 1_000;

impl Recall {
    /// A new record begins: its share of learning starts at zero.
    pub(crate) fn begin_record(&mut self) {
        self.record_start = self.learned.len();
    }

    /// The current record was rejected: it teaches nothing.
    pub(crate) fn reject_record(&mut self) {
        self.undo_from(self.record_start);
    }

    fn remember(&mut self, account: &str, kind: FactKind, name: &str, fact: Fact) {
        if self.learned.len() - self.record_start >= MAX_FACTS_PER_RECORD {
            return;
        }
        let key = FactKey::new(account, kind, name);
        let before = self.cache(key.clone(), fact.clone());
        self.learned.push((key, fact, before));
    }

    /// Puts `fact` in the bounded cache (starting it over when full), returning what was there.
    fn cache(&mut self, key: FactKey, fact: Fact) -> Option<Fact> {
        if self.facts.len() >= MAX_FACTS && !self.facts.contains_key(&key) {
            self.facts.clear();
        }
        self.facts.insert(key, fact)
    }

    fn recall(&mut self, account: &str, kind: FactKind, name: &str) -> Option<&Fact> {
        let key = FactKey::new(account, kind, name);
        if !self.facts.contains_key(&key) {
            self.misses.push(key);
            return None;
        }
        self.facts.get(&key)
    }

    fn instance_type(&mut self, account: &str, kind: FactKind, name: &str) -> Option<String> {
        match self.recall(account, kind, name) {
            Some(Fact::InstanceType(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// The keys lookups missed since the last call, each once.
    pub fn take_misses(&mut self) -> Vec<FactKey> {
        let mut misses = std::mem::take(&mut self.misses);
        misses.sort();
        misses.dedup();
        misses
    }

    /// The facts learned since the last call (or [`Recall::undo`]), in order.
    pub fn take_learned(&mut self) -> Vec<(FactKey, Fact)> {
        self.record_start = 0;
        std::mem::take(&mut self.learned)
            .into_iter()
            .map(|(key, fact, _)| (key, fact))
            .collect()
    }

    /// Forgets what was learned since the last [`Recall::take_learned`], restoring what the
    /// cache held before, and the misses logged.
    pub fn undo(&mut self) {
        self.undo_from(0);
        self.misses.clear();
    }

    fn undo_from(&mut self, start: usize) {
        // `learned` shrinks: the current record's start stays within it.
        self.record_start = self.record_start.min(start);
        for (key, _, before) in self.learned.drain(start..).rev() {
            match before {
                Some(fact) => self.facts.insert(key, fact),
                None => self.facts.remove(&key),
            };
        }
    }

    /// Puts facts the store holds into the cache (learning nothing).
    pub fn insert(&mut self, facts: impl IntoIterator<Item = (FactKey, Fact)>) {
        for (key, fact) in facts {
            self.cache(key, fact);
        }
    }
}

/// Context every classifier gets.
pub(crate) struct Ctx<'c> {
    pub catalog: &'c PriceCatalog,
    pub recall: &'c mut Recall,
}

type Classifier = fn(&Call<'_>, &mut Ctx<'_>) -> Outcome;

/// The classifier for a call, or `None` if the call never creates cost.
pub(crate) fn classifier(source: &str, name: &str) -> Option<Classifier> {
    let f: Classifier = match (source, name) {
        ("ec2.amazonaws.com", "RunInstances") => run_instances,
        ("ec2.amazonaws.com", "StartInstances") => start_instances,
        ("ec2.amazonaws.com", "ModifyInstanceAttribute") => modify_instance_attribute,
        ("ec2.amazonaws.com", "CreateVolume") => create_volume,
        ("ec2.amazonaws.com", "AllocateAddress") => allocate_address,
        ("ec2.amazonaws.com", "CreateNatGateway") => create_nat_gateway,
        ("ec2.amazonaws.com", "CreateFleet") => create_fleet,
        ("ec2.amazonaws.com", "RequestSpotInstances") => request_spot_instances,
        ("ec2.amazonaws.com", "CreateVpcEndpoint") => create_vpc_endpoint,
        ("ec2.amazonaws.com", "CreateTransitGateway" | "CreateTransitGatewayVpcAttachment") => {
            create_transit_gateway
        }
        (
            "autoscaling.amazonaws.com",
            "CreateAutoScalingGroup" | "UpdateAutoScalingGroup" | "SetDesiredCapacity",
        ) => autoscaling_group,
        ("elasticloadbalancing.amazonaws.com", "CreateLoadBalancer") => create_load_balancer,
        (
            "rds.amazonaws.com",
            "CreateDBInstance"
            | "CreateDBInstanceReadReplica"
            | "RestoreDBInstanceFromDBSnapshot"
            | "RestoreDBInstanceToPointInTime",
        ) => create_db_instance,
        ("rds.amazonaws.com", "CreateDBCluster") => create_db_cluster,
        ("elasticache.amazonaws.com", "CreateCacheCluster" | "CreateReplicationGroup") => {
            create_cache
        }
        ("redshift.amazonaws.com", "CreateCluster") => create_redshift_cluster,
        ("es.amazonaws.com", "CreateDomain" | "CreateElasticsearchDomain") => create_search_domain,
        ("eks.amazonaws.com", "CreateCluster") => create_eks_cluster,
        ("eks.amazonaws.com", "CreateNodegroup") => create_nodegroup,
        ("sagemaker.amazonaws.com", "CreateEndpointConfig") => remember_endpoint_config,
        ("sagemaker.amazonaws.com", "CreateEndpoint") => create_endpoint,
        ("sagemaker.amazonaws.com", "CreateNotebookInstance") => create_notebook,
        ("sagemaker.amazonaws.com", "CreateTrainingJob") => create_training_job,
        ("elasticmapreduce.amazonaws.com", "RunJobFlow") => run_job_flow,
        ("kafka.amazonaws.com", "CreateCluster" | "CreateClusterV2") => create_msk_cluster,
        ("ecs.amazonaws.com", "RegisterTaskDefinition") => remember_task_definition,
        ("ecs.amazonaws.com", "CreateService") => create_service,
        ("dynamodb.amazonaws.com", "CreateTable") => create_table,
        ("kinesis.amazonaws.com", "CreateStream") => create_stream,
        ("lambda.amazonaws.com", "CreateFunction" | "UpdateFunctionConfiguration") => {
            remember_function_memory
        }
        ("lambda.amazonaws.com", "PutProvisionedConcurrencyConfig") => provisioned_concurrency,
        _ => return None,
    };
    Some(f)
}

fn one(line: Line) -> Outcome {
    Ok(Classified::Lines(vec![line]))
}

/// A line priced from a catalog table; an absent type is `unknown`, not zero-and-silent.
fn priced(
    ctx: &Ctx<'_>,
    kind: &'static str,
    table: &str,
    resource_type: Option<&str>,
    quantity: u32,
    ids: Vec<String>,
    region: &str,
) -> Line {
    let (resource_type, unit) = match resource_type {
        Some(t) => (t.to_owned(), ctx.catalog.hourly(table, t, region)),
        None => ("unknown".to_owned(), Price::UNKNOWN),
    };
    Line {
        kind,
        resource_type,
        quantity,
        ids,
        unit,
    }
}

fn id(j: &J<'_>) -> Vec<String> {
    j.text().into_iter().collect()
}

// ---- EC2 -------------------------------------------------------------------------------------

fn run_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let requested_type = call.req.get("instanceType").str();
    let launched = call.resp.get("instancesSet").items();
    if !launched.is_empty() {
        let mut by_type: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for instance in &launched {
            let resource_type = instance
                .get("instanceType")
                .str()
                .or(requested_type)
                .map(str::to_owned);
            let instance_id = instance.get("instanceId").text();
            if let (Some(i), Some(t)) = (&instance_id, &resource_type) {
                ctx.recall.remember(
                    call.account,
                    FactKind::Instance,
                    i,
                    Fact::InstanceType(t.clone()),
                );
            }
            match by_type.iter_mut().find(|(t, _)| *t == resource_type) {
                Some((_, ids)) => ids.extend(instance_id),
                None => by_type.push((resource_type, instance_id.into_iter().collect())),
            }
        }
        let lines = by_type
            .into_iter()
            .map(|(t, ids)| {
                let count = u32::try_from(ids.len()).unwrap_or(u32::MAX).max(1);
                priced(
                    ctx,
                    "ec2.instance",
                    "ec2.instance",
                    t.as_deref(),
                    count,
                    ids,
                    call.region,
                )
            })
            .collect();
        return Ok(Classified::Lines(lines));
    }
    let request = call.req.get("instancesSet").items();
    let mut count = 0;
    for item in &request {
        // Saturating: a sum past the bound is refused with the rest (crate::bounds::check_lines).
        count = u32::saturating_add(
            count,
            item.get("maxCount")
                .count()?
                .or(item.get("minCount").count()?)
                .unwrap_or(1),
        );
    }
    one(priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        requested_type,
        count.max(1),
        Vec::new(),
        call.region,
    ))
}

fn start_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let mut started: Vec<String> = Vec::new();
    for item in call.resp.get("instancesSet").items() {
        let was_stopped = item
            .at(&["previousState", "name"])
            .str()
            .is_none_or(|s| s == "stopped");
        if was_stopped {
            started.extend(item.get("instanceId").text());
        }
    }
    if started.is_empty() {
        started = call
            .req
            .get("instancesSet")
            .items()
            .iter()
            .filter_map(|i| i.get("instanceId").text())
            .collect();
    }
    if started.is_empty() {
        return Ok(Classified::NotCost);
    }
    let mut lines: Vec<Line> = Vec::new();
    for instance_id in started {
        let known = ctx
            .recall
            .instance_type(call.account, FactKind::Instance, &instance_id);
        match lines.iter_mut().find(|l| {
            Some(&l.resource_type) == known.as_ref()
                || (known.is_none() && l.resource_type == "unknown")
        }) {
            Some(line) => {
                line.quantity = line.quantity.saturating_add(1);
                line.ids.push(instance_id);
            }
            None => lines.push(priced(
                ctx,
                "ec2.instance",
                "ec2.instance",
                known.as_deref(),
                1,
                vec![instance_id],
                call.region,
            )),
        }
    }
    Ok(Classified::Lines(lines))
}

fn modify_instance_attribute(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let Some(new_type) = call.req.get("instanceType").str() else {
        return Ok(Classified::NotCost);
    };
    let ids = id(&call.req.get("instanceId"));
    if let Some(instance) = ids.first() {
        ctx.recall.remember(
            call.account,
            FactKind::Instance,
            instance,
            Fact::InstanceType(new_type.to_owned()),
        );
    }
    one(priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        Some(new_type),
        1,
        ids,
        call.region,
    ))
}

fn create_volume(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let field = |name: &str| {
        if call.req.get(name).is_present() {
            call.req.get(name)
        } else {
            call.resp.get(name)
        }
    };
    let volume_type = field("volumeType").str().unwrap_or("gp2").to_owned();
    let size_field = field("size");
    let (size_gb, size_known) = match size_field.number()? {
        Some(size) => (size, true),
        None => (8.0, false),
    };
    let iops = field("iops").number()?.unwrap_or(0.0);
    let throughput = field("throughput").number()?.unwrap_or(0.0);
    let catalog = ctx.catalog;
    let mut unit = catalog
        .storage_gb_hourly("ebs", &volume_type, call.region)
        .times(size_gb);
    let extras = catalog.ebs_extras();
    if let Some(per_iops) = extras.iops_month.get(&volume_type) {
        let free = if volume_type == "gp3" {
            extras.gp3_free_iops
        } else {
            0.0
        };
        unit = unit.plus(catalog.monthly_to_hourly((iops - free).max(0.0) * per_iops, call.region));
    }
    if let Some(per_mibps) = extras.throughput_mibps_month.get(&volume_type) {
        let billable = (throughput - extras.gp3_free_throughput_mibps).max(0.0);
        unit = unit.plus(catalog.monthly_to_hourly(billable * per_mibps, call.region));
    }
    if !size_known {
        unit = unit.at_best(PriceSource::Estimated);
    }
    one(Line {
        kind: "ec2.volume",
        resource_type: volume_type,
        quantity: 1,
        ids: id(&call.resp.get("volumeId")),
        unit,
    })
}

fn allocate_address(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.resp.get("allocationId"))
        .into_iter()
        .chain(id(&call.resp.get("publicIp")))
        .take(1)
        .collect();
    one(priced(
        ctx,
        "ec2.elastic-ip",
        "ec2.elastic-ip",
        Some("public-ipv4"),
        1,
        ids,
        call.region,
    ))
}

fn create_nat_gateway(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.resp.at(&["natGateway", "natGatewayId"]));
    one(priced(
        ctx,
        "ec2.nat-gateway",
        "ec2.nat-gateway",
        Some("nat-gateway"),
        1,
        ids,
        call.region,
    ))
}

fn create_fleet(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let mut lines = Vec::new();
    for group in call.resp.get("fleetInstanceSet").items() {
        let ids = group.get("instanceIds").strings();
        if ids.is_empty() {
            continue;
        }
        let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        lines.push(priced(
            ctx,
            "ec2.instance",
            "ec2.instance",
            group.get("instanceType").str(),
            count,
            ids,
            call.region,
        ));
    }
    if !lines.is_empty() {
        return Ok(Classified::Lines(lines));
    }
    let capacity = call
        .req
        .at(&["TargetCapacitySpecification", "TotalTargetCapacity"])
        .count()?
        .unwrap_or(1);
    if capacity == 0 {
        return Ok(Classified::NotCost);
    }
    let first_override = call
        .req
        .get("LaunchTemplateConfigs")
        .items()
        .iter()
        .flat_map(|config| config.get("Overrides").items())
        .find_map(|o| o.get("InstanceType").str());
    one(priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        first_override,
        capacity,
        Vec::new(),
        call.region,
    ))
}

fn request_spot_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let count = call.req.get("instanceCount").count()?.unwrap_or(1);
    let resource_type = call.req.at(&["launchSpecification", "instanceType"]).str();
    let ids = call
        .resp
        .get("spotInstanceRequestSet")
        .items()
        .iter()
        .filter_map(|r| r.get("spotInstanceRequestId").text())
        .collect();
    one(priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        resource_type,
        count,
        ids,
        call.region,
    ))
}

fn create_vpc_endpoint(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let endpoint_type = call
        .req
        .get("VpcEndpointType")
        .str()
        .unwrap_or("Gateway")
        .to_ascii_lowercase();
    if endpoint_type == "gateway" {
        return Ok(Classified::NotCost);
    }
    let zones = u32::try_from(call.req.get("SubnetId").items().len())
        .unwrap_or(u32::MAX)
        .max(1);
    let ids = id(&call.resp.at(&["vpcEndpoint", "vpcEndpointId"]));
    one(priced(
        ctx,
        "ec2.vpc-endpoint",
        "ec2.vpc-endpoint",
        Some(&endpoint_type),
        zones,
        ids,
        call.region,
    ))
}

fn create_transit_gateway(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.resp.at(&["transitGateway", "transitGatewayId"]))
        .into_iter()
        .chain(id(&call.resp.at(&[
            "transitGatewayVpcAttachment",
            "transitGatewayAttachmentId",
        ])))
        .collect();
    one(priced(
        ctx,
        "ec2.transit-gateway",
        "ec2.transit-gateway",
        Some("attachment"),
        1,
        ids,
        call.region,
    ))
}

// ---- Auto Scaling, load balancers ------------------------------------------------------------

fn autoscaling_group(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let name = call.req.get("autoScalingGroupName").text();
    let count = match call.req.get("desiredCapacity").count()? {
        Some(n) => n,
        None => call.req.get("minSize").count()?.unwrap_or(0),
    };
    let declared = call
        .req
        .at(&["mixedInstancesPolicy", "launchTemplate", "overrides"])
        .items()
        .iter()
        .find_map(|o| o.get("instanceType").text())
        .or_else(|| call.req.get("instanceType").text());
    if let (Some(n), Some(t)) = (&name, &declared) {
        ctx.recall.remember(
            call.account,
            FactKind::AutoScalingGroup,
            n,
            Fact::InstanceType(t.clone()),
        );
    }
    if count == 0 {
        return Ok(Classified::NotCost);
    }
    let resource_type = declared.or_else(|| {
        name.as_deref().and_then(|n| {
            ctx.recall
                .instance_type(call.account, FactKind::AutoScalingGroup, n)
        })
    });
    one(priced(
        ctx,
        "autoscaling.group",
        "ec2.instance",
        resource_type.as_deref(),
        count,
        name.into_iter().collect(),
        call.region,
    ))
}

fn create_load_balancer(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let is_classic = call.req.get("listeners").is_present() && !call.req.get("type").is_present()
        || call.resp.get("dNSName").is_present() && !call.resp.get("loadBalancers").is_present();
    let lb_type = if is_classic {
        "classic".to_owned()
    } else {
        call.req
            .get("type")
            .str()
            .unwrap_or("application")
            .to_ascii_lowercase()
    };
    let mut ids: Vec<String> = call
        .resp
        .get("loadBalancers")
        .items()
        .iter()
        .filter_map(|lb| lb.get("loadBalancerArn").text())
        .collect();
    if ids.is_empty() {
        ids = id(&call.req.get("loadBalancerName"))
            .into_iter()
            .chain(id(&call.req.get("name")))
            .take(1)
            .collect();
    }
    one(priced(
        ctx,
        "elb.load-balancer",
        "elb.load-balancer",
        Some(&lb_type),
        1,
        ids,
        call.region,
    ))
}

// ---- Databases and analytics -----------------------------------------------------------------

/// The request's value, else the response's (responses repeat most create parameters).
fn either<'v>(call: &Call<'v>, name: &str) -> J<'v> {
    let from_request = call.req.get(name);
    if from_request.is_present() {
        from_request
    } else {
        call.resp.get(name)
    }
}

fn rds_class_price(ctx: &Ctx<'_>, class: &str, engine: Option<&str>, region: &str) -> Price {
    let base = ctx.catalog.hourly("rds.instance", class, region);
    let (factor, certainty) = match engine {
        Some(e) => ctx.catalog.rds_engine(e),
        None => (1.0, PriceSource::Estimated),
    };
    base.times(factor).at_best(certainty)
}

fn create_db_instance(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&either(call, "dBInstanceIdentifier"));
    let Some(class) = either(call, "dBInstanceClass").text() else {
        return one(priced(
            ctx,
            "rds.instance",
            "rds.instance",
            None,
            1,
            ids,
            call.region,
        ));
    };
    let engine = either(call, "engine").text();
    let multi_az = either(call, "multiAZ").bool().unwrap_or(false);
    let az_factor = if multi_az {
        ctx.catalog.rds_multi_az()
    } else {
        1.0
    };
    let mut unit = rds_class_price(ctx, &class, engine.as_deref(), call.region).times(az_factor);
    let is_aurora = engine.as_deref().is_some_and(|e| e.starts_with("aurora"));
    if let (false, Some(gb)) = (is_aurora, either(call, "allocatedStorage").number()?) {
        let storage_type = either(call, "storageType")
            .text()
            .unwrap_or_else(|| "gp2".into());
        unit = unit.plus(
            ctx.catalog
                .storage_gb_hourly("rds", &storage_type, call.region)
                .times(gb * az_factor),
        );
    }
    one(Line {
        kind: "rds.instance",
        resource_type: class,
        quantity: 1,
        ids,
        unit,
    })
}

fn create_db_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&either(call, "dBClusterIdentifier"));
    if let Some(min_acu) = call
        .req
        .at(&["serverlessV2ScalingConfiguration", "minCapacity"])
        .number()?
    {
        let acu = ctx
            .catalog
            .hourly("rds.cluster", "serverless-v2-acu", call.region);
        return one(Line {
            kind: "rds.cluster",
            resource_type: "aurora-serverless-v2".into(),
            quantity: 1,
            ids,
            unit: acu.times(min_acu.max(0.5)),
        });
    }
    if let Some(class) = either(call, "dBClusterInstanceClass").text() {
        // A Multi-AZ DB cluster: one writer and two readable standbys of the class.
        let engine = either(call, "engine").text();
        let unit = rds_class_price(ctx, &class, engine.as_deref(), call.region);
        return one(Line {
            kind: "rds.cluster",
            resource_type: class,
            quantity: 3,
            ids,
            unit,
        });
    }
    // An Aurora provisioned cluster costs nothing until its instances exist (CreateDBInstance).
    Ok(Classified::NotCost)
}

fn create_cache(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let node_type = either(call, "cacheNodeType").text();
    let groups = call.req.get("numNodeGroups").count()?;
    let replicas = call.req.get("replicasPerNodeGroup").count()?;
    let count = match (
        call.req.get("numCacheNodes").count()?,
        call.req.get("numCacheClusters").count()?,
    ) {
        (Some(n), _) | (None, Some(n)) => n,
        _ => groups.unwrap_or(1) * (replicas.unwrap_or(0) + 1),
    };
    let ids = id(&call.req.get("cacheClusterId"))
        .into_iter()
        .chain(id(&call.req.get("replicationGroupId")))
        .take(1)
        .collect();
    one(priced(
        ctx,
        "elasticache.node",
        "elasticache.node",
        node_type.as_deref(),
        count.max(1),
        ids,
        call.region,
    ))
}

fn create_redshift_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let nodes = call.req.get("numberOfNodes").count()?.unwrap_or(1).max(1);
    let node_type = either(call, "nodeType").text();
    let ids = id(&call.req.get("clusterIdentifier"));
    one(priced(
        ctx,
        "redshift.node",
        "redshift.node",
        node_type.as_deref(),
        nodes,
        ids,
        call.region,
    ))
}

fn create_search_domain(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let config = if call.req.get("clusterConfig").is_present() {
        call.req.get("clusterConfig")
    } else {
        call.req.get("elasticsearchClusterConfig")
    };
    let ids = id(&call.req.get("domainName"));
    let data_count = config.get("instanceCount").count()?.unwrap_or(1).max(1);
    let mut data = priced(
        ctx,
        "opensearch.node",
        "opensearch.node",
        config.get("instanceType").str(),
        data_count,
        ids.clone(),
        call.region,
    );
    let ebs = call.req.get("eBSOptions");
    if ebs.get("eBSEnabled").bool() != Some(false) {
        if let Some(gb) = ebs.get("volumeSize").number()? {
            let volume_type = ebs.get("volumeType").str().unwrap_or("gp2");
            data.unit = data.unit.plus(
                ctx.catalog
                    .storage_gb_hourly("opensearch", volume_type, call.region)
                    .times(gb),
            );
        }
    }
    let mut lines = vec![data];
    if config.get("dedicatedMasterEnabled").bool() == Some(true) {
        let count = config.get("dedicatedMasterCount").count()?.unwrap_or(3);
        lines.push(priced(
            ctx,
            "opensearch.node",
            "opensearch.node",
            config.get("dedicatedMasterType").str(),
            count,
            ids.clone(),
            call.region,
        ));
    }
    if config.get("warmEnabled").bool() == Some(true) {
        let count = config.get("warmCount").count()?.unwrap_or(2);
        lines.push(priced(
            ctx,
            "opensearch.node",
            "opensearch.node",
            config.get("warmType").str(),
            count,
            ids,
            call.region,
        ));
    }
    Ok(Classified::Lines(lines))
}

fn create_eks_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("name"));
    one(priced(
        ctx,
        "eks.cluster",
        "eks.cluster",
        Some("standard"),
        1,
        ids,
        call.region,
    ))
}

fn create_nodegroup(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    // EKS's documented defaults: t3.medium, desired size 2.
    let instance_type = call
        .req
        .get("instanceTypes")
        .strings()
        .into_iter()
        .next()
        .unwrap_or_else(|| "t3.medium".into());
    let desired = call
        .req
        .at(&["scalingConfig", "desiredSize"])
        .count()?
        .unwrap_or(2);
    if desired == 0 {
        return Ok(Classified::NotCost);
    }
    let ids = id(&call.req.get("nodegroupName"));
    one(priced(
        ctx,
        "eks.nodegroup",
        "ec2.instance",
        Some(&instance_type),
        desired,
        ids,
        call.region,
    ))
}

// ---- SageMaker, EMR, MSK ---------------------------------------------------------------------

fn remember_endpoint_config(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let Some(name) = call.req.get("endpointConfigName").text() else {
        return Ok(Classified::NotCost);
    };
    let mut variants = Vec::new();
    for variant in call.req.get("productionVariants").items() {
        if let Some(t) = variant.get("instanceType").text() {
            variants.push((t, variant.get("initialInstanceCount").count()?.unwrap_or(1)));
        }
    }
    ctx.recall.remember(
        call.account,
        FactKind::EndpointConfig,
        &name,
        Fact::Variants(variants),
    );
    Ok(Classified::NotCost)
}

fn create_endpoint(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("endpointName"));
    let config = call
        .req
        .get("endpointConfigName")
        .text()
        .unwrap_or_default();
    let variants = match ctx
        .recall
        .recall(call.account, FactKind::EndpointConfig, &config)
    {
        Some(Fact::Variants(v)) => v.clone(),
        _ => {
            return one(priced(
                ctx,
                "sagemaker.endpoint",
                "sagemaker.instance",
                None,
                1,
                ids,
                call.region,
            ))
        }
    };
    if variants.is_empty() {
        return Ok(Classified::NotCost);
    }
    let lines = variants
        .iter()
        .map(|(t, count)| {
            priced(
                ctx,
                "sagemaker.endpoint",
                "sagemaker.instance",
                Some(t),
                *count,
                ids.clone(),
                call.region,
            )
        })
        .collect();
    Ok(Classified::Lines(lines))
}

fn create_notebook(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("notebookInstanceName"));
    let mut line = priced(
        ctx,
        "sagemaker.notebook",
        "sagemaker.instance",
        call.req.get("instanceType").str(),
        1,
        ids,
        call.region,
    );
    let volume_gb = call.req.get("volumeSizeInGB").number()?.unwrap_or(5.0);
    line.unit = line.unit.plus(
        ctx.catalog
            .storage_gb_hourly("ebs", "gp2", call.region)
            .times(volume_gb),
    );
    one(line)
}

fn create_training_job(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let resources = call.req.get("resourceConfig");
    let count = resources.get("instanceCount").count()?.unwrap_or(1).max(1);
    let ids = id(&call.req.get("trainingJobName"));
    one(priced(
        ctx,
        "sagemaker.training",
        "sagemaker.instance",
        resources.get("instanceType").str(),
        count,
        ids,
        call.region,
    ))
}

fn run_job_flow(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let instances = call.req.get("instances");
    let ids = id(&call.resp.get("jobFlowId"));
    let mut groups: Vec<(Option<String>, u32)> = Vec::new();
    for group in instances.get("instanceGroups").items() {
        groups.push((
            group.get("instanceType").text(),
            group.get("instanceCount").count()?.unwrap_or(1),
        ));
    }
    for fleet in instances.get("instanceFleets").items() {
        let capacity = fleet.get("targetOnDemandCapacity").count()?.unwrap_or(0)
            + fleet.get("targetSpotCapacity").count()?.unwrap_or(0);
        let first = fleet
            .get("instanceTypeConfigs")
            .items()
            .iter()
            .find_map(|c| c.get("instanceType").text());
        groups.push((first, capacity.max(1)));
    }
    if groups.is_empty() {
        let total = instances.get("instanceCount").count()?.unwrap_or(1).max(1);
        groups.push((instances.get("masterInstanceType").text(), 1));
        if total > 1 {
            groups.push((instances.get("slaveInstanceType").text(), total - 1));
        }
    }
    let fee = ctx.catalog.ratio_to_ec2("emr.fee").unwrap_or(0.0);
    let lines = groups
        .into_iter()
        .map(|(t, count)| {
            let mut line = priced(
                ctx,
                "emr.instance",
                "ec2.instance",
                t.as_deref(),
                count,
                ids.clone(),
                call.region,
            );
            line.unit = line.unit.times(1.0 + fee);
            line
        })
        .collect();
    Ok(Classified::Lines(lines))
}

fn create_msk_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.resp.get("clusterArn"))
        .into_iter()
        .chain(id(&call.req.get("clusterName")))
        .take(1)
        .collect();
    if call.req.get("serverless").is_present() {
        return one(priced(
            ctx,
            "msk.cluster",
            "msk.cluster",
            Some("serverless"),
            1,
            ids,
            call.region,
        ));
    }
    let provisioned = if call.req.get("provisioned").is_present() {
        call.req.get("provisioned")
    } else {
        call.req.clone()
    };
    let brokers = provisioned
        .get("numberOfBrokerNodes")
        .count()?
        .unwrap_or(3)
        .max(1);
    let info = provisioned.get("brokerNodeGroupInfo");
    let mut line = priced(
        ctx,
        "msk.broker",
        "msk.broker",
        info.get("instanceType").str(),
        brokers,
        ids,
        call.region,
    );
    if let Some(gb) = info
        .at(&["storageInfo", "ebsStorageInfo", "volumeSize"])
        .number()?
    {
        line.unit = line.unit.plus(
            ctx.catalog
                .storage_gb_hourly("msk", "standard", call.region)
                .times(gb),
        );
    }
    one(line)
}

// ---- ECS, DynamoDB, Kinesis, Lambda ----------------------------------------------------------

/// ECS task size: `"256"` CPU units or `"0.25 vCPU"`; `"512"` MiB or `"0.5 GB"`.
fn task_dimension(j: &J<'_>, per_unit: f64, suffix: &str) -> Result<Option<f64>, FieldError> {
    let Some(text) = j.text() else {
        return Ok(None);
    };
    let lower = text.to_ascii_lowercase();
    if let Some(number) = lower.strip_suffix(suffix) {
        return number
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| j.error(format!("unreadable size {text:?}")));
    }
    lower
        .trim()
        .parse::<f64>()
        .map(|n| Some(n / per_unit))
        .map_err(|_| j.error(format!("unreadable size {text:?}")))
}

fn remember_task_definition(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let vcpu = task_dimension(&call.req.get("cpu"), 1024.0, "vcpu")?;
    let gb = task_dimension(&call.req.get("memory"), 1024.0, "gb")?;
    let (Some(vcpu), Some(gb)) = (vcpu, gb) else {
        return Ok(Classified::NotCost);
    };
    let definition = call.resp.get("taskDefinition");
    let mut names: Vec<String> = call.req.get("family").text().into_iter().collect();
    names.extend(definition.get("taskDefinitionArn").text());
    if let (Some(family), Some(revision)) = (
        definition.get("family").text(),
        definition.get("revision").text(),
    ) {
        names.push(format!("{family}:{revision}"));
    }
    for name in names {
        ctx.recall.remember(
            call.account,
            FactKind::TaskDefinition,
            &name,
            Fact::TaskSize { vcpu, gb },
        );
    }
    Ok(Classified::NotCost)
}

fn create_service(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let on_fargate = call
        .req
        .get("launchType")
        .str()
        .is_some_and(|l| l.eq_ignore_ascii_case("FARGATE"))
        || call
            .req
            .get("capacityProviderStrategy")
            .items()
            .iter()
            .any(|s| {
                s.get("capacityProvider")
                    .str()
                    .is_some_and(|p| p.starts_with("FARGATE"))
            });
    let tasks = call.req.get("desiredCount").count()?.unwrap_or(0);
    if !on_fargate || tasks == 0 {
        // EC2-backed tasks run on instances that were priced when they launched.
        return Ok(Classified::NotCost);
    }
    let ids = id(&call.req.get("serviceName"));
    let definition = call.req.get("taskDefinition").text().unwrap_or_default();
    let size = match ctx
        .recall
        .recall(call.account, FactKind::TaskDefinition, &definition)
    {
        Some(Fact::TaskSize { vcpu, gb }) => Some((*vcpu, *gb)),
        _ => None,
    };
    let Some((vcpu, gb)) = size else {
        return one(Line {
            kind: "ecs.service",
            resource_type: "fargate-task".into(),
            quantity: tasks,
            ids,
            unit: Price::UNKNOWN,
        });
    };
    let unit = ctx
        .catalog
        .hourly("ecs.fargate", "vcpu", call.region)
        .times(vcpu)
        .plus(
            ctx.catalog
                .hourly("ecs.fargate", "gb", call.region)
                .times(gb),
        );
    one(Line {
        kind: "ecs.service",
        resource_type: format!("fargate-{vcpu}vcpu-{gb}gb"),
        quantity: tasks,
        ids,
        unit,
    })
}

fn create_table(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    if call
        .req
        .get("billingMode")
        .str()
        .is_some_and(|m| m.eq_ignore_ascii_case("PAY_PER_REQUEST"))
    {
        return Ok(Classified::NotCost);
    }
    let mut rcu = call
        .req
        .at(&["provisionedThroughput", "readCapacityUnits"])
        .number()?
        .unwrap_or(0.0);
    let mut wcu = call
        .req
        .at(&["provisionedThroughput", "writeCapacityUnits"])
        .number()?
        .unwrap_or(0.0);
    for index in call.req.get("globalSecondaryIndexes").items() {
        rcu += index
            .at(&["provisionedThroughput", "readCapacityUnits"])
            .number()?
            .unwrap_or(0.0);
        wcu += index
            .at(&["provisionedThroughput", "writeCapacityUnits"])
            .number()?
            .unwrap_or(0.0);
    }
    if rcu + wcu == 0.0 {
        return Ok(Classified::NotCost);
    }
    let unit = ctx
        .catalog
        .hourly("dynamodb.table", "rcu", call.region)
        .times(rcu)
        .plus(
            ctx.catalog
                .hourly("dynamodb.table", "wcu", call.region)
                .times(wcu),
        );
    one(Line {
        kind: "dynamodb.table",
        resource_type: "provisioned".into(),
        quantity: 1,
        ids: id(&call.req.get("tableName")),
        unit,
    })
}

fn create_stream(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("streamName"));
    let on_demand = call
        .req
        .at(&["streamModeDetails", "streamMode"])
        .str()
        .is_some_and(|m| m.eq_ignore_ascii_case("ON_DEMAND"));
    if on_demand {
        return one(priced(
            ctx,
            "kinesis.stream",
            "kinesis.stream",
            Some("on-demand"),
            1,
            ids,
            call.region,
        ));
    }
    let shards = call.req.get("shardCount").count()?.unwrap_or(1).max(1);
    one(priced(
        ctx,
        "kinesis.stream",
        "kinesis.stream",
        Some("shard"),
        shards,
        ids,
        call.region,
    ))
}

fn remember_function_memory(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    if let (Some(name), Some(mb)) = (
        call.req.get("functionName").text(),
        call.req.get("memorySize").number()?,
    ) {
        ctx.recall
            .remember(call.account, FactKind::Function, &name, Fact::MemoryMb(mb));
    }
    Ok(Classified::NotCost)
}

fn provisioned_concurrency(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let executions = call
        .req
        .get("provisionedConcurrentExecutions")
        .count()?
        .unwrap_or(0);
    if executions == 0 {
        return Ok(Classified::NotCost);
    }
    let name = call.req.get("functionName").text().unwrap_or_default();
    let (memory_mb, certainty) = match ctx.recall.recall(call.account, FactKind::Function, &name) {
        Some(Fact::MemoryMb(mb)) => (*mb, PriceSource::Catalog),
        // Lambda's default memory size, flagged as a guess.
        _ => (128.0, PriceSource::Estimated),
    };
    let unit = ctx
        .catalog
        .hourly("lambda.provisioned-concurrency", "gb", call.region)
        .times(memory_mb / 1024.0)
        .at_best(certainty);
    let resource_type = format!("{memory_mb}mb");
    one(Line {
        kind: "lambda.provisioned-concurrency",
        resource_type,
        quantity: executions,
        ids: vec![name],
        unit,
    })
}
