//! Elastic Load Balancing: delete a load balancer of either API, its configuration (scheme,
//! subnets, security groups, listeners) kept as the way back. An Application, Network or
//! Gateway Load Balancer is named by its ARN (`…:loadbalancer/app/NAME/ID`); a Classic one by
//! its name or ARN (`…:loadbalancer/NAME`).

use aws_config::SdkConfig;
use aws_sdk_elasticloadbalancing as classic;
use aws_sdk_elasticloadbalancingv2 as v2;
use aws_sdk_elasticloadbalancingv2::operation::RequestId;
use dd0c_ports::remediation::{Ran, WayBack};
use dd0c_ports::{PortError, PortResult};
use serde_json::{json, Value};

use super::{call, in_state, not_found, unprotected};
use crate::error::sdk;
use crate::recorder::regional_client;
use crate::recorder::Recorder;

/// Which API a load balancer belongs to.
enum Named<'a> {
    /// By its ARN.
    V2(&'a str),
    /// By its name.
    Classic(&'a str),
}

impl<'a> Named<'a> {
    fn of(load_balancer: &'a str) -> Self {
        match load_balancer.split_once(":loadbalancer/") {
            Some((_, path)) if path.contains('/') => Named::V2(load_balancer),
            Some((_, name)) => Named::Classic(name),
            None => Named::Classic(load_balancer),
        }
    }
}

/// Both load balancing APIs in one region.
pub(super) struct Elb {
    v2: v2::Client,
    classic: classic::Client,
}

impl Elb {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Elb {
            v2: regional_client!(v2, config, region, recorder),
            classic: regional_client!(classic, config, region, recorder),
        }
    }

    /// Describes the load balancer: it must exist, be unprotected and (v2) active.
    pub(super) async fn check(&self, load_balancer: &str) -> PortResult<()> {
        self.configuration(load_balancer).await.map(drop)
    }

    /// Describes the load balancer and its listeners, then deletes it.
    pub(super) async fn delete(&self, load_balancer: &str) -> PortResult<Ran> {
        let configuration = self.configuration(load_balancer).await?;
        let request_id = match Named::of(load_balancer) {
            Named::V2(arn) => self
                .v2
                .delete_load_balancer()
                .load_balancer_arn(arn)
                .send()
                .await
                .map_err(|e| sdk("ELBv2 DeleteLoadBalancer", e))?
                .request_id()
                .map(str::to_owned),
            Named::Classic(name) => self
                .classic
                .delete_load_balancer()
                .load_balancer_name(name)
                .send()
                .await
                .map_err(|e| sdk("ELB DeleteLoadBalancer", e))?
                .request_id()
                .map(str::to_owned),
        };
        Ok(Ran {
            calls: vec![call(
                "elasticloadbalancing:DeleteLoadBalancer",
                request_id.as_deref(),
            )],
            way_back: WayBack::LoadBalancer { configuration },
        })
    }

    /// What it takes to create the load balancer again, checked as [`Elb::check`] says.
    async fn configuration(&self, load_balancer: &str) -> PortResult<Value> {
        match Named::of(load_balancer) {
            Named::V2(arn) => self.v2_configuration(arn).await,
            Named::Classic(name) => self.classic_configuration(name).await,
        }
    }

    async fn v2_configuration(&self, arn: &str) -> PortResult<Value> {
        let out = self
            .v2
            .describe_load_balancers()
            .load_balancer_arns(arn)
            .send()
            .await
            .map_err(|e| not_found("ELBv2 DescribeLoadBalancers", e))?;
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| PortError::NotFound(format!("load balancer {arn}")))?;
        let tags = self
            .v2
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .map_err(|e| sdk("ELBv2 DescribeTags", e))?;
        unprotected(
            arn,
            tags.tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .map(|t| t.key()),
        )?;
        let state = lb
            .state()
            .and_then(|s| s.code())
            .map_or("unknown", |c| c.as_str());
        in_state(
            arn,
            state,
            &["active", "active_impaired"],
            "DeleteLoadBalancer",
        )?;
        let listeners = self
            .v2
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(|e| sdk("ELBv2 DescribeListeners", e))?;
        Ok(json!({
            "api": "elbv2",
            "name": lb.load_balancer_name(),
            "type": lb.r#type().map(|t| t.as_str()),
            "scheme": lb.scheme().map(|s| s.as_str()),
            "ip_address_type": lb.ip_address_type().map(|t| t.as_str()),
            "subnets": lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect::<Vec<_>>(),
            "security_groups": lb.security_groups(),
            "listeners": listeners.listeners().iter().map(|l| json!({
                "protocol": l.protocol().map(|p| p.as_str()),
                "port": l.port(),
                "certificates": l.certificates().iter().filter_map(|c| c.certificate_arn()).collect::<Vec<_>>(),
                "default_target_groups": l.default_actions().iter().filter_map(|a| a.target_group_arn()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }))
    }

    async fn classic_configuration(&self, name: &str) -> PortResult<Value> {
        let out = self
            .classic
            .describe_load_balancers()
            .load_balancer_names(name)
            .send()
            .await
            .map_err(|e| not_found("ELB DescribeLoadBalancers", e))?;
        let lb = out
            .load_balancer_descriptions()
            .first()
            .ok_or_else(|| PortError::NotFound(format!("load balancer {name}")))?;
        let tags = self
            .classic
            .describe_tags()
            .load_balancer_names(name)
            .send()
            .await
            .map_err(|e| sdk("ELB DescribeTags", e))?;
        unprotected(
            name,
            tags.tag_descriptions()
                .iter()
                .flat_map(|d| d.tags())
                .map(|t| Some(t.key())),
        )?;
        Ok(json!({
            "api": "elb",
            "name": lb.load_balancer_name(),
            "scheme": lb.scheme(),
            "subnets": lb.subnets(),
            "availability_zones": lb.availability_zones(),
            "security_groups": lb.security_groups(),
            "instances": lb.instances().iter().filter_map(|i| i.instance_id()).collect::<Vec<_>>(),
            "listeners": lb.listener_descriptions().iter().filter_map(|d| d.listener()).map(|l| json!({
                "protocol": l.protocol(),
                "load_balancer_port": l.load_balancer_port(),
                "instance_protocol": l.instance_protocol(),
                "instance_port": l.instance_port(),
                "ssl_certificate_id": l.ssl_certificate_id(),
            })).collect::<Vec<_>>(),
        }))
    }
}
