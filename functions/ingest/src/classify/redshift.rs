//! Redshift clusters.

use super::*;

pub(super) fn create_redshift_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let nodes = call.req.get("numberOfNodes").count()?.unwrap_or(1).max(1);
    let node_type = either(call, "nodeType").text();
    let ids = id(&call.req.get("clusterIdentifier"));
    one(priced(
        ctx,
        "redshift.node",
        "redshift.node",
        node_type.as_deref(),
        nodes,
        ids,
        call.region,
    ))
}

/// A resize (`ResizeCluster`): the cluster's new node type and count.
pub(super) fn resize_redshift_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    match create_redshift_cluster(call, ctx)? {
        Classified::Lines(lines) => changed(Change::Resize, lines),
        other => Ok(other),
    }
}
