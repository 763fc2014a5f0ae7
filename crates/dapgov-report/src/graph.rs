//! The platform drawn: its architecture, who may read and write each zone (evaluated from the
//! policies), and the data's lineage, as Mermaid (renders in GitHub, GitLab and most wikis),
//! Graphviz DOT, a diagrams.net (draw.io) file, or SVG laid out by Graphviz's `dot`.

use dapgov_audit::access::ZoneAccess;
use dapgov_inventory::Inventory;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    /// A diagrams.net file (`.drawio`), the tool the City drew its architecture in.
    Drawio,
    /// SVG, laid out by Graphviz's `dot` (which must be installed).
    Svg,
}

impl std::str::FromStr for GraphFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mermaid" => Ok(GraphFormat::Mermaid),
            "dot" => Ok(GraphFormat::Dot),
            "drawio" => Ok(GraphFormat::Drawio),
            "svg" => Ok(GraphFormat::Svg),
            other => Err(format!(
                "unknown graph format `{other}`; expected mermaid, dot, drawio or svg"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(
        "SVG is drawn by Graphviz's `dot`, which is not installed ({0}): install Graphviz \
         (`apt-get install graphviz`, `brew install graphviz`) or write `--format dot` and render it elsewhere"
    )]
    NoGraphviz(String),
    #[error("Graphviz's `dot` failed: {0}")]
    Graphviz(String),
}

/// SVG from DOT source, by Graphviz's `dot -Tsvg`.
fn svg(dot: &str) -> Result<String, GraphError> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| GraphError::NoGraphviz(e.to_string()))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(dot.as_bytes())
        .map_err(|e| GraphError::Graphviz(e.to_string()))?;
    let out = child
        .wait_with_output()
        .map_err(|e| GraphError::Graphviz(e.to_string()))?;
    if !out.status.success() {
        return Err(GraphError::Graphviz(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| GraphError::Graphviz(e.to_string()))
}

fn xml_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Store,
    Key,
    Role,
    Service,
    Table,
}

struct Node {
    id: String,
    label: String,
    shape: Shape,
}

struct Edge {
    from: String,
    to: String,
    label: String,
    dashed: bool,
}

/// Nodes and labelled edges, drawn left to right.
#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

/// An identifier both languages accept for any name.
fn id(kind: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{kind}_{clean}")
}

fn quoted(s: &str) -> String {
    s.replace('"', "'")
}

impl Graph {
    fn node(&mut self, kind: &str, name: &str, label: String, shape: Shape) -> String {
        let node_id = id(kind, name);
        if !self.nodes.iter().any(|n| n.id == node_id) {
            self.nodes.push(Node {
                id: node_id.clone(),
                label,
                shape,
            });
        }
        node_id
    }

    fn edge(&mut self, from: &str, to: &str, label: &str, dashed: bool) {
        self.edges.push(Edge {
            from: from.into(),
            to: to.into(),
            label: label.into(),
            dashed,
        });
    }

    /// Columns by longest path from a source (so edges run left to right), rows in order.
    fn layout(&self) -> Vec<(usize, usize)> {
        let index = |id: &str| self.nodes.iter().position(|n| n.id == id);
        let mut rank = vec![0usize; self.nodes.len()];
        // Longest paths settle within one pass per node; a cycle cannot push ranks past that.
        for _ in 0..self.nodes.len() {
            let mut changed = false;
            for e in &self.edges {
                if let (Some(f), Some(t)) = (index(&e.from), index(&e.to))
                    && rank[t] < rank[f] + 1
                    && rank[f] + 1 < self.nodes.len()
                {
                    rank[t] = rank[f] + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut rows = std::collections::BTreeMap::<usize, usize>::new();
        rank.iter()
            .map(|r| {
                let row = rows.entry(*r).or_default();
                *row += 1;
                (*r, *row - 1)
            })
            .collect()
    }

    fn drawio(&self) -> String {
        let mut out = String::from(
            "<mxfile host=\"dapgov\">\n  <diagram id=\"dapgov\" name=\"dapgov\">\n    <mxGraphModel dx=\"1200\" dy=\"800\" grid=\"1\" gridSize=\"10\" page=\"0\">\n      <root>\n        <mxCell id=\"0\"/>\n        <mxCell id=\"1\" parent=\"0\"/>\n",
        );
        for (n, (col, row)) in self.nodes.iter().zip(self.layout()) {
            let style = match n.shape {
                Shape::Store => {
                    "shape=cylinder3;whiteSpace=wrap;html=1;boundedLbl=1;size=10;fillColor=#dae8fc;strokeColor=#6c8ebf;"
                }
                Shape::Key => {
                    "shape=hexagon;perimeter=hexagonPerimeter2;whiteSpace=wrap;html=1;size=0.2;fillColor=#fff2cc;strokeColor=#d6b656;"
                }
                Shape::Role => {
                    "ellipse;whiteSpace=wrap;html=1;fillColor=#d5e8d4;strokeColor=#82b366;"
                }
                Shape::Service => {
                    "rounded=1;whiteSpace=wrap;html=1;fillColor=#f5f5f5;strokeColor=#666666;"
                }
                Shape::Table => {
                    "shape=parallelogram;perimeter=parallelogramPerimeter;whiteSpace=wrap;html=1;size=0.1;fillColor=#e1d5e7;strokeColor=#9673a6;"
                }
            };
            let label = xml_escaped(&n.label).replace('\n', "&lt;br&gt;");
            let _ = writeln!(
                out,
                "        <mxCell id=\"{}\" value=\"{label}\" style=\"{style}\" vertex=\"1\" parent=\"1\">\n          <mxGeometry x=\"{}\" y=\"{}\" width=\"180\" height=\"70\" as=\"geometry\"/>\n        </mxCell>",
                n.id,
                40 + col * 260,
                40 + row * 110
            );
        }
        for (i, e) in self.edges.iter().enumerate() {
            let dashed = if e.dashed { "dashed=1;" } else { "" };
            let _ = writeln!(
                out,
                "        <mxCell id=\"edge_{i}\" value=\"{}\" style=\"edgeStyle=orthogonalEdgeStyle;rounded=1;html=1;{dashed}\" edge=\"1\" parent=\"1\" source=\"{}\" target=\"{}\">\n          <mxGeometry relative=\"1\" as=\"geometry\"/>\n        </mxCell>",
                xml_escaped(&e.label),
                e.from,
                e.to
            );
        }
        out.push_str("      </root>\n    </mxGraphModel>\n  </diagram>\n</mxfile>\n");
        out
    }

    fn render(&self, format: GraphFormat) -> Result<String, GraphError> {
        match format {
            GraphFormat::Drawio => Ok(self.drawio()),
            GraphFormat::Svg => svg(&self.text(GraphFormat::Dot)),
            text => Ok(self.text(text)),
        }
    }

    fn text(&self, format: GraphFormat) -> String {
        let mut out = String::new();
        match format {
            GraphFormat::Mermaid => {
                out.push_str("flowchart LR\n");
                for n in &self.nodes {
                    let label = quoted(&n.label).replace('\n', "<br/>");
                    let _ = match n.shape {
                        Shape::Store => writeln!(out, "  {}[(\"{label}\")]", n.id),
                        Shape::Key => writeln!(out, "  {}{{{{\"{label}\"}}}}", n.id),
                        Shape::Role => writeln!(out, "  {}([\"{label}\"])", n.id),
                        Shape::Service => writeln!(out, "  {}[\"{label}\"]", n.id),
                        Shape::Table => writeln!(out, "  {}[/\"{label}\"/]", n.id),
                    };
                }
                for e in &self.edges {
                    let arrow = if e.dashed { "-.->" } else { "-->" };
                    let _ = writeln!(
                        out,
                        "  {} {arrow}|\"{}\"| {}",
                        e.from,
                        quoted(&e.label),
                        e.to
                    );
                }
            }
            GraphFormat::Dot => {
                out.push_str("digraph dapgov {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n");
                for n in &self.nodes {
                    let shape = match n.shape {
                        Shape::Store => "cylinder",
                        Shape::Key => "hexagon",
                        Shape::Role => "ellipse",
                        Shape::Service => "box",
                        Shape::Table => "parallelogram",
                    };
                    let _ = writeln!(
                        out,
                        "  {} [label=\"{}\", shape={shape}];",
                        n.id,
                        quoted(&n.label).replace('\n', "\\n")
                    );
                }
                for e in &self.edges {
                    let style = if e.dashed { ", style=dashed" } else { "" };
                    let _ = writeln!(
                        out,
                        "  {} -> {} [label=\"{}\"{style}];",
                        e.from,
                        e.to,
                        quoted(&e.label)
                    );
                }
                out.push_str("}\n");
            }
            GraphFormat::Drawio | GraphFormat::Svg => unreachable!("drawn by render"),
        }
        out
    }
}

fn zone_label(zone: &str, bucket: &str) -> String {
    format!("{zone} zone\n{bucket}")
}

/// Buckets, keys, trail, catalog and workgroup, and what connects them.
pub fn architecture(inv: &Inventory, format: GraphFormat) -> Result<String, GraphError> {
    let mut g = Graph::default();
    let mut bucket_ids = std::collections::BTreeMap::new();
    for b in inv.buckets.values() {
        let zone = b.zone.clone().unwrap_or_else(|| "bucket".into());
        bucket_ids.insert(
            b.name.clone(),
            g.node("bucket", &b.name, zone_label(&zone, &b.name), Shape::Store),
        );
    }
    for (name, k) in &inv.keys {
        let key = g.node("key", name, format!("key {name}"), Shape::Key);
        for b in inv.buckets.values().filter(|b| {
            b.encryption
                .as_ref()
                .and_then(|e| e.kms_key.as_deref())
                .is_some_and(|a| Some(a) == k.arn.as_deref())
        }) {
            g.edge(&key, &bucket_ids[&b.name], "encrypts", false);
        }
    }
    for b in inv.buckets.values() {
        if let Some(target) = b
            .logging
            .as_ref()
            .and_then(|l| bucket_ids.get(&l.target_bucket))
        {
            g.edge(&bucket_ids[&b.name], target, "access logs", true);
        }
    }
    for t in inv.trails.values() {
        let trail = g.node(
            "trail",
            &t.name,
            format!("trail {}", t.name),
            Shape::Service,
        );
        if let Some(to) = t.s3_bucket.as_ref().and_then(|b| bucket_ids.get(b)) {
            g.edge(&trail, to, "delivers logs", false);
        }
    }
    for d in inv.glue_databases.values() {
        g.node(
            "glue",
            &d.name,
            format!("Glue catalog {}", d.name),
            Shape::Service,
        );
    }
    for w in inv.athena_workgroups.values() {
        let wg = g.node(
            "workgroup",
            &w.name,
            format!("Athena workgroup {}", w.name),
            Shape::Service,
        );
        for d in inv.glue_databases.values() {
            g.edge(&wg, &id("glue", &d.name), "queries", true);
        }
        let results = w
            .result_location
            .as_deref()
            .and_then(|l| l.strip_prefix("s3://"))
            .and_then(|l| l.split('/').next());
        if let Some(to) = results.and_then(|b| bucket_ids.get(b)) {
            g.edge(&wg, to, "writes results", false);
        }
    }
    g.render(format)
}

/// Which role may list, read and write which zone. An edge is drawn only where the policies
/// allow it.
pub fn access(edges: &[ZoneAccess], format: GraphFormat) -> Result<String, GraphError> {
    let mut g = Graph::default();
    for a in edges {
        let role = g.node("role", &a.role, format!("{} role", a.role), Shape::Role);
        let zone = g.node(
            "bucket",
            &a.bucket,
            zone_label(&a.zone, &a.bucket),
            Shape::Store,
        );
        let rights: Vec<&str> = [(a.list, "list"), (a.read, "read"), (a.write, "write")]
            .into_iter()
            .filter(|(may, _)| *may)
            .map(|(_, r)| r)
            .collect();
        if !rights.is_empty() {
            g.edge(&role, &zone, &rights.join(", "), !a.read && !a.write);
        }
    }
    g.render(format)
}

/// landing → raw → curated per dataset (quarantine beside raw), and the trusted tables each
/// dataset feeds.
pub fn lineage(
    datasets: &[String],
    trusted: &[(String, Vec<String>)],
    format: GraphFormat,
) -> Result<String, GraphError> {
    let mut g = Graph::default();
    for d in datasets {
        // A dataset's own zones: every data zone but trusted, which the trusted tables fill.
        let zones = &dapgov_inventory::names::DATA_ZONES[..3];
        let stages: Vec<String> = zones
            .iter()
            .map(|z| {
                g.node(
                    z,
                    d,
                    format!("{z}.{d}"),
                    if *z == zones[0] {
                        Shape::Store
                    } else {
                        Shape::Table
                    },
                )
            })
            .collect();
        g.edge(&stages[0], &stages[1], "typed, lineage", false);
        g.edge(&stages[1], &stages[2], "rules, PII protected", false);
        let q = g.node("quarantine", d, format!("quarantine.{d}"), Shape::Table);
        g.edge(&stages[1], &q, "rejected rows", true);
    }
    for (name, inputs) in trusted {
        let t = g.node("trusted", name, format!("trusted.{name}"), Shape::Table);
        for i in inputs {
            g.edge(&id("curated", i), &t, "gates passed", false);
        }
    }
    g.render(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access_row(role: &str, zone: &str, list: bool, read: bool, write: bool) -> ZoneAccess {
        ZoneAccess {
            role: role.into(),
            zone: zone.into(),
            bucket: format!("p-{zone}-1"),
            list,
            read,
            write,
        }
    }

    #[test]
    fn only_allowed_access_is_drawn() {
        let rows = [
            access_row("analyst", "raw", false, false, false),
            access_row("analyst", "curated", true, true, false),
            access_row("etl", "raw", true, true, true),
        ];
        let m = access(&rows, GraphFormat::Mermaid).unwrap();
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(
            m.contains("role_analyst -->|\"list, read\"| bucket_p_curated_1"),
            "{m}"
        );
        assert!(
            m.contains("role_etl -->|\"list, read, write\"| bucket_p_raw_1"),
            "{m}"
        );
        assert!(
            !m.contains("role_analyst -->|\"list, read\"| bucket_p_raw_1")
                && !m
                    .lines()
                    .any(|l| l.contains("role_analyst") && l.contains("bucket_p_raw_1")),
            "{m}"
        );
        let d = access(&rows, GraphFormat::Dot).unwrap();
        assert!(
            d.starts_with("digraph dapgov {")
                && d.contains("role_etl -> bucket_p_raw_1 [label=\"list, read, write\"];")
                && d.trim_end().ends_with('}'),
            "{d}"
        );
        // One statement per line in both languages: a label's line break is written as the
        // language writes it.
        assert!(
            m.contains("[(\"raw zone<br/>p-raw-1\")]")
                && d.contains("label=\"raw zone\\np-raw-1\""),
            "{m}\n{d}"
        );
    }

    #[test]
    fn lineage_follows_each_dataset_to_the_trusted_tables_it_feeds() {
        let m = lineage(
            &["calls".into(), "metrics".into()],
            &[(
                "daily_consolidated".into(),
                vec!["metrics".into(), "calls".into()],
            )],
            GraphFormat::Mermaid,
        )
        .unwrap();
        for edge in [
            "landing_calls -->",
            "raw_calls -.->|\"rejected rows\"| quarantine_calls",
            "curated_calls -->|\"gates passed\"| trusted_daily_consolidated",
            "curated_metrics -->|\"gates passed\"| trusted_daily_consolidated",
        ] {
            assert!(m.contains(edge), "{edge}\n{m}");
        }
    }

    #[test]
    fn drawio_is_a_diagrams_net_file_with_every_node_and_edge() {
        let rows = [
            access_row("analyst", "curated", true, true, false),
            access_row("etl", "raw", true, true, true),
        ];
        let x = access(&rows, GraphFormat::Drawio).unwrap();
        assert!(
            x.starts_with("<mxfile") && x.trim_end().ends_with("</mxfile>"),
            "{x}"
        );
        assert_eq!(x.matches("vertex=\"1\"").count(), 4);
        assert_eq!(x.matches("edge=\"1\"").count(), 2);
        assert!(
            x.contains("source=\"role_etl\" target=\"bucket_p_raw_1\"")
                && x.contains("value=\"raw zone&lt;br&gt;p-raw-1\""),
            "{x}"
        );
        // Roles sit left of the zones they reach.
        let x_of = |id: &str| -> usize {
            let at = x.find(&format!("id=\"{id}\"")).unwrap();
            let g = &x[at..];
            g[g.find("<mxGeometry x=\"").unwrap() + 15..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(x_of("role_etl") < x_of("bucket_p_raw_1"));
    }
}
