//! Data residency: the platform stays in the region its spec names.

use crate::context::{Ctx, Outcome, Resource};
use dapgov_inventory::{BILLING_NAMESPACE, BILLING_REGION};

/// Every regional resource the platform has is in its region. One exception, by rule: an alarm
/// on the billing metric, which AWS publishes only in us-east-1.
pub fn resources_in_platform_region(ctx: &Ctx) -> Vec<Outcome> {
    let home = ctx.inv.region.as_str();
    let verdict = |r: Resource, allowed: &[&str]| {
        let failure = (!allowed.contains(&r.region.as_str()))
            .then(|| format!("is in {}, outside the platform's region {home}", r.region));
        let ok = format!("in {}", r.region);
        Outcome::verdict(r, failure, ok)
    };
    let mut out = vec![];
    out.extend(
        ctx.inv
            .buckets
            .values()
            .map(|b| verdict(ctx.bucket(b), &[home])),
    );
    out.extend(
        ctx.inv
            .keys
            .iter()
            .map(|(n, k)| verdict(ctx.key(n, k), &[home])),
    );
    out.extend(
        ctx.inv
            .trails
            .values()
            .map(|t| verdict(ctx.trail(t), &[home])),
    );
    out.extend(
        ctx.inv
            .topics
            .values()
            .map(|t| verdict(ctx.topic(t), &[home])),
    );
    for (name, a) in &ctx.inv.alarms {
        let allowed: &[&str] = if a.namespace.as_deref() == Some(BILLING_NAMESPACE) {
            &[BILLING_REGION]
        } else {
            &[home]
        };
        out.push(verdict(ctx.alarm(name, a.region.as_deref()), allowed));
    }
    out
}
