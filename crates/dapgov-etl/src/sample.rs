//! Deterministic call-level records synthesised from the City's daily metrics.
//!
//! The City publishes daily totals only. To exercise the call-level stage (and the
//! `daily_consolidated` trusted table, which reconciles the two), this generates, for each of
//! the last N days of a metrics file, exactly `calls_handled` handled and `calls_abandoned`
//! abandoned calls, with wait times shaped by that day's service level (the share answered
//! within 60 s) and average speed of answer. Counts match the metrics exactly; service level
//! and speed of answer match approximately. A few notes carry synthetic personal information
//! (phone numbers in the 555-01xx range reserved for fiction, `example.org` addresses) so
//! PII handling has something to find. The same input and seed give the same file.

use crate::EtlError;
use crate::ingest::{read, snake_case_names};
use chrono::{NaiveDate, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Columns of the generated file, in order.
pub const COLUMNS: [&str; 14] = [
    "call_id",
    "date",
    "started_at",
    "queue",
    "agent_id",
    "outcome",
    "wait_seconds",
    "handle_seconds",
    "caller_name",
    "caller_phone",
    "caller_email",
    "caller_address",
    "service_request_id",
    "notes",
];

/// Queues and the share of calls each takes.
const QUEUES: [(&str, u32); 6] = [
    ("general", 40),
    ("sanitation", 20),
    ("streets", 15),
    ("parking", 10),
    ("water", 8),
    ("licensing", 7),
];
const AGENTS: u32 = 60;
pub(crate) const FIRST_NAMES: [&str; 16] = [
    "Maria", "James", "Priya", "Wei", "Fatima", "Liam", "Sophia", "Hiroshi", "Amelia", "Omar",
    "Chloe", "Raj", "Grace", "Noah", "Mei", "Lucas",
];
pub(crate) const LAST_NAMES: [&str; 16] = [
    "Gonzalez", "Smith", "Sharma", "Chen", "Khan", "Tremblay", "Nguyen", "Tanaka", "Roy", "Ali",
    "Martin", "Singh", "Lee", "Wilson", "Wong", "Gagnon",
];
const STREETS: [&str; 10] = [
    "Main Street",
    "Fraser Street",
    "Commercial Drive",
    "Kingsway",
    "Victoria Drive",
    "Oak Street",
    "Granville Street",
    "Cambie Street",
    "Knight Street",
    "Nanaimo Street",
];

/// The answer threshold behind the City's service level.
const SERVICE_LEVEL_SECONDS: f64 = 60.0;

pub(crate) const TOPICS: [&str; 10] = [
    "missed garbage pickup",
    "pothole on a residential street",
    "noise complaint",
    "parking enforcement question",
    "water main break reported",
    "street tree needs pruning",
    "business licence renewal",
    "graffiti removal request",
    "recycling cart replacement",
    "snow clearing on a sidewalk",
];

#[derive(Debug, Clone, PartialEq)]
pub struct DayTotals {
    pub date: NaiveDate,
    pub handled: u64,
    pub abandoned: u64,
    pub service_level: f64,
    pub average_speed_of_answer: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub days: usize,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub records: u64,
    pub with_personal_information: u64,
}

/// Read the daily totals from a metrics file (the City's export or one shaped like it).
pub fn read_metrics(path: &Path) -> Result<Vec<DayTotals>, EtlError> {
    let origin = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|e| EtlError::input(&origin, format!("cannot read: {e}")))?;
    let table = read(&bytes, &origin)?;
    let names = snake_case_names(&table.headers);
    let col = |wanted: &[&str]| {
        names.iter().position(|n| wanted.contains(&n.as_str())).ok_or_else(|| {
            EtlError::input(&origin, format!("no column {} (columns are: {}); pass the City's 3-1-1 contact centre metrics export", wanted[0], names.join(", ")))
        })
    };
    let (d, h, a, sl, asa) = (
        col(&["date"])?,
        col(&["calls_handled"])?,
        col(&["calls_abandoned"])?,
        col(&["service_level"])?,
        col(&["average_speed_of_answer", "average_speedof_answer"])?,
    );
    let mut days = Vec::new();
    for (row, source_row) in table.rows.iter().zip(&table.source_rows) {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let bad = |what: &str, value: String| {
            EtlError::input(
                &origin,
                format!("row {source_row}: {what} `{value}` is not a number"),
            )
        };
        let date_text = cell(d);
        let Some(date) = ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(date_text.trim(), f).ok())
        else {
            return Err(EtlError::input(
                &origin,
                format!("row {source_row}: date `{date_text}` is not a date (expected YYYY-MM-DD)"),
            ));
        };
        let num = |i: usize, what: &str| {
            cell(i)
                .trim()
                .parse::<f64>()
                .map_err(|_| bad(what, cell(i)))
        };
        let (handled, abandoned) = (num(h, "calls_handled")?, num(a, "calls_abandoned")?);
        if handled < 0.0 || abandoned < 0.0 {
            return Err(EtlError::input(
                &origin,
                format!("row {source_row}: negative call counts"),
            ));
        }
        days.push(DayTotals {
            date,
            handled: handled as u64,
            abandoned: abandoned as u64,
            service_level: num(sl, "service_level")?.clamp(0.0, 1.0),
            average_speed_of_answer: num(asa, "average_speed_of_answer")?.max(0.0),
        });
    }
    days.sort_by_key(|d| d.date);
    days.dedup_by_key(|d| d.date);
    Ok(days)
}

/// Exponentially distributed with the given mean (inverse CDF; no extra crate needed).
fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.r#gen::<f64>()).ln()
}

fn wait_for_handled(rng: &mut ChaCha8Rng, day: &DayTotals) -> f64 {
    // Answered within the threshold with probability = service level; the mean of the two
    // parts is chosen so the day's average approaches its average speed of answer.
    let sl = day.service_level;
    let quick_mean = (day.average_speed_of_answer * 0.5).clamp(1.0, SERVICE_LEVEL_SECONDS / 2.0);
    if rng.r#gen::<f64>() < sl {
        rng.gen_range(0.0..(2.0 * quick_mean).min(SERVICE_LEVEL_SECONDS))
    } else {
        let tail_mean = if sl < 1.0 {
            ((day.average_speed_of_answer - sl * quick_mean) / (1.0 - sl) - SERVICE_LEVEL_SECONDS)
                .max(5.0)
        } else {
            5.0
        };
        SERVICE_LEVEL_SECONDS + exponential(rng, tail_mean)
    }
}

/// A fictional caller: the phone number is in the 555-01xx range reserved for fiction, the
/// address is a made-up house number, the e-mail is at example.org.
struct Caller {
    name: String,
    phone: String,
    email: String,
    address: String,
}

fn caller(rng: &mut ChaCha8Rng, seq: u64) -> Caller {
    let (first, last) = (
        FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())],
        LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())],
    );
    Caller {
        name: format!("{first} {last}"),
        phone: format!("604-555-01{:02}", rng.gen_range(0..100)),
        email: format!(
            "{}.{}{seq}@example.org",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        address: format!(
            "{} {}",
            rng.gen_range(100..9000),
            STREETS[rng.gen_range(0..STREETS.len())]
        ),
    }
}

/// Notes as agents write them: mostly the topic, sometimes the caller's details in passing.
fn note(rng: &mut ChaCha8Rng, c: &Caller) -> (String, bool) {
    let topic = TOPICS[rng.gen_range(0..TOPICS.len())];
    match rng.gen_range(0..100) {
        0..=1 => (
            format!("{topic}; caller asked for a callback at {}", c.phone),
            true,
        ),
        2 => (format!("{topic}; follow up by e-mail to {}", c.email), true),
        3 => (
            format!(
                "{topic} near {}; caller {} will send photos",
                c.address, c.name
            ),
            true,
        ),
        4..=39 => (topic.to_string(), false),
        _ => (String::new(), false),
    }
}

fn queue(rng: &mut ChaCha8Rng) -> &'static str {
    let total: u32 = QUEUES.iter().map(|(_, w)| w).sum();
    let mut pick = rng.gen_range(0..total);
    for (q, w) in QUEUES {
        if pick < w {
            return q;
        }
        pick -= w;
    }
    QUEUES[0].0
}

/// A day's calls, in the order they started: handled or abandoned (the day's counts,
/// shuffled so the two interleave) and the second of the day each started.
fn day_schedule(rng: &mut ChaCha8Rng, day: &DayTotals) -> Vec<(bool, u32)> {
    let mut outcomes: Vec<bool> = std::iter::repeat_n(true, day.handled as usize)
        .chain(std::iter::repeat_n(false, day.abandoned as usize))
        .collect();
    for i in (1..outcomes.len()).rev() {
        outcomes.swap(i, rng.gen_range(0..=i));
    }
    let mut starts: Vec<u32> = (0..outcomes.len())
        .map(|_| rng.gen_range(7 * 3600..22 * 3600))
        .collect();
    starts.sort_unstable();
    outcomes.into_iter().zip(starts).collect()
}

/// One call's record (the columns in `COLUMNS`' order) and whether its notes hold personal
/// information; `seq` numbers it within its day, `records` counts the calls before it.
fn call_record(
    rng: &mut ChaCha8Rng,
    day: &DayTotals,
    seq: u64,
    handled: bool,
    start: u32,
    records: u64,
) -> ([String; 14], bool) {
    let started_at = day
        .date
        .and_time(NaiveTime::from_num_seconds_from_midnight_opt(start, 0).unwrap_or_default());
    let (wait, handle) = if handled {
        (
            wait_for_handled(rng, day),
            Some(60.0 + exponential(rng, 240.0)),
        )
    } else {
        (exponential(rng, 90.0), None)
    };
    let who = caller(rng, records + 1);
    let (notes, has_pii) = note(rng, &who);
    // About one call in three opens a service request (an 8-digit id that is not PII).
    let request = if handled && rng.gen_range(0..3) == 0 {
        format!("{}", 10_000_000 + records * 7 % 89_999_999)
    } else {
        String::new()
    };
    // Abandoned calls never reach an agent and leave only the number they came from.
    let anonymous = !handled || rng.gen_range(0..4) == 0;
    let record = [
        format!("C{}-{seq:05}", day.date.format("%Y%m%d")),
        day.date.to_string(),
        started_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        queue(rng).to_string(),
        if handled {
            format!("A{:03}", rng.gen_range(1..=AGENTS))
        } else {
            String::new()
        },
        if handled { "handled" } else { "abandoned" }.to_string(),
        format!("{wait:.1}"),
        handle.map(|h| format!("{h:.1}")).unwrap_or_default(),
        if anonymous {
            String::new()
        } else {
            who.name.clone()
        },
        who.phone.clone(),
        if anonymous {
            String::new()
        } else {
            who.email.clone()
        },
        if anonymous {
            String::new()
        } else {
            who.address.clone()
        },
        request,
        notes,
    ];
    (record, has_pii)
}

/// Write call records for the last `days` days of `metrics` to `out` (CSV, UTF-8).
pub fn write_calls(
    metrics: &[DayTotals],
    days: usize,
    seed: u64,
    out: &Path,
) -> Result<Summary, EtlError> {
    let origin = out.display().to_string();
    if days == 0 {
        return Err(EtlError::input(&origin, "--days must be at least 1"));
    }
    if metrics.is_empty() {
        return Err(EtlError::input(
            &origin,
            "the metrics file has no rows to sample from",
        ));
    }
    let chosen = &metrics[metrics.len().saturating_sub(days)..];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = out.with_extension("csv.partial");
    let file = std::fs::File::create(&tmp)
        .map_err(|e| EtlError::input(&tmp.display().to_string(), format!("cannot create: {e}")))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let io = |e: csv::Error| EtlError::input(&origin, format!("cannot write: {e}"));
    w.write_record(COLUMNS).map_err(io)?;
    let (mut records, mut personal) = (0u64, 0u64);
    for day in chosen {
        for (i, (handled, start)) in day_schedule(&mut rng, day).into_iter().enumerate() {
            let (record, has_pii) =
                call_record(&mut rng, day, i as u64 + 1, handled, start, records);
            personal += u64::from(has_pii);
            w.write_record(record).map_err(io)?;
            records += 1;
        }
    }
    w.flush()
        .map_err(|e| EtlError::input(&origin, format!("cannot write: {e}")))?;
    drop(w);
    std::fs::rename(&tmp, out)
        .map_err(|e| EtlError::input(&origin, format!("cannot write: {e}")))?;
    Ok(Summary {
        days: chosen.len(),
        first: chosen[0].date,
        last: chosen[chosen.len() - 1].date,
        records,
        with_personal_information: personal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str, handled: u64, abandoned: u64, sl: f64, asa: f64) -> DayTotals {
        DayTotals {
            date: d.parse().unwrap(),
            handled,
            abandoned,
            service_level: sl,
            average_speed_of_answer: asa,
        }
    }

    fn read(path: &Path) -> Vec<csv::StringRecord> {
        csv::Reader::from_path(path)
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn counts_match_the_metrics_and_the_same_seed_gives_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = vec![
            day("2024-09-28", 10, 2, 0.5, 40.0),
            day("2024-09-29", 900, 60, 0.8, 35.0),
            day("2024-09-30", 1200, 80, 0.7, 50.0),
        ];
        let (a, b, c) = (
            dir.path().join("a.csv"),
            dir.path().join("b.csv"),
            dir.path().join("c.csv"),
        );
        let s = write_calls(&metrics, 2, 7, &a).unwrap();
        write_calls(&metrics, 2, 7, &b).unwrap();
        write_calls(&metrics, 2, 8, &c).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
        assert_eq!(
            (s.days, s.first.to_string(), s.records),
            (2, "2024-09-29".to_string(), 900 + 60 + 1200 + 80)
        );
        let rows = read(&a);
        for (date, handled, abandoned, sl) in
            [("2024-09-29", 900, 60, 0.8), ("2024-09-30", 1200, 80, 0.7)]
        {
            let of_day: Vec<_> = rows.iter().filter(|r| &r[1] == date).collect();
            let h: Vec<f64> = of_day
                .iter()
                .filter(|r| &r[5] == "handled")
                .map(|r| r[6].parse().unwrap())
                .collect();
            assert_eq!(h.len(), handled);
            assert_eq!(
                of_day.iter().filter(|r| &r[5] == "abandoned").count(),
                abandoned
            );
            // Service level (share answered within 60 s) lands near the day's published figure.
            let within = h.iter().filter(|w| **w < 60.0).count() as f64 / h.len() as f64;
            assert!((within - sl).abs() < 0.05, "{date}: {within} vs {sl}");
        }
        let ids: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.get(0).unwrap()).collect();
        assert_eq!(ids.len(), rows.len(), "call ids are unique");
    }

    #[test]
    fn notes_carry_only_fictional_personal_information() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("calls.csv");
        let s = write_calls(&[day("2024-09-30", 3000, 100, 0.7, 50.0)], 1, 1, &out).unwrap();
        assert!(s.with_personal_information > 0);
        for r in read(&out) {
            for n in [&r[9], &r[10], &r[13]] {
                if let Some(i) = n.find("604-555-") {
                    assert!(n[i + 8..].starts_with("01"), "{n}");
                }
                if n.contains('@') {
                    assert!(n.contains("@example.org"), "{n}");
                }
            }
            assert!(r[9].starts_with("604-555-01"));
        }
    }

    #[test]
    fn a_metrics_file_without_the_columns_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "Date;CallsOffered\n2024-01-01;5\n").unwrap();
        let e = read_metrics(&p).unwrap_err().to_string();
        assert!(
            e.contains("no column calls_handled") && e.contains("m.csv"),
            "{e}"
        );
        assert!(write_calls(&[], 3, 1, &dir.path().join("x.csv")).is_err());
    }

    #[test]
    fn the_city_file_reads_with_its_quirks() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/3-1-1-contact-centre-metrics.csv");
        let days = read_metrics(&p).unwrap();
        assert_eq!(days.len(), 5585);
        assert_eq!(days.last().unwrap().date.to_string(), "2024-09-30");
    }
}
