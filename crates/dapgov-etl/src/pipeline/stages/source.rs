//! Landing (the file as received) and ingest (staged as text columns), and the engine the
//! later stages share.

use super::*;

impl Run<'_> {
    /// Landing: the file as received, never changed afterwards.
    pub(super) async fn landing(&mut self) -> Result<StorePath, EtlError> {
        self.progress("landing: storing the input");
        let landing = zone(self.session, Zone::Landing)?;
        let key = crate::pipeline::landing::landing_key(
            self.opts.dataset,
            &self.m.input.sha256,
            &self.m.input.file,
        );
        if landing.store.head(&key).await.is_err() {
            upload(self.opts.input, landing, &key).await?;
        }
        self.m.input.landing_object = format!("{}{}", landing.url, key);
        Ok(key)
    }

    /// Ingest from the landing copy, as the role, into a staged table of text columns.
    pub(super) async fn ingest(
        &mut self,
        landing_key: &StorePath,
    ) -> Result<StagedSource, EtlError> {
        self.progress("ingest: reading the landing copy");
        let (ds, origin) = (self.ds, &self.origin);
        let name_columns = |headers: &[String]| -> Result<Vec<String>, EtlError> {
            let cols: Vec<String> = ingest::snake_case_names(headers)
                .into_iter()
                .map(|c| ds.rename.get(&c).cloned().unwrap_or(c))
                .collect();
            match ds.required.iter().find(|r| !cols.contains(r)) {
                Some(req) => Err(EtlError::input(
                    origin,
                    format!(
                        "required column `{req}` is missing; the file has columns {}",
                        ingest::name_list(&cols)
                    ),
                )),
                None => Ok(cols),
            }
        };
        let source_key = StorePath::from(format!("{}source/part-0.parquet", self.staging));
        let (landing, raw) = (
            zone(self.session, Zone::Landing)?,
            zone(self.session, Zone::Raw)?,
        );
        let mut source =
            stage_source(landing, landing_key, raw, source_key, origin, name_columns).await?;
        self.m.warnings.append(&mut source.warnings);
        Ok(source)
    }

    /// The run's DataFusion session, with dapgov's functions and the staged source, and the
    /// redactor its functions use.
    pub(super) async fn engine(&self) -> Result<(SessionContext, Arc<Redactor>), EtlError> {
        let ctx = query::context(self.session)?;
        let key = self.session.keys.pseudonymisation_key().await?;
        let redactor = Arc::new(Redactor::new(self.spec.etl.pii.clone(), &key));
        register_udfs(&ctx, redactor.clone());
        ctx.register_parquet(
            SOURCE.name(),
            &format!(
                "{}{}source/",
                zone(self.session, Zone::Raw)?.url,
                self.staging
            ),
            ParquetReadOptions::default(),
        )
        .await?;
        Ok((ctx, redactor))
    }
}
