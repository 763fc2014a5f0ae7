//! One run of a delivery at a time.
//!
//! A run takes a lease in the curated zone (`_runs/<dataset>/<run>.lock`, created only if
//! absent: a conditional put, as Delta commits are) and renews it while it works. A second run
//! of the same delivery waits for the lease, then finds the delivery loaded (a no-op) or, if
//! the first run failed, loads it itself. A lease nobody renews any more (its run was killed)
//! is taken over, so a dead run never blocks the delivery for long.

use crate::EtlError;
use dapgov_target::ZoneStore;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::sync::Arc;
use std::time::Duration;

/// How often a run renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// A lease not renewed for this long belongs to a run that is gone.
const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(90);
/// How often a waiting run looks again.
const POLL_EVERY: Duration = Duration::from_millis(250);

pub(super) struct DeliveryLock {
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    renewing: tokio::task::JoinHandle<()>,
}

/// This machine's boot, so a lease's process can be looked up only where it ran.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
}

fn lease() -> PutPayload {
    PutPayload::from(
        serde_json::json!({
            "boot": boot_id(),
            "pid": std::process::id(),
            "renewed_at": chrono::Utc::now().to_rfc3339(),
        })
        .to_string(),
    )
}

impl DeliveryLock {
    /// Take the lease of delivery `run_id` of `dataset`, waiting while a live run holds it.
    pub(super) async fn acquire(
        curated: &ZoneStore,
        dataset: &str,
        run_id: &str,
    ) -> Result<Self, EtlError> {
        let store = curated.store.clone();
        let path = StorePath::from(format!("_runs/{dataset}/{run_id}.lock"));
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        loop {
            match store.put_opts(&path, lease(), create.clone()).await {
                Ok(_) => break,
                Err(datafusion::object_store::Error::AlreadyExists { .. }) => {
                    if held_by_a_gone_run(&store, &path).await? {
                        // Deleted, then raced for like any free lease.
                        match store.delete(&path).await {
                            Ok(()) | Err(datafusion::object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(store_error(e)),
                        }
                        continue;
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        let renewing = {
            let (store, path) = (store.clone(), path.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    if let Err(e) = store.put(&path, lease()).await {
                        tracing::warn!("could not renew the delivery lease {path}: {e}");
                    }
                }
            })
        };
        Ok(DeliveryLock {
            store,
            path,
            renewing,
        })
    }

    /// Give the lease back (after the run, whatever its outcome).
    pub(super) async fn release(self) {
        self.renewing.abort();
        if let Err(e) = self.store.delete(&self.path).await {
            tracing::warn!(
                "could not release the delivery lease {}: {e}; it lapses by itself",
                self.path
            );
        }
    }
}

/// Whether the lease at `path` was last renewed longer ago than a live run would leave it.
async fn held_by_a_gone_run(
    store: &Arc<dyn ObjectStore>,
    path: &StorePath,
) -> Result<bool, EtlError> {
    let body = match store.get(path).await {
        Ok(r) => r.bytes().await.map_err(store_error)?,
        // Released meanwhile: free.
        Err(datafusion::object_store::Error::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(store_error(e)),
    };
    let Ok(lease) = serde_json::from_slice::<serde_json::Value>(&body) else {
        // Not a lease this code wrote: treat it as abandoned.
        return Ok(true);
    };
    // Written on this machine by a process that has ended (killed): gone at once.
    let here = boot_id().is_some_and(|b| lease["boot"].as_str() == Some(b.as_str()));
    if let (true, Some(pid)) = (here, lease["pid"].as_u64())
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        return Ok(true);
    }
    let renewed = lease["renewed_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    Ok(match renewed {
        Some(t) => chrono::Utc::now().signed_duration_since(t) > STALE_AFTER,
        // Not a lease this code wrote: treat it as abandoned.
        None => true,
    })
}

fn store_error(e: datafusion::object_store::Error) -> EtlError {
    EtlError::Engine(format!("the delivery lease: {e}"))
}
