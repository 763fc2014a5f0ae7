//! Whose a resource is: one rule for every kind, applied where a target reads the Inventory,
//! so plan, apply, destroy, the ETL and the audit all see the same set of resources.
//!
//! A resource is the platform's when
//! - its kind's service carries tags, and the tags say `managed-by = dapgov` and
//!   `project = <project>` (a name prefix alone proves nothing: platform `city` must not take
//!   `city-ops-landing`);
//! - its kind carries no tags (Glue databases and security configurations, budgets,
//!   dashboards), and its name is exactly the one [`Names`] gives the platform.

use crate::names::{Names, owns};
use crate::{Inventory, MANAGED_BY, MANAGED_BY_TAG, PROJECT_TAG, ResourceKind, ResourceRef};
use serde_json::Value;

/// Whose an observed resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Made by dapgov for this platform.
    Managed,
    /// Named like the platform's resources but not made by dapgov for it: someone else's,
    /// listed so nobody wonders, never changed or deleted.
    LookAlike,
    /// Nothing to do with the platform (another platform's, or named otherwise).
    Foreign,
}

/// Whose `observed` (a resource as a target read it, as JSON) is, for platform `project`.
pub fn ownership(project: &str, r: &ResourceRef, observed: &Value) -> Ownership {
    if r.kind == ResourceKind::AccountSettings {
        return Ownership::Foreign;
    }
    let named_like = owns(project, &r.name);
    if !r.kind.carries_tags() {
        let names = Names::new(project, "", "");
        return match r.kind.platform_name(&names) {
            Some(n) if n == r.name => Ownership::Managed,
            _ if named_like => Ownership::LookAlike,
            _ => Ownership::Foreign,
        };
    }
    let tag = |k: &str| {
        observed
            .get("tags")
            .and_then(|t| t.get(k))
            .and_then(Value::as_str)
    };
    match (tag(MANAGED_BY_TAG) == Some(MANAGED_BY), tag(PROJECT_TAG)) {
        (true, Some(p)) if p == project && named_like => Ownership::Managed,
        // Another dapgov platform's resource: not this one's business at all.
        (true, Some(p)) if p != project => Ownership::Foreign,
        _ if named_like => Ownership::LookAlike,
        _ => Ownership::Foreign,
    }
}

impl Names {
    /// The zone `bucket` serves for this platform: its `zone` tag, when the bucket is the
    /// platform's own and has exactly the name the platform gives that zone. A zone tag on
    /// another platform's bucket, or on a look-alike, makes it serve nothing here.
    pub fn zone_of_bucket(&self, name: &str, bucket: &crate::Bucket) -> Option<String> {
        let zone = bucket.zone.clone()?;
        let r = ResourceRef {
            kind: ResourceKind::Bucket,
            name: name.into(),
        };
        let observed = serde_json::to_value(bucket).ok()?;
        (ownership(&self.project, &r, &observed) == Ownership::Managed
            && self.bucket(&zone) == name)
            .then_some(zone)
    }
}

impl Inventory {
    /// Keep only the platform's own resources (and the account's settings); the look-alikes'
    /// addresses go to `not_managed`. Targets call this on every Inventory they read.
    pub fn retain_owned(&mut self) {
        let project = self.project.clone();
        for (r, observed) in self.resources() {
            if r.kind == ResourceKind::AccountSettings {
                continue;
            }
            match ownership(&project, &r, &observed) {
                Ownership::Managed => {}
                Ownership::LookAlike => {
                    self.not_managed.insert(r.to_string());
                    self.remove(&r);
                }
                Ownership::Foreign => self.remove(&r),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bucket, Budget, GlueDatabase, Tags};

    fn tags(project: &str) -> Option<Tags> {
        Some(Tags::from([
            (MANAGED_BY_TAG.to_string(), MANAGED_BY.to_string()),
            (PROJECT_TAG.to_string(), project.to_string()),
            ("zone".to_string(), "landing".to_string()),
        ]))
    }

    fn bucket(name: &str, tags: Option<Tags>) -> (String, Bucket) {
        (
            name.into(),
            Bucket {
                name: name.into(),
                zone: Some("landing".into()),
                tags,
                ..Default::default()
            },
        )
    }

    /// Platforms `city` and `city-ops` side by side, and things another team made with a zone
    /// tag or a prefix: `city` keeps exactly its own.
    #[test]
    fn a_platform_keeps_only_its_own_resources_whatever_the_names_share() {
        let mut inv = Inventory {
            project: "city".into(),
            ..Default::default()
        };
        inv.buckets.extend([
            bucket("city-landing-1", tags("city")),
            bucket("city-ops-landing-1", tags("city-ops")),
            bucket("city-lookalike-1", None),
            bucket("city-copied-tags-1", tags("city-ops")),
            bucket("elsewhere-1", tags("elsewhere")),
        ]);
        for name in ["city-monthly", "city-ops-monthly"] {
            inv.budgets.insert(
                name.into(),
                Budget {
                    name: name.into(),
                    ..Default::default()
                },
            );
        }
        for name in ["city_catalog", "city_ops_catalog", "city_website"] {
            inv.glue_databases.insert(
                name.into(),
                GlueDatabase {
                    name: name.into(),
                    ..Default::default()
                },
            );
        }
        let names = Names::new("city", "1", "r");
        let zones: Vec<Option<String>> = inv
            .buckets
            .iter()
            .map(|(n, b)| names.zone_of_bucket(n, b))
            .collect();
        assert_eq!(zones.iter().flatten().collect::<Vec<_>>(), vec!["landing"]);
        inv.retain_owned();
        let kept: Vec<String> = inv.resources().iter().map(|(r, _)| r.to_string()).collect();
        assert_eq!(
            kept,
            vec![
                "bucket.city-landing-1",
                "budget.city-monthly",
                "glue_database.city_catalog"
            ]
        );
        assert_eq!(
            inv.not_managed.iter().collect::<Vec<_>>(),
            vec![
                "bucket.city-lookalike-1",
                "budget.city-ops-monthly",
                "glue_database.city_ops_catalog",
                "glue_database.city_website"
            ]
        );
    }
}
