use crate::ops::Context;
use anyhow::{Context as _, bail};

#[derive(clap::Subcommand)]
pub enum TrailCommand {
    /// Check the hash chain and signed digests; names the first bad record.
    Verify,
    /// Print trail records, optionally filtered.
    Show {
        /// Only records at or after this RFC 3339 time (e.g. 2026-11-28T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only records by this role (e.g. analyst).
        #[arg(long)]
        role: Option<String>,
        /// Only records whose action contains this text (e.g. GetObject).
        #[arg(long)]
        action: Option<String>,
        /// Only denied requests.
        #[arg(long)]
        denied: bool,
    },
}

pub async fn run(ctx: &Context, cmd: TrailCommand) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let Some(local) = l.local else { bail!("the trail commands read the local target's trail") };
    let trail = local.trail();
    match cmd {
        TrailCommand::Verify => match trail.verify() {
            Ok(n) => {
                println!("Trail intact: {n} record(s) verified.");
                Ok(0)
            }
            Err(e) => {
                eprintln!("Trail verification FAILED: {e}");
                Ok(1)
            }
        },
        TrailCommand::Show { since, role, action, denied } => {
            let since = since
                .map(|s| chrono::DateTime::parse_from_rfc3339(&s).with_context(|| format!("--since {s:?} is not an RFC 3339 time")))
                .transpose()?;
            for e in trail.read()? {
                if since.is_some_and(|s| chrono::DateTime::parse_from_rfc3339(&e.time).is_ok_and(|t| t < s)) {
                    continue;
                }
                if role.as_ref().is_some_and(|r| !e.principal.ends_with(&format!("-{r}"))) {
                    continue;
                }
                if action.as_ref().is_some_and(|a| !e.action.contains(a.as_str())) || (denied && e.outcome != "denied") {
                    continue;
                }
                println!("{:>6} {} {:<8} {:<48} {:<28} {}", e.seq, e.time, e.outcome, e.principal, e.action, e.resource);
            }
            Ok(0)
        }
    }
}
