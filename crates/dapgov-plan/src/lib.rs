//! Desired × Inventory → Plan, and its renderings (`+ ~ -/+ -` text, JSON).
//! Pure: no IO. Drift is measured only on the properties the desired resource declares.

use dapgov_inventory::{Inventory, Ownership, ResourceKind, ResourceRef, ownership};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a change does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeAction {
    Create,
    Update,
    Replace,
    Delete,
}

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
    /// Keys, by alias, whose ARN the change needs but that are not created yet: it waits for
    /// the round of apply after theirs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_on: Vec<String>,
}

/// The aliases of the pending keys a desired value refers to.
fn pending_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(alias) = dapgov_inventory::names::pending_key_alias(s)
                && !out.iter().any(|a| a == alias)
            {
                out.push(alias.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| pending_keys(i, out)),
        Value::Object(m) => m.values().for_each(|i| pending_keys(i, out)),
        _ => {}
    }
}

fn waits_on(after: &Value) -> Vec<String> {
    let mut out = vec![];
    pending_keys(after, &mut out);
    out
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Resources named like the project's that dapgov did not make (no `managed-by = dapgov`
    /// and `project` tags): listed so nobody wonders, never changed or deleted.
    pub left_alone: Vec<String>,
    /// Resources the spec wants whose name is taken by one the platform does not own: nothing
    /// is planned for them, and apply refuses until they are renamed, removed or adopted.
    pub conflicts: Vec<String>,
}

/// A titled list of addresses and a blank line, or nothing when there are none.
fn address_list(title: &str, addresses: &[String]) -> String {
    if addresses.is_empty() {
        return String::new();
    }
    let mut out = format!("{title}:\n");
    for a in addresses {
        out.push_str(&format!("  {a}\n"));
    }
    out.push('\n');
    out
}

/// Properties whose change cannot be made in place.
fn forces_replacement(kind: ResourceKind, path: &str) -> bool {
    matches!(
        (kind, path),
        (ResourceKind::Bucket, "region")
            | (ResourceKind::Bucket, "object_lock.enabled")
            | (ResourceKind::Alarm, "region")
    )
}

/// Properties that tell apply how to make a resource rather than describe it (the local file
/// a function's package is uploaded from): never read back, so never drift.
fn apply_instruction(kind: ResourceKind, path: &str) -> bool {
    kind == ResourceKind::Function && (path == "package" || path.starts_with("package."))
}

/// Deletes of the observed resources that `keep` does not want, dependents first, and the
/// look-alikes left alone.
fn deletes(
    project: &str,
    observed: &Inventory,
    keep: impl Fn(&str) -> bool,
) -> (Vec<Change>, Vec<String>) {
    let mut changes = vec![];
    let mut left_alone = vec![];
    for (r, have) in observed.resources() {
        match ownership(project, &r, &have) {
            Ownership::Managed if !keep(&r.to_string()) => changes.push(Change {
                address: r.to_string(),
                resource: r,
                action: ChangeAction::Delete,
                before: Some(have),
                after: None,
                properties: vec![],
                waits_on: vec![],
            }),
            Ownership::LookAlike if !keep(&r.to_string()) => left_alone.push(r.to_string()),
            _ => {}
        }
    }
    changes.reverse();
    // What the target already set aside when it read the platform.
    left_alone.extend(observed.not_managed.iter().filter(|a| !keep(a)).cloned());
    left_alone.sort();
    left_alone.dedup();
    (changes, left_alone)
}

/// Properties that are whole collections: an entry dapgov did not declare is drift (an
/// attached admin policy, an extra inline policy), not an undeclared property to ignore.
const EXACT_MAPS: [&str; 4] = [
    "inline_policies",
    "attached_policies",
    "metric_filters",
    "permissions",
];

/// Compare declared properties; returns the differing leaves.
fn diff(path: &str, desired: &Value, observed: Option<&Value>, out: &mut Vec<PropertyChange>) {
    match (desired, observed) {
        (Value::Object(d), Some(Value::Object(o))) => {
            for (k, dv) in d {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(&p, dv, o.get(k), out);
            }
            if EXACT_MAPS.contains(&path) {
                for (k, ov) in o.iter().filter(|(k, _)| !d.contains_key(*k)) {
                    out.push(PropertyChange {
                        path: format!("{path}.{k}"),
                        before: ov.clone(),
                        after: Value::Null,
                    });
                }
            }
        }
        (d, o) => {
            if o != Some(d) && !(d.is_null() && o.is_none()) {
                out.push(PropertyChange {
                    path: path.to_string(),
                    before: o.cloned().unwrap_or(Value::Null),
                    after: d.clone(),
                });
            }
        }
    }
}

/// Plan the changes that make `observed` match `desired`.
pub fn plan(desired: &Inventory, observed: &Inventory) -> Plan {
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    for (r, want) in desired.resources() {
        let address = r.to_string();
        let have = observed.get(&r);
        let taken = observed.not_managed.contains(&address)
            || have.as_ref().is_some_and(|have| {
                r.kind != ResourceKind::AccountSettings
                    && ownership(&desired.project, &r, have) != Ownership::Managed
            });
        if taken {
            conflicts.push(address);
            continue;
        }
        match have {
            None => changes.push(Change {
                address,
                resource: r,
                action: ChangeAction::Create,
                before: None,
                waits_on: waits_on(&want),
                after: Some(want),
                properties: vec![],
            }),
            Some(have) => {
                let mut props = Vec::new();
                diff("", &want, Some(&have), &mut props);
                // What the target could not read is not drift.
                props.retain(|p| {
                    observed.is_readable(&address, p.path.split('.').next().unwrap_or_default())
                        && !apply_instruction(r.kind, &p.path)
                });
                if props.is_empty() {
                    continue;
                }
                let action = if props.iter().any(|p| forces_replacement(r.kind, &p.path)) {
                    ChangeAction::Replace
                } else {
                    ChangeAction::Update
                };
                changes.push(Change {
                    address,
                    resource: r,
                    action,
                    before: Some(have),
                    waits_on: waits_on(&want),
                    after: Some(want),
                    properties: props,
                });
            }
        }
    }
    let wanted: std::collections::BTreeSet<String> = desired
        .resources()
        .into_iter()
        .map(|(r, _)| r.to_string())
        .collect();
    let (removed, left_alone) = deletes(&desired.project, observed, |a| wanted.contains(a));
    changes.extend(removed);
    Plan {
        changes,
        left_alone,
        conflicts,
    }
}

/// Plan removing everything dapgov made for the project, dependents first.
pub fn destroy_plan(observed: &Inventory) -> Plan {
    let (changes, left_alone) = deletes(&observed.project, observed, |_| false);
    Plan {
        changes,
        left_alone,
        conflicts: vec![],
    }
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
        let mut json = serde_json::json!({"format_version": "1.0", "resource_changes": changes, "left_alone": self.left_alone, "summary": self.summary()});
        if !self.conflicts.is_empty() {
            json["conflicts"] = serde_json::json!(self.conflicts);
        }
        json
    }

    /// The resources the spec wants whose names another owner holds, or nothing.
    pub fn render_conflicts(&self) -> String {
        address_list(
            "Cannot be made: the name is taken by a resource dapgov does not manage for this platform (rename or remove it, or tag it managed-by = dapgov and project = <name> to adopt it)",
            &self.conflicts,
        )
    }

    /// The look-alikes, once each, or nothing.
    pub fn render_left_alone(&self) -> String {
        address_list(
            "Not managed by dapgov, left alone (named like the platform's resources, without its managed-by and project tags)",
            &self.left_alone,
        )
    }

    /// Terraform-style text.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = self.render_left_alone();
        out.push_str(&self.render_conflicts());
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
            let _ = writeln!(
                out,
                "  {sym} {} \"{}\"",
                c.resource.kind.as_str(),
                c.resource.name
            );
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
                        let mark = if forces_replacement(c.resource.kind, &p.path) {
                            "  # forces replacement"
                        } else {
                            ""
                        };
                        let _ = writeln!(
                            out,
                            "      ~ {}: {} -> {}{mark}",
                            p.path,
                            short(&p.before),
                            short(&p.after)
                        );
                    }
                }
                ChangeAction::Delete => {}
            }
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "\nPlan: {} to add, {} to change, {} to destroy.",
            s.add, s.change, s.destroy
        );
        out
    }
}

/// One-line JSON, shortened for reading.
fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    if s.chars().count() > 96 {
        format!("{}…", s.chars().take(95).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapgov_inventory::*;
    use std::collections::BTreeMap;

    fn dapgov_tags() -> Tags {
        Tags::from([
            ("managed-by".to_string(), "dapgov".to_string()),
            ("project".to_string(), "p".to_string()),
        ])
    }

    fn bucket(versioning: Versioning) -> Bucket {
        Bucket {
            name: "p-raw-1".into(),
            versioning: Some(versioning),
            public_access_block: Some(PublicAccessBlock::all_on()),
            tags: Some(dapgov_tags()),
            ..Default::default()
        }
    }

    fn inv(b: Option<Bucket>) -> Inventory {
        let mut i = Inventory {
            project: "p".into(),
            ..Default::default()
        };
        if let Some(b) = b {
            i.buckets.insert(b.name.clone(), b);
        }
        i
    }

    #[test]
    fn missing_resource_is_created_and_matching_one_is_left_alone() {
        let d = inv(Some(bucket(Versioning::Enabled)));
        let p = plan(&d, &inv(None));
        assert_eq!(
            p.summary(),
            Summary {
                add: 1,
                change: 0,
                destroy: 0
            }
        );
        assert!(plan(&d, &d).is_empty());
    }

    #[test]
    fn drift_reports_only_declared_properties() {
        let d = inv(Some(bucket(Versioning::Enabled)));
        let mut observed = bucket(Versioning::Suspended);
        observed.arn = Some("arn:aws:s3:::p-raw-1".into()); // observed-only property: not drift
        observed.public_access_block = None;
        let p = plan(&d, &inv(Some(observed)));
        let paths: Vec<_> = p.changes[0]
            .properties
            .iter()
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(paths, vec!["versioning", "public_access_block"]);
        assert_eq!(p.changes[0].action, ChangeAction::Update);
        insta::assert_snapshot!(p.render());
    }

    #[test]
    fn a_policy_attached_behind_dapgovs_back_is_drift() {
        let role = |attached: BTreeMap<String, serde_json::Value>| {
            let mut i = inv(None);
            i.roles.insert(
                "p-etl".into(),
                Role {
                    name: "p-etl".into(),
                    attached_policies: Some(attached),
                    tags: Some(Tags::new()),
                    ..Default::default()
                },
            );
            i
        };
        let d = role(BTreeMap::new());
        let mut o = role(BTreeMap::from([(
            "arn:aws:iam::aws:policy/AdministratorAccess".to_string(),
            serde_json::json!({}),
        )]));
        // An extra tag is not drift: tags are not an exact collection.
        let mut tags = dapgov_tags();
        tags.insert("cost-centre".to_string(), "311".to_string());
        o.roles.get_mut("p-etl").unwrap().tags = Some(tags);
        let p = plan(&d, &o);
        let paths: Vec<_> = p.changes[0]
            .properties
            .iter()
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(
            paths,
            vec!["attached_policies.arn:aws:iam::aws:policy/AdministratorAccess"]
        );
        assert_eq!(p.changes[0].properties[0].after, serde_json::Value::Null);
    }

    #[test]
    fn undeclared_managed_resources_are_deleted_and_foreign_ones_kept() {
        let mut observed = inv(Some(bucket(Versioning::Enabled)));
        observed.buckets.insert(
            "someone-elses".into(),
            Bucket {
                name: "someone-elses".into(),
                ..Default::default()
            },
        );
        let p = plan(&inv(None), &observed);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(
            (p.changes[0].action, p.changes[0].address.as_str()),
            (ChangeAction::Delete, "bucket.p-raw-1")
        );
        assert_eq!(
            p.to_json()["resource_changes"][0]["change"]["actions"],
            serde_json::json!(["delete"])
        );
    }

    /// Named like the project's, but not made by dapgov: listed, never deleted, by plan or destroy.
    #[test]
    fn look_alikes_without_dapgovs_tags_are_left_alone() {
        let mut observed = inv(Some(bucket(Versioning::Enabled)));
        observed.buckets.insert(
            "p-other-team-data".into(),
            Bucket {
                name: "p-other-team-data".into(),
                tags: Some(Tags::new()),
                ..Default::default()
            },
        );
        observed.roles.insert(
            "p-backup".into(),
            Role {
                name: "p-backup".into(),
                ..Default::default()
            },
        );
        let other_project = Tags::from([
            ("managed-by".to_string(), "dapgov".to_string()),
            ("project".to_string(), "p-two".to_string()),
        ]);
        observed.roles.insert(
            "p-two-etl".into(),
            Role {
                name: "p-two-etl".into(),
                tags: Some(other_project),
                ..Default::default()
            },
        );
        for p in [plan(&inv(None), &observed), destroy_plan(&observed)] {
            let deleted: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
            assert_eq!(deleted, vec!["bucket.p-raw-1"]);
            // Platform p-two's role is another platform's, not a look-alike: not listed.
            assert_eq!(
                p.left_alone,
                vec!["bucket.p-other-team-data", "role.p-backup"]
            );
            assert!(
                p.render().starts_with("Not managed by dapgov, left alone"),
                "{}",
                p.render()
            );
            assert_eq!(p.to_json()["left_alone"][1], "role.p-backup");
        }
        // Kinds without tags are recognised by name.
        observed.glue_databases.insert(
            "p_catalog".into(),
            GlueDatabase {
                name: "p_catalog".into(),
                ..Default::default()
            },
        );
        assert!(
            destroy_plan(&observed)
                .changes
                .iter()
                .any(|c| c.address == "glue_database.p_catalog")
        );
    }

    /// A name the spec wants, taken by someone else's resource: nothing is planned for it
    /// (an update would take the resource over), and the plan names it as a conflict.
    #[test]
    fn a_wanted_name_held_by_a_look_alike_is_a_conflict_not_an_update() {
        let d = inv(Some(bucket(Versioning::Enabled)));
        let mut theirs = bucket(Versioning::Suspended);
        theirs.tags = Some(Tags::from([("team".to_string(), "web".to_string())]));
        let p = plan(&d, &inv(Some(theirs)));
        assert!(p.changes.is_empty(), "{:?}", p.changes);
        assert_eq!(p.conflicts, vec!["bucket.p-raw-1"]);
        assert!(p.render().contains("Cannot be made"), "{}", p.render());
        assert_eq!(p.to_json()["conflicts"][0], "bucket.p-raw-1");
        // As a target reports it after setting the look-alike aside.
        let mut observed = inv(None);
        observed.not_managed.insert("bucket.p-raw-1".into());
        assert_eq!(plan(&d, &observed).conflicts, vec!["bucket.p-raw-1"]);
        assert!(plan(&d, &inv(None)).to_json().get("conflicts").is_none());
    }

    #[test]
    fn region_change_forces_replacement() {
        let mut d = bucket(Versioning::Enabled);
        d.region = Some("ca-central-1".into());
        let mut o = d.clone();
        o.region = Some("us-west-2".into());
        let p = plan(&inv(Some(d)), &inv(Some(o)));
        assert_eq!(p.changes[0].action, ChangeAction::Replace);
        assert_eq!(
            p.summary(),
            Summary {
                add: 1,
                change: 0,
                destroy: 1
            }
        );
    }
}
