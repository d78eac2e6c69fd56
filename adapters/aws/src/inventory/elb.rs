//! Load balancers: Classic (with its instances' health) and v2 — application, network, gateway —
//! with the health of every target of its target groups, and the tags of both.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancing as classic;
use aws_sdk_elasticloadbalancingv2 as v2;
use dd0c_ports::zombie::{LoadBalancer, Tags};
use dd0c_ports::PortResult;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{tags, time, Recorder};
use crate::error::{is_code, sdk};
use crate::recorder::regional_client;

/// Most names or ARNs one `DescribeTags` takes.
const TAGS_PER_CALL: usize = 20;

/// Health requests in flight at once per region.
const HEALTH_CONCURRENCY: usize = 8;

/// Both load balancer APIs in one region.
pub(super) struct Elb {
    classic: classic::Client,
    v2: v2::Client,
    region: String,
}

/// Registered and healthy backends.
#[derive(Debug, Default, Clone, Copy)]
struct Health {
    registered: u32,
    healthy: u32,
}

impl Elb {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Elb {
            classic: regional_client!(classic, config, region, recorder),
            v2: regional_client!(v2, config, region, recorder),
            region: region.to_owned(),
        }
    }

    /// Every load balancer of both kinds, with its backends' health and its tags.
    pub(super) async fn load_balancers(&self, account_id: &str) -> PortResult<Vec<LoadBalancer>> {
        let (mut classic, v2) = tokio::try_join!(self.classic(account_id), self.v2())?;
        classic.extend(v2);
        Ok(classic)
    }

    async fn classic(&self, account_id: &str) -> PortResult<Vec<LoadBalancer>> {
        let mut pages = self
            .classic
            .describe_load_balancers()
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("ELB DescribeLoadBalancers", e))?;
            for lb in page.load_balancer_descriptions() {
                let Some(name) = lb.load_balancer_name() else {
                    continue;
                };
                found.push(LoadBalancer {
                    name: name.to_owned(),
                    arn: format!(
                        "arn:aws:elasticloadbalancing:{}:{account_id}:loadbalancer/{name}",
                        self.region
                    ),
                    lb_type: "classic".to_owned(),
                    metric_dimension: name.to_owned(),
                    registered_targets: lb.instances().len() as u32,
                    healthy_targets: 0,
                    created: time(lb.created_time()),
                    tags: Tags::new(),
                });
            }
        }
        let asks: Vec<_> = found.iter().map(|lb| self.classic_healthy(lb)).collect();
        let healthy: Vec<u32> = stream::iter(asks)
            .buffered(HEALTH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut tags = self.classic_tags(&found).await?;
        for (lb, healthy) in found.iter_mut().zip(healthy) {
            lb.healthy_targets = healthy;
            lb.tags = tags.remove(&lb.name).unwrap_or_default();
        }
        Ok(found)
    }

    async fn classic_healthy(&self, lb: &LoadBalancer) -> PortResult<u32> {
        if lb.registered_targets == 0 {
            return Ok(0);
        }
        let output = self
            .classic
            .describe_instance_health()
            .load_balancer_name(&lb.name)
            .send()
            .await
            .map_err(|e| sdk("ELB DescribeInstanceHealth", e))?;
        Ok(output
            .instance_states()
            .iter()
            .filter(|s| s.state() == Some("InService"))
            .count() as u32)
    }

    async fn classic_tags(&self, lbs: &[LoadBalancer]) -> PortResult<BTreeMap<String, Tags>> {
        let mut found = BTreeMap::new();
        for chunk in lbs.chunks(TAGS_PER_CALL) {
            let request = chunk.iter().fold(self.classic.describe_tags(), |r, lb| {
                r.load_balancer_names(&lb.name)
            });
            let output = request
                .send()
                .await
                .map_err(|e| sdk("ELB DescribeTags", e))?;
            for d in output.tag_descriptions() {
                if let Some(name) = d.load_balancer_name() {
                    let pairs = d.tags().iter().map(|t| (Some(t.key()), t.value()));
                    found.insert(name.to_owned(), tags(pairs));
                }
            }
        }
        Ok(found)
    }

    async fn v2(&self) -> PortResult<Vec<LoadBalancer>> {
        let mut pages = self.v2.describe_load_balancers().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("ELBv2 DescribeLoadBalancers", e))?;
            for lb in page.load_balancers() {
                let (Some(arn), Some(name)) = (lb.load_balancer_arn(), lb.load_balancer_name())
                else {
                    continue;
                };
                found.push(LoadBalancer {
                    name: name.to_owned(),
                    arn: arn.to_owned(),
                    lb_type: lb
                        .r#type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_else(|| "application".to_owned()),
                    // The metric dimension is the ARN's tail: `app/NAME/ID`, `net/NAME/ID`.
                    metric_dimension: arn
                        .split_once(":loadbalancer/")
                        .map_or(name, |(_, tail)| tail)
                        .to_owned(),
                    registered_targets: 0,
                    healthy_targets: 0,
                    created: time(lb.created_time()),
                    tags: Tags::new(),
                });
            }
        }
        let asks: Vec<_> = found.iter().map(|lb| self.v2_health(&lb.arn)).collect();
        let health: Vec<Health> = stream::iter(asks)
            .buffered(HEALTH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut tags = self.v2_tags(&found).await?;
        for (lb, health) in found.iter_mut().zip(health) {
            lb.registered_targets = health.registered;
            lb.healthy_targets = health.healthy;
            lb.tags = tags.remove(&lb.arn).unwrap_or_default();
        }
        Ok(found)
    }

    async fn v2_health(&self, lb_arn: &str) -> PortResult<Health> {
        let mut pages = self
            .v2
            .describe_target_groups()
            .load_balancer_arn(lb_arn)
            .into_paginator()
            .send();
        let mut health = Health::default();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // Some implementations answer a load balancer without groups so.
                Err(e) if is_code(&e, "TargetGroupNotFound") => break,
                Err(e) => return Err(sdk("ELBv2 DescribeTargetGroups", e)),
            };
            for group in page.target_groups() {
                let Some(group_arn) = group.target_group_arn() else {
                    continue;
                };
                let output = self
                    .v2
                    .describe_target_health()
                    .target_group_arn(group_arn)
                    .send()
                    .await
                    .map_err(|e| sdk("ELBv2 DescribeTargetHealth", e))?;
                for target in output.target_health_descriptions() {
                    health.registered += 1;
                    let state = target.target_health().and_then(|h| h.state());
                    if state.is_some_and(|s| s.as_str() == "healthy") {
                        health.healthy += 1;
                    }
                }
            }
        }
        Ok(health)
    }

    async fn v2_tags(&self, lbs: &[LoadBalancer]) -> PortResult<BTreeMap<String, Tags>> {
        let mut found = BTreeMap::new();
        for chunk in lbs.chunks(TAGS_PER_CALL) {
            let request = chunk
                .iter()
                .fold(self.v2.describe_tags(), |r, lb| r.resource_arns(&lb.arn));
            let output = request
                .send()
                .await
                .map_err(|e| sdk("ELBv2 DescribeTags", e))?;
            for d in output.tag_descriptions() {
                if let Some(arn) = d.resource_arn() {
                    let pairs = d.tags().iter().map(|t| (t.key(), t.value()));
                    found.insert(arn.to_owned(), tags(pairs));
                }
            }
        }
        Ok(found)
    }
}
