//! The platform running by itself on the local target: deliveries loaded exactly once however
//! often and however concurrently they are handled, `serve` loading its inboxes and stopping
//! cleanly, schedules that were due while it was stopped.

mod common;

use common::{Platform, city_days};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// The commits of `zone.metrics` that loaded the input with this sha256.
fn loads_of(p: &Platform, zone: &str, sha256: &str) -> usize {
    let history: serde_json::Value = serde_json::from_str(&p.ok(&[
        "etl", "history", "metrics", "--zone", zone, "--format", "json",
    ]))
    .unwrap();
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["load"]["sha256"] == sha256 && c["load"]["operation"].is_null())
        .count()
}

fn sha256_of(p: &Platform, file: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        std::fs::read(p.dir.path().join(file)).unwrap(),
    ))
}

#[test]
fn a_delivery_handled_three_times_then_eight_at_once_is_loaded_once() {
    let p = Platform::new();
    let day = city_days(&p, "day-01.csv", 1, 1, 0);
    p.ok(&["etl", "deliver", &day, "--dataset", "metrics"]);
    let sha = sha256_of(&p, &day);
    let handle = [
        "etl",
        "run",
        "--dataset",
        "metrics",
        "--delivery",
        "metrics/day-01.csv",
    ];
    let first = p.ok(&handle);
    assert!(first.contains("curated is at version 0"), "{first}");
    for _ in 0..2 {
        let again = p.ok(&handle);
        assert!(again.starts_with("No-op"), "{again}");
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            p.command(&handle)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    for zone in ["raw", "curated"] {
        assert_eq!(
            loads_of(&p, zone, &sha),
            1,
            "{zone} took the delivery more than once"
        );
    }
    // N distinct deliveries are N loads.
    for d in 2..=4 {
        let file = city_days(&p, &format!("day-{d:02}.csv"), d, d, 0);
        p.ok(&["etl", "deliver", &file, "--dataset", "metrics"]);
        p.ok(&[
            "etl",
            "run",
            "--dataset",
            "metrics",
            "--delivery",
            &format!("metrics/{file}"),
        ]);
        assert_eq!(loads_of(&p, "curated", &sha256_of(&p, &file)), 1);
    }
    let days = p.ok(&[
        "query",
        "--format",
        "csv",
        "select count(distinct date) as days from curated.metrics",
    ]);
    assert_eq!(days, "days\n4\n");
    p.ok(&["trail", "verify"]);
}

#[test]
fn a_delivery_whose_load_was_killed_after_its_commit_is_loaded_once_on_retry() {
    let p = Platform::new();
    let day = city_days(&p, "day-05.csv", 5, 5, 0);
    p.ok(&["etl", "deliver", &day, "--dataset", "metrics"]);
    let mut child = p
        .command(&[
            "etl",
            "run",
            "--dataset",
            "metrics",
            "--delivery",
            "metrics/day-05.csv",
        ])
        .env("DAPGOV_FAILPOINT", "after-curated-commit")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(lines.any(|l| {
        l.unwrap()
            .contains("failpoint after-curated-commit reached")
    }));
    child.kill().unwrap();
    child.wait().unwrap();
    let retried = p.ok(&[
        "etl",
        "run",
        "--dataset",
        "metrics",
        "--delivery",
        "metrics/day-05.csv",
    ]);
    assert!(retried.contains("not committed again"), "{retried}");
    let sha = sha256_of(&p, &day);
    for zone in ["raw", "curated"] {
        assert_eq!(loads_of(&p, zone, &sha), 1, "{zone}");
    }
    let trusted = p.ok(&[
        "query",
        "--format",
        "csv",
        "select sum(calls_offered) as offered from trusted.metrics_yearly",
    ]);
    let curated = p.ok(&[
        "query",
        "--format",
        "csv",
        "select sum(calls_offered) as offered from curated.metrics",
    ]);
    assert_eq!(trusted, curated, "the retry rebuilt trusted");
}

/// A spec whose `serve` looks at its inboxes every second.
fn quick_serve(p: &Platform) {
    let spec = p.dir.path().join("dapgov.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("{text}\n[automation]\npoll_seconds = 1\n")).unwrap();
}

/// Write `file` into the inbox as a delivery would arrive: under a hidden name, then renamed.
fn drop_into_inbox(p: &Platform, file: &str) {
    let inbox = p.dir.path().join("inbox/metrics");
    std::fs::create_dir_all(&inbox).unwrap();
    let tmp = inbox.join(format!(".{file}.part"));
    std::fs::copy(p.dir.path().join(file), &tmp).unwrap();
    std::fs::rename(&tmp, inbox.join(file)).unwrap();
}

#[test]
fn serve_loads_each_dropped_file_once_and_stops_on_sigterm_without_half_a_load() {
    let p = Platform::new();
    quick_serve(&p);
    let mut serve = p
        .command(&["serve", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let stderr = serve.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut seen = vec![];
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(1)) {
                if line.contains(what) {
                    return line;
                }
                seen.push(line);
            }
        }
        panic!("serve never said {what:?}; it said:\n{}", seen.join("\n"));
    };
    wait_for("Serving van311");
    for d in [10, 11] {
        let file = city_days(&p, &format!("day-{d}.csv"), d, d, 0);
        drop_into_inbox(&p, &file);
        wait_for(&format!("loaded ./inbox/metrics/{file} into metrics"));
    }
    // The same bytes again, under another name: taken, found loaded, not loaded twice.
    std::fs::copy(
        p.dir.path().join("day-10.csv"),
        p.dir.path().join("again-10.csv"),
    )
    .unwrap();
    drop_into_inbox(&p, "again-10.csv");
    wait_for("again-10.csv: already loaded into metrics");
    // SIGTERM while a load is under way: the load finishes, then serve exits.
    let whole = city_days(&p, "month.csv", 1, 30, 1);
    drop_into_inbox(&p, &whole);
    wait_for("landing: storing the input");
    let pid = serve.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for("Stopped");
    assert!(serve.wait().unwrap().success());
    let inbox: Vec<_> = std::fs::read_dir(p.dir.path().join("inbox/metrics"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(inbox.is_empty(), "left in the inbox: {inbox:?}");
    let days = p.ok(&[
        "query",
        "--format",
        "csv",
        "select count(distinct date) as days, sum(calls_offered) as offered from curated.metrics",
    ]);
    let trusted = p.ok(&[
        "query",
        "--format",
        "csv",
        "select sum(calls_offered) as offered from trusted.metrics_yearly",
    ]);
    assert!(days.starts_with("days,offered\n30,"), "{days}");
    assert!(
        days.ends_with(&trusted.lines().nth(1).map(|t| format!(",{t}\n")).unwrap()),
        "{days} {trusted}"
    );
    for (file, loads) in [("day-10.csv", 1), ("day-11.csv", 1), ("month.csv", 1)] {
        assert_eq!(
            loads_of(&p, "curated", &sha256_of(&p, file)),
            loads,
            "{file}"
        );
    }
    p.ok(&["trail", "verify"]);
}

#[test]
fn a_schedule_due_while_serve_was_stopped_runs_once_at_start() {
    let p = Platform::new();
    // First start: schedules start counting; nothing is due.
    let first = p.ok(&["serve", "--once"]);
    assert!(!first.contains("Running"), "{first}");
    let state = p.state().join("schedules.json");
    let mut last: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(last.as_object().unwrap().len(), 4, "{last}");
    // Stopped for three days: the daily sweep was due three times; it runs once.
    let three_days_ago = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    last["landing_sweep"] = three_days_ago.into();
    std::fs::write(&state, serde_json::to_vec(&last).unwrap()).unwrap();
    let day = city_days(&p, "day-20.csv", 20, 20, 0);
    p.ok(&["etl", "deliver", &day, "--dataset", "metrics"]);
    let second = p.ok(&["serve", "--once"]);
    assert_eq!(
        second.matches("Running landing_sweep").count(),
        1,
        "{second}"
    );
    assert!(second.contains("1 loaded"), "{second}");
    let third = p.ok(&["serve", "--once"]);
    assert!(!third.contains("Running"), "{third}");
    // A damaged record is an error naming the file, not a silent reset.
    std::fs::write(&state, "{not json").unwrap();
    p.fails_with(
        &["serve", "--once"],
        1,
        "schedules.json is not a schedule record",
    );
}

/// A metrics delivery of `days` (each with the same usual volume).
fn metrics_days(p: &Platform, name: &str, days: &[chrono::NaiveDate]) -> String {
    let mut text = String::from(
        "Date;CallsOffered;CallsHandled;CallsAbandoned;AverageSpeedofAnswer;ServiceLevel;BI_ID\n",
    );
    for (i, d) in days.iter().enumerate() {
        text.push_str(&format!("{d};1000;950;50;30.5;0.8;{i}\n"));
    }
    std::fs::write(p.dir.path().join(name), text).unwrap();
    name.to_string()
}

#[test]
fn a_day_that_did_not_arrive_fails_the_freshness_check_by_name_until_it_does() {
    let p = Platform::new();
    let spec = p.dir.path().join("dapgov.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen("# fresh_within = \"36h\"", "fresh_within = \"36h\"", 1),
    )
    .unwrap();
    let today = chrono::Utc::now().date_naive();
    let day = |back: i64| today - chrono::Duration::days(back);
    // Three weeks to a week ago, but one day in the middle.
    let gap = day(10);
    let delivered: Vec<_> = (7..=21).rev().map(day).filter(|d| *d != gap).collect();
    let first = metrics_days(&p, "first.csv", &delivered);
    p.ok(&["etl", "run", "--input", &first, "--dataset", "metrics"]);
    p.fails_with(&["audit", "--fail-on", "medium"], 3, "");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("reports/audit.json")).unwrap(),
    )
    .unwrap();
    let fresh: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == "etl_dataset_fresh")
        .collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    let detail = fresh[0]["detail"].as_str().unwrap();
    assert_eq!(fresh[0]["status"], "FAIL", "{detail}");
    assert!(
        detail.contains(&gap.to_string()) && detail.contains(&day(6).to_string()),
        "{detail}"
    );
    // The missing days arrive (the gap and everything up to yesterday): the check passes.
    let rest: Vec<_> = std::iter::once(gap).chain((1..=6).rev().map(day)).collect();
    let second = metrics_days(&p, "second.csv", &rest);
    p.ok(&["etl", "run", "--input", &second, "--dataset", "metrics"]);
    p.ok(&["audit", "--fail-on", "medium"]);
}

#[test]
fn the_function_handles_landing_and_schedule_events_on_the_local_target() {
    let p = Platform::new();
    let day = city_days(&p, "day-15.csv", 15, 15, 0);
    p.ok(&["etl", "deliver", &day, "--dataset", "metrics"]);
    let event = |name: &str, value: serde_json::Value| {
        let path = p.dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let created = |key: &str, size: u64| {
        serde_json::json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "van311-landing-000000000000"},
                       "object": {"key": key, "size": size}, "reason": "PutObject"}})
    };
    let landed = event("landed.json", created("metrics/day-15.csv", 150));
    let invoke = |file: &str| -> serde_json::Value {
        let out = p.ok(&["lambda", "invoke", "--event", file]);
        serde_json::from_str(out.lines().last().unwrap_or_default()).unwrap()
    };
    assert_eq!(invoke(&landed)["status"], "loaded");
    assert_eq!(invoke(&landed)["status"], "already_loaded");
    // A key no dataset is delivered under is acknowledged, not loaded; a file larger than the
    // function can load in its limits is refused with the limit and what to do.
    assert_eq!(
        invoke(&event("stray.json", created("misc/readme.txt", 10)))["status"],
        "ignored"
    );
    let huge = event("huge.json", created("metrics/all-years.csv", 9_000_000_000));
    p.fails_with(
        &["lambda", "invoke", "--event", &huge],
        1,
        "--delivery metrics/all-years.csv",
    );
    // A schedule's event runs its job.
    let sweep = event(
        "sweep.json",
        serde_json::json!({"dapgov_job": "landing_sweep"}),
    );
    let ran = invoke(&sweep);
    assert_eq!(ran["job"], "landing_sweep", "{ran}");
    assert_eq!(loads_of(&p, "curated", &sha256_of(&p, &day)), 1);
    p.fails_with(
        &[
            "lambda",
            "invoke",
            "--event",
            &event("bad.json", serde_json::json!({"source": "aws.ec2"})),
        ],
        1,
        "not an event dapgov handles",
    );
}

#[test]
fn a_day_outside_the_volume_band_warns_or_is_kept_out_of_curated_as_the_spec_says() {
    let p = Platform::new();
    let out = p.ok(&[
        "etl",
        "run",
        "--input",
        common::city_file().to_str().unwrap(),
        "--dataset",
        "metrics",
    ]);
    assert!(
        out.contains("on 9 day(s)") && out.contains("2013-03-08 has no data"),
        "{out}"
    );
    let spec = p.dir.path().join("dapgov.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text.replacen("on_breach = \"warn\"", "on_breach = \"reject\"", 1),
    )
    .unwrap();
    // The Monday after the City's last day, at a tenth of a usual Monday's calls.
    let day = chrono::NaiveDate::from_ymd_opt(2024, 10, 7).unwrap();
    std::fs::write(
        p.dir.path().join("quiet.csv"),
        format!("Date;CallsOffered;CallsHandled;CallsAbandoned;AverageSpeedofAnswer;ServiceLevel;BI_ID\n{day};120;110;10;20.0;0.9;1\n"),
    )
    .unwrap();
    p.fails_with(
        &["etl", "run", "--input", "quiet.csv", "--dataset", "metrics"],
        1,
        "2024-10-07 (Mon) has volume 120",
    );
    let newest = p.ok(&[
        "query",
        "--format",
        "csv",
        "select max(date) as newest from curated.metrics",
    ]);
    assert_eq!(
        newest, "newest\n2024-09-30\n",
        "the rejected day never reached curated"
    );
}
