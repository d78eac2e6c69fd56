//! Lambda: function memory (remembered) and provisioned concurrency.

use super::*;

pub(super) fn remember_function_memory(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    if let (Some(name), Some(mb)) = (
        call.req.get("functionName").text(),
        call.req.get("memorySize").number()?,
    ) {
        ctx.recall
            .remember(call.account, FactKind::Function, &name, Fact::MemoryMb(mb));
    }
    Ok(Classified::NotCost)
}

pub(super) fn provisioned_concurrency(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let executions = call
        .req
        .get("provisionedConcurrentExecutions")
        .count()?
        .unwrap_or(0);
    if executions == 0 {
        return Ok(Classified::NotCost);
    }
    let name = call.req.get("functionName").text().unwrap_or_default();
    let (memory_mb, certainty) = match ctx.recall.recall(call.account, FactKind::Function, &name) {
        Some(Fact::MemoryMb(mb)) => (*mb, PriceSource::Catalog),
        // Lambda's default memory size, flagged as a guess.
        _ => (128.0, PriceSource::Estimated),
    };
    let unit = ctx
        .catalog
        .hourly("lambda.provisioned-concurrency", "gb", call.region)
        .times(memory_mb / 1024.0)
        .at_best(certainty);
    let resource_type = format!("{memory_mb}mb");
    one(Line {
        kind: "lambda.provisioned-concurrency",
        resource_type,
        quantity: executions,
        ids: vec![name],
        unit,
    })
}
