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
}

pub async fn run(ctx: &Context, cmd: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Kpi { out, from, to, role } = cmd;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(f <= t, "--from {f} is after --to {t}");
    }
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, &role).await?;
    let kpi = dapgov_etl::kpi::gather(&session, from, to, l.spec.kpi.service_level_target, chrono::Utc::now()).await?;
    for p in dapgov_report::kpi::write(&kpi, &out)? {
        println!("Wrote {}", p.display());
    }
    if let Some(f) = &kpi.freshness {
        println!("{} months, {} days from {} to {} ({} missing)", kpi.monthly.len(), f.days_loaded, f.first_day, f.last_day, f.missing_days.len());
    }
    Ok(0)
}
