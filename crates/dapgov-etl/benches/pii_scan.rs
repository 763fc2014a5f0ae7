//! PII scanning throughput on one core, for `scripts/bench-etl`, which runs a Python baseline
//! with the same patterns (`dapgov pii patterns`) on the same text.
//!
//! Usage (cargo bench -p dapgov-etl --bench pii_scan -- ...):
//!   corpus OUT NOTES SEED    write the labelled set's notes, one per line
//!   scan FILE                scan every line; print {"bytes", "seconds", "findings"} as JSON

use dapgov_etl::pii::scan;
use dapgov_etl::pii_eval::labelled_set;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["corpus", out, notes, seed] => {
            let text: String = labelled_set(seed.parse()?, notes.parse()?)
                .into_iter()
                .map(|l| l.text + "\n")
                .collect();
            std::fs::write(out, text)?;
        }
        ["scan", file] => {
            let text = std::fs::read_to_string(file)?;
            let started = std::time::Instant::now();
            let findings: usize = text.lines().map(|line| scan(line).len()).sum();
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({"bytes": text.len(), "seconds": seconds, "findings": findings})
            );
        }
        _ => return Err("usage: pii_scan corpus OUT NOTES SEED | scan FILE".into()),
    }
    Ok(())
}
