//! The Glue catalog database and security configuration: read, put, deleted; and catalog tables as the Inventory has them.

use crate::AwsTarget;
use crate::error::{build, code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

/// A Glue table as the Inventory records it; its format from its classification, or else
/// from its input format.
pub(crate) fn glue_table(tb: &aws_sdk_glue::types::Table) -> GlueTable {
    let sd = tb.storage_descriptor();
    let col = |c: &aws_sdk_glue::types::Column| Column {
        name: c.name().to_string(),
        data_type: c.r#type().unwrap_or("string").to_string(),
    };
    let format = tb
        .parameters()
        .and_then(|p| p.get("classification").cloned())
        .or_else(|| {
            sd.and_then(|s| s.input_format()).map(|f| {
                if f.to_lowercase().contains("parquet") {
                    "parquet".into()
                } else {
                    "csv".into()
                }
            })
        })
        .unwrap_or_else(|| "csv".into());
    GlueTable {
        name: tb.name().to_string(),
        location: sd
            .and_then(|s| s.location())
            .unwrap_or_default()
            .to_string(),
        format,
        columns: sd
            .map(|s| s.columns().iter().map(col).collect())
            .unwrap_or_default(),
        partition_keys: tb.partition_keys().iter().map(col).collect(),
    }
}

async fn read_databases(
    t: &AwsTarget,
    project: &str,
) -> TargetResult<BTreeMap<String, GlueDatabase>> {
    let g = &t.clients.glue;
    let db_prefix = format!("{}_", project.replace('-', "_"));
    // Every page: with many datasets one page would silently miss tables.
    let mut names = vec![];
    let mut pages = g.get_databases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("glue:GetDatabases", "the catalog", e))?;
        names.extend(
            page.database_list()
                .iter()
                .map(|d| d.name().to_string())
                .filter(|n| n.starts_with(&db_prefix)),
        );
    }
    let mut databases = BTreeMap::new();
    for name in names {
        let mut tables = BTreeMap::new();
        let mut pages = g.get_tables().database_name(&name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("glue:GetTables", &name, e))?;
            tables.extend(
                page.table_list()
                    .iter()
                    .map(|tb| (tb.name().to_string(), glue_table(tb))),
            );
        }
        databases.insert(
            name.clone(),
            GlueDatabase {
                name,
                tables: Some(tables),
            },
        );
    }
    Ok(databases)
}

async fn read_security_configurations(
    t: &AwsTarget,
    project: &str,
) -> TargetResult<BTreeMap<String, GlueSecurityConfiguration>> {
    let g = &t.clients.glue;
    let mut configs = vec![];
    let mut pages = g.get_security_configurations().into_paginator().send();
    while let Some(page) = pages.next().await {
        configs.extend(
            page.map_err(|e| sdk("glue:GetSecurityConfigurations", "the catalog", e))?
                .security_configurations()
                .iter()
                .cloned(),
        );
    }
    Ok(configs
        .iter()
        .filter(|c| {
            c.name()
                .is_some_and(|n| n.starts_with(&project_prefix(project)))
        })
        .map(|c| {
            let e = c.encryption_configuration();
            let name = c.name().unwrap_or_default().to_string();
            (
                name.clone(),
                GlueSecurityConfiguration {
                    name,
                    s3_kms_key: e
                        .and_then(|e| e.s3_encryption().first())
                        .and_then(|s| s.kms_key_arn())
                        .map(str::to_string),
                    cloudwatch_kms_key: e
                        .and_then(|e| e.cloud_watch_encryption())
                        .and_then(|s| s.kms_key_arn())
                        .map(str::to_string),
                    job_bookmarks_kms_key: e
                        .and_then(|e| e.job_bookmarks_encryption())
                        .and_then(|s| s.kms_key_arn())
                        .map(str::to_string),
                },
            )
        })
        .collect())
}

async fn put_security_configuration(
    t: &AwsTarget,
    want: GlueSecurityConfiguration,
    create: bool,
) -> TargetResult<()> {
    use aws_sdk_glue::types::*;
    let g = &t.clients.glue;
    let what = format!("Glue security configuration {}", want.name);
    // Security configurations cannot be changed in place.
    if !create {
        g.delete_security_configuration()
            .name(&want.name)
            .send()
            .await
            .map_err(|e| sdk("glue:DeleteSecurityConfiguration", &what, e))?;
    }
    let conf = EncryptionConfiguration::builder()
        .set_s3_encryption(want.s3_kms_key.as_ref().map(|k| {
            vec![
                S3Encryption::builder()
                    .s3_encryption_mode(S3EncryptionMode::Ssekms)
                    .kms_key_arn(k)
                    .build(),
            ]
        }))
        .set_cloud_watch_encryption(want.cloudwatch_kms_key.as_ref().map(|k| {
            CloudWatchEncryption::builder()
                .cloud_watch_encryption_mode(CloudWatchEncryptionMode::Ssekms)
                .kms_key_arn(k)
                .build()
        }))
        .set_job_bookmarks_encryption(want.job_bookmarks_kms_key.as_ref().map(|k| {
            JobBookmarksEncryption::builder()
                .job_bookmarks_encryption_mode(JobBookmarksEncryptionMode::Csekms)
                .kms_key_arn(k)
                .build()
        }))
        .build();
    g.create_security_configuration()
        .name(&want.name)
        .encryption_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("glue:CreateSecurityConfiguration", &what, e))?;
    Ok(())
}

async fn put_database(t: &AwsTarget, want: GlueDatabase) -> TargetResult<()> {
    let what = format!("Glue database {}", want.name);
    let input = aws_sdk_glue::types::DatabaseInput::builder()
        .name(&want.name)
        .build()
        .map_err(|e| build("a Glue database", e))?;
    match t
        .clients
        .glue
        .create_database()
        .database_input(input)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("AlreadyExistsException") => Ok(()),
        Err(e) => Err(sdk("glue:CreateDatabase", &what, e)),
    }
}

async fn delete_security_configuration(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .glue
        .delete_security_configuration()
        .name(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("glue:DeleteSecurityConfiguration", &what, e))
}

async fn delete_database(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .glue
        .delete_database()
        .name(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("glue:DeleteDatabase", &what, e))
}

impl AwsResource for GlueDatabase {
    const READ_ACTIONS: &'static [&'static str] = &["glue:GetDatabases", "glue:GetTables"];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(read_databases(t, scope.project).await?.into())
    }
    // CreateDatabase of a database that exists changes nothing: one call for both.
    async fn put(t: &AwsTarget, want: Self, _have: Option<Self>) -> TargetResult<()> {
        put_database(t, want).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete_database(t, c).await
    }
}

impl AwsResource for GlueSecurityConfiguration {
    const READ_ACTIONS: &'static [&'static str] = &["glue:GetSecurityConfigurations"];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(read_security_configurations(t, scope.project).await?.into())
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put_security_configuration(t, want, have.is_none()).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete_security_configuration(t, c).await
    }
}
