//! The platform drawn: its architecture, who may read and write each zone (evaluated from the
//! policies), and the data's lineage, as Mermaid (renders in GitHub, GitLab and most wikis)
//! or Graphviz DOT.

use dapgov_audit::access::ZoneAccess;
use dapgov_inventory::Inventory;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

impl std::str::FromStr for GraphFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mermaid" => Ok(GraphFormat::Mermaid),
            "dot" => Ok(GraphFormat::Dot),
            other => Err(format!("unknown graph format `{other}`; expected mermaid or dot")),
        }
    }
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
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{kind}_{clean}")
}

fn quoted(s: &str) -> String {
    s.replace('"', "'")
}

impl Graph {
    fn node(&mut self, kind: &str, name: &str, label: String, shape: Shape) -> String {
        let node_id = id(kind, name);
        if !self.nodes.iter().any(|n| n.id == node_id) {
            self.nodes.push(Node { id: node_id.clone(), label, shape });
        }
        node_id
    }

    fn edge(&mut self, from: &str, to: &str, label: &str, dashed: bool) {
        self.edges.push(Edge { from: from.into(), to: to.into(), label: label.into(), dashed });
    }

    fn render(&self, format: GraphFormat) -> String {
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
                    let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", e.from, quoted(&e.label), e.to);
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
                    let _ = writeln!(out, "  {} [label=\"{}\", shape={shape}];", n.id, quoted(&n.label).replace('\n', "\\n"));
                }
                for e in &self.edges {
                    let style = if e.dashed { ", style=dashed" } else { "" };
                    let _ = writeln!(out, "  {} -> {} [label=\"{}\"{style}];", e.from, e.to, quoted(&e.label));
                }
                out.push_str("}\n");
            }
        }
        out
    }
}

fn zone_label(zone: &str, bucket: &str) -> String {
    format!("{zone} zone\n{bucket}")
}

/// Buckets, keys, trail, catalog and workgroup, and what connects them.
pub fn architecture(inv: &Inventory, format: GraphFormat) -> String {
    let mut g = Graph::default();
    let mut bucket_ids = std::collections::BTreeMap::new();
    for b in inv.buckets.values() {
        let zone = b.zone.clone().unwrap_or_else(|| "bucket".into());
        bucket_ids.insert(b.name.clone(), g.node("bucket", &b.name, zone_label(&zone, &b.name), Shape::Store));
    }
    for (name, k) in &inv.keys {
        let key = g.node("key", name, format!("key {name}"), Shape::Key);
        for b in inv.buckets.values().filter(|b| b.encryption.as_ref().and_then(|e| e.kms_key.as_deref()).is_some_and(|a| Some(a) == k.arn.as_deref())) {
            g.edge(&key, &bucket_ids[&b.name], "encrypts", false);
        }
    }
    for b in inv.buckets.values() {
        if let Some(target) = b.logging.as_ref().and_then(|l| bucket_ids.get(&l.target_bucket)) {
            g.edge(&bucket_ids[&b.name], target, "access logs", true);
        }
    }
    for t in inv.trails.values() {
        let trail = g.node("trail", &t.name, format!("trail {}", t.name), Shape::Service);
        if let Some(to) = t.s3_bucket.as_ref().and_then(|b| bucket_ids.get(b)) {
            g.edge(&trail, to, "delivers logs", false);
        }
    }
    for d in inv.glue_databases.values() {
        g.node("glue", &d.name, format!("Glue catalog {}", d.name), Shape::Service);
    }
    for w in inv.athena_workgroups.values() {
        let wg = g.node("workgroup", &w.name, format!("Athena workgroup {}", w.name), Shape::Service);
        for d in inv.glue_databases.values() {
            g.edge(&wg, &id("glue", &d.name), "queries", true);
        }
        let results = w.result_location.as_deref().and_then(|l| l.strip_prefix("s3://")).and_then(|l| l.split('/').next());
        if let Some(to) = results.and_then(|b| bucket_ids.get(b)) {
            g.edge(&wg, to, "writes results", false);
        }
    }
    g.render(format)
}

/// Which role may list, read and write which zone. An edge is drawn only where the policies
/// allow it.
pub fn access(edges: &[ZoneAccess], format: GraphFormat) -> String {
    let mut g = Graph::default();
    for a in edges {
        let role = g.node("role", &a.role, format!("{} role", a.role), Shape::Role);
        let zone = g.node("bucket", &a.bucket, zone_label(&a.zone, &a.bucket), Shape::Store);
        let rights: Vec<&str> = [(a.list, "list"), (a.read, "read"), (a.write, "write")].into_iter().filter(|(may, _)| *may).map(|(_, r)| r).collect();
        if !rights.is_empty() {
            g.edge(&role, &zone, &rights.join(", "), !a.read && !a.write);
        }
    }
    g.render(format)
}

/// landing → raw → curated per dataset (quarantine beside raw), and the trusted tables each
/// dataset feeds.
pub fn lineage(datasets: &[String], trusted: &[(String, Vec<String>)], format: GraphFormat) -> String {
    let mut g = Graph::default();
    for d in datasets {
        // A dataset's own zones: every data zone but trusted, which the trusted tables fill.
        let zones = &dapgov_inventory::names::DATA_ZONES[..3];
        let stages: Vec<String> = zones.iter().map(|z| g.node(z, d, format!("{z}.{d}"), if *z == zones[0] { Shape::Store } else { Shape::Table })).collect();
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
        ZoneAccess { role: role.into(), zone: zone.into(), bucket: format!("p-{zone}-1"), list, read, write }
    }

    #[test]
    fn only_allowed_access_is_drawn() {
        let rows = [access_row("analyst", "raw", false, false, false), access_row("analyst", "curated", true, true, false), access_row("etl", "raw", true, true, true)];
        let m = access(&rows, GraphFormat::Mermaid);
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(m.contains("role_analyst -->|\"list, read\"| bucket_p_curated_1"), "{m}");
        assert!(m.contains("role_etl -->|\"list, read, write\"| bucket_p_raw_1"), "{m}");
        assert!(!m.contains("role_analyst -->|\"list, read\"| bucket_p_raw_1") && !m.lines().any(|l| l.contains("role_analyst") && l.contains("bucket_p_raw_1")), "{m}");
        let d = access(&rows, GraphFormat::Dot);
        assert!(d.starts_with("digraph dapgov {") && d.contains("role_etl -> bucket_p_raw_1 [label=\"list, read, write\"];") && d.trim_end().ends_with('}'), "{d}");
        // One statement per line in both languages: a label's line break is written as the
        // language writes it.
        assert!(m.contains("[(\"raw zone<br/>p-raw-1\")]") && d.contains("label=\"raw zone\\np-raw-1\""), "{m}\n{d}");
    }

    #[test]
    fn lineage_follows_each_dataset_to_the_trusted_tables_it_feeds() {
        let m = lineage(&["calls".into(), "metrics".into()], &[("daily_consolidated".into(), vec!["metrics".into(), "calls".into()])], GraphFormat::Mermaid);
        for edge in ["landing_calls -->", "raw_calls -.->|\"rejected rows\"| quarantine_calls", "curated_calls -->|\"gates passed\"| trusted_daily_consolidated", "curated_metrics -->|\"gates passed\"| trusted_daily_consolidated"] {
            assert!(m.contains(edge), "{edge}\n{m}");
        }
    }
}
