//! From one CloudTrail call to the resources it creates, starts, resizes, stops or ends: kind,
//! type, count, ids and unit price. One function per API that needs reading, each written from
//! the API's request and response shapes, in one file per AWS service; calls that only end or
//! stop what they name are rows of the table. This module keeps what they share: the call, the
//! lines it touches, the context with the recall cache, and the table from (service, API) to
//! how the call is read.

use std::collections::HashMap;

use dd0c_ports::domain::{Change, PriceSource};
use dd0c_ports::recall::{Fact, FactKey, FactKind};

use crate::catalog::{Price, PriceCatalog};
use crate::json::{FieldError, J};

mod autoscaling;
mod dynamodb;
mod ec2;
mod ecs;
mod eks;
mod elasticache;
mod elb;
mod emr;
mod kinesis;
mod lambda;
mod msk;
mod opensearch;
mod rds;
mod redshift;
mod sagemaker;

use autoscaling::*;
use dynamodb::*;
use ec2::*;
use ecs::*;
use eks::*;
use elasticache::*;
use elb::*;
use emr::*;
use kinesis::*;
use lambda::*;
use msk::*;
use opensearch::*;
use rds::*;
use redshift::*;
use sagemaker::*;

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
    /// Resources created.
    Lines(Vec<Line>),
    /// Existing resources started, resized, stopped or ended.
    Changed(Change, Vec<Line>),
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
    /// The AWS service that made the call for someone, if one did.
    pub invoked_by: Option<&'v str>,
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

/// How a call of the table is read.
#[derive(Clone, Copy)]
pub(crate) enum Rule {
    /// By a function written from the API's shapes.
    Read(Classifier),
    /// The call changes the resources of `kind` it names at the first of `paths` that names
    /// any (request first, then response; lists are followed at every step): their ids are all
    /// it tells, so their type and price are what the ledger holds from their creation.
    Named {
        change: Change,
        kind: &'static str,
        paths: &'static [&'static [&'static str]],
    },
}

impl Rule {
    /// What `call` amounts to under this rule.
    pub(crate) fn classify(self, call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
        match self {
            Rule::Read(read) => read(call, ctx),
            Rule::Named {
                change,
                kind,
                paths,
            } => Ok(named_outcome(call, change, kind, paths)),
        }
    }
}

/// Shorthand for the table's [`Rule::Named`] rows.
const fn named(
    change: Change,
    kind: &'static str,
    paths: &'static [&'static [&'static str]],
) -> Rule {
    Rule::Named {
        change,
        kind,
        paths,
    }
}

const fn read(classifier: Classifier) -> Rule {
    Rule::Read(classifier)
}

use Change::{End, Start, Stop};

/// Every call that can create, start, resize, stop or end cost, by event source and base
/// event name, with how it is read. The cloud's customer template forwards exactly these calls
/// (`dd0c-lambda`'s contract).
#[rustfmt::skip]
const CALLS: &[(&str, &[&str], Rule)] = &[
    // EC2 instances; their volumes are their own resources and outlive a stop.
    (EC2, &["RunInstances"], read(run_instances)),
    (EC2, &["StartInstances"], read(start_instances)),
    (EC2, &["ModifyInstanceAttribute"], read(modify_instance_attribute)),
    (EC2, &["StopInstances"], read(stop_instances)),
    (EC2, &["TerminateInstances"], read(terminate_instances)),
    (EC2, &["CreateFleet"], read(create_fleet)),
    (EC2, &["DeleteFleets"], read(delete_fleets)),
    (EC2, &["RequestSpotInstances"], read(request_spot_instances)),
    // A cancelled request launches nothing more; instances it launched run on (AWS's rule)
    // and end by their own TerminateInstances.
    (EC2, &["CancelSpotInstanceRequests"],
        named(End, "ec2.instance", &[&["spotInstanceRequestIdSet", "spotInstanceRequestId"]])),
    // EC2 networking and storage.
    (EC2, &["CreateVolume"], read(create_volume)),
    (EC2, &["DeleteVolume"], named(End, "ec2.volume", &[&["volumeId"]])),
    (EC2, &["AllocateAddress"], read(allocate_address)),
    (EC2, &["ReleaseAddress"], named(End, "ec2.elastic-ip", &[&["allocationId"], &["publicIp"]])),
    (EC2, &["CreateNatGateway"], read(create_nat_gateway)),
    (EC2, &["DeleteNatGateway"], named(End, "ec2.nat-gateway", &[&["natGatewayId"]])),
    (EC2, &["CreateVpcEndpoint"], read(create_vpc_endpoint)),
    (EC2, &["DeleteVpcEndpoints"], named(End, "ec2.vpc-endpoint", &[&["vpcEndpointId"]])),
    (EC2, &["CreateTransitGateway", "CreateTransitGatewayVpcAttachment"], read(create_transit_gateway)),
    (EC2, &["DeleteTransitGateway"], named(End, "ec2.transit-gateway", &[&["transitGatewayId"]])),
    (EC2, &["DeleteTransitGatewayVpcAttachment"],
        named(End, "ec2.transit-gateway", &[&["transitGatewayAttachmentId"]])),
    // Auto Scaling: a group's capacity is its resource; the instances it launches are not
    // priced again (see `run_instances`).
    (AUTOSCALING, &["CreateAutoScalingGroup"], read(autoscaling_group)),
    (AUTOSCALING, &["UpdateAutoScalingGroup", "SetDesiredCapacity"], read(autoscaling_capacity)),
    (AUTOSCALING, &["DeleteAutoScalingGroup"],
        named(End, "autoscaling.group", &[&["autoScalingGroupName"]])),
    // Load balancers, both APIs: v2 names them by ARN, the classic one by name.
    (ELB, &["CreateLoadBalancer"], read(create_load_balancer)),
    (ELB, &["DeleteLoadBalancer"],
        named(End, "elb.load-balancer", &[&["loadBalancerArn"], &["loadBalancerName"]])),
    // RDS. AWS starts a stopped instance or cluster again after seven days; the ledger
    // models that restart.
    (RDS, &["CreateDBInstance", "CreateDBInstanceReadReplica",
            "RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceToPointInTime"],
        read(create_db_instance)),
    (RDS, &["ModifyDBInstance"], read(modify_db_instance)),
    (RDS, &["StopDBInstance"], named(Stop, "rds.instance", &[&["dBInstanceIdentifier"]])),
    (RDS, &["StartDBInstance"], named(Start, "rds.instance", &[&["dBInstanceIdentifier"]])),
    (RDS, &["DeleteDBInstance"], named(End, "rds.instance", &[&["dBInstanceIdentifier"]])),
    (RDS, &["CreateDBCluster"], read(create_db_cluster)),
    (RDS, &["StopDBCluster"], named(Stop, "rds.cluster", &[&["dBClusterIdentifier"]])),
    (RDS, &["StartDBCluster"], named(Start, "rds.cluster", &[&["dBClusterIdentifier"]])),
    (RDS, &["DeleteDBCluster"], named(End, "rds.cluster", &[&["dBClusterIdentifier"]])),
    // ElastiCache.
    (ELASTICACHE, &["CreateCacheCluster", "CreateReplicationGroup"], read(create_cache)),
    (ELASTICACHE, &["DeleteCacheCluster", "DeleteReplicationGroup"],
        named(End, "elasticache.node", &[&["cacheClusterId"], &["replicationGroupId"]])),
    // Redshift: a paused cluster bills its storage only.
    (REDSHIFT, &["CreateCluster"], read(create_redshift_cluster)),
    (REDSHIFT, &["ResizeCluster"], read(resize_redshift_cluster)),
    (REDSHIFT, &["PauseCluster"], named(Stop, "redshift.node", &[&["clusterIdentifier"]])),
    (REDSHIFT, &["ResumeCluster"], named(Start, "redshift.node", &[&["clusterIdentifier"]])),
    (REDSHIFT, &["DeleteCluster"], named(End, "redshift.node", &[&["clusterIdentifier"]])),
    // OpenSearch (and Elasticsearch).
    (OPENSEARCH, &["CreateDomain", "CreateElasticsearchDomain"], read(create_search_domain)),
    (OPENSEARCH, &["DeleteDomain", "DeleteElasticsearchDomain"],
        named(End, "opensearch.node", &[&["domainName"]])),
    // EKS.
    (EKS, &["CreateCluster"], read(create_eks_cluster)),
    (EKS, &["DeleteCluster"], named(End, "eks.cluster", &[&["name"]])),
    (EKS, &["CreateNodegroup"], read(create_nodegroup)),
    (EKS, &["DeleteNodegroup"], named(End, "eks.nodegroup", &[&["nodegroupName"]])),
    // SageMaker: a training job ends by itself when it completes; a stop ends it early.
    (SAGEMAKER, &["CreateEndpointConfig"], read(remember_endpoint_config)),
    (SAGEMAKER, &["CreateEndpoint"], read(create_endpoint)),
    (SAGEMAKER, &["DeleteEndpoint"], named(End, "sagemaker.endpoint", &[&["endpointName"]])),
    (SAGEMAKER, &["CreateNotebookInstance"], read(create_notebook)),
    (SAGEMAKER, &["StopNotebookInstance"],
        named(Stop, "sagemaker.notebook", &[&["notebookInstanceName"]])),
    (SAGEMAKER, &["StartNotebookInstance"],
        named(Start, "sagemaker.notebook", &[&["notebookInstanceName"]])),
    (SAGEMAKER, &["DeleteNotebookInstance"],
        named(End, "sagemaker.notebook", &[&["notebookInstanceName"]])),
    (SAGEMAKER, &["CreateTrainingJob"], read(create_training_job)),
    (SAGEMAKER, &["StopTrainingJob"], named(End, "sagemaker.training", &[&["trainingJobName"]])),
    // EMR.
    (EMR, &["RunJobFlow"], read(run_job_flow)),
    (EMR, &["TerminateJobFlows"], named(End, "emr.instance", &[&["jobFlowIds"]])),
    // MSK: clusters are named by ARN.
    (MSK, &["CreateCluster", "CreateClusterV2"], read(create_msk_cluster)),
    (MSK, &["DeleteCluster"], named(End, "msk.broker", &[&["clusterArn"]])),
    // ECS services on Fargate.
    (ECS, &["RegisterTaskDefinition"], read(remember_task_definition)),
    (ECS, &["CreateService"], read(create_service)),
    (ECS, &["DeleteService"], named(End, "ecs.service", &[&["service"]])),
    // DynamoDB, Kinesis, Lambda.
    (DYNAMODB, &["CreateTable"], read(create_table)),
    (DYNAMODB, &["DeleteTable"], named(End, "dynamodb.table", &[&["tableName"]])),
    (KINESIS, &["CreateStream"], read(create_stream)),
    (KINESIS, &["DeleteStream"], named(End, "kinesis.stream", &[&["streamName"]])),
    (LAMBDA, &["CreateFunction", "UpdateFunctionConfiguration"], read(remember_function_memory)),
    (LAMBDA, &["PutProvisionedConcurrencyConfig"], read(provisioned_concurrency)),
    (LAMBDA, &["DeleteProvisionedConcurrencyConfig"],
        named(End, "lambda.provisioned-concurrency", &[&["functionName"]])),
];

const EC2: &str = "ec2.amazonaws.com";
const AUTOSCALING: &str = "autoscaling.amazonaws.com";
const ELB: &str = "elasticloadbalancing.amazonaws.com";
const RDS: &str = "rds.amazonaws.com";
const ELASTICACHE: &str = "elasticache.amazonaws.com";
const REDSHIFT: &str = "redshift.amazonaws.com";
const OPENSEARCH: &str = "es.amazonaws.com";
const EKS: &str = "eks.amazonaws.com";
const SAGEMAKER: &str = "sagemaker.amazonaws.com";
const EMR: &str = "elasticmapreduce.amazonaws.com";
const MSK: &str = "kafka.amazonaws.com";
const ECS: &str = "ecs.amazonaws.com";
const DYNAMODB: &str = "dynamodb.amazonaws.com";
const KINESIS: &str = "kinesis.amazonaws.com";
const LAMBDA: &str = "lambda.amazonaws.com";

/// How a call is read, or `None` if the call never touches cost.
pub(crate) fn rule(source: &str, name: &str) -> Option<Rule> {
    CALLS
        .iter()
        .find(|(s, names, _)| *s == source && names.contains(&name))
        .map(|(_, _, f)| *f)
}

/// The calls that can create, change or end cost, as (event source, base event name): what a
/// CloudTrail filter must let through for nothing priced, and no end of it, to be missed.
pub fn priced_calls() -> impl Iterator<Item = (&'static str, &'static str)> {
    CALLS
        .iter()
        .flat_map(|(source, names, _)| names.iter().map(move |name| (*source, *name)))
}

/// A [`Rule::Named`] call: the ids it names, as one line of `kind` at no known price.
fn named_outcome(
    call: &Call<'_>,
    change: Change,
    kind: &'static str,
    paths: &[&[&str]],
) -> Classified {
    let ids = paths
        .iter()
        .map(|path| {
            let named = ids_at(&call.req, path);
            if named.is_empty() {
                ids_at(&call.resp, path)
            } else {
                named
            }
        })
        .find(|ids| !ids.is_empty())
        .unwrap_or_default();
    if ids.is_empty() {
        return Classified::NotCost;
    }
    Classified::Changed(change, vec![unpriced(kind, ids)])
}

/// The texts at `path` below `j`, following lists at every step.
fn ids_at(j: &J<'_>, path: &[&str]) -> Vec<String> {
    let mut level = vec![j.clone()];
    for key in path {
        level = level
            .iter()
            .flat_map(|parent| parent.get(key).items())
            .collect();
    }
    level.iter().filter_map(J::text).collect()
}

/// Resources named by a call that does not tell their type: priced by the ledger, not here.
fn unpriced(kind: &'static str, ids: Vec<String>) -> Line {
    Line {
        kind,
        resource_type: "unknown".to_owned(),
        quantity: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        ids,
        unit: Price::UNKNOWN,
    }
}

/// Existing resources changed: the lines as the call tells them.
fn changed(change: Change, lines: Vec<Line>) -> Outcome {
    Ok(Classified::Changed(change, lines))
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
