use crate::ops::Context;
use anyhow::{Context as _, bail};

#[derive(clap::Subcommand)]
pub enum TrailCommand {
    /// Check the hash chain and the Ed25519-signed head and digests; names the first bad
    /// record. Pin the public key (`trail public-key > trail.pub`, kept away from the
    /// platform) to catch a trail re-signed with another key.
    Verify {
        /// The trail's public key (`ed25519 <hex>`), as `trail public-key` prints it. Without
        /// it, the key published beside the trail is used.
        #[arg(long, value_name = "FILE")]
        public_key: Option<std::path::PathBuf>,
        /// An anchor `trail anchor` printed earlier, kept away from the platform: the trail
        /// must still hold the record it vouches for, unchanged (catches a trail rolled back
        /// whole, head and digests included).
        #[arg(long, value_name = "FILE")]
        anchor: Option<std::path::PathBuf>,
    },
    /// Print the public key that verifies the trail, to keep and pin.
    PublicKey,
    /// Verify the trail, then print a signed anchor at its end, to keep away from the
    /// platform (e.g. append it to a file on another machine after each run) and pass to
    /// `trail verify --anchor`.
    Anchor,
    /// Print trail records, optionally filtered.
    Show {
        /// Only records at or after this RFC 3339 time (e.g. 2026-11-28T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Only records by this role (e.g. analyst).
        #[arg(long)]
        role: Option<String>,
        /// Only records whose action contains this text (e.g. GetObject).
        #[arg(long)]
        action: Option<String>,
        /// Only denied requests.
        #[arg(long)]
        denied: bool,
    },
}

pub async fn run(ctx: &Context, cmd: TrailCommand) -> anyhow::Result<u8> {
    let l = ctx.open(false).await?;
    let Some(local) = l.local else {
        bail!("the trail commands read the local target's trail")
    };
    let trail = local.trail();
    match cmd {
        TrailCommand::PublicKey => {
            print!("{}", trail.public_key().to_text());
            Ok(0)
        }
        TrailCommand::Anchor => {
            let key = trail
                .published_key()
                .map_err(|e| anyhow::anyhow!("the trail cannot be anchored: {e}"))?;
            trail.verify(&key).map_err(|e| {
                anyhow::anyhow!("the trail cannot be anchored: it fails verification: {e}")
            })?;
            print!(
                "{}",
                trail
                    .anchor()
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .to_text()
            );
            Ok(0)
        }
        TrailCommand::Verify { public_key, anchor } => {
            verify(&local, &l.target, &l.spec, public_key, anchor).await
        }
        TrailCommand::Show {
            since,
            role,
            action,
            denied,
        } => {
            let since = since
                .map(|s| {
                    chrono::DateTime::parse_from_rfc3339(&s)
                        .with_context(|| format!("--since {s:?} is not an RFC 3339 time"))
                })
                .transpose()?;
            let filter = dapgov_local::trail::EventFilter {
                since,
                role,
                action,
                denied_only: denied,
            };
            let rows: Vec<Vec<String>> = trail
                .events(&filter)?
                .into_iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.time,
                        e.outcome,
                        e.principal,
                        e.action,
                        e.resource,
                    ]
                })
                .collect();
            println!(
                "{}",
                dapgov_report::text::table(
                    &["seq", "time", "outcome", "principal", "action", "resource"],
                    &rows
                )
            );
            Ok(0)
        }
    }
}

/// `trail verify`: the chain and signatures, then the anchor (or, without one, the tables'
/// history against the trail's start), then every recorded object.
async fn verify(
    local: &dapgov_local::LocalTarget,
    target: &std::sync::Arc<dyn dapgov_target::Target>,
    spec: &dapgov_spec::Spec,
    public_key: Option<std::path::PathBuf>,
    anchor: Option<std::path::PathBuf>,
) -> anyhow::Result<u8> {
    let trail = local.trail();
    let (key, whose) = match &public_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the public key {}", path.display()))?;
            (
                dapgov_local::trail::PublicKey::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                "the pinned key",
            )
        }
        None => match trail.published_key() {
            Ok(k) => (k, "the key published beside it"),
            // No key and no record, and no trail logging: nothing was ever written.
            Err(_) if trail.read()?.is_empty() && !local.trail_is_logging()? => {
                println!("Trail empty: the platform has not been applied.");
                return Ok(0);
            }
            Err(e) => {
                eprintln!("Trail verification FAILED: {e}");
                return Ok(1);
            }
        },
    };
    let n = match trail.verify(&key) {
        // A logging trail has recorded at least its own creation: one with none was deleted.
        Ok(0) if local.trail_is_logging()? => {
            eprintln!(
                "Trail verification FAILED: the platform exists but its trail holds no record (trail deleted)"
            );
            return Ok(1);
        }
        Ok(n) => n,
        Err(e) => {
            eprintln!("Trail verification FAILED: {e}");
            return Ok(1);
        }
    };
    match &anchor {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the anchor {}", path.display()))?;
            let anchor = dapgov_local::trail::Anchor::parse(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if let Err(e) = trail.verify_anchor(&key, &anchor) {
                eprintln!(
                    "Trail verification FAILED against the anchor {}: {e}",
                    path.display()
                );
                return Ok(1);
            }
            println!("Trail intact: {n} record(s) verified with {whose}, extending the anchor.");
        }
        None => {
            if let Some(evidence) = history_older_than_trail(target, spec, &trail.read()?).await? {
                eprintln!(
                    "Trail verification FAILED: {evidence}, so records before the trail's first are gone (the trail was wiped and restarted); verify it against an anchor kept away from the platform (`trail verify --anchor`)"
                );
                return Ok(1);
            }
            println!("Trail intact: {n} record(s) verified with {whose}.");
            println!(
                "Without --anchor, a trail wiped and restarted cannot be told from a new one once nothing older than it remains: keep `dapgov trail anchor` output away from the platform."
            );
        }
    }
    let objects = local.check_object_versions(&trail.read()?)?;
    for p in &objects.problems {
        eprintln!("Object {} {}", p.object, p.problem);
    }
    println!(
        "Objects: {} hold the version the trail last recorded for them; {} not checked (in buckets without data events, or written before versions were recorded); {} do not.",
        objects.matched,
        objects.unrecorded,
        objects.problems.len()
    );
    Ok(if objects.problems.is_empty() { 0 } else { 1 })
}

/// Evidence that the platform is older than its trail: a table version committed before the
/// trail's first record (every commit is made by an operation the trail records).
async fn history_older_than_trail(
    target: &std::sync::Arc<dyn dapgov_target::Target>,
    spec: &dapgov_spec::Spec,
    events: &[dapgov_local::trail::Event],
) -> anyhow::Result<Option<String>> {
    let Some(first) = events.first() else {
        return Ok(None);
    };
    let Ok(trail_start) = chrono::DateTime::parse_from_rfc3339(&first.time) else {
        return Ok(Some(format!(
            "its first record has no readable time ({:?})",
            first.time
        )));
    };
    let mut tables: Vec<(&str, &str)> = vec![];
    for dataset in spec.datasets.keys() {
        for zone in ["raw", "quarantine", "curated"] {
            tables.push((zone, dataset));
        }
    }
    tables.extend(spec.trusted.iter().map(|t| ("trusted", t.name.as_str())));
    let session = target.session(&spec.platform.name, "etl").await?;
    for (zone, table) in tables {
        // A table with no loads has no history to compare.
        let Ok(commits) = dapgov_etl::history(&session, zone, table).await else {
            continue;
        };
        let Some(oldest) = commits.first() else {
            continue;
        };
        // Commit times are kept to the second: earlier by a whole second, to be sure.
        let committed = chrono::DateTime::parse_from_rfc3339(&oldest.time);
        if committed.is_ok_and(|t| t + chrono::TimeDelta::seconds(1) <= trail_start) {
            return Ok(Some(format!(
                "{zone}.{table} version {} was committed at {}, before the trail's first record ({})",
                oldest.version, oldest.time, first.time
            )));
        }
    }
    Ok(None)
}
