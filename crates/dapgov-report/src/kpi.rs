//! The call centre's KPI report: `kpi.html` (charts as inline SVG drawn by plotters, each with
//! its table beneath, self-contained) and `kpi.json` (the same numbers).

use crate::ReportError;
use dapgov_records::{Kpi, Month, Pattern};
use plotters::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

const TEMPLATE: &str = include_str!("../../../templates/kpi.html.hbs");
const WIDTH: u32 = 880;
const HEIGHT: u32 = 320;
/// Offered, handled, abandoned, target: colours that stay apart for colour-blind readers.
const BLUE: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const GREEN: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const ORANGE: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const GREY: RGBColor = RGBColor(0x66, 0x66, 0x66);

struct Series<'a> {
    name: &'a str,
    values: Vec<Option<f64>>,
    color: RGBColor,
}

fn render_err(e: impl std::fmt::Display) -> ReportError {
    ReportError::Render("kpi chart", e.to_string())
}

/// Lines over labelled points (months), with an optional dashed target line.
fn line_chart(
    title: &str,
    labels: &[String],
    series: &[Series],
    target: Option<(&str, f64)>,
    percent: bool,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        let values = series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .chain(target.map(|t| t.1));
        let max = values.fold(0.0_f64, f64::max);
        let top = if percent {
            1.0_f64.max(max)
        } else {
            (max * 1.1).max(1.0)
        };
        let n = labels.len().max(2);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0..n - 1, 0.0..top)
            .map_err(render_err)?;
        chart
            .configure_mesh()
            .x_labels(labels.len().min(12))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|v| {
                if percent {
                    format!("{:.0}%", v * 100.0)
                } else {
                    format!("{v:.0}")
                }
            })
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(render_err)?;
        for s in series {
            let color = s.color;
            let points: Vec<(usize, f64)> = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(render_err)?
                .label(s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        if let Some((name, value)) = target {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0, value), (n - 1, value)],
                    6,
                    4,
                    GREY.stroke_width(1),
                ))
                .map_err(render_err)?
                .label(name)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], GREY));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(GREY)
            .position(if percent {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            })
            .draw()
            .map_err(render_err)?;
        root.present().map_err(render_err)?;
    }
    Ok(svg)
}

/// One bar per label.
fn bar_chart(title: &str, patterns: &[Pattern]) -> Result<String, ReportError> {
    bars(
        title,
        &patterns
            .iter()
            .map(|p| (p.label.clone(), p.calls as f64))
            .collect::<Vec<_>>(),
    )
}

/// One bar per (label, value).
pub(crate) fn bars(title: &str, points: &[(String, f64)]) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        let top = points.iter().map(|p| p.1).fold(0.0_f64, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d((0..points.len()).into_segmented(), 0.0..top)
            .map_err(render_err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(points.len().min(24))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => {
                    points.get(*i).map(|p| p.0.clone()).unwrap_or_default()
                }
                _ => String::new(),
            })
            .draw()
            .map_err(render_err)?;
        chart
            .draw_series(points.iter().enumerate().map(|(i, p)| {
                Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), p.1),
                    ],
                    BLUE.mix(0.8).filled(),
                )
            }))
            .map_err(render_err)?;
        root.present().map_err(render_err)?;
    }
    Ok(svg)
}

#[derive(Serialize)]
struct Chart {
    id: &'static str,
    title: &'static str,
    svg: String,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct View<'a> {
    kpi: &'a Kpi,
    target: String,
    charts: Vec<Chart>,
    missing: String,
    missing_count: usize,
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1}%", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into())
}

fn charts(kpi: &Kpi) -> Result<Vec<Chart>, ReportError> {
    let mut out = vec![
        volume_chart(kpi)?,
        service_chart(kpi)?,
        abandonment_chart(kpi)?,
        speed_chart(kpi)?,
    ];
    if kpi.call_records_loaded {
        out.extend(pattern_charts(kpi)?);
    }
    Ok(out)
}

/// The months, as the charts label them.
fn month_labels(kpi: &Kpi) -> Vec<String> {
    kpi.monthly
        .iter()
        .map(|m| format!("{}-{:02}", m.year, m.month))
        .collect()
}

/// A table with a row per month: the month, then `cells`.
fn month_rows(kpi: &Kpi, cells: impl Fn(&Month) -> Vec<String>) -> Vec<Vec<String>> {
    kpi.monthly
        .iter()
        .map(|m| [vec![format!("{}-{:02}", m.year, m.month)], cells(m)].concat())
        .collect()
}

/// One value per month.
fn monthly(kpi: &Kpi, value: impl Fn(&Month) -> Option<f64>) -> Vec<Option<f64>> {
    kpi.monthly.iter().map(value).collect()
}

fn volume_chart(kpi: &Kpi) -> Result<Chart, ReportError> {
    let count = |n: i64| Some(n as f64);
    Ok(Chart {
        id: "volume",
        title: "Calls offered, handled and abandoned, by month",
        svg: line_chart(
            "Calls by month",
            &month_labels(kpi),
            &[
                Series {
                    name: "offered",
                    values: monthly(kpi, |m| count(m.calls_offered)),
                    color: BLUE,
                },
                Series {
                    name: "handled",
                    values: monthly(kpi, |m| count(m.calls_handled)),
                    color: GREEN,
                },
                Series {
                    name: "abandoned",
                    values: monthly(kpi, |m| count(m.calls_abandoned)),
                    color: ORANGE,
                },
            ],
            None,
            false,
        )?,
        header: vec!["month", "offered", "handled", "abandoned"],
        rows: month_rows(kpi, |m| {
            vec![
                m.calls_offered.to_string(),
                m.calls_handled.to_string(),
                m.calls_abandoned.to_string(),
            ]
        }),
    })
}

fn service_chart(kpi: &Kpi) -> Result<Chart, ReportError> {
    Ok(Chart {
        id: "service",
        title: "Call Handling Percentage and service level (weighted by calls offered) against the target",
        svg: line_chart(
            "Call Handling Percentage and service level",
            &month_labels(kpi),
            &[
                Series {
                    name: "Call Handling Percentage",
                    values: monthly(kpi, |m| m.call_handling_pct),
                    color: GREEN,
                },
                Series {
                    name: "service level",
                    values: monthly(kpi, |m| m.service_level),
                    color: BLUE,
                },
            ],
            Some(("service level target", kpi.service_level_target)),
            true,
        )?,
        header: vec![
            "month",
            "Call Handling Percentage",
            "service level",
            "target met",
        ],
        rows: month_rows(kpi, |m| {
            let met = match m.service_level {
                Some(s) if s >= kpi.service_level_target => "yes",
                Some(_) => "no",
                None => "–",
            };
            vec![
                pct(m.call_handling_pct),
                pct(m.service_level),
                met.to_string(),
            ]
        }),
    })
}

fn abandonment_chart(kpi: &Kpi) -> Result<Chart, ReportError> {
    Ok(Chart {
        id: "abandonment",
        title: "Abandonment rate, by month",
        svg: line_chart(
            "Abandonment rate",
            &month_labels(kpi),
            &[Series {
                name: "abandonment rate",
                values: monthly(kpi, |m| m.abandonment_rate),
                color: ORANGE,
            }],
            None,
            true,
        )?,
        header: vec!["month", "abandonment rate"],
        rows: month_rows(kpi, |m| vec![pct(m.abandonment_rate)]),
    })
}

fn speed_chart(kpi: &Kpi) -> Result<Chart, ReportError> {
    Ok(Chart {
        id: "speed",
        title: "Average speed of answer (seconds, weighted by calls handled), by month",
        svg: line_chart(
            "Average speed of answer (s)",
            &month_labels(kpi),
            &[Series {
                name: "seconds",
                values: monthly(kpi, |m| m.average_speed_of_answer),
                color: BLUE,
            }],
            None,
            false,
        )?,
        header: vec!["month", "seconds"],
        rows: month_rows(kpi, |m| vec![num(m.average_speed_of_answer)]),
    })
}

/// Calls by day of the week and by hour of the day, from the call records.
fn pattern_charts(kpi: &Kpi) -> Result<[Chart; 2], ReportError> {
    let rows = |ps: &[Pattern]| {
        ps.iter()
            .map(|p| {
                vec![
                    p.label.clone(),
                    p.calls.to_string(),
                    p.abandoned.to_string(),
                    num(p.avg_wait_seconds),
                ]
            })
            .collect()
    };
    Ok([
        Chart {
            id: "weekday",
            title: "Calls by day of the week (call records)",
            svg: bar_chart("Calls by day of the week", &kpi.day_of_week)?,
            header: vec!["day", "calls", "abandoned", "average wait (s)"],
            rows: rows(&kpi.day_of_week),
        },
        Chart {
            id: "hour",
            title: "Calls by hour of the day (call records)",
            svg: bar_chart("Calls by hour of the day", &kpi.hour_of_day)?,
            header: vec!["hour", "calls", "abandoned", "average wait (s)"],
            rows: rows(&kpi.hour_of_day),
        },
    ])
}

/// `kpi.html` as text.
pub fn render_html(kpi: &Kpi) -> Result<String, ReportError> {
    let missing = kpi
        .freshness
        .as_ref()
        .map(|f| f.missing_days.join(", "))
        .unwrap_or_default();
    let missing_count = kpi.freshness.as_ref().map_or(0, |f| f.missing_days.len());
    let view = View {
        kpi,
        target: pct(Some(kpi.service_level_target)),
        charts: charts(kpi)?,
        missing,
        missing_count,
    };
    crate::render_page(TEMPLATE, &view)
}

/// Write `kpi.html` and `kpi.json` into `dir`; returns their paths.
pub fn write(kpi: &Kpi, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    Ok(vec![
        crate::write_file(dir, "kpi.html", &render_html(kpi)?)?,
        crate::write_json(dir, "kpi.json", kpi)?,
    ])
}
