//! How current each dataset is: the newest day its curated table holds against the day that
//! should have arrived by now (`fresh_within` after a day ends, in the platform's time zone),
//! and the days that are missing.

use crate::EtlError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use dapgov_inventory::DatasetFreshness;
use dapgov_inventory::names::Zone;
use dapgov_spec::Spec;
use dapgov_target::RoleSession;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// Days before the newest delivered one searched for gaps.
const GAP_WINDOW_DAYS: i64 = 28;

/// The newest day whose end is `fresh_within` before `now`, in `time_zone`.
pub fn due_day(now: DateTime<Utc>, fresh_within: Duration, time_zone: chrono_tz::Tz) -> NaiveDate {
    // Day d is due once its end (midnight starting d + 1) plus fresh_within has passed.
    let local = (now - fresh_within).with_timezone(&time_zone);
    local.date_naive() - Duration::days(1)
}

/// The missing days of a dataset: after `newest` up to `due`, and gaps between `newest` minus
/// the window and `newest` (`days` holds what curated has in that window).
pub fn missing_days(
    days: &BTreeSet<NaiveDate>,
    newest: Option<NaiveDate>,
    due: NaiveDate,
) -> Vec<NaiveDate> {
    let Some(newest) = newest else {
        return vec![due];
    };
    let start = newest - Duration::days(GAP_WINDOW_DAYS);
    let start = days.iter().copied().find(|d| *d >= start).unwrap_or(newest);
    start
        .iter_days()
        .take_while(|d| *d <= due)
        .filter(|d| !days.contains(d))
        .collect()
}

/// Each dataset that declares `fresh_within`, read from its curated table as the session's
/// role.
pub async fn assess(
    session: &RoleSession,
    spec: &Spec,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, DatasetFreshness>, EtlError> {
    let tz = chrono_tz::Tz::from_str(&spec.automation.time_zone).map_err(|_| {
        EtlError::Engine(format!("unknown time zone {}", spec.automation.time_zone))
    })?;
    let mut out = BTreeMap::new();
    for (name, ds) in &spec.datasets {
        let (Some(fresh), Some(dc)) = (&ds.fresh_within, &ds.date_column) else {
            continue;
        };
        let within = dapgov_spec::automation::parse_duration(fresh).map_err(EtlError::Engine)?;
        let due = due_day(now, within, tz);
        let days = recent_days(session, name, dc).await?;
        let newest = days.iter().next_back().copied();
        out.insert(
            name.clone(),
            DatasetFreshness {
                fresh_within: fresh.clone(),
                newest_day: newest.map(|d| d.to_string()),
                due_day: due.to_string(),
                missing_days: missing_days(&days, newest, due)
                    .iter()
                    .map(NaiveDate::to_string)
                    .collect(),
            },
        );
    }
    Ok(out)
}

/// The days curated holds in the window before its newest day.
async fn recent_days(
    session: &RoleSession,
    dataset: &str,
    date_column: &str,
) -> Result<BTreeSet<NaiveDate>, EtlError> {
    let table = crate::delta::open(
        crate::pipeline::storage::zone(session, Zone::Curated)?,
        dataset,
    )
    .await?;
    if table.version().is_none() {
        return Ok(BTreeSet::new());
    }
    let ctx = crate::query::context(session)?;
    ctx.register_table("t", crate::delta::provider(table, None).await?)?;
    let d = crate::pipeline::sql::ident(date_column);
    let sql = format!(
        "SELECT DISTINCT CAST({d} AS VARCHAR) AS day FROM t WHERE {d} >= (SELECT MAX({d}) FROM t) - INTERVAL '{GAP_WINDOW_DAYS} days'"
    );
    let mut out = BTreeSet::new();
    for b in ctx.sql(&sql).await?.collect().await? {
        let col = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(datafusion::error::DataFusionError::from)?;
        use datafusion::arrow::array::AsArray;
        for v in col.as_string::<i32>().iter().flatten() {
            if let Ok(day) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                out.insert(day);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_day_is_due_its_allowance_after_it_ends_in_the_platforms_time_zone() {
        let tz = chrono_tz::America::Vancouver;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 09:00 in Vancouver on the 6th: the 4th ended at midnight on the 5th and is due at
        // noon on the 6th, so the 3rd is the newest day due.
        assert_eq!(
            due_day(at("2026-12-06T17:00:00Z"), Duration::hours(36), tz),
            day("2026-12-03")
        );
        // At 13:00 Vancouver the 4th is due.
        assert_eq!(
            due_day(at("2026-12-06T21:00:00Z"), Duration::hours(36), tz),
            day("2026-12-04")
        );
    }

    #[test]
    fn missing_days_are_gaps_and_days_after_the_newest() {
        let days: BTreeSet<NaiveDate> = ["2026-11-28", "2026-11-29", "2026-12-01"]
            .iter()
            .map(|d| day(d))
            .collect();
        let missing = missing_days(&days, days.iter().next_back().copied(), day("2026-12-03"));
        assert_eq!(
            missing,
            vec![day("2026-11-30"), day("2026-12-02"), day("2026-12-03")]
        );
        assert_eq!(
            missing_days(&BTreeSet::new(), None, day("2026-12-03")),
            vec![day("2026-12-03")]
        );
    }
}
