//! DynamoDB tables with provisioned capacity.

use super::*;

pub(super) fn create_table(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    if call
        .req
        .get("billingMode")
        .str()
        .is_some_and(|m| m.eq_ignore_ascii_case("PAY_PER_REQUEST"))
    {
        return Ok(Classified::NotCost);
    }
    let mut rcu = call
        .req
        .at(&["provisionedThroughput", "readCapacityUnits"])
        .number()?
        .unwrap_or(0.0);
    let mut wcu = call
        .req
        .at(&["provisionedThroughput", "writeCapacityUnits"])
        .number()?
        .unwrap_or(0.0);
    for index in call.req.get("globalSecondaryIndexes").items() {
        rcu += index
            .at(&["provisionedThroughput", "readCapacityUnits"])
            .number()?
            .unwrap_or(0.0);
        wcu += index
            .at(&["provisionedThroughput", "writeCapacityUnits"])
            .number()?
            .unwrap_or(0.0);
    }
    if rcu + wcu == 0.0 {
        return Ok(Classified::NotCost);
    }
    let unit = ctx
        .catalog
        .hourly("dynamodb.table", "rcu", call.region)
        .times(rcu)
        .plus(
            ctx.catalog
                .hourly("dynamodb.table", "wcu", call.region)
                .times(wcu),
        );
    one(Line {
        kind: "dynamodb.table",
        resource_type: "provisioned".into(),
        quantity: 1,
        ids: id(&call.req.get("tableName")),
        unit,
    })
}
