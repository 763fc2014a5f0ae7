//! Work shared by commands: loading the spec, opening the target, converging.

use anyhow::{Context as _, bail};
use dapgov_inventory::Inventory;
use dapgov_plan::Plan;
use dapgov_spec::{Spec, Target as TargetKind};
use dapgov_target::{ChangeAction, ChangeRequest, Target};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

pub struct Context {
    pub config: PathBuf,
    pub target: Option<String>,
}

pub struct Loaded {
    pub spec: Spec,
    /// The directory of the spec file: the spec's relative paths start here.
    pub spec_dir: PathBuf,
    pub target: std::sync::Arc<dyn Target>,
    /// The same target when it is the local one, for its local-only operations.
    pub local: Option<std::sync::Arc<dapgov_local::LocalTarget>>,
    /// The same target when it is the aws one, for its AWS-only operations (other accounts,
    /// Security Hub).
    pub aws: Option<std::sync::Arc<dapgov_aws::AwsTarget>>,
}

impl Context {
    pub fn spec(&self) -> anyhow::Result<Spec> {
        let mut spec = Spec::load(&self.config)?;
        if let Some(t) = &self.target {
            spec.platform.target = if t == "aws" {
                TargetKind::Aws
            } else {
                TargetKind::Local
            };
        }
        Ok(spec)
    }

    /// The directory of the spec file.
    pub fn spec_dir(&self) -> PathBuf {
        self.config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }

    /// The state directory of the local target, relative to the spec file.
    pub fn state_dir(&self, spec: &Spec) -> PathBuf {
        self.spec_dir().join(&spec.platform.state_dir)
    }

    /// Open the spec's target. `create` lets the local target make its root secret.
    pub async fn open(&self, create: bool) -> anyhow::Result<Loaded> {
        let spec = self.spec()?;
        match spec.platform.target {
            TargetKind::Local => {
                let dir = self.state_dir(&spec);
                let t = std::sync::Arc::new(dapgov_local::LocalTarget::open(
                    &dir,
                    &spec.platform.region,
                    spec.local.price_per_gb_month.clone(),
                    create,
                )?);
                Ok(Loaded {
                    spec,
                    spec_dir: self.spec_dir(),
                    target: t.clone(),
                    local: Some(t),
                    aws: None,
                })
            }
            TargetKind::Aws => {
                let t = std::sync::Arc::new(
                    dapgov_aws::AwsTarget::connect(&spec.platform.region).await,
                );
                Ok(Loaded {
                    spec,
                    spec_dir: self.spec_dir(),
                    target: t.clone(),
                    local: None,
                    aws: Some(t),
                })
            }
        }
    }
}

pub async fn observe(l: &Loaded) -> anyhow::Result<(Inventory, String)> {
    let account = l.target.account_id().await?;
    let inv = l.target.read_inventory(&l.spec.platform.name).await?;
    Ok((inv, account))
}

/// How current each dataset that declares `fresh_within` is, read as the etl role. A
/// dataset whose table cannot be read is marked unreadable (its check does not apply), with
/// the reason logged.
pub async fn observe_freshness(l: &Loaded, inv: &mut Inventory) {
    let declared: Vec<&String> = l
        .spec
        .datasets
        .iter()
        .filter(|(_, d)| d.fresh_within.is_some())
        .map(|(n, _)| n)
        .collect();
    if declared.is_empty() {
        return;
    }
    let assessed = async {
        let session = l.target.session(&l.spec.platform.name, "etl").await?;
        Ok::<_, anyhow::Error>(
            dapgov_etl::freshness::assess(&session, &l.spec, chrono::Utc::now()).await?,
        )
    }
    .await;
    match assessed {
        Ok(f) => inv.dataset_freshness = f,
        Err(e) => {
            tracing::warn!("cannot read the datasets' freshness: {e:#}");
            for name in declared {
                inv.unreadable
                    .insert(format!("etl_dataset.{name}:freshness"));
                inv.dataset_freshness
                    .insert(name.clone(), Default::default());
            }
        }
    }
}

/// The plan from what is to what the spec describes; returns it with the platform as the
/// plan would leave it (the desired Inventory, keys' ARNs filled in as far as they are known).
pub async fn make_plan(l: &Loaded) -> anyhow::Result<(Plan, Inventory)> {
    let (observed, account) = observe(l).await?;
    let mut desired = dapgov_spec::desired(&l.spec, &observed, &account)?;
    with_packages(&mut desired, &l.spec_dir)?;
    lint_roles(&desired)?;
    let plan = dapgov_plan::plan(&desired, &observed);
    Ok((plan, dapgov_spec::with_key_arns(desired, &observed)))
}

/// Each function's package read from this machine: its path resolved, its SHA-256 (as Lambda
/// reports it) the code the function must run.
fn with_packages(desired: &mut Inventory, spec_dir: &Path) -> anyhow::Result<()> {
    for f in desired.functions.values_mut() {
        let Some(p) = f.package.as_mut() else {
            continue;
        };
        let file = spec_dir.join(&p.file);
        anyhow::ensure!(
            file.is_file(),
            "[automation.function] package = {:?}: {} does not exist; build it with `dapgov package lambda`",
            p.file,
            file.display()
        );
        let (_, base64) = crate::commands::package::digest(&file)?;
        p.file = file.display().to_string();
        // The audit holds the code the function runs to the package deployed.
        f.tags
            .get_or_insert_with(Default::default)
            .insert(dapgov_inventory::names::PACKAGE_TAG.into(), base64.clone());
        f.code_sha256 = Some(base64);
    }
    Ok(())
}

/// The checks, run on the platform the spec describes before anything is made: the failing
/// findings at or above `fail_on` on resources the plan creates or changes (a finding muted
/// with a reason does not count).
pub fn audit_planned(
    desired: &Inventory,
    plan: &Plan,
    fail_on: dapgov_audit::Severity,
    mutelist: Option<&Path>,
) -> anyhow::Result<Vec<dapgov_audit::Finding>> {
    let catalogue = dapgov_audit::Catalogue::builtin()?;
    let mutelist = read_mutelist(mutelist, &catalogue)?;
    let options = dapgov_audit::AuditOptions {
        source: "desired".into(),
        mutelist: mutelist.as_ref().map(|(m, n)| (m, n.clone())),
        ..Default::default()
    };
    let audit = dapgov_audit::run(desired, &catalogue, &options);
    let changed: std::collections::BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action != ChangeAction::Delete)
        .map(|c| c.address.as_str())
        .collect();
    Ok(audit
        .findings
        .into_iter()
        .filter(|f| {
            f.is_failing() && f.severity >= fail_on && changed.contains(f.resource.as_str())
        })
        .collect())
}

/// A mutelist file, checked against the catalogue, with the name reports give it.
pub fn read_mutelist(
    path: Option<&Path>,
    catalogue: &dapgov_audit::Catalogue,
) -> anyhow::Result<Option<(dapgov_audit::Mutelist, String)>> {
    let Some(p) = path else { return Ok(None) };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read the mutelist {}", p.display()))?;
    Ok(Some((
        dapgov_audit::Mutelist::parse(&text, &p.display().to_string(), catalogue)?,
        p.display().to_string(),
    )))
}

/// Print what the audit of a plan found; true when it found something to refuse.
pub fn report_planned_audit(
    blockers: &[dapgov_audit::Finding],
    fail_on: dapgov_audit::Severity,
    changed: usize,
) -> bool {
    if blockers.is_empty() {
        println!(
            "Audit of the planned platform: no failing check at or above {} on the {changed} resource(s) this plan creates or changes.",
            fail_on.as_str()
        );
        return false;
    }
    println!(
        "Audit of the planned platform: {} failing check(s) at or above {} on resources this plan creates or changes:",
        blockers.len(),
        fail_on.as_str()
    );
    for f in blockers {
        println!(
            "  FAIL {:<8} {} {}: {}",
            f.severity.as_str(),
            f.check_id,
            f.resource,
            f.detail
        );
    }
    println!("Change the spec, or mute a finding with a reason (--mutelist FILE).");
    true
}

/// Refuse to apply a role policy the linter rejects.
fn lint_roles(desired: &Inventory) -> anyhow::Result<()> {
    let mut problems = vec![];
    for role in desired.roles.values() {
        for (name, doc) in role.inline_policies.iter().flatten() {
            let doc = dapgov_policy::Document::parse(doc)
                .with_context(|| format!("role {} policy {name}", role.name))?;
            problems.extend(
                dapgov_policy::lint(name, &doc)
                    .into_iter()
                    .map(|e| e.to_string()),
            );
        }
    }
    if !problems.is_empty() {
        bail!(
            "refusing to apply unsafe policies:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Ask for "yes" on a terminal; refuse when there is none.
pub fn confirm(question: &str, auto_approve: bool) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to confirm on; rerun with --auto-approve");
    }
    print!("{question}\n  Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// Apply until the platform matches the spec. Changes that name a key not yet created wait
/// for the next round, when the key's ARN is known.
pub async fn converge(l: &Loaded, mut plan: Plan) -> anyhow::Result<usize> {
    let mut applied = 0;
    for _round in 0..8 {
        if plan.is_empty() {
            return Ok(applied);
        }
        let mut progressed = false;
        // Kinds come in the order they must be created: while a resource waits (on a key's
        // ARN), resources of later kinds wait with it (a function's package goes into a
        // bucket that waits on its key).
        let waiting_kind = plan
            .changes
            .iter()
            .find(|c| !c.waits_on.is_empty())
            .map(|c| c.resource.kind);
        for c in plan
            .changes
            .iter()
            .filter(|c| c.waits_on.is_empty() && waiting_kind.is_none_or(|k| c.resource.kind <= k))
        {
            let req = ChangeRequest {
                resource: c.resource.clone(),
                action: c.action,
                desired: c.after.clone(),
                observed: c.before.clone(),
                force_delete_data: false,
            };
            l.target
                .apply(&req)
                .await
                .with_context(|| format!("applying {} ({:?})", c.address, c.action))?;
            println!("{} {}", symbol(c.action), c.address);
            applied += 1;
            progressed = true;
        }
        if !progressed {
            let waiting: Vec<String> = plan
                .changes
                .iter()
                .map(|c| format!("{} waits on key {}", c.address, c.waits_on.join(", ")))
                .collect();
            bail!(
                "apply made no progress: the remaining changes wait on keys that were not created:\n  {}",
                waiting.join("\n  ")
            );
        }
        plan = make_plan(l).await?.0;
    }
    bail!(
        "the platform did not converge after 8 rounds; run `dapgov plan` to see what keeps changing"
    )
}

pub fn symbol(a: ChangeAction) -> &'static str {
    match a {
        ChangeAction::Create => "+",
        ChangeAction::Update => "~",
        ChangeAction::Replace => "-/+",
        ChangeAction::Delete => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapgov_audit::Severity;

    /// A freshly applied local platform after one ETL run.
    fn platform() -> Inventory {
        serde_json::from_str(include_str!("../../../tests/fixtures/platform.json")).unwrap()
    }

    #[test]
    fn the_planned_audit_refuses_only_failures_on_what_the_plan_creates_or_changes() {
        let observed = platform();
        let mut desired = observed.clone();
        desired.keys.get_mut("van311-pii").unwrap().rotation_enabled = Some(false);
        let plan = dapgov_plan::plan(&desired, &observed);
        let blockers = audit_planned(&desired, &plan, Severity::Low, None).unwrap();
        let found: Vec<(&str, &str)> = blockers
            .iter()
            .map(|f| (f.check_id.as_str(), f.resource.as_str()))
            .collect();
        assert_eq!(found, [("kms_cmk_rotation_enabled", "key.van311-pii")]);
        // Above the finding's severity, or on a platform already so (the plan changes nothing
        // there), it is not this plan's to refuse.
        assert!(
            audit_planned(&desired, &plan, Severity::Critical, None)
                .unwrap()
                .is_empty()
        );
        let unchanged = dapgov_plan::plan(&desired, &desired);
        assert!(
            audit_planned(&desired, &unchanged, Severity::Low, None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_mutelist_that_cannot_be_read_or_names_an_unknown_check_is_an_error_naming_the_file() {
        let catalogue = dapgov_audit::Catalogue::builtin().unwrap();
        let err = read_mutelist(Some(Path::new("/nonexistent/mute.toml")), &catalogue).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot read the mutelist /nonexistent/mute.toml"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mute.toml");
        std::fs::write(&path, "[[mute]]\ncheck = \"s3_bucket_encrypted_with_hope\"\nresource = \"*\"\nreason = \"r\"\n").unwrap();
        let err = read_mutelist(Some(&path), &catalogue).unwrap_err();
        assert!(
            format!("{err:#}").contains("s3_bucket_encrypted_with_hope"),
            "{err:#}"
        );
        assert!(read_mutelist(None, &catalogue).unwrap().is_none());
    }
}
