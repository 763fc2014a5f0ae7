//! The demo a newcomer runs first: one command builds the platform, loads the City's data,
//! audits and reports, and a second run changes nothing.

mod common;

use common::dapgov;

#[test]
fn demo_builds_loads_audits_and_reports_then_reruns_as_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = || {
        dapgov()
            .args(["demo", "--dir", demo.to_str().unwrap()])
            .env_remove("DAPGOV_ROOT_SECRET")
            .output()
            .unwrap()
    };
    let o = run();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("[8/10] five-pillar audit: 98 checks") && out.contains(", 0 failing,"),
        "{out}"
    );
    assert!(out.contains("trusted: daily_consolidated written"), "{out}");
    assert!(
        out.contains(
            "curated.calls keeps both deliveries (dapgov etl history calls): version 0 calls.csv +"
        ) && out.contains(", version 1 calls-next-week.csv +"),
        "{out}"
    );
    for f in [
        "audit.html",
        "audit.json",
        "audit.csv",
        "audit.sarif",
        "profile-3-1-1-contact-centre-metrics.html",
        "profile-calls.json",
        "manifest-metrics.json",
        "manifest-calls.json",
        "kpi.html",
        "kpi.json",
        "data-docs.md",
        "data-docs.html",
        "data-docs.json",
        "health.html",
        "health.json",
        "cost.html",
        "cost.json",
        "architecture.drawio",
        "access.drawio",
        "compliance-foippa.csv",
        "compliance-well-architected.csv",
    ] {
        assert!(
            demo.join("reports").join(f).is_file(),
            "reports/{f} missing\n{out}"
        );
    }
    // Every page works offline: nothing it shows is fetched (links to documentation are only links).
    for entry in std::fs::read_dir(demo.join("reports")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "html" && e != "svg") {
            continue;
        }
        let page = std::fs::read_to_string(&path)
            .unwrap()
            .to_lowercase()
            .replace('\'', "\"");
        for fetch in [
            "src=\"http",
            "src=\"//",
            "<link",
            "url(http",
            "url(\"http",
            "url(//",
            "@import",
            "<iframe",
        ] {
            assert!(
                !page.contains(fetch),
                "{} fetches from the network ({fetch})",
                path.display()
            );
        }
    }
    assert!(out.contains("[9/10] KPI report for the call centre's managers: 184 months, 16 years, staffing patterns from"), "{out}");
    for announced in [
        "reports/audit.html",
        "reports/kpi.html",
        "reports/data-docs.html",
        "reports/profile-calls.html",
        "reports/manifest-calls.json",
    ] {
        assert!(out.contains(announced), "{announced} not announced\n{out}");
    }
    // Each run's manifest says where its time went, stage by stage, in the order they ran.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo.join("reports/manifest-calls.json")).unwrap(),
    )
    .unwrap();
    let stages: Vec<&str> = manifest["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages.first(),
        Some(&"landing: storing the input"),
        "{stages:?}"
    );
    for later in [
        "raw: typing and lineage",
        "curated: counting PII",
        "publishing",
        "trusted: consolidating and reconciling",
    ] {
        assert!(stages.contains(&later), "{later} missing from {stages:?}");
    }
    assert!(
        manifest["timings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["cpu_seconds"].as_f64().is_some_and(|c| c >= 0.0)),
        "Linux reports CPU time: {}",
        manifest["timings"]
    );
    let wall: f64 = manifest["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["wall_seconds"].as_f64().unwrap())
        .sum();
    assert!(
        wall > 0.0 && wall * 1000.0 <= manifest["duration_ms"].as_f64().unwrap() + 1.0,
        "{wall} s of stages in a run of {} ms",
        manifest["duration_ms"]
    );
    let profile: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(demo.join("reports/profile-3-1-1-contact-centre-metrics.json"))
            .unwrap(),
    )
    .unwrap();
    let date = profile["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "date")
        .unwrap();
    assert_eq!(
        date["date_gaps"]["missing"],
        serde_json::json!(["2010-03-07", "2013-03-08"])
    );
    let o = run();
    let again = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        again.contains("0 to add, 0 to change") && again.matches("nothing to do").count() == 3,
        "{again}"
    );
}
