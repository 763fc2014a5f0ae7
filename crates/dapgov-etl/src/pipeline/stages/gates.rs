//! The quality gates that keep a load out of curated and trusted.

use super::*;
use std::collections::BTreeMap;

impl Run<'_> {
    /// Trusted's gates: completeness, and a second PII scan of curated with the same rules
    /// (findings, and columns that still read as personal information whole).
    pub(super) async fn gates(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        curated: &Curated,
    ) -> Result<Vec<String>, EtlError> {
        self.progress("trusted: quality gates");
        let (rows_in, rows_out, min) = (
            raw.rows_in,
            curated.rows_out,
            self.spec.etl.min_completeness,
        );
        let completeness = if rows_in == 0 {
            0.0
        } else {
            rows_out as f64 / rows_in as f64
        };
        let mut failures = vec![];
        if completeness < min {
            failures.push(format!("completeness {completeness:.4} is below {min} ({rows_out} of {rows_in} rows reached curated)"));
        }
        self.progress("trusted: scanning curated for PII left");
        // The load's curated rows read back as staged, through the role's store.
        let text_cols: Vec<String> = curated
            .schema
            .fields()
            .iter()
            .filter(|f| is_text(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        // Identifiers hide in columns typed as numbers too (a SIN column declared bigint): one
        // that reads as personal information, whole, fails the gate; it is declared as text
        // with its `pii` entity to be protected.
        let number_cols: Vec<String> = curated
            .schema
            .fields()
            .iter()
            .filter(|f| f.data_type().is_integer())
            .map(|f| f.name().clone())
            .collect();
        if !text_cols.is_empty() {
            let list = text_cols
                .iter()
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let left = count_pii(ctx, &format!("SELECT {list} FROM {CURATED_NEW}")).await?;
            if !left.is_empty() {
                failures.push(format!(
                    "a second scan found PII left in curated: {}",
                    left.iter()
                        .map(|(e, n)| format!("{} {n}", e.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        // One sample of both kinds of column, for the same column rules as the first pass.
        if !text_cols.is_empty() || !number_cols.is_empty() {
            let list = text_cols
                .iter()
                .map(|c| ident(c))
                .chain(
                    number_cols
                        .iter()
                        .map(|c| format!("CAST({} AS VARCHAR) AS {}", ident(c), ident(c))),
                )
                .collect::<Vec<_>>()
                .join(", ");
            let sample = ctx
                .sql(&format!(
                    "SELECT {list} FROM {CURATED_NEW} LIMIT {SAMPLE_ROWS}"
                ))
                .await?
                .collect()
                .await?;
            for (c, e) in number_cols
                .iter()
                .filter_map(|c| Some((c, classify(&sample, c)?)))
            {
                failures.push(format!("column `{c}` in curated is typed as a number but holds {} values; declare it `{{ type = \"string\", pii = \"{}\" }}`", e.name(), e.name()));
            }
            for (c, e) in text_cols
                .iter()
                .filter_map(|c| Some((c, classify(&sample, c)?)))
            {
                failures.push(format!(
                    "a second scan found column `{c}` in curated holding {} values",
                    e.name()
                ));
            }
        }
        if let Some(breach) = self.volume(ctx).await? {
            failures.push(breach);
        }
        Ok(failures)
    }

    /// The dataset's volume rule over the days this load delivers, each against the days
    /// before it (curated's, with this load's in place of the days it replaces). Outside the
    /// band: a warning, or with `on_breach = "reject"` a failed gate (returned).
    async fn volume(&mut self, ctx: &SessionContext) -> Result<Option<String>, EtlError> {
        let (Some(rule), Some(dc)) = (&self.ds.volume, &self.ds.date_column) else {
            return Ok(None);
        };
        let measure = match &rule.column {
            Some(c) => format!("CAST(SUM({}) AS DOUBLE)", ident(c)),
            None => "CAST(COUNT(*) AS DOUBLE)".into(),
        };
        let per_day = |table: String| {
            format!(
                "SELECT CAST({d} AS VARCHAR) AS day, {measure} AS volume FROM {table} WHERE {d} IS NOT NULL GROUP BY {d}",
                d = ident(dc)
            )
        };
        let delivered = day_volumes(ctx, &per_day(CURATED_NEW.to_string())).await?;
        let Some(&from) = delivered.keys().next() else {
            return Ok(None);
        };
        let mut series = BTreeMap::new();
        let table = delta::open(zone(self.session, Zone::Curated)?, self.opts.dataset).await?;
        if table.version().is_some() {
            ctx.register_table(CURATED_BEFORE.name(), delta::provider(table, None).await?)?;
            let before = day_volumes(ctx, &per_day(CURATED_BEFORE.to_string())).await;
            ctx.deregister_table(CURATED_BEFORE.name())?;
            series = before?;
        }
        let newest = *delivered.keys().next_back().expect("a delivered day");
        series.extend(delivered);
        let flagged: Vec<String> = crate::volume::judge(&series, rule, from)
            .into_iter()
            .filter(|f| f.day <= newest)
            .map(|f| f.to_string())
            .collect();
        if flagged.is_empty() {
            return Ok(None);
        }
        const LISTED: usize = 10;
        let mut text = flagged
            .iter()
            .take(LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if flagged.len() > LISTED {
            text.push_str(&format!("; and {} more", flagged.len() - LISTED));
        }
        let what = format!(
            "volume outside {}×–{}× of the same weekday's median over the last {} usual days on {} day(s): {text}",
            rule.min_ratio,
            rule.max_ratio,
            rule.baseline_weeks,
            flagged.len()
        );
        self.m.volume_flags = flagged;
        Ok(match rule.on_breach {
            dapgov_spec::automation::Breach::Reject => Some(what),
            dapgov_spec::automation::Breach::Warn => {
                self.m.warnings.push(what);
                None
            }
        })
    }
}

/// Volume by day from a query returning `day` (ISO text) and `volume`.
async fn day_volumes(
    ctx: &SessionContext,
    sql: &str,
) -> Result<BTreeMap<chrono::NaiveDate, f64>, EtlError> {
    #[derive(serde::Deserialize)]
    struct DayVolume {
        day: String,
        volume: Option<f64>,
    }
    let rows: Vec<DayVolume> = query::records(&ctx.sql(sql).await?.collect().await?, sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some((
                chrono::NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").ok()?,
                r.volume?,
            ))
        })
        .collect())
}
