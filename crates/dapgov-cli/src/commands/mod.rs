pub mod apply;
pub mod destroy;
pub mod init;
pub mod inventory;
pub mod plan;
pub mod trail;

use crate::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let ctx = crate::ops::Context { config: cli.config, target: cli.target };
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Plan(a) => plan::run(&ctx, a).await,
        Command::Apply(a) => apply::run(&ctx, a).await,
        Command::Destroy(a) => destroy::run(&ctx, a).await,
        Command::Inventory(a) => inventory::run(&ctx, a).await,
        Command::Trail(a) => trail::run(&ctx, a),
    }
}
