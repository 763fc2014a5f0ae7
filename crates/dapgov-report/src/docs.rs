//! Data documentation for `dapgov docs`: per dataset its source, columns (types, meanings,
//! bounds, personal information and what is done with it), rules and what they rejected,
//! derived columns, lineage, the trusted tables with their SQL, and the recent loads from the
//! run manifests. One view, written as Markdown (`data-docs.md`) and HTML (`data-docs.html`).

use crate::ReportError;
use dapgov_records::{Manifest, StageCounts};
use dapgov_spec::{Dataset, PiiAction, PiiEntity, RuleAction, Spec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MARKDOWN: &str = include_str!("../../../templates/data-docs.md.hbs");
const HTML: &str = include_str!("../../../templates/data-docs.html.hbs");

#[derive(Serialize)]
struct ColumnDoc {
    name: String,
    data_type: String,
    description: String,
    bounds: String,
    personal: String,
}

#[derive(Serialize)]
struct RuleDoc {
    name: String,
    check: String,
    action: &'static str,
    /// Rows the rule rejected or warned about in the latest load.
    latest: String,
}

#[derive(Serialize)]
struct LoadDoc {
    run_id: String,
    finished_at: String,
    file: String,
    rows_in: String,
    rows_out: String,
    quarantined: String,
    pii_found: String,
}

#[derive(Serialize)]
struct DatasetDoc {
    name: String,
    description: String,
    source: String,
    load: String,
    key: String,
    columns: Vec<ColumnDoc>,
    rules: Vec<RuleDoc>,
    derived: Vec<(String, String)>,
    dropped: String,
    lineage: String,
    loads: Vec<LoadDoc>,
}

#[derive(Serialize)]
struct TrustedDoc {
    name: String,
    description: String,
    inputs: String,
    rebuild: &'static str,
    sql: String,
    reconcile: String,
}

#[derive(Serialize)]
struct View {
    project: String,
    generated_at: String,
    datasets: Vec<DatasetDoc>,
    trusted: Vec<TrustedDoc>,
}

fn action_name(a: PiiAction) -> &'static str {
    match a {
        PiiAction::Redact => "redacted",
        PiiAction::Mask => "masked",
        PiiAction::Hash => "hashed (keyed, so joins still work)",
        PiiAction::Drop => "dropped",
    }
}

/// A stage's count, or a dash where the run did not reach the stage.
fn count(m: &Manifest, stage: &str, n: impl Fn(&StageCounts) -> u64) -> String {
    m.stages
        .get(stage)
        .map(|s| n(s).to_string())
        .unwrap_or_else(|| "–".into())
}

/// What personal information is done with, as the spec declares it.
fn pii_action(spec: &Spec, e: PiiEntity) -> &'static str {
    spec.etl
        .pii
        .get(&e)
        .copied()
        .map(action_name)
        .unwrap_or("kept (no action declared)")
}

/// The dataset's columns: declared ones, then those the latest load classified as personal
/// information without a declaration.
fn column_docs(spec: &Spec, ds: &Dataset, latest: Option<&Manifest>) -> Vec<ColumnDoc> {
    let action_of = |e: PiiEntity| pii_action(spec, e);
    // Columns the latest load classified (undeclared ones too), with their entity.
    let found: BTreeMap<String, String> = latest.map(|m| m.pii_columns.clone()).unwrap_or_default();
    let mut columns: Vec<ColumnDoc> = ds
        .columns
        .iter()
        .map(|(c, r)| {
            let bounds = match (r.min, r.max) {
                (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => String::new(),
            };
            let personal = match (r.pii, found.get(c)) {
                (Some(e), _) => format!("{}: {}", e.name(), action_of(e)),
                (None, Some(e)) => PiiEntity::from_name(e)
                    .map(|en| format!("{e}: {}", action_of(en)))
                    .unwrap_or_else(|| format!("{e}: scanned, each value protected as found")),
                _ => String::new(),
            };
            ColumnDoc {
                name: c.clone(),
                data_type: r.data_type.clone(),
                description: r.description.clone().unwrap_or_default(),
                bounds,
                personal,
            }
        })
        .collect();
    for (c, e) in found.iter().filter(|(c, _)| !ds.columns.contains_key(*c)) {
        let personal = PiiEntity::from_name(e)
            .map(|en| format!("{e}: {}", action_of(en)))
            .unwrap_or_else(|| format!("{e}: scanned, each value protected as found"));
        columns.push(ColumnDoc {
            name: c.clone(),
            data_type: "string (not declared)".into(),
            description: String::new(),
            bounds: String::new(),
            personal,
        });
    }
    columns
}

/// The dataset's rules, with what the latest load counted for each.
fn rule_docs(ds: &Dataset, latest: Option<&Manifest>) -> Vec<RuleDoc> {
    ds.rules
        .iter()
        .map(|r| {
            let action = match r.action {
                RuleAction::Reject => "reject to quarantine",
                RuleAction::Warn => "warn, keep the row",
            };
            let counted = |m: &Manifest| match r.action {
                RuleAction::Reject => m.quarantine_reasons.get(&r.name).copied(),
                RuleAction::Warn => m.warnings_by_rule.get(&r.name).copied(),
            };
            let latest = latest
                .map(|m| counted(m).unwrap_or(0).to_string())
                .unwrap_or_else(|| "–".into());
            RuleDoc {
                name: r.name.clone(),
                check: r.check.clone(),
                action,
                latest,
            }
        })
        .collect()
}

fn load_doc(m: &Manifest) -> LoadDoc {
    let pii: Vec<String> = m
        .pii_found
        .iter()
        .map(|(e, n)| format!("{e} {n}"))
        .collect();
    LoadDoc {
        run_id: m.run_id.clone(),
        finished_at: m.finished_at.clone(),
        file: m.input.file.clone(),
        rows_in: count(m, "raw", |s| s.rows_in),
        rows_out: count(m, "curated", |s| s.rows_out),
        quarantined: count(m, "curated", |s| s.rows_quarantined),
        pii_found: if pii.is_empty() {
            "none".into()
        } else {
            pii.join(", ")
        },
    }
}

fn view(spec: &Spec, manifests: &BTreeMap<String, Vec<Manifest>>, generated_at: &str) -> View {
    let datasets = spec
        .datasets
        .iter()
        .map(|(name, ds)| {
            let runs = manifests.get(name).map(Vec::as_slice).unwrap_or_default();
            let latest = runs.first();
            let columns = column_docs(spec, ds, latest);
            let rules = rule_docs(ds, latest);
            let feeds: Vec<String> = spec.trusted.iter().filter(|t| t.inputs.contains(name)).map(|t| format!("trusted.{}", t.name)).collect();
            let lineage = format!(
                "landing (the file as delivered) → raw.{name} (typed) → curated.{name} (rules passed, personal information protected; rejected rows to quarantine.{name}){}",
                if feeds.is_empty() { String::new() } else { format!(" → {}", feeds.join(", ")) }
            );
            let loads = runs.iter().map(load_doc).collect();
            DatasetDoc {
                name: name.clone(),
                description: ds.description.clone().unwrap_or_default(),
                source: ds.source.clone().unwrap_or_default(),
                load: serde_json::to_value(ds.load_mode()).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                key: ds.unique_key.join(", "),
                columns,
                rules,
                derived: ds.derive.iter().map(|d| (d.name.clone(), d.sql.clone())).collect(),
                dropped: ds.drop.join(", "),
                lineage,
                loads,
            }
        })
        .collect();
    let trusted = spec
        .trusted
        .iter()
        .map(|t| TrustedDoc {
            name: t.name.clone(),
            description: t.description.clone().unwrap_or_default(),
            inputs: t
                .inputs
                .iter()
                .map(|i| format!("curated.{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            rebuild: match t.rebuild {
                dapgov_spec::TrustedRebuild::Whole => "whole, on every load of an input",
                dapgov_spec::TrustedRebuild::TouchedYears => "the years a load delivers",
            },
            sql: t.sql.trim().to_string(),
            reconcile: t.reconcile.clone().unwrap_or_default().trim().to_string(),
        })
        .collect();
    View {
        project: spec.platform.name.clone(),
        generated_at: generated_at.to_string(),
        datasets,
        trusted,
    }
}

fn render(template: &str, view: &View, markdown: bool) -> Result<String, ReportError> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    if markdown {
        hb.register_escape_fn(markdown_text);
        hb.register_helper("code_block", Box::new(code_block));
    }
    hb.register_template_string("docs", template)
        .map_err(|e| ReportError::Render("data docs", e.to_string()))?;
    hb.render("docs", view)
        .map_err(|e| ReportError::Render("data docs", e.to_string()))
}

/// Spec and data text as Markdown shows it, never as markup: the characters that start HTML,
/// entities, links, images, code or table cells are backslash-escaped (emphasis is left: it
/// can only style text), and a line break (which would
/// end a table row) becomes a space.
fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '[' | ']' | '<' | '>' | '&' | '|' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// `{{code_block "sql" text}}`: a fenced block whose fence is longer than any run of
/// backticks in the text, so the text cannot close it.
fn code_block(
    h: &handlebars::Helper,
    _: &handlebars::Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let lang = h.param(0).and_then(|p| p.value().as_str()).unwrap_or("");
    let text = h.param(1).and_then(|p| p.value().as_str()).unwrap_or("");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    out.write(&format!("{fence}{lang}\n{}\n{fence}", text.trim_end()))?;
    Ok(())
}

/// `data-docs.md`, `data-docs.html` and `data-docs.json` in `dir`, from the spec and each dataset's recent run
/// manifests (newest first).
pub fn write(
    spec: &Spec,
    manifests: &BTreeMap<String, Vec<Manifest>>,
    generated_at: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let v = view(spec, manifests, generated_at);
    Ok(vec![
        crate::write_file(dir, "data-docs.md", &render(MARKDOWN, &v, true)?)?,
        crate::write_file(dir, "data-docs.html", &render(HTML, &v, false)?)?,
        crate::write_json(dir, "data-docs.json", &v)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_docs_json_holds_each_dataset_its_rules_protection_and_loads() {
        let spec = Spec::parse(
            &dapgov_spec::init_text("van311", dapgov_spec::Target::Local).unwrap(),
            "dapgov.toml",
        )
        .unwrap();
        let load = serde_json::json!({
            "run_id": "20261201T100000Z-calls", "finished_at": "2026-12-01T10:00:07Z", "input": {"file": "calls.csv"},
            "stages": {"raw": {"rows_in": 1000}, "curated": {"rows_out": 990, "rows_quarantined": 10}},
            "quarantine_reasons": {}, "warnings_by_rule": {}, "pii_found": {"PHONE_NUMBER": 4}, "pii_columns": {"notes": "EMAIL_ADDRESS"}
        });
        let manifests = BTreeMap::from([(
            "calls".to_string(),
            vec![serde_json::from_value(load).unwrap()],
        )]);
        let dir = std::env::temp_dir().join(format!("dapgov-docs-{}", std::process::id()));
        let written = write(&spec, &manifests, "2026-12-02T00:00:00Z", &dir).unwrap();
        assert_eq!(written.len(), 3);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[2]).unwrap()).unwrap();
        insta::assert_json_snapshot!("data_docs_json", json);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Text from the spec or the data is shown as text in Markdown renderers, as the HTML
    /// report escapes it: no markup, link or table cell comes from it, and SQL cannot leave
    /// its code block.
    #[test]
    fn spec_and_data_text_cannot_become_markup_in_markdown() {
        let text = dapgov_spec::init_text("van311", dapgov_spec::Target::Local)
            .unwrap()
            .replacen(
                "description = \"",
                "description = \"<script>alert(1)</script> [x](javascript:alert(1)) a|b `c` ",
                1,
            );
        let mut spec = Spec::parse(&text, "dapgov.toml").unwrap();
        spec.trusted[0].sql = "SELECT 1 -- ```\n<img src=x onerror=alert(1)>".into();
        let dir = std::env::temp_dir().join(format!("dapgov-docs-md-{}", std::process::id()));
        let written = write(&spec, &BTreeMap::new(), "2026-12-02T00:00:00Z", &dir).unwrap();
        let md = std::fs::read_to_string(&written[0]).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        assert!(md.contains("\\<script\\>alert(1)\\</script\\>"), "{md}");
        assert!(
            md.contains("\\[x\\](javascript:alert(1)) a\\|b \\`c\\`"),
            "{md}"
        );
        assert!(
            !md.replace("\\<", "").contains("<script") && !md.contains("[x]("),
            "{md}"
        );
        // The SQL stays whole inside a fence longer than its own backticks.
        assert!(
            md.contains("````sql\nSELECT 1 -- ```\n<img src=x onerror=alert(1)>\n````"),
            "{md}"
        );
    }
}
