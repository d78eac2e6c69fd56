//! From one CloudTrail call to the resources it creates: kind, type, count, ids and unit price.
//! One function per API, each written from the API's request and response shapes, in one file
//! per AWS service; this module keeps what they share: the call, the lines it creates, the
//! context with the recall cache, and the table from (service, API) to classifier.

use std::collections::HashMap;

use dd0c_ports::domain::PriceSource;
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

/// Every call that can create cost, by event source and base event name, with its classifier.
/// The cloud's customer template forwards exactly these calls (`dd0c-lambda`'s contract).
const CALLS: &[(&str, &[&str], Classifier)] = &[
    ("ec2.amazonaws.com", &["RunInstances"], run_instances),
    ("ec2.amazonaws.com", &["StartInstances"], start_instances),
    (
        "ec2.amazonaws.com",
        &["ModifyInstanceAttribute"],
        modify_instance_attribute,
    ),
    ("ec2.amazonaws.com", &["CreateVolume"], create_volume),
    ("ec2.amazonaws.com", &["AllocateAddress"], allocate_address),
    (
        "ec2.amazonaws.com",
        &["CreateNatGateway"],
        create_nat_gateway,
    ),
    ("ec2.amazonaws.com", &["CreateFleet"], create_fleet),
    (
        "ec2.amazonaws.com",
        &["RequestSpotInstances"],
        request_spot_instances,
    ),
    (
        "ec2.amazonaws.com",
        &["CreateVpcEndpoint"],
        create_vpc_endpoint,
    ),
    (
        "ec2.amazonaws.com",
        &["CreateTransitGateway", "CreateTransitGatewayVpcAttachment"],
        create_transit_gateway,
    ),
    (
        "autoscaling.amazonaws.com",
        &[
            "CreateAutoScalingGroup",
            "UpdateAutoScalingGroup",
            "SetDesiredCapacity",
        ],
        autoscaling_group,
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        &["CreateLoadBalancer"],
        create_load_balancer,
    ),
    (
        "rds.amazonaws.com",
        &[
            "CreateDBInstance",
            "CreateDBInstanceReadReplica",
            "RestoreDBInstanceFromDBSnapshot",
            "RestoreDBInstanceToPointInTime",
        ],
        create_db_instance,
    ),
    ("rds.amazonaws.com", &["CreateDBCluster"], create_db_cluster),
    (
        "elasticache.amazonaws.com",
        &["CreateCacheCluster", "CreateReplicationGroup"],
        create_cache,
    ),
    (
        "redshift.amazonaws.com",
        &["CreateCluster"],
        create_redshift_cluster,
    ),
    (
        "es.amazonaws.com",
        &["CreateDomain", "CreateElasticsearchDomain"],
        create_search_domain,
    ),
    ("eks.amazonaws.com", &["CreateCluster"], create_eks_cluster),
    ("eks.amazonaws.com", &["CreateNodegroup"], create_nodegroup),
    (
        "sagemaker.amazonaws.com",
        &["CreateEndpointConfig"],
        remember_endpoint_config,
    ),
    (
        "sagemaker.amazonaws.com",
        &["CreateEndpoint"],
        create_endpoint,
    ),
    (
        "sagemaker.amazonaws.com",
        &["CreateNotebookInstance"],
        create_notebook,
    ),
    (
        "sagemaker.amazonaws.com",
        &["CreateTrainingJob"],
        create_training_job,
    ),
    (
        "elasticmapreduce.amazonaws.com",
        &["RunJobFlow"],
        run_job_flow,
    ),
    (
        "kafka.amazonaws.com",
        &["CreateCluster", "CreateClusterV2"],
        create_msk_cluster,
    ),
    (
        "ecs.amazonaws.com",
        &["RegisterTaskDefinition"],
        remember_task_definition,
    ),
    ("ecs.amazonaws.com", &["CreateService"], create_service),
    ("dynamodb.amazonaws.com", &["CreateTable"], create_table),
    ("kinesis.amazonaws.com", &["CreateStream"], create_stream),
    (
        "lambda.amazonaws.com",
        &["CreateFunction", "UpdateFunctionConfiguration"],
        remember_function_memory,
    ),
    (
        "lambda.amazonaws.com",
        &["PutProvisionedConcurrencyConfig"],
        provisioned_concurrency,
    ),
];

/// The classifier for a call, or `None` if the call never creates cost.
pub(crate) fn classifier(source: &str, name: &str) -> Option<Classifier> {
    CALLS
        .iter()
        .find(|(s, names, _)| *s == source && names.contains(&name))
        .map(|(_, _, f)| *f)
}

/// The calls that can create cost, as (event source, base event name): what a CloudTrail
/// filter must let through for nothing priced to be missed.
pub fn priced_calls() -> impl Iterator<Item = (&'static str, &'static str)> {
    CALLS
        .iter()
        .flat_map(|(source, names, _)| names.iter().map(move |name| (*source, *name)))
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
