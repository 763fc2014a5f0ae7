//! Helpers shared by the end-to-end scenarios: the binary, the repository's files, a local
//! platform, and the AWS API emulator.
#![allow(dead_code)] // each scenario file uses a part

pub mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `dapgov` binary.
pub fn dapgov() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dapgov"))
}

/// A file of the repository, by its path from the root.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The output of a command that must succeed, as text.
pub fn succeeded(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8 output")
}

/// Runs `cmd`, which must exit with `code` and say `text` on stderr; returns stderr. On
/// failure it shows the command, its directory and both outputs, so the reason is in the log.
pub fn assert_fails_with(cmd: &mut Command, code: i32, text: &str) -> String {
    let o = cmd.output().expect("the command starts");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.code() != Some(code) || !stderr.contains(text) {
        panic!(
            "expected exit {code} and {text:?} on stderr from\n  {:?} {:?}\n  in {:?}\ngot exit {:?}\n--- stdout\n{}\n--- stderr\n{stderr}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            cmd.get_current_dir(),
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
        );
    }
    stderr
}

/// A local platform in a fresh directory.
pub struct Platform {
    pub dir: tempfile::TempDir,
}

/// The City's daily metrics export.
pub fn city_file() -> PathBuf {
    repo("data/3-1-1-contact-centre-metrics.csv")
}

/// The City's file cut to the days `from..=to` of September 2024, with `extra` calls offered
/// and abandoned on each day (a corrected delivery), written as `name`.
pub fn city_days(p: &Platform, name: &str, from: u32, to: u32, extra: i64) -> String {
    let text = std::fs::read_to_string(city_file()).unwrap();
    let mut lines = text.lines();
    let mut out = vec![lines.next().unwrap().to_string()];
    for line in lines {
        let f: Vec<&str> = line.split(';').collect();
        let Some(day) = f[0]
            .strip_prefix("2024-09-")
            .and_then(|d| d.parse::<u32>().ok())
        else {
            continue;
        };
        if (from..=to).contains(&day) {
            let (offered, abandoned): (i64, i64) = (f[1].parse().unwrap(), f[3].parse().unwrap());
            out.push(format!(
                "{};{};{};{};{};{};{}",
                f[0],
                offered + extra,
                f[2],
                abandoned + extra,
                f[4],
                f[5],
                f[6]
            ));
        }
    }
    std::fs::write(p.dir.path().join(name), out.join("\r\n") + "\r\n").unwrap();
    name.to_string()
}

impl Platform {
    /// `init` and `apply` in a fresh directory.
    pub fn new() -> Self {
        let p = Platform {
            dir: tempfile::tempdir().unwrap(),
        };
        p.ok(&["init"]);
        p.ok(&["apply", "--auto-approve"]);
        p
    }

    /// `dapgov ARGS` in the platform's directory, with the root secret from its state.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = dapgov();
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("DAPGOV_ROOT_SECRET");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(self.run(args), &format!("dapgov {args:?}"))
    }

    /// `dapgov ARGS`, which must exit with `code` and say `text` on stderr.
    pub fn fails_with(&self, args: &[&str], code: i32, text: &str) -> String {
        assert_fails_with(&mut self.command(args), code, text)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join(".dapgov")
    }

    pub fn load_city(&self) {
        self.ok(&[
            "etl",
            "run",
            "--input",
            city_file().to_str().unwrap(),
            "--dataset",
            "metrics",
        ]);
    }

    pub fn edit_record(&self, kind: &str, name: &str, f: impl FnOnce(&mut serde_json::Value)) {
        let path = self
            .state()
            .join("control")
            .join(kind)
            .join(format!("{name}.json"));
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
