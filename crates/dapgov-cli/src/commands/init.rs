use crate::ops::Context;
use anyhow::bail;
use dapgov_spec::Target;

#[derive(clap::Args)]
pub struct Args {
    /// Platform name (part of every resource name).
    #[arg(long, default_value = "van311")]
    pub name: String,
    /// Overwrite an existing spec.
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let target = if ctx.target.as_deref() == Some("aws") {
        Target::Aws
    } else {
        Target::Local
    };
    if ctx.config.exists() && !a.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            ctx.config.display()
        );
    }
    let text = dapgov_spec::init_text(&a.name, target).map_err(anyhow::Error::msg)?;
    std::fs::write(&ctx.config, text)?;
    println!(
        "Wrote {} (platform {}, target {}). Next: `dapgov plan`, then `dapgov apply`.",
        ctx.config.display(),
        a.name,
        target.as_str()
    );
    Ok(0)
}
