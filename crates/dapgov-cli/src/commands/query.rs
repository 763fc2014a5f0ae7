use crate::ops::Context;

#[derive(clap::Args)]
pub struct Args {
    /// SQL over raw.NAME, curated.NAME, trusted.NAME and quarantine.NAME.
    pub sql: String,
    /// Act as this role.
    #[arg(long = "as", default_value = "analyst", value_parser = ["etl", "analyst", "auditor"])]
    pub role: String,
    /// `table`, `csv` (with a header row) or `json` (an array of objects).
    #[arg(long, default_value = "table")]
    pub format: dapgov_report::text::AnswerFormat,
    /// Time travel: read TABLE as it was at VERSION (`curated.calls=3`; versions are listed
    /// by `dapgov etl history`). Repeat for several tables.
    #[arg(long = "as-of", value_name = "TABLE=VERSION", value_parser = parse_as_of)]
    pub as_of: Vec<(String, u64)>,
    /// Where the query runs. On the aws target the default is Athena, in the platform's
    /// workgroup and Glue database as the role (data stays in AWS; the data scanned and its
    /// cost are printed); `local` runs dapgov's own engine here, reading the zones through the
    /// role's credentials. The local target has dapgov's engine only.
    #[arg(long, value_parser = ["athena", "local"])]
    pub engine: Option<String>,
}

fn parse_as_of(s: &str) -> Result<(String, u64), String> {
    let (table, version) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected TABLE=VERSION, e.g. curated.calls=3"))?;
    let version = version.trim().parse().map_err(|_| {
        format!("`{s}`: the version must be a whole number, as `dapgov etl history` lists them")
    })?;
    Ok((table.trim().to_string(), version))
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, &a.role).await?;
    let target_engine = session.sql.as_ref().map(|s| s.engine());
    let engine = a.engine.as_deref().or(target_engine).unwrap_or("local");
    let batches = match engine {
        "local" => dapgov_etl::query::sql_as_of(&session, &a.sql, &a.as_of).await?,
        _ if Some(engine) == target_engine => {
            if !a.as_of.is_empty() {
                anyhow::bail!(
                    "--as-of reads a table's history in dapgov's engine: add --engine local ({engine} does not read Delta tables at a version)"
                );
            }
            let cancel: dapgov_target::Cancel = Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            let (batch, answer) = dapgov_etl::remote_query::sql(&session, &a.sql, cancel).await?;
            if let Some(bytes) = answer.bytes_scanned {
                let tb = bytes as f64 / 1e12;
                eprintln!(
                    "{engine} query {}: {} scanned, about US${:.6} at US${} per TB",
                    answer.query_id,
                    human_bytes(bytes),
                    tb.max(10e6 / 1e12) * dapgov_etl::remote_query::USD_PER_TB_SCANNED,
                    dapgov_etl::remote_query::USD_PER_TB_SCANNED
                );
            }
            vec![batch]
        }
        wanted => anyhow::bail!(
            "--engine {wanted}: this target runs queries in {}",
            target_engine.map_or(
                "dapgov's own engine only (--engine local)".to_string(),
                |e| format!("{e} or dapgov's own engine (--engine local)")
            )
        ),
    };
    print!("{}", dapgov_report::text::answer(&batches, a.format)?);
    Ok(0)
}

fn human_bytes(n: i64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.2} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.2} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.1} kB", n / 1e3),
        n => format!("{n} bytes"),
    }
}
