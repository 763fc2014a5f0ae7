//! `dapgov serve`: the platform running by itself. Each dataset's inbox is watched; a file
//! dropped there is put into the landing zone and loaded as the etl role, once; the spec's
//! schedules run in the platform's time zone; a dataset falling behind its `fresh_within` is
//! reported and recorded in the trail. SIGTERM or Ctrl-C stops it between loads, never
//! inside one.

use crate::ops::{Context, Loaded};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use dapgov_spec::automation::{Job, Schedule};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(clap::Args)]
pub struct Args {
    /// Load what waits in the inboxes, run the schedules that are due, and exit (for cron and
    /// systemd timers).
    #[arg(long)]
    pub once: bool,
}

/// Seconds a dropped file must go unmodified before it is taken (a copy still being
/// written is left for the next look).
const SETTLE_SECONDS: u64 = 2;
/// Where a file that could not be loaded is moved in its inbox, with the reason beside it.
const FAILED_DIR: &str = ".failed";
/// The file, in the state directory, that records when each schedule last ran.
const SCHEDULE_STATE: &str = "schedules.json";
/// Looks between freshness assessments while serving.
const FRESHNESS_EVERY_TICKS: u64 = 720;

/// When each job last ran (RFC 3339), as `serve` keeps it between starts.
type LastRuns = BTreeMap<Job, DateTime<Utc>>;

struct Server<'a> {
    ctx: &'a Context,
    l: Loaded,
    session: dapgov_target::RoleSession,
    schedules: Vec<(Job, Schedule)>,
    state_file: PathBuf,
    stop: Arc<AtomicBool>,
    /// The late datasets last reported, so each change is reported once.
    late: BTreeMap<String, Vec<String>>,
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let session = l
        .target
        .session(&l.spec.platform.name, "etl")
        .await
        .context("serve loads as the etl role; run `dapgov apply` first")?;
    let schedules = l
        .spec
        .automation
        .schedules()
        .map_err(|e| anyhow::anyhow!("[automation.schedules]: {e}"))?;
    let state_file = ctx.state_dir(&l.spec).join(SCHEDULE_STATE);
    let stop = Arc::new(AtomicBool::new(false));
    let mut server = Server {
        ctx,
        l,
        session,
        schedules,
        state_file,
        stop: stop.clone(),
        late: BTreeMap::new(),
    };
    for dir in server.inboxes().values() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the inbox {}", dir.display()))?;
    }
    if a.once {
        let failed = server.tick(true).await?;
        return Ok(u8::from(failed > 0));
    }
    let notify = Arc::new(tokio::sync::Notify::new());
    listen_for_stop(stop.clone(), notify.clone())?;
    let poll = std::time::Duration::from_secs(server.l.spec.automation.poll_seconds);
    println!(
        "Serving {}: watching {} inbox(es), {} schedule(s) in {}; stop with Ctrl-C or SIGTERM.",
        server.l.spec.platform.name,
        server.inboxes().len(),
        server.schedules.len(),
        server.l.spec.automation.time_zone
    );
    for (job, s) in &server.schedules {
        if let Some(next) = s.next_after(Utc::now()) {
            println!(
                "  {job}: \"{}\", next at {}",
                s.expression,
                next.with_timezone(&s.time_zone).format("%Y-%m-%d %H:%M %Z")
            );
        }
    }
    let mut ticks: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        server
            .tick(ticks.is_multiple_of(FRESHNESS_EVERY_TICKS))
            .await?;
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = notify.notified() => {}
        }
    }
    println!("Stopped.");
    Ok(0)
}

/// Set `stop` on SIGTERM or Ctrl-C; the loop finishes the load under way, then exits.
fn listen_for_stop(stop: Arc<AtomicBool>, notify: Arc<tokio::sync::Notify>) -> anyhow::Result<()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("Stopping: finishing the load under way, if any.");
        stop.store(true, Ordering::SeqCst);
        notify.notify_one();
    });
    Ok(())
}

impl Server<'_> {
    /// Each dataset's inbox directory.
    fn inboxes(&self) -> BTreeMap<String, PathBuf> {
        let base = &self.l.spec_dir;
        self.l
            .spec
            .datasets
            .iter()
            .map(|(name, ds)| {
                let dir = ds.inbox.clone().unwrap_or_else(|| format!("inbox/{name}"));
                (name.clone(), base.join(dir))
            })
            .collect()
    }

    /// One look: the inboxes, then the schedules that are due, then (when asked) freshness.
    /// Returns the loads and jobs that failed.
    async fn tick(&mut self, assess_freshness: bool) -> anyhow::Result<usize> {
        let mut failed = 0;
        for (dataset, dir) in self.inboxes() {
            for file in settled_files(&dir)? {
                if self.stop.load(Ordering::SeqCst) {
                    return Ok(failed);
                }
                failed += usize::from(!self.take(&dataset, &dir, &file).await?);
            }
        }
        failed += self.run_due_jobs().await?;
        if assess_freshness {
            self.report_freshness().await;
        }
        Ok(failed)
    }

    /// Put a dropped file into landing and load it; returns whether it loaded (or was
    /// already loaded). The file leaves the inbox only once landing holds it and the load is
    /// decided: a stop before then leaves it to be taken again, which loads it once.
    async fn take(&self, dataset: &str, dir: &Path, file: &Path) -> anyhow::Result<bool> {
        use dapgov_etl::landing::Outcome;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let key = format!("{dataset}/{name}");
        let started = std::time::Instant::now();
        let object = dapgov_etl::landing::put(&self.session, &key, file).await?;
        let mut taken = dapgov_etl::landing::loaded_inputs(&self.session, dataset).await?;
        let label = format!("{}/{name}", dir.display());
        let progress = |msg: &str| tracing::info!("{label}: {msg}");
        let outcome = dapgov_etl::landing::load_delivery(
            &self.session,
            &self.l.spec,
            dataset,
            &object,
            false,
            &mut taken,
            &progress,
        )
        .await?;
        let at = chrono::Local::now().format("%H:%M:%S");
        let ok = match outcome {
            Outcome::Loaded(m) => {
                println!(
                    "{at} loaded {label} into {dataset}: {} row(s) to curated, {} quarantined (run {}, {:.1} s){}",
                    m.load.rows_added,
                    m.stages.values().map(|s| s.rows_quarantined).sum::<u64>(),
                    m.run_id,
                    started.elapsed().as_secs_f64(),
                    first_warning(&m.warnings)
                );
                true
            }
            Outcome::AlreadyTaken { sha256 } => {
                println!(
                    "{at} {label}: already loaded into {dataset} (sha256 {}); removed from the inbox",
                    &sha256[..12]
                );
                true
            }
            Outcome::Failed(e) => {
                eprintln!("{at} {label}: not loaded into {dataset}: {e}");
                set_aside(dir, file, &e.to_string())?;
                return Ok(false);
            }
        };
        std::fs::remove_file(file).with_context(|| format!("removing {}", file.display()))?;
        Ok(ok)
    }

    /// Run each job whose schedule fired since it last ran (once, however many times it
    /// fired while `serve` was stopped). A job seen for the first time starts counting now.
    async fn run_due_jobs(&self) -> anyhow::Result<usize> {
        let now = Utc::now();
        let mut last = read_last_runs(&self.state_file)?;
        let mut failed = 0;
        for (job, schedule) in &self.schedules {
            let Some(since) = last.get(job).copied() else {
                last.insert(*job, now);
                continue;
            };
            let Some(fired) = schedule.fired_between(since, now) else {
                continue;
            };
            let at = fired
                .with_timezone(&schedule.time_zone)
                .format("%Y-%m-%d %H:%M %Z");
            println!("Running {job} (due {at}).");
            // Recorded before it runs: a job that fails is not run again until it is due again.
            last.insert(*job, now);
            write_last_runs(&self.state_file, &last)?;
            let reports = self.ctx.state_dir(&self.l.spec).join("reports");
            if let Err(e) = run_job(self.ctx, &self.l, &self.session, *job, &reports).await {
                eprintln!("error: {job}: {e:#}");
                failed += 1;
            }
        }
        write_last_runs(&self.state_file, &last)?;
        Ok(failed)
    }

    /// Report, and record in the trail, each dataset whose lateness changed.
    async fn report_freshness(&mut self) {
        let assessed = dapgov_etl::freshness::assess(&self.session, &self.l.spec, Utc::now()).await;
        let assessed = match assessed {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: cannot judge the datasets' freshness: {e}");
                return;
            }
        };
        for (dataset, f) in assessed {
            let missing = if f.late() {
                f.missing_days.clone()
            } else {
                vec![]
            };
            if self.late.get(&dataset) == Some(&missing) {
                continue;
            }
            if f.late() {
                let detail = format!(
                    "late: newest day {}, days up to {} due (fresh within {}); missing {}",
                    f.newest_day.as_deref().unwrap_or("none"),
                    f.due_day,
                    f.fresh_within,
                    summarize_days(&f.missing_days)
                );
                eprintln!("warning: {dataset} is {detail}");
                if let Err(e) = self
                    .session
                    .audit
                    .allowed("dapgov:DatasetLate", &format!("curated.{dataset}"), &detail)
                    .await
                {
                    eprintln!("error: recording {dataset}'s lateness in the trail: {e}");
                }
            } else if self.late.contains_key(&dataset) {
                println!(
                    "{dataset} is up to date again (newest day {}).",
                    f.newest_day.unwrap_or_default()
                );
            }
            self.late.insert(dataset, missing);
        }
    }
}

/// Run one of the platform's jobs as the etl role (the audit and the KPI report as their
/// commands do), writing reports under `reports`.
pub async fn run_job(
    ctx: &Context,
    l: &Loaded,
    session: &dapgov_target::RoleSession,
    job: Job,
    reports: &Path,
) -> anyhow::Result<()> {
    match job {
        Job::LandingSweep => {
            for dataset in l.spec.datasets.keys() {
                super::etl::sweep(session, &l.spec, dataset, "", false).await?;
            }
        }
        Job::Maintain => {
            for dataset in l.spec.datasets.keys() {
                let done = dapgov_etl::maintain(session, &l.spec, dataset).await?;
                println!("Maintained {dataset}: {} table(s).", done.len());
            }
        }
        Job::Audit => {
            let args = parse_args::<AuditOnly>(&[
                "--out",
                &reports.display().to_string(),
                "--fail-on",
                "none",
            ])?;
            super::audit::run(ctx, args.audit).await?;
        }
        Job::KpiReport => {
            let out = reports.display().to_string();
            let cmd = parse_args::<KpiOnly>(&["kpi", "--out", &out])?;
            super::report::run(ctx, cmd.report).await?;
        }
    }
    Ok(())
}

/// The first warning, shortened, and how many there are (`dapgov etl history` has them all).
fn first_warning(warnings: &[String]) -> String {
    const SHOWN: usize = 160;
    let Some(first) = warnings.first() else {
        return String::new();
    };
    let mut text: String = first.chars().take(SHOWN).collect();
    if first.chars().count() > SHOWN {
        text.push('…');
    }
    format!("; {} warning(s), the first: {text}", warnings.len())
}

/// The first days of a list and how many more.
fn summarize_days(days: &[String]) -> String {
    const LISTED: usize = 10;
    let mut text = days
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if days.len() > LISTED {
        text.push_str(&format!(" and {} more", days.len() - LISTED));
    }
    text
}

/// `dapgov audit …` parsed as the command line would parse it.
#[derive(clap::Parser)]
struct AuditOnly {
    #[command(flatten)]
    audit: super::audit::Args,
}

/// `dapgov report kpi …` parsed as the command line would parse it.
#[derive(clap::Parser)]
struct KpiOnly {
    #[command(subcommand)]
    report: super::report::ReportCommand,
}

/// A command's arguments parsed from `args`, with its defaults, as on the command line.
fn parse_args<T: clap::Parser>(args: &[&str]) -> anyhow::Result<T> {
    Ok(T::try_parse_from(
        std::iter::once("dapgov").chain(args.iter().copied()),
    )?)
}

/// The regular files of `dir` that have settled, oldest first; hidden files (and the
/// set-aside directory) are not deliveries.
fn settled_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = vec![];
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(anyhow::anyhow!("reading the inbox {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let meta = entry.metadata()?;
        if name.starts_with('.') || !meta.is_file() {
            continue;
        }
        let modified = meta.modified()?;
        let age = modified.elapsed().unwrap_or_default();
        if age.as_secs() >= SETTLE_SECONDS {
            found.push((modified, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Move a file that could not be loaded to the inbox's `.failed/`, with the reason beside it.
fn set_aside(dir: &Path, file: &Path, reason: &str) -> anyhow::Result<()> {
    let failed = dir.join(FAILED_DIR);
    std::fs::create_dir_all(&failed)?;
    let name = file.file_name().unwrap_or_default();
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let to = failed.join(format!("{stamp}-{}", name.to_string_lossy()));
    std::fs::rename(file, &to)
        .with_context(|| format!("moving {} to {}", file.display(), to.display()))?;
    std::fs::write(to.with_extension("error.txt"), format!("{reason}\n"))?;
    eprintln!("  moved to {}", to.display());
    Ok(())
}

fn read_last_runs(path: &Path) -> anyhow::Result<LastRuns> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a schedule record ({{\"job\": \"RFC 3339 time\"}}); fix or delete it",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LastRuns::new()),
        Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
}

fn write_last_runs(path: &Path, last: &LastRuns) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(last)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
