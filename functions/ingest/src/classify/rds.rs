//! RDS: DB instances (created, replicated, restored) and Aurora clusters.

use super::*;

/// The request's value, else the response's (responses repeat most create parameters).
pub(super) fn either<'v>(call: &Call<'v>, name: &str) -> J<'v> {
    let from_request = call.req.get(name);
    if from_request.is_present() {
        from_request
    } else {
        call.resp.get(name)
    }
}

pub(super) fn rds_class_price(
    ctx: &Ctx<'_>,
    class: &str,
    engine: Option<&str>,
    region: &str,
) -> Price {
    let base = ctx.catalog.hourly("rds.instance", class, region);
    let (factor, certainty) = match engine {
        Some(e) => ctx.catalog.rds_engine(e),
        None => (1.0, PriceSource::Estimated),
    };
    base.times(factor).at_best(certainty)
}

pub(super) fn create_db_instance(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&either(call, "dBInstanceIdentifier"));
    let Some(class) = either(call, "dBInstanceClass").text() else {
        return one(priced(
            ctx,
            "rds.instance",
            "rds.instance",
            None,
            1,
            ids,
            call.region,
        ));
    };
    let engine = either(call, "engine").text();
    let multi_az = either(call, "multiAZ").bool().unwrap_or(false);
    let az_factor = if multi_az {
        ctx.catalog.rds_multi_az()
    } else {
        1.0
    };
    let mut unit = rds_class_price(ctx, &class, engine.as_deref(), call.region).times(az_factor);
    let is_aurora = engine.as_deref().is_some_and(|e| e.starts_with("aurora"));
    if let (false, Some(gb)) = (is_aurora, either(call, "allocatedStorage").number()?) {
        let storage_type = either(call, "storageType")
            .text()
            .unwrap_or_else(|| "gp2".into());
        unit = unit.plus(
            ctx.catalog
                .storage_gb_hourly("rds", &storage_type, call.region)
                .times(gb * az_factor),
        );
    }
    one(Line {
        kind: "rds.instance",
        resource_type: class,
        quantity: 1,
        ids,
        unit,
    })
}

pub(super) fn create_db_cluster(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = id(&either(call, "dBClusterIdentifier"));
    if let Some(min_acu) = call
        .req
        .at(&["serverlessV2ScalingConfiguration", "minCapacity"])
        .number()?
    {
        let acu = ctx
            .catalog
            .hourly("rds.cluster", "serverless-v2-acu", call.region);
        return one(Line {
            kind: "rds.cluster",
            resource_type: "aurora-serverless-v2".into(),
            quantity: 1,
            ids,
            unit: acu.times(min_acu.max(0.5)),
        });
    }
    if let Some(class) = either(call, "dBClusterInstanceClass").text() {
        // A Multi-AZ DB cluster: one writer and two readable standbys of the class.
        let engine = either(call, "engine").text();
        let unit = rds_class_price(ctx, &class, engine.as_deref(), call.region);
        return one(Line {
            kind: "rds.cluster",
            resource_type: class,
            quantity: 3,
            ids,
            unit,
        });
    }
    // An Aurora provisioned cluster costs nothing until its instances exist (CreateDBInstance).
    Ok(Classified::NotCost)
}
