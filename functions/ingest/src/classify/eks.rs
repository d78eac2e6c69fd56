//! EKS: control planes and managed node groups.

use super::*;

pub(super) fn create_eks_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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

pub(super) fn create_nodegroup(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
