//! Publish: the load committed to the dataset's Delta tables.

use super::*;

impl Run<'_> {
    /// Publish by committing the load to the dataset's tables: raw and quarantine keep every
    /// delivery (appended, the etl role's, to investigate a load); curated takes the load only
    /// when every gate passed, as the spec's `load` says, so nothing reaches the analyst before
    /// then. Each commit is atomic; the catalog names the tables, not their versions.
    pub(super) async fn publish(
        &mut self,
        ctx: &SessionContext,
        raw: Raw,
        curated: &Curated,
        gates_passed: bool,
    ) -> Result<(), EtlError> {
        self.progress("publishing");
        failpoint("before-publish");
        let (dataset, info) = (self.opts.dataset, self.load_info());
        let curated_zone = zone(self.session, Zone::Curated)?;
        let (raw_version, quarantine_version) = self.commit_raw_and_quarantine(ctx).await?;
        let mut tables = vec![
            (&raw.table, "raw", raw_version),
            (&curated.quarantine_table, "quarantine", quarantine_version),
        ];
        if gates_passed {
            self.protect_earlier_loads(ctx, curated).await?;
            let load = self.curated_load(ctx, curated).await?;
            let partition_by: Vec<String> = curated
                .table
                .partition_keys
                .iter()
                .map(|c| c.name.clone())
                .collect();
            // The writer counts the rows it adds; what a load replaces is counted here.
            let mut info = info.clone();
            info["rows_replaced"] = self.m.load.rows_replaced.into();
            let (written, committed) = commit_delivery(
                ctx,
                curated_zone,
                dataset,
                ctx.table(CURATED_NEW.name()).await?,
                &load,
                &partition_by,
                &info,
                &self.txn,
            )
            .await?;
            let version = written.version().unwrap_or_default();
            self.m.load.curated_version = Some(version);
            failpoint("after-curated-commit");
            if committed {
                self.m.load.retries = delta::retries_of_newest(&written).await?;
            } else {
                self.m.warnings.push(format!(
                    "curated.{dataset} already held this delivery (generation {} of {}, committed by an attempt that did not finish): not committed again",
                    self.txn.version, self.txn.app_id
                ));
            }
            // The City's CSV copy of what each load delivered.
            let csv = format!(
                "{}{CSV_COPIES}/{dataset}/{}/",
                curated_zone.url, self.m.run_id
            );
            ctx.table(CURATED_NEW.name())
                .await?
                .write_csv(&csv, DataFrameWriteOptions::new(), None)
                .await?;
            self.m.outputs.insert("curated_csv".into(), csv);
            tables.push((&curated.table, "curated", version));
        }
        for (t, what, version) in tables {
            self.session.catalog.put_table(self.database, t).await?;
            self.m
                .outputs
                .insert(what.into(), format!("{} (version {version})", t.location));
        }
        Ok(())
    }

    /// Raw and quarantine take every delivery that reaches publish, whatever the gates said.
    async fn commit_raw_and_quarantine(
        &self,
        ctx: &SessionContext,
    ) -> Result<(u64, u64), EtlError> {
        let (dataset, info) = (self.opts.dataset, self.load_info());
        let raw_zone = zone(self.session, Zone::Raw)?;
        let (raw_table, _) = commit_delivery(
            ctx,
            raw_zone,
            dataset,
            ctx.table(RAW_NEW.name()).await?,
            &Load::Append,
            &[],
            &info,
            &self.txn,
        )
        .await?;
        let lineage = format!(
            "SELECT *, {} AS _run_id, {} AS _source_file, {} AS _source_sha256 FROM {QUARANTINE_NEW}",
            lit(&self.m.run_id),
            lit(&self.m.input.file),
            lit(&self.m.input.sha256)
        );
        let (quarantine_table, _) = commit_delivery(
            ctx,
            raw_zone,
            &format!("quarantine/{dataset}"),
            ctx.sql(&lineage).await?,
            &Load::Append,
            &[],
            &info,
            &self.txn,
        )
        .await?;
        let (raw_version, quarantine_version) = (
            raw_table.version().unwrap_or_default(),
            quarantine_table.version().unwrap_or_default(),
        );
        Ok((raw_version, quarantine_version))
    }

    /// A column this load protects that the table's newest version recorded unprotected
    /// (declared personal information since): the rows earlier loads left in curated get the
    /// same protection, in a commit of their own before this load's, so the current table
    /// never holds it in the clear. (Versions before stay unreadable to roles but `etl`, and
    /// cannot be restored: `weaker_protection_at`.) A whole-table replace needs none.
    pub(super) async fn protect_earlier_loads(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<(), EtlError> {
        if self.ds.load_mode() == LoadMode::Replace {
            return Ok(());
        }
        let (dataset, zone) = (self.opts.dataset, zone(self.session, Zone::Curated)?);
        let table = delta::open(zone, dataset).await?;
        // Loads written before protection was recorded are left as they are.
        let Some((_, Some(before))) = crate::pipeline::protection_by_version(&table).await?.pop()
        else {
            return Ok(());
        };
        let Some(current) = self
            .session
            .catalog
            .table(self.database, &curated.table.name)
            .await?
        else {
            return Ok(());
        };
        let columns: Vec<&Column> = current
            .columns
            .iter()
            .chain(&current.partition_keys)
            .collect();
        let newly: Vec<&String> = self
            .m
            .pii_columns
            .keys()
            .filter(|c| !before.contains(*c) && columns.iter().any(|k| &&k.name == c))
            .collect();
        if newly.is_empty() {
            return Ok(());
        }
        self.progress("curated: protecting earlier loads");
        let protection = &curated.protection;
        let select: Vec<String> = columns
            .iter()
            .map(|k| {
                let c = &k.name;
                if !newly.contains(&c) {
                    return ident(c);
                }
                match protection.expressions.iter().find(|(e, _)| e == c) {
                    Some((_, e)) => format!("{e} AS {}", ident(c)),
                    None => format!("CAST(NULL AS VARCHAR) AS {}", ident(c)),
                }
            })
            .collect();
        query::register_version(ctx, &current, None).await?;
        let df = ctx
            .sql(&format!(
                "SELECT {} FROM curated.{}",
                select.join(", "),
                ident(dataset)
            ))
            .await?;
        let mut info = self.load_info();
        info["operation"] = "protect earlier loads".into();
        info["newly_protected"] = serde_json::json!(newly);
        let partition_by: Vec<String> = current
            .partition_keys
            .iter()
            .map(|c| c.name.clone())
            .collect();
        delta::write(ctx, table, df, &Load::Replace, &partition_by, &info).await?;
        self.m.warnings.push(format!(
            "{} now protected: the rows earlier loads left in curated.{dataset} were protected the same way",
            ingest::name_list(&newly.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        ));
        Ok(())
    }

    /// What a commit records of the load, for `etl history`.
    pub(super) fn load_info(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.m.run_id,
            "input": self.m.input.file,
            "sha256": self.m.input.sha256,
            "role": self.session.principal_arn,
            "load": self.ds.load_mode().as_str(),
            crate::pipeline::PROTECTED: self.m.pii_columns,
            crate::pipeline::DELIVERY: {
                "app_id": self.txn.app_id,
                "generation": self.txn.version,
                "landing_key": self.m.input.delivered_key.as_ref().unwrap_or(&self.m.input.landing_object),
                "landing_version": self.m.input.delivered_version,
            },
        })
    }

    /// How this load changes curated: the spec's `load`; for `replace_partitions`, the days
    /// it delivers (a typed predicate, so only files holding those days are rewritten).
    pub(super) async fn curated_load(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<Load, EtlError> {
        let mode = self.ds.load_mode();
        self.m.load.mode = mode.as_str().into();
        self.m.load.rows_added = curated.rows_out;
        let load = match mode {
            LoadMode::Append => Load::Append,
            LoadMode::Replace => Load::Replace,
            LoadMode::ReplacePartitions => {
                let dc = self.ds.date_column.as_deref().ok_or_else(|| {
                    EtlError::Engine("replace_partitions needs a date column".into())
                })?;
                let as_text = ctx.sql(&format!("SELECT DISTINCT CAST({} AS VARCHAR) AS d FROM {CURATED_NEW} WHERE {} IS NOT NULL", ident(dc), ident(dc))).await?.collect().await?;
                let days = string_values(&as_text, "d");
                let is_date = curated.schema.field_with_name(dc).is_ok_and(|f| {
                    f.data_type() == &datafusion::arrow::datatypes::DataType::Date32
                });
                let mut terms = vec![];
                if !days.is_empty() {
                    let values = days
                        .iter()
                        .map(|d| {
                            if is_date {
                                format!("DATE {}", lit(d))
                            } else {
                                lit(d)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    terms.push(if is_date {
                        format!("{} IN ({values})", ident(dc))
                    } else {
                        format!("CAST({} AS VARCHAR) IN ({values})", ident(dc))
                    });
                }
                if curated.undated > 0 {
                    terms.push(format!("{} IS NULL", ident(dc)));
                }
                self.m.load.days = days.len() as u64;
                Load::ReplaceWhere(if terms.is_empty() {
                    "FALSE".into()
                } else {
                    terms.join(" OR ")
                })
            }
        };
        // What the load takes out of curated: the rows it replaces.
        let replaced = match &load {
            Load::Append => None,
            Load::Replace => Some("TRUE".to_string()),
            Load::ReplaceWhere(p) => Some(p.clone()),
        };
        if let Some(predicate) = replaced {
            let table = delta::open(zone(self.session, Zone::Curated)?, self.opts.dataset).await?;
            if table.version().is_some() {
                ctx.register_table(CURATED_BEFORE.name(), delta::provider(table, None).await?)?;
                self.m.load.rows_replaced = count(
                    ctx,
                    &format!("SELECT COUNT(*) FROM {CURATED_BEFORE} WHERE {predicate}"),
                )
                .await?;
                ctx.deregister_table(CURATED_BEFORE.name())?;
            }
        }
        Ok(load)
    }
}
