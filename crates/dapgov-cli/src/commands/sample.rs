use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum SampleCommand {
    /// Synthesise call-level records from daily metrics: exactly the day's handled and
    /// abandoned counts, wait times shaped by its service level. Same input and seed, same file.
    Calls {
        /// A daily metrics file (the City's 3-1-1 contact centre metrics export).
        #[arg(long)]
        from: PathBuf,
        /// Where to write the call records (CSV).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 311)]
        seed: u64,
        /// How many of the file's most recent days to cover (default: every day; the whole
        /// City file gives about five million calls).
        #[arg(long)]
        days: Option<usize>,
    },
}

pub fn run(c: SampleCommand) -> anyhow::Result<u8> {
    match c {
        SampleCommand::Calls {
            from,
            out,
            seed,
            days,
        } => {
            let metrics = dapgov_etl::sample::read_metrics(&from)?;
            let wanted = days.unwrap_or(metrics.len());
            let s = dapgov_etl::sample::write_calls(&metrics, wanted, seed, &out)?;
            println!(
                "Wrote {} call records for {} day(s), {} to {}, to {} ({} notes carry synthetic personal information).",
                s.records,
                s.days,
                s.first,
                s.last,
                out.display(),
                s.with_personal_information
            );
            if s.days < wanted {
                println!("The metrics file covers only {} day(s).", s.days);
            }
            Ok(0)
        }
    }
}
