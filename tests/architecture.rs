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

/// The code with string and character literals and line comments blanked, so that braces
/// are the code's own.
fn code_only(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_str: Option<Option<usize>> = None; // Some(None): "…"; Some(Some(n)): r#…"…"#…
    for line in text.lines() {
        let b = line.as_bytes();
        let mut kept = String::new();
        let mut i = 0;
        while i < b.len() {
            if let Some(raw) = in_str {
                match (b[i], raw) {
                    (b'\\', None) => i += 2,
                    (b'"', None) => {
                        in_str = None;
                        i += 1;
                    }
                    (b'"', Some(h))
                        if b[i + 1..].iter().take(h).filter(|c| **c == b'#').count() == h =>
                    {
                        in_str = None;
                        i += 1 + h;
                    }
                    _ => i += 1,
                }
                continue;
            }
            let rest = &line[i..];
            if rest.starts_with("//") {
                break;
            }
            let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if b[i] == b'r' && !word_before {
                let hashes = rest[1..].bytes().take_while(|c| *c == b'#').count();
                if rest[1 + hashes..].starts_with('"') {
                    in_str = Some(Some(hashes));
                    i += 2 + hashes;
                    continue;
                }
            }
            if b[i] == b'"' {
                in_str = Some(None);
                i += 1;
                continue;
            }
            if b[i] == b'\'' {
                // A character literal ('x', '\n', '\''), not a lifetime ('a).
                let len = if b.get(i + 1) == Some(&b'\\') {
                    rest[2..].find('\'').map(|e| e + 3)
                } else {
                    rest.char_indices()
                        .nth(2)
                        .filter(|(_, c)| *c == '\'')
                        .map(|(e, _)| e + 1)
                };
                if let Some(len) = len {
                    i += len;
                    continue;
                }
            }
            kept.push(b[i] as char);
            i += 1;
        }
        out.push(kept);
    }
    out
}

/// "No function in crates/*/src is over 100 lines, outside tests and the demo's script."
#[test]
fn no_function_is_over_100_lines() {
    const LONGEST: usize = 100;
    let fn_start =
        regex::Regex::new(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
            .unwrap();
    let mut long = vec![];
    for file in common::files_under(&common::repo("crates")) {
        let path = file.to_string_lossy().to_string();
        if !path.ends_with(".rs") || !path.contains("/src/") || path.ends_with("commands/demo.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines = code_only(code);
        let mut i = 0;
        while i < lines.len() {
            let Some(name) = fn_start.captures(&lines[i]).map(|c| c[6].to_string()) else {
                i += 1;
                continue;
            };
            let (mut depth, mut opened, mut j) = (0i64, false, i);
            while j < lines.len() {
                for ch in lines[j].chars() {
                    match ch {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if (opened && depth == 0) || (!opened && lines[j].trim_end().ends_with(';')) {
                    break;
                }
                j += 1;
            }
            if opened && j - i + 1 > LONGEST {
                long.push(format!("{path}:{}: {name} ({} lines)", i + 1, j - i + 1));
            }
            i = if opened { j + 1 } else { i + 1 };
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONGEST} lines:\n{}",
        long.join("\n")
    );
}

/// The commands `dapgov --help` lists (without `help`).
fn top_level_commands() -> Vec<String> {
    let help = common::succeeded(
        common::dapgov().arg("--help").output().unwrap(),
        "dapgov --help",
    );
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_and_man_pages_name_every_command() {
    let commands = top_level_commands();
    assert!(commands.len() > 20, "{commands:?}");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = common::succeeded(
            common::dapgov()
                .args(["completions", shell])
                .output()
                .unwrap(),
            shell,
        );
        for c in &commands {
            assert!(
                script.contains(c.as_str()),
                "{shell} completions do not name `{c}`"
            );
        }
    }
    let page = common::succeeded(common::dapgov().arg("man").output().unwrap(), "dapgov man");
    assert!(
        page.starts_with(".ie") && page.contains(".TH dapgov 1"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    common::succeeded(
        common::dapgov()
            .args(["man", "--out"])
            .arg(dir.path())
            .output()
            .unwrap(),
        "dapgov man --out",
    );
    for c in &commands {
        let path = dir.path().join(format!("dapgov-{c}.1"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("no man page {}", path.display()));
        // roff escapes each hyphen of the name.
        let escaped = format!("dapgov-{c}").replace('-', "\\-");
        assert!(
            text.contains(&escaped),
            "{} does not name its command",
            path.display()
        );
    }
}
