//! The quality gates that keep a load out of curated and trusted.

use super::*;

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
        Ok(failures)
    }
}
