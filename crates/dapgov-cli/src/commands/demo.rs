use crate::commands::audit;
use crate::ops::{Context, converge, make_plan};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo platform (created if missing).
    #[arg(long, default_value = "dapgov-demo")]
    pub dir: PathBuf,
}

/// The bundled City of Vancouver metrics file.
const CITY_METRICS: &[u8] = include_bytes!("../../../../data/3-1-1-contact-centre-metrics.csv");
const STEPS: usize = 10;

fn step(n: usize, text: &str) {
    println!("[{n}/{STEPS}] {text}");
}

fn write_manifest(reports: &Path, m: &dapgov_etl::Manifest) -> anyhow::Result<PathBuf> {
    let path = reports.join(format!("manifest-{}.json", m.dataset));
    std::fs::write(&path, serde_json::to_string_pretty(m)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub async fn run(a: Args) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let reports = a.dir.join("reports");
    std::fs::create_dir_all(&reports).with_context(|| format!("creating {}", reports.display()))?;
    let ctx = Context {
        config: a.dir.join("dapgov.toml"),
        target: Some("local".into()),
    };
    if !ctx.config.exists() {
        std::fs::write(
            &ctx.config,
            dapgov_spec::init_text("van311", dapgov_spec::Target::Local)
                .map_err(anyhow::Error::msg)?,
        )?;
        step(1, &format!("wrote the spec {}", ctx.config.display()));
    } else {
        step(1, &format!("using the spec {}", ctx.config.display()));
    }

    let l = ctx.open(true).await?;
    let (plan, _) = make_plan(&l).await?;
    let summary = plan.summary();
    let applied = converge(&l, plan).await?;
    step(
        2,
        &format!(
            "apply: {} to add, {} to change ({applied} change(s) made): buckets, keys, roles, trail, alarms, budget, catalog",
            summary.add, summary.change
        ),
    );

    let metrics_file = a.dir.join("3-1-1-contact-centre-metrics.csv");
    std::fs::write(&metrics_file, CITY_METRICS)?;
    // Call records in two weekly deliveries, as a contact centre sends them.
    let calls_file = a.dir.join("calls.csv");
    let next_week_file = a.dir.join("calls-next-week.csv");
    let days = dapgov_etl::sample::read_metrics(&metrics_file)?;
    let first_week = &days[..days.len().saturating_sub(7)];
    let s = dapgov_etl::sample::write_calls(first_week, 7, 311, &calls_file)?;
    let next = dapgov_etl::sample::write_calls(&days, 7, 312, &next_week_file)?;
    step(
        3,
        &format!(
            "inputs: the City's daily metrics ({} days) and generated call records in two weekly deliveries: {} ({} to {}) and {} ({} to {})",
            days.len(),
            s.records,
            s.first,
            s.last,
            next.records,
            next.first,
            next.last
        ),
    );

    let mut written: Vec<PathBuf> = Vec::new();
    for f in [&metrics_file, &calls_file] {
        let (p, files) = crate::commands::etl::profile(f, &reports)?;
        let gaps: u64 = p
            .columns
            .iter()
            .filter_map(|c| c.date_gaps.as_ref())
            .map(|g| g.missing_days)
            .sum();
        let invalid: u64 = p.columns.iter().map(|c| c.invalid.count).sum();
        let pii: Vec<String> = p.pii.iter().map(|(k, v)| format!("{k} {v}")).collect();
        step(
            4,
            &format!(
                "profile {}: {} rows, {} columns, {invalid} invalid value(s), {gaps} missing day(s){}",
                p.file,
                p.rows,
                p.columns_count,
                if pii.is_empty() {
                    String::new()
                } else {
                    format!(", personal information: {}", pii.join(", "))
                }
            ),
        );
        written.extend(
            files
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "html")),
        );
    }

    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let mut manifests = Vec::new();
    for (file, dataset) in [
        (&metrics_file, "metrics"),
        (&calls_file, "calls"),
        (&next_week_file, "calls"),
    ] {
        // A delivery the dataset's history already holds is not loaded again, so the demo can
        // be run twice (`etl run` itself loads an earlier delivery again, replacing its days).
        let (sha, _) = dapgov_etl::hash_file(file).await?;
        let loaded = match dapgov_etl::history(&session, "curated", dataset).await {
            Ok(commits) => commits
                .iter()
                .any(|c| c.load.get("sha256").and_then(|s| s.as_str()) == Some(sha.as_str())),
            Err(_) => false,
        };
        let m = if loaded {
            None
        } else {
            Some(
                dapgov_etl::run(
                    &session,
                    &l.spec,
                    dapgov_etl::RunOptions {
                        input: file,
                        dataset,
                        force: false,
                        delivered: None,
                        progress: &|_| {},
                    },
                )
                .await?,
            )
        };
        let Some(m) = m.filter(|m| !m.no_op) else {
            step(
                5,
                &format!(
                    "etl {dataset}: {} already loaded, nothing to do",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ),
            );
            let earlier = reports.join(format!("manifest-{dataset}.json"));
            if earlier.is_file() && !manifests.contains(&earlier) {
                manifests.push(earlier);
            }
            continue;
        };
        let c = &m.stages["curated"];
        let pii: Vec<String> = m
            .pii_found
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        step(
            5,
            &format!(
                "etl {dataset} ({}): {} rows → curated {} (quarantined {}){}; trusted: {}",
                m.input.file,
                c.rows_in,
                c.rows_out,
                c.rows_quarantined,
                if pii.is_empty() {
                    String::new()
                } else {
                    format!(", PII protected: {}", pii.join(", "))
                },
                m.trusted
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let manifest = write_manifest(&reports, &m)?;
        if !manifests.contains(&manifest) {
            manifests.push(manifest);
        }
    }
    let loads: Vec<String> = dapgov_etl::history(&session, "curated", "calls")
        .await?
        .iter()
        .map(|c| {
            format!(
                "version {} {} +{} rows",
                c.version,
                c.load.get("input").and_then(|i| i.as_str()).unwrap_or("-"),
                c.rows_added.unwrap_or(0)
            )
        })
        .collect();
    step(
        5,
        &format!(
            "curated.calls keeps both deliveries (dapgov etl history calls): {}",
            loads.join(", ")
        ),
    );

    let analyst = l.target.session(&l.spec.platform.name, "analyst").await?;
    let b = dapgov_etl::query::sql(&analyst, "SELECT year, ROUND(call_handling_pct, 4) AS call_handling_pct, ROUND(service_level, 4) AS service_level FROM trusted.metrics_yearly WHERE year >= 2019 ORDER BY year").await?;
    step(
        6,
        &format!(
            "query as analyst (trusted.metrics_yearly):\n{}",
            dapgov_report::text::answer(&b, dapgov_report::text::AnswerFormat::Table)?.trim_end()
        ),
    );
    match dapgov_etl::query::sql(&analyst, "SELECT * FROM raw.metrics LIMIT 1").await {
        Err(e) => step(7, &format!("the analyst role is refused the raw zone: {e}")),
        Ok(_) => anyhow::bail!(
            "the analyst role read the raw zone; the platform's access control is broken"
        ),
    }

    let args = audit::Args {
        pillar: vec![],
        severity: dapgov_audit::Severity::Informational,
        format: dapgov_report::Format::ALL.to_vec(),
        out: reports.clone(),
        fail_on: crate::commands::audit::FailOn(Some(dapgov_audit::Severity::Low)),
        snapshot: None,
        mutelist: None,
        compare: None,
        // Well-Architected maps every check, so the audit stays whole; FOIPPA is the act the
        // City answers to.
        framework: vec!["well-architected".into(), "foippa".into()],
        accounts: None,
        role_name: None,
        regions: vec![],
        security_hub: false,
    };
    let (result, audit_files) = audit::audit(&ctx, &args).await?;
    let t = &result.summary.totals;
    step(
        8,
        &format!(
            "five-pillar audit: {} checks, {} passed, {} failing, {} not applicable",
            result.checks.len(),
            t.pass,
            t.fail,
            t.not_applicable
        ),
    );

    let kpi = dapgov_etl::kpi::gather(
        &analyst,
        None,
        None,
        l.spec.kpi.service_level_target,
        chrono::Utc::now(),
    )
    .await?;
    let mut kpi_files = dapgov_report::kpi::write(&kpi, &reports)?;
    step(
        9,
        &format!(
            "KPI report for the call centre's managers: {} months, {} years, staffing patterns from {} call records",
            kpi.monthly.len(),
            kpi.yearly.len(),
            kpi.day_of_week.iter().map(|d| d.calls).sum::<i64>()
        ),
    );

    let etl = l.target.session(&l.spec.platform.name, "etl").await?;
    let mut runs = std::collections::BTreeMap::new();
    for dataset in l.spec.datasets.keys() {
        runs.insert(
            dataset.clone(),
            dapgov_etl::recent_manifests(&etl, dataset, 5).await?,
        );
    }
    kpi_files.extend(dapgov_report::docs::write(
        &l.spec,
        &runs,
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        &reports,
    )?);
    step(
        10,
        &format!(
            "data documentation: {} datasets, {} trusted tables, their columns, rules, personal information and loads",
            l.spec.datasets.len(),
            l.spec.trusted.len()
        ),
    );
    kpi_files.extend(crate::commands::report::write_health(&l, &reports).await?);
    // The platform drawn for diagrams.net, the tool the City drew its architecture in.
    let (inventory, _) = crate::ops::observe(&l).await?;
    for (name, drawing) in [
        (
            "architecture.drawio",
            dapgov_report::graph::architecture(
                &inventory,
                dapgov_report::graph::GraphFormat::Drawio,
            )?,
        ),
        (
            "access.drawio",
            dapgov_report::graph::access(
                &dapgov_audit::access::zone_access(&inventory),
                dapgov_report::graph::GraphFormat::Drawio,
            )?,
        ),
    ] {
        std::fs::write(reports.join(name), drawing)?;
        kpi_files.push(reports.join(name));
    }
    let cost = l
        .target
        .cost(&l.spec.platform.name, 1, dapgov_target::CostGrouping::Zone)
        .await?;
    kpi_files.extend(dapgov_report::cost::write(
        &cost,
        l.spec.budget.monthly_usd,
        &l.spec.platform.name,
        &reports,
    )?);

    println!("\nDone in {:.1} s. Open:", started.elapsed().as_secs_f64());
    for p in audit_files
        .iter()
        .chain(&kpi_files)
        .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "drawio"))
        .chain(&written)
        .chain(&manifests)
    {
        println!("  {}", p.display());
    }
    println!("Platform state: {}", ctx.state_dir(&l.spec).display());
    println!(
        "Try: cd {} && dapgov plan && dapgov audit --pillar security && dapgov query \"select * from trusted.daily_consolidated limit 5\" && dapgov trail verify",
        a.dir.display()
    );
    Ok(0)
}
