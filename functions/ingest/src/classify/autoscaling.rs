//! Auto Scaling groups: what a group launches, learned from its configuration.

use super::*;

pub(super) fn autoscaling_group(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
