//! The loader on AWS (the function that loads deliveries and runs the daily jobs) and its
//! dead-letter queue: what a reviewer asks of a function that handles personal information.

use crate::context::{Ctx, Outcome, tag};
use dapgov_inventory::names::PACKAGE_TAG;

pub fn dead_letter_queue_encrypted(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .queues
        .values()
        .map(|q| {
            Outcome::verdict(
                ctx.queue(q),
                q.kms_key
                    .is_none()
                    .then(|| "messages are not encrypted under a KMS key".to_string()),
                format!(
                    "encrypted under {}",
                    q.kms_key.as_deref().unwrap_or_default()
                ),
            )
        })
        .collect()
}

pub fn function_dead_letter_queue(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .functions
        .values()
        .map(|f| {
            let r = ctx.function(f);
            if !ctx.inv.is_readable(&r.address, "dead_letter_queue") {
                return Outcome::not_applicable(
                    r,
                    "the endpoint does not report dead-letter queues",
                );
            }
            let failure = match &f.dead_letter_queue {
                None => Some("failed events are dropped: no dead-letter queue".to_string()),
                // A queue's ARN ends in its name (a planned queue has no ARN yet).
                Some(arn) => (!ctx
                    .inv
                    .queues
                    .values()
                    .any(|q| arn.rsplit(':').next() == Some(q.name.as_str())))
                .then(|| format!("its dead-letter queue {arn} does not exist")),
            };
            Outcome::verdict(
                r,
                failure,
                format!(
                    "failed events go to {}",
                    f.dead_letter_queue.as_deref().unwrap_or_default()
                ),
            )
        })
        .collect()
}

pub fn function_not_publicly_accessible(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .functions
        .values()
        .map(|f| {
            let open: Vec<String> = f
                .permissions
                .iter()
                .flatten()
                .filter(|(_, p)| p.principal == "*" || p.source_arn.is_none())
                .map(|(sid, p)| {
                    format!(
                        "{sid} ({} from {})",
                        p.principal,
                        p.source_arn.as_deref().unwrap_or("anywhere")
                    )
                })
                .collect();
            Outcome::verdict(
                ctx.function(f),
                (!open.is_empty()).then(|| {
                    format!(
                        "may be invoked by anyone or from any source: {}",
                        open.join(", ")
                    )
                }),
                format!(
                    "invoked only by {} permission(s), each from one source",
                    f.permissions.as_ref().map_or(0, |p| p.len())
                ),
            )
        })
        .collect()
}

pub fn function_reserved_concurrency(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .functions
        .values()
        .map(|f| {
            Outcome::verdict(
                ctx.function(f),
                f.reserved_concurrency
                    .is_none_or(|n| n == 0)
                    .then(|| "no reserved concurrency: a burst of deliveries can take the account's whole pool, or none be left for it".to_string()),
                format!("{} concurrent run(s) reserved", f.reserved_concurrency.unwrap_or_default()),
            )
        })
        .collect()
}

pub fn function_logs_retained(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .functions
        .values()
        .map(|f| {
            let r = ctx.function(f);
            if !ctx.inv.is_readable(&r.address, "log_group") {
                return Outcome::not_applicable(
                    r,
                    "the endpoint does not report the function's log group",
                );
            }
            let group = f
                .log_group
                .as_deref()
                .and_then(|g| ctx.inv.log_groups.get(g));
            let failure = match (&f.log_group, group) {
                (None, _) => Some(
                    "writes to Lambda's default log group, kept forever and outside the platform's"
                        .to_string(),
                ),
                (Some(g), None) => Some(format!("its log group {g} does not exist")),
                (Some(g), Some(lg)) => lg
                    .retention_days
                    .is_none()
                    .then(|| format!("its log group {g} has no retention")),
            };
            Outcome::verdict(
                r,
                failure,
                format!(
                    "logs to {} for {} days",
                    f.log_group.as_deref().unwrap_or_default(),
                    group.and_then(|g| g.retention_days).unwrap_or_default()
                ),
            )
        })
        .collect()
}

pub fn function_code_matches_package(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .functions
        .values()
        .map(|f| {
            let r = ctx.function(f);
            let deployed = tag(&f.tags, PACKAGE_TAG);
            let failure = match (deployed, f.code_sha256.as_deref()) {
                (None, _) => Some(format!("no {PACKAGE_TAG} tag: dapgov did not deploy this code")),
                (Some(want), Some(have)) if want == have => None,
                (Some(want), have) => Some(format!(
                    "runs code {} where the package dapgov deployed is {want}: changed outside dapgov",
                    have.unwrap_or("(unknown)")
                )),
            };
            Outcome::verdict(r, failure, format!("runs the deployed package ({})", deployed.unwrap_or_default()))
        })
        .collect()
}
