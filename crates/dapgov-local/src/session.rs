//! Work done as one of the platform's roles.

use crate::control::record_file;
use crate::*;
use dapgov_inventory::names::s3_arn;
use dapgov_inventory::*;
use dapgov_policy::{Document, Request};
use dapgov_target::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A session as `role`: every store, key, metric and catalog call is checked against the
/// role's policies and recorded in the trail.
pub(crate) fn open(t: &LocalTarget, project: &str, role: &str) -> TargetResult<RoleSession> {
    let names = Names::new(project, ACCOUNT, &t.region);
    let caller = caller(t, &names, role)?;
    let keys = t.keys_by_id()?;
    let key_by_arn: BTreeMap<String, KeyInfo> =
        keys.values().map(|k| (k.arn.clone(), k.clone())).collect();
    let data_event_buckets = t.data_event_buckets()?;
    let mut zones = BTreeMap::new();
    for (name, v) in t.records(ResourceKind::Bucket)? {
        let b: Bucket = serde_json::from_value(v).map_err(TargetError::other)?;
        let Some(zone) = names.zone_of_bucket(&name, &b) else {
            continue;
        };
        let key = b
            .encryption
            .as_ref()
            .filter(|e| e.algorithm == "aws:kms")
            .and_then(|e| e.kms_key.as_ref())
            .and_then(|arn| key_by_arn.get(arn))
            .cloned();
        let info = BucketInfo {
            name: name.clone(),
            arn: s3_arn(&name),
            dir: t.bucket_dir(&name),
            policy: b.policy.as_ref().and_then(|p| Document::parse(p).ok()),
            key,
            data_events: data_event_buckets.contains(&name),
        };
        let store = GovernedStore {
            shared: t.shared.clone(),
            bucket: info,
            caller: caller.clone(),
            keys: keys.clone(),
        };
        zones.insert(
            zone,
            ZoneStore {
                bucket: name.clone(),
                url: format!("dapgov://{name}/"),
                store: Arc::new(store),
            },
        );
    }
    let pii_key_id = t
        .record(ResourceKind::Key, &names.key_alias("pii"))?
        .and_then(|v| v["key_id"].as_str().map(String::from));
    let pii_key = pii_key_id.and_then(|id| keys.get(&id)).cloned();
    Ok(RoleSession {
        role: role.into(),
        names,
        principal_arn: caller.arn.clone(),
        zones,
        keys: Arc::new(LocalKeys {
            shared: t.shared.clone(),
            caller: caller.clone(),
            pii_key,
        }),
        metrics: Arc::new(LocalMetrics {
            dir: t.metrics_dir(),
            caller: caller.clone(),
            shared: t.shared.clone(),
        }),
        catalog: Arc::new(LocalCatalog {
            caller: caller.clone(),
            shared: t.shared.clone(),
            arns: t.arns(),
        }),
        audit: Arc::new(LocalAuditLog {
            caller,
            shared: t.shared.clone(),
        }),
        sql: None,
    })
}

fn caller(t: &LocalTarget, names: &Names, role: &str) -> TargetResult<Caller> {
    let name = names.role(role);
    let v = t.record(ResourceKind::Role, &name)?.ok_or_else(|| {
        TargetError::Other(format!(
            "role {name} does not exist; run `dapgov apply` first"
        ))
    })?;
    let r: Role = serde_json::from_value(v).map_err(TargetError::other)?;
    let mut docs = vec![];
    for (pname, doc) in r
        .inline_policies
        .iter()
        .flatten()
        .chain(r.attached_policies.iter().flatten())
    {
        docs.push(Document::parse(doc).map_err(|e| {
            TargetError::Other(format!(
                "role {name} policy {pname} is not a policy document: {e}"
            ))
        })?);
    }
    Ok(Caller {
        role: role.into(),
        arn: r.arn.unwrap_or_else(|| names.arns.role(&name)),
        identity_policies: docs,
    })
}

struct LocalKeys {
    shared: Arc<Shared>,
    caller: Caller,
    pii_key: Option<KeyInfo>,
}

#[async_trait::async_trait]
impl KeyService for LocalKeys {
    async fn pseudonymisation_key(&self) -> TargetResult<Vec<u8>> {
        let key = self.pii_key.as_ref().ok_or_else(|| {
            TargetError::Other("the PII key does not exist; run `dapgov apply`".into())
        })?;
        store::check_key(&self.shared, &self.caller, "kms:Decrypt", key)?;
        let material = self
            .shared
            .kms
            .material(&key.key_id, 1)
            .map_err(TargetError::other)?;
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&material).expect("any key length");
        mac.update(&self.shared.pseudonym_salt);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

/// Refusals go to the trail like the stores' own denials.
struct LocalAuditLog {
    caller: Caller,
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl AuditLog for LocalAuditLog {
    async fn refused(&self, action: &str, resource: &str, reason: &str) -> TargetResult<()> {
        self.shared.record_event(
            "data",
            &self.caller.arn,
            action,
            resource,
            "denied",
            Some(reason.into()),
        )
    }

    async fn allowed(&self, action: &str, resource: &str, detail: &str) -> TargetResult<()> {
        self.shared.record_event(
            "data",
            &self.caller.arn,
            action,
            resource,
            "allowed",
            Some(detail.into()),
        )
    }
}

struct LocalMetrics {
    dir: PathBuf,
    caller: Caller,
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl MetricsSink for LocalMetrics {
    async fn put(&self, namespace: &str, data: &[MetricDatum]) -> TargetResult<()> {
        let mut req = Request {
            action: "cloudwatch:PutMetricData".into(),
            resource: "*".into(),
            principal: self.caller.arn.clone(),
            ..Default::default()
        };
        req.context
            .insert("cloudwatch:namespace".into(), namespace.into());
        store::check_identity(&self.caller, &req).map_err(|reason| {
            self.shared.record_denial(
                "management",
                &self.caller.arn,
                &req.action,
                namespace,
                &reason,
            );
            TargetError::AccessDenied {
                principal: self.caller.described(),
                action: req.action.clone(),
                resource: format!("namespace {namespace}"),
                reason: Some(reason),
            }
        })?;
        crate::state::create_private_dir_all(&self.dir).map_err(TargetError::other)?;
        use std::io::Write;
        let mut f = private_options()
            .create(true)
            .append(true)
            .open(
                self.dir
                    .join(format!("{}.jsonl", namespace.replace('/', "_"))),
            )
            .map_err(TargetError::other)?;
        let time = now();
        for d in data {
            writeln!(f, "{}", serde_json::json!({"time": time, "datum": d}))
                .map_err(TargetError::other)?;
        }
        Ok(())
    }
}

struct LocalCatalog {
    caller: Caller,
    shared: Arc<Shared>,
    arns: Arns,
}

impl LocalCatalog {
    fn path(&self, database: &str) -> PathBuf {
        record_file(&self.shared.root, ResourceKind::GlueDatabase, database)
    }
    fn database(&self, database: &str) -> TargetResult<GlueDatabase> {
        let text = std::fs::read_to_string(self.path(database)).map_err(|_| {
            TargetError::Other(format!(
                "Glue database {database} does not exist; run `dapgov apply`"
            ))
        })?;
        serde_json::from_str(&text).map_err(TargetError::other)
    }

    fn check(&self, action: &str, resource: String) -> TargetResult<()> {
        let req = Request {
            action: action.into(),
            resource: resource.clone(),
            principal: self.caller.arn.clone(),
            ..Default::default()
        };
        store::check_identity(&self.caller, &req).map_err(|reason| {
            self.shared
                .record_denial("management", &self.caller.arn, action, &resource, &reason);
            TargetError::AccessDenied {
                principal: self.caller.described(),
                action: action.into(),
                resource,
                reason: Some(reason),
            }
        })
    }
}

#[async_trait::async_trait]
impl CatalogService for LocalCatalog {
    async fn put_table(&self, database: &str, table: &GlueTable) -> TargetResult<()> {
        self.check(
            "glue:UpdateTable",
            self.arns.glue_table(database, &table.name),
        )?;
        let path = self.path(database);
        // Runs of different datasets update one database record: read, change and write it
        // under a lock, or one run's table is lost to another's write.
        let lock = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("lock"))
            .map_err(TargetError::other)?;
        lock.lock().map_err(TargetError::other)?;
        let mut db = self.database(database)?;
        db.tables
            .get_or_insert_with(BTreeMap::new)
            .insert(table.name.clone(), table.clone());
        self.shared.record_event(
            "management",
            &self.caller.arn,
            "glue:UpdateTable",
            &format!("{database}.{}", table.name),
            "allowed",
            None,
        )?;
        write_atomic(
            &path,
            serde_json::to_string_pretty(&db)
                .expect("serialize")
                .as_bytes(),
        )
        .map_err(TargetError::other)?;
        lock.unlock().map_err(TargetError::other)?;
        Ok(())
    }

    async fn tables(&self, database: &str) -> TargetResult<Vec<GlueTable>> {
        self.check("glue:GetTables", self.arns.glue_database(database))?;
        // As Glue does: tables on which the role's policies do not allow GetTables are left
        // out of the answer, not refused.
        let visible = |t: &GlueTable| {
            let req = Request {
                action: "glue:GetTables".into(),
                resource: self.arns.glue_table(database, &t.name),
                principal: self.caller.arn.clone(),
                ..Default::default()
            };
            store::check_identity(&self.caller, &req).is_ok()
        };
        Ok(self
            .database(database)?
            .tables
            .unwrap_or_default()
            .into_values()
            .filter(visible)
            .collect())
    }

    async fn table(&self, database: &str, name: &str) -> TargetResult<Option<GlueTable>> {
        self.check("glue:GetTable", self.arns.glue_table(database, name))?;
        Ok(self
            .database(database)?
            .tables
            .unwrap_or_default()
            .remove(name))
    }
}
