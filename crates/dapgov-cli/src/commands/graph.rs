use crate::ops::{Context, make_plan, observe};

#[derive(clap::Args)]
pub struct Args {
    /// `architecture` (buckets, keys, trail, catalog, workgroup), `access` (which role may
    /// list, read and write which zone, evaluated from the policies) or `lineage` (landing →
    /// raw → curated → trusted per dataset).
    #[arg(long, default_value = "architecture", value_parser = ["architecture", "access", "lineage"])]
    pub view: String,
    /// `mermaid` (renders in GitHub, GitLab and most wikis), `dot` (Graphviz), `drawio` (a
    /// diagrams.net file) or `svg` (laid out by Graphviz's `dot`, which must be installed).
    #[arg(long, default_value = "mermaid")]
    pub format: dapgov_report::graph::GraphFormat,
    /// Draw the platform as the spec describes it (before apply) instead of as it is.
    #[arg(long)]
    pub desired: bool,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    use dapgov_report::graph;
    if a.view == "lineage" {
        let spec = ctx.spec()?;
        let datasets: Vec<String> = spec.datasets.keys().cloned().collect();
        let trusted: Vec<(String, Vec<String>)> = spec
            .trusted
            .iter()
            .map(|t| (t.name.clone(), t.inputs.clone()))
            .collect();
        print!("{}", graph::lineage(&datasets, &trusted, a.format)?);
        return Ok(0);
    }
    let l = ctx.open(false).await?;
    let inventory = if a.desired {
        make_plan(&l).await?.1
    } else {
        observe(&l).await?.0
    };
    match a.view.as_str() {
        "access" => print!(
            "{}",
            graph::access(&dapgov_audit::access::zone_access(&inventory), a.format)?
        ),
        _ => print!("{}", graph::architecture(&inventory, a.format)?),
    }
    Ok(0)
}
