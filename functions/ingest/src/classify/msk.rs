//! MSK (Kafka) clusters.

use super::*;

pub(super) fn create_msk_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.resp.get("clusterArn"))
        .into_iter()
        .chain(id(&call.req.get("clusterName")))
        .take(1)
        .collect();
    if call.req.get("serverless").is_present() {
        return one(priced(
            ctx,
            "msk.cluster",
            "msk.cluster",
            Some("serverless"),
            1,
            ids,
            call.region,
        ));
    }
    let provisioned = if call.req.get("provisioned").is_present() {
        call.req.get("provisioned")
    } else {
        call.req.clone()
    };
    let brokers = provisioned
        .get("numberOfBrokerNodes")
        .count()?
        .unwrap_or(3)
        .max(1);
    let info = provisioned.get("brokerNodeGroupInfo");
    let mut line = priced(
        ctx,
        "msk.broker",
        "msk.broker",
        info.get("instanceType").str(),
        brokers,
        ids,
        call.region,
    );
    if let Some(gb) = info
        .at(&["storageInfo", "ebsStorageInfo", "volumeSize"])
        .number()?
    {
        line.unit = line.unit.plus(
            ctx.catalog
                .storage_gb_hourly("msk", "standard", call.region)
                .times(gb),
        );
    }
    one(line)
}
