use crate::ops::Context;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// The call centre's KPIs as charts with their tables (kpi.html) and numbers (kpi.json):
    /// calls offered, handled and abandoned, Call Handling Percentage, service level against
    /// the spec's target, abandonment and speed of answer by month and year, the data's
    /// freshness and missing days, and day-of-week and hour-of-day patterns from call records.
    Kpi {
        /// Directory for kpi.html and kpi.json.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// First day to include (YYYY-MM-DD); months are included whole.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day to include (YYYY-MM-DD).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// Read as this role (the analyst's view by default).
        #[arg(long = "as", default_value = "analyst", value_parser = ["etl", "analyst"])]
        role: String,
    },
    /// On the local target, the operations dashboard's panels (ETL runs failed, rows
    /// quarantined, personal information found, run durations, alarms, the cost estimate)
    /// drawn from the metrics the platform recorded, as health.html (its numbers in
    /// health.json). On AWS, open the CloudWatch dashboard `<name>-operations` that apply makes.
    Health {
        /// Directory for health.html and health.json.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
}

pub async fn run(ctx: &Context, cmd: ReportCommand) -> anyhow::Result<u8> {
    let (out, from, to, role) = match cmd {
        ReportCommand::Kpi {
            out,
            from,
            to,
            role,
        } => (out, from, to, role),
        ReportCommand::Health { out } => return health(ctx, &out).await,
    };
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f <= t, "--from {f} is after --to {t}");
    }
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, &role).await?;
    let kpi = dapgov_etl::kpi::gather(
        &session,
        from,
        to,
        l.spec.kpi.service_level_target,
        chrono::Utc::now(),
    )
    .await?;
    for p in dapgov_report::kpi::write(&kpi, &out)? {
        println!("Wrote {}", p.display());
    }
    if let Some(f) = &kpi.freshness {
        println!(
            "{} months, {} days from {} to {} ({} missing)",
            kpi.monthly.len(),
            f.days_loaded,
            f.first_day,
            f.last_day,
            f.missing_days.len()
        );
    }
    Ok(0)
}

async fn health(ctx: &Context, out: &std::path::Path) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    for p in write_health(&l, out).await? {
        println!("Wrote {}", p.display());
    }
    Ok(0)
}

/// `health.html` and `health.json` for the local platform `l`: its dashboard's panels from its
/// recorded metrics.
pub async fn write_health(
    l: &crate::ops::Loaded,
    out: &std::path::Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let Some(local) = &l.local else {
        anyhow::bail!(
            "`report health` draws the local target's metrics; on AWS open the operations dashboard in CloudWatch that `dapgov apply` made"
        );
    };
    let (inventory, _) = crate::ops::observe(l).await?;
    let samples: Vec<dapgov_report::health::Sample> = local
        .metric_data()
        .into_iter()
        .map(|(namespace, time, d)| dapgov_report::health::Sample {
            namespace,
            time,
            name: d.name,
            dimensions: d.dimensions,
            value: d.value,
        })
        .collect();
    let estimate = inventory
        .budgets
        .values()
        .filter_map(|b| b.actual_usd)
        .next()
        .unwrap_or(0.0);
    Ok(dapgov_report::health::write(
        &inventory, &samples, estimate, out,
    )?)
}
