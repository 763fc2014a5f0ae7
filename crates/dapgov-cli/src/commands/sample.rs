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
        /// How many of the file's most recent days to cover.
        #[arg(long, default_value_t = 7)]
        days: usize,
    },
}

pub fn run(c: SampleCommand) -> anyhow::Result<u8> {
    match c {
        SampleCommand::Calls { from, out, seed, days } => {
            let metrics = dapgov_etl::sample::read_metrics(&from)?;
            let s = dapgov_etl::sample::write_calls(&metrics, days, seed, &out)?;
            println!(
                "Wrote {} call records for {} day(s), {} to {}, to {} ({} notes carry synthetic personal information).",
                s.records,
                s.days,
                s.first,
                s.last,
                out.display(),
                s.with_personal_information
            );
            if s.days < days {
                println!("The metrics file covers only {} day(s).", s.days);
            }
            Ok(0)
        }
    }
}
