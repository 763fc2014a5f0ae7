use crate::ops::{Context, observe};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Write to a file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let (inv, _) = observe(&l).await?;
    let text = serde_json::to_string_pretty(&inv)? + "\n";
    match a.out {
        Some(p) => {
            std::fs::write(&p, text)?;
            eprintln!("Wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
