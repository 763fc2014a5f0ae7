use anyhow::Context as _;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum PiiCommand {
    /// Find personal information in a CSV or Excel file, by row, column and entity type.
    /// Values are masked: never printed whole.
    Scan {
        path: PathBuf,
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
}

pub fn run(cmd: PiiCommand) -> anyhow::Result<u8> {
    let PiiCommand::Scan { path, format } = cmd;
    let origin = path.display().to_string();
    let bytes = std::fs::read(&path).with_context(|| format!("reading {origin}"))?;
    let table = dapgov_etl::ingest::read(&bytes, &origin)?;
    let mut findings = vec![];
    let mut totals: std::collections::BTreeMap<&str, u64> = Default::default();
    for (row, values) in table.source_rows.iter().zip(&table.rows) {
        for (col, v) in table.headers.iter().zip(values) {
            let Some(v) = v else { continue };
            for f in dapgov_etl::pii::scan(v) {
                *totals.entry(f.entity.name()).or_default() += 1;
                findings.push(serde_json::json!({
                    "row": row, "column": col, "entity": f.entity.name(),
                    "value": dapgov_etl::pii::masked_for_display(&v[f.start..f.end]),
                }));
            }
        }
    }
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"file": origin, "totals": totals, "findings": findings}))?);
    } else {
        println!("{:>7}  {:<24} {:<32} value", "row", "column", "entity");
        for f in &findings {
            println!("{:>7}  {:<24} {:<32} {}", f["row"], f["column"].as_str().unwrap_or_default(), f["entity"].as_str().unwrap_or_default(), f["value"].as_str().unwrap_or_default());
        }
        println!("\n{} finding(s): {}", findings.len(), totals.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    }
    Ok(0)
}
