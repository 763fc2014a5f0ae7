//! Desired × Inventory → Plan, and its renderings (`+ ~ -/+ -` text, JSON).
//! Pure: no IO. Drift is measured only on the properties the desired resource declares.

use dapgov_inventory::target::ChangeAction;
use dapgov_inventory::{Inventory, ResourceKind, ResourceRef};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyChange {
    /// JSON path of the property, e.g. `public_access_block.block_public_acls`.
    pub path: String,
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub address: String,
    #[serde(skip)]
    pub resource: ResourceRef,
    pub action: ChangeAction,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub properties: Vec<PropertyChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
}

/// Properties whose change cannot be made in place.
fn forces_replacement(kind: ResourceKind, path: &str) -> bool {
    matches!((kind, path), (ResourceKind::Bucket, "region") | (ResourceKind::Bucket, "object_lock.enabled") | (ResourceKind::Alarm, "region"))
}

/// Is an observed resource one dapgov made for this project?
pub fn is_managed(project: &str, r: &ResourceRef) -> bool {
    if r.kind == ResourceKind::AccountSettings {
        return false;
    }
    let n = &r.name;
    n.starts_with(&format!("{project}-")) || n.starts_with(&format!("{}_", project.replace('-', "_"))) || n.starts_with(&format!("/dapgov/{project}/"))
}

/// Properties that are whole collections: an entry dapgov did not declare is drift (an
/// attached admin policy, an extra inline policy), not an undeclared property to ignore.
const EXACT_MAPS: [&str; 3] = ["inline_policies", "attached_policies", "metric_filters"];

/// Compare declared properties; returns the differing leaves.
fn diff(path: &str, desired: &Value, observed: Option<&Value>, out: &mut Vec<PropertyChange>) {
    match (desired, observed) {
        (Value::Object(d), Some(Value::Object(o))) => {
            for (k, dv) in d {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff(&p, dv, o.get(k), out);
            }
            if EXACT_MAPS.contains(&path) {
                for (k, ov) in o.iter().filter(|(k, _)| !d.contains_key(*k)) {
                    out.push(PropertyChange { path: format!("{path}.{k}"), before: ov.clone(), after: Value::Null });
                }
            }
        }
        (d, o) => {
            if o != Some(d) && !(d.is_null() && o.is_none()) {
                out.push(PropertyChange { path: path.to_string(), before: o.cloned().unwrap_or(Value::Null), after: d.clone() });
            }
        }
    }
}

/// Plan the changes that make `observed` match `desired`.
pub fn plan(desired: &Inventory, observed: &Inventory) -> Plan {
    let mut changes = Vec::new();
    for (r, want) in desired.resources() {
        let address = r.to_string();
        match observed.get(&r) {
            None => changes.push(Change { address, resource: r, action: ChangeAction::Create, before: None, after: Some(want), properties: vec![] }),
            Some(have) => {
                let mut props = Vec::new();
                diff("", &want, Some(&have), &mut props);
                // What the target could not read is not drift.
                props.retain(|p| observed.is_readable(&address, p.path.split('.').next().unwrap_or_default()));
                if props.is_empty() {
                    continue;
                }
                let action = if props.iter().any(|p| forces_replacement(r.kind, &p.path)) { ChangeAction::Replace } else { ChangeAction::Update };
                changes.push(Change { address, resource: r, action, before: Some(have), after: Some(want), properties: props });
            }
        }
    }
    let wanted: std::collections::BTreeSet<String> = desired.resources().into_iter().map(|(r, _)| r.to_string()).collect();
    let mut deletes: Vec<Change> = observed
        .resources()
        .into_iter()
        .filter(|(r, _)| is_managed(&desired.project, r) && !wanted.contains(&r.to_string()))
        .map(|(r, have)| Change { address: r.to_string(), resource: r, action: ChangeAction::Delete, before: Some(have), after: None, properties: vec![] })
        .collect();
    deletes.reverse();
    changes.extend(deletes);
    Plan { changes }
}

/// Plan removing everything dapgov made for the project, dependents first.
pub fn destroy_plan(observed: &Inventory) -> Plan {
    let mut changes: Vec<Change> = observed
        .resources()
        .into_iter()
        .filter(|(r, _)| is_managed(&observed.project, r))
        .map(|(r, have)| Change { address: r.to_string(), resource: r, action: ChangeAction::Delete, before: Some(have), after: None, properties: vec![] })
        .collect();
    changes.reverse();
    Plan { changes }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                ChangeAction::Create => s.add += 1,
                ChangeAction::Update => s.change += 1,
                ChangeAction::Replace => {
                    s.add += 1;
                    s.destroy += 1
                }
                ChangeAction::Delete => s.destroy += 1,
            }
        }
        s
    }

    /// The plan as JSON, shaped like Terraform's (`format_version`, `resource_changes`).
    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|c| {
                let actions: Vec<&str> = match c.action {
                    ChangeAction::Create => vec!["create"],
                    ChangeAction::Update => vec!["update"],
                    ChangeAction::Replace => vec!["delete", "create"],
                    ChangeAction::Delete => vec!["delete"],
                };
                serde_json::json!({
                    "address": c.address,
                    "type": c.resource.kind,
                    "name": c.resource.name,
                    "change": {"actions": actions, "before": c.before, "after": c.after},
                    "drift": c.properties,
                })
            })
            .collect();
        serde_json::json!({"format_version": "1.0", "resource_changes": changes, "summary": self.summary()})
    }

    /// Terraform-style text.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.changes.is_empty() {
            out.push_str("No changes. The platform matches the spec.\n");
            return out;
        }
        out.push_str("dapgov will perform the following actions:\n");
        for c in &self.changes {
            let (sym, verb) = match c.action {
                ChangeAction::Create => ("+", "will be created"),
                ChangeAction::Update => ("~", "will be updated in-place"),
                ChangeAction::Replace => ("-/+", "must be replaced"),
                ChangeAction::Delete => ("-", "will be destroyed"),
            };
            let _ = writeln!(out, "\n  # {} {verb}", c.address);
            let _ = writeln!(out, "  {sym} {} \"{}\"", c.resource.kind.as_str(), c.resource.name);
            match c.action {
                ChangeAction::Create => {
                    if let Some(Value::Object(m)) = &c.after {
                        for (k, v) in m {
                            let _ = writeln!(out, "      + {k} = {}", short(v));
                        }
                    }
                }
                ChangeAction::Update | ChangeAction::Replace => {
                    for p in &c.properties {
                        let mark = if forces_replacement(c.resource.kind, &p.path) { "  # forces replacement" } else { "" };
                        let _ = writeln!(out, "      ~ {}: {} -> {}{mark}", p.path, short(&p.before), short(&p.after));
                    }
                }
                ChangeAction::Delete => {}
            }
        }
        let s = self.summary();
        let _ = writeln!(out, "\nPlan: {} to add, {} to change, {} to destroy.", s.add, s.change, s.destroy);
        out
    }
}

/// One-line JSON, shortened for reading.
fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    if s.chars().count() > 96 { format!("{}…", s.chars().take(95).collect::<String>()) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapgov_inventory::*;
    use std::collections::BTreeMap;

    fn bucket(versioning: Versioning) -> Bucket {
        Bucket {
            name: "p-raw-1".into(),
            versioning: Some(versioning),
            public_access_block: Some(PublicAccessBlock::all_on()),
            ..Default::default()
        }
    }

    fn inv(b: Option<Bucket>) -> Inventory {
        let mut i = Inventory { project: "p".into(), ..Default::default() };
        if let Some(b) = b {
            i.buckets.insert(b.name.clone(), b);
        }
        i
    }

    #[test]
    fn missing_resource_is_created_and_matching_one_is_left_alone() {
        let d = inv(Some(bucket(Versioning::Enabled)));
        let p = plan(&d, &inv(None));
        assert_eq!(p.summary(), Summary { add: 1, change: 0, destroy: 0 });
        assert!(plan(&d, &d).is_empty());
    }

    #[test]
    fn drift_reports_only_declared_properties() {
        let d = inv(Some(bucket(Versioning::Enabled)));
        let mut observed = bucket(Versioning::Suspended);
        observed.arn = Some("arn:aws:s3:::p-raw-1".into()); // observed-only property: not drift
        observed.public_access_block = None;
        let p = plan(&d, &inv(Some(observed)));
        let paths: Vec<_> = p.changes[0].properties.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["versioning", "public_access_block"]);
        assert_eq!(p.changes[0].action, ChangeAction::Update);
        insta::assert_snapshot!(p.render());
    }

    #[test]
    fn a_policy_attached_behind_dapgovs_back_is_drift() {
        let role = |attached: BTreeMap<String, serde_json::Value>| {
            let mut i = inv(None);
            i.roles.insert("p-etl".into(), Role { name: "p-etl".into(), attached_policies: Some(attached), tags: Some(Tags::new()), ..Default::default() });
            i
        };
        let d = role(BTreeMap::new());
        let mut o = role(BTreeMap::from([("arn:aws:iam::aws:policy/AdministratorAccess".to_string(), serde_json::json!({}))]));
        // An extra tag is not drift: tags are not an exact collection.
        o.roles.get_mut("p-etl").unwrap().tags = Some(Tags::from([("cost-centre".to_string(), "311".to_string())]));
        let p = plan(&d, &o);
        let paths: Vec<_> = p.changes[0].properties.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["attached_policies.arn:aws:iam::aws:policy/AdministratorAccess"]);
        assert_eq!(p.changes[0].properties[0].after, serde_json::Value::Null);
    }

    #[test]
    fn undeclared_managed_resources_are_deleted_and_foreign_ones_kept() {
        let mut observed = inv(Some(bucket(Versioning::Enabled)));
        observed.buckets.insert("someone-elses".into(), Bucket { name: "someone-elses".into(), ..Default::default() });
        let p = plan(&inv(None), &observed);
        assert_eq!(p.changes.len(), 1);
        assert_eq!((p.changes[0].action, p.changes[0].address.as_str()), (ChangeAction::Delete, "bucket.p-raw-1"));
        assert_eq!(p.to_json()["resource_changes"][0]["change"]["actions"], serde_json::json!(["delete"]));
    }

    #[test]
    fn region_change_forces_replacement() {
        let mut d = bucket(Versioning::Enabled);
        d.region = Some("ca-central-1".into());
        let mut o = d.clone();
        o.region = Some("us-west-2".into());
        let p = plan(&inv(Some(d)), &inv(Some(o)));
        assert_eq!(p.changes[0].action, ChangeAction::Replace);
        assert_eq!(p.summary(), Summary { add: 1, change: 0, destroy: 1 });
    }
}
