//! `dapgov cost`: the platform's cost month by month beside its budget, as text or a
//! self-contained HTML page with a chart.

use crate::ReportError;
use dapgov_records::CostReport;
use std::path::{Path, PathBuf};

/// Dollars to the cent, and to a hundredth of a cent below one cent (a small platform's
/// storage costs fractions of a cent).
pub(crate) fn usd(v: f64) -> String {
    if v > 0.0 && v < 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.2}")
    }
}

fn groups(r: &CostReport) -> Vec<String> {
    let mut g: Vec<String> = r
        .months
        .iter()
        .flat_map(|m| m.groups.keys().cloned())
        .collect();
    g.sort();
    g.dedup();
    g
}

/// The cost as a table: one row per month, one column per group, the total, the budget.
pub fn text(r: &CostReport, budget_usd: f64) -> String {
    let names = groups(r);
    let mut header = vec!["month"];
    header.extend(names.iter().map(String::as_str));
    header.extend(["total", "budget"]);
    let rows: Vec<Vec<String>> = r
        .months
        .iter()
        .map(|m| {
            let mut row = vec![m.month.clone()];
            row.extend(
                names
                    .iter()
                    .map(|g| usd(m.groups.get(g).copied().unwrap_or(0.0))),
            );
            row.push(usd(m.total));
            row.push(usd(budget_usd));
            row
        })
        .collect();
    let mut out = format!(
        "{} ({}){}\n",
        if r.estimated {
            "Estimated cost"
        } else {
            "Cost"
        },
        r.currency,
        if r.estimated {
            ", an estimate, not a bill"
        } else {
            ""
        }
    );
    out.push_str(&crate::text::table(&header, &rows));
    out.push('\n');
    match r.forecast {
        Some(f) => out.push_str(&format!(
            "This month's forecast: {} of a {} budget{}\n",
            usd(f),
            usd(budget_usd),
            if f > budget_usd {
                " — above the budget"
            } else {
                ""
            }
        )),
        None => out.push_str("This month's forecast: none\n"),
    }
    for n in &r.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    out
}

/// The cost and the budget as `dapgov cost --format json` prints them and `cost.json` holds them.
pub fn json(r: &CostReport, budget_usd: f64) -> serde_json::Value {
    serde_json::json!({"budget_usd": budget_usd, "cost": r})
}

/// `cost.html` (the months as bars, the table beneath) and `cost.json` in `dir`; returns their paths.
pub fn write(
    r: &CostReport,
    budget_usd: f64,
    project: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let svg = crate::kpi::bars(
        "Cost by month (USD)",
        &r.months
            .iter()
            .map(|m| (m.month.clone(), m.total))
            .collect::<Vec<_>>(),
    )?;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cost: {p}</title><style>body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 24px}}pre{{background:#f2f4f7;padding:12px;overflow-x:auto}}figure svg{{width:100%;height:auto}}</style></head><body><h1>Cost: {p}</h1><figure role=\"img\" aria-label=\"Cost by month\">{svg}</figure><pre>{t}</pre></body></html>\n",
        p = esc(project),
        t = esc(&text(r, budget_usd))
    );
    Ok(vec![
        crate::write_file(dir, "cost.html", &html)?,
        crate::write_json(dir, "cost.json", &json(r, budget_usd))?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapgov_records::{CostGrouping, MonthCost};

    #[test]
    fn cost_json_holds_the_months_groups_forecast_and_budget() {
        let month = |m: &str, raw: f64, trusted: f64| MonthCost {
            month: m.into(),
            total: raw + trusted,
            groups: [("raw".to_string(), raw), ("trusted".to_string(), trusted)].into(),
        };
        let r = CostReport {
            estimated: false,
            currency: "USD".into(),
            by: CostGrouping::Zone,
            months: vec![month("2026-10", 1.25, 0.5), month("2026-11", 2.0, 0.75)],
            forecast: Some(3.1),
            notes: vec!["the months Cost Explorer has finished".into()],
        };
        let dir = std::env::temp_dir().join(format!("dapgov-cost-{}", std::process::id()));
        let written = write(&r, 25.0, "van311", &dir).unwrap();
        assert_eq!(
            written
                .iter()
                .map(|p| p.file_name().unwrap().to_str().unwrap())
                .collect::<Vec<_>>(),
            ["cost.html", "cost.json"]
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[1]).unwrap()).unwrap();
        assert_eq!(json, super::json(&r, 25.0));
        insta::assert_json_snapshot!("cost_json", json);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
