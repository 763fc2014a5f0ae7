//! The platform running by itself: the daily jobs and when they run (cron expressions in the
//! platform's time zone, one meaning for `dapgov serve` and for EventBridge Scheduler), the
//! function that loads deliveries on AWS, and what a delivered day is expected to hold.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automation {
    /// The IANA time zone the schedules are written in.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// When each job runs: five-field cron (minute hour day-of-month month day-of-week) in
    /// `time_zone`. A job left out runs only when someone types it.
    #[serde(default = "default_schedules")]
    pub schedules: BTreeMap<Job, String>,
    /// Seconds `dapgov serve` waits between looks at the inboxes and the schedules.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
    /// The function that loads deliveries on AWS.
    #[serde(default)]
    pub function: FunctionSpec,
}

impl Default for Automation {
    fn default() -> Self {
        Self {
            time_zone: default_time_zone(),
            schedules: default_schedules(),
            poll_seconds: default_poll_seconds(),
            function: FunctionSpec::default(),
        }
    }
}

fn default_time_zone() -> String {
    "America/Vancouver".into()
}

fn default_poll_seconds() -> u64 {
    5
}

fn default_schedules() -> BTreeMap<Job, String> {
    BTreeMap::from([
        (Job::LandingSweep, "15 6 * * *".to_string()),
        (Job::Maintain, "0 3 * * SUN".to_string()),
        (Job::Audit, "30 6 * * *".to_string()),
        (Job::KpiReport, "0 7 * * *".to_string()),
    ])
}

/// The platform's daily jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Load every delivery in landing not taken yet (`etl run --from-landing`, each dataset).
    LandingSweep,
    /// Compact and vacuum every dataset's tables (`etl maintain`).
    Maintain,
    /// The Well-Architected audit, its reports written (`audit`).
    Audit,
    /// The call centre's KPI report (`report kpi`).
    KpiReport,
}

impl Job {
    pub const ALL: [Job; 4] = [Job::LandingSweep, Job::Maintain, Job::Audit, Job::KpiReport];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::LandingSweep => "landing_sweep",
            Job::Maintain => "maintain",
            Job::Audit => "audit",
            Job::KpiReport => "kpi_report",
        }
    }

    pub fn parse(s: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    Arm64,
    X86_64,
}

impl Architecture {
    /// Lambda's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// The Rust target a function for it is built for (glibc 2.34: Amazon Linux 2023's).
    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }
}

/// The delivery-loading function on AWS (Lambda's limits: memory 128–10240 MB, timeout up to
/// 900 s, ephemeral storage 512–10240 MB).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// The function's package (`dapgov package lambda` writes `dist/lambda/dapgov-<arch>.zip`),
    /// relative to the spec. With it, on the aws target, the function and what feeds it (the
    /// delivery rule, the schedules, the dead-letter queue, their alarms) are part of the
    /// platform; without it, deliveries are loaded by `serve` or `etl run`.
    #[serde(default)]
    pub package: Option<String>,
    #[serde(default)]
    pub architecture: Architecture,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
    #[serde(default = "default_ephemeral_storage_mb")]
    pub ephemeral_storage_mb: u32,
    /// Loads that may run at once; further deliveries wait (EventBridge retries them).
    #[serde(default = "default_reserved_concurrency")]
    pub reserved_concurrency: u32,
}

impl Default for FunctionSpec {
    fn default() -> Self {
        Self {
            package: None,
            architecture: Architecture::default(),
            memory_mb: default_memory_mb(),
            timeout_seconds: default_timeout_seconds(),
            ephemeral_storage_mb: default_ephemeral_storage_mb(),
            reserved_concurrency: default_reserved_concurrency(),
        }
    }
}

fn default_memory_mb() -> u32 {
    3008
}
fn default_timeout_seconds() -> u32 {
    900
}
fn default_ephemeral_storage_mb() -> u32 {
    4096
}
fn default_reserved_concurrency() -> u32 {
    2
}

/// `etl run`'s measured throughput per vCPU: 1.50 GB of call records in 80 s on 2 vCPUs
/// (docs/benchmarks.md, 9.9 M calls).
pub const MEASURED_BYTES_PER_SECOND_PER_VCPU: f64 = 9.3e6;
/// Lambda gives a function one vCPU per 1,769 MB of memory.
const MB_PER_VCPU: f64 = 1769.0;
/// /tmp kept free beside the delivery's copy.
const TMP_HEADROOM_MB: u64 = 512;

impl FunctionSpec {
    /// The largest delivery the function loads: it must fit its /tmp beside some headroom,
    /// and load in half its timeout at the measured throughput.
    pub fn largest_delivery_bytes(&self) -> u64 {
        let vcpus = (f64::from(self.memory_mb) / MB_PER_VCPU).min(6.0);
        let in_time =
            MEASURED_BYTES_PER_SECOND_PER_VCPU * vcpus * f64::from(self.timeout_seconds) / 2.0;
        let in_tmp =
            u64::from(self.ephemeral_storage_mb).saturating_sub(TMP_HEADROOM_MB) * 1024 * 1024;
        (in_time as u64).min(in_tmp)
    }

    /// Why a delivery of `bytes` is refused, if it is.
    pub fn refuses(&self, key: &str, bytes: u64) -> Option<String> {
        let most = self.largest_delivery_bytes();
        (bytes > most).then(|| {
            let gb = |b: u64| b as f64 / 1e9;
            let vcpus = (f64::from(self.memory_mb) / MB_PER_VCPU).min(6.0);
            format!(
                "{key} is {:.2} GB; the function loads at most {:.2} GB ({} MB of /tmp less {TMP_HEADROOM_MB} MB, and {:.0} s of its {} s at the measured {:.1} MB/s per vCPU on {vcpus:.1} vCPU): load it from a machine with `dapgov etl run --dataset <dataset> --delivery {key}`, or raise [automation.function] ephemeral_storage_mb and memory_mb",
                gb(bytes),
                gb(most),
                self.ephemeral_storage_mb,
                self.timeout_seconds as f64 / 2.0,
                self.timeout_seconds,
                MEASURED_BYTES_PER_SECOND_PER_VCPU / 1e6,
            )
        })
    }
}

/// What a delivered day is expected to hold: its volume (the sum of `column`, else its row
/// count) against the median of the same weekday over the last `baseline_weeks` days that
/// passed (a day outside the band never becomes part of the norm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeRule {
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    #[serde(default = "default_max_ratio")]
    pub max_ratio: f64,
    #[serde(default = "default_baseline_weeks")]
    pub baseline_weeks: usize,
    #[serde(default)]
    pub on_breach: Breach,
}

fn default_min_ratio() -> f64 {
    0.5
}
fn default_max_ratio() -> f64 {
    2.0
}
fn default_baseline_weeks() -> usize {
    8
}

/// What a load outside a rule's band does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// The load goes ahead; the run and the audit say what was outside the band.
    #[default]
    Warn,
    /// The load fails its quality gates: nothing reaches curated.
    Reject,
}

/// A duration as the spec writes it: a whole number and a unit, `90s`, `45m`, `36h`, `2d`.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write a number and a unit, like 36h"))?;
    match unit {
        "s" => Ok(chrono::Duration::seconds(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        _ => Err(format!(
            "{text:?}: unknown unit {unit:?}; use s, m, h or d (like 36h)"
        )),
    }
}

/// A job's schedule: a cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub expression: String,
    pub time_zone: chrono_tz::Tz,
    cron: croner::Cron,
}

impl Schedule {
    pub fn new(expression: &str, time_zone: &str) -> Result<Schedule, String> {
        let time_zone = chrono_tz::Tz::from_str(time_zone).map_err(|_| {
            format!("{time_zone:?} is not an IANA time zone (like America/Vancouver)")
        })?;
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "{expression:?} has {fields} field(s); write five: minute hour day-of-month month day-of-week (like \"15 6 * * *\")"
            ));
        }
        let cron = croner::Cron::new(expression)
            .parse()
            .map_err(|e| format!("{expression:?} is not a cron expression: {e}"))?;
        let schedule = Schedule {
            expression: expression.to_string(),
            time_zone,
            cron,
        };
        schedule.eventbridge_expression()?;
        Ok(schedule)
    }

    /// The newest time the schedule fired in `(after, upto]`, if it did.
    pub fn fired_between(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut newest = None;
        let mut t = after;
        while let Some(next) = self.next_after(t).filter(|n| *n <= upto) {
            newest = Some(next);
            t = next;
        }
        newest
    }

    /// The next time the schedule fires after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&now.with_timezone(&self.time_zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The same schedule as EventBridge Scheduler writes it: `cron(min hour dom month dow
    /// year)`, with `?` for the day field left open and Sunday as 1.
    pub fn eventbridge_expression(&self) -> Result<String, String> {
        let f: Vec<&str> = self.expression.split_whitespace().collect();
        let (dom, dow) = match (f[2], f[4]) {
            (dom, "*") => (dom.to_string(), "?".to_string()),
            ("*", dow) => ("?".to_string(), eventbridge_weekdays(dow)),
            (_, _) => {
                return Err(format!(
                    "{:?} restricts both the day of the month and the day of the week, which EventBridge Scheduler cannot run; restrict one",
                    self.expression
                ));
            }
        };
        Ok(format!("cron({} {} {dom} {} {dow} *)", f[0], f[1], f[3]))
    }
}

/// Cron's weekday numbers (0 or 7 Sunday … 6 Saturday) as EventBridge's (1 Sunday … 7
/// Saturday); names and steps are kept.
fn eventbridge_weekdays(field: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let mut after_step = false;
    let flush = |digits: &mut String, out: &mut String, after_step: bool| {
        if digits.is_empty() {
            return;
        }
        if after_step {
            out.push_str(digits);
        } else {
            let n: u32 = digits.parse().unwrap_or(0);
            out.push_str(&(n % 7 + 1).to_string());
        }
        digits.clear();
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut out, after_step);
        after_step = c == '/';
        out.push(c);
    }
    flush(&mut digits, &mut out, after_step);
    out
}

impl Automation {
    /// Each scheduled job with its parsed schedule.
    pub fn schedules(&self) -> Result<Vec<(Job, Schedule)>, String> {
        self.schedules
            .iter()
            .map(|(job, cron)| Ok((*job, Schedule::new(cron, &self.time_zone)?)))
            .collect()
    }

    /// Every problem, with the key it is under (relative to `[automation]`).
    pub(crate) fn validate(&self) -> Result<(), (Vec<String>, String)> {
        let at = |path: &[&str]| -> Vec<String> {
            std::iter::once("automation")
                .chain(path.iter().copied())
                .map(String::from)
                .collect()
        };
        if chrono_tz::Tz::from_str(&self.time_zone).is_err() {
            return Err((
                at(&["time_zone"]),
                format!(
                    "{:?} is not an IANA time zone (like America/Vancouver)",
                    self.time_zone
                ),
            ));
        }
        for (job, cron) in &self.schedules {
            Schedule::new(cron, &self.time_zone)
                .map_err(|e| (at(&["schedules", job.as_str()]), e))?;
        }
        if self.poll_seconds == 0 {
            return Err((at(&["poll_seconds"]), "must be at least 1".into()));
        }
        let f = &self.function;
        for (key, value, range) in [
            ("memory_mb", f.memory_mb, 128..=10240),
            ("timeout_seconds", f.timeout_seconds, 1..=900),
            ("ephemeral_storage_mb", f.ephemeral_storage_mb, 512..=10240),
            ("reserved_concurrency", f.reserved_concurrency, 1..=1000),
        ] {
            if !range.contains(&value) {
                return Err((
                    at(&["function", key]),
                    format!(
                        "{value} is outside Lambda's range {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl VolumeRule {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(self.min_ratio >= 0.0 && self.min_ratio < 1.0) {
            return Err((
                "min_ratio",
                format!("{} must be at least 0 and below 1", self.min_ratio),
            ));
        }
        if !(self.max_ratio > 1.0 && self.max_ratio.is_finite()) {
            return Err(("max_ratio", format!("{} must be above 1", self.max_ratio)));
        }
        if self.baseline_weeks == 0 {
            return Err(("baseline_weeks", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn schedules_fire_in_the_platforms_time_zone_across_daylight_saving() {
        let s = Schedule::new("15 6 * * *", "America/Vancouver").unwrap();
        // 06:15 PDT is 13:15 UTC in summer; 06:15 PST is 14:15 UTC in winter.
        assert_eq!(
            s.next_after(utc("2026-07-01T00:00:00Z")),
            Some(utc("2026-07-01T13:15:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-12-01T00:00:00Z")),
            Some(utc("2026-12-01T14:15:00Z"))
        );
        // Missed twice while stopped: fired_between names the newest, so it runs once.
        assert_eq!(
            s.fired_between(utc("2026-12-01T00:00:00Z"), utc("2026-12-03T00:00:00Z")),
            Some(utc("2026-12-02T14:15:00Z"))
        );
        assert_eq!(
            s.fired_between(utc("2026-12-02T14:15:00Z"), utc("2026-12-03T00:00:00Z")),
            None
        );
    }

    #[test]
    fn cron_is_written_for_eventbridge_scheduler() {
        let eb = |c: &str| {
            Schedule::new(c, "America/Vancouver")
                .unwrap()
                .eventbridge_expression()
                .unwrap()
        };
        assert_eq!(eb("15 6 * * *"), "cron(15 6 * * ? *)");
        assert_eq!(eb("0 3 * * SUN"), "cron(0 3 ? * SUN *)");
        assert_eq!(eb("0 3 * * 0"), "cron(0 3 ? * 1 *)");
        assert_eq!(eb("0 3 * * 1-5"), "cron(0 3 ? * 2-6 *)");
        assert_eq!(eb("0 */2 1 * *"), "cron(0 */2 1 * ? *)");
        let both = Schedule::new("0 3 1 * 1", "America/Vancouver").unwrap_err();
        assert!(both.contains("restrict one"), "{both}");
    }

    #[test]
    fn the_function_refuses_a_delivery_it_could_not_load_and_says_the_limit() {
        let f = FunctionSpec::default();
        // The default function: 4096 MB of /tmp bounds it before its 900 s do.
        assert_eq!(f.largest_delivery_bytes(), (4096 - 512) * 1024 * 1024);
        assert!(
            f.refuses("calls/all.csv", 1_500_000_000).is_none(),
            "the City's 9.9 M calls fit"
        );
        let why = f.refuses("calls/huge.csv", 5_000_000_000).unwrap();
        assert!(
            why.contains("at most 3.76 GB") && why.contains("--delivery calls/huge.csv"),
            "{why}"
        );
        let small = FunctionSpec {
            memory_mb: 1769,
            timeout_seconds: 60,
            ..FunctionSpec::default()
        };
        assert_eq!(small.largest_delivery_bytes(), 279_000_000);
    }

    #[test]
    fn bad_schedules_and_durations_say_what_to_write() {
        assert!(
            Schedule::new("0 6 * *", "America/Vancouver")
                .unwrap_err()
                .contains("five")
        );
        assert!(Schedule::new("0 25 * * *", "America/Vancouver").is_err());
        assert!(
            Schedule::new("0 6 * * *", "Vancouver")
                .unwrap_err()
                .contains("IANA")
        );
        assert_eq!(parse_duration("36h").unwrap(), chrono::Duration::hours(36));
        assert_eq!(parse_duration("2d").unwrap(), chrono::Duration::days(2));
        assert!(parse_duration("36").unwrap_err().contains("unit"));
        assert!(parse_duration("h").unwrap_err().contains("like 36h"));
    }
}
