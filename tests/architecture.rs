//! The claims of docs/ARCHITECTURE.md that a program can check.

mod common;

use std::collections::BTreeSet;

/// A workspace crate's normal (non-dev, non-build) dependencies, transitively, by name, for
/// this machine's platform.
fn normal_dependencies(krate: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            krate,
        ])
        .current_dir(common::repo(""))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// "the pure crates (spec, plan, policy, audit, records) compile no IO", and the report crate
/// compiles no engine.
#[test]
fn the_pure_crates_compile_no_io_and_the_renderer_no_engine() {
    let io = [
        "tokio",
        "object_store",
        "datafusion",
        "deltalake-core",
        "hyper",
    ];
    for krate in [
        "dapgov-inventory",
        "dapgov-spec",
        "dapgov-plan",
        "dapgov-policy",
        "dapgov-audit",
        "dapgov-records",
    ] {
        let deps = normal_dependencies(krate);
        let found: Vec<&&str> = io.iter().filter(|c| deps.contains(**c)).collect();
        assert!(found.is_empty(), "{krate} compiles {found:?}");
    }
    let engine: Vec<String> = normal_dependencies("dapgov-report")
        .into_iter()
        .filter(|d| d.starts_with("datafusion") || d.starts_with("deltalake"))
        .collect();
    assert!(engine.is_empty(), "dapgov-report compiles {engine:?}");
}

/// No decision is made on an error's text: errors the code reacts to are variants.
#[test]
fn no_code_decides_on_an_error_message() {
    let mut found = vec![];
    for file in common::files_under(&common::repo("crates")) {
        if file.extension().is_none_or(|x| x != "rs") || !file.to_string_lossy().contains("/src/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in code.lines().enumerate() {
            let l = line.to_lowercase();
            if l.contains(".contains(\"not found")
                || l.contains(".contains(\"does not exist")
                || l.contains(".contains(\"doesn't exist")
                || l.contains(".contains(\"access denied")
            {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "decisions on error text:\n{}",
        found.join("\n")
    );
}

/// Help lists every report format the report crate writes (from its list, not by hand).
#[test]
fn audit_help_lists_every_format() {
    let help = common::succeeded(
        common::dapgov().args(["audit", "--help"]).output().unwrap(),
        "dapgov audit --help",
    );
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("--format") && l.contains("possible values:"))
        .unwrap_or_else(|| panic!("no list of formats in:\n{help}"));
    for format in ["html", "json", "csv", "sarif", "junit", "ocsf", "asff"] {
        assert!(line.contains(format), "{format} missing from: {line}");
    }
}
