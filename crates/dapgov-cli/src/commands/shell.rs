//! What shells and `man` need, generated from the same command definitions as the parser:
//! `dapgov completions <shell>` and `dapgov man`.

use clap::CommandFactory;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write dapgov.1 and a page per command (dapgov-etl.1, dapgov-etl-run.1, …) into this
    /// directory instead of printing dapgov.1.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The completion script for a shell, on stdout (e.g. `dapgov completions bash >
/// /etc/bash_completion.d/dapgov`).
pub fn completions(a: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "dapgov", &mut std::io::stdout());
    Ok(0)
}

/// The man page, or with `--out` every page (`man -l dapgov.1`; install into `man1/`).
pub fn man(a: ManArgs) -> anyhow::Result<u8> {
    let cmd = crate::Cli::command();
    match a.out {
        None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)?;
            let mut pages: Vec<_> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".1"))
                .collect();
            pages.sort();
            println!(
                "Wrote {} man page(s) to {}: {}",
                pages.len(),
                dir.display(),
                pages.join(", ")
            );
        }
    }
    Ok(0)
}
