//! CloudTrail trails and the bucket they deliver to.

use super::{condition_values, is_public_allow, parse};
use crate::context::{Ctx, Outcome};
use dapgov_inventory::Trail;

fn each(ctx: &Ctx, f: impl Fn(&Trail) -> Outcome) -> Vec<Outcome> {
    ctx.inv.trails.values().map(f).collect()
}

fn flag(
    ctx: &Ctx,
    get: fn(&Trail) -> Option<bool>,
    on: &'static str,
    off: &'static str,
) -> Vec<Outcome> {
    each(ctx, |t| {
        Outcome::verdict(
            ctx.trail(t),
            (get(t) != Some(true)).then(|| off.to_string()),
            on,
        )
    })
}

pub fn account_trail_logging(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let good = ctx
        .inv
        .trails
        .values()
        .find(|t| t.multi_region == Some(true) && t.logging == Some(true));
    vec![match good {
        Some(t) => Outcome::pass(
            ctx.account(),
            format!("trail {} records every region", t.name),
        ),
        None if ctx.inv.trails.is_empty() => Outcome::fail(
            ctx.account(),
            "the account has no trail: API activity is not recorded",
        ),
        None => Outcome::fail(ctx.account(), "no trail is both multi-region and logging"),
    }]
}

pub fn multi_region(ctx: &Ctx) -> Vec<Outcome> {
    flag(
        ctx,
        |t| t.multi_region,
        "the trail records every region",
        "the trail records one region only",
    )
}

pub fn log_file_validation(ctx: &Ctx) -> Vec<Outcome> {
    flag(
        ctx,
        |t| t.log_file_validation,
        "log file validation is on (digest files prove logs unaltered)",
        "log file validation is off: edited or deleted logs go unnoticed",
    )
}

pub fn logging_on(ctx: &Ctx) -> Vec<Outcome> {
    flag(
        ctx,
        |t| t.logging,
        "the trail is logging",
        "the trail is stopped: nothing is being recorded",
    )
}

pub fn global_events(ctx: &Ctx) -> Vec<Outcome> {
    flag(
        ctx,
        |t| t.include_global_events,
        "global service events (IAM, STS) are recorded",
        "global service events (IAM, STS) are not recorded",
    )
}

pub fn kms_encryption(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |t| {
        let r = ctx.trail(t);
        match &t.kms_key {
            Some(k) => Outcome::pass(r, format!("logs are encrypted with {k}")),
            None => Outcome::fail(
                r,
                "logs are encrypted with S3-managed keys only, not a customer KMS key",
            ),
        }
    })
}

pub fn data_events_pii_zones(ctx: &Ctx) -> Vec<Outcome> {
    let pii: Vec<&str> = ctx
        .inv
        .buckets
        .values()
        .filter(|b| matches!(b.zone.as_deref(), Some("landing" | "raw")))
        .map(|b| b.name.as_str())
        .collect();
    each(ctx, |t| {
        let r = ctx.trail(t);
        if pii.is_empty() {
            return Outcome::not_applicable(r, "there is no landing or raw bucket");
        }
        let recorded = t.data_event_buckets.clone().unwrap_or_default();
        let missing: Vec<&str> = pii
            .iter()
            .copied()
            .filter(|b| !recorded.iter().any(|x| x == b || x == "*"))
            .collect();
        Outcome::verdict(
            r,
            (!missing.is_empty()).then(|| {
                format!(
                    "object-level reads and writes are not recorded for {}",
                    missing.join(", ")
                )
            }),
            format!("object-level events are recorded for {}", pii.join(", ")),
        )
    })
}

fn with_bucket(
    ctx: &Ctx,
    f: impl Fn(&Trail, &dapgov_inventory::Bucket) -> Outcome,
) -> Vec<Outcome> {
    each(ctx, |t| {
        match t.s3_bucket.as_deref().and_then(|n| ctx.inv.buckets.get(n)) {
            Some(b) => f(t, b),
            None => Outcome::fail(
                ctx.trail(t),
                format!(
                    "the trail's bucket {} does not exist",
                    t.s3_bucket.as_deref().unwrap_or("(none)")
                ),
            ),
        }
    })
}

pub fn bucket_not_public(ctx: &Ctx) -> Vec<Outcome> {
    with_bucket(ctx, |t, b| {
        let r = ctx.trail(t);
        let public_grant = b.acl_grants.iter().flatten().any(|g| {
            g.grantee.ends_with("/AllUsers") || g.grantee.ends_with("/AuthenticatedUsers")
        });
        if public_grant {
            return Outcome::fail(r, format!("the ACL of {} grants public access", b.name));
        }
        if let Some(doc) = parse(&b.policy)
            && let Some((i, st)) = doc
                .statements()
                .iter()
                .enumerate()
                .find(|(_, st)| is_public_allow(st))
        {
            return Outcome::fail(
                r,
                format!("the policy of {} lets anyone in ({})", b.name, st.label(i)),
            );
        }
        Outcome::pass(r, format!("{} is not public", b.name))
    })
}

pub fn bucket_access_logging(ctx: &Ctx) -> Vec<Outcome> {
    with_bucket(ctx, |t, b| {
        Outcome::verdict(
            ctx.trail(t),
            b.logging
                .is_none()
                .then(|| format!("access to {} is not logged", b.name)),
            format!("access to {} is logged", b.name),
        )
    })
}

pub fn bucket_policy_source_arn(ctx: &Ctx) -> Vec<Outcome> {
    with_bucket(ctx, |t, b| {
        let r = ctx.trail(t);
        let Some(doc) = parse(&b.policy) else {
            return Outcome::fail(r, format!("{} has no bucket policy for CloudTrail", b.name));
        };
        let grants: Vec<_> = doc
            .statements()
            .iter()
            .enumerate()
            .filter(|(_, st)| {
                st.is_allow()
                    && st
                        .principal
                        .iter()
                        .flat_map(|p| p.identifiers())
                        .any(|(_, id)| id == "cloudtrail.amazonaws.com")
            })
            .collect();
        if grants.is_empty() {
            return Outcome::not_applicable(
                r,
                format!("{} grants CloudTrail nothing by policy", b.name),
            );
        }
        let unscoped: Vec<String> = grants
            .iter()
            .filter(|(_, st)| {
                ["StringEquals", "ArnEquals", "ArnLike", "StringLike"]
                    .iter()
                    .all(|op| condition_values(st, op, "aws:SourceArn").is_empty())
            })
            .map(|(i, st)| st.label(*i))
            .collect();
        Outcome::verdict(
            r,
            (!unscoped.is_empty()).then(|| {
                format!(
                    "{} let any trail in any account write to {}",
                    unscoped.join(", "),
                    b.name
                )
            }),
            "CloudTrail's grants are scoped to this trail by aws:SourceArn",
        )
    })
}

pub fn cloudwatch_logging(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |t| {
        let r = ctx.trail(t);
        match t.log_group.as_deref() {
            Some(g) if ctx.inv.log_groups.contains_key(g) => {
                Outcome::pass(r, format!("events are delivered to log group {g}"))
            }
            Some(g) => Outcome::fail(
                r,
                format!("events go to log group {g}, which does not exist"),
            ),
            None => Outcome::fail(
                r,
                "events are not delivered to CloudWatch Logs, so no metric filter or alarm sees them",
            ),
        }
    })
}
