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

pub mod crypto;
pub mod kms;
pub mod secret;
mod store;
pub mod trail;

use dapgov_inventory::target::*;
use dapgov_inventory::*;
use dapgov_policy::{Document, Request};
use kms::LocalKms;
use secret::RootSecret;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
pub use store::{BucketInfo, Caller, GovernedStore, KeyInfo};
use trail::{NewEvent, Trail};

/// The local platform's account id.
pub const ACCOUNT: &str = "000000000000";

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Write a file so readers see the old or the new content, never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", rand::random::<u64>()));
    create_private(&tmp)?.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}

/// Create (or truncate) a file only its owner can read and write, whatever the umask.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    private_options().write(true).create(true).truncate(true).open(path)
}

/// Open options that create files 0600.
pub(crate) fn private_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// The state directory holds policies, key material and the trail: it is created 0700
/// whatever the umask; one that others can write is refused (they could rewrite policies or
/// the trail), and one that others can only read is closed to them.
fn secure_state_dir(dir: &Path, create: bool) -> Result<(), LocalError> {
    let shown = dir.display();
    if !dir.exists() {
        if !create {
            return Ok(());
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| LocalError::Io(format!("{shown}: cannot create the state directory: {e}")))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir).map_err(|e| LocalError::Io(format!("{shown}: {e}")))?.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(LocalError::Io(format!(
                "{shown}: the state directory is writable by others (mode {mode:o}), who could rewrite its policies, keys or trail; check its contents, then run `chmod 700 {shown}`"
            )));
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| LocalError::Io(format!("{shown}: cannot close the state directory to others: {e}")))?;
        }
    }
    Ok(())
}

/// Temporaries (objects being written) are named after the process writing them; those of a
/// process that is gone were left by a killed run and are removed.
fn clear_stale_temporaries(state_dir: &Path) {
    let Ok(rd) = std::fs::read_dir(state_dir.join(TMP_DIR)) else { return };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let writer = name.split_once('-').and_then(|(pid, _)| pid.parse::<u32>().ok());
        let gone = match writer {
            Some(pid) => pid != std::process::id() && !process_alive(pid),
            // Named before temporaries carried their writer: gone once an hour old.
            None => entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 3600)),
        };
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    // Without /proc, a temporary is assumed in use: never delete what a live run writes.
    !proc.exists() || proc.join(pid.to_string()).exists()
}

const TMP_DIR: &str = "tmp";

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
}

impl Shared {
    pub(crate) fn tmp_file(&self) -> PathBuf {
        let dir = self.root.join(TMP_DIR);
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!("{}-{:016x}", std::process::id(), rand::random::<u64>()))
    }

    /// Append to the trail, when one is logging. Governed operations fail closed: what cannot
    /// be recorded is not done (or, done already, is reported as failed).
    pub(crate) fn record_event(&self, category: &str, principal: &str, action: &str, resource: &str, outcome: &str, detail: Option<String>) -> Result<(), TargetError> {
        if let Some(t) = self.trail.read().expect("trail lock").as_ref() {
            t.append(NewEvent { category, principal, action, resource, outcome, detail })
                .map_err(|e| TargetError::Other(format!("{action} on {resource}: the audit trail cannot be written ({e}), so the operation is refused")))?;
        }
        Ok(())
    }

    /// Record a denial. The request fails whatever happens here; a trail that cannot take the
    /// record is reported.
    pub(crate) fn record_denial(&self, category: &str, principal: &str, action: &str, resource: &str, reason: &str) {
        if let Err(e) = self.record_event(category, principal, action, resource, "denied", Some(reason.into())) {
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

fn kind_dir(kind: ResourceKind) -> &'static str {
    kind.as_str()
}

fn file_name(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F") + ".json"
}

fn name_of(file: &str) -> String {
    file.trim_end_matches(".json").replace("%2F", "/").replace("%25", "%")
}

impl LocalTarget {
    /// Open the platform in `state_dir`. With `create`, a missing root secret is generated.
    pub fn open(state_dir: &Path, region: &str, prices: BTreeMap<String, f64>, create: bool) -> Result<Self, LocalError> {
        secure_state_dir(state_dir, create)?;
        clear_stale_temporaries(state_dir);
        let secret = match RootSecret::load(state_dir, create) {
            // Nothing has been encrypted yet, so a throwaway secret reads the (empty) platform.
            Err(secret::SecretError::Missing { .. }) if !state_dir.join("kms").exists() => RootSecret::ephemeral(),
            other => other?,
        };
        let shared = Shared {
            root: state_dir.to_path_buf(),
            kms: LocalKms::new(state_dir, secret.clone()),
            trail_seed: secret.derive("dapgov/trail/ed25519/v1"),
            legacy_trail_key: secret.derive("dapgov/trail/v1"),
            pseudonym_salt: secret.derive("dapgov/pseudonymisation/v1"),
            trail: RwLock::new(None),
        };
        let t = LocalTarget { shared: Arc::new(shared), region: region.into(), prices };
        // A root secret that is not this platform's would sign the trail with another key and
        // make a genuine trail look forged: refused before anything is written.
        let trail = t.trail();
        if let Ok(published) = trail.published_key() {
            if published != trail.public_key() {
                return Err(LocalError::Io(format!(
                    "{}: the trail's published public key is not the root secret's: either the root secret is not this platform's (check DAPGOV_ROOT_SECRET or {}) or {} was replaced (compare it with your pinned copy)",
                    state_dir.display(),
                    state_dir.join(secret::FILE).display(),
                    state_dir.join("trail").join(trail::PUBLIC_KEY).display()
                )));
            }
        }
        t.refresh_trail();
        Ok(t)
    }

    pub fn state_dir(&self) -> &Path {
        &self.shared.root
    }

    /// The trail (for `trail verify` and `trail show`), whether or not logging is on.
    pub fn trail(&self) -> Trail {
        Trail::new(&self.shared.root.join("trail"), self.shared.trail_seed).migrating_from(self.shared.legacy_trail_key)
    }

    /// Is a trail logging? Then every operation since it was turned on is in the trail.
    pub fn trail_is_logging(&self) -> bool {
        self.records(ResourceKind::Trail).iter().any(|(_, v)| v.get("logging") == Some(&Value::Bool(true)))
    }

    fn refresh_trail(&self) {
        *self.shared.trail.write().expect("trail lock") = self.trail_is_logging().then(|| self.trail());
    }

    fn record_path(&self, kind: ResourceKind, name: &str) -> PathBuf {
        self.shared.root.join("control").join(kind_dir(kind)).join(file_name(name))
    }

    fn records(&self, kind: ResourceKind) -> Vec<(String, Value)> {
        let dir = self.shared.root.join("control").join(kind_dir(kind));
        let Ok(rd) = std::fs::read_dir(&dir) else { return vec![] };
        let mut out: Vec<(String, Value)> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| {
                let v = serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
                Some((name_of(&e.file_name().to_string_lossy()), v))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn record(&self, kind: ResourceKind, name: &str) -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(self.record_path(kind, name)).ok()?).ok()
    }

    fn write_record(&self, kind: ResourceKind, name: &str, v: &Value) -> TargetResult<()> {
        let path = self.record_path(kind, name);
        std::fs::create_dir_all(path.parent().expect("has parent")).map_err(TargetError::other)?;
        write_atomic(&path, serde_json::to_string_pretty(v).expect("serialize").as_bytes()).map_err(TargetError::other)
    }

    fn bucket_dir(&self, name: &str) -> PathBuf {
        self.shared.root.join("buckets").join(name)
    }

    fn operator(&self) -> String {
        format!("arn:aws:iam::{ACCOUNT}:root")
    }

    /// Rotate keys whose rotation is on and whose newest version is older than the period.
    pub fn rotate_due_keys(&self) -> TargetResult<Vec<String>> {
        let mut rotated = vec![];
        for (alias, v) in self.records(ResourceKind::Key) {
            let k: Key = serde_json::from_value(v).map_err(TargetError::other)?;
            let (Some(id), Some(true)) = (&k.key_id, k.rotation_enabled) else { continue };
            let (_, created) = self.shared.kms.latest(id).map_err(TargetError::other)?;
            let age = chrono::DateTime::parse_from_rfc3339(&created).map(|c| chrono::Utc::now().signed_duration_since(c).num_days()).unwrap_or(0);
            if age >= i64::from(k.rotation_period_days.unwrap_or(365)) {
                self.rotate_key(&alias)?;
                rotated.push(alias);
            }
        }
        Ok(rotated)
    }

    /// Rotate a key now (a new version for new data; old versions keep decrypting).
    pub fn rotate_key(&self, alias: &str) -> TargetResult<u32> {
        let v = self.record(ResourceKind::Key, alias).ok_or_else(|| TargetError::Other(format!("no key with alias {alias}")))?;
        let id = v.get("key_id").and_then(Value::as_str).ok_or_else(|| TargetError::Other(format!("key {alias} has no key id")))?;
        let version = self.shared.kms.rotate(id).map_err(TargetError::other)?;
        self.shared.record_event("management", &self.operator(), "kms:RotateKeyOnDemand", alias, "allowed", None)?;
        Ok(version)
    }

    fn keys_by_id(&self) -> BTreeMap<String, KeyInfo> {
        self.records(ResourceKind::Key)
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
            .collect()
    }

    fn usage(&self, bucket: &str) -> BucketUsage {
        let mut u = BucketUsage::default();
        let mut stack = vec![self.bucket_dir(bucket)];
        let mut bytes = 0;
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(d) else { continue };
            for e in rd.flatten() {
                match e.metadata() {
                    Ok(m) if m.is_dir() => stack.push(e.path()),
                    Ok(m) => {
                        u.objects += 1;
                        bytes += m.len();
                    }
                    Err(_) => {}
                }
            }
        }
        u.bytes.insert("STANDARD".into(), bytes);
        u
    }

    fn metrics_dir(&self) -> PathBuf {
        self.shared.root.join("metrics")
    }

    fn read_metrics(&self, namespace: &str) -> Vec<(String, MetricDatum)> {
        let path = self.metrics_dir().join(format!("{}.jsonl", namespace.replace('/', "_")));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                Some((v["time"].as_str()?.to_string(), serde_json::from_value(v["datum"].clone()).ok()?))
            })
            .collect()
    }

    fn caller(&self, project: &str, role: &str) -> TargetResult<Caller> {
        let name = format!("{project}-{role}");
        let v = self
            .record(ResourceKind::Role, &name)
            .ok_or_else(|| TargetError::Other(format!("role {name} does not exist; run `dapgov apply` first")))?;
        let r: Role = serde_json::from_value(v).map_err(TargetError::other)?;
        let mut docs = vec![];
        for (pname, doc) in r.inline_policies.iter().flatten().chain(r.attached_policies.iter().flatten()) {
            docs.push(Document::parse(doc).map_err(|e| TargetError::Other(format!("role {name} policy {pname} is not a policy document: {e}")))?);
        }
        Ok(Caller { role: role.into(), arn: r.arn.unwrap_or_else(|| format!("arn:aws:iam::{ACCOUNT}:role/{name}")), identity_policies: docs })
    }
}

#[async_trait::async_trait]
impl Target for LocalTarget {
    async fn account_id(&self) -> TargetResult<String> {
        Ok(ACCOUNT.into())
    }

    async fn read_inventory(&self, project: &str) -> TargetResult<Inventory> {
        let mut inv = Inventory {
            schema_version: SCHEMA_VERSION,
            target: "local".into(),
            account_id: ACCOUNT.into(),
            region: self.region.clone(),
            project: project.into(),
            ..Default::default()
        };
        fn load<T: serde::de::DeserializeOwned>(recs: Vec<(String, Value)>) -> TargetResult<BTreeMap<String, T>> {
            recs.into_iter()
                .map(|(n, v)| serde_json::from_value(v).map(|t| (n.clone(), t)).map_err(|e| TargetError::Other(format!("control record {n}: {e}"))))
                .collect()
        }
        inv.keys = load(self.records(ResourceKind::Key))?;
        inv.topics = load(self.records(ResourceKind::Topic))?;
        inv.log_groups = load(self.records(ResourceKind::LogGroup))?;
        inv.roles = load(self.records(ResourceKind::Role))?;
        inv.buckets = load(self.records(ResourceKind::Bucket))?;
        inv.trails = load(self.records(ResourceKind::Trail))?;
        inv.alarms = load(self.records(ResourceKind::Alarm))?;
        inv.budgets = load(self.records(ResourceKind::Budget))?;
        inv.glue_security_configurations = load(self.records(ResourceKind::GlueSecurityConfiguration))?;
        inv.glue_databases = load(self.records(ResourceKind::GlueDatabase))?;
        inv.athena_workgroups = load(self.records(ResourceKind::AthenaWorkgroup))?;
        if let Some(v) = self.record(ResourceKind::AccountSettings, "account") {
            inv.account = serde_json::from_value(v).map_err(TargetError::other)?;
        }
        for k in inv.keys.values_mut() {
            if let Some(id) = &k.key_id {
                k.versions = self.shared.kms.version_count(id).ok();
            }
        }
        let mut monthly = 0.0;
        for b in inv.buckets.values_mut() {
            let u = self.usage(&b.name);
            for (class, bytes) in &u.bytes {
                monthly += *bytes as f64 / 1e9 * self.prices.get(class).copied().unwrap_or(0.0);
            }
            b.usage = Some(u);
        }
        for b in inv.budgets.values_mut() {
            b.actual_usd = Some(monthly);
            b.forecast_usd = Some(monthly);
        }
        // Runs and alarm states from the metrics the ETL published.
        let mut runs: BTreeMap<String, EtlRunSummary> = BTreeMap::new();
        let mut namespaces: Vec<String> = std::fs::read_dir(self.metrics_dir())
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().trim_end_matches(".jsonl").to_string()).collect())
            .unwrap_or_default();
        namespaces.sort();
        let mut latest: BTreeMap<(String, String), f64> = BTreeMap::new();
        for ns in &namespaces {
            for (time, d) in self.read_metrics(ns) {
                latest.insert((ns.clone(), d.name.clone()), d.value);
                if let Some(run) = d.dimensions.get("RunId") {
                    let e = runs.entry(run.clone()).or_insert_with(|| EtlRunSummary {
                        run_id: run.clone(),
                        dataset: d.dimensions.get("Dataset").cloned().unwrap_or_default(),
                        started_at: time.clone(),
                        succeeded: true,
                        output_formats: vec!["parquet".into(), "csv".into()],
                        partitioned: true,
                    });
                    if d.name == ETL_FAILURE_METRIC && d.value > 0.0 {
                        e.succeeded = false;
                    }
                }
            }
        }
        let mut runs: Vec<EtlRunSummary> = runs.into_values().collect();
        runs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        inv.etl_runs = runs;
        for a in inv.alarms.values_mut() {
            let ns = a.namespace.clone().unwrap_or_default().replace('/', "_");
            let value = if a.namespace.as_deref() == Some("AWS/Billing") {
                Some(monthly)
            } else {
                latest.get(&(ns, a.metric_name.clone().unwrap_or_default())).copied()
            };
            a.state = Some(match (value, a.threshold) {
                (Some(v), Some(t)) if v >= t => "ALARM".into(),
                (Some(_), _) => "OK".into(),
                (None, _) => "INSUFFICIENT_DATA".into(),
            });
        }
        Ok(inv)
    }

    async fn apply(&self, change: &ChangeRequest) -> TargetResult<()> {
        let r = &change.resource;
        let result = self.apply_inner(change);
        let outcome = if result.is_ok() { "allowed" } else { "error" };
        let action = format!("dapgov:{:?}{}", change.action, r.kind.as_str());
        let recorded = self.shared.record_event("management", &self.operator(), &action, &r.to_string(), outcome, result.as_ref().err().map(|e| e.to_string()));
        if r.kind == ResourceKind::Trail {
            self.refresh_trail();
        }
        result.and(recorded)
    }

    async fn session(&self, project: &str, role: &str) -> TargetResult<RoleSession> {
        let caller = self.caller(project, role)?;
        let keys = self.keys_by_id();
        let key_by_arn: BTreeMap<String, KeyInfo> = keys.values().map(|k| (k.arn.clone(), k.clone())).collect();
        let data_event_buckets: Vec<String> = self
            .records(ResourceKind::Trail)
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_value::<dapgov_inventory::Trail>(v).ok())
            .filter(|t| t.logging == Some(true))
            .flat_map(|t| t.data_event_buckets.unwrap_or_default())
            .collect();
        let mut zones = BTreeMap::new();
        for (name, v) in self.records(ResourceKind::Bucket) {
            let b: Bucket = serde_json::from_value(v).map_err(TargetError::other)?;
            let Some(zone) = b.zone.clone() else { continue };
            let key = b.encryption.as_ref().filter(|e| e.algorithm == "aws:kms").and_then(|e| e.kms_key.as_ref()).and_then(|arn| key_by_arn.get(arn)).cloned();
            let info = BucketInfo {
                name: name.clone(),
                arn: format!("arn:aws:s3:::{name}"),
                dir: self.bucket_dir(&name),
                policy: b.policy.as_ref().and_then(|p| Document::parse(p).ok()),
                key,
                data_events: data_event_buckets.contains(&name),
            };
            let store = GovernedStore { shared: self.shared.clone(), bucket: info, caller: caller.clone(), keys: keys.clone() };
            zones.insert(zone, ZoneStore { bucket: name.clone(), url: format!("dapgov://{name}/"), store: Arc::new(store) });
        }
        let pii_key_id = self.record(ResourceKind::Key, &format!("{project}-pii")).and_then(|v| v["key_id"].as_str().map(String::from));
        let pii_key = pii_key_id.and_then(|id| keys.get(&id)).cloned();
        Ok(RoleSession {
            role: role.into(),
            principal_arn: caller.arn.clone(),
            zones,
            keys: Arc::new(LocalKeys { shared: self.shared.clone(), caller: caller.clone(), pii_key }),
            metrics: Arc::new(LocalMetrics { dir: self.metrics_dir(), caller: caller.clone(), shared: self.shared.clone() }),
            catalog: Arc::new(LocalCatalog { target_root: self.shared.root.clone(), caller: caller.clone(), shared: self.shared.clone(), region: self.region.clone() }),
            audit: Arc::new(LocalAuditLog { caller, shared: self.shared.clone() }),
        })
    }
}

impl LocalTarget {
    fn apply_inner(&self, change: &ChangeRequest) -> TargetResult<()> {
        let r = &change.resource;
        let observed = self.record(r.kind, &r.name);
        match change.action {
            ChangeAction::Delete => return self.delete(r, observed, change.force_delete_data),
            ChangeAction::Replace => self.delete(r, observed.clone(), change.force_delete_data)?,
            _ => {}
        }
        let desired = change.desired.clone().ok_or_else(|| TargetError::Other(format!("{r}: no desired state to apply")))?;
        let mut record = match (change.action, observed) {
            (ChangeAction::Update, Some(o)) => o,
            _ => serde_json::json!({}),
        };
        let obj = record.as_object_mut().ok_or_else(|| TargetError::Other(format!("{r}: control record is not an object")))?;
        for (k, v) in desired.as_object().into_iter().flatten() {
            obj.insert(k.clone(), v.clone());
        }
        let region = &self.region;
        let name = &r.name;
        match r.kind {
            ResourceKind::Key if !obj.contains_key("key_id") || change.action != ChangeAction::Update => {
                let id = self.shared.kms.create().map_err(TargetError::other)?;
                obj.insert("arn".into(), format!("arn:aws:kms:{region}:{ACCOUNT}:key/{id}").into());
                obj.insert("key_id".into(), id.into());
            }
            ResourceKind::Key => {
                obj.remove("deletion_date");
            }
            ResourceKind::Bucket => {
                std::fs::create_dir_all(self.bucket_dir(name)).map_err(TargetError::other)?;
                obj.insert("arn".into(), format!("arn:aws:s3:::{name}").into());
            }
            ResourceKind::Role => {
                obj.insert("arn".into(), format!("arn:aws:iam::{ACCOUNT}:role/{name}").into());
            }
            ResourceKind::Trail => {
                obj.insert("arn".into(), format!("arn:aws:cloudtrail:{region}:{ACCOUNT}:trail/{name}").into());
            }
            ResourceKind::Topic => {
                obj.insert("arn".into(), format!("arn:aws:sns:{region}:{ACCOUNT}:{name}").into());
            }
            _ => {}
        }
        self.write_record(r.kind, name, &record)
    }

    fn delete(&self, r: &ResourceRef, observed: Option<Value>, force: bool) -> TargetResult<()> {
        let Some(observed) = observed else { return Ok(()) };
        match r.kind {
            // Keys are never deleted at once: they wait out their deletion window.
            ResourceKind::Key => {
                let mut v = observed;
                let days = v.get("deletion_window_days").and_then(Value::as_u64).unwrap_or(30) as i64;
                v["state"] = "PendingDeletion".into();
                v["deletion_date"] = (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339().into();
                return self.write_record(r.kind, &r.name, &v);
            }
            ResourceKind::Bucket => {
                let u = self.usage(&r.name);
                if u.objects > 0 && !force {
                    return Err(TargetError::Refused {
                        resource: r.to_string(),
                        message: format!("holds {} object(s); rerun with --force-delete-data to delete them", u.objects),
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

struct LocalKeys {
    shared: Arc<Shared>,
    caller: Caller,
    pii_key: Option<KeyInfo>,
}

#[async_trait::async_trait]
impl KeyService for LocalKeys {
    async fn pseudonymisation_key(&self) -> TargetResult<Vec<u8>> {
        let key = self.pii_key.as_ref().ok_or_else(|| TargetError::Other("the PII key does not exist; run `dapgov apply`".into()))?;
        store::check_key(&self.shared, &self.caller, "kms:Decrypt", key)?;
        let material = self.shared.kms.material(&key.key_id, 1).map_err(TargetError::other)?;
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&material).expect("any key length");
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
        self.shared.record_event("data", &self.caller.arn, action, resource, "denied", Some(reason.into()))
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
        let mut req = Request { action: "cloudwatch:PutMetricData".into(), resource: "*".into(), principal: self.caller.arn.clone(), ..Default::default() };
        req.context.insert("cloudwatch:namespace".into(), namespace.into());
        store::check_identity(&self.caller, &req).map_err(|reason| {
            self.shared.record_denial("management", &self.caller.arn, &req.action, namespace, &reason);
            TargetError::AccessDenied { principal: self.caller.arn.clone(), action: req.action.clone(), resource: format!("namespace {namespace}"), reason: Some(reason) }
        })?;
        std::fs::create_dir_all(&self.dir).map_err(TargetError::other)?;
        use std::io::Write;
        let mut f = private_options()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{}.jsonl", namespace.replace('/', "_"))))
            .map_err(TargetError::other)?;
        let time = now();
        for d in data {
            writeln!(f, "{}", serde_json::json!({"time": time, "datum": d})).map_err(TargetError::other)?;
        }
        Ok(())
    }
}

struct LocalCatalog {
    target_root: PathBuf,
    caller: Caller,
    shared: Arc<Shared>,
    region: String,
}

impl LocalCatalog {
    fn path(&self, database: &str) -> PathBuf {
        self.target_root.join("control").join(ResourceKind::GlueDatabase.as_str()).join(file_name(database))
    }
    fn check(&self, action: &str, resource: String) -> TargetResult<()> {
        let req = Request { action: action.into(), resource: resource.clone(), principal: self.caller.arn.clone(), ..Default::default() };
        store::check_identity(&self.caller, &req).map_err(|reason| {
            self.shared.record_denial("management", &self.caller.arn, action, &resource, &reason);
            TargetError::AccessDenied { principal: self.caller.arn.clone(), action: action.into(), resource, reason: Some(reason) }
        })
    }
}

#[async_trait::async_trait]
impl CatalogService for LocalCatalog {
    async fn put_table(&self, database: &str, table: &GlueTable) -> TargetResult<()> {
        self.check("glue:UpdateTable", format!("arn:aws:glue:{}:{ACCOUNT}:table/{database}/{}", self.region, table.name))?;
        let path = self.path(database);
        // Runs of different datasets update one database record: read, change and write it
        // under a lock, or one run's table is lost to another's write.
        let lock = private_options().create(true).truncate(false).write(true).open(path.with_extension("lock")).map_err(TargetError::other)?;
        lock.lock().map_err(TargetError::other)?;
        let text = std::fs::read_to_string(&path).map_err(|_| TargetError::Other(format!("Glue database {database} does not exist; run `dapgov apply`")))?;
        let mut db: GlueDatabase = serde_json::from_str(&text).map_err(TargetError::other)?;
        db.tables.get_or_insert_with(BTreeMap::new).insert(table.name.clone(), table.clone());
        self.shared.record_event("management", &self.caller.arn, "glue:UpdateTable", &format!("{database}.{}", table.name), "allowed", None)?;
        write_atomic(&path, serde_json::to_string_pretty(&db).expect("serialize").as_bytes()).map_err(TargetError::other)?;
        lock.unlock().map_err(TargetError::other)?;
        Ok(())
    }

    async fn tables(&self, database: &str) -> TargetResult<Vec<GlueTable>> {
        self.check("glue:GetTables", format!("arn:aws:glue:{}:{ACCOUNT}:database/{database}", self.region))?;
        let text = std::fs::read_to_string(self.path(database)).map_err(|_| TargetError::Other(format!("Glue database {database} does not exist; run `dapgov apply`")))?;
        let db: GlueDatabase = serde_json::from_str(&text).map_err(TargetError::other)?;
        Ok(db.tables.unwrap_or_default().into_values().collect())
    }
}
