//! EC2: instances (launched, started, resized), volumes, addresses, NAT gateways, fleets, spot
//! requests, VPC endpoints and transit gateways.

use super::*;

pub(super) fn run_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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

pub(super) fn start_instances(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
