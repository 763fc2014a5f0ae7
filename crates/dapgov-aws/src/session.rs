//! Work done as one of the platform's roles: the caller assumes the role (STS), and the ETL
//! and `query` get the zone buckets, the pseudonymisation key, CloudWatch metrics and the Glue
//! catalog through clients holding only that role's credentials.

use crate::error::{build, code, sdk};
use crate::store::S3ZoneStore;
use crate::{AwsTarget, Clients};
use aws_credential_types::Credentials;
use dapgov_inventory::names::SERVICE_BUCKETS;
use dapgov_inventory::{Column, DELTA_FORMAT, GlueTable};
use dapgov_target::{
    CatalogService, KeyService, MetricDatum, MetricsSink, RoleSession, TargetError, TargetResult,
    ZoneStore,
};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where the wrapped pseudonymisation key lives, in the curated zone.
pub const PSEUDONYMISATION_KEY_OBJECT: &str = "_keys/pseudonymisation.key";

/// `conf` with the credentials STS returned for `role_arn`; with the assumed role's ARN.
pub(crate) fn assumed_conf(
    conf: &aws_types::SdkConfig,
    assumed: &aws_sdk_sts::operation::assume_role::AssumeRoleOutput,
    role_arn: &str,
) -> TargetResult<(aws_types::SdkConfig, String)> {
    let c = assumed.credentials().ok_or_else(|| {
        TargetError::Other(format!(
            "sts:AssumeRole on {role_arn} returned no credentials"
        ))
    })?;
    let principal = assumed
        .assumed_role_user()
        .map(|u| u.arn().to_string())
        .unwrap_or_else(|| role_arn.to_string());
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "dapgov-assumed-role",
    );
    Ok((
        conf.to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build(),
        principal,
    ))
}

pub(crate) async fn session(t: &AwsTarget, project: &str, role: &str) -> TargetResult<RoleSession> {
    let conf = t.conf.as_ref().ok_or_else(|| {
        TargetError::Other("role sessions need a target loaded from the AWS configuration".into())
    })?;
    let names = t.names(project).await?;
    let role_arn = names.role_arn(role);
    let assumed = t
        .clients
        .sts
        .assume_role()
        .role_arn(&role_arn)
        .role_session_name(format!("dapgov-{role}"))
        .send()
        .await
        .map_err(|e| match sdk("sts:AssumeRole", &role_arn, e) {
            TargetError::AccessDenied {
                action,
                resource,
                reason,
                ..
            } => TargetError::AccessDenied {
                principal: "the caller".into(),
                action,
                resource,
                reason: Some(format!(
                    "{}; the {role} role's trust policy must allow your identity",
                    reason.unwrap_or_default()
                )),
            },
            other => other,
        })?;
    let (role_conf, principal) = assumed_conf(conf, &assumed, &role_arn)?;
    let clients = Clients::from_conf(&role_conf);

    // The zone buckets are found as the caller (tags say which zone each serves); their data is
    // then reached only with the role's credentials.
    let mut zones = BTreeMap::new();
    let account = t.account().await?;
    let scope = crate::resources::ReadScope {
        project,
        account: &account,
    };
    let buckets =
        <dapgov_inventory::Bucket as crate::resources::AwsResource>::read_all(t, &scope).await?;
    for (name, b) in buckets.resources {
        let Some(zone) = names
            .zone_of_bucket(&name, &b)
            .filter(|z| !SERVICE_BUCKETS.contains(&z.as_str()))
        else {
            continue;
        };
        let kms_key = b
            .encryption
            .as_ref()
            .filter(|e| e.algorithm == "aws:kms")
            .and_then(|e| e.kms_key.clone());
        let store = S3ZoneStore {
            client: clients.s3.clone(),
            bucket: name.clone(),
            kms_key,
            principal: principal.clone(),
        };
        zones.insert(
            zone,
            ZoneStore {
                bucket: name.clone(),
                url: format!("s3://{name}/"),
                store: Arc::new(store),
            },
        );
    }
    let curated = zones.get("curated").map(|z| z.store.clone());
    let athena = crate::athena::AthenaSql::new(
        clients.athena.clone(),
        names.workgroup(),
        names.glue_database(),
    );
    Ok(RoleSession {
        role: role.into(),
        keys: Arc::new(AwsKeys {
            kms: clients.kms.clone(),
            key_alias: names.key_alias_id("pii"),
            store: curated,
            project: project.into(),
        }),
        names,
        principal_arn: principal.clone(),
        zones,
        metrics: Arc::new(AwsMetrics {
            cloudwatch: clients.cloudwatch.clone(),
        }),
        catalog: Arc::new(AwsCatalog {
            glue: clients.glue.clone(),
        }),
        audit: Arc::new(AwsAuditLog { principal }),
        sql: Some(Arc::new(athena)),
    })
}

/// A refusal made before any AWS call leaves nothing for CloudTrail to record (it logs API
/// calls), so it is reported to the operator with the assumed role's identity.
struct AwsAuditLog {
    principal: String,
}

#[async_trait::async_trait]
impl dapgov_target::AuditLog for AwsAuditLog {
    async fn refused(&self, action: &str, resource: &str, reason: &str) -> TargetResult<()> {
        tracing::warn!(principal = %self.principal, action, resource, "refused: {reason}");
        Ok(())
    }

    /// CloudTrail records the S3 writes beneath the operation as the assumed role; the
    /// operation itself is reported to the operator.
    async fn allowed(&self, action: &str, resource: &str, detail: &str) -> TargetResult<()> {
        tracing::info!(principal = %self.principal, action, resource, "{detail}");
        Ok(())
    }
}

/// The pseudonymisation secret is a KMS data key under the PII key: generated once, kept only
/// wrapped (in the curated zone), unwrapped per run by roles the PII key lets decrypt.
struct AwsKeys {
    kms: aws_sdk_kms::Client,
    key_alias: String,
    store: Option<Arc<dyn ObjectStore>>,
    project: String,
}

impl AwsKeys {
    fn context(&self) -> std::collections::HashMap<String, String> {
        [
            ("purpose".to_string(), "pseudonymisation".to_string()),
            ("project".to_string(), self.project.clone()),
        ]
        .into()
    }

    async fn unwrap(&self, wrapped: &[u8]) -> TargetResult<Vec<u8>> {
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(aws_smithy_types::Blob::new(wrapped))
            .set_encryption_context(Some(self.context()))
            .send()
            .await
            .map_err(|e| sdk("kms:Decrypt", &self.key_alias, e))?;
        out.plaintext()
            .map(|p| p.as_ref().to_vec())
            .ok_or_else(|| TargetError::Other("kms:Decrypt returned no plaintext".into()))
    }
}

#[async_trait::async_trait]
impl KeyService for AwsKeys {
    async fn pseudonymisation_key(&self) -> TargetResult<Vec<u8>> {
        let store = self.store.as_ref().ok_or_else(|| {
            TargetError::Other("the curated zone does not exist; run `dapgov apply`".into())
        })?;
        let at = object_store::path::Path::from(PSEUDONYMISATION_KEY_OBJECT);
        match store.get(&at).await {
            Ok(got) => {
                return self
                    .unwrap(&got.bytes().await.map_err(TargetError::other)?)
                    .await;
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(TargetError::other(e)),
        }
        let out = self
            .kms
            .generate_data_key()
            .key_id(&self.key_alias)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .set_encryption_context(Some(self.context()))
            .send()
            .await
            .map_err(|e| sdk("kms:GenerateDataKey", &self.key_alias, e))?;
        let (Some(plain), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(TargetError::Other(
                "kms:GenerateDataKey returned no key".into(),
            ));
        };
        // Create only: when two first runs race, the one that lost reads the winner's key, so
        // hashed values from both still join.
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match store
            .put_opts(&at, PutPayload::from(wrapped.as_ref().to_vec()), create)
            .await
        {
            Ok(_) => Ok(plain.as_ref().to_vec()),
            Err(object_store::Error::AlreadyExists { .. }) => {
                self.unwrap(
                    &store
                        .get(&at)
                        .await
                        .map_err(TargetError::other)?
                        .bytes()
                        .await
                        .map_err(TargetError::other)?,
                )
                .await
            }
            Err(e) => Err(TargetError::other(e)),
        }
    }
}

struct AwsMetrics {
    cloudwatch: aws_sdk_cloudwatch::Client,
}

#[async_trait::async_trait]
impl MetricsSink for AwsMetrics {
    async fn put(&self, namespace: &str, data: &[MetricDatum]) -> TargetResult<()> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as Datum, StandardUnit};
        let data: Vec<Datum> = data
            .iter()
            .map(|d| {
                Datum::builder()
                    .metric_name(&d.name)
                    .value(d.value)
                    .unit(StandardUnit::from(d.unit.as_str()))
                    .set_dimensions(Some(
                        d.dimensions
                            .iter()
                            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build()
            })
            .collect();
        // PutMetricData takes at most 1,000 data per call.
        for chunk in data.chunks(1000) {
            self.cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    sdk(
                        "cloudwatch:PutMetricData",
                        &format!("namespace {namespace}"),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

struct AwsCatalog {
    glue: aws_sdk_glue::Client,
}

fn glue_columns(cols: &[Column]) -> TargetResult<Vec<aws_sdk_glue::types::Column>> {
    cols.iter()
        .map(|c| {
            aws_sdk_glue::types::Column::builder()
                .name(&c.name)
                .r#type(&c.data_type)
                .build()
                .map_err(|e| build("a Glue column", e))
        })
        .collect()
}

#[async_trait::async_trait]
impl CatalogService for AwsCatalog {
    async fn put_table(&self, database: &str, table: &GlueTable) -> TargetResult<()> {
        use aws_sdk_glue::types::{SerDeInfo, StorageDescriptor, TableInput};
        let (input_format, output_format, serde) = match table.format.as_str() {
            // A Delta table's data files are Parquet.
            "parquet" | DELTA_FORMAT => (
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            ),
            _ => (
                "org.apache.hadoop.mapred.TextInputFormat",
                "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            ),
        };
        let delta = table.format == DELTA_FORMAT;
        let mut serde_info = SerDeInfo::builder().serialization_library(serde);
        if delta {
            // Athena and Spark find a Delta table's files through its log, at `path`.
            serde_info = serde_info.parameters("path", &table.location);
        }
        let storage = StorageDescriptor::builder()
            .set_columns(Some(glue_columns(&table.columns)?))
            .location(&table.location)
            .input_format(input_format)
            .output_format(output_format)
            .serde_info(serde_info.build())
            .build();
        let mut input = TableInput::builder()
            .name(&table.name)
            .table_type("EXTERNAL_TABLE")
            .storage_descriptor(storage)
            .set_partition_keys(Some(glue_columns(&table.partition_keys)?))
            .parameters("classification", &table.format);
        if delta {
            // Athena's native Delta Lake reader (`table_type`), Spark and Glue jobs (`provider`).
            input = input
                .parameters("table_type", "DELTA")
                .parameters("spark.sql.sources.provider", "delta");
        } else if table.partition_keys.iter().any(|k| k.name == "year") {
            // Athena finds year partitions by projection, so no partition needs registering per load.
            input = input
                .parameters("projection.enabled", "true")
                .parameters("projection.year.type", "integer")
                .parameters("projection.year.range", "1990,2100")
                .parameters(
                    "storage.location.template",
                    format!("{}year=${{year}}/", table.location),
                );
        }
        let input = input.build().map_err(|e| build("a Glue table", e))?;
        let what = format!("table {database}.{}", table.name);
        match self
            .glue
            .create_table()
            .database_name(database)
            .table_input(input.clone())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("AlreadyExistsException") => {
                self.glue
                    .update_table()
                    .database_name(database)
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| sdk("glue:UpdateTable", &what, e))?;
                Ok(())
            }
            Err(e) => Err(sdk("glue:CreateTable", &what, e)),
        }
    }

    async fn tables(&self, database: &str) -> TargetResult<Vec<GlueTable>> {
        let mut out = vec![];
        let mut pages = self
            .glue
            .get_tables()
            .database_name(database)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk("glue:GetTables", &format!("database {database}"), e))?;
            out.extend(
                page.table_list()
                    .iter()
                    .map(crate::resources::glue::glue_table),
            );
        }
        Ok(out)
    }

    async fn table(&self, database: &str, name: &str) -> TargetResult<Option<GlueTable>> {
        match self
            .glue
            .get_table()
            .database_name(database)
            .name(name)
            .send()
            .await
        {
            Ok(got) => Ok(got.table().map(crate::resources::glue::glue_table)),
            Err(e) if code(&e) == Some("EntityNotFoundException") => Ok(None),
            Err(e) => Err(sdk("glue:GetTable", &format!("{database}.{name}"), e)),
        }
    }
}
