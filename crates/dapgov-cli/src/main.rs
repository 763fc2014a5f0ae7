//! The `dapgov` binary: parses flags and calls the library crates. Exit codes:
//! 0 success; 1 error; 2 `plan --detailed-exitcode` found changes; 3 `audit` found failing
//! findings at or above `--fail-on`.

mod commands;
mod ops;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

// DataFusion's recommended allocator: faster than the system's, and it returns memory freed by
// worker threads instead of keeping it in per-thread arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dapgov",
    version,
    about = "Provision, run and audit a governed data analytics platform"
)]
pub struct Cli {
    /// The platform spec.
    #[arg(long, global = true, default_value = "dapgov.toml")]
    pub config: PathBuf,
    /// Where the platform lives; overrides `platform.target` in the spec.
    #[arg(long, global = true, value_parser = ["aws", "local"])]
    pub target: Option<String>,
    /// More logging (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Build a local platform, load the City of Vancouver metrics and query them, in one go.
    Demo(commands::demo::Args),
    /// Write a commented dapgov.toml for the Vancouver 3-1-1 platform.
    Init(commands::init::Args),
    /// Show what apply would change (exit 0 no change, 2 changes with --detailed-exitcode, 1 error).
    Plan(commands::plan::Args),
    /// Build or repair the platform to match the spec.
    Apply(commands::apply::Args),
    /// Remove everything dapgov made (keys are scheduled for deletion, never deleted at once).
    Destroy(commands::destroy::Args),
    /// Print the observed state as JSON (the Inventory).
    Inventory(commands::inventory::Args),
    /// Check the platform against the five Well-Architected pillars and write reports
    /// (exit 0 pass, 3 failing findings at or above --fail-on, 1 error).
    Audit(commands::audit::Args),
    /// List the audit's check catalogue.
    Checks(commands::audit::ChecksArgs),
    /// Move data through the zones.
    #[command(subcommand)]
    Etl(commands::etl::EtlCommand),
    /// Personal-information tools.
    #[command(subcommand)]
    Pii(commands::pii::PiiCommand),
    /// Generate sample inputs.
    #[command(subcommand)]
    Sample(commands::sample::SampleCommand),
    /// SQL over the zones, as a role (default analyst).
    Query(commands::query::Args),
    /// Rotate a local platform key now (new data uses the new version; old data stays readable).
    RotateKey {
        /// The key alias, e.g. van311-pii.
        alias: String,
    },
    /// Draw the platform: architecture, access (from the policies) or lineage, as Mermaid,
    /// DOT, a diagrams.net file or SVG.
    Graph(commands::graph::Args),
    /// Reports people look at: `report kpi` draws the call centre's KPIs.
    #[command(subcommand)]
    Report(commands::report::ReportCommand),
    /// Document the data: per dataset its source, columns, rules, personal information and
    /// what is done with it, lineage, the trusted tables' SQL and the recent loads.
    Docs(commands::docs::Args),
    /// What the platform cost, month by month, by service or zone, beside its budget: from Cost
    /// Explorer on AWS (with the month's forecast), the storage estimate on the local target.
    Cost(commands::cost::Args),
    /// Run by itself: load each file dropped in a dataset's inbox (once), run the spec's
    /// schedules in the platform's time zone, report datasets that fall behind; until
    /// SIGTERM or Ctrl-C, which wait for the load under way.
    Serve(commands::serve::Args),
    /// Build deployment packages: `package lambda` builds the platform's function.
    #[command(subcommand)]
    Package(commands::package::PackageCommand),
    /// The platform's AWS Lambda function: `lambda invoke --event FILE` handles one event (a
    /// delivery that landed, a schedule that fired) as the function would.
    #[command(subcommand)]
    Lambda(commands::lambda::LambdaCommand),
    /// The completion script for a shell (bash, zsh, fish, powershell, elvish), on stdout.
    Completions(commands::shell::CompletionsArgs),
    /// The man page (dapgov.1) on stdout, or every command's page into --out DIR.
    Man(commands::shell::ManArgs),
    /// Inspect and verify the local platform's audit trail.
    #[command(subcommand)]
    Trail(commands::trail::TrailCommand),
}

fn main() -> ExitCode {
    // Exit quietly when the reader of our output goes away (`dapgov inventory | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Usage errors exit 1 like every other error: 2 and 3 carry meaning (changes, findings).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    // The Delta kernel logs, as errors, a table it looked for and did not find yet (dapgov
    // creates it on first load), and the table writer warns that timestamps are kept to the
    // microsecond (the Delta protocol's unit); what matters reaches the user as dapgov's error.
    const QUIET_LIBRARIES: &str = "buoyant_kernel=off,deltalake_core::kernel::schema::cast=error";
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DAPGOV_LOG")
                .unwrap_or_else(|_| format!("{level},{QUIET_LIBRARIES}").into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(RUNTIME_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // The command's future is polled on a thread of its own, with the same room as the
    // runtime's threads (the main thread's stack is the system's, often 8 MiB).
    let command = std::thread::Builder::new()
        .name("dapgov".into())
        .stack_size(RUNTIME_STACK_BYTES)
        .spawn(move || rt.block_on(commands::run(cli)));
    match command.map(|t| t.join()) {
        Ok(Ok(Ok(code))) => ExitCode::from(code),
        Ok(Ok(Err(e))) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Ok(Err(_panicked)) => ExitCode::from(101),
        Err(e) => {
            eprintln!("error: cannot start the command's thread: {e}");
            ExitCode::from(1)
        }
    }
}

/// Stack for the threads that poll the commands' futures. A build with unoptimised
/// dependencies (the dev profile's) nests the query engine's futures in frames far larger
/// than an optimised one: `etl run --force` overflowed 8 MiB there. Only the pages used are
/// ever backed by memory.
const RUNTIME_STACK_BYTES: usize = 64 * 1024 * 1024;
