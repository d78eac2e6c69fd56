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
    let storage_type = either(call, "storageType")
        .text()
        .unwrap_or_else(|| "gp2".into());
    let storage = either(call, "allocatedStorage")
        .number()?
        .map(|gb| (gb, storage_type.as_ref()));
    let unit = ctx
        .catalog
        .rds_instance(&class, engine.as_deref(), multi_az, storage, call.region);
    one(Line {
        kind: "rds.instance",
        resource_type: class,
        quantity: 1,
        ids,
        unit,
    })
}

/// A class change (`dBInstanceClass` in the request): the instance's new rate. Other
/// modifications leave the rate as it was.
pub(super) fn modify_db_instance(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    if !call.req.get("dBInstanceClass").is_present() {
        return Ok(Classified::NotCost);
    }
    match create_db_instance(call, ctx)? {
        Classified::Lines(lines) => changed(Change::Resize, lines),
        other => Ok(other),
    }
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
        let unit = ctx
            .catalog
            .rds_class(&class, engine.as_deref(), call.region);
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
