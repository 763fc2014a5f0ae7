//! The Glue catalog (tables, security configuration) and Athena workgroups.

use crate::context::{Ctx, Outcome};
use dapgov_inventory::{AthenaWorkgroup, GlueDatabase, GlueTable};

fn tables(ctx: &Ctx, f: impl Fn(&GlueDatabase, &GlueTable) -> Outcome) -> Vec<Outcome> {
    ctx.glue_tables().map(|(d, t)| f(d, t)).collect()
}

fn is_quarantine(t: &GlueTable) -> bool {
    t.name.starts_with("quarantine_") || t.location.contains("/quarantine/")
}

pub fn security_configuration_kms(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .glue_security_configurations
        .values()
        .map(|c| {
            let missing: Vec<&str> = [
                ("S3", &c.s3_kms_key),
                ("CloudWatch Logs", &c.cloudwatch_kms_key),
                ("job bookmarks", &c.job_bookmarks_kms_key),
            ]
            .into_iter()
            .filter(|(_, k)| k.is_none())
            .map(|(n, _)| n)
            .collect();
            Outcome::verdict(
                ctx.glue_security_configuration(c),
                (!missing.is_empty())
                    .then(|| format!("no KMS encryption for {}", missing.join(", "))),
                "S3 output, CloudWatch Logs and job bookmarks are KMS-encrypted",
            )
        })
        .collect()
}

pub fn workgroup_encryption(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .athena_workgroups
        .values()
        .map(|w| {
            let r = ctx.workgroup(w);
            match &w.result_kms_key {
                Some(k) => {
                    Outcome::pass(r, format!("query results are SSE-KMS encrypted with {k}"))
                }
                None => Outcome::fail(r, "query results are not encrypted with a customer KMS key"),
            }
        })
        .collect()
}

pub fn results_in_platform_bucket(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .athena_workgroups
        .values()
        .map(|w| {
            let r = ctx.workgroup(w);
            let Some(loc) = &w.result_location else {
                return Outcome::fail(
                    r,
                    "no result location: each client chooses where results go",
                );
            };
            let bucket = loc
                .trim_start_matches("s3://")
                .split('/')
                .next()
                .unwrap_or_default();
            match ctx.inv.buckets.get(bucket) {
                Some(b) if b.zone.as_deref() == Some("athena") => Outcome::pass(
                    r,
                    format!("results go to the platform's results bucket {bucket}"),
                ),
                Some(_) => Outcome::fail(
                    r,
                    format!(
                        "results go to {bucket}, a data-zone bucket rather than the results bucket"
                    ),
                ),
                None => Outcome::fail(
                    r,
                    format!("results go to {bucket}, outside the platform's governed buckets"),
                ),
            }
        })
        .collect()
}

pub fn table_typed(ctx: &Ctx) -> Vec<Outcome> {
    tables(ctx, |d, t| {
        let r = ctx.glue_table(d, t);
        if is_quarantine(t) {
            return Outcome::not_applicable(
                r,
                "quarantine keeps rejected values as received, as text",
            );
        }
        let data: Vec<_> = t
            .columns
            .iter()
            .filter(|c| !c.name.starts_with('_'))
            .collect();
        let typed = data.iter().filter(|c| c.data_type != "string").count();
        Outcome::verdict(
            r,
            (typed == 0 && !data.is_empty()).then(|| {
                format!(
                    "all {} columns are strings: every query parses text",
                    data.len()
                )
            }),
            format!("{typed} of {} columns are typed", data.len()),
        )
    })
}

pub fn table_parquet(ctx: &Ctx) -> Vec<Outcome> {
    tables(ctx, |d, t| {
        let r = ctx.glue_table(d, t);
        if !matches!(ctx.table_zone(t), Some("curated" | "trusted")) || is_quarantine(t) {
            return Outcome::not_applicable(r, "only curated and trusted tables serve analysts");
        }
        let columnar = matches!(
            t.format.as_str(),
            "parquet" | dapgov_inventory::DELTA_FORMAT
        );
        Outcome::verdict(
            r,
            (!columnar).then(|| {
                format!(
                    "stored as {}: queries scan every byte of every column",
                    t.format
                )
            }),
            format!(
                "stored as {} (Parquet: columnar, compressed)",
                if t.format == dapgov_inventory::DELTA_FORMAT {
                    "a Delta Lake table"
                } else {
                    "Parquet"
                }
            ),
        )
    })
}

pub fn table_partitioned(ctx: &Ctx) -> Vec<Outcome> {
    tables(ctx, |d, t| {
        let r = ctx.glue_table(d, t);
        if ctx.table_zone(t) != Some("curated") || is_quarantine(t) {
            return Outcome::not_applicable(
                r,
                "only curated tables grow with every load; trusted tables are aggregates",
            );
        }
        Outcome::verdict(
            r,
            t.partition_keys
                .is_empty()
                .then(|| "not partitioned: every query scans every year".to_string()),
            format!(
                "partitioned by {}",
                t.partition_keys
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// A workgroup setting that must be on.
fn workgroup_flag(
    ctx: &Ctx,
    get: fn(&AthenaWorkgroup) -> Option<bool>,
    on: &'static str,
    off: &'static str,
) -> Vec<Outcome> {
    ctx.inv
        .athena_workgroups
        .values()
        .map(|w| {
            Outcome::verdict(
                ctx.workgroup(w),
                (get(w) != Some(true)).then(|| off.to_string()),
                on,
            )
        })
        .collect()
}

pub fn workgroup_enforced(ctx: &Ctx) -> Vec<Outcome> {
    workgroup_flag(
        ctx,
        |w| w.enforce_configuration,
        "the workgroup's settings are enforced on every query",
        "clients may override the workgroup's result location, encryption and limits",
    )
}

pub fn workgroup_metrics(ctx: &Ctx) -> Vec<Outcome> {
    workgroup_flag(
        ctx,
        |w| w.publish_metrics,
        "query metrics are published to CloudWatch",
        "query metrics are not published to CloudWatch",
    )
}

pub fn bytes_scanned_cutoff(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .athena_workgroups
        .values()
        .map(|w| {
            let r = ctx.workgroup(w);
            match w.bytes_scanned_cutoff {
                Some(b) => Outcome::pass(r, format!("a query stops after scanning {:.1} GiB", b as f64 / (1u64 << 30) as f64)),
                None => Outcome::fail(r, "no per-query bytes-scanned cutoff: one bad query can scan (and bill) everything"),
            }
        })
        .collect()
}
