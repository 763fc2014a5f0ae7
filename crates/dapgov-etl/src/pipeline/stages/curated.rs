//! Curated: the rules (quarantine, warnings, unique key), personal information protected,
//! derived metrics, partitioning.

use super::*;

impl Run<'_> {
    /// Curated's checks: every row with the first check it fails, as the view `checked`;
    /// failing rows go to quarantine with the rule and reason; `warn` rules are
    /// counted. Returns the rows the checks set aside.
    pub(super) async fn check_rows(
        &mut self,
        ctx: &SessionContext,
        raw: &mut Raw,
    ) -> Result<u64, EtlError> {
        self.progress("curated: checking rules and keys");
        let (ds, staging) = (self.ds, self.staging);
        let raw_zone = zone(self.session, Zone::Raw)?;
        let checks = sql::checks(ds);
        let warn_rules: Vec<_> = ds
            .rules
            .iter()
            .filter(|r| r.action == RuleAction::Warn)
            .collect();
        self.m.rules_applied = checks
            .iter()
            .map(|c| c.rule.clone())
            .chain(warn_rules.iter().map(|r| format!("warn:{}", r.name)))
            .collect();
        self.m.rules_applied.dedup();
        let ranked = self.ranked_by_key(ctx).await?;
        let (rule, reason) = (
            sql::first_failed(&checks, |c| &c.rule),
            sql::first_failed(&checks, |c| &c.reason),
        );
        let checked = ctx
            .sql(&format!(
                "SELECT *, {rule} AS _rule, {reason} AS _reason FROM ({ranked})"
            ))
            .await?;
        // A view, not a staged copy: its few reads evaluate the checks again, which costs less
        // than writing every row once more and reading it back (0.94x the run's CPU at 9.9 M
        // calls, the same at 1 M).
        ctx.register_table(CHECKED.name(), checked.into_view())?;
        let quarantined = self.count_verdicts(ctx, &warn_rules).await?;
        let all_text = &raw.all_text;
        raw.quarantine_parts.push(format!("SELECT {all_text}, _source_row, _rule, _reason, CAST(NULL AS VARCHAR) AS _record FROM {CHECKED} WHERE _rule IS NOT NULL"));
        let quarantine = ctx.sql(&raw.quarantine_parts.join(" UNION ALL ")).await?;
        stage(ctx, raw_zone, staging, QUARANTINE_NEW.name(), quarantine).await?;
        Ok(quarantined)
    }

    /// Raw's rows with `_dup_rank` 2 on every row after the first (in source order) of a key
    /// that repeats. Found by aggregating the key alone (spilled to disk when large); rows are
    /// joined only when a key repeats, with the small side, the duplicates, held in memory.
    async fn ranked_by_key(&self, ctx: &SessionContext) -> Result<String, EtlError> {
        let (ds, staging) = (self.ds, self.staging);
        let raw_zone = zone(self.session, Zone::Raw)?;
        let unranked = format!("SELECT *, 1 AS _dup_rank FROM {RAW_NEW}");
        if ds.unique_key.is_empty() {
            return Ok(unranked);
        }
        {
            let keys = ds.unique_key.iter().map(|k| ident(k)).collect::<Vec<_>>();
            let repeated = ctx.sql(&format!("SELECT {k}, MIN(_source_row) AS _first FROM {RAW_NEW} GROUP BY {k} HAVING COUNT(*) > 1", k = keys.join(", "))).await?;
            if stage(ctx, raw_zone, staging, REPEATED_KEYS.name(), repeated).await? > 0 {
                let on = keys
                    .iter()
                    .map(|k| format!("d.{k} = r.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let dups = ctx.sql(&format!("SELECT r._source_row FROM {REPEATED_KEYS} d JOIN {RAW_NEW} r ON {on} WHERE r._source_row <> d._first")).await?;
                stage(ctx, raw_zone, staging, DUPLICATES.name(), dups).await?;
                return Ok(format!(
                    "SELECT r.*, CASE WHEN d._source_row IS NULL THEN 1 ELSE 2 END AS _dup_rank FROM {DUPLICATES} d RIGHT JOIN {RAW_NEW} r ON d._source_row = r._source_row"
                ));
            }
        }
        Ok(unranked)
    }

    /// One pass over `checked`: rows set aside by rule (into the manifest's quarantine
    /// reasons), and what each warn rule flags among the rows that pass (the group without a
    /// rule). Returns the rows set aside.
    async fn count_verdicts(
        &mut self,
        ctx: &SessionContext,
        warn_rules: &[&dapgov_spec::RowRule],
    ) -> Result<u64, EtlError> {
        let warn_sums: String = warn_rules
            .iter()
            .map(|r| {
                format!(
                    ", COALESCE(SUM(CASE WHEN COALESCE(({}), FALSE) THEN 0 ELSE 1 END), 0)",
                    r.check
                )
            })
            .collect();
        let groups = ctx
            .sql(&format!(
                "SELECT _rule, COUNT(*) AS n{warn_sums} FROM {CHECKED} GROUP BY _rule"
            ))
            .await?
            .collect()
            .await?;
        let mut quarantined = 0;
        for r in warn_rules {
            self.m.warnings_by_rule.insert(r.name.clone(), 0);
        }
        for b in &groups {
            // `_rule` is typed NULL when the dataset has no checks; counts are BIGINT.
            use datafusion::arrow::{compute::cast, datatypes::DataType};
            let arrow = |e: datafusion::arrow::error::ArrowError| {
                EtlError::Engine(format!("counting the checks' verdicts: {e}"))
            };
            let rule = cast(b.column(0), &DataType::Utf8).map_err(arrow)?;
            let rule = rule.as_string::<i32>();
            // Column 0 of `counts` is the rows of the group, then one per warn rule.
            let counts = b.columns()[1..]
                .iter()
                .map(|c| cast(c, &DataType::Int64))
                .collect::<Result<Vec<_>, _>>()
                .map_err(arrow)?;
            let n = |c: usize, i: usize| {
                counts[c]
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(i) as u64
            };
            for i in 0..b.num_rows() {
                if datafusion::arrow::array::Array::is_null(rule, i) {
                    for (w, r) in warn_rules.iter().enumerate() {
                        self.m.warnings_by_rule.insert(r.name.clone(), n(1 + w, i));
                    }
                } else {
                    self.m
                        .quarantine_reasons
                        .insert(rule.value(i).into(), n(0, i));
                    quarantined += n(0, i);
                }
            }
        }
        Ok(quarantined)
    }

    /// PII: a column the spec declares, or one its sample classifies, is protected whole;
    /// free text and every other text column are scanned value by value. Every finding in the
    /// rows that reach curated is counted.
    pub(super) async fn protect_pii(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        redactor: &Redactor,
    ) -> Result<Protection, EtlError> {
        let ds = self.ds;
        // Lineage columns aside, but for the input's file name, which often names a person.
        let string_cols: Vec<String> = raw
            .schema
            .fields()
            .iter()
            .filter(|f| {
                is_text(f.data_type()) && (!f.name().starts_with('_') || f.name() == "_source_file")
            })
            .map(|f| f.name().clone())
            .collect();
        let sample = ctx
            .sql(&format!(
                "SELECT * FROM {CHECKED} WHERE {PASSES} LIMIT {SAMPLE_ROWS}"
            ))
            .await?
            .collect()
            .await?;
        let mut protection = Protection {
            expressions: vec![],
            dropped: ds.drop.clone(),
        };
        for c in &string_cols {
            let declared = ds.columns.get(c).and_then(|r| r.pii);
            let class = declared.or_else(|| {
                if ds.free_text.contains(c) {
                    return None;
                }
                classify(&sample, c)
            });
            match class {
                Some(e) => {
                    self.m.pii_columns.insert(c.clone(), e.name().into());
                    if redactor.action(e) == pii::Action::Drop {
                        protection.dropped.push(c.clone());
                    } else {
                        protection.expressions.push((
                            c.clone(),
                            format!("dapgov_replace_value({}, {})", ident(c), lit(e.name())),
                        ));
                    }
                }
                None => {
                    if ds.free_text.contains(c) {
                        self.m.pii_columns.insert(c.clone(), "free text".into());
                    }
                    protection
                        .expressions
                        .push((c.clone(), format!("dapgov_redact_text({})", ident(c))));
                }
            }
        }
        self.progress("curated: counting PII");
        if !string_cols.is_empty() {
            let found = count_pii(
                ctx,
                &format!(
                    "SELECT {} FROM {CHECKED} WHERE {PASSES}",
                    string_cols
                        .iter()
                        .map(|c| ident(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .await?;
            self.m.pii_found = found
                .iter()
                .map(|(e, n)| (e.name().to_string(), *n))
                .collect();
        }
        Ok(protection)
    }

    /// Curated: the rows that passed, PII protected, derived metrics, a `year` partition.
    pub(super) async fn curated(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        protection: &Protection,
        quarantined: u64,
    ) -> Result<Curated, EtlError> {
        let ds = self.ds;
        let select = curated_columns(raw, protection);
        let derived: String = ds
            .derive
            .iter()
            .map(|d| format!(", {} AS {}", d.sql, ident(&d.name)))
            .collect();
        let (partition, derived_partition) = partition_column(ds);
        self.progress("curated: writing");
        let df = ctx
            .sql(&format!(
                "SELECT {}{derived}{derived_partition} FROM {CHECKED} WHERE {PASSES}",
                select.join(", ")
            ))
            .await?;
        let schema = df.schema().as_arrow().clone();
        // The writer's count: staged curated rows are checked against what typing kept before
        // anything is committed.
        let raw_zone = zone(self.session, Zone::Raw)?;
        let rows_out = stage(ctx, raw_zone, self.staging, CURATED_NEW.name(), df).await?;
        let typed = self.m.stages["raw"].rows_out;
        if rows_out + quarantined != typed {
            return Err(EtlError::Engine(format!(
                "curated would keep {rows_out} and quarantine {quarantined} of {typed} rows; refusing to lose rows"
            )));
        }
        self.m.stages.insert(
            "curated".into(),
            StageCounts {
                rows_in: typed,
                rows_out,
                rows_quarantined: quarantined,
            },
        );
        self.m.schema = columns_of(&schema, &[]);
        let (table, quarantine_table) = self.catalog_entries(raw, &schema, partition)?;
        Ok(Curated {
            table,
            schema,
            quarantine_table,
            rows_out,
            undated: undated_rows(ctx, ds).await?,
            protection: protection.clone(),
        })
    }

    /// The catalog entries of the dataset's curated and quarantine tables.
    fn catalog_entries(
        &self,
        raw: &Raw,
        schema: &Schema,
        partition: Option<String>,
    ) -> Result<(GlueTable, GlueTable), EtlError> {
        let dataset = self.opts.dataset;
        let curated = zone(self.session, Zone::Curated)?;
        let table = GlueTable {
            name: format!("curated_{dataset}"),
            location: delta::table_url(curated, dataset),
            format: delta::FORMAT.into(),
            columns: columns_of(
                schema,
                &partition.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
            partition_keys: columns_of(schema, &[])
                .into_iter()
                .filter(|c| partition.as_ref() == Some(&c.name))
                .collect(),
        };
        let raw_zone = zone(self.session, Zone::Raw)?;
        let quarantine_table = GlueTable {
            name: format!("quarantine_{dataset}"),
            location: delta::table_url(raw_zone, &format!("quarantine/{dataset}")),
            format: delta::FORMAT.into(),
            // The values as received, then where they came from, why they were set aside and,
            // for a record that did not fit the header, the record as written.
            columns: raw
                .cols
                .iter()
                .map(|c| Column {
                    name: c.clone(),
                    data_type: "string".into(),
                })
                .chain(QUARANTINE_COLUMNS.map(|(n, t)| Column {
                    name: n.into(),
                    data_type: t.into(),
                }))
                .collect(),
            partition_keys: vec![],
        };
        Ok((table, quarantine_table))
    }
}

/// Raw's columns as curated keeps them: dropped ones left out, protected ones replaced by
/// their protection.
fn curated_columns(raw: &Raw, protection: &Protection) -> Vec<String> {
    raw.schema
        .fields()
        .iter()
        .map(|f| f.name())
        .filter(|n| !protection.dropped.contains(*n))
        .map(
            |n| match protection.expressions.iter().find(|(c, _)| c == n) {
                Some((_, e)) => format!("{e} AS {}", ident(n)),
                None => ident(n),
            },
        )
        .collect()
}

/// The partition column: derived from the date column (and the SQL that derives it), or the
/// date column itself.
fn partition_column(ds: &Dataset) -> (Option<String>, String) {
    match (ds.partition(), &ds.date_column) {
        (PartitionBy::Year, Some(dc)) => (
            Some("year".to_string()),
            format!(", CAST(date_part('year', {}) AS INT) AS year", ident(dc)),
        ),
        (PartitionBy::Month, Some(dc)) => (
            Some("month".to_string()),
            format!(
                ", CAST(date_part('year', {d}) * 100 + date_part('month', {d}) AS INT) AS month",
                d = ident(dc)
            ),
        ),
        (PartitionBy::Date, Some(dc)) => (Some(dc.clone()), String::new()),
        _ => (None, String::new()),
    }
}

/// Staged curated rows without a date: counted once, for the load's predicate and the
/// trusted rebuild; a load that replaces the whole table needs neither.
async fn undated_rows(ctx: &SessionContext, ds: &Dataset) -> Result<u64, EtlError> {
    match (&ds.date_column, ds.load_mode()) {
        (Some(dc), mode) if mode != LoadMode::Replace => {
            count(
                ctx,
                &format!(
                    "SELECT COUNT(*) FROM {CURATED_NEW} WHERE {} IS NULL",
                    ident(dc)
                ),
            )
            .await
        }
        _ => Ok(0),
    }
}
