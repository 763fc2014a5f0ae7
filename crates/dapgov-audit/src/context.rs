//! What a check sees: the Inventory, the audit's clock, and how to name each resource.

use crate::Status;
use chrono::{DateTime, Utc};
use dapgov_inventory::names::{region_of, s3_arn};
use dapgov_inventory::{
    AthenaWorkgroup, Bucket, Function, GlueDatabase, GlueSecurityConfiguration, GlueTable,
    Inventory, Key, LogGroup, Names, Queue, Role, Topic, Trail,
};
use dapgov_policy::Document;
use serde::{Deserialize, Serialize};

/// A resource as findings name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The Inventory address, e.g. `bucket.van311-raw-000000000000`.
    pub address: String,
    pub arn: String,
    pub region: String,
}

pub(crate) struct Outcome {
    pub resource: Resource,
    pub status: Status,
    pub detail: String,
}

impl Outcome {
    pub fn pass(resource: Resource, detail: impl Into<String>) -> Self {
        Outcome {
            resource,
            status: Status::Pass,
            detail: detail.into(),
        }
    }
    pub fn fail(resource: Resource, detail: impl Into<String>) -> Self {
        Outcome {
            resource,
            status: Status::Fail,
            detail: detail.into(),
        }
    }
    pub fn not_applicable(resource: Resource, detail: impl Into<String>) -> Self {
        Outcome {
            resource,
            status: Status::NotApplicable,
            detail: detail.into(),
        }
    }
    /// PASS with `ok` when `failure` is None, else FAIL with it.
    pub fn verdict(resource: Resource, failure: Option<String>, ok: impl Into<String>) -> Self {
        match failure {
            None => Outcome::pass(resource, ok),
            Some(why) => Outcome::fail(resource, why),
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub inv: &'a Inventory,
    pub now: DateTime<Utc>,
    pub names: Names,
}

/// Zones that hold the platform's data (as opposed to logs, trail and query results).
pub(crate) use dapgov_inventory::names::DATA_ZONES;

impl<'a> Ctx<'a> {
    pub fn new(inv: &'a Inventory, now: DateTime<Utc>) -> Self {
        Ctx {
            inv,
            now,
            names: Names::new(&inv.project, &inv.account_id, &inv.region),
        }
    }

    fn region(&self) -> String {
        self.inv.region.clone()
    }

    /// Whether anything was deployed: platform-wide checks (a budget exists, a billing alarm
    /// exists, ...) apply only then.
    pub fn platform_exists(&self) -> bool {
        !self.inv.resources().is_empty()
    }

    pub fn account(&self) -> Resource {
        Resource {
            address: "account".into(),
            arn: self.names.arns.root(),
            region: self.region(),
        }
    }

    pub fn bucket(&self, b: &Bucket) -> Resource {
        Resource {
            address: format!("bucket.{}", b.name),
            arn: b.arn.clone().unwrap_or_else(|| s3_arn(&b.name)),
            region: b.region.clone().unwrap_or_else(|| self.region()),
        }
    }

    /// The region an ARN names, else the platform's.
    fn region_of(&self, arn: Option<&str>) -> String {
        arn.and_then(region_of)
            .map(str::to_string)
            .unwrap_or_else(|| self.region())
    }

    pub fn key(&self, name: &str, k: &Key) -> Resource {
        Resource {
            address: format!("key.{name}"),
            arn: k
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.key_alias(&k.alias)),
            region: self.region_of(k.arn.as_deref()),
        }
    }

    pub fn role(&self, r: &Role) -> Resource {
        Resource {
            address: format!("role.{}", r.name),
            arn: r
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.role(&r.name)),
            region: "global".into(),
        }
    }

    pub fn trail(&self, t: &Trail) -> Resource {
        Resource {
            address: format!("trail.{}", t.name),
            arn: t
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.trail(&t.name)),
            region: self.region_of(t.arn.as_deref()),
        }
    }

    pub fn log_group(&self, g: &LogGroup) -> Resource {
        Resource {
            address: format!("log_group.{}", g.name),
            arn: self.names.arns.log_group(&g.name),
            region: self.region(),
        }
    }

    pub fn topic(&self, t: &Topic) -> Resource {
        Resource {
            address: format!("topic.{}", t.name),
            arn: t
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.topic(&t.name)),
            region: self.region_of(t.arn.as_deref()),
        }
    }

    pub fn function(&self, f: &Function) -> Resource {
        Resource {
            address: format!("function.{}", f.name),
            arn: f
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.function(&f.name)),
            region: self.region_of(f.arn.as_deref()),
        }
    }

    pub fn queue(&self, q: &Queue) -> Resource {
        Resource {
            address: format!("queue.{}", q.name),
            arn: q
                .arn
                .clone()
                .unwrap_or_else(|| self.names.arns.queue(&q.name)),
            region: self.region_of(q.arn.as_deref()),
        }
    }

    pub fn alarm(&self, name: &str, region: Option<&str>) -> Resource {
        let region = region.map(str::to_string).unwrap_or_else(|| self.region());
        Resource {
            address: format!("alarm.{name}"),
            arn: self.names.arns.alarm(&region, name),
            region,
        }
    }

    pub fn budget(&self, name: &str) -> Resource {
        Resource {
            address: format!("budget.{name}"),
            arn: self.names.arns.budget(name),
            region: "global".into(),
        }
    }

    pub fn glue_table(&self, d: &GlueDatabase, t: &GlueTable) -> Resource {
        Resource {
            address: format!("glue_table.{}.{}", d.name, t.name),
            arn: self.names.arns.glue_table(&d.name, &t.name),
            region: self.region(),
        }
    }

    pub fn glue_security_configuration(&self, c: &GlueSecurityConfiguration) -> Resource {
        Resource {
            address: format!("glue_security_configuration.{}", c.name),
            arn: self.names.arns.glue_security_configuration(&c.name),
            region: self.region(),
        }
    }

    pub fn workgroup(&self, w: &AthenaWorkgroup) -> Resource {
        Resource {
            address: format!("athena_workgroup.{}", w.name),
            arn: self.names.arns.workgroup(&w.name),
            region: self.region(),
        }
    }

    /// Every Glue table with its database.
    pub fn glue_tables(&self) -> impl Iterator<Item = (&'a GlueDatabase, &'a GlueTable)> {
        self.inv.glue_databases.values().flat_map(|d| {
            d.tables
                .iter()
                .flat_map(|t| t.values())
                .map(move |t| (d, t))
        })
    }

    /// The zone a Glue table's data lives in, from the bucket its location names.
    pub fn table_zone(&self, t: &GlueTable) -> Option<&'a str> {
        let bucket = t.location.split("://").nth(1)?.split('/').next()?;
        self.inv.buckets.get(bucket)?.zone.as_deref()
    }

    /// The key whose ARN, id or alias is `reference`.
    pub fn find_key(&self, reference: &str) -> Option<(&'a String, &'a Key)> {
        let alias = reference.rsplit("alias/").next().unwrap_or(reference);
        self.inv.keys.iter().find(|(name, k)| {
            k.arn.as_deref() == Some(reference)
                || k.key_id.as_deref() == Some(reference)
                || k.alias == alias
                || name.as_str() == alias
        })
    }

    /// The tags of the resource at an Inventory address (`bucket.x`, `key.y`, ...), where its
    /// service has tags.
    pub fn tags_of(&self, address: &str) -> Option<&'a dapgov_inventory::Tags> {
        self.inv
            .tags_of(&dapgov_inventory::ResourceRef::parse(address)?)
    }

    /// The role serving a platform role (`etl`, `analyst`, `auditor`): tagged `role=<name>`, or
    /// named `<project>-<name>`.
    pub fn platform_role(&self, which: &str) -> Option<&'a Role> {
        self.inv
            .roles
            .values()
            .find(|r| {
                r.tags
                    .as_ref()
                    .and_then(|t| t.get("role"))
                    .map(String::as_str)
                    == Some(which)
            })
            .or_else(|| self.inv.roles.get(&self.names.role(which)))
    }

    /// The role's identity policies (inline and attached), parsed. A document that does not
    /// parse is returned as an error naming it.
    pub fn identity_policies(r: &Role) -> Result<Vec<(String, Document)>, String> {
        let mut out = Vec::new();
        for (name, v) in r
            .inline_policies
            .iter()
            .flatten()
            .chain(r.attached_policies.iter().flatten())
        {
            if v.is_null() {
                continue;
            }
            let doc =
                Document::parse(v).map_err(|e| format!("policy {name} does not parse: {e}"))?;
            out.push((name.clone(), doc));
        }
        Ok(out)
    }

    /// Every key reference a resource of the platform uses, with who uses it.
    pub fn key_users(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for b in self.inv.buckets.values() {
            if let Some(k) = b.encryption.as_ref().and_then(|e| e.kms_key.clone()) {
                out.push((k, format!("bucket {}", b.name)));
            }
        }
        for t in self.inv.trails.values() {
            if let Some(k) = &t.kms_key {
                out.push((k.clone(), format!("trail {}", t.name)));
            }
        }
        for g in self.inv.log_groups.values() {
            if let Some(k) = &g.kms_key {
                out.push((k.clone(), format!("log group {}", g.name)));
            }
        }
        for t in self.inv.topics.values() {
            if let Some(k) = &t.kms_key {
                out.push((k.clone(), format!("topic {}", t.name)));
            }
        }
        for w in self.inv.athena_workgroups.values() {
            if let Some(k) = &w.result_kms_key {
                out.push((k.clone(), format!("workgroup {}", w.name)));
            }
        }
        out
    }
}

/// Whether a bucket serves one of the data zones.
pub(crate) fn is_data_bucket(b: &Bucket) -> bool {
    b.zone.as_deref().is_some_and(|z| DATA_ZONES.contains(&z))
}

pub(crate) fn tag<'t>(tags: &'t Option<dapgov_inventory::Tags>, key: &str) -> Option<&'t str> {
    tags.as_ref().and_then(|t| t.get(key)).map(String::as_str)
}
