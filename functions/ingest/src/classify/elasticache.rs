//! ElastiCache: cache clusters and replication groups.

use super::*;

pub(super) fn create_cache(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let node_type = either(call, "cacheNodeType").text();
    let groups = call.req.get("numNodeGroups").count()?;
    let replicas = call.req.get("replicasPerNodeGroup").count()?;
    let count = match (
        call.req.get("numCacheNodes").count()?,
        call.req.get("numCacheClusters").count()?,
    ) {
        (Some(n), _) | (None, Some(n)) => n,
        _ => groups.unwrap_or(1) * (replicas.unwrap_or(0) + 1),
    };
    let ids = id(&call.req.get("cacheClusterId"))
        .into_iter()
        .chain(id(&call.req.get("replicationGroupId")))
        .take(1)
        .collect();
    one(priced(
        ctx,
        "elasticache.node",
        "elasticache.node",
        node_type.as_deref(),
        count.max(1),
        ids,
        call.region,
    ))
}
