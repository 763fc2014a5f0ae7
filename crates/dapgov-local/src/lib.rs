//! The embedded `local` target: the whole governed platform in one state directory.
//!
//! ```text
//! .dapgov/
//!   root.key              root secret (0600), unless DAPGOV_ROOT_SECRET is set
//!   control/<kind>/*.json  the platform's resources, as Inventory records
//!   kms/<key-id>.json      key material versions, wrapped by the root secret
//!   buckets/<bucket>/...   objects, envelope-encrypted (see `crypto`)
//!   trail/                 hash-chained audit trail with signed head and digests
//!   metrics/*.jsonl        metric data published by the ETL
//! ```

mod apply;
mod control;
pub mod crypto;
pub mod kms;
mod read;
pub mod secret;
mod session;
mod state;
mod store;
pub mod trail;
mod versions;

use dapgov_inventory::*;
use dapgov_target::*;
use kms::LocalKms;
use secret::RootSecret;
use serde_json::Value;
use state::{TMP_DIR, clear_stale_temporaries, secure_state_dir};
pub(crate) use state::{create_private, now, private_options, write_atomic};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
pub use store::{BucketInfo, Caller, GovernedStore, KeyInfo};
use trail::{NewEvent, Trail};
pub use versions::{ObjectProblem, VersionCheck};

/// The local platform's account id.
pub const ACCOUNT: &str = "000000000000";

#[derive(Debug)]
pub(crate) struct Shared {
    root: PathBuf,
    kms: LocalKms,
    trail_seed: [u8; 32],
    /// The HMAC key trails were signed with before Ed25519.
    legacy_trail_key: [u8; 32],
    pseudonym_salt: [u8; 32],
    /// The trail, while one exists with logging on.
    trail: RwLock<Option<Trail>>,
    /// The table commits the trail recorded as present (object ARN → record), read from the
    /// trail on first use and kept current by this process's own records.
    table_logs: std::sync::Mutex<Option<BTreeMap<String, u64>>>,
}

impl Shared {
    pub(crate) fn new(state_dir: &Path, secret: &RootSecret) -> Self {
        Shared {
            root: state_dir.to_path_buf(),
            kms: LocalKms::new(state_dir, secret.clone()),
            trail_seed: secret.derive("dapgov/trail/ed25519/v1"),
            legacy_trail_key: secret.derive("dapgov/trail/v1"),
            pseudonym_salt: secret.derive("dapgov/pseudonymisation/v1"),
            trail: RwLock::new(None),
            table_logs: std::sync::Mutex::new(None),
        }
    }

    /// Read the table commits from the trail again when next needed.
    pub(crate) fn forget_table_logs(&self) {
        *self.table_logs.lock().expect("table log lock") = None;
    }

    /// The table commits under `log_prefix` (an object ARN ending in `_delta_log`) that the
    /// trail recorded and that were never deleted through the platform: none while there is no
    /// trail.
    pub(crate) fn recorded_table_logs(
        &self,
        log_prefix: &str,
    ) -> Result<Vec<(String, u64)>, TargetError> {
        let trail = self.trail.read().expect("trail lock");
        let Some(t) = trail.as_ref() else {
            return Ok(vec![]);
        };
        let mut cache = self.table_logs.lock().expect("table log lock");
        if cache.is_none() {
            let events = t
                .read()
                .map_err(|e| TargetError::Other(format!("the audit trail cannot be read ({e})")))?;
            *cache = Some(versions::recorded_table_logs(&events));
        }
        let under = format!("{log_prefix}/");
        Ok(cache
            .as_ref()
            .expect("filled above")
            .range(under.clone()..)
            .take_while(|(arn, _)| arn.starts_with(&under))
            .map(|(arn, seq)| (arn.clone(), *seq))
            .collect())
    }

    pub(crate) fn tmp_file(&self) -> PathBuf {
        let dir = self.root.join(TMP_DIR);
        let _ = crate::state::create_private_dir_all(&dir);
        dir.join(format!(
            "{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ))
    }

    /// Append to the trail, when one is logging. Governed operations fail closed: what cannot
    /// be recorded is not done (or, done already, is reported as failed).
    pub(crate) fn record_event(
        &self,
        category: &str,
        principal: &str,
        action: &str,
        resource: &str,
        outcome: &str,
        detail: Option<String>,
    ) -> Result<(), TargetError> {
        if let Some(t) = self.trail.read().expect("trail lock").as_ref() {
            let e = t.append(NewEvent { category, principal, action, resource, outcome, detail })
                .map_err(|e| TargetError::Other(format!("{action} on {resource}: the audit trail cannot be written ({e}), so the operation is refused")))?;
            if versions::is_table_log(resource) {
                let mut cache = self.table_logs.lock().expect("table log lock");
                match (cache.as_mut(), action, outcome) {
                    (Some(c), "s3:PutObject", "allowed") => drop(c.insert(e.resource, e.seq)),
                    (Some(c), "s3:DeleteObject", "allowed") => drop(c.remove(&e.resource)),
                    // A write that did not land: read again from the trail when next needed.
                    (Some(_), "s3:PutObject", _) => *cache = None,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Record a denial. The request fails whatever happens here; a trail that cannot take the
    /// record is reported.
    pub(crate) fn record_denial(
        &self,
        category: &str,
        principal: &str,
        action: &str,
        resource: &str,
        reason: &str,
    ) {
        if let Err(e) = self.record_event(
            category,
            principal,
            action,
            resource,
            "denied",
            Some(reason.into()),
        ) {
            tracing::error!("{e}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    #[error("{0}")]
    Io(String),
}

pub struct LocalTarget {
    shared: Arc<Shared>,
    region: String,
    /// USD per GB-month by storage class, for the budget estimate.
    prices: BTreeMap<String, f64>,
}

impl LocalTarget {
    /// Open the platform in `state_dir`. With `create`, a missing root secret is generated.
    pub fn open(
        state_dir: &Path,
        region: &str,
        prices: BTreeMap<String, f64>,
        create: bool,
    ) -> Result<Self, LocalError> {
        secure_state_dir(state_dir, create)?;
        clear_stale_temporaries(state_dir);
        let secret = match RootSecret::load(state_dir, create) {
            // Nothing has been encrypted yet, so a throwaway secret reads the (empty) platform.
            Err(secret::SecretError::Missing { .. }) if !state_dir.join("kms").exists() => {
                RootSecret::ephemeral()
            }
            other => other?,
        };
        let t = LocalTarget {
            shared: Arc::new(Shared::new(state_dir, &secret)),
            region: region.into(),
            prices,
        };
        // A root secret that is not this platform's would sign the trail with another key and
        // make a genuine trail look forged: refused before anything is written.
        let trail = t.trail();
        if let Ok(published) = trail.published_key()
            && published != trail.public_key()
        {
            return Err(LocalError::Io(format!(
                "{}: the trail's published public key is not the root secret's: either the root secret is not this platform's (check DAPGOV_ROOT_SECRET or {}) or {} was replaced (compare it with your pinned copy)",
                state_dir.display(),
                state_dir.join(secret::FILE).display(),
                state_dir.join("trail").join(trail::PUBLIC_KEY).display()
            )));
        }
        t.refresh_trail()
            .map_err(|e| LocalError::Io(e.to_string()))?;
        Ok(t)
    }

    pub fn state_dir(&self) -> &Path {
        &self.shared.root
    }

    /// The trail (for `trail verify` and `trail show`), whether or not logging is on.
    pub fn trail(&self) -> Trail {
        Trail::new(&self.shared.root.join("trail"), self.shared.trail_seed)
            .migrating_from(self.shared.legacy_trail_key)
    }

    /// Is a trail logging? Then every operation since it was turned on is in the trail.
    pub fn trail_is_logging(&self) -> TargetResult<bool> {
        Ok(self
            .records(ResourceKind::Trail)?
            .iter()
            .any(|(_, v)| v.get("logging") == Some(&Value::Bool(true))))
    }

    /// Buckets whose object-level operations a logging trail records.
    pub(crate) fn data_event_buckets(&self) -> TargetResult<Vec<String>> {
        Ok(self
            .records(ResourceKind::Trail)?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_value::<dapgov_inventory::Trail>(v).ok())
            .filter(|t| t.logging == Some(true))
            .flat_map(|t| t.data_event_buckets.unwrap_or_default())
            .collect())
    }

    fn refresh_trail(&self) -> TargetResult<()> {
        *self.shared.trail.write().expect("trail lock") =
            self.trail_is_logging()?.then(|| self.trail());
        Ok(())
    }

    fn operator(&self) -> String {
        self.arns().root()
    }

    fn arns(&self) -> Arns {
        Arns::new(ACCOUNT, &self.region)
    }
}

#[async_trait::async_trait]
impl Target for LocalTarget {
    async fn cost(
        &self,
        project: &str,
        months: u32,
        by: dapgov_target::CostGrouping,
    ) -> TargetResult<dapgov_target::CostReport> {
        let inv = self.read_inventory(project).await?;
        // The storage held now, priced per GB-month by class: one month's estimate, by zone.
        let mut groups = std::collections::BTreeMap::new();
        for b in inv.buckets.values() {
            let key = match by {
                dapgov_target::CostGrouping::Zone => {
                    b.zone.clone().unwrap_or_else(|| "untagged".into())
                }
                dapgov_target::CostGrouping::Service => "Amazon Simple Storage Service".into(),
            };
            let usd: f64 = b
                .usage
                .iter()
                .flat_map(|u| u.bytes.iter())
                .map(|(class, bytes)| {
                    *bytes as f64 / 1e9 * self.prices.get(class).copied().unwrap_or(0.0)
                })
                .sum();
            *groups.entry(key).or_insert(0.0) += usd;
        }
        let total = groups.values().sum();
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        Ok(dapgov_target::CostReport {
            estimated: true,
            currency: "USD".into(),
            by,
            months: vec![dapgov_target::MonthCost {
                month,
                total,
                groups,
            }],
            forecast: Some(total),
            notes: vec![format!(
                "an estimate: the storage the local platform holds now, priced per GB-month by storage class ([local] price_per_gb_month); {} earlier month(s) asked for are not kept locally",
                months.saturating_sub(1)
            )],
        })
    }

    async fn account_id(&self) -> TargetResult<String> {
        Ok(ACCOUNT.into())
    }

    async fn read_inventory(&self, project: &str) -> TargetResult<Inventory> {
        self.read_inventory_of(project)
    }

    async fn session(&self, project: &str, role: &str) -> TargetResult<RoleSession> {
        session::open(self, project, role)
    }

    async fn apply(&self, change: &ChangeRequest) -> TargetResult<()> {
        let r = &change.resource;
        let result = self.apply_inner(change);
        let outcome = if result.is_ok() { "allowed" } else { "error" };
        let action = format!("dapgov:{:?}{}", change.action, r.kind.as_str());
        let recorded = self.shared.record_event(
            "management",
            &self.operator(),
            &action,
            &r.to_string(),
            outcome,
            result.as_ref().err().map(|e| e.to_string()),
        );
        let refreshed = if r.kind == ResourceKind::Trail {
            self.refresh_trail()
        } else {
            Ok(())
        };
        result.and(recorded).and(refreshed)
    }
}
