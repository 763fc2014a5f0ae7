"""The ETL benchmark's job in DuckDB and in Polars: the same CSV, the same column types as
the `calls` dataset in dapgov.toml, the same metrics per day, written as Parquet.

Usage: python peers.py duckdb|polars CALLS.csv JOB.sql OUT.parquet
"""

import sys

# The column types of dapgov.toml's `calls` dataset; undeclared columns are text.
TYPES = {"date": "DATE", "started_at": "TIMESTAMP", "wait_seconds": "DOUBLE", "handle_seconds": "DOUBLE"}
COLUMNS = ["call_id", "date", "started_at", "queue", "agent_id", "outcome", "wait_seconds", "handle_seconds",
           "caller_name", "caller_phone", "caller_email", "caller_address", "service_request_id", "notes"]


def duckdb_job(calls, sql, out):
    import duckdb
    con = duckdb.connect()
    types = ", ".join(f"'{c}': '{TYPES.get(c, 'VARCHAR')}'" for c in COLUMNS)
    con.execute(f"CREATE VIEW calls AS SELECT * FROM read_csv('{calls}', header = true, columns = {{{types}}})")
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")


def polars_job(calls, _sql, out):
    import polars as pl
    kinds = {"DATE": pl.Date, "TIMESTAMP": pl.Datetime("us"), "DOUBLE": pl.Float64}
    schema = {c: kinds.get(TYPES.get(c), pl.Utf8) for c in COLUMNS}
    handled = pl.col("outcome") == "handled"
    abandoned = pl.col("outcome") == "abandoned"
    offered = pl.len()
    (pl.scan_csv(calls, schema=schema)
     .group_by("date")
     .agg(calls_offered=offered,
          calls_handled=handled.sum(),
          calls_abandoned=abandoned.sum(),
          call_handling_pct=handled.sum() / offered,
          abandonment_rate=abandoned.sum() / offered,
          service_level=(handled & (pl.col("wait_seconds") <= 60)).sum() / offered,
          average_speed_of_answer=pl.col("wait_seconds").filter(handled).mean(),
          average_handle_seconds=pl.col("handle_seconds").mean())
     .sort("date")
     .sink_parquet(out))


if __name__ == "__main__":
    engine, calls, sql_path, out = sys.argv[1:5]
    sql = open(sql_path).read()
    {"duckdb": duckdb_job, "polars": polars_job}[engine](calls, sql, out)
