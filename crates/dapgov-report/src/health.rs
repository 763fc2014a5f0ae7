//! `dapgov report health` on the local target: the operations dashboard's panels drawn from
//! the metrics the platform recorded, so the local platform shows what CloudWatch shows on
//! AWS. The panels are read from the dashboard the spec declares: one definition for both.

use crate::ReportError;
use dapgov_inventory::Inventory;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = include_str!("../../../templates/health.html.hbs");

/// One published datum: namespace (as stored), time (RFC 3339), metric, dimensions, value.
pub struct Sample {
    pub namespace: String,
    pub time: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Serialize)]
struct Panel {
    title: String,
    /// A chart of the daily values, when the panel is a metric.
    svg: String,
    rows: Vec<(String, String)>,
    /// Alarm name and state, when the panel lists alarms.
    alarms: Vec<(String, String)>,
    note: String,
}

#[derive(Serialize)]
struct View {
    project: String,
    dashboard: String,
    panels: Vec<Panel>,
}

/// The metric and dimension filter a panel's first line names: `[ns, name, k, v, ...]` or a
/// `SEARCH('{ns,...} MetricName="X" K="V"', 'Stat', period)` expression.
fn panel_metric(
    metrics: &serde_json::Value,
) -> Option<(String, String, BTreeMap<String, String>, bool)> {
    let first = metrics.as_array()?.first()?;
    if let Some(expr) = first
        .get(0)
        .and_then(|e| e.get("expression"))
        .and_then(|e| e.as_str())
    {
        let ns = expr.split('{').nth(1)?.split(',').next()?.to_string();
        let quoted = |key: &str| {
            expr.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(String::from)
        };
        let name = quoted("MetricName")?;
        let filter = ["Project", "Dataset"]
            .iter()
            .filter_map(|k| quoted(k).map(|v| (k.to_string(), v)))
            .collect();
        return Some((ns, name, filter, false));
    }
    let parts: Vec<String> = first
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let (ns, name) = (parts.first()?.clone(), parts.get(1)?.clone());
    let dims = parts[2..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    Some((ns, name, dims, true))
}

fn daily(
    samples: &[Sample],
    ns: &str,
    name: &str,
    dims: &BTreeMap<String, String>,
    exact: bool,
    stat: &str,
) -> Vec<(String, f64)> {
    let stored = ns.replace('/', "_");
    let mut by_day: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.namespace == stored && s.name == name)
    {
        let matches = if exact {
            &s.dimensions == dims
        } else {
            dims.iter().all(|(k, v)| s.dimensions.get(k) == Some(v))
                && s.dimensions.contains_key("RunId")
        };
        if matches {
            by_day
                .entry(s.time.chars().take(10).collect())
                .or_default()
                .push(s.value);
        }
    }
    by_day
        .into_iter()
        .map(|(day, v)| {
            let value = match stat {
                "Maximum" => v.iter().copied().fold(f64::MIN, f64::max),
                "Average" => v.iter().sum::<f64>() / v.len() as f64,
                _ => v.iter().sum(),
            };
            (day, value)
        })
        .collect()
}

fn panels(
    inv: &Inventory,
    samples: &[Sample],
    estimate_usd: f64,
) -> Result<(String, Vec<Panel>), ReportError> {
    let dashboard = inv.dashboards.values().next().ok_or_else(|| {
        ReportError::Render(
            "health",
            "the platform has no dashboard: run `dapgov apply`".into(),
        )
    })?;
    let widgets = dashboard
        .body
        .as_ref()
        .and_then(|b| b["widgets"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = vec![];
    for w in widgets {
        let p = &w["properties"];
        let title = p["title"].as_str().unwrap_or_default().to_string();
        if w["type"] == "alarm" {
            let alarms = inv
                .alarms
                .values()
                .map(|a| {
                    (
                        a.name.clone(),
                        a.state
                            .clone()
                            .unwrap_or_else(|| "INSUFFICIENT_DATA".into()),
                    )
                })
                .collect();
            out.push(Panel {
                title,
                svg: String::new(),
                rows: vec![],
                alarms,
                note: String::new(),
            });
            continue;
        }
        let Some((ns, name, dims, exact)) = panel_metric(&p["metrics"]) else {
            continue;
        };
        if ns == dapgov_inventory::BILLING_NAMESPACE {
            let note = format!(
                "Estimated: US${estimate_usd:.4} a month for the storage the platform holds (the local target's estimate; AWS bills on AWS)."
            );
            out.push(Panel {
                title,
                svg: String::new(),
                rows: vec![],
                alarms: vec![],
                note,
            });
            continue;
        }
        let stat = p["stat"].as_str().unwrap_or("Sum");
        let points = daily(samples, &ns, &name, &dims, exact, stat);
        let (svg, note) = if points.is_empty() {
            (
                String::new(),
                format!("No {name} recorded yet: run `dapgov etl run`."),
            )
        } else {
            (crate::kpi::bars(&title, &points)?, String::new())
        };
        let rows = points
            .iter()
            .map(|(d, v)| (d.clone(), format!("{v:.0}")))
            .collect();
        out.push(Panel {
            title,
            svg,
            rows,
            alarms: vec![],
            note,
        });
    }
    Ok((dashboard.name.clone(), out))
}

/// The panels' numbers, as `health.json` holds them: the page without its drawings.
fn json(view: &View) -> Result<serde_json::Value, ReportError> {
    let mut v = serde_json::to_value(view)
        .map_err(|e| ReportError::Render("health.json", e.to_string()))?;
    for p in v["panels"].as_array_mut().into_iter().flatten() {
        p.as_object_mut().map(|o| o.remove("svg"));
    }
    Ok(v)
}

/// Write `health.html` and `health.json` into `dir`; returns their paths.
pub fn write(
    inv: &Inventory,
    samples: &[Sample],
    estimate_usd: f64,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let (dashboard, panels) = panels(inv, samples, estimate_usd)?;
    let view = View {
        project: inv.project.clone(),
        dashboard,
        panels,
    };
    let html = crate::render_page(TEMPLATE, &view)?;
    Ok(vec![
        crate::write_file(dir, "health.html", &html)?,
        crate::write_json(dir, "health.json", &json(&view)?)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panel_names_its_metric_by_list_or_by_search() {
        let listed = serde_json::json!([["dapgov", "EtlRunFailed", "Project", "p"]]);
        assert_eq!(
            panel_metric(&listed),
            Some((
                "dapgov".into(),
                "EtlRunFailed".into(),
                [("Project".to_string(), "p".to_string())].into(),
                true
            ))
        );
        let search = serde_json::json!([[{"expression": "SEARCH('{dapgov,Dataset,Project,RunId} MetricName=\"PiiFound\" Project=\"p\"', 'Sum', 86400)", "id": "m"}]]);
        assert_eq!(
            panel_metric(&search),
            Some((
                "dapgov".into(),
                "PiiFound".into(),
                [("Project".to_string(), "p".to_string())].into(),
                false
            ))
        );
    }

    #[test]
    fn health_json_holds_each_panels_daily_numbers_and_the_alarms() {
        let spec = dapgov_spec::Spec::parse(
            &dapgov_spec::init_text("van311", dapgov_spec::Target::Local).unwrap(),
            "dapgov.toml",
        )
        .unwrap();
        let mut inv = dapgov_spec::desired(&spec, &Inventory::default(), "000000000000").unwrap();
        for (i, a) in inv.alarms.values_mut().enumerate() {
            a.state = Some(if i == 0 { "ALARM" } else { "OK" }.into());
        }
        let ns = spec.etl.metrics_namespace.replace('/', "_");
        let sample = |day: &str, name: &str, run: &str, value: f64| Sample {
            namespace: ns.clone(),
            time: format!("{day}T10:00:00Z"),
            name: name.into(),
            dimensions: [("Project", "van311"), ("Dataset", "calls"), ("RunId", run)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        };
        let samples = vec![
            sample("2026-11-30", "RowsQuarantined", "r1", 3.0),
            sample("2026-11-30", "RowsQuarantined", "r2", 4.0),
            sample("2026-12-01", "RowsQuarantined", "r3", 0.0),
            sample("2026-11-30", "DurationSeconds", "r1", 12.0),
            sample("2026-11-30", "DurationSeconds", "r2", 30.0),
            sample("2026-12-01", "PiiFound", "r3", 17.0),
        ];
        let dir = std::env::temp_dir().join(format!("dapgov-health-{}", std::process::id()));
        let written = write(&inv, &samples, 0.0123, &dir).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&written[1]).unwrap()).unwrap();
        insta::assert_json_snapshot!("health_json", json);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
