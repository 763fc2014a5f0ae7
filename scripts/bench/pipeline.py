"""The load `dapgov etl run --dataset calls` does, written in DuckDB and in Polars: the same
stages on the same file, as a data engineer would write them with each tool.

1. landing: the input copied in 8 MiB blocks, its SHA-256 computed on the way;
2. raw: every column trimmed (empty is null), the declared types (date with the dataset's
   formats, timestamp, double), lineage (source row, file, SHA-256, load time); a row with a
   value that does not parse goes to quarantine with the column named;
3. rules: required columns, minimums, `known_outcome`, and the unique key (every row after
   the first of a repeated call_id), the first failed check naming the rule; rejected rows
   go to quarantine as received;
4. PII: the declared columns protected whole (names and e-mails hashed, phones masked,
   addresses redacted; each value one finding of its entity); every other text column
   scanned (values the engine's regex engine flags with dapgov's patterns are run through
   pii_detector.py, once per distinct value), findings counted and replaced by their action;
5. curated: year-partitioned Parquet and a CSV copy; raw and quarantine as Parquet;
6. the second PII scan of curated's text columns: the load fails if anything is found;
7. trusted: `daily_consolidated` (dapgov.toml's SQL) from the curated metrics (typed here
   from the metrics file, as dapgov's earlier metrics load did) and calls, year-partitioned
   Parquet and a CSV copy, reconciled (handled calls within 0.1 %).

Nothing is encrypted and no access is checked: dapgov's governance has no equivalent here.

Usage: python pipeline.py duckdb|polars CALLS.csv METRICS.csv PATTERNS.json OUT_DIR
       python pipeline.py fingerprint OUT_DIR < SQL.json   (for scripts/etl-vs-peers)
Prints a JSON summary: counts per stage, quarantine reasons, PII found, the second scan,
the reconciliation, and each stage's wall and CPU seconds.
"""

import csv
import datetime
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pii_baseline import plain_boundaries  # noqa: E402
from pii_detector import ACTIONS, KEY, Detector, keyed_hash, mask, prefilters  # noqa: E402

# dapgov.toml's `calls` dataset.
TYPES = {"date": "date", "started_at": "timestamp", "wait_seconds": "double", "handle_seconds": "double"}
DATE_FORMATS = ["%Y-%m-%d"]
REQUIRED = ["call_id", "date", "outcome"]
MINIMUMS = {"handle_seconds": 0, "wait_seconds": 0}
DECLARED_PII = {"caller_name": "PERSON_NAME", "caller_phone": "PHONE_NUMBER", "caller_email": "EMAIL",
                "caller_address": "STREET_ADDRESS"}
TRUSTED_SQL = """
SELECT m.year, m.date, m.calls_offered, m.calls_handled, m.calls_abandoned, m.service_level,
       m.call_handling_pct, m.abandonment_rate,
       c.call_records, c.handled_records, c.abandoned_records, c.avg_handle_seconds, c.avg_wait_seconds
FROM curated_metrics m
JOIN (SELECT date, COUNT(*) AS call_records,
             SUM(CASE WHEN outcome = 'handled' THEN 1 ELSE 0 END) AS handled_records,
             SUM(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned_records,
             AVG(handle_seconds) AS avg_handle_seconds, AVG(wait_seconds) AS avg_wait_seconds
      FROM curated_calls GROUP BY date) c ON m.date = c.date
"""
TOLERANCE = 0.001


class Stages:
    def __init__(self):
        self.timings, self.at, self.cpu_at = [], time.perf_counter(), time.process_time()

    def done(self, stage):
        now, cpu = time.perf_counter(), time.process_time()
        self.timings.append({"stage": stage, "wall_seconds": round(now - self.at, 3), "cpu_seconds": round(cpu - self.cpu_at, 3)})
        self.at, self.cpu_at = now, cpu


def land(calls, out):
    landing = out / "landing" / Path(calls).name
    landing.parent.mkdir(parents=True)
    digest = hashlib.sha256()
    with open(calls, "rb") as src, open(landing, "wb") as dst:
        while block := src.read(8 << 20):
            digest.update(block)
            dst.write(block)
    return landing, digest.hexdigest()


def protect_distinct(detector, values_with_counts):
    """{value: redacted} for the values that hold findings, and the findings by entity
    (weighted by how often each value occurs)."""
    mapping, found = {}, {}
    for value, n in values_with_counts:
        redacted, entities = detector.redact(value)
        if entities:
            mapping[value] = redacted
            for e in entities:
                found[e] = found.get(e, 0) + n
    return mapping, found


def merge(into, more):
    for k, v in more.items():
        into[k] = into.get(k, 0) + v


def duckdb_pipeline(calls, metrics, patterns, out):
    import duckdb
    st = Stages()
    landing, sha = land(calls, out)
    st.done("landing")
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{out / 'spill'}'")
    detector = Detector(patterns)
    # Literals, so DuckDB compiles each once (a bound parameter is compiled per row).
    ascii, unicode = ("'" + plain_boundaries(p).replace("'", "''") + "'" for p in prefilters(patterns))

    def flagged(c):
        return f"CASE WHEN strlen({c}) = length({c}) THEN regexp_matches({c}, {ascii}) ELSE regexp_matches({c}, {unicode}) END"
    loaded_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{landing}', header = true, all_varchar = true)").fetchall()]
    text = {c: f"NULLIF(TRIM({c}), '')" for c in columns}

    def typed(c):
        t = TYPES.get(c)
        if t == "date":
            return "COALESCE(" + ", ".join(f"TRY_STRPTIME({text[c]}, '{f}')::DATE" for f in DATE_FORMATS) + ")"
        if t == "timestamp":
            return f"TRY_CAST({text[c]} AS TIMESTAMP)"
        if t == "double":
            return f"TRY_CAST({text[c]} AS DOUBLE)"
        return text[c]

    def table(name, mapping):
        """A two-column table (value, protected) from a dict, through a file: DuckDB converts
        bound Python lists value by value, far slower than it reads CSV."""
        path = out / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, quoting=csv.QUOTE_ALL)
            w.writerow(["value", "protected"])
            w.writerows(mapping.items())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true, all_varchar = true, quote = '\"', escape = '\"')")
        path.unlink()

    fails = [(c, f"({text[c]} IS NOT NULL AND {typed(c)} IS NULL)") for c in columns if c in TYPES]
    type_reason = "CASE " + " ".join(f"WHEN {f} THEN 'type: `{c}` is not a valid {TYPES[c]}'" for c, f in fails) + " END"
    con.execute(f"""CREATE TABLE source AS SELECT *, CAST(row_number() OVER () + 1 AS BIGINT) AS _source_row
                    FROM read_csv('{landing}', header = true, all_varchar = true)""")
    con.execute(f"""CREATE TABLE typed AS SELECT {', '.join(f'{typed(c)} AS {c}' for c in columns)}, _source_row,
                    '{Path(calls).name}' AS _source_file, '{sha}' AS _source_sha256, TIMESTAMP '{loaded_at}' AS _loaded_at,
                    {type_reason} AS _type_reason
                    FROM source""")
    st.done("raw: typing and lineage")
    checks = [(f"required:{c}", f"{c} IS NULL", f"required column `{c}` is empty") for c in REQUIRED]
    checks += [(f"range:{c}", f"{c} < {m}", f"`{c}` is below its minimum {m}") for c, m in MINIMUMS.items()]
    checks += [("known_outcome", "NOT COALESCE(outcome IN ('handled', 'abandoned'), FALSE)", "rule `known_outcome` failed")]
    checks += [("unique_key", "_dup_rank > 1", "duplicate key (call_id)")]
    rule = "CASE " + " ".join(f"WHEN COALESCE(({f}), FALSE) THEN '{r}'" for r, f, _ in checks) + " END"
    reason = "CASE " + " ".join(f"WHEN COALESCE(({f}), FALSE) THEN '{why}'" for _, f, why in checks) + " END"
    con.execute(f"""CREATE TABLE checked AS SELECT *, {rule} AS _rule, {reason} AS _reason FROM (
                      SELECT *, row_number() OVER (PARTITION BY call_id ORDER BY _source_row) AS _dup_rank
                      FROM typed WHERE _type_reason IS NULL)""")
    reasons = dict(con.execute("SELECT _rule, COUNT(*) FROM checked WHERE _rule IS NOT NULL GROUP BY 1").fetchall())
    type_failed = con.execute("SELECT COUNT(*) FROM typed WHERE _type_reason IS NOT NULL").fetchone()[0]
    if type_failed:
        reasons["type"] = type_failed
    st.done("curated: checking rules and keys")
    # PII: declared columns whole; other text columns through the detector, value by value.
    declared_counts = con.execute("SELECT " + ", ".join(f"COUNT({c})" for c in DECLARED_PII) + " FROM checked WHERE _rule IS NULL").fetchone()
    found = {}
    for (c, e), n in zip(DECLARED_PII.items(), declared_counts):
        if n:
            found[e] = found.get(e, 0) + n
    scanned = [c for c in columns if c not in DECLARED_PII and c not in TYPES] + ["_source_file"]
    mappings = {}
    for c in scanned:
        values = con.execute(f"SELECT {c}, COUNT(*) FROM checked WHERE _rule IS NULL AND {flagged(c)} GROUP BY 1").fetchall()
        mapping, more = protect_distinct(detector, values)
        merge(found, more)
        if mapping:
            table(f"map_{c}", mapping)
            mappings[c] = f"map_{c}"
    masked = {}
    for c, e in DECLARED_PII.items():
        if ACTIONS[e] == "mask":
            values = [v for (v,) in con.execute(f"SELECT DISTINCT {c} FROM checked WHERE {c} IS NOT NULL").fetchall()]
            table(f"mask_{c}", {v: mask(v) for v in values})
            masked[c] = f"mask_{c}"
    st.done("curated: counting PII")
    select, joins = [], []
    for c in columns + ["_source_row", "_source_file", "_source_sha256", "_loaded_at"]:
        if c in DECLARED_PII:
            action = ACTIONS[DECLARED_PII[c]]
            if action == "hash":
                select.append(f"'h:' || LEFT(SHA256('{KEY.decode()}' || LOWER(TRIM(k.{c}))), 20) AS {c}")
            elif action == "mask":
                joins.append(f"LEFT JOIN {masked[c]} ON {masked[c]}.value = k.{c}")
                select.append(f"{masked[c]}.protected AS {c}")
            else:
                select.append(f"CASE WHEN k.{c} IS NOT NULL THEN '[{DECLARED_PII[c]}]' END AS {c}")
        elif c in mappings:
            joins.append(f"LEFT JOIN {mappings[c]} ON {mappings[c]}.value = k.{c}")
            select.append(f"COALESCE({mappings[c]}.protected, k.{c}) AS {c}")
        else:
            select.append(f"k.{c}")
    con.execute(f"CREATE TABLE curated_calls AS SELECT {', '.join(select)}, CAST(year(k.date) AS INTEGER) AS year FROM checked k {' '.join(joins)} WHERE k._rule IS NULL")
    con.execute(f"COPY curated_calls TO '{out / 'curated' / 'calls'}' (FORMAT parquet, PARTITION_BY (year))")
    con.execute(f"COPY curated_calls TO '{out / 'curated-calls.csv'}' (FORMAT csv, HEADER)")
    st.done("curated: writing")
    text_cols = [r[0] for r in con.execute("DESCRIBE curated_calls").fetchall() if r[1] == "VARCHAR"]
    left = {}
    for c in text_cols:
        values = con.execute(f"SELECT {c}, COUNT(*) FROM curated_calls WHERE {flagged(c)} GROUP BY 1").fetchall()
        merge(left, protect_distinct(detector, values)[1])
    st.done("trusted: scanning curated for PII left")
    all_text = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in columns)
    con.execute(f"COPY (SELECT * EXCLUDE (_type_reason) FROM typed WHERE _type_reason IS NULL) TO '{out / 'raw-calls.parquet'}' (FORMAT parquet)")
    source_text = ", ".join(f"CAST(s.{c} AS VARCHAR) AS {c}" for c in columns)
    con.execute(f"""COPY (SELECT {source_text}, _source_row, 'type' AS _rule, _type_reason AS _reason FROM source s JOIN typed t USING (_source_row) WHERE _type_reason IS NOT NULL
                    UNION ALL SELECT {all_text}, _source_row, _rule, _reason FROM checked WHERE _rule IS NOT NULL)
                    TO '{out / 'quarantine-calls.parquet'}' (FORMAT parquet)""")
    st.done("publishing")
    metrics_typed = """
        SELECT date, calls_offered, calls_handled, calls_abandoned, average_speed_of_answer, service_level,
               CAST(calls_handled AS DOUBLE) / NULLIF(calls_offered, 0) AS call_handling_pct,
               CAST(calls_abandoned AS DOUBLE) / NULLIF(calls_offered, 0) AS abandonment_rate,
               calls_offered - calls_handled - calls_abandoned AS unaccounted_calls,
               CAST(year(date) AS INTEGER) AS year
        FROM (SELECT TRY_STRPTIME(TRIM("Date"), '%Y-%m-%d')::DATE AS date,
                     TRY_CAST("CallsOffered" AS BIGINT) AS calls_offered, TRY_CAST("CallsHandled" AS BIGINT) AS calls_handled,
                     TRY_CAST("CallsAbandoned" AS BIGINT) AS calls_abandoned,
                     TRY_CAST("AverageSpeedofAnswer" AS DOUBLE) AS average_speed_of_answer,
                     TRY_CAST("ServiceLevel" AS DOUBLE) AS service_level
              FROM read_csv(?, header = true, delim = ';', all_varchar = true))
        WHERE calls_handled <= calls_offered"""
    con.execute(f"CREATE TABLE curated_metrics AS {metrics_typed.replace('?', repr(str(metrics)))}")
    con.execute(f"CREATE TABLE daily_consolidated AS {TRUSTED_SQL}")
    con.execute(f"COPY daily_consolidated TO '{out / 'trusted' / 'daily_consolidated'}' (FORMAT parquet, PARTITION_BY (year))")
    con.execute(f"COPY daily_consolidated TO '{out / 'daily_consolidated.csv'}' (FORMAT csv, HEADER)")
    expected, actual = con.execute("SELECT CAST(SUM(calls_handled) AS DOUBLE), CAST(SUM(handled_records) AS DOUBLE) FROM daily_consolidated").fetchone()
    st.done("trusted: consolidating and reconciling")
    counts = con.execute("SELECT (SELECT COUNT(*) FROM source), (SELECT COUNT(*) FROM typed WHERE _type_reason IS NULL), (SELECT COUNT(*) FROM curated_calls)").fetchone()
    return summary(counts, reasons, found, left, expected, actual, st)


def polars_pipeline(calls, metrics, patterns, out):
    import polars as pl
    st = Stages()
    landing, sha = land(calls, out)
    st.done("landing")
    detector = Detector(patterns)
    ascii, unicode = prefilters(patterns)

    def flagged(df, c):
        """The distinct values of `c` the detector must read, with how often each occurs."""
        is_ascii = pl.col(c).str.len_bytes() == pl.col(c).str.len_chars()
        hits = pl.concat([df.filter(is_ascii).filter(pl.col(c).str.contains(ascii)).select(c),
                          df.filter(~is_ascii).filter(pl.col(c).str.contains(unicode)).select(c)])
        return hits.group_by(c).len().iter_rows()
    loaded_at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    source = pl.read_csv(landing, infer_schema=False).with_row_index("_source_row", offset=2).with_columns(pl.col("_source_row").cast(pl.Int64))
    columns = [c for c in source.columns if c != "_source_row"]

    def text(c):
        t = pl.col(c).str.strip_chars()
        return pl.when(t == "").then(None).otherwise(t)

    def typed(c):
        t = TYPES.get(c)
        if t == "date":
            return pl.coalesce([text(c).str.to_date(f, strict=False) for f in DATE_FORMATS])
        if t == "timestamp":
            return text(c).str.to_datetime(strict=False, time_unit="us")
        if t == "double":
            return text(c).cast(pl.Float64, strict=False)
        return text(c)

    type_reason = pl.lit(None, dtype=pl.Utf8)
    for c in reversed([c for c in columns if c in TYPES]):
        type_reason = pl.when(text(c).is_not_null() & typed(c).is_null()).then(pl.lit(f"type: `{c}` is not a valid {TYPES[c]}")).otherwise(type_reason)
    typed_df = source.select([typed(c).alias(c) for c in columns] + [
        pl.col("_source_row"), pl.lit(Path(calls).name).alias("_source_file"), pl.lit(sha).alias("_source_sha256"),
        pl.lit(loaded_at).alias("_loaded_at"), type_reason.alias("_type_reason")])
    st.done("raw: typing and lineage")
    checks = [(f"required:{c}", pl.col(c).is_null(), f"required column `{c}` is empty") for c in REQUIRED]
    checks += [(f"range:{c}", pl.col(c) < m, f"`{c}` is below its minimum {m}") for c, m in MINIMUMS.items()]
    checks += [("known_outcome", ~pl.col("outcome").is_in(["handled", "abandoned"]).fill_null(False), "rule `known_outcome` failed")]
    checks += [("unique_key", pl.col("_dup_rank") > 1, "duplicate key (call_id)")]
    rule, reason = pl.lit(None, dtype=pl.Utf8), pl.lit(None, dtype=pl.Utf8)
    for name, fails, why in reversed(checks):
        rule = pl.when(fails.fill_null(False)).then(pl.lit(name)).otherwise(rule)
        reason = pl.when(fails.fill_null(False)).then(pl.lit(why)).otherwise(reason)
    checked = (typed_df.filter(pl.col("_type_reason").is_null())
               .with_columns(_dup_rank=pl.col("_source_row").rank("ordinal").over("call_id"))
               .with_columns(_rule=rule, _reason=reason))
    reasons = {r: n for r, n in checked.filter(pl.col("_rule").is_not_null()).group_by("_rule").len().iter_rows()}
    type_failed = typed_df.filter(pl.col("_type_reason").is_not_null()).height
    if type_failed:
        reasons["type"] = type_failed
    st.done("curated: checking rules and keys")
    passing = checked.filter(pl.col("_rule").is_null())
    found = {}
    for c, e in DECLARED_PII.items():
        n = passing.get_column(c).count()
        if n:
            found[e] = found.get(e, 0) + n
    scanned = [c for c in columns if c not in DECLARED_PII and c not in TYPES] + ["_source_file"]
    replaced = []
    for c in scanned:
        values = flagged(passing.select(c), c)
        mapping, more = protect_distinct(detector, values)
        merge(found, more)
        if mapping:
            replaced.append(pl.col(c).replace(mapping))
    st.done("curated: counting PII")
    protect = []
    for c, e in DECLARED_PII.items():
        action = ACTIONS[e]
        if action == "hash":
            protect.append(pl.col(c).map_batches(lambda s: s.map_elements(keyed_hash, return_dtype=pl.Utf8), return_dtype=pl.Utf8))
        elif action == "mask":
            distinct = passing.get_column(c).drop_nulls().unique()
            protect.append(pl.col(c).replace(dict(zip(distinct, (mask(v) for v in distinct)))))
        else:
            protect.append(pl.when(pl.col(c).is_not_null()).then(pl.lit(f"[{e}]")).alias(c))
    curated = (passing.with_columns(replaced + protect)
               .select(columns + ["_source_row", "_source_file", "_source_sha256", "_loaded_at"])
               .with_columns(year=pl.col("date").dt.year().cast(pl.Int32)))
    curated.write_parquet(out / "curated" / "calls", partition_by="year")
    curated.write_csv(out / "curated-calls.csv")
    st.done("curated: writing")
    left = {}
    for c in [c for c, t in curated.schema.items() if t == pl.Utf8]:
        values = flagged(curated.select(c), c)
        merge(left, protect_distinct(detector, values)[1])
    st.done("trusted: scanning curated for PII left")
    typed_df.filter(pl.col("_type_reason").is_null()).drop("_type_reason").write_parquet(out / "raw-calls.parquet")
    as_text = [pl.col(c).cast(pl.Utf8) for c in columns]
    quarantine = pl.concat([
        source.join(typed_df.filter(pl.col("_type_reason").is_not_null()).select("_source_row", "_type_reason"), on="_source_row")
              .select(as_text + [pl.col("_source_row"), pl.lit("type").alias("_rule"), pl.col("_type_reason").alias("_reason")]),
        checked.filter(pl.col("_rule").is_not_null()).select(as_text + [pl.col("_source_row"), pl.col("_rule"), pl.col("_reason")]),
    ])
    quarantine.write_parquet(out / "quarantine-calls.parquet")
    st.done("publishing")
    m = pl.read_csv(metrics, separator=";", infer_schema=False, encoding="utf8-lossy")
    m = m.rename({m.columns[0]: m.columns[0].lstrip("\ufeff")})
    curated_metrics = (m.select(
        date=pl.col("Date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False),
        calls_offered=pl.col("CallsOffered").cast(pl.Int64, strict=False),
        calls_handled=pl.col("CallsHandled").cast(pl.Int64, strict=False),
        calls_abandoned=pl.col("CallsAbandoned").cast(pl.Int64, strict=False),
        service_level=pl.col("ServiceLevel").cast(pl.Float64, strict=False))
        .filter(pl.col("calls_handled") <= pl.col("calls_offered"))
        .with_columns(call_handling_pct=pl.col("calls_handled") / pl.col("calls_offered"),
                      abandonment_rate=pl.col("calls_abandoned") / pl.col("calls_offered"),
                      year=pl.col("date").dt.year().cast(pl.Int32)))
    by_day = curated.group_by("date").agg(
        call_records=pl.len().cast(pl.Int64),
        handled_records=(pl.col("outcome") == "handled").sum().cast(pl.Int64),
        abandoned_records=(pl.col("outcome") == "abandoned").sum().cast(pl.Int64),
        avg_handle_seconds=pl.col("handle_seconds").mean(),
        avg_wait_seconds=pl.col("wait_seconds").mean())
    daily = curated_metrics.join(by_day, on="date").select(
        "year", "date", "calls_offered", "calls_handled", "calls_abandoned", "service_level", "call_handling_pct",
        "abandonment_rate", "call_records", "handled_records", "abandoned_records", "avg_handle_seconds", "avg_wait_seconds")
    daily.write_parquet(out / "trusted" / "daily_consolidated", partition_by="year")
    daily.write_csv(out / "daily_consolidated.csv")
    expected, actual = float(daily.get_column("calls_handled").sum()), float(daily.get_column("handled_records").sum())
    st.done("trusted: consolidating and reconciling")
    counts = (source.height, typed_df.height - type_failed, curated.height)
    return summary(counts, reasons, found, left, expected, actual, st)


def summary(counts, reasons, found, left, expected, actual, st):
    rows_in, typed_rows, curated_rows = counts
    reconciled = expected > 0 and abs(expected - actual) / expected <= TOLERANCE
    if left:
        raise SystemExit(f"the second PII scan found PII left in curated: {left}")
    if not reconciled:
        raise SystemExit(f"reconciliation failed: expected {expected}, actual {actual}")
    return {"raw": {"rows_in": rows_in, "rows_out": typed_rows, "rows_quarantined": rows_in - typed_rows},
            "curated": {"rows_in": typed_rows, "rows_out": curated_rows, "rows_quarantined": typed_rows - curated_rows},
            "quarantine_reasons": reasons, "pii_found": dict(sorted(found.items())), "pii_left": left,
            "reconciliation": {"expected": expected, "actual": actual}, "timings": st.timings}


def fingerprint(out):
    """Run the SQL statements given on stdin (a JSON list) over a run's curated calls and
    trusted daily_consolidated, in DuckDB, and print each result as CSV, `--` between them."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"CREATE VIEW curated_calls AS SELECT * FROM read_parquet('{out}/curated/calls/**/*.parquet', hive_partitioning = true, hive_types = {{'year': INTEGER}})")
    con.execute(f"CREATE VIEW daily_consolidated AS SELECT * FROM read_parquet('{out}/trusted/daily_consolidated/**/*.parquet', hive_partitioning = true, hive_types = {{'year': INTEGER}})")
    w = csv.writer(sys.stdout, lineterminator="\n")
    for i, sql in enumerate(json.load(sys.stdin)):
        if i:
            w.writerow(["--"])
        cur = con.execute(sql)
        w.writerow([d[0] for d in cur.description])
        w.writerows(["" if v is None else v for v in row] for row in cur.fetchall())


def main():
    if sys.argv[1] == "fingerprint":
        return fingerprint(Path(sys.argv[2]))
    engine, calls, metrics, patterns, out = sys.argv[1:6]
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for zone in ("curated", "trusted"):
        (out / zone).mkdir(parents=True)
    run = {"duckdb": duckdb_pipeline, "polars": polars_pipeline}[engine]
    print(json.dumps(run(os.path.abspath(calls), os.path.abspath(metrics), patterns, out)))


if __name__ == "__main__":
    main()
