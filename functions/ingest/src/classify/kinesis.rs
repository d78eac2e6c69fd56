//! Kinesis data streams.

use super::*;

pub(super) fn create_stream(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("streamName"));
    let on_demand = call
        .req
        .at(&["streamModeDetails", "streamMode"])
        .str()
        .is_some_and(|m| m.eq_ignore_ascii_case("ON_DEMAND"));
    if on_demand {
        return one(priced(
            ctx,
            "kinesis.stream",
            "kinesis.stream",
            Some("on-demand"),
            1,
            ids,
            call.region,
        ));
    }
    let shards = call.req.get("shardCount").count()?.unwrap_or(1).max(1);
    one(priced(
        ctx,
        "kinesis.stream",
        "kinesis.stream",
        Some("shard"),
        shards,
        ids,
        call.region,
    ))
}
