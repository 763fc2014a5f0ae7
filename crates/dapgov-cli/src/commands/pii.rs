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
    /// Measure detection on a generated, labelled set of notes (fictional values placed at
    /// known spans, beside look-alike ids, amounts and dates): precision and recall per type.
    Eval {
        #[arg(long, default_value_t = 20_000)]
        notes: usize,
        #[arg(long, default_value_t = 311)]
        seed: u64,
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
}

fn eval(notes: usize, seed: u64, format: &str) -> anyhow::Result<u8> {
    let set = dapgov_etl::pii_eval::labelled_set(seed, notes);
    let bytes: usize = set.iter().map(|l| l.text.len()).sum();
    let start = std::time::Instant::now();
    let scores = dapgov_etl::pii_eval::evaluate(&set);
    let seconds = start.elapsed().as_secs_f64();
    if format == "json" {
        let rows: Vec<_> = scores
            .iter()
            .map(|(e, s)| serde_json::json!({"entity": e.name(), "precision": s.precision(), "recall": s.recall(), "counts": s}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"notes": notes, "seed": seed, "bytes": bytes, "entities": rows}))?);
        return Ok(0);
    }
    println!("{:<32} {:>9} {:>7} {:>6} {:>6} {:>6}", "entity", "precision", "recall", "tp", "fp", "fn");
    for (e, s) in &scores {
        println!("{:<32} {:>9.4} {:>7.4} {:>6} {:>6} {:>6}", e.name(), s.precision(), s.recall(), s.true_positives, s.false_positives, s.false_negatives);
    }
    println!("\n{notes} notes (seed {seed}), {:.1} MB scanned in {seconds:.2} s", bytes as f64 / 1e6);
    Ok(0)
}

pub fn run(cmd: PiiCommand) -> anyhow::Result<u8> {
    let (path, format) = match cmd {
        PiiCommand::Scan { path, format } => (path, format),
        PiiCommand::Eval { notes, seed, format } => return eval(notes, seed, &format),
    };
    let origin = path.display().to_string();
    let file = std::fs::File::open(&path).with_context(|| format!("reading {origin}"))?;
    // Read record by record: findings are kept, rows are not.
    let mut rows = dapgov_etl::ingest::open(std::io::BufReader::new(file), &origin)?;
    let headers = rows.headers.clone();
    let mut findings = vec![];
    let mut totals: std::collections::BTreeMap<&str, u64> = Default::default();
    for record in &mut rows {
        let record = record?;
        for (col, v) in headers.iter().zip(&record.fields) {
            let Some(v) = v else { continue };
            for f in dapgov_etl::pii::scan(v) {
                *totals.entry(f.entity.name()).or_default() += 1;
                findings.push(serde_json::json!({
                    "row": record.source_row, "column": col, "entity": f.entity.name(),
                    "value": dapgov_etl::pii::masked_for_display(&v[f.start..f.end]),
                }));
            }
        }
    }
    for w in rows.warnings() {
        eprintln!("warning: {w}");
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
