use crate::ops::{Context, make_plan};

#[derive(clap::Args)]
pub struct Args {
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let (plan, _) = make_plan(&l).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
    } else {
        print!("{}", plan.render());
    }
    Ok(if a.detailed_exitcode && !plan.is_empty() { 2 } else { 0 })
}
