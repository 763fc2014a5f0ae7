//! Raw: typed declared columns with lineage; what does not type goes to quarantine; drift.

use super::*;

impl Run<'_> {
    /// Raw: typed, with lineage; values that do not parse send their row to quarantine.
    pub(super) async fn raw(
        &mut self,
        ctx: &SessionContext,
        source: StagedSource,
    ) -> Result<Raw, EtlError> {
        let cols = source.cols;
        self.progress("raw: typing and lineage");
        let (ds, dataset) = (self.ds, self.opts.dataset);
        let raw = zone(self.session, Zone::Raw)?;
        let loaded_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let (select, type_fails) = typed_columns(&cols, ds);
        let lineage = format!(
            "_source_row, {} AS _source_file, {} AS _source_sha256, CAST({} AS TIMESTAMP) AS _loaded_at",
            lit(&self.m.input.file),
            lit(&self.m.input.sha256),
            lit(&loaded_at)
        );
        let any_fail = any_type_fails(&type_fails);
        let raw_df = ctx
            .sql(&format!(
                "SELECT {}, {lineage} FROM {SOURCE} WHERE _shape IS NULL AND NOT ({any_fail})",
                select.join(", ")
            ))
            .await?;
        let url = format!("{}{}raw/", raw.url, self.staging);
        let typed = write_parquet(ctx, raw_df, &url).await?;
        let reason = type_fail_reason(&type_fails);
        if typed == 0 {
            return Err(self.nothing_typed(ctx, source.records, &reason).await);
        }
        // What typing set aside, from the counts the reader and the writer kept.
        let (rows_in, q_shape) = (source.records, source.ragged);
        let q_type = rows_in.checked_sub(q_shape + typed).ok_or_else(|| {
            EtlError::Engine(format!("typing wrote {typed} rows of {rows_in} read ({q_shape} ragged); refusing to lose rows"))
        })?;
        let (all_text, quarantine_parts) = typing_quarantine(&cols, &reason, &any_fail);
        if q_type > 0 {
            *self.m.quarantine_reasons.entry("type".into()).or_default() += q_type;
        }
        if q_shape > 0 {
            self.m.quarantine_reasons.insert("shape".into(), q_shape);
        }
        self.m.stages.insert(
            "raw".into(),
            StageCounts {
                rows_in,
                rows_out: rows_in - q_type - q_shape,
                rows_quarantined: q_type + q_shape,
            },
        );
        ctx.register_parquet(RAW_NEW.name(), &url, ParquetReadOptions::default())
            .await?;
        let schema = ctx.table(RAW_NEW.name()).await?.schema().as_arrow().clone();
        let table = GlueTable {
            name: format!("raw_{dataset}"),
            location: delta::table_url(raw, dataset),
            format: delta::FORMAT.into(),
            columns: columns_of(&schema, &[]),
            partition_keys: vec![],
        };
        Ok(Raw {
            cols,
            table,
            schema,
            rows_in,
            quarantine_parts,
            all_text,
        })
    }

    /// The error for a delivery none of whose rows could be typed: the file, and the first rows
    /// with the reason each was set aside (no value is quoted). Nothing is loaded.
    pub(super) async fn nothing_typed(
        &self,
        ctx: &SessionContext,
        records: u64,
        reason: &str,
    ) -> EtlError {
        let origin = &self.origin;
        if records == 0 {
            return EtlError::input(origin, "the file holds no rows to load");
        }
        let first = async {
            let batches = ctx
                .sql(&format!(
                    "SELECT concat('row ', CAST(_source_row AS VARCHAR), ': ', COALESCE(_shape, {reason})) AS why FROM {SOURCE} ORDER BY _source_row LIMIT 3"
                ))
                .await?
                .collect()
                .await?;
            Ok::<_, EtlError>(string_values(&batches, "why"))
        }
        .await;
        let first = match first {
            Ok(rows) if !rows.is_empty() => rows.join("; "),
            Ok(_) => "no reason recorded".into(),
            Err(e) => format!("the reasons could not be read ({e})"),
        };
        EtlError::input(
            origin,
            format!(
                "none of its {records} rows could be read as the dataset declares them, so nothing was loaded; the first: {first}. Check the file's encoding (UTF-8 or Latin-1), its delimiter and the declared column types"
            ),
        )
    }

    /// Schema drift against the previous load: reported, never silently shifted (columns
    /// are always selected by name).
    /// The tables keep every load, so a delivery may add a column (added to the tables,
    /// empty for earlier loads) but not remove or retype a declared one: that is refused before
    /// anything is committed.
    pub(super) async fn drift(&mut self, raw: &Raw) -> Result<(), EtlError> {
        let previous = self
            .session
            .catalog
            .tables(self.database)
            .await?
            .into_iter()
            .find(|t| t.name == raw.table.name);
        let Some(prev) = previous else { return Ok(()) };
        self.m
            .schema_drift
            .extend(sql::schema_drift(&prev.columns, &raw.table.columns));
        for c in prev
            .columns
            .iter()
            .filter(|c| self.ds.columns.contains_key(&c.name))
        {
            let problem = match raw.table.columns.iter().find(|n| n.name == c.name) {
                None => format!("declared column `{}` is missing", c.name),
                Some(n) if n.data_type != c.data_type => format!(
                    "declared column `{}` is {} where the table holds {}",
                    c.name, n.data_type, c.data_type
                ),
                Some(_) => continue,
            };
            return Err(EtlError::input(
                &self.origin,
                format!(
                    "{problem}; the dataset's tables keep every earlier load, so nothing was committed. Deliver the column as before, or declare the change in dapgov.toml under a new dataset"
                ),
            ));
        }
        Ok(())
    }
}

/// A declared column that is not text: its name, its type, and the SQL that is true where a
/// value is present but does not parse as that type.
type TypeFail = (String, String, String);

/// Each source column as raw types it (declared types parsed, text trimmed to NULL when
/// empty), and the columns whose values can fail to parse.
fn typed_columns(cols: &[String], ds: &Dataset) -> (Vec<String>, Vec<TypeFail>) {
    let mut select = vec![];
    let mut type_fails = vec![];
    for c in cols {
        match ds.columns.get(c) {
            Some(rule) if rule.data_type != "string" => {
                let e = typed_expr(c, &rule.data_type, ds);
                select.push(format!("{e} AS {}", ident(c)));
                type_fails.push((
                    c.clone(),
                    rule.data_type.clone(),
                    format!(
                        "(NULLIF(TRIM(CAST({} AS VARCHAR)), '') IS NOT NULL AND ({e}) IS NULL)",
                        ident(c)
                    ),
                ));
            }
            _ => select.push(format!("NULLIF(TRIM({0}), '') AS {0}", ident(c))),
        }
    }
    (select, type_fails)
}

/// SQL true for a row with any value that does not parse as its column's type.
fn any_type_fails(fails: &[TypeFail]) -> String {
    if fails.is_empty() {
        return "FALSE".into();
    }
    fails
        .iter()
        .map(|f| f.2.clone())
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// SQL naming the first column of a row whose value does not parse, and its type.
fn type_fail_reason(fails: &[TypeFail]) -> String {
    if fails.is_empty() {
        return "''".into();
    }
    let whens: Vec<String> = fails
        .iter()
        .map(|(c, t, f)| {
            let why = lit(&format!("type: `{c}` is not a valid {t}"));
            format!("WHEN {f} THEN {why}")
        })
        .collect();
    format!("CASE {} END", whens.join(" "))
}

/// Quarantine keeps the original text of every rejected row, with the rule and reason, and
/// for a ragged row the record as written. Returns the source columns as text, and the
/// queries of the rows typing set aside.
fn typing_quarantine(cols: &[String], reason: &str, any_fail: &str) -> (String, Vec<String>) {
    let all_text = cols
        .iter()
        .map(|c| format!("CAST({} AS VARCHAR) AS {}", ident(c), ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let parts = vec![
        format!(
            "SELECT {all_text}, _source_row, 'type' AS _rule, {reason} AS _reason, CAST(NULL AS VARCHAR) AS _record FROM {SOURCE} WHERE _shape IS NULL AND ({any_fail})"
        ),
        format!(
            "SELECT {all_text}, _source_row, 'shape' AS _rule, _shape AS _reason, _record FROM {SOURCE} WHERE _shape IS NOT NULL"
        ),
    ];
    (all_text, parts)
}
