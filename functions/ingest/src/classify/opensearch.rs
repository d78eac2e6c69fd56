//! OpenSearch (and Elasticsearch) domains.

use super::*;

pub(super) fn create_search_domain(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let config = if call.req.get("clusterConfig").is_present() {
        call.req.get("clusterConfig")
    } else {
        call.req.get("elasticsearchClusterConfig")
    };
    let ids = id(&call.req.get("domainName"));
    let data_count = config.get("instanceCount").count()?.unwrap_or(1).max(1);
    let mut data = priced(
        ctx,
        "opensearch.node",
        "opensearch.node",
        config.get("instanceType").str(),
        data_count,
        ids.clone(),
        call.region,
    );
    let ebs = call.req.get("eBSOptions");
    if ebs.get("eBSEnabled").bool() != Some(false) {
        if let Some(gb) = ebs.get("volumeSize").number()? {
            let volume_type = ebs.get("volumeType").str().unwrap_or("gp2");
            data.unit = data.unit.plus(
                ctx.catalog
                    .storage_gb_hourly("opensearch", volume_type, call.region)
                    .times(gb),
            );
        }
    }
    let mut lines = vec![data];
    if config.get("dedicatedMasterEnabled").bool() == Some(true) {
        let count = config.get("dedicatedMasterCount").count()?.unwrap_or(3);
        lines.push(priced(
            ctx,
            "opensearch.node",
            "opensearch.node",
            config.get("dedicatedMasterType").str(),
            count,
            ids.clone(),
            call.region,
        ));
    }
    if config.get("warmEnabled").bool() == Some(true) {
        let count = config.get("warmCount").count()?.unwrap_or(2);
        lines.push(priced(
            ctx,
            "opensearch.node",
            "opensearch.node",
            config.get("warmType").str(),
            count,
            ids,
            call.region,
        ));
    }
    Ok(Classified::Lines(lines))
}
