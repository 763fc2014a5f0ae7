use crate::ops::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Months to show, this one included.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=12))]
    pub months: u32,
    /// Group each month's cost by `service` or by the resources' `zone` tag.
    #[arg(long, default_value = "service", value_parser = ["service", "zone"])]
    pub by: String,
    /// `table`, `json` or `html` (written as cost.html, with cost.json beside it, in --out).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "html"])]
    pub format: String,
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let by = if a.by == "zone" {
        dapgov_target::CostGrouping::Zone
    } else {
        dapgov_target::CostGrouping::Service
    };
    let report = l.target.cost(&l.spec.platform.name, a.months, by).await?;
    let budget = l.spec.budget.monthly_usd;
    match a.format.as_str() {
        "json" => println!(
            "{}",
            serde_json::to_string_pretty(&dapgov_report::cost::json(&report, budget))?
        ),
        "html" => {
            for p in dapgov_report::cost::write(&report, budget, &l.spec.platform.name, &a.out)? {
                println!("Wrote {}", p.display());
            }
        }
        _ => print!("{}", dapgov_report::cost::text(&report, budget)),
    }
    Ok(0)
}
