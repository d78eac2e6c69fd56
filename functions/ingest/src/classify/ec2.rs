//! EC2: instances (launched, started, resized, stopped, terminated), volumes, addresses, NAT
//! gateways, fleets, spot requests, VPC endpoints and transit gateways.

use super::*;

/// The tag Auto Scaling puts on the instances it launches for a group.
const GROUP_TAG: &str = "aws:autoscaling:groupName";

pub(super) fn run_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let requested_type = call.req.get("instanceType").str();
    let market = Market::of_run(call);
    let launched = call.resp.get("instancesSet").items();
    if let Some(group) = launching_group(call) {
        if ctx
            .recall
            .instance_type(call.account, FactKind::AutoScalingGroup, &group)
            .is_some()
        {
            // The group's capacity was priced when it was set: counted once, there.
            remember_types(call, ctx, &launched, requested_type);
            return Ok(Classified::NotCost);
        }
    }
    if !launched.is_empty() {
        remember_types(call, ctx, &launched, requested_type);
        let mut by_type: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for instance in &launched {
            let resource_type = instance
                .get("instanceType")
                .str()
                .or(requested_type)
                .map(str::to_owned);
            let instance_id = instance.get("instanceId").text();
            match by_type.iter_mut().find(|(t, _)| *t == resource_type) {
                Some((_, ids)) => ids.extend(instance_id),
                None => by_type.push((resource_type, instance_id.into_iter().collect())),
            }
        }
        let lines = by_type
            .into_iter()
            .map(|(t, ids)| {
                let count = u32::try_from(ids.len()).unwrap_or(u32::MAX).max(1);
                instances(ctx, market, t.as_deref(), count, ids, call.region)
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
    one(instances(
        ctx,
        market,
        requested_type,
        count.max(1),
        Vec::new(),
        call.region,
    ))
}

/// How instances are bought. Spot capacity is priced as the catalog's spot estimate, never as
/// on-demand: on-demand is what it would cost were it not spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Market {
    OnDemand,
    Spot,
}

impl Market {
    /// `RunInstances` with `instanceMarketOptions.marketType` spot.
    fn of_run(call: &Call<'_>) -> Market {
        let market = call.req.at(&["instanceMarketOptions", "marketType"]).str();
        Market::named(market)
    }

    /// `spot` (any case) is spot; anything else, or nothing, is on-demand.
    fn named(name: Option<&str>) -> Market {
        match name {
            Some(m) if m.eq_ignore_ascii_case("spot") => Market::Spot,
            _ => Market::OnDemand,
        }
    }
}

/// A line of EC2 instances of a type, priced for their market.
fn instances(
    ctx: &Ctx<'_>,
    market: Market,
    resource_type: Option<&str>,
    quantity: u32,
    ids: Vec<String>,
    region: &str,
) -> Line {
    let line = priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        resource_type,
        quantity,
        ids,
        region,
    );
    match (market, resource_type) {
        (Market::Spot, Some(t)) => Line {
            unit: ctx.catalog.spot_hourly(t, region),
            ..line
        },
        _ => line,
    }
}

/// The Auto Scaling group a launch is for, when Auto Scaling made it.
fn launching_group(call: &Call<'_>) -> Option<String> {
    if call.invoked_by != Some("autoscaling.amazonaws.com") {
        return None;
    }
    call.req
        .get("tagSpecificationSet")
        .items()
        .iter()
        .flat_map(|spec| spec.get("tags").items())
        .find(|tag| tag.get("key").str() == Some(GROUP_TAG))
        .and_then(|tag| tag.get("value").text())
}

/// Remembers the type of each launched instance, so their later changes can be priced.
fn remember_types(
    call: &Call<'_>,
    ctx: &mut Ctx<'_>,
    launched: &[J<'_>],
    requested_type: Option<&str>,
) {
    for instance in launched {
        let resource_type = instance.get("instanceType").str().or(requested_type);
        if let (Some(i), Some(t)) = (instance.get("instanceId").text(), resource_type) {
            ctx.recall.remember(
                call.account,
                FactKind::Instance,
                &i,
                Fact::InstanceType(t.to_owned()),
            );
        }
    }
}

pub(super) fn start_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    instances_moved(call, ctx, Change::Start, &["stopped"])
}

pub(super) fn stop_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    instances_moved(call, ctx, Change::Stop, &["pending", "running"])
}

pub(super) fn terminate_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    instances_moved(
        call,
        ctx,
        Change::End,
        &["pending", "running", "stopping", "stopped"],
    )
}

/// Instances a call moves from one of the states `from` (as the response's `previousState`
/// tells; the request's ids where the response lists none), grouped by the type recalled for
/// each and priced at it.
fn instances_moved(call: &Call<'_>, ctx: &mut Ctx<'_>, change: Change, from: &[&str]) -> Outcome {
    let mut moved: Vec<String> = Vec::new();
    for item in call.resp.get("instancesSet").items() {
        let was = item.at(&["previousState", "name"]).str();
        if was.is_none_or(|state| from.contains(&state)) {
            moved.extend(item.get("instanceId").text());
        }
    }
    if moved.is_empty() && !call.resp.get("instancesSet").is_present() {
        moved = call
            .req
            .get("instancesSet")
            .items()
            .iter()
            .filter_map(|i| i.get("instanceId").text())
            .collect();
    }
    if moved.is_empty() {
        return Ok(Classified::NotCost);
    }
    changed(change, by_recalled_type(call, ctx, moved))
}

/// Instances grouped by the type recalled for each (`unknown` where none is), priced at it.
fn by_recalled_type(call: &Call<'_>, ctx: &mut Ctx<'_>, instances: Vec<String>) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for instance_id in instances {
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
    lines
}

pub(super) fn modify_instance_attribute(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
    let line = priced(
        ctx,
        "ec2.instance",
        "ec2.instance",
        Some(new_type),
        1,
        ids,
        call.region,
    );
    changed(Change::Resize, vec![line])
}

pub(super) fn create_volume(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
    let mut unit = ctx
        .catalog
        .ebs_volume(&volume_type, size_gb, iops, throughput, call.region);
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

pub(super) fn allocate_address(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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

pub(super) fn create_nat_gateway(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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

pub(super) fn create_fleet(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let mut lines = Vec::new();
    for group in call.resp.get("fleetInstanceSet").items() {
        let ids = group.get("instanceIds").strings();
        if ids.is_empty() {
            continue;
        }
        let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        lines.push(instances(
            ctx,
            Market::named(group.get("lifecycle").str()),
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
    let market = call
        .req
        .at(&["TargetCapacitySpecification", "DefaultTargetCapacityType"])
        .str();
    one(instances(
        ctx,
        Market::named(market),
        first_override,
        capacity,
        id(&call.resp.get("fleetId")),
        call.region,
    ))
}

/// Deleted fleets end with their instances only when the call says so; otherwise the
/// instances run on and end by their own termination.
pub(super) fn delete_fleets(call: &Call<'_>, _ctx: &mut Ctx<'_>) -> Outcome {
    if call.req.get("terminateInstances").bool() != Some(true) {
        return Ok(Classified::NotCost);
    }
    let fleets = ids_at(&call.req, &["fleetId"]);
    if fleets.is_empty() {
        return Ok(Classified::NotCost);
    }
    changed(Change::End, vec![unpriced("ec2.instance", fleets)])
}

pub(super) fn request_spot_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let count = call.req.get("instanceCount").count()?.unwrap_or(1);
    let resource_type = call.req.at(&["launchSpecification", "instanceType"]).str();
    let ids = call
        .resp
        .get("spotInstanceRequestSet")
        .items()
        .iter()
        .filter_map(|r| r.get("spotInstanceRequestId").text())
        .collect();
    one(instances(
        ctx,
        Market::Spot,
        resource_type,
        count,
        ids,
        call.region,
    ))
}

pub(super) fn create_vpc_endpoint(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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

pub(super) fn create_transit_gateway(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
