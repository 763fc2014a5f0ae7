use crate::ops::{Context, converge, make_plan};
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo platform (created if missing).
    #[arg(long, default_value = "dapgov-demo")]
    pub dir: PathBuf,
}

/// The bundled City of Vancouver metrics file.
const CITY_METRICS: &[u8] = include_bytes!("../../../../data/3-1-1-contact-centre-metrics.csv");

pub async fn run(a: Args) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let ctx = Context { config: a.dir.join("dapgov.toml"), target: Some("local".into()) };
    if !ctx.config.exists() {
        std::fs::write(&ctx.config, dapgov_spec::init_text("van311", dapgov_spec::Target::Local).map_err(anyhow::Error::msg)?)?;
        println!("[1/4] wrote {}", ctx.config.display());
    } else {
        println!("[1/4] using {}", ctx.config.display());
    }
    let l = ctx.open(true)?;
    let (plan, _) = make_plan(&l).await?;
    let summary = plan.summary();
    let applied = converge(&l, plan).await?;
    println!("[2/4] apply: {} to add, {} to change ({applied} change(s) made)", summary.add, summary.change);
    let input = a.dir.join("3-1-1-contact-centre-metrics.csv");
    std::fs::write(&input, CITY_METRICS)?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let m = dapgov_etl::run(&session, &l.spec, dapgov_etl::RunOptions { input: &input, dataset: "metrics", force: false, progress: &|_| {} }).await?;
    if m.no_op {
        println!("[3/4] etl: input already loaded (run {}), nothing to do", m.run_id);
    } else {
        let c = &m.stages["curated"];
        println!("[3/4] etl: {} rows → curated {} (quarantined {}), trusted: {}", c.rows_in, c.rows_out, c.rows_quarantined,
            m.trusted.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    }
    let analyst = l.target.session(&l.spec.platform.name, "analyst").await?;
    let db = dapgov_spec::Names::new(&l.spec, &l.target.account_id().await?).glue_database();
    let b = dapgov_etl::query::sql(&analyst, &db, "SELECT year, ROUND(call_handling_pct, 4) AS call_handling_pct, ROUND(service_level, 4) AS service_level FROM trusted.metrics_yearly WHERE year >= 2019 ORDER BY year").await?;
    println!("[4/4] query as analyst (trusted.metrics_yearly):\n{}", datafusion::arrow::util::pretty::pretty_format_batches(&b)?);
    let refused = dapgov_etl::query::sql(&analyst, &db, "SELECT * FROM raw.metrics LIMIT 1").await;
    if let Err(e) = refused {
        println!("The analyst role is refused the raw zone: {e}");
    }
    println!("\nPlatform state: {}\nTry: cd {} && dapgov plan && dapgov query \"select * from trusted.metrics_monthly limit 5\" && dapgov trail verify", ctx.state_dir(&l.spec).display(), a.dir.display());
    Ok(0)
}
