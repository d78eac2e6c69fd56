//! ECS: task definitions (their size, remembered) and services.

use super::*;

/// ECS task size: `"256"` CPU units or `"0.25 vCPU"`; `"512"` MiB or `"0.5 GB"`.
pub(super) fn task_dimension(
    j: &J<'_>,
    per_unit: f64,
    suffix: &str,
) -> Result<Option<f64>, FieldError> {
    let Some(text) = j.text() else {
        return Ok(None);
    };
    let lower = text.to_ascii_lowercase();
    if let Some(number) = lower.strip_suffix(suffix) {
        return number
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| j.error(format!("unreadable size {text:?}")));
    }
    lower
        .trim()
        .parse::<f64>()
        .map(|n| Some(n / per_unit))
        .map_err(|_| j.error(format!("unreadable size {text:?}")))
}

pub(super) fn remember_task_definition(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let vcpu = task_dimension(&call.req.get("cpu"), 1024.0, "vcpu")?;
    let gb = task_dimension(&call.req.get("memory"), 1024.0, "gb")?;
    let (Some(vcpu), Some(gb)) = (vcpu, gb) else {
        return Ok(Classified::NotCost);
    };
    let definition = call.resp.get("taskDefinition");
    let mut names: Vec<String> = call.req.get("family").text().into_iter().collect();
    names.extend(definition.get("taskDefinitionArn").text());
    if let (Some(family), Some(revision)) = (
        definition.get("family").text(),
        definition.get("revision").text(),
    ) {
        names.push(format!("{family}:{revision}"));
    }
    for name in names {
        ctx.recall.remember(
            call.account,
            FactKind::TaskDefinition,
            &name,
            Fact::TaskSize { vcpu, gb },
        );
    }
    Ok(Classified::NotCost)
}

pub(super) fn create_service(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let on_fargate = call
        .req
        .get("launchType")
        .str()
        .is_some_and(|l| l.eq_ignore_ascii_case("FARGATE"))
        || call
            .req
            .get("capacityProviderStrategy")
            .items()
            .iter()
            .any(|s| {
                s.get("capacityProvider")
                    .str()
                    .is_some_and(|p| p.starts_with("FARGATE"))
            });
    let tasks = call.req.get("desiredCount").count()?.unwrap_or(0);
    if !on_fargate || tasks == 0 {
        // EC2-backed tasks run on instances that were priced when they launched.
        return Ok(Classified::NotCost);
    }
    let ids = id(&call.req.get("serviceName"));
    let definition = call.req.get("taskDefinition").text().unwrap_or_default();
    let size = match ctx
        .recall
        .recall(call.account, FactKind::TaskDefinition, &definition)
    {
        Some(Fact::TaskSize { vcpu, gb }) => Some((*vcpu, *gb)),
        _ => None,
    };
    let Some((vcpu, gb)) = size else {
        return one(Line {
            kind: "ecs.service",
            resource_type: "fargate-task".into(),
            quantity: tasks,
            ids,
            unit: Price::UNKNOWN,
        });
    };
    let unit = ctx
        .catalog
        .hourly("ecs.fargate", "vcpu", call.region)
        .times(vcpu)
        .plus(
            ctx.catalog
                .hourly("ecs.fargate", "gb", call.region)
                .times(gb),
        );
    one(Line {
        kind: "ecs.service",
        resource_type: format!("fargate-{vcpu}vcpu-{gb}gb"),
        quantity: tasks,
        ids,
        unit,
    })
}
