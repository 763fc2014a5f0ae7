//! Ownership tags and the ETL's run record.

use crate::context::{Ctx, Outcome, Resource, tag};
use chrono::{DateTime, Utc};
use dapgov_inventory::{EtlRunSummary, Tags};
use std::collections::BTreeMap;

const REQUIRED_TAGS: [&str; 2] = ["project", "owner"];
/// A platform whose last good load is older than this is not being fed.
const RECENT_RUN_DAYS: i64 = 7;

pub fn required_tags(ctx: &Ctx) -> Vec<Outcome> {
    let mut tagged: Vec<(Resource, &Option<Tags>)> = Vec::new();
    tagged.extend(ctx.inv.buckets.values().map(|b| (ctx.bucket(b), &b.tags)));
    tagged.extend(ctx.inv.keys.iter().map(|(n, k)| (ctx.key(n, k), &k.tags)));
    tagged.extend(ctx.inv.roles.values().map(|r| (ctx.role(r), &r.tags)));
    tagged.extend(ctx.inv.trails.values().map(|t| (ctx.trail(t), &t.tags)));
    tagged.extend(
        ctx.inv
            .log_groups
            .values()
            .map(|g| (ctx.log_group(g), &g.tags)),
    );
    tagged.extend(ctx.inv.topics.values().map(|t| (ctx.topic(t), &t.tags)));
    tagged.extend(
        ctx.inv
            .alarms
            .values()
            .map(|a| (ctx.alarm(&a.name, a.region.as_deref()), &a.tags)),
    );
    tagged.extend(
        ctx.inv
            .athena_workgroups
            .values()
            .map(|w| (ctx.workgroup(w), &w.tags)),
    );
    tagged
        .into_iter()
        .map(|(r, tags)| {
            let missing: Vec<&str> = REQUIRED_TAGS
                .into_iter()
                .filter(|k| tag(tags, k).is_none_or(str::is_empty))
                .collect();
            Outcome::verdict(
                r,
                (!missing.is_empty()).then(|| format!("missing tag(s) {}", missing.join(", "))),
                format!(
                    "tagged project={}, owner={}",
                    tag(tags, "project").unwrap_or_default(),
                    tag(tags, "owner").unwrap_or_default()
                ),
            )
        })
        .collect()
}

fn dataset(ctx: &Ctx, name: &str) -> Resource {
    let curated = ctx
        .inv
        .zone_bucket("curated")
        .map(|b| b.name.clone())
        .unwrap_or_default();
    Resource {
        address: format!("etl_dataset.{name}"),
        arn: dapgov_inventory::names::s3_object_arn(&curated, &format!("_manifests/{name}/")),
        region: ctx.inv.region.clone(),
    }
}

fn latest_by_dataset(
    runs: &[EtlRunSummary],
    succeeded_only: bool,
) -> BTreeMap<&str, &EtlRunSummary> {
    let mut out: BTreeMap<&str, &EtlRunSummary> = BTreeMap::new();
    for r in runs.iter().filter(|r| !succeeded_only || r.succeeded) {
        let newer = out
            .get(r.dataset.as_str())
            .is_none_or(|prev| prev.started_at <= r.started_at);
        if newer {
            out.insert(&r.dataset, r);
        }
    }
    out
}

pub fn latest_run_succeeded(ctx: &Ctx) -> Vec<Outcome> {
    latest_by_dataset(&ctx.inv.etl_runs, false)
        .into_iter()
        .map(|(name, run)| {
            Outcome::verdict(
                dataset(ctx, name),
                (!run.succeeded).then(|| {
                    format!(
                        "the latest run {} ({}) failed; trusted still shows the previous load",
                        run.run_id, run.started_at
                    )
                }),
                format!(
                    "the latest run {} ({}) succeeded",
                    run.run_id, run.started_at
                ),
            )
        })
        .collect()
}

pub fn recent_run_manifest(ctx: &Ctx) -> Vec<Outcome> {
    let datasets: std::collections::BTreeSet<&str> = ctx
        .inv
        .etl_runs
        .iter()
        .map(|r| r.dataset.as_str())
        .collect();
    let good = latest_by_dataset(&ctx.inv.etl_runs, true);
    datasets
        .into_iter()
        .map(|name| {
            let r = dataset(ctx, name);
            let Some(run) = good.get(name) else {
                return Outcome::fail(r, "no run of this dataset has ever succeeded");
            };
            let Ok(at) = DateTime::parse_from_rfc3339(&run.started_at) else {
                return Outcome::fail(
                    r,
                    format!(
                        "run {} has an unreadable start time `{}`",
                        run.run_id, run.started_at
                    ),
                );
            };
            let age = ctx
                .now
                .signed_duration_since(at.with_timezone(&Utc))
                .num_days();
            Outcome::verdict(
                r,
                (age > RECENT_RUN_DAYS)
                    .then(|| format!("the last successful run {} is {age} days old", run.run_id)),
                format!("manifest of run {} written {age} day(s) ago", run.run_id),
            )
        })
        .collect()
}

/// Missing days named in a finding before the rest are counted.
const MISSING_DAYS_LISTED: usize = 10;

pub fn etl_dataset_fresh(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .dataset_freshness
        .iter()
        .map(|(name, f)| {
            let r = dataset(ctx, name);
            if ctx
                .inv
                .unreadable
                .contains(&format!("etl_dataset.{name}:freshness"))
            {
                return Outcome::not_applicable(r, "its curated table could not be read");
            }
            let newest = f.newest_day.as_deref().unwrap_or("none");
            if !f.late() {
                return Outcome::pass(
                    r,
                    format!(
                        "newest day {newest}; due by now (fresh within {}): {}",
                        f.fresh_within, f.due_day
                    ),
                );
            }
            let mut days: Vec<&str> = f
                .missing_days
                .iter()
                .take(MISSING_DAYS_LISTED)
                .map(String::as_str)
                .collect();
            let more = f.missing_days.len().saturating_sub(MISSING_DAYS_LISTED);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            if days.is_empty() {
                days.push(&f.due_day);
            }
            Outcome::fail(
                r,
                format!(
                    "late: newest day {newest}, but days up to {} are due (fresh within {}); missing {}{more}",
                    f.due_day,
                    f.fresh_within,
                    days.join(", ")
                ),
            )
        })
        .collect()
}
