//! Who may read and write each zone, evaluated from the deployed policies (the role's, the
//! bucket's and the zone key's), never copied from the spec: the access graph is a proof.

use crate::checks::iam::may;
use crate::context::Ctx;
use dapgov_inventory::{Bucket, Inventory};
use dapgov_policy::{Decision, Request, evaluate};
use serde::{Deserialize, Serialize};

/// The platform roles, in the order they are drawn.
pub const ROLES: [&str; 3] = ["etl", "analyst", "auditor"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneAccess {
    pub role: String,
    pub zone: String,
    pub bucket: String,
    /// May list object keys (`s3:ListBucket`).
    pub list: bool,
    /// May get objects and decrypt them with the zone's key.
    pub read: bool,
    /// May put objects and have the zone's key make their data keys.
    pub write: bool,
}

/// The role may use the bucket's key for `action`: the key policy and the role's own
/// policies must both allow it (true when the bucket has no key of the platform's).
fn key_allows(
    ctx: &Ctx,
    role_arn: &str,
    docs: &[(String, dapgov_policy::Document)],
    bucket: &Bucket,
    action: &str,
) -> bool {
    let Some(key_arn) = bucket
        .encryption
        .as_ref()
        .and_then(|e| e.kms_key.as_deref())
    else {
        return true;
    };
    let Some(key) = ctx
        .inv
        .keys
        .values()
        .find(|k| k.arn.as_deref() == Some(key_arn))
    else {
        return false;
    };
    let request = Request {
        action: action.into(),
        resource: key_arn.into(),
        principal: role_arn.into(),
        ..Default::default()
    };
    let by_key = crate::checks::parse(&key.policy)
        .is_some_and(|p| evaluate(&[&p], &request, true).is_allowed());
    let by_role = docs
        .iter()
        .any(|(_, d)| matches!(evaluate(&[d], &request, false), Decision::Allow(_)))
        && !docs
            .iter()
            .any(|(_, d)| matches!(evaluate(&[d], &request, false), Decision::ExplicitDeny(_)));
    by_key && by_role
}

/// Each platform role's access to each data zone.
pub fn zone_access(inv: &Inventory) -> Vec<ZoneAccess> {
    let ctx = Ctx::new(inv, chrono::Utc::now());
    let mut out = vec![];
    for which in ROLES {
        let Some(role) = ctx.platform_role(which) else {
            continue;
        };
        let Ok(docs) = Ctx::identity_policies(role) else {
            continue;
        };
        let role_arn = ctx.role(role).arn;
        let mut zones: Vec<&Bucket> = inv.buckets.values().filter(|b| b.zone.is_some()).collect();
        zones.sort_by_key(|b| {
            dapgov_inventory::names::DATA_ZONES
                .iter()
                .position(|z| Some(*z) == b.zone.as_deref())
                .unwrap_or(usize::MAX)
        });
        for b in zones {
            let arn = ctx.bucket(b).arn;
            let object = format!("{arn}/any/object");
            let s3 = |action: &str, resource: &str| {
                may(&ctx, role, &docs, action, resource, Some(b)).is_some()
            };
            out.push(ZoneAccess {
                role: which.into(),
                zone: b.zone.clone().unwrap_or_default(),
                bucket: b.name.clone(),
                list: s3("s3:ListBucket", &arn),
                read: s3("s3:GetObject", &object)
                    && key_allows(&ctx, &role_arn, &docs, b, "kms:Decrypt"),
                write: s3("s3:PutObject", &object)
                    && key_allows(&ctx, &role_arn, &docs, b, "kms:GenerateDataKey"),
            });
        }
    }
    out
}
