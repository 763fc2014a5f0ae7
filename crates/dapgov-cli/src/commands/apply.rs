use crate::ops::{Context, audit_planned, confirm, converge, make_plan, report_planned_audit};

#[derive(clap::Args)]
pub struct Args {
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Refuse to apply when a check fails at or above this severity on a resource the plan
    /// creates or changes (the checks run on the platform as the plan would leave it).
    #[arg(long, default_value = "high")]
    pub fail_on: dapgov_audit::Severity,
    /// Accepted findings ([[mute]] entries with check, resource and reason).
    #[arg(long)]
    pub mutelist: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(true).await?;
    if let Some(local) = &l.local {
        for alias in local.rotate_due_keys()? {
            println!("rotated key {alias}");
        }
    }
    let (plan, desired) = make_plan(&l).await?;
    if !plan.conflicts.is_empty() {
        print!("{}", plan.render_conflicts());
        anyhow::bail!(
            "apply refused: {} resource(s) the spec wants are named like ones dapgov does not manage for this platform",
            plan.conflicts.len()
        );
    }
    if plan.is_empty() {
        println!("No changes. The platform matches the spec.");
        return Ok(0);
    }
    print!("{}", plan.render());
    let blockers = audit_planned(&desired, &plan, a.fail_on, a.mutelist.as_deref())?;
    if report_planned_audit(&blockers, a.fail_on, plan.changes.len()) {
        println!("Apply refused.");
        return Ok(crate::commands::audit::EXIT_FINDINGS);
    }
    if !confirm("\nDo you want to perform these actions?", a.auto_approve)? {
        println!("Apply cancelled.");
        return Ok(1);
    }
    let n = converge(&l, plan).await?;
    println!("\nApply complete: {n} change(s) made.");
    Ok(0)
}
