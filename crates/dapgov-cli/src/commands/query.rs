use crate::ops::Context;
use datafusion::arrow::util::pretty::pretty_format_batches;

#[derive(clap::Args)]
pub struct Args {
    /// SQL over raw.NAME, curated.NAME, trusted.NAME and quarantine.NAME.
    pub sql: String,
    /// Act as this role.
    #[arg(long = "as", default_value = "analyst", value_parser = ["etl", "analyst", "auditor"])]
    pub role: String,
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, &a.role).await?;
    let batches = dapgov_etl::query::sql(&session, &a.sql).await?;
    match a.format.as_str() {
        "csv" => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
        }
        "json" => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
            println!();
        }
        _ => println!("{}", pretty_format_batches(&batches)?),
    }
    Ok(0)
}
