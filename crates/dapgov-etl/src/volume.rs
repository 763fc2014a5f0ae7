//! Is a delivered day's volume usual? Each day against the median of the same weekday over
//! the rule's last `baseline_weeks` accepted days: a day outside the band is flagged and kept
//! out of later baselines (a bad day never becomes the norm), and a calendar day with no data
//! between the first and the last is flagged missing. Holidays (`holidays`: the City closes,
//! and calls fall to a third) are neither judged nor part of a baseline. A weekday whose last four days were all
//! outside the band in the same direction has changed level: those days become its baseline
//! (flagged still, once), so a lasting change does not flag every day after it.

use chrono::{Datelike, NaiveDate};
use dapgov_spec::automation::VolumeRule;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Consecutive same-direction breaches on a weekday after which its level has changed.
const LEVEL_SHIFT_AFTER: usize = 4;
/// Accepted days a weekday needs before its days are judged.
const MIN_BASELINE: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Flag {
    /// No data for the day.
    Missing,
    Low {
        volume: f64,
        baseline: f64,
    },
    High {
        volume: f64,
        baseline: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedDay {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub flag: Flag,
}

impl std::fmt::Display for FlaggedDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flag {
            Flag::Missing => write!(f, "{} has no data", self.day),
            Flag::Low { volume, baseline } | Flag::High { volume, baseline } => write!(
                f,
                "{} ({}) has volume {volume} against a baseline of {baseline} ({:.2}×)",
                self.day,
                self.day.weekday(),
                volume / baseline
            ),
        }
    }
}

fn median(values: &VecDeque<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = values.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The flagged days of `series` (volume per day) on or after `from`, in order. The whole
/// series is walked so each day's baseline is what the days before it left.
pub fn judge(
    series: &BTreeMap<NaiveDate, f64>,
    rule: &VolumeRule,
    from: NaiveDate,
) -> Vec<FlaggedDay> {
    let (Some(first), Some(last)) = (series.keys().next(), series.keys().next_back()) else {
        return vec![];
    };
    let mut accepted: [VecDeque<f64>; 7] = Default::default();
    // Per weekday, the volumes of the breaches in a row and their direction (true: high).
    let mut breaches: [(Vec<f64>, bool); 7] = Default::default();
    let mut flagged = vec![];
    let mut holidays = BTreeMap::new();
    for day in first.iter_days().take_while(|d| d <= last) {
        let w = day.weekday().num_days_from_monday() as usize;
        let Some(&volume) = series.get(&day) else {
            if day >= from {
                flagged.push(FlaggedDay {
                    day,
                    flag: Flag::Missing,
                });
            }
            continue;
        };
        // A year's holidays computed once for the walk, not once per day.
        if holidays
            .entry(day.year())
            .or_insert_with(|| crate::holidays::of_year(day.year()))
            .contains(&day)
        {
            continue;
        }
        let base = &mut accepted[w];
        let judged = base.len() >= MIN_BASELINE.min(rule.baseline_weeks);
        let baseline = median(base);
        let ratio = if judged && baseline > 0.0 {
            volume / baseline
        } else {
            1.0
        };
        if (rule.min_ratio..=rule.max_ratio).contains(&ratio) {
            base.push_back(volume);
            if base.len() > rule.baseline_weeks {
                base.pop_front();
            }
            breaches[w].0.clear();
            continue;
        }
        let high = ratio > rule.max_ratio;
        if day >= from {
            flagged.push(FlaggedDay {
                day,
                flag: if high {
                    Flag::High { volume, baseline }
                } else {
                    Flag::Low { volume, baseline }
                },
            });
        }
        let run = &mut breaches[w];
        if run.1 != high {
            run.0.clear();
            run.1 = high;
        }
        run.0.push(volume);
        if run.0.len() >= LEVEL_SHIFT_AFTER {
            *base = run.0.drain(..).collect();
        }
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> VolumeRule {
        VolumeRule {
            column: None,
            min_ratio: 0.5,
            max_ratio: 2.0,
            baseline_weeks: 8,
            on_breach: Default::default(),
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_low_day_is_flagged_and_kept_out_of_the_baseline_and_a_gap_is_missing() {
        let start = day("2026-01-05");
        let mut series: BTreeMap<NaiveDate, f64> =
            start.iter_days().take(70).map(|d| (d, 100.0)).collect();
        series.insert(day("2026-02-09"), 10.0); // a Monday at a tenth of its norm
        series.remove(&day("2026-02-20"));
        let flagged = judge(&series, &rule(), start);
        assert_eq!(
            flagged,
            vec![
                FlaggedDay {
                    day: day("2026-02-09"),
                    flag: Flag::Low {
                        volume: 10.0,
                        baseline: 100.0
                    }
                },
                FlaggedDay {
                    day: day("2026-02-20"),
                    flag: Flag::Missing
                },
            ]
        );
        // The flagged Monday did not lower a later Monday's baseline (the 16th, Family Day, is
        // not judged).
        assert!(!flagged.iter().any(|f| f.day == day("2026-02-16")));
        series.insert(day("2026-02-23"), 49.0);
        let next = judge(&series, &rule(), day("2026-02-23"));
        assert!(
            matches!(next[0].flag, Flag::Low { baseline, .. } if baseline == 100.0),
            "{next:?}"
        );
    }

    /// The City's daily calls offered, 2009-06-15 to 2024-09-30, judged at the shipped
    /// defaults (the rule `dapgov init` writes for the metrics dataset).
    #[test]
    fn the_citys_fifteen_years_at_the_shipped_defaults() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/3-1-1-contact-centre-metrics.csv"
        );
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_path(path)
            .unwrap();
        let mut series = BTreeMap::new();
        for r in reader.records() {
            let r = r.unwrap();
            series.insert(
                day(r[0].trim_start_matches('\u{feff}')),
                r[1].parse::<f64>().unwrap(),
            );
        }
        let spec = dapgov_spec::Spec::parse(dapgov_spec::INIT_TEMPLATE, "dapgov.toml").unwrap();
        let shipped = spec.datasets["metrics"].volume.clone().unwrap();
        let flagged = judge(&series, &shipped, *series.keys().next().unwrap());
        let missing: Vec<String> = flagged
            .iter()
            .filter(|f| f.flag == Flag::Missing)
            .map(|f| f.day.to_string())
            .collect();
        assert_eq!(missing, ["2010-03-07", "2013-03-08"]);
        let (low, high) = flagged.iter().fold((0, 0), |(l, h), f| match f.flag {
            Flag::Low { .. } => (l + 1, h),
            Flag::High { .. } => (l, h + 1),
            Flag::Missing => (l, h),
        });
        println!(
            "{} days judged; flagged: {} missing, {low} low, {high} high",
            series.len(),
            missing.len()
        );
        for f in &flagged {
            println!("  {f}");
        }
        // Christmas Eve 2010 and the day after the first missing day; the municipal election
        // days of 2011 and 2014, the windstorm of 29 August 2015, Easter Sunday 2011 and
        // 5 January 2014 (docs/benchmarks.md).
        assert_eq!(
            (low, high),
            (2, 5),
            "update docs/benchmarks.md with the new counts"
        );
    }

    #[test]
    fn a_lasting_change_of_level_is_flagged_once_per_weekday_then_becomes_the_norm() {
        let start = day("2026-01-05");
        let series: BTreeMap<NaiveDate, f64> = start
            .iter_days()
            .take(140)
            .map(|d| (d, if d < day("2026-03-02") { 100.0 } else { 300.0 }))
            .collect();
        let flagged = judge(&series, &rule(), start);
        // Four weeks of each weekday flagged, then the new level is the baseline.
        assert_eq!(flagged.len(), 7 * LEVEL_SHIFT_AFTER, "{flagged:?}");
        assert!(flagged.iter().all(|f| f.day < day("2026-03-30")));
    }
}
