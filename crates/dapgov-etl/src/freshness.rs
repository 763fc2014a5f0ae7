//! How current each dataset is: the newest day its curated table holds against the day that
//! should have arrived by now (`fresh_within` after a day ends, in the platform's time zone),
//! and the days that are missing.

use crate::EtlError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use dapgov_inventory::DatasetFreshness;
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

/// The missing days of a dataset: the gaps between the days curated holds in the window
/// before its newest (`days`), and the days after the newest up to `due`.
pub fn missing_days(
    days: &BTreeSet<NaiveDate>,
    newest: Option<NaiveDate>,
    due: NaiveDate,
) -> Vec<NaiveDate> {
    let Some(newest) = newest else {
        return vec![due];
    };
    let held: Vec<NaiveDate> = days.iter().copied().collect();
    let mut missing = crate::kpi::missing_days(&held);
    missing.extend(newest.iter_days().skip(1).take_while(|d| *d <= due));
    missing
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
    #[derive(serde::Deserialize)]
    struct Day {
        day: String,
    }
    let table = format!("curated.{dataset}");
    if !crate::query::catalog_has(session, &table).await? {
        return Ok(BTreeSet::new());
    }
    let d = crate::pipeline::sql::ident(date_column);
    let days: Vec<Day> = crate::query::rows(
        session,
        &format!(
            "SELECT DISTINCT CAST({d} AS VARCHAR) AS day FROM {table} WHERE {d} >= (SELECT MAX({d}) FROM {table}) - INTERVAL '{GAP_WINDOW_DAYS} days'"
        ),
    )
    .await?;
    Ok(days
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(&d.day, "%Y-%m-%d").ok())
        .collect())
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
