//! The HTML report: a view model built here, laid out by `templates/audit.html.hbs`.

use crate::{ReportError, meta};
use dapgov_audit::{Audit, Counts, Delta, Finding, Pillar, Remediation, Severity, Status};
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../../templates/audit.html.hbs");

#[derive(Serialize)]
struct View<'a> {
    audit: &'a Audit,
    comparison: Option<&'a dapgov_audit::Comparison>,
    mutelist: Option<&'a str>,
    failing: usize,
    check_count: usize,
    severities: Vec<&'static str>,
    pillars: Vec<PillarRow>,
    best_practices: Vec<BestPracticeView>,
    findings: Vec<FindingView<'a>>,
    muted: Vec<FindingView<'a>>,
    fixed: usize,
    access: AccessView,
    frameworks: Vec<FrameworkView>,
    cost: Option<CostView>,
}

/// The budget card: dollars as text, and whether the spend or forecast is over the limit.
#[derive(Serialize)]
struct CostView {
    actual: String,
    limit: String,
    forecast: String,
    class: &'static str,
    estimated: bool,
}

fn cost_view(c: &dapgov_audit::CostCard) -> CostView {
    let usd = |v: Option<f64>| {
        v.map(|v| format!("US${}", crate::cost::usd(v)))
            .unwrap_or_else(|| "unknown".into())
    };
    let over = c.actual_usd.is_some_and(|a| a > c.limit_usd)
        || c.forecast_usd.is_some_and(|f| f > c.limit_usd);
    CostView {
        actual: usd(c.actual_usd),
        limit: usd(Some(c.limit_usd)),
        forecast: usd(c.forecast_usd),
        class: if over { "fail" } else { "pass" },
        estimated: c.estimated,
    }
}

/// One framework's requirements and their verdicts (`--framework`).
#[derive(Serialize)]
struct FrameworkView {
    id: String,
    title: String,
    version: String,
    url: String,
    totals: dapgov_audit::RequirementCounts,
    rows: Vec<RequirementView>,
}

#[derive(Serialize)]
struct RequirementView {
    id: String,
    title: String,
    section: String,
    status: &'static str,
    class: &'static str,
    checks: String,
    resources: String,
    /// Empty when the framework gives none (the template tests for it).
    reference: String,
    note: String,
}

fn framework_view(f: &dapgov_audit::FrameworkResult) -> FrameworkView {
    use dapgov_audit::RequirementStatus as S;
    let rows = f
        .requirements
        .iter()
        .map(|r| {
            let class = match r.status {
                S::Fail => "fail",
                S::Pass => "pass",
                S::Muted => "muted",
                S::Manual => "manual",
                S::NotApplicable | S::NotAssessed => "na",
            };
            RequirementView {
                id: r.id.clone(),
                title: r.title.clone(),
                section: r.section.clone(),
                status: r.status.as_str(),
                class,
                checks: r.checks.join(", "),
                resources: r.failing_resources.join(", "),
                reference: r.reference.clone().unwrap_or_default(),
                note: r.note.clone().unwrap_or_default(),
            }
        })
        .collect();
    FrameworkView {
        id: f.id.clone(),
        title: f.title.clone(),
        version: f.version.clone(),
        url: f.url.clone(),
        totals: f.totals.clone(),
        rows,
    }
}

/// Roles by zones: what each role may do there, as the policies evaluate.
#[derive(Serialize, Default)]
struct AccessView {
    zones: Vec<String>,
    rows: Vec<AccessRow>,
}

#[derive(Serialize)]
struct AccessRow {
    role: String,
    cells: Vec<AccessCell>,
}

#[derive(Serialize)]
struct AccessCell {
    rights: String,
    class: &'static str,
}

fn access_view(audit: &Audit) -> AccessView {
    let mut v = AccessView::default();
    for a in &audit.access {
        if !v.zones.contains(&a.zone) {
            v.zones.push(a.zone.clone());
        }
    }
    for a in &audit.access {
        if !v.rows.iter().any(|r| r.role == a.role) {
            v.rows.push(AccessRow {
                role: a.role.clone(),
                cells: vec![],
            });
        }
        let row = v
            .rows
            .iter_mut()
            .find(|r| r.role == a.role)
            .expect("just added");
        let rights: Vec<&str> = [(a.list, "list"), (a.read, "read"), (a.write, "write")]
            .into_iter()
            .filter(|(may, _)| *may)
            .map(|(_, r)| r)
            .collect();
        let (rights, class) = if rights.is_empty() {
            ("none".to_string(), "na")
        } else {
            (rights.join(", "), "")
        };
        row.cells.push(AccessCell { rights, class });
    }
    v
}

#[derive(Serialize)]
struct PillarRow {
    id: &'static str,
    title: &'static str,
    cells: Vec<Cell>,
    counts: Counts,
}

#[derive(Serialize)]
struct Cell {
    count: usize,
    class: &'static str,
}

#[derive(Serialize)]
struct BestPracticeView {
    id: String,
    pillar: &'static str,
    checks: String,
    counts: Counts,
    verdict: &'static str,
    class: &'static str,
}

#[derive(Serialize)]
struct FindingView<'a> {
    f: &'a Finding,
    status: &'static str,
    status_class: &'static str,
    pillar_title: &'static str,
    severity: &'static str,
    delta: Option<&'static str>,
    muted: Option<&'a str>,
    risk: &'a str,
    remediation: Option<&'a Remediation>,
    /// The resource's account, in an audit of many accounts; empty otherwise.
    account: &'a str,
    /// Lower-cased text the page's search box matches.
    search: String,
    open: bool,
}

fn status_label(f: &Finding) -> (&'static str, &'static str) {
    match (f.status, f.muted.is_some()) {
        (Status::Fail, true) => ("MUTED (FAIL)", "muted"),
        (Status::Pass, true) => ("MUTED (PASS)", "muted"),
        (Status::NotApplicable, true) => ("MUTED (N/A)", "muted"),
        (Status::Fail, false) => ("FAIL", "fail"),
        (Status::Pass, false) => ("PASS", "pass"),
        (Status::NotApplicable, false) => ("N/A", "na"),
    }
}

fn view<'a>(audit: &'a Audit, f: &'a Finding) -> FindingView<'a> {
    let (status, status_class) = status_label(f);
    let m = meta(audit, f);
    FindingView {
        f,
        status,
        status_class,
        pillar_title: f.pillar.title(),
        severity: f.severity.as_str(),
        delta: f.delta.map(Delta::as_str),
        muted: f.muted.as_deref(),
        risk: m.map(|m| m.risk.as_str()).unwrap_or_default(),
        // Fixes are shown where there is something to fix; it also keeps the page light.
        remediation: m
            .filter(|_| f.status == Status::Fail)
            .map(|m| &m.remediation),
        account: &f.account,
        search: format!(
            "{} {} {} {} {} {} {}",
            f.check_id, f.title, f.resource, f.arn, f.detail, f.best_practice, f.account
        )
        .to_lowercase(),
        open: f.is_failing(),
    }
}

fn rank(f: &Finding) -> (u8, std::cmp::Reverse<Severity>) {
    let group = match (f.status, f.muted.is_some()) {
        (Status::Fail, false) => 0,
        (_, true) => 1,
        (Status::Pass, false) => 2,
        (Status::NotApplicable, false) => 3,
    };
    (group, std::cmp::Reverse(f.severity))
}

pub fn render(audit: &Audit) -> Result<String, ReportError> {
    let severities: Vec<&'static str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    let pillars = audit
        .run
        .pillars
        .iter()
        .map(|p: &Pillar| {
            let row = audit.summary.failing.get(p);
            PillarRow {
                id: p.as_str(),
                title: p.title(),
                cells: Severity::ALL
                    .iter()
                    .map(|s| {
                        let count = row.and_then(|r| r.get(s)).copied().unwrap_or(0);
                        Cell {
                            count,
                            class: if count == 0 { "zero" } else { s.as_str() },
                        }
                    })
                    .collect(),
                counts: audit.summary.by_pillar.get(p).cloned().unwrap_or_default(),
            }
        })
        .collect();
    let best_practices = audit
        .best_practices
        .iter()
        .map(|b| {
            let (verdict, class) = if b.counts.fail > 0 {
                ("Not met", "fail")
            } else if b.counts.pass > 0 {
                ("Met", "pass")
            } else if b.counts.muted > 0 {
                ("Accepted", "muted")
            } else {
                ("Not applicable", "na")
            };
            BestPracticeView {
                id: b.id.clone(),
                pillar: b.pillar.title(),
                checks: b.checks.join(", "),
                counts: b.counts.clone(),
                verdict,
                class,
            }
        })
        .collect();
    let mut ordered: Vec<&Finding> = audit.findings.iter().collect();
    ordered.sort_by_key(|f| rank(f));
    let findings = ordered.iter().map(|f| view(audit, f)).collect();
    let muted = audit
        .findings
        .iter()
        .filter(|f| f.muted.is_some())
        .map(|f| view(audit, f))
        .collect();
    let v = View {
        audit,
        comparison: audit.comparison.as_ref(),
        mutelist: audit.run.mutelist.as_deref(),
        failing: audit.summary.totals.fail,
        check_count: audit.checks.len(),
        severities,
        pillars,
        best_practices,
        findings,
        muted,
        fixed: audit
            .comparison
            .as_ref()
            .map(|c| c.fixed.len())
            .unwrap_or(0),
        access: access_view(audit),
        frameworks: audit.frameworks.iter().map(framework_view).collect(),
        cost: audit.cost.as_ref().map(cost_view),
    };
    crate::render_page(TEMPLATE, &v)
}

#[cfg(test)]
mod tests {
    use crate::tests::fixture_audit;
    use dapgov_audit::{Catalogue, Mutelist};

    #[test]
    fn html_is_self_contained_and_shows_findings_first() {
        let c = Catalogue::builtin().unwrap();
        let m = Mutelist::parse("[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"*\"\nreason = \"rotated <by hand>\"\n", "m.toml", &c).unwrap();
        let a = fixture_audit(Some(&m));
        let html = super::render(&a).unwrap();
        for external in [
            "src=\"http",
            "href=\"http://",
            "<link rel=\"stylesheet\"",
            "@import",
        ] {
            assert!(!html.contains(external), "external resource: {external}");
        }
        // The failing finding comes before any passing one, and values are escaped.
        let fail = html.find("s3_bucket_object_versioning").unwrap();
        let first_pass = html.find("class=\"finding pass\"").unwrap();
        assert!(fail < first_pass);
        assert!(html.contains("rotated &lt;by hand&gt;") && !html.contains("rotated <by hand>"));
        assert!(html.contains("SEC08-BP02") && html.contains("put-bucket-versioning"));
        // The budget card: the month's spend and forecast beside the limit.
        let card = &html[html.find("id=\"cost\"").expect("a cost card")..];
        assert!(
            card.contains("budget")
                && card.contains("US$50.00")
                && card.contains("local storage estimate"),
            "{}",
            &card[..200]
        );
    }
}
