//! Files delivered straight into the landing zone (by the call system, not by `etl run
//! --input`): found under a prefix, oldest first, and fetched for a run as the etl role.

use super::storage::zone;
use crate::EtlError;
use dapgov_inventory::names::Zone;
use dapgov_target::RoleSession;
pub use datafusion::object_store::ObjectMeta;
use datafusion::object_store::ObjectStoreExt;
use datafusion::object_store::path::Path as StorePath;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// An object delivered into the landing zone: its key and, where the bucket keeps versions,
/// the version a load took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub key: String,
    pub version: Option<String>,
}

impl Delivery {
    pub fn of(landing_url: &str, object: &ObjectMeta) -> Self {
        Self {
            key: format!("{landing_url}{}", object.location),
            version: object.version.clone().or_else(|| object.e_tag.clone()),
        }
    }
}

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

/// The sha256 of every input a dataset's curated table has taken, in any version, by a run
/// that finished (its manifest, written last, exists): a run killed after its commit left
/// the delivery to be completed, not taken.
pub async fn loaded_inputs(
    session: &RoleSession,
    dataset: &str,
) -> Result<BTreeSet<String>, EtlError> {
    use futures::TryStreamExt;
    let curated = zone(session, Zone::Curated)?;
    let table = crate::delta::open(curated, dataset).await?;
    if table.version().is_none() {
        return Ok(BTreeSet::new());
    }
    let prefix = StorePath::from(super::stages::manifests_prefix(dataset));
    let finished: BTreeSet<String> = curated
        .store
        .list(Some(&prefix))
        .map_ok(|o| {
            o.location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .unwrap_or_default()
                .to_string()
        })
        .try_collect()
        .await
        .map_err(|e| EtlError::Engine(format!("listing {dataset}'s run manifests: {e}")))?;
    Ok(crate::delta::history(&table)
        .await?
        .iter()
        .filter(|c| {
            c.load["run_id"]
                .as_str()
                .is_some_and(|r| finished.contains(r))
        })
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

/// What became of one delivery.
#[derive(Debug)]
pub enum Outcome {
    Loaded(Box<dapgov_records::Manifest>),
    /// The dataset already took these bytes (by sha256), in an earlier load.
    AlreadyTaken {
        sha256: String,
    },
    Failed(EtlError),
}

/// Load one delivered object as the session's role (the etl role): fetched, skipped when its
/// bytes are among `taken` (`loaded_inputs`, read once by a caller loading many; unless
/// `force`), else run through every stage, and added to `taken` once loaded. Each load
/// commits as one generation of the delivery (`DeliveryTxn`), so however many times and
/// however concurrently the same delivery is handled, it is loaded once.
pub async fn load_delivery(
    session: &RoleSession,
    spec: &dapgov_spec::Spec,
    dataset: &str,
    object: &ObjectMeta,
    force: bool,
    taken: &mut BTreeSet<String>,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Outcome, EtlError> {
    let landing = zone(session, Zone::Landing)?;
    let delivery = Delivery::of(&landing.url, object);
    let dir =
        tempfile::tempdir().map_err(|e| EtlError::Engine(format!("a temporary directory: {e}")))?;
    let (file, sha) = fetch(session, object, dir.path()).await?;
    if !force && taken.contains(&sha) {
        return Ok(Outcome::AlreadyTaken { sha256: sha });
    }
    let run = super::run(
        session,
        spec,
        super::RunOptions {
            input: &file,
            dataset,
            force,
            delivered: Some(&delivery),
            progress,
        },
    )
    .await;
    Ok(match run {
        Ok(m) if m.no_op => Outcome::AlreadyTaken { sha256: sha },
        Ok(m) => {
            taken.insert(sha);
            Outcome::Loaded(Box::new(m))
        }
        Err(e) => Outcome::Failed(e),
    })
}

/// Deliver the file at `path` into the landing zone at `key` as the role (a file dropped in
/// a local inbox), streamed as a run stores its input; returns the object as stored.
pub async fn put(
    session: &RoleSession,
    key: &str,
    path: &std::path::Path,
) -> Result<ObjectMeta, EtlError> {
    super::storage::upload(path, zone(session, Zone::Landing)?, &StorePath::from(key)).await?;
    object(session, key).await
}

/// The landing object at `key` (a delivery an event names), as the role sees it.
pub async fn object(session: &RoleSession, key: &str) -> Result<ObjectMeta, EtlError> {
    let landing = zone(session, Zone::Landing)?;
    landing
        .store
        .head(&StorePath::from(key))
        .await
        .map_err(|e| EtlError::Engine(format!("{}{key}: {e}", landing.url)))
}

/// The dataset a landing key is delivered to: the dataset whose name is the key's first
/// segment (`calls/2024-09-17.csv`), if the spec declares it; a run's own copies of its
/// inputs are no delivery.
pub fn dataset_of<'s>(spec: &'s dapgov_spec::Spec, key: &str) -> Option<&'s str> {
    if is_run_copy(key) {
        return None;
    }
    let (first, rest) = key.split_once('/')?;
    if rest.is_empty() || rest.ends_with('/') {
        return None;
    }
    spec.datasets.get_key_value(first).map(|(k, _)| k.as_str())
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
