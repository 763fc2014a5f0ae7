use crate::ops::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for data-docs.md, data-docs.html and data-docs.json.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// How many recent loads to list per dataset.
    #[arg(long, default_value_t = 5)]
    pub loads: usize,
}

/// Data documentation from the spec and the run manifests, read as the ETL role (the one that
/// writes them).
pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let mut manifests = std::collections::BTreeMap::new();
    for dataset in l.spec.datasets.keys() {
        manifests.insert(
            dataset.clone(),
            dapgov_etl::recent_manifests(&session, dataset, a.loads).await?,
        );
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for p in dapgov_report::docs::write(&l.spec, &manifests, &now, &a.out)? {
        println!("Wrote {}", p.display());
    }
    Ok(0)
}
