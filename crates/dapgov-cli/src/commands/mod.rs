pub mod apply;
pub mod audit;
pub mod cost;
pub mod demo;
pub mod destroy;
pub mod docs;
pub mod etl;
pub mod graph;
pub mod init;
pub mod inventory;
pub mod lambda;
pub mod package;
pub mod pii;
pub mod plan;
pub mod query;
pub mod report;
pub mod sample;
pub mod serve;
pub mod shell;
pub mod trail;

use crate::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let ctx = crate::ops::Context {
        config: cli.config,
        target: cli.target,
    };
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Demo(a) => demo::run(a).await,
        Command::Plan(a) => plan::run(&ctx, a).await,
        Command::Apply(a) => apply::run(&ctx, a).await,
        Command::Destroy(a) => destroy::run(&ctx, a).await,
        Command::Inventory(a) => inventory::run(&ctx, a).await,
        Command::Audit(a) => audit::run(&ctx, a).await,
        Command::Checks(a) => audit::checks(a),
        Command::Trail(a) => trail::run(&ctx, a).await,
        Command::RotateKey { alias } => {
            let l = ctx.open(false).await?;
            let Some(local) = l.local else {
                anyhow::bail!(
                    "rotate-key works on the local target; on AWS use `aws kms rotate-key-on-demand`"
                )
            };
            let v = local.rotate_key(&alias)?;
            println!("Key {alias} rotated: version {v} now encrypts new data.");
            Ok(0)
        }
        Command::Pii(a) => pii::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Etl(a) => etl::run(&ctx, a).await,
        Command::Query(a) => query::run(&ctx, a).await,
        Command::Graph(a) => graph::run(&ctx, a).await,
        Command::Report(c) => report::run(&ctx, c).await,
        Command::Docs(a) => docs::run(&ctx, a).await,
        Command::Cost(a) => cost::run(&ctx, a).await,
        Command::Serve(a) => serve::run(&ctx, a).await,
        Command::Lambda(c) => lambda::run(&ctx, c).await,
        Command::Package(c) => package::run(&ctx, c).await,
        Command::Completions(a) => shell::completions(a),
        Command::Man(a) => shell::man(a),
    }
}
