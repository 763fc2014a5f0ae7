//! The ETL benchmark's job in dapgov's engine: call records (CSV) read with the types the
//! `calls` dataset declares in dapgov.toml, grouped by day into metrics, written as Parquet.
//! `scripts/bench-etl` runs it beside DuckDB and Polars on the same file and SQL.
//!
//! Usage: cargo bench -p dapgov-etl --bench calls_job -- CALLS.csv JOB.sql OUT.parquet

use dapgov_etl::query::{arrow_type, engine_config};
use dapgov_etl::sample::COLUMNS;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::*;

// The allocator the dapgov binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [input, sql, out] = args.as_slice() else {
        return Err("usage: calls_job CALLS.csv JOB.sql OUT.parquet".into());
    };
    let spec = dapgov_spec::Spec::parse(dapgov_spec::INIT_TEMPLATE, "dapgov.toml")?;
    let declared = &spec.datasets["calls"].columns;
    let schema = Schema::new(
        COLUMNS
            .iter()
            .map(|c| {
                Field::new(
                    *c,
                    declared
                        .get(*c)
                        .map(|r| arrow_type(&r.data_type))
                        .unwrap_or(arrow_type("string")),
                    true,
                )
            })
            .collect::<Vec<_>>(),
    );
    let ctx = SessionContext::new_with_config(engine_config());
    ctx.register_csv(
        "calls",
        input,
        CsvReadOptions::new().has_header(true).schema(&schema),
    )
    .await?;
    let started = std::time::Instant::now();
    let df = ctx.sql(&std::fs::read_to_string(sql)?).await?;
    let written = df
        .write_parquet(
            out,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
    let rows: usize = written.iter().map(|b| b.num_rows()).sum();
    eprintln!(
        "{rows} row(s) written in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
