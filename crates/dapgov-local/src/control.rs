//! Control records: each resource of the platform as an Inventory record under `control/`.

use crate::*;
use dapgov_inventory::*;
use dapgov_policy::Document;
use dapgov_target::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) fn kind_dir(kind: ResourceKind) -> &'static str {
    kind.as_str()
}

pub(crate) fn file_name(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F") + ".json"
}

fn read_record(path: &std::path::Path) -> TargetResult<Value> {
    let damaged = |message: String| TargetError::Integrity {
        what: format!("control record {}", path.display()),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| damaged(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        damaged(format!(
            "{e}; restore it from a backup of the state directory, or delete it and run `dapgov apply` to make the resource again"
        ))
    })
}

pub(crate) fn name_of(file: &str) -> String {
    file.trim_end_matches(".json")
        .replace("%2F", "/")
        .replace("%25", "%")
}

/// Where the records of one kind live under the state directory `root`.
pub(crate) fn records_dir(root: &std::path::Path, kind: ResourceKind) -> PathBuf {
    root.join("control").join(kind_dir(kind))
}

/// The record of one resource under the state directory `root`.
pub(crate) fn record_file(root: &std::path::Path, kind: ResourceKind, name: &str) -> PathBuf {
    records_dir(root, kind).join(file_name(name))
}

impl LocalTarget {
    pub(crate) fn record_path(&self, kind: ResourceKind, name: &str) -> PathBuf {
        record_file(&self.shared.root, kind, name)
    }

    /// Every record of one kind. A record that cannot be read or parsed is an integrity
    /// error: read as absent, it would make plan create the resource again (a new key in
    /// place of the one the data is encrypted under).
    pub(crate) fn records(&self, kind: ResourceKind) -> TargetResult<Vec<(String, Value)>> {
        let dir = records_dir(&self.shared.root, kind);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(TargetError::other(format!("{}: {e}", dir.display()))),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| TargetError::other(format!("{}: {e}", dir.display())))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if !file.ends_with(".json") {
                continue;
            }
            out.push((name_of(&file), read_record(&entry.path())?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// One resource's record; `None` when there is none, an integrity error when it is damaged.
    pub(crate) fn record(&self, kind: ResourceKind, name: &str) -> TargetResult<Option<Value>> {
        let path = self.record_path(kind, name);
        if !path.exists() {
            return Ok(None);
        }
        read_record(&path).map(Some)
    }

    pub(crate) fn write_record(
        &self,
        kind: ResourceKind,
        name: &str,
        v: &Value,
    ) -> TargetResult<()> {
        let path = self.record_path(kind, name);
        crate::state::create_private_dir_all(path.parent().expect("has parent"))
            .map_err(TargetError::other)?;
        write_atomic(
            &path,
            serde_json::to_string_pretty(v)
                .expect("serialize")
                .as_bytes(),
        )
        .map_err(TargetError::other)
    }

    pub(crate) fn bucket_dir(&self, name: &str) -> PathBuf {
        self.shared.root.join("buckets").join(name)
    }

    pub(crate) fn keys_by_id(&self) -> TargetResult<BTreeMap<String, KeyInfo>> {
        Ok(self
            .records(ResourceKind::Key)?
            .into_iter()
            .filter_map(|(_, v)| {
                let k: Key = serde_json::from_value(v).ok()?;
                Some((
                    k.key_id.clone()?,
                    KeyInfo {
                        key_id: k.key_id?,
                        arn: k.arn?,
                        policy: k.policy.as_ref().and_then(|p| Document::parse(p).ok()),
                        state: k.state.unwrap_or_else(|| "Enabled".into()),
                    },
                ))
            })
            .collect())
    }

    pub(crate) fn metrics_dir(&self) -> PathBuf {
        self.shared.root.join("metrics")
    }
}
