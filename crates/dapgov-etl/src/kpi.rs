//! The call centre's KPIs for `dapgov report kpi`, read as a role (the analyst's view): monthly
//! and yearly trends from the trusted tables, the data's freshness (first and last day loaded,
//! the days missing) from curated, the recent loads, and the day-of-week and hour-of-day
//! patterns a staffing planner asks for from the call records when they are loaded.

use crate::EtlError;
use crate::query::rows;
use chrono::{Datelike, NaiveDate};
use dapgov_records::{Freshness, Kpi, Load, Month, Pattern, Year};
use dapgov_target::RoleSession;
use serde::Deserialize;

/// The trusted tables the report reads, as `dapgov init` declares them.
pub const MONTHLY_TABLE: &str = "trusted.metrics_monthly";
pub const YEARLY_TABLE: &str = "trusted.metrics_yearly";

/// The days between the first and the last of `days` (sorted) that are not in it.
pub fn missing_days(days: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut out = vec![];
    for pair in days.windows(2) {
        let mut d = pair[0].succ_opt();
        while let Some(day) = d.filter(|d| *d < pair[1]) {
            out.push(day);
            d = day.succ_opt();
        }
    }
    out
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Deserialize)]
struct Bucketed {
    bucket: i64,
    calls: i64,
    abandoned: i64,
    avg_wait_seconds: Option<f64>,
}

#[derive(Deserialize)]
struct Day {
    date: String,
}

/// The SQL `WHERE` keeping `column`'s days within `[from, to]` (empty when both are open).
fn date_range(column: &str, from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    let mut w = vec![];
    if let Some(f) = from {
        w.push(format!("{column} >= DATE '{f}'"));
    }
    if let Some(t) = to {
        w.push(format!("{column} <= DATE '{t}'"));
    }
    if w.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", w.join(" AND "))
    }
}

/// The KPIs over `[from, to]` (either end open), as `session`'s role reads them.
pub async fn gather(
    session: &RoleSession,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    service_level_target: f64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Kpi, EtlError> {
    for table in [MONTHLY_TABLE, YEARLY_TABLE] {
        if !crate::query::catalog_has(session, table).await? {
            return Err(EtlError::MissingTable {
                table: table.into(),
                remedy: format!(
                    "the KPI report reads {MONTHLY_TABLE} and {YEARLY_TABLE}: declare them in dapgov.toml as `dapgov init` writes them, and load the metrics (`dapgov etl run --dataset metrics`)"
                ),
            });
        }
    }
    let (monthly, yearly) = trends(session, from, to).await?;
    let call_records_loaded = session
        .catalog
        .table(&session.names.glue_database(), "curated_calls")
        .await?
        .is_some();
    let (day_of_week, hour_of_day) = if call_records_loaded {
        patterns(session, &date_range("date", from, to)).await?
    } else {
        (vec![], vec![])
    };
    Ok(Kpi {
        project: session.names.project.clone(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        from: from.map(|d| d.to_string()),
        to: to.map(|d| d.to_string()),
        service_level_target,
        freshness: freshness(session, from, to).await?,
        monthly,
        yearly,
        day_of_week,
        hour_of_day,
        call_records_loaded,
        loads: recent_loads(session).await?,
    })
}

/// The monthly and yearly trends within `[from, to]`, from the trusted tables.
async fn trends(
    session: &RoleSession,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Vec<Month>, Vec<Year>), EtlError> {
    let month_of = |d: NaiveDate| i64::from(d.year()) * 100 + i64::from(d.month());
    let (lo, hi) = (
        from.map(month_of).unwrap_or(0),
        to.map(month_of).unwrap_or(999_999),
    );
    let monthly: Vec<Month> = rows(session, &format!("SELECT * FROM {MONTHLY_TABLE} WHERE year * 100 + month BETWEEN {lo} AND {hi} ORDER BY year, month"))
        .await?;
    let (ylo, yhi) = (lo / 100, hi / 100);
    let yearly: Vec<Year> = rows(
        session,
        &format!("SELECT * FROM {YEARLY_TABLE} WHERE year BETWEEN {ylo} AND {yhi} ORDER BY year"),
    )
    .await?;
    Ok((monthly, yearly))
}

/// The first and last day loaded and the days missing between them, from curated.
async fn freshness(
    session: &RoleSession,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Option<Freshness>, EtlError> {
    let days: Vec<Day> = rows(
        session,
        &format!(
            "SELECT CAST(date AS VARCHAR) AS date FROM curated.metrics {} ORDER BY date",
            date_range("date", from, to)
        ),
    )
    .await?;
    let parsed: Vec<NaiveDate> = days
        .iter()
        .filter_map(|d| NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").ok())
        .collect();
    Ok((!parsed.is_empty()).then(|| Freshness {
        first_day: parsed[0].to_string(),
        last_day: parsed[parsed.len() - 1].to_string(),
        days_loaded: parsed.len(),
        missing_days: missing_days(&parsed)
            .iter()
            .map(NaiveDate::to_string)
            .collect(),
    }))
}

/// Calls by day of the week and by hour of the day, from the call records within `range`.
async fn patterns(
    session: &RoleSession,
    range: &str,
) -> Result<(Vec<Pattern>, Vec<Pattern>), EtlError> {
    let by = |part: &str| {
        format!(
            "SELECT CAST(EXTRACT({part} FROM started_at) AS BIGINT) AS bucket, COUNT(*) AS calls, \
             SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned, AVG(wait_seconds) AS avg_wait_seconds \
             FROM curated.calls {} GROUP BY 1 ORDER BY 1",
            match range {
                "" => "WHERE started_at IS NOT NULL".to_string(),
                w => format!("{w} AND started_at IS NOT NULL"),
            }
        )
    };
    let label = |p: Bucketed, name: String| Pattern {
        label: name,
        calls: p.calls,
        abandoned: p.abandoned,
        avg_wait_seconds: p.avg_wait_seconds,
    };
    let day_of_week = rows::<Bucketed>(session, &by("DOW"))
        .await?
        .into_iter()
        .map(|p| {
            let n = WEEKDAYS.get(p.bucket as usize).unwrap_or(&"?").to_string();
            label(p, n)
        })
        .collect();
    let hour_of_day = rows::<Bucketed>(session, &by("HOUR"))
        .await?
        .into_iter()
        .map(|p| {
            let n = format!("{:02}:00", p.bucket);
            label(p, n)
        })
        .collect();
    Ok((day_of_week, hour_of_day))
}

/// The latest loads of curated.metrics, newest first, with what their run manifests say.
async fn recent_loads(session: &RoleSession) -> Result<Vec<Load>, EtlError> {
    let manifests = crate::recent_manifests(session, "metrics", 50).await?;
    let manifest_of = |run: Option<&str>| manifests.iter().find(|m| run == Some(m.run_id.as_str()));
    Ok(crate::history(session, "curated", "metrics")
        .await?
        .into_iter()
        .rev()
        .take(5)
        .map(|c| {
            let m = manifest_of(c.load.get("run_id").and_then(|v| v.as_str()));
            Load {
                version: c.version,
                time: c.time,
                operation: c.operation,
                rows_added: c.rows_added,
                rows_removed: c.rows_removed,
                input: c
                    .load
                    .get("input")
                    .and_then(|v| v.as_str())
                    .map(String::from),
                quarantined: m.map(|m| m.quarantine_reasons.values().sum()),
                warned: m.map(|m| m.warnings_by_rule.values().sum()),
                trusted: m.map(|m| {
                    m.trusted
                        .iter()
                        .map(|(t, s)| format!("{t}: {s}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_days_are_the_gaps_between_loaded_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let days = [d("2020-02-27"), d("2020-03-01"), d("2020-03-02")];
        assert_eq!(missing_days(&days), [d("2020-02-28"), d("2020-02-29")]);
        assert!(missing_days(&[d("2020-01-01")]).is_empty());
    }
}
