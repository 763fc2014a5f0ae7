use crate::ops::{Context, observe};
use anyhow::Context as _;
use dapgov_audit::{Audit, AuditOptions, Catalogue, Framework, Pillar, Severity};
use dapgov_inventory::Inventory;
use dapgov_report::Format;
use std::path::{Path, PathBuf};

/// Exit status when failing findings are at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 3;

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when no un-muted failing finding is at or above --fail-on, \
3 when at least one is, 1 on error (bad flag, unreadable snapshot or mutelist, target unreachable, \
an account of --accounts that could not be audited)."
)]
pub struct Args {
    /// Only these pillars (repeat or comma-separate): security, reliability,
    /// operational-excellence, performance-efficiency, cost-optimization.
    #[arg(long, value_delimiter = ',')]
    pub pillar: Vec<Pillar>,
    /// Run only checks of this severity or above (critical, high, medium, low, informational).
    #[arg(long, default_value = "informational")]
    pub severity: Severity,
    /// Report formats to write (comma-separated); junit is `audit.junit.xml`, one test case
    /// per check and resource, for CI dashboards; ocsf and asff are what security tools and
    /// Security Hub ingest.
    #[arg(long, value_delimiter = ',', default_value = "html,json,csv,sarif", value_parser = format_names())]
    pub format: Vec<Format>,
    /// Directory for the reports (written as audit.<format>).
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Exit 3 when an un-muted failing finding is at or above this severity; `none` reports
    /// without failing.
    #[arg(long, default_value = "low", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Audit an Inventory JSON file (from `dapgov inventory --out`) instead of the target.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Accepted findings: a TOML file of [[mute]] entries with check, resource and reason.
    #[arg(long)]
    pub mutelist: Option<PathBuf>,
    /// A previous audit.json: mark findings new or unchanged and list the fixed ones.
    #[arg(long)]
    pub compare: Option<PathBuf>,
    /// Judge each requirement of these compliance frameworks (repeat or comma-separate):
    /// well-architected, cis, nist-800-53, foippa. Runs only the checks they map; the HTML
    /// report gains a section and `--format csv` a compliance-<name>.csv per framework.
    #[arg(long, value_delimiter = ',')]
    pub framework: Vec<String>,
    /// Audit many accounts in one report: `org` lists the organization's active accounts
    /// (AWS Organizations; run with the management or a delegated administrator account), or
    /// FILE names them, one 12-digit account id per line, a name after it if you like, `#`
    /// for comments. Each account is read through --role-name.
    #[arg(long, requires = "role_name", conflicts_with_all = ["snapshot", "compare"])]
    pub accounts: Option<String>,
    /// The role to assume in each account of --accounts (a read-only audit role such as the
    /// platform's auditor role, or OrganizationAccountAccessRole).
    #[arg(long, requires = "accounts")]
    pub role_name: Option<String>,
    /// The regions to read in each account of --accounts (default: the spec's platform.region).
    #[arg(long, value_delimiter = ',', requires = "accounts")]
    pub regions: Vec<String>,
    /// Import the findings into the account's AWS Security Hub (BatchImportFindings, as ASFF);
    /// later runs update the same findings in place. With --accounts, each account's into its own.
    #[arg(long, conflicts_with = "snapshot")]
    pub security_hub: bool,
}

/// The severity that fails the audit, or none (`--fail-on none`: report without failing).
#[derive(Debug, Clone, Copy)]
pub struct FailOn(pub Option<Severity>);

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    match s {
        "none" => Ok(FailOn(None)),
        other => other
            .parse::<Severity>()
            .map(|l| FailOn(Some(l)))
            .map_err(|e| format!("{e}; or `none` to report without failing")),
    }
}

fn read_snapshot(path: &Path) -> anyhow::Result<Inventory> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the snapshot {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: not an Inventory: {e}; write one with `dapgov inventory --out FILE`",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// The accounts a FILE names: one 12-digit id per line, optionally a name after it; `#` comments.
fn read_accounts_file(path: &Path) -> anyhow::Result<Vec<dapgov_aws::Account>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the accounts file {} (or pass `--accounts org`)",
            path.display()
        )
    })?;
    let mut out: Vec<dapgov_aws::Account> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (id, name) = line
            .split_once(char::is_whitespace)
            .map(|(i, n)| (i, n.trim()))
            .unwrap_or((line, line));
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!(
                "{}:{}: `{id}` is not a 12-digit AWS account id; write one account id per line, a name after it if you like",
                path.display(),
                n + 1
            );
        }
        if !out.iter().any(|a| a.id == id) {
            out.push(dapgov_aws::Account {
                id: id.to_string(),
                name: name.to_string(),
            });
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "{} names no account: write one 12-digit account id per line",
            path.display()
        );
    }
    Ok(out)
}

fn need_aws<'a>(
    ctx: &Context,
    l: &'a crate::ops::Loaded,
    flag: &str,
) -> anyhow::Result<&'a std::sync::Arc<dapgov_aws::AwsTarget>> {
    l.aws.as_ref().ok_or_else(|| anyhow::anyhow!("{flag} works on AWS accounts: set platform.target = \"aws\" in {} (the local target has none)", ctx.config.display()))
}

/// Import each account's findings into its Security Hub; prints what was imported.
async fn import_to_security_hub(
    target: &dapgov_aws::AwsTarget,
    audit: &Audit,
    account: &str,
) -> anyhow::Result<()> {
    let findings = dapgov_report::asff::findings(audit);
    let got = target.import_findings(&findings).await?;
    println!(
        "Security Hub of account {account}: {} finding(s) imported or updated",
        got.imported
    );
    if !got.refused.is_empty() {
        anyhow::bail!(
            "Security Hub refused {} finding(s): {}",
            got.refused.len(),
            got.refused.join("; ")
        );
    }
    Ok(())
}

/// Audit every account (and region) of --accounts through --role-name, into one audit.
async fn audit_accounts(
    ctx: &Context,
    a: &Args,
    catalogue: &Catalogue,
    frameworks: Vec<Framework>,
    source: &str,
) -> anyhow::Result<Audit> {
    use futures::StreamExt;
    let l = ctx.open(false).await?;
    let base = need_aws(ctx, &l, "--accounts")?;
    let accounts = if source == "org" {
        base.organization_accounts().await?
    } else {
        read_accounts_file(Path::new(source))?
    };
    let regions = if a.regions.is_empty() {
        vec![l.spec.platform.region.clone()]
    } else {
        a.regions.clone()
    };
    let role_name = a
        .role_name
        .as_deref()
        .expect("clap requires --role-name with --accounts");
    let mutelist = crate::ops::read_mutelist(a.mutelist.as_deref(), catalogue)?;
    let project = l.spec.platform.name.clone();
    let now = chrono::Utc::now();
    let pairs: Vec<(dapgov_aws::Account, String)> = accounts
        .iter()
        .flat_map(|acct| regions.iter().map(move |r| (acct.clone(), r.clone())))
        .collect();
    // A handful at a time: each account's read is itself dozens of concurrent calls.
    let parts: Vec<dapgov_audit::AccountPart> = futures::stream::iter(pairs)
        .map(|(acct, region)| {
            let (base, project, frameworks, mutelist) = (
                base.clone(),
                project.clone(),
                frameworks.clone(),
                mutelist.as_ref(),
            );
            async move {
                let outcome = async {
                    let t = base.in_account(&acct.id, role_name, &region).await?;
                    let inventory = dapgov_target::Target::read_inventory(&t, &project).await?;
                    let options = AuditOptions {
                        pillars: a.pillar.clone(),
                        min_severity: a.severity,
                        now,
                        source: format!("aws:{}:{role_name}", acct.id),
                        mutelist: mutelist.map(|(m, name)| (m, name.clone())),
                        previous: None,
                        frameworks,
                    };
                    let audit = dapgov_audit::run(&inventory, catalogue, &options);
                    if a.security_hub {
                        import_to_security_hub(&t, &audit, &acct.id).await?;
                    }
                    anyhow::Ok(audit)
                }
                .await
                .map_err(|e| format!("{e:#}"));
                dapgov_audit::AccountPart {
                    account_id: acct.id,
                    name: acct.name,
                    region,
                    outcome,
                }
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut parts = parts;
    parts.sort_by(|x, y| (&x.account_id, &x.region).cmp(&(&y.account_id, &y.region)));
    let errors: Vec<String> = parts
        .iter()
        .filter_map(|p| {
            p.outcome
                .as_ref()
                .err()
                .map(|e| format!("{} ({}): {e}", p.account_id, p.region))
        })
        .collect();
    dapgov_audit::combine(parts, a.fail_on.0, &frameworks)
        .ok_or_else(|| anyhow::anyhow!("no account could be audited:\n  {}", errors.join("\n  ")))
}

/// Run an audit and write its reports; returns the audit and the report paths.
pub async fn audit(ctx: &Context, a: &Args) -> anyhow::Result<(Audit, Vec<PathBuf>)> {
    let catalogue = Catalogue::builtin()?;
    let frameworks = a
        .framework
        .iter()
        .map(|name| Framework::named(name, &catalogue))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(source) = &a.accounts {
        let result = audit_accounts(ctx, a, &catalogue, frameworks, source).await?;
        let written = dapgov_report::write(&result, &a.format, &a.out)?;
        return Ok((result, written));
    }
    let mut hub = None;
    let (inventory, source) = match &a.snapshot {
        Some(p) => (read_snapshot(p)?, format!("snapshot:{}", p.display())),
        None => {
            let l = ctx.open(false).await?;
            if a.security_hub {
                hub = Some(need_aws(ctx, &l, "--security-hub")?.clone());
            }
            let (mut inv, _) = observe(&l).await?;
            crate::ops::observe_freshness(&l, &mut inv).await;
            let source = inv.target.clone();
            (inv, source)
        }
    };
    let mutelist = crate::ops::read_mutelist(a.mutelist.as_deref(), &catalogue)?;
    // Read before writing: --compare may name the file this run replaces.
    let previous = a
        .compare
        .as_deref()
        .map(dapgov_report::read_previous)
        .transpose()?;
    let options = AuditOptions {
        pillars: a.pillar.clone(),
        min_severity: a.severity,
        now: chrono::Utc::now(),
        source,
        mutelist: mutelist.as_ref().map(|(m, name)| (m, name.clone())),
        previous: previous.as_ref(),
        frameworks,
    };
    let mut result = dapgov_audit::run(&inventory, &catalogue, &options);
    // Findings point at the spec line that declares their resource (SARIF shows them there).
    if a.snapshot.is_none()
        && let Ok(text) = std::fs::read_to_string(&ctx.config)
    {
        let zone_of = |address: &str| {
            address
                .strip_prefix("bucket.")
                .and_then(|b| inventory.buckets.get(b))
                .and_then(|b| b.zone.clone())
        };
        result.locate_in_spec(&ctx.config.display().to_string(), |address| {
            dapgov_spec::declaring_line(&text, address, zone_of(address).as_deref())
        });
    }
    let written = dapgov_report::write(&result, &a.format, &a.out)?;
    if let Some(target) = hub {
        import_to_security_hub(&target, &result, &result.run.account_id).await?;
    }
    Ok((result, written))
}

/// `--format`'s values, named by the report crate's list of formats (so help lists them all).
fn format_names() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Format::ALL.map(Format::name)).map(|name| {
        name.parse::<Format>()
            .expect("every listed format name parses")
    })
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let (audit, written) = audit(ctx, &a).await?;
    print!(
        "{}",
        dapgov_report::summary::audit(&audit, &written, a.fail_on.0, EXIT_FINDINGS)
    );
    if audit.accounts.iter().any(|acct| acct.error.is_some()) {
        // An account that could not be read is an error, whatever the others found.
        return Ok(1);
    }
    Ok(
        if a.fail_on
            .0
            .is_some_and(|level| audit.failing_at_or_above(level) > 0)
        {
            EXIT_FINDINGS
        } else {
            0
        },
    )
}

#[derive(clap::Args)]
pub struct ChecksArgs {
    /// Only this pillar's checks.
    #[arg(long)]
    pub pillar: Option<Pillar>,
    /// `table` (default), `json` (the full catalogue entries) or `markdown` (as in docs/checks.md).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "markdown"])]
    pub format: String,
    /// List this compliance framework's requirements and the checks mapped to each instead:
    /// well-architected, cis, nist-800-53, foippa.
    #[arg(long, conflicts_with = "pillar")]
    pub framework: Option<String>,
}

pub fn checks(a: ChecksArgs) -> anyhow::Result<u8> {
    let catalogue = Catalogue::builtin()?;
    if let Some(name) = &a.framework {
        let fw = Framework::named(name, &catalogue)?;
        match a.format.as_str() {
            "json" => println!("{}", serde_json::to_string_pretty(&fw)?),
            "markdown" => print!("{}", dapgov_report::framework_markdown(&fw)),
            _ => {
                println!("{} ({})", fw.title, fw.version);
                let rows: Vec<Vec<String>> = fw
                    .requirements
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.clone(),
                            r.title.clone(),
                            if r.manual {
                                "MANUAL".to_string()
                            } else {
                                r.checks.join(", ")
                            },
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    dapgov_report::text::table(&["requirement", "title", "checks"], &rows)
                );
                let manual = fw.requirements.iter().filter(|r| r.manual).count();
                println!(
                    "{} requirements: {} mapped to checks, {manual} manual",
                    fw.requirements.len(),
                    fw.requirements.len() - manual
                );
            }
        }
        return Ok(0);
    }
    let selected: Vec<_> = catalogue
        .checks()
        .iter()
        .filter(|c| a.pillar.is_none_or(|p| c.pillar == p))
        .collect();
    if a.format == "markdown" {
        print!(
            "{}",
            dapgov_report::catalogue_markdown(&catalogue, a.pillar)
        );
        return Ok(0);
    }
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&selected)?);
        return Ok(0);
    }
    let rows: Vec<Vec<&str>> = selected
        .iter()
        .map(|c| {
            vec![
                c.id.as_str(),
                c.pillar.as_str(),
                c.severity.as_str(),
                c.best_practice.as_str(),
                c.title.as_str(),
            ]
        })
        .collect();
    println!(
        "{}",
        dapgov_report::text::table(&["id", "pillar", "severity", "practice", "title"], &rows)
    );
    println!("{} checks", selected.len());
    Ok(0)
}
