//! EMR clusters (RunJobFlow).

use super::*;

pub(super) fn run_job_flow(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
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
