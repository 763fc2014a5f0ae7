//! Check cases as data: each case patches the fixture platform (a freshly applied local
//! platform after one ETL run, the workspace's `tests/fixtures/platform.json`) and states what the named checks
//! must report. A FAIL case also pins every other check that fails with it, so a
//! misconfiguration makes exactly the matching checks fail.

use chrono::{DateTime, Utc};
use dapgov_audit::{Audit, AuditOptions, Catalogue, Status, run};
use dapgov_inventory::Inventory;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    checks: Vec<String>,
    expect: Status,
    /// The resource address whose status is asserted; any resource when absent.
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    patch: Vec<Patch>,
    /// Other checks this misconfiguration rightly fails too (FAIL cases only).
    #[serde(default)]
    also_fail: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    /// `set` (create or replace) or `remove`.
    op: String,
    /// A JSON pointer (RFC 6901) into the Inventory; `""` is the whole document.
    path: String,
    #[serde(default)]
    value: Option<toml::Value>,
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/platform.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn apply(doc: &mut Value, patch: &Patch, case: &str) {
    let value = || {
        serde_json::to_value(
            patch
                .value
                .clone()
                .unwrap_or_else(|| panic!("{case}: `set` needs a value")),
        )
        .unwrap()
    };
    if patch.path.is_empty() {
        assert_eq!(
            patch.op, "set",
            "{case}: only `set` applies to the whole document"
        );
        *doc = value();
        return;
    }
    let (parent, last) = patch
        .path
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{case}: bad pointer {}", patch.path));
    let target = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{case}: no {parent} in the fixture"));
    let key = unescape(last);
    match (patch.op.as_str(), target) {
        ("set", Value::Object(m)) => {
            m.insert(key, value());
        }
        ("set", Value::Array(a)) => {
            let i: usize = key.parse().unwrap();
            if i == a.len() {
                a.push(value())
            } else {
                a[i] = value()
            }
        }
        ("remove", Value::Object(m)) => {
            m.remove(&key)
                .unwrap_or_else(|| panic!("{case}: nothing to remove at {}", patch.path));
        }
        ("remove", Value::Array(a)) => {
            a.remove(key.parse::<usize>().unwrap());
        }
        (op, _) => panic!("{case}: cannot {op} at {}", patch.path),
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

fn audit(doc: &Value, case: &str) -> Audit {
    let inv: Inventory = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{case}: the patched fixture is not an Inventory: {e}"));
    run(
        &inv,
        &Catalogue::builtin().unwrap(),
        &AuditOptions {
            now: now(),
            ..Default::default()
        },
    )
}

fn failing_checks(a: &Audit) -> BTreeSet<String> {
    a.findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| f.check_id.clone())
        .collect()
}

fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            let f: CaseFile = toml::from_str(&std::fs::read_to_string(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            f.case
        })
        .collect()
}

#[test]
fn the_fresh_platform_has_no_failing_finding() {
    let a = audit(&fixture(), "fixture");
    let fails: Vec<String> = a
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| format!("{} {}: {}", f.check_id, f.resource, f.detail))
        .collect();
    assert!(fails.is_empty(), "{fails:#?}");
}

#[test]
fn every_case_holds_and_every_check_is_covered() {
    let catalogue = Catalogue::builtin().unwrap();
    let mut seen: BTreeMap<String, BTreeSet<Status>> = BTreeMap::new();
    let mut record = |a: &Audit| {
        for f in &a.findings {
            seen.entry(f.check_id.clone()).or_default().insert(f.status);
        }
    };
    record(&audit(&fixture(), "fixture"));

    let mut problems = Vec::new();
    for case in cases() {
        for c in case.checks.iter().chain(&case.also_fail) {
            assert!(
                catalogue.get(c).is_some(),
                "case `{}` names unknown check {c}",
                case.name
            );
        }
        let mut doc = fixture();
        for p in &case.patch {
            apply(&mut doc, p, &case.name);
        }
        let a = audit(&doc, &case.name);
        record(&a);
        for check in &case.checks {
            let statuses: Vec<(String, Status, String)> = a
                .findings
                .iter()
                .filter(|f| {
                    &f.check_id == check && case.resource.as_ref().is_none_or(|r| &f.resource == r)
                })
                .map(|f| (f.resource.clone(), f.status, f.detail.clone()))
                .collect();
            if !statuses.iter().any(|(_, s, _)| *s == case.expect) {
                problems.push(format!(
                    "case `{}`: {check} expected {:?}, got {statuses:?}",
                    case.name, case.expect
                ));
            }
        }
        if case.expect == Status::Fail {
            let expected: BTreeSet<String> =
                case.checks.iter().chain(&case.also_fail).cloned().collect();
            let actual = failing_checks(&a);
            if actual != expected {
                problems.push(format!(
                    "case `{}`: failing checks differ; unexpected {:?}, missing {:?}",
                    case.name,
                    actual.difference(&expected).collect::<Vec<_>>(),
                    expected.difference(&actual).collect::<Vec<_>>()
                ));
            }
        }
    }
    for meta in catalogue.checks() {
        let s = seen.get(&meta.id).cloned().unwrap_or_default();
        for want in [Status::Pass, Status::Fail, Status::NotApplicable] {
            if !s.contains(&want) {
                problems.push(format!("check {} has no {:?} case", meta.id, want));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn two_audits_of_the_same_state_are_identical() {
    let a = serde_json::to_string(&audit(&fixture(), "a")).unwrap();
    let b = serde_json::to_string(&audit(&fixture(), "b")).unwrap();
    assert_eq!(a, b);
}

/// Many accounts in one audit: totals add up, each finding names its account, each account
/// keeps its own exit status, an unreadable account is named, and frameworks judge the whole.
#[test]
fn audits_of_several_accounts_join_into_one_with_a_roll_up_per_account() {
    use dapgov_audit::{AccountPart, Catalogue, Framework, Severity, combine};
    let clean = fixture();
    let mut drifted = fixture();
    // (The same fixture stands for the second account: its roles trust their own account,
    // which a changed account id would make external.)
    *drifted
        .pointer_mut("/keys/van311-pii/rotation_enabled")
        .unwrap() = false.into();
    let (a, b) = (audit(&clean, "clean"), audit(&drifted, "drifted"));
    let cis = Framework::named("cis", &Catalogue::builtin().unwrap()).unwrap();
    let part = |id: &str, outcome| AccountPart {
        account_id: id.into(),
        name: format!("n{id}"),
        region: "ca-central-1".into(),
        outcome,
    };
    let joined = combine(
        vec![
            part("000000000000", Ok(a.clone())),
            part("222222222222", Ok(b.clone())),
            part("333333333333", Err("AccessDenied: sts:AssumeRole".into())),
        ],
        Some(Severity::Low),
        std::slice::from_ref(&cis),
    )
    .unwrap();
    assert_eq!(joined.findings.len(), a.findings.len() + b.findings.len());
    assert_eq!(
        joined.summary.totals.fail,
        a.summary.totals.fail + b.summary.totals.fail
    );
    let exits: Vec<(&str, u8)> = joined
        .accounts
        .iter()
        .map(|x| (x.account_id.as_str(), x.exit_status))
        .collect();
    assert_eq!(
        exits,
        [
            ("000000000000", 0),
            ("222222222222", 3),
            ("333333333333", 1)
        ]
    );
    assert!(
        joined.accounts[2]
            .error
            .as_deref()
            .unwrap()
            .contains("AccessDenied")
    );
    let failing: Vec<(&str, &str)> = joined
        .findings
        .iter()
        .filter(|f| f.is_failing())
        .map(|f| (f.account.as_str(), f.check_id.as_str()))
        .collect();
    assert_eq!(failing, [("222222222222", "kms_cmk_rotation_enabled")]);
    let rotation = joined.frameworks[0]
        .requirements
        .iter()
        .find(|r| r.id == "4.6")
        .unwrap();
    assert_eq!(rotation.status, dapgov_audit::RequirementStatus::Fail);
    assert!(
        joined.run.account_id.contains("000000000000")
            && joined.run.account_id.contains("222222222222")
    );
    // No account readable: no audit, the caller reports the errors.
    assert!(combine(vec![part("333333333333", Err("x".into()))], None, &[]).is_none());
}
