//! Carrying out one change, and key rotation.

use crate::*;
use dapgov_inventory::names::s3_arn;
use dapgov_inventory::*;
use dapgov_target::*;
use serde_json::Value;

impl LocalTarget {
    /// Rotate keys whose rotation is on and whose newest version is older than the period.
    pub fn rotate_due_keys(&self) -> TargetResult<Vec<String>> {
        let mut rotated = vec![];
        for (alias, v) in self.records(ResourceKind::Key)? {
            let k: Key = serde_json::from_value(v).map_err(TargetError::other)?;
            let (Some(id), Some(true)) = (&k.key_id, k.rotation_enabled) else {
                continue;
            };
            let (_, created) = self.shared.kms.latest(id).map_err(TargetError::other)?;
            let age = chrono::DateTime::parse_from_rfc3339(&created)
                .map(|c| chrono::Utc::now().signed_duration_since(c).num_days())
                .unwrap_or(0);
            if age >= i64::from(k.rotation_period_days.unwrap_or(365)) {
                self.rotate_key(&alias)?;
                rotated.push(alias);
            }
        }
        Ok(rotated)
    }

    /// Rotate a key now (a new version for new data; old versions keep decrypting).
    pub fn rotate_key(&self, alias: &str) -> TargetResult<u32> {
        let v = self
            .record(ResourceKind::Key, alias)?
            .ok_or_else(|| TargetError::Other(format!("no key with alias {alias}")))?;
        let id = v
            .get("key_id")
            .and_then(Value::as_str)
            .ok_or_else(|| TargetError::Other(format!("key {alias} has no key id")))?;
        let version = self.shared.kms.rotate(id).map_err(TargetError::other)?;
        self.shared.record_event(
            "management",
            &self.operator(),
            "kms:RotateKeyOnDemand",
            alias,
            "allowed",
            None,
        )?;
        Ok(version)
    }

    pub(crate) fn apply_inner(&self, change: &ChangeRequest) -> TargetResult<()> {
        let r = &change.resource;
        let observed = self.record(r.kind, &r.name)?;
        match change.action {
            ChangeAction::Delete => return self.delete(r, observed, change.force_delete_data),
            ChangeAction::Replace => self.delete(r, observed.clone(), change.force_delete_data)?,
            _ => {}
        }
        let desired = change
            .desired
            .clone()
            .ok_or_else(|| TargetError::Other(format!("{r}: no desired state to apply")))?;
        let mut record = match (change.action, observed) {
            (ChangeAction::Update, Some(o)) => o,
            _ => serde_json::json!({}),
        };
        let obj = record
            .as_object_mut()
            .ok_or_else(|| TargetError::Other(format!("{r}: control record is not an object")))?;
        for (k, v) in desired.as_object().into_iter().flatten() {
            obj.insert(k.clone(), v.clone());
        }
        let arns = self.arns();
        let name = &r.name;
        match r.kind {
            ResourceKind::Key
                if !obj.contains_key("key_id") || change.action != ChangeAction::Update =>
            {
                let id = self.shared.kms.create().map_err(TargetError::other)?;
                obj.insert("arn".into(), arns.key(&id).into());
                obj.insert("key_id".into(), id.into());
            }
            ResourceKind::Key => {
                obj.remove("deletion_date");
            }
            ResourceKind::Bucket => {
                crate::state::create_private_dir_all(&self.bucket_dir(name))
                    .map_err(TargetError::other)?;
                obj.insert("arn".into(), s3_arn(name).into());
            }
            ResourceKind::Role => {
                obj.insert("arn".into(), arns.role(name).into());
            }
            ResourceKind::Trail => {
                obj.insert("arn".into(), arns.trail(name).into());
            }
            ResourceKind::Topic => {
                obj.insert("arn".into(), arns.topic(name).into());
            }
            _ => {}
        }
        self.write_record(r.kind, name, &record)
    }

    fn delete(&self, r: &ResourceRef, observed: Option<Value>, force: bool) -> TargetResult<()> {
        let Some(observed) = observed else {
            return Ok(());
        };
        match r.kind {
            // Keys are never deleted at once: they wait out their deletion window.
            ResourceKind::Key => {
                let mut v = observed;
                let days = v
                    .get("deletion_window_days")
                    .and_then(Value::as_u64)
                    .unwrap_or(30) as i64;
                v["state"] = "PendingDeletion".into();
                v["deletion_date"] = (chrono::Utc::now() + chrono::Duration::days(days))
                    .to_rfc3339()
                    .into();
                return self.write_record(r.kind, &r.name, &v);
            }
            ResourceKind::Bucket => {
                let u = self.usage(&r.name);
                if u.objects > 0 && !force {
                    return Err(TargetError::Refused {
                        resource: r.to_string(),
                        message: format!(
                            "holds {} object(s); rerun with --force-delete-data to delete them",
                            u.objects
                        ),
                    });
                }
                let dir = self.bucket_dir(&r.name);
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(TargetError::other)?;
                }
            }
            _ => {}
        }
        std::fs::remove_file(self.record_path(r.kind, &r.name)).map_err(TargetError::other)
    }
}
