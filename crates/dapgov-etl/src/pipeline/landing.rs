//! Files delivered straight into the landing zone (by the call system, not by `etl run
//! --input`): found under a prefix, oldest first, and fetched for a run as the etl role.

use super::storage::zone;
use crate::EtlError;
use dapgov_inventory::names::Zone;
use dapgov_target::RoleSession;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::{ObjectMeta, ObjectStoreExt};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Where a run keeps its copy of an input: `<dataset>/<sha256>/<file>`.
pub(super) fn landing_key(dataset: &str, sha256: &str, file: &str) -> StorePath {
    StorePath::from(format!("{dataset}/{sha256}/{file}"))
}

/// Is `key` a run's own copy of an input (`<dataset>/<64 hex>/<file>`)?
fn is_run_copy(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    matches!(parts.as_slice(), [_, sha, _] if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The objects delivered under `prefix` in the landing zone, oldest first; the runs' own
/// copies of their inputs are not deliveries.
pub async fn deliveries(session: &RoleSession, prefix: &str) -> Result<Vec<ObjectMeta>, EtlError> {
    use futures::TryStreamExt;
    let landing = zone(session, Zone::Landing)?;
    let p = StorePath::from(prefix);
    let mut found: Vec<ObjectMeta> = landing
        .store
        .list(Some(&p))
        .try_collect()
        .await
        .map_err(|e| EtlError::Engine(format!("{}{prefix}: {e}", landing.url)))?;
    found.retain(|o| !is_run_copy(o.location.as_ref()) && !o.location.as_ref().ends_with('/'));
    found.sort_by(|a, b| (a.last_modified, &a.location).cmp(&(b.last_modified, &b.location)));
    Ok(found)
}

/// The sha256 of every input a dataset's curated table has taken, in any version.
pub async fn loaded_inputs(
    session: &RoleSession,
    dataset: &str,
) -> Result<BTreeSet<String>, EtlError> {
    let table = crate::delta::open(zone(session, Zone::Curated)?, dataset).await?;
    if table.version().is_none() {
        return Ok(BTreeSet::new());
    }
    Ok(crate::delta::history(&table)
        .await?
        .iter()
        .filter_map(|c| c.load.get("sha256")?.as_str().map(String::from))
        .collect())
}

/// Fetch a delivery into `dir` under its own file name, as the role; returns the file and its
/// sha256.
pub async fn fetch(
    session: &RoleSession,
    object: &ObjectMeta,
    dir: &std::path::Path,
) -> Result<(std::path::PathBuf, String), EtlError> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let landing = zone(session, Zone::Landing)?;
    let name = object.location.filename().unwrap_or("delivery");
    let path = dir.join(name);
    let what = format!("{}{}", landing.url, object.location);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| EtlError::Engine(format!("{}: {e}", path.display())))?;
    let mut body = landing
        .store
        .get(&object.location)
        .await
        .map_err(|e| EtlError::Engine(format!("{what}: {e}")))?
        .into_stream();
    let mut h = Sha256::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| EtlError::Engine(format!("{what}: {e}")))?;
        h.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| EtlError::Engine(format!("{}: {e}", path.display())))?;
    }
    file.flush()
        .await
        .map_err(|e| EtlError::Engine(format!("{}: {e}", path.display())))?;
    Ok((path, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_runs_own_copies_are_told_from_deliveries() {
        let sha = "a".repeat(64);
        assert!(super::is_run_copy(&format!("calls/{sha}/calls.csv")));
        for delivered in [
            "calls/2024-09-17.csv",
            "drops/calls/2024-09-17.csv",
            &format!("calls/{}/x.csv", "g".repeat(64)),
        ] {
            assert!(!super::is_run_copy(delivered), "{delivered}");
        }
    }
}
