//! Trusted: the spec's tables rebuilt from curated, reconciled, committed.

use super::*;
use dapgov_spec::TrustedTable;

impl Run<'_> {
    /// Trusted: the spec's tables that read this dataset, rebuilt from curated only when the
    /// gates passed, each reconciled before it is written.
    pub(super) async fn trusted(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
        gate_failures: &[String],
    ) -> Result<(), EtlError> {
        let dataset = self.opts.dataset;
        if !gate_failures.is_empty() {
            for t in self
                .spec
                .trusted
                .iter()
                .filter(|t| t.inputs.iter().any(|i| i == dataset))
            {
                self.m.trusted.insert(
                    t.name.clone(),
                    TrustedOutcome::NotWritten {
                        gates: gate_failures.to_vec(),
                    },
                );
            }
            return Ok(());
        }
        self.progress("trusted: consolidating and reconciling");
        let info = self.load_info();
        let touched = self.touched_years(ctx, curated).await?;
        let load = LoadOf {
            dataset,
            run_id: &self.m.run_id,
            info: &info,
        };
        let rebuilt =
            rebuild_trusted(ctx, self.session, self.spec, &load, touched.as_ref()).await?;
        for (name, (status, output)) in rebuilt {
            self.m.trusted.insert(name.clone(), status);
            if let Some(o) = output {
                self.m.outputs.insert(format!("trusted.{name}"), o);
            }
        }
        Ok(())
    }

    /// The years this load changes in curated: those of the days it delivers (a
    /// `replace_partitions` load replaces the same days). None when that is not known
    /// (no date column, rows without a date, a load that replaces the table, nothing delivered).
    pub(super) async fn touched_years(
        &self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<Option<std::collections::BTreeSet<i32>>, EtlError> {
        let Some(dc) = self.ds.date_column.as_deref() else {
            return Ok(None);
        };
        if self.ds.load_mode() == LoadMode::Replace || curated.undated > 0 {
            return Ok(None);
        }
        let b = ctx
            .sql(&format!(
                "SELECT DISTINCT CAST(EXTRACT(YEAR FROM {}) AS VARCHAR) AS y FROM {CURATED_NEW}",
                ident(dc)
            ))
            .await?
            .collect()
            .await?;
        let years: std::collections::BTreeSet<i32> = string_values(&b, "y")
            .iter()
            .filter_map(|y| y.parse().ok())
            .collect();
        Ok((!years.is_empty()).then_some(years))
    }
}

/// What one trusted table's rebuild reads and writes with.
struct Rebuild<'a> {
    ctx: &'a SessionContext,
    session: &'a RoleSession,
    spec: &'a Spec,
    load: &'a LoadOf<'a>,
}

/// Per trusted table: what the load did to it, and where it was written.
type Rebuilt = std::collections::BTreeMap<String, (TrustedOutcome, Option<String>)>;

/// Rebuild the spec's trusted tables that read `dataset` from the catalog's curated tables,
/// each reconciled before it is committed. Returns, per table, its status and where it was
/// written.
pub(in crate::pipeline) async fn rebuild_trusted(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    load: &LoadOf<'_>,
    touched_years: Option<&std::collections::BTreeSet<i32>>,
) -> Result<Rebuilt, EtlError> {
    let database = &session.names.glue_database();
    let mut out = std::collections::BTreeMap::new();
    let catalog_tables = session.catalog.tables(database).await?;
    // Every dataset's curated table, this one's as just committed.
    for t in catalog_tables
        .iter()
        .filter(|t| t.name.starts_with("curated_"))
    {
        let _ = ctx.deregister_table(format!("curated.{}", &t.name["curated_".len()..]))?;
        query::register(ctx, t).await?;
    }
    let in_catalog = |name: String| catalog_tables.iter().any(|c| c.name == name);
    let rebuild = Rebuild {
        ctx,
        session,
        spec,
        load,
    };
    for t in spec
        .trusted
        .iter()
        .filter(|t| t.inputs.iter().any(|i| i == load.dataset))
    {
        let missing: Vec<String> = t
            .inputs
            .iter()
            .filter(|i| !in_catalog(format!("curated_{i}")))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let waiting = TrustedOutcome::Waiting { inputs: missing };
            out.insert(t.name.clone(), (waiting, None));
            continue;
        }
        // Only the years this load delivered, where the table declares that its years are
        // independent and it already exists (the catalog names it once it is committed);
        // else whole.
        let exists = in_catalog(format!("trusted_{}", t.name));
        let years = touched_years
            .filter(|_| exists && t.rebuild == dapgov_spec::TrustedRebuild::TouchedYears);
        out.insert(t.name.clone(), rebuild.one(t, years).await?);
    }
    Ok(out)
}

impl Rebuild<'_> {
    /// One trusted table: computed, reconciled and committed (again, after a concurrent
    /// load's commit: the curated tables then hold both loads), then its CSV copy and its
    /// catalog entry.
    async fn one(
        &self,
        t: &TrustedTable,
        years: Option<&std::collections::BTreeSet<i32>>,
    ) -> Result<(TrustedOutcome, Option<String>), EtlError> {
        let mut retried: u32 = 0;
        let (written, schema, by_year) = loop {
            let df = self.compute(t, years).await?;
            if let Some(refusal) =
                reconciliation_refusal(self.ctx, self.session, self.spec, t, &df).await?
            {
                return Ok((TrustedOutcome::Refused(refusal), None));
            }
            let schema = df.schema().as_arrow().clone();
            let by_year = t.partition_by_year && schema.field_with_name("year").is_ok();
            let load = load_of_years(t, years, by_year)?;
            let trusted = zone(self.session, Zone::Trusted)?;
            let committed = commit(
                self.ctx,
                trusted,
                &t.name,
                df,
                &load,
                &year_columns(by_year),
                self.load.info,
            )
            .await;
            match committed {
                Err(EtlError::Conflict(_)) if retried < MAX_REBUILDS => retried += 1,
                other => break (other?, schema, by_year),
            }
        };
        let location = self.publish(t, written, &schema, by_year).await?;
        Ok((
            TrustedOutcome::Written { rebuilds: retried },
            Some(location),
        ))
    }

    /// Computed once, then reconciled and committed from memory: both read it, and a trusted
    /// table is aggregates, small beside the curated tables it reads.
    async fn compute(
        &self,
        t: &TrustedTable,
        years: Option<&std::collections::BTreeSet<i32>>,
    ) -> Result<DataFrame, EtlError> {
        match years {
            Some(years) => touched_years_of(self.ctx, self.session, self.spec, t, years).await,
            None => Ok(query::read_only(self.ctx, &t.sql, &self.session.role)
                .await
                .map_err(|e| EtlError::Engine(format!("trusted table {}: {e}", t.name)))?
                .cache()
                .await?),
        }
    }

    /// The committed table's CSV copy and catalog entry; returns where it is, and at which
    /// version.
    async fn publish(
        &self,
        t: &TrustedTable,
        written: deltalake_core::DeltaTable,
        schema: &datafusion::arrow::datatypes::Schema,
        by_year: bool,
    ) -> Result<String, EtlError> {
        let trusted = zone(self.session, Zone::Trusted)?;
        let version = written.version().unwrap_or_default();
        let csv = format!(
            "{}{CSV_COPIES}/{}/{}/",
            trusted.url, t.name, self.load.run_id
        );
        self.ctx
            .read_table(delta::provider(written, None).await?)?
            .write_csv(&csv, DataFrameWriteOptions::new(), None)
            .await?;
        let location = delta::table_url(trusted, &t.name);
        let table = GlueTable {
            name: format!("trusted_{}", t.name),
            location: location.clone(),
            format: delta::FORMAT.into(),
            columns: columns_of(schema, if by_year { &["year"] } else { &[] }),
            partition_keys: year_partition(by_year),
        };
        let database = self.session.names.glue_database();
        self.session.catalog.put_table(&database, &table).await?;
        Ok(format!("{location} (version {version})"))
    }
}

/// How a rebuild replaces the table: the years it computed, or the whole table. Rows of some
/// years only must never replace the whole table.
fn load_of_years(
    t: &TrustedTable,
    years: Option<&std::collections::BTreeSet<i32>>,
    by_year: bool,
) -> Result<Load, EtlError> {
    match (years, by_year) {
        (Some(years), true) => Ok(Load::ReplaceWhere(format!(
            "year IN ({})",
            years
                .iter()
                .map(|y| y.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (Some(_), false) => Err(EtlError::Engine(format!(
            "trusted table {}: rebuild = \"touched_years\" needs a `year` column in its result",
            t.name
        ))),
        (None, _) => Ok(Load::Replace),
    }
}

/// A trusted table's rows for `years` only, computed from its inputs' rows of those years
/// (each input is seen, for this query, through a view of those years; the inputs are
/// restored after).
async fn touched_years_of(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    t: &dapgov_spec::TrustedTable,
    years: &std::collections::BTreeSet<i32>,
) -> Result<DataFrame, EtlError> {
    let list = years
        .iter()
        .map(|y| y.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut originals = vec![];
    for input in &t.inputs {
        let dc = spec
            .datasets
            .get(input)
            .and_then(|d| d.date_column.as_deref())
            .ok_or_else(|| {
                EtlError::Engine(format!(
                    "trusted table {}: input {input} has no date column",
                    t.name
                ))
            })?;
        let name = format!("curated.{input}");
        let view = ctx
            .sql(&format!(
                "SELECT * FROM {name} WHERE CAST(EXTRACT(YEAR FROM {}) AS INT) IN ({list})",
                ident(dc)
            ))
            .await?
            .into_view();
        if let Some(original) = ctx.deregister_table(&name)? {
            originals.push((name.clone(), original));
        }
        ctx.register_table(&name, view)?;
    }
    let df = match query::read_only(ctx, &t.sql, &session.role).await {
        Ok(df) => df.cache().await.map_err(EtlError::from),
        Err(e) => Err(EtlError::Engine(format!("trusted table {}: {e}", t.name))),
    };
    for (name, original) in originals {
        ctx.deregister_table(&name)?;
        ctx.register_table(&name, original)?;
    }
    df
}

/// Why a trusted table must not be written, when its reconciliation (`reconcile` SQL over the
/// table as `result`) is off by more than the spec's tolerance.
async fn reconciliation_refusal(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    t: &dapgov_spec::TrustedTable,
    df: &DataFrame,
) -> Result<Option<String>, EtlError> {
    let Some(rec) = &t.reconcile else {
        return Ok(None);
    };
    ctx.deregister_table("result")?;
    ctx.register_table("result", df.clone().into_view())?;
    let b = query::read_only(ctx, rec, &session.role)
        .await?
        .collect()
        .await?;
    let get = |name: &str| {
        b.first()
            .and_then(|b| b.column_by_name(name))
            .and_then(|a| {
                a.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
                    .map(|p| p.value(0))
            })
    };
    let (Some(expected), Some(actual)) = (get("expected"), get("actual")) else {
        return Err(EtlError::Engine(format!(
            "trusted table {}: reconcile must return DOUBLE columns `expected` and `actual`",
            t.name
        )));
    };
    let diff = if expected == 0.0 {
        actual.abs()
    } else {
        ((actual - expected) / expected).abs()
    };
    Ok((diff > spec.etl.reconciliation_tolerance).then(|| {
        format!(
            "not written: reconciliation off by {:.4}% (expected {expected}, actual {actual})",
            diff * 100.0
        )
    }))
}
