//! SageMaker: endpoint configs (remembered), endpoints, notebooks and training jobs.

use super::*;

pub(super) fn remember_endpoint_config(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let Some(name) = call.req.get("endpointConfigName").text() else {
        return Ok(Classified::NotCost);
    };
    let mut variants = Vec::new();
    for variant in call.req.get("productionVariants").items() {
        if let Some(t) = variant.get("instanceType").text() {
            variants.push((t, variant.get("initialInstanceCount").count()?.unwrap_or(1)));
        }
    }
    ctx.recall.remember(
        call.account,
        FactKind::EndpointConfig,
        &name,
        Fact::Variants(variants),
    );
    Ok(Classified::NotCost)
}

pub(super) fn create_endpoint(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("endpointName"));
    let config = call
        .req
        .get("endpointConfigName")
        .text()
        .unwrap_or_default();
    let variants = match ctx
        .recall
        .recall(call.account, FactKind::EndpointConfig, &config)
    {
        Some(Fact::Variants(v)) => v.clone(),
        _ => {
            return one(priced(
                ctx,
                "sagemaker.endpoint",
                "sagemaker.instance",
                None,
                1,
                ids,
                call.region,
            ))
        }
    };
    if variants.is_empty() {
        return Ok(Classified::NotCost);
    }
    let lines = variants
        .iter()
        .map(|(t, count)| {
            priced(
                ctx,
                "sagemaker.endpoint",
                "sagemaker.instance",
                Some(t),
                *count,
                ids.clone(),
                call.region,
            )
        })
        .collect();
    Ok(Classified::Lines(lines))
}

pub(super) fn create_notebook(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&call.req.get("notebookInstanceName"));
    let mut line = priced(
        ctx,
        "sagemaker.notebook",
        "sagemaker.instance",
        call.req.get("instanceType").str(),
        1,
        ids,
        call.region,
    );
    let volume_gb = call.req.get("volumeSizeInGB").number()?.unwrap_or(5.0);
    line.unit = line.unit.plus(
        ctx.catalog
            .storage_gb_hourly("ebs", "gp2", call.region)
            .times(volume_gb),
    );
    one(line)
}

pub(super) fn create_training_job(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let resources = call.req.get("resourceConfig");
    let count = resources.get("instanceCount").count()?.unwrap_or(1).max(1);
    let ids = id(&call.req.get("trainingJobName"));
    one(priced(
        ctx,
        "sagemaker.training",
        "sagemaker.instance",
        resources.get("instanceType").str(),
        count,
        ids,
        call.region,
    ))
}
