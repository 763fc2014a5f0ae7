use crate::ops::{Context, confirm, converge, make_plan};

#[derive(clap::Args)]
pub struct Args {
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(true).await?;
    if let Some(local) = &l.local {
        for alias in local.rotate_due_keys()? {
            println!("rotated key {alias}");
        }
    }
    let (plan, _) = make_plan(&l).await?;
    if plan.is_empty() {
        println!("No changes. The platform matches the spec.");
        return Ok(0);
    }
    print!("{}", plan.render());
    if !confirm("\nDo you want to perform these actions?", a.auto_approve)? {
        println!("Apply cancelled.");
        return Ok(1);
    }
    let n = converge(&l, plan).await?;
    println!("\nApply complete: {n} change(s) made.");
    Ok(0)
}
