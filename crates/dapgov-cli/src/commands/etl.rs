use crate::ops::Context;
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum EtlCommand {
    /// Run every stage (landing → raw → curated → trusted) for one input, as the etl role.
    Run {
        /// A file to load (CSV, Excel or Parquet).
        #[arg(
            long,
            required_unless_present_any = ["from_landing", "delivery"],
            conflicts_with_all = ["from_landing", "delivery"]
        )]
        input: Option<PathBuf>,
        /// Instead of --input: load the one delivery at KEY in the landing zone (what the
        /// platform does when a delivery lands), exactly once however often it is asked.
        #[arg(long, value_name = "KEY", conflicts_with = "from_landing")]
        delivery: Option<String>,
        /// Instead of --input: load every file delivered into the landing zone under
        /// KEY_PREFIX (default `DATASET/`) that the dataset has not taken yet (by sha256),
        /// oldest first, reporting each.
        #[arg(long, value_name = "KEY_PREFIX", num_args = 0..=1, default_missing_value = "")]
        from_landing: Option<String>,
        /// A dataset declared under [datasets.NAME] in the spec.
        #[arg(long)]
        dataset: String,
        /// Run again even if this input was already loaded.
        #[arg(long)]
        force: bool,
    },
    /// Deliver a file into the landing zone as the etl role, without loading it (as the call
    /// system does; `serve`, the landing sweep or `etl run --delivery` loads it).
    Deliver {
        file: PathBuf,
        #[arg(long)]
        dataset: String,
        /// The key in landing (default `DATASET/<file name>`).
        #[arg(long)]
        key: Option<String>,
    },
    /// The loads of a dataset's table, oldest first: version, time, operation, input file and
    /// its sha256, rows added and removed, run and role.
    History {
        /// A dataset (or, with --zone trusted, a trusted table).
        dataset: String,
        #[arg(long, default_value = "curated", value_parser = ["raw", "quarantine", "curated", "trusted"])]
        zone: String,
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Undo loads: restore a dataset's table to an earlier version (as a new version, so the
    /// history keeps what was undone). After a curated rollback the trusted tables that read
    /// the dataset are rebuilt from the restored data.
    Rollback {
        dataset: String,
        /// The version to return to (see `dapgov etl history`).
        #[arg(long)]
        to: u64,
        #[arg(long, default_value = "curated", value_parser = ["raw", "quarantine", "curated", "trusted"])]
        zone: String,
    },
    /// Compact small files and remove files no table version references any more (older
    /// than the zone's retention and the spec's `time_travel_days`), for a dataset's tables.
    Maintain {
        /// A dataset; all of them when absent.
        dataset: Option<String>,
    },
    /// The data-quality profile of a file (types, empties, ranges, invalid values, date gaps,
    /// personal information), written as JSON and HTML. Needs no platform.
    Profile {
        /// A CSV, Excel or Parquet file.
        path: PathBuf,
        /// Directory for profile-<file>.json and profile-<file>.html.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
}

pub async fn run(ctx: &Context, cmd: EtlCommand) -> anyhow::Result<u8> {
    let (input, dataset, force) = match cmd {
        EtlCommand::Run {
            from_landing: Some(prefix),
            dataset,
            force,
            ..
        } => return from_landing(ctx, &dataset, &prefix, force).await,
        EtlCommand::Run {
            delivery: Some(key),
            dataset,
            force,
            ..
        } => return one_delivery(ctx, &dataset, &key, force).await,
        EtlCommand::Deliver { file, dataset, key } => {
            return deliver(ctx, &file, &dataset, key).await;
        }
        EtlCommand::Run {
            input: Some(input),
            dataset,
            force,
            ..
        } => (input, dataset, force),
        EtlCommand::Run { .. } => anyhow::bail!("etl run needs --input FILE or --from-landing"),
        EtlCommand::History {
            dataset,
            zone,
            format,
        } => return history(ctx, &dataset, &zone, &format).await,
        EtlCommand::Rollback { dataset, to, zone } => {
            return rollback(ctx, &dataset, to, &zone).await;
        }
        EtlCommand::Maintain { dataset } => return maintain(ctx, dataset.as_deref()).await,
        EtlCommand::Profile { path, out } => {
            let (p, written) = profile(&path, &out)?;
            print_profile(&p);
            for w in &written {
                println!("Wrote {}", w.display());
            }
            return Ok(0);
        }
    };
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let m = run_one(&session, &l.spec, &input, &dataset, force)
        .await
        .with_context(|| format!("etl run of {} as dataset {dataset}", input.display()))?;
    print!(
        "{}",
        dapgov_report::summary::etl_run(&m, &input.display().to_string(), &dataset)
    );
    Ok(0)
}

/// One run, with a spinner on a terminal.
async fn run_one(
    session: &dapgov_target::RoleSession,
    spec: &dapgov_spec::Spec,
    input: &std::path::Path,
    dataset: &str,
    force: bool,
) -> anyhow::Result<dapgov_etl::Manifest> {
    let bar = indicatif::ProgressBar::new_spinner();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |msg: &str| {
        tracing::info!("{msg}");
        bar.set_message(msg.to_string());
    };
    let m = dapgov_etl::run(
        session,
        spec,
        dapgov_etl::RunOptions {
            input,
            dataset,
            force,
            delivered: None,
            progress: &progress,
        },
    )
    .await;
    bar.finish_and_clear();
    Ok(m?)
}

/// Every delivery under the prefix the dataset has not taken, oldest first; one that fails
/// is reported and the others still run.
async fn from_landing(
    ctx: &Context,
    dataset: &str,
    prefix: &str,
    force: bool,
) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let sweep = sweep(&session, &l.spec, dataset, prefix, force).await?;
    Ok(u8::from(sweep.failed > 0))
}

/// A dataset the spec declares, or the error that says how to declare it.
fn declared(spec: &dapgov_spec::Spec, dataset: &str) -> anyhow::Result<()> {
    if spec.datasets.contains_key(dataset) {
        Ok(())
    } else {
        Err(dapgov_etl::EtlError::UnknownDataset(dataset.into()).into())
    }
}

/// Load the delivery at `key` in landing, as the etl role.
async fn one_delivery(ctx: &Context, dataset: &str, key: &str, force: bool) -> anyhow::Result<u8> {
    use dapgov_etl::landing::Outcome;
    let l = ctx.open(false).await?;
    declared(&l.spec, dataset)?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let object = dapgov_etl::landing::object(&session, key).await?;
    let mut taken = dapgov_etl::landing::loaded_inputs(&session, dataset).await?;
    let progress = |msg: &str| tracing::info!("{key}: {msg}");
    match dapgov_etl::landing::load_delivery(
        &session, &l.spec, dataset, &object, force, &mut taken, &progress,
    )
    .await?
    {
        Outcome::Loaded(m) => {
            print!("{}", dapgov_report::summary::etl_run(&m, key, dataset));
            Ok(0)
        }
        Outcome::AlreadyTaken { sha256 } => {
            println!(
                "No-op: {key} is already loaded into {dataset} (sha256 {}).",
                &sha256[..12]
            );
            Ok(0)
        }
        Outcome::Failed(e) => {
            Err(anyhow::Error::new(e).context(format!("etl run of {key} as dataset {dataset}")))
        }
    }
}

/// Put a file into landing as the etl role.
async fn deliver(
    ctx: &Context,
    file: &std::path::Path,
    dataset: &str,
    key: Option<String>,
) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    declared(&l.spec, dataset)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| anyhow::anyhow!("{} names no file", file.display()))?;
    let key = key.unwrap_or_else(|| format!("{dataset}/{name}"));
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let object = dapgov_etl::landing::put(&session, &key, file).await?;
    println!(
        "Delivered {} to landing as {key} ({} bytes).",
        file.display(),
        object.size
    );
    Ok(0)
}

/// What a sweep of a landing prefix did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub loaded: usize,
    pub already_taken: usize,
    pub failed: usize,
}

/// Load every delivery under `prefix` (default `DATASET/`) as the session's role, oldest
/// first, printing what became of each.
pub async fn sweep(
    session: &dapgov_target::RoleSession,
    spec: &dapgov_spec::Spec,
    dataset: &str,
    prefix: &str,
    force: bool,
) -> anyhow::Result<Swept> {
    use dapgov_etl::landing::Outcome;
    declared(spec, dataset)?;
    let prefix = if prefix.is_empty() {
        format!("{dataset}/")
    } else {
        prefix.to_string()
    };
    let deliveries = dapgov_etl::landing::deliveries(session, &prefix).await?;
    let landing_url = session
        .zones
        .get("landing")
        .map(|z| z.url.clone())
        .unwrap_or_default();
    let mut swept = Swept::default();
    // Read once; each load adds to it, so the same bytes delivered twice load once.
    let mut taken = dapgov_etl::landing::loaded_inputs(session, dataset).await?;
    for d in &deliveries {
        let label = format!("{landing_url}{}", d.location);
        let progress = |msg: &str| tracing::info!("{label}: {msg}");
        match dapgov_etl::landing::load_delivery(
            session, spec, dataset, d, force, &mut taken, &progress,
        )
        .await?
        {
            Outcome::Loaded(m) => {
                print!("{}", dapgov_report::summary::etl_run(&m, &label, dataset));
                swept.loaded += 1;
            }
            Outcome::AlreadyTaken { sha256 } => {
                println!(
                    "Skipped {label}: already taken by dataset {dataset} (sha256 {}).",
                    &sha256[..12]
                );
                swept.already_taken += 1;
            }
            Outcome::Failed(e) => {
                eprintln!("error: etl run of {label} as dataset {dataset}: {e:#}");
                swept.failed += 1;
            }
        }
    }
    println!(
        "From {landing_url}{prefix}: {} delivery(ies); {} loaded, {} already taken, {} failed.",
        deliveries.len(),
        swept.loaded,
        swept.already_taken,
        swept.failed
    );
    Ok(swept)
}

async fn history(ctx: &Context, dataset: &str, zone: &str, format: &str) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let commits = dapgov_etl::history(&session, zone, dataset).await?;
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&commits)?);
        return Ok(0);
    }
    let count = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = commits
        .iter()
        .map(|c| {
            let field = |k: &str| {
                c.load
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("-")
                    .to_string()
            };
            let (sha, role) = (field("sha256"), field("role"));
            vec![
                c.version.to_string(),
                c.time.to_string(),
                c.operation.to_string(),
                count(c.rows_added),
                count(c.rows_removed),
                field("run_id"),
                field("input"),
                sha[..sha.len().min(12)].to_string(),
                role.split('/').nth(1).unwrap_or(&role).to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        dapgov_report::text::table(
            &[
                "version", "time", "op", "added", "removed", "run", "input", "sha256", "role"
            ],
            &rows
        )
    );
    Ok(0)
}

async fn maintain(ctx: &Context, dataset: Option<&str>) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let datasets: Vec<String> = match dataset {
        Some(d) => vec![d.to_string()],
        None => l.spec.datasets.keys().cloned().collect(),
    };
    for d in &datasets {
        for (table, m) in dapgov_etl::maintain(&session, &l.spec, d)
            .await
            .with_context(|| format!("maintenance of dataset {d}"))?
        {
            println!(
                "{table}: {} small file(s) compacted into {}, {} unreferenced file(s) removed",
                m.files_compacted, m.files_written, m.files_removed
            );
        }
    }
    Ok(0)
}

async fn rollback(ctx: &Context, dataset: &str, to: u64, zone: &str) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l.target.session(&l.spec.platform.name, "etl").await?;
    let r = dapgov_etl::rollback(&session, &l.spec, zone, dataset, to)
        .await
        .with_context(|| format!("rollback of {zone}.{dataset} to version {to}"))?;
    println!(
        "Restored {} to version {} (committed as version {})",
        r.table, r.restored_version, r.new_version
    );
    for (t, status) in &r.trusted {
        println!("  trusted.{t}: {status}");
    }
    Ok(0)
}

/// Profile a file and write its reports; returns the profile and the paths written.
pub fn profile(
    path: &std::path::Path,
    out: &std::path::Path,
) -> anyhow::Result<(dapgov_etl::profile::Profile, Vec<PathBuf>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    let p = dapgov_etl::profile::profile(&bytes, &name)?;
    let stem = format!(
        "profile-{}",
        name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&name)
    );
    let written = dapgov_report::write_profile(&p, out, &stem)?;
    Ok((p, written))
}

/// One line for the file, then one per column with what needs attention.
pub fn print_profile(p: &dapgov_etl::profile::Profile) {
    println!(
        "{}: {} rows, {} columns, {} duplicate rows, {} malformed rows",
        p.file, p.rows, p.columns_count, p.duplicate_rows, p.ragged_rows
    );
    for c in &p.columns {
        let mut notes = vec![];
        if c.nulls > 0 {
            notes.push(format!("{} empty", c.nulls));
        }
        if c.invalid.count > 0 {
            notes.push(format!("{} not {}", c.invalid.count, c.inferred_type));
        }
        if let Some(g) = c.date_gaps.as_ref().filter(|g| g.missing_days > 0) {
            notes.push(format!(
                "{} missing day(s): {}",
                g.missing_days,
                g.missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (e, n) in &c.pii {
            notes.push(format!("{e} {n}"));
        }
        let range = match (&c.min, &c.max) {
            (Some(a), Some(b)) => format!(" {a} .. {b}"),
            _ => String::new(),
        };
        println!(
            "  {:<28} {:<9} {:>7} distinct{range}{}{}",
            c.name,
            c.inferred_type,
            c.distinct,
            if c.unique { " (key)" } else { "" },
            if notes.is_empty() {
                String::new()
            } else {
                format!("  [{}]", notes.join("; "))
            }
        );
    }
}
