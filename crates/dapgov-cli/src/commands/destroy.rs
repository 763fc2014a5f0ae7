use crate::ops::{Context, confirm, observe, symbol};
use anyhow::bail;
use dapgov_target::ChangeRequest;

#[derive(clap::Args)]
pub struct Args {
    /// Destroy without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Also delete buckets that still hold objects (their data is lost).
    #[arg(long)]
    pub force_delete_data: bool,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let (observed, _) = observe(&l).await?;
    let mut plan = dapgov_plan::destroy_plan(&observed);
    // Keys already waiting out their deletion window need nothing more.
    plan.changes.retain(|c| {
        !c.before
            .as_ref()
            .is_some_and(|b| b["state"] == "PendingDeletion")
    });
    if plan.is_empty() {
        print!("{}", plan.render_left_alone());
        println!("Nothing to destroy.");
        return Ok(0);
    }
    print!("{}", plan.render());
    println!("Keys are scheduled for deletion after their deletion window, not deleted now.");
    if !confirm("\nDestroy these resources?", a.auto_approve)? {
        println!("Destroy cancelled.");
        return Ok(1);
    }
    let mut refused = vec![];
    for c in &plan.changes {
        let req = ChangeRequest {
            resource: c.resource.clone(),
            action: c.action,
            desired: None,
            observed: c.before.clone(),
            force_delete_data: a.force_delete_data,
        };
        match l.target.apply(&req).await {
            Ok(()) => println!("{} {}", symbol(c.action), c.address),
            Err(e @ dapgov_target::TargetError::Refused { .. }) => refused.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    if !refused.is_empty() {
        bail!("kept resources that hold data:\n  {}", refused.join("\n  "));
    }
    println!("\nDestroy complete.");
    Ok(0)
}
