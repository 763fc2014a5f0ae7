//! `dapgov package lambda`: the platform's function as a Lambda deployment package. dapgov is
//! built from this source tree for Amazon Linux 2023 (glibc 2.34, provided.al2023) with
//! cargo-zigbuild, and zipped beside a `bootstrap` that runs `dapgov lambda run` with the
//! spec the package carries; the zip's SHA-256 is recorded beside it, as Lambda reports it.

use crate::ops::Context;
use anyhow::Context as _;
use dapgov_spec::automation::Architecture;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Subcommand)]
pub enum PackageCommand {
    /// Build the function's zip (dist/lambda/dapgov-<arch>.zip and its .sha256).
    Lambda {
        /// The function's architecture (default: the spec's [automation.function]).
        #[arg(long, value_parser = ["arm64", "x86_64"])]
        arch: Option<String>,
        #[arg(long, default_value = "dist/lambda")]
        out: PathBuf,
        /// The dapgov source tree to build (a checkout of the version you deploy); by default
        /// the one the current directory is in.
        #[arg(long)]
        source: Option<PathBuf>,
    },
}

/// The glibc of Amazon Linux 2023, which provided.al2023 runs.
const GLIBC: &str = "2.34";
/// What the function runs: dapgov, with the spec the package carries, as the AWS target.
const BOOTSTRAP: &str = "#!/bin/sh\nexec \"$LAMBDA_TASK_ROOT/dapgov\" --config \"$LAMBDA_TASK_ROOT/dapgov.toml\" --target aws lambda run\n";

/// Where the package for `arch` is written under `out`.
pub fn package_path(out: &Path, arch: Architecture) -> PathBuf {
    out.join(format!("dapgov-{}.zip", arch.as_str()))
}

pub async fn run(ctx: &Context, cmd: PackageCommand) -> anyhow::Result<u8> {
    let PackageCommand::Lambda { arch, out, source } = cmd;
    let spec = ctx.spec()?;
    let arch = match arch.as_deref() {
        Some("x86_64") => Architecture::X86_64,
        Some(_) => Architecture::Arm64,
        None => spec.automation.function.architecture,
    };
    let source = match source {
        Some(dir) if dir.join("crates/dapgov-cli/Cargo.toml").is_file() => dir,
        Some(dir) => anyhow::bail!(
            "{} is not a dapgov source tree (no crates/dapgov-cli/Cargo.toml)",
            dir.display()
        ),
        None => source_tree()?,
    };
    let target = arch.rust_target();
    need_tools(target)?;
    let started = std::time::Instant::now();
    let status = Command::new("cargo")
        .args([
            "zigbuild",
            "--release",
            "--locked",
            "-p",
            "dapgov-cli",
            "--target",
        ])
        .arg(format!("{target}.{GLIBC}"))
        .current_dir(&source)
        .status()
        .context("running cargo zigbuild")?;
    anyhow::ensure!(status.success(), "cargo zigbuild failed (above)");
    let built = std::time::Instant::now() - started;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| source.join("target"));
    let binary = target_dir.join(target).join("release/dapgov");
    let spec_text =
        std::fs::read(&ctx.config).with_context(|| format!("reading {}", ctx.config.display()))?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let zip = package_path(&out, arch);
    write_zip(&zip, &binary, &spec_text)?;
    let (hex, base64) = digest(&zip)?;
    std::fs::write(
        zip.with_extension("zip.sha256"),
        format!(
            "{hex}  {}\n",
            zip.file_name().unwrap_or_default().to_string_lossy()
        ),
    )?;
    println!(
        "Wrote {} ({:.1} MB; SHA-256 {hex}, as Lambda reports it {base64}); built in {:.0} s.",
        zip.display(),
        std::fs::metadata(&zip)?.len() as f64 / 1e6,
        built.as_secs_f64()
    );
    Ok(0)
}

/// The dapgov source tree this binary can be built from: the package is built, not copied,
/// so that it runs on Amazon Linux's glibc.
fn source_tree() -> anyhow::Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join("crates/dapgov-cli/Cargo.toml").is_file() {
            return Ok(dir);
        }
        if !dir.pop() {
            anyhow::bail!(
                "package lambda builds dapgov for Amazon Linux from its source: run it inside a checkout of the dapgov version you deploy, or pass --source DIR"
            );
        }
    }
}

/// cargo-zigbuild and the target's standard library, or what to install.
fn need_tools(target: &str) -> anyhow::Result<()> {
    let zigbuild = Command::new("cargo-zigbuild").arg("--version").output();
    if !zigbuild.is_ok_and(|o| o.status.success()) {
        anyhow::bail!(
            "cargo-zigbuild is not installed: `pip install cargo-zigbuild` installs it with zig (or `cargo install --locked cargo-zigbuild` with zig from ziglang.org)"
        );
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    anyhow::ensure!(
        installed.lines().any(|l| l.trim() == target),
        "the {target} standard library is not installed: `rustup target add {target}`"
    );
    Ok(())
}

/// The zip Lambda runs: `bootstrap`, `dapgov` and `dapgov.toml`, with fixed times so the same
/// inputs give the same bytes (and the same code hash).
pub fn write_zip(zip: &Path, binary: &Path, spec: &[u8]) -> anyhow::Result<()> {
    use zip::write::SimpleFileOptions;
    let file = std::fs::File::create(zip).with_context(|| format!("creating {}", zip.display()))?;
    let mut w = zip::ZipWriter::new(file);
    let options = |mode: u32| {
        SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(mode)
    };
    let binary_bytes =
        std::fs::read(binary).with_context(|| format!("reading the built {}", binary.display()))?;
    for (name, mode, bytes) in [
        ("bootstrap", 0o755, BOOTSTRAP.as_bytes()),
        ("dapgov", 0o755, binary_bytes.as_slice()),
        ("dapgov.toml", 0o644, spec),
    ] {
        w.start_file(name, options(mode))?;
        w.write_all(bytes)?;
    }
    w.finish()?;
    Ok(())
}

/// The file's SHA-256 as hex and as base64 (Lambda's `CodeSha256`).
pub fn digest(path: &Path) -> anyhow::Result<(String, String)> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let d = sha2::Sha256::digest(&bytes);
    Ok((
        hex::encode(d),
        base64::engine::general_purpose::STANDARD.encode(d),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_holds_the_bootstrap_the_binary_and_the_spec_and_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("dapgov");
        std::fs::write(&binary, b"\x7fELF not really").unwrap();
        let (a, b) = (dir.path().join("a.zip"), dir.path().join("b.zip"));
        write_zip(&a, &binary, b"[platform]\n").unwrap();
        write_zip(&b, &binary, b"[platform]\n").unwrap();
        assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&a).unwrap()).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().to_string())
            .collect();
        assert_eq!(names, ["bootstrap", "dapgov", "dapgov.toml"]);
        let bootstrap = archive.by_name("bootstrap").unwrap();
        assert_eq!(bootstrap.unix_mode().map(|m| m & 0o777), Some(0o755));
    }
}
