use crate::ops::{Context, audit_planned, make_plan, report_planned_audit};

#[derive(clap::Args)]
pub struct Args {
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 2 when there are changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Run the checks on the platform as the plan would leave it, and exit 3 when one fails at
    /// or above --fail-on on a resource the plan creates or changes.
    #[arg(long)]
    pub audit: bool,
    /// With --audit: the severity that refuses the plan.
    #[arg(long, default_value = "high")]
    pub fail_on: dapgov_audit::Severity,
    /// With --audit: accepted findings ([[mute]] entries with check, resource and reason).
    #[arg(long)]
    pub mutelist: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let (plan, desired) = make_plan(&l).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
    } else {
        print!("{}", plan.render());
    }
    if !plan.conflicts.is_empty() {
        eprintln!(
            "error: {} resource(s) the spec wants cannot be made: their names are taken (see above)",
            plan.conflicts.len()
        );
        return Ok(1);
    }
    if a.audit {
        let blockers = audit_planned(&desired, &plan, a.fail_on, a.mutelist.as_deref())?;
        if report_planned_audit(&blockers, a.fail_on, plan.changes.len()) {
            return Ok(crate::commands::audit::EXIT_FINDINGS);
        }
    }
    Ok(if a.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}
