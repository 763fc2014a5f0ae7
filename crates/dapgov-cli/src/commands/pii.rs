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
    /// Measure detection on labelled notes: precision and recall per type, with the recall's
    /// 95% interval. `generated` uses the sample generator's names and covers every type;
    /// `independent` uses names of 24 locales, Canadian addresses and Unicode e-mails from
    /// sources the generator and the detector never saw (data/pii-eval/).
    Eval {
        #[arg(long, default_value_t = 20_000)]
        notes: usize,
        #[arg(long, default_value_t = 311)]
        seed: u64,
        #[arg(long, value_enum, num_args = 1.., default_values_t = [Corpus::Generated, Corpus::Independent])]
        corpus: Vec<Corpus>,
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Corpus {
    Generated,
    Independent,
}

impl From<Corpus> for dapgov_etl::pii_eval::Corpus {
    fn from(c: Corpus) -> Self {
        match c {
            Corpus::Generated => Self::Generated,
            Corpus::Independent => Self::Independent,
        }
    }
}

fn eval(notes: usize, seed: u64, corpora: &[Corpus], format: &str) -> anyhow::Result<u8> {
    let mut results = vec![];
    for &c in corpora {
        let corpus = dapgov_etl::pii_eval::Corpus::from(c);
        let set = corpus.notes(seed, notes);
        let bytes: usize = set.iter().map(|l| l.text.len()).sum();
        let start = std::time::Instant::now();
        let scores = dapgov_etl::pii_eval::evaluate(&set);
        results.push((corpus, bytes, start.elapsed().as_secs_f64(), scores));
    }
    if format == "json" {
        let out: Vec<_> = results
            .iter()
            .map(|(corpus, bytes, _, scores)| {
                let rows: Vec<_> = scores
                    .iter()
                    .filter(|(_, s)| s.true_positives + s.false_negatives + s.false_positives > 0)
                    .map(|(e, s)| serde_json::json!({"entity": e.name(), "precision": s.precision(), "recall": s.recall(), "recall_95": s.recall_interval(), "counts": s}))
                    .collect();
                serde_json::json!({"corpus": corpus, "notes": notes, "seed": seed, "bytes": bytes, "entities": rows})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    for (corpus, bytes, seconds, scores) in &results {
        println!("{}", corpus.describe());
        let rows: Vec<Vec<String>> = scores
            .iter()
            .filter(|(_, s)| s.true_positives + s.false_negatives + s.false_positives > 0)
            .map(|(e, s)| {
                let (lo, hi) = s.recall_interval();
                vec![e.name().to_string(), format!("{:.4}", s.precision()), format!("{:.4}", s.recall()), format!("{lo:.3}–{hi:.3}"), s.true_positives.to_string(), s.false_positives.to_string(), s.false_negatives.to_string()]
            })
            .collect();
        println!("{}", dapgov_report::text::table(&["entity", "precision", "recall", "recall 95%", "tp", "fp", "fn"], &rows));
        println!("{notes} notes (seed {seed}), {:.1} MB scanned in {seconds:.2} s\n", *bytes as f64 / 1e6);
    }
    Ok(0)
}

pub fn run(cmd: PiiCommand) -> anyhow::Result<u8> {
    let (path, format) = match cmd {
        PiiCommand::Scan { path, format } => (path, format),
        PiiCommand::Eval { notes, seed, corpus, format } => return eval(notes, seed, &corpus, &format),
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
        let rows: Vec<Vec<String>> = findings
            .iter()
            .map(|f| ["row", "column", "entity", "value"].iter().map(|k| f[k].as_str().map(String::from).unwrap_or_else(|| f[k].to_string())).collect())
            .collect();
        println!("{}", dapgov_report::text::table(&["row", "column", "entity", "value"], &rows));
        println!("\n{} finding(s): {}", findings.len(), totals.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    }
    Ok(0)
}
