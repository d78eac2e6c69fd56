//! Elastic Load Balancing: application, network and gateway load balancers, and classic ones.

use super::*;

pub(super) fn create_load_balancer(call: &Call<'_>, ctx: &mut Ctx<'_>) -> Outcome {
    let is_classic = call.req.get("listeners").is_present() && !call.req.get("type").is_present()
        || call.resp.get("dNSName").is_present() && !call.resp.get("loadBalancers").is_present();
    let lb_type = if is_classic {
        "classic".to_owned()
    } else {
        call.req
            .get("type")
            .str()
            .unwrap_or("application")
            .to_ascii_lowercase()
    };
    let mut ids: Vec<String> = call
        .resp
        .get("loadBalancers")
        .items()
        .iter()
        .filter_map(|lb| lb.get("loadBalancerArn").text())
        .collect();
    if ids.is_empty() {
        ids = id(&call.req.get("loadBalancerName"))
            .into_iter()
            .chain(id(&call.req.get("name")))
            .take(1)
            .collect();
    }
    one(priced(
        ctx,
        "elb.load-balancer",
        "elb.load-balancer",
        Some(&lb_type),
        1,
        ids,
        call.region,
    ))
}
