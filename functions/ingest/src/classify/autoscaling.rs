//! Auto Scaling groups: what a group launches, learned from its configuration.

use super::*;

/// A group created: its capacity, priced at the type its configuration declares (or the one
/// recalled for it).
pub(super) fn autoscaling_group(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    group_capacity(call, ctx).map(|line| match line {
        Some(line) => Classified::Lines(vec![line]),
        None => Classified::NotCost,
    })
}

/// A group's capacity set (`UpdateAutoScalingGroup`, `SetDesiredCapacity`): a resize to the
/// new count, or a stop when it is zero.
pub(super) fn autoscaling_capacity(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let names_capacity =
        call.req.get("desiredCapacity").is_present() || call.req.get("minSize").is_present();
    if !names_capacity {
        // A configuration change (a new launch template, say): remembered, nothing priced.
        group_capacity(call, ctx)?;
        return Ok(Classified::NotCost);
    }
    match group_capacity(call, ctx)? {
        Some(line) => changed(Change::Resize, vec![line]),
        None => match call.req.get("autoScalingGroupName").text() {
            Some(name) => changed(
                Change::Stop,
                vec![unpriced("autoscaling.group", vec![name])],
            ),
            None => Ok(Classified::NotCost),
        },
    }
}

/// The group's capacity line, `None` at zero capacity; remembers the type it declares.
fn group_capacity(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Result<Option<Line>, FieldError> {
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
        return Ok(None);
    }
    let resource_type = declared.or_else(|| {
        name.as_deref().and_then(|n| {
            ctx.recall
                .instance_type(call.account, FactKind::AutoScalingGroup, n)
        })
    });
    Ok(Some(priced(
        ctx,
        "autoscaling.group",
        "ec2.instance",
        resource_type.as_deref(),
        count,
        name.into_iter().collect(),
        call.region,
    )))
}
