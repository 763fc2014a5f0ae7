//! Renders an audit as HTML (handlebars, self-contained), JSON, CSV, SARIF 2.1.0, JUnit XML,
//! OCSF and ASFF. This crate is the only one that knows output formats.

pub mod asff;
pub mod cost;
pub mod docs;
pub mod graph;
pub mod health;
mod html;
mod junit;
pub mod kpi;
mod ocsf;
mod sarif;
pub mod summary;
pub mod text;

use dapgov_audit::{Audit, CheckMeta, Finding};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
    Csv,
    Sarif,
    Junit,
    /// OCSF Detection Findings, as Prowler writes them.
    Ocsf,
    /// The AWS Security Finding Format, as Security Hub imports it.
    Asff,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Html,
        Format::Json,
        Format::Csv,
        Format::Sarif,
        Format::Junit,
        Format::Ocsf,
        Format::Asff,
    ];
    /// As `--format` names it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Junit => "junit",
            Format::Ocsf => "ocsf",
            Format::Asff => "asff",
            other => other.extension(),
        }
    }

    /// The report's file is `audit.<extension>`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
            Format::Junit => "junit.xml",
            Format::Ocsf => "ocsf.json",
            Format::Asff => "asff.json",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown report format `{s}`; expected {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("rendering the {0} report: {1}")]
    Render(&'static str, String),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an audit.json written by dapgov: {message}")]
    Previous { path: PathBuf, message: String },
}

/// One report as text.
pub fn render(audit: &Audit, format: Format) -> Result<String, ReportError> {
    match format {
        Format::Json => render_json(audit),
        Format::Csv => render_csv(audit),
        Format::Sarif => sarif::render(audit),
        Format::Html => html::render(audit),
        Format::Junit => Ok(junit::render(audit)),
        Format::Ocsf => ocsf::render(audit),
        Format::Asff => asff::render(audit),
    }
}

/// An HTML page from a handlebars `template` and its view; strict, so a misspelt field is an
/// error rather than an empty cell.
pub(crate) fn render_page<T: serde::Serialize>(
    template: &str,
    view: &T,
) -> Result<String, ReportError> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("page", template)
        .map_err(|e| ReportError::Render("html", e.to_string()))?;
    hb.render("page", view)
        .map_err(|e| ReportError::Render("html", e.to_string()))
}

/// Write `text` as `<dir>/<name>` (making `dir`): beside it first, then renamed into place,
/// so a reader never sees half a report.
pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let (path, tmp) = (dir.join(name), dir.join(format!(".{name}.tmp")));
    std::fs::write(&tmp, text).map_err(|source| ReportError::Write {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Write `value` as pretty JSON to `<dir>/<name>`: the numbers behind an HTML page, beside it.
pub(crate) fn write_json<T: serde::Serialize>(
    dir: &Path,
    name: &str,
    value: &T,
) -> Result<PathBuf, ReportError> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| ReportError::Render("json", e.to_string()))?
        + "\n";
    write_file(dir, name, &json)
}

/// Write each format to `<dir>/audit.<ext>`; returns the paths written.
pub fn write(audit: &Audit, formats: &[Format], dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for f in formats {
        written.push(write_file(
            dir,
            &format!("audit.{}", f.extension()),
            &render(audit, *f)?,
        )?);
        if *f == Format::Csv {
            for fw in &audit.frameworks {
                written.push(write_file(
                    dir,
                    &format!("compliance-{}.csv", fw.id),
                    &render_framework_csv(fw)?,
                )?);
            }
        }
    }
    Ok(written)
}

/// One row per requirement of a framework: what an auditor files as evidence.
pub fn render_framework_csv(fw: &dapgov_audit::FrameworkResult) -> Result<String, ReportError> {
    let err = |e: csv::Error| ReportError::Render("csv", e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "framework",
        "version",
        "requirement",
        "title",
        "section",
        "reference",
        "status",
        "checks",
        "failing_resources",
        "note",
    ])
    .map_err(err)?;
    for r in &fw.requirements {
        w.write_record([
            fw.id.as_str(),
            fw.version.as_str(),
            r.id.as_str(),
            r.title.as_str(),
            r.section.as_str(),
            r.reference.as_deref().unwrap_or_default(),
            r.status.as_str(),
            r.checks.join(" ").as_str(),
            r.failing_resources.join(" ").as_str(),
            r.note.as_deref().unwrap_or_default(),
        ])
        .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Render("csv", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Render("csv", e.to_string()))
}

/// Read a previous `audit.json` for `--compare`.
pub fn read_previous(path: &Path) -> Result<Audit, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::Previous {
        path: path.into(),
        message: e.to_string(),
    })?;
    let audit: Audit = serde_json::from_str(&text).map_err(|e| ReportError::Previous {
        path: path.into(),
        message: e.to_string(),
    })?;
    if audit.schema_version != dapgov_audit::AUDIT_SCHEMA_VERSION {
        return Err(ReportError::Previous {
            path: path.into(),
            message: format!(
                "schema version {} (this dapgov reads {})",
                audit.schema_version,
                dapgov_audit::AUDIT_SCHEMA_VERSION
            ),
        });
    }
    Ok(audit)
}

fn render_json(audit: &Audit) -> Result<String, ReportError> {
    let mut s = serde_json::to_string_pretty(audit)
        .map_err(|e| ReportError::Render("json", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// The requirements a check gives evidence for: its Well-Architected best practice, and each
/// requirement of the frameworks the audit judged, keyed by framework.
pub(crate) fn compliance_of(
    audit: &Audit,
    check: &str,
    best_practice: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::from([(
        "well-architected".to_string(),
        vec![best_practice.to_string()],
    )]);
    for fw in &audit.frameworks {
        let ids = out.entry(fw.id.clone()).or_default();
        for r in fw
            .requirements
            .iter()
            .filter(|r| r.checks.iter().any(|c| c == check))
        {
            if !ids.contains(&r.id) {
                ids.push(r.id.clone());
            }
        }
    }
    out.retain(|_, ids| !ids.is_empty());
    out
}

pub(crate) fn meta<'a>(audit: &'a Audit, f: &Finding) -> Option<&'a CheckMeta> {
    audit.checks.iter().find(|c| c.id == f.check_id)
}

const CSV_COLUMNS: [&str; 21] = [
    "finding_uid",
    "status",
    "muted",
    "mute_reason",
    "delta",
    "severity",
    "pillar",
    "best_practice",
    "check_id",
    "check_title",
    "service",
    "resource_type",
    "resource",
    "arn",
    "region",
    "detail",
    "risk",
    "remediation",
    "remediation_cli",
    "remediation_url",
    "prowler_checks",
];

fn render_csv(audit: &Audit) -> Result<String, ReportError> {
    let err = |e: csv::Error| ReportError::Render("csv", e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(err)?;
    for f in &audit.findings {
        let m = meta(audit, f);
        let delta = f.delta.map(|d| d.as_str()).unwrap_or_default();
        w.write_record([
            f.uid.as_str(),
            f.status.as_str(),
            if f.muted.is_some() { "true" } else { "false" },
            f.muted.as_deref().unwrap_or_default(),
            delta,
            f.severity.as_str(),
            f.pillar.as_str(),
            f.best_practice.as_str(),
            f.check_id.as_str(),
            f.title.as_str(),
            f.service.as_str(),
            f.resource_type.as_str(),
            f.resource.as_str(),
            f.arn.as_str(),
            f.region.as_str(),
            f.detail.as_str(),
            m.map(|m| m.risk.as_str()).unwrap_or_default(),
            m.map(|m| m.remediation.text.as_str()).unwrap_or_default(),
            m.map(|m| m.remediation.cli.as_str()).unwrap_or_default(),
            m.map(|m| m.remediation.url.as_str()).unwrap_or_default(),
            m.map(|m| m.prowler.join(" ")).unwrap_or_default().as_str(),
        ])
        .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Render("csv", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Render("csv", e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dapgov_audit::{AuditOptions, Catalogue, Mutelist, run};
    use dapgov_inventory::Inventory;

    pub fn fixture_audit(mutelist: Option<&Mutelist>) -> Audit {
        let text = include_str!("../../../tests/fixtures/platform.json");
        let mut inv: Inventory = serde_json::from_str(text).unwrap();
        // Two findings to show: versioning suspended and rotation off.
        inv.buckets
            .get_mut("van311-raw-000000000000")
            .unwrap()
            .versioning = Some(dapgov_inventory::Versioning::Suspended);
        inv.keys.get_mut("van311-pii").unwrap().rotation_enabled = Some(false);
        let now = "2026-11-21T00:00:00Z".parse().unwrap();
        run(
            &inv,
            &Catalogue::builtin().unwrap(),
            &AuditOptions {
                now,
                mutelist: mutelist.map(|m| (m, "mutelist.toml".to_string())),
                ..Default::default()
            },
        )
    }

    #[test]
    fn json_round_trips_and_differs_only_in_the_timestamp() {
        let a = fixture_audit(None);
        let mut b = a.clone();
        b.run.generated_at = "2026-11-22T00:00:00Z".into();
        let (ja, jb) = (
            render(&a, Format::Json).unwrap(),
            render(&b, Format::Json).unwrap(),
        );
        let differing: Vec<(&str, &str)> =
            ja.lines().zip(jb.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(differing.len(), 1, "{differing:?}");
        assert!(differing[0].0.contains("generated_at"));
        let back: Audit = serde_json::from_str(&ja).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn csv_has_one_row_per_finding_with_quoted_fields() {
        let a = fixture_audit(None);
        let text = render(&a, Format::Csv).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_COLUMNS.to_vec()
        );
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), a.findings.len());
        let fail = rows
            .iter()
            .find(|r| &r[8] == "s3_bucket_object_versioning" && &r[1] == "FAIL")
            .expect("the versioning failure");
        assert_eq!(&fail[12], "bucket.van311-raw-000000000000");
        assert!(fail[18].contains("put-bucket-versioning"));
    }
}

/// The check catalogue as a Markdown table (one section per pillar), as `docs/checks.md` shows it.
/// The catalogue as Markdown tables, one per pillar (only `only`'s, when given).
pub fn catalogue_markdown(
    catalogue: &dapgov_audit::Catalogue,
    only: Option<dapgov_audit::Pillar>,
) -> String {
    let mut out = String::new();
    for pillar in dapgov_audit::Pillar::ALL
        .into_iter()
        .filter(|p| only.is_none_or(|o| o == *p))
    {
        let checks: Vec<_> = catalogue
            .checks()
            .iter()
            .filter(|c| c.pillar == pillar)
            .collect();
        out.push_str(&format!(
            "### {} ({} checks)\n\n",
            pillar.title(),
            checks.len()
        ));
        out.push_str("| Check | Severity | Best practice | Resource | Title | Prowler counterpart |\n|---|---|---|---|---|---|\n");
        for c in checks {
            let prowler = if c.prowler.is_empty() {
                "none".to_string()
            } else {
                c.prowler
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                c.id,
                c.severity.as_str(),
                c.best_practice,
                c.resource_type,
                c.title.replace('|', "\\|"),
                prowler
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod docs_tests {
    #[test]
    fn docs_checks_md_lists_the_catalogue_as_it_is() {
        let doc = include_str!("../../../docs/checks.md");
        let start = doc
            .find("<!-- catalogue:start -->\n")
            .expect("start marker")
            + "<!-- catalogue:start -->\n".len();
        let end = doc.find("<!-- catalogue:end -->").expect("end marker");
        let generated =
            super::catalogue_markdown(&dapgov_audit::Catalogue::builtin().unwrap(), None);
        assert!(
            doc[start..end] == generated,
            "docs/checks.md is out of date: run `dapgov checks --format markdown` and paste it between the markers"
        );
        let security = super::catalogue_markdown(
            &dapgov_audit::Catalogue::builtin().unwrap(),
            Some(dapgov_audit::Pillar::Security),
        );
        assert!(
            security.starts_with("### Security") && security.matches("### ").count() == 1,
            "{security}"
        );
    }

    #[test]
    fn docs_compliance_md_lists_every_framework_mapping_as_it_is() {
        let doc = include_str!("../../../docs/compliance.md");
        let start = doc
            .find("<!-- frameworks:start -->\n")
            .expect("start marker")
            + "<!-- frameworks:start -->\n".len();
        let end = doc.find("<!-- frameworks:end -->").expect("end marker");
        let catalogue = dapgov_audit::Catalogue::builtin().unwrap();
        let generated: String = dapgov_audit::Framework::builtin(&catalogue)
            .unwrap()
            .iter()
            .map(super::framework_markdown)
            .collect();
        assert!(
            doc[start..end] == generated,
            "docs/compliance.md is out of date: run `dapgov checks --framework NAME --format markdown` for each framework and paste them between the markers"
        );
    }
}

/// A framework's mapping as Markdown, as in docs/compliance.md.
pub fn framework_markdown(fw: &dapgov_audit::Framework) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let manual = fw.requirements.iter().filter(|r| r.manual).count();
    let mut out = format!(
        "## {} (`--framework {}`)\n\n{}, {}. {} requirements: {} mapped to checks, {manual} manual.\n\n| Requirement | Title | Section | Checks |\n|---|---|---|---|\n",
        fw.title,
        fw.id,
        fw.version,
        fw.url,
        fw.requirements.len(),
        fw.requirements.len() - manual
    );
    for r in &fw.requirements {
        let checks = if r.manual {
            "MANUAL".to_string()
        } else {
            r.checks
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let title = match &r.reference {
            Some(reference) => format!("{} ({reference})", r.title),
            None => r.title.clone(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {checks} |\n",
            r.id,
            cell(&title),
            cell(&r.section)
        ));
    }
    out.push('\n');
    out
}

/// A data-quality profile (the ETL's `Profile`, serialised) as a self-contained HTML page.
pub fn profile_html<T: serde::Serialize>(profile: &T) -> Result<String, ReportError> {
    let mut hb = handlebars::Handlebars::new();
    hb.register_template_string(
        "profile",
        include_str!("../../../templates/profile.html.hbs"),
    )
    .map_err(|e| ReportError::Render("profile html", e.to_string()))?;
    hb.render("profile", profile)
        .map_err(|e| ReportError::Render("profile html", e.to_string()))
}

/// Write `<dir>/<stem>.json` and `<dir>/<stem>.html` for a profile; returns the paths.
pub fn write_profile<T: serde::Serialize>(
    profile: &T,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut json = serde_json::to_string_pretty(profile)
        .map_err(|e| ReportError::Render("profile json", e.to_string()))?;
    json.push('\n');
    [("json", json), ("html", profile_html(profile)?)]
        .iter()
        .map(|(ext, text)| write_file(dir, &format!("{stem}.{ext}"), text))
        .collect()
}
