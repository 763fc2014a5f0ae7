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
    /// Time travel: read TABLE as it was at VERSION (`curated.calls=3`; versions are listed
    /// by `dapgov etl history`). Repeat for several tables.
    #[arg(long = "as-of", value_name = "TABLE=VERSION", value_parser = parse_as_of)]
    pub as_of: Vec<(String, u64)>,
}

fn parse_as_of(s: &str) -> Result<(String, u64), String> {
    let (table, version) = s.split_once('=').ok_or_else(|| format!("`{s}`: expected TABLE=VERSION, e.g. curated.calls=3"))?;
    let version = version.trim().parse().map_err(|_| format!("`{s}`: the version must be a whole number, as `dapgov etl history` lists them"))?;
    Ok((table.trim().to_string(), version))
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, &a.role).await?;
    let batches = dapgov_etl::query::sql_as_of(&session, &a.sql, &a.as_of).await?;
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
