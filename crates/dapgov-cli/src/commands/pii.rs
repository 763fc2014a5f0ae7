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
    /// Print the detector's patterns as JSON, `[[entity, regex], ...]`, in the order they are
    /// tried: what it looks for. A match is then checked (check digits, the name gazetteer,
    /// words nearby) before it counts.
    Patterns,
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
                vec![
                    e.name().to_string(),
                    format!("{:.4}", s.precision()),
                    format!("{:.4}", s.recall()),
                    format!("{lo:.3}–{hi:.3}"),
                    s.true_positives.to_string(),
                    s.false_positives.to_string(),
                    s.false_negatives.to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            dapgov_report::text::table(
                &[
                    "entity",
                    "precision",
                    "recall",
                    "recall 95%",
                    "tp",
                    "fp",
                    "fn"
                ],
                &rows
            )
        );
        println!(
            "{notes} notes (seed {seed}), {:.1} MB scanned in {seconds:.2} s\n",
            *bytes as f64 / 1e6
        );
    }
    Ok(0)
}

pub fn run(cmd: PiiCommand) -> anyhow::Result<u8> {
    let (path, format) = match cmd {
        PiiCommand::Scan { path, format } => (path, format),
        PiiCommand::Eval {
            notes,
            seed,
            corpus,
            format,
        } => return eval(notes, seed, &corpus, &format),
        PiiCommand::Patterns => {
            let list: Vec<(&str, &str)> = dapgov_etl::pii::PATTERNS
                .iter()
                .map(|(e, p)| (e.name(), p.as_str()))
                .collect();
            println!("{}", serde_json::to_string(&list)?);
            return Ok(0);
        }
    };
    let origin = path.display().to_string();
    let scan = dapgov_etl::pii::scan_file(&path)?;
    for w in &scan.warnings {
        eprintln!("warning: {w}");
    }
    if format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"file": origin, "totals": scan.totals, "findings": scan.findings})
            )?
        );
    } else {
        let rows: Vec<Vec<String>> = scan
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.row.to_string(),
                    f.column.clone(),
                    f.entity.to_string(),
                    f.value.clone(),
                ]
            })
            .collect();
        println!(
            "{}",
            dapgov_report::text::table(&["row", "column", "entity", "value"], &rows)
        );
        println!(
            "\n{} finding(s): {}",
            scan.findings.len(),
            scan.totals
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(0)
}
