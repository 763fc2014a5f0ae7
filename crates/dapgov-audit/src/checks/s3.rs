//! S3 buckets: encryption, public access, transport, ownership, logging, lifecycle.

use super::{condition_values, covers, foreign_principals, is_public_allow, parse};
use crate::context::{Ctx, DATA_ZONES, Outcome, is_data_bucket, tag};
use dapgov_inventory::names::TABLE_ZONES;
use dapgov_inventory::{Bucket, Versioning};

const PUBLIC_GROUPS: [&str; 2] = [
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
];

fn each(ctx: &Ctx, f: impl Fn(&Bucket) -> Outcome) -> Vec<Outcome> {
    ctx.inv.buckets.values().map(f).collect()
}

/// The key purpose a zone's bucket must be encrypted with.
fn zone_key_purpose(zone: &str) -> Option<&'static str> {
    match zone {
        "landing" | "raw" => Some("pii"),
        "curated" | "trusted" | "athena" => Some("analytics"),
        "logs" | "trail" => Some("logs"),
        _ => None,
    }
}

pub fn kms_encryption(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        match &b.encryption {
            Some(e) if e.algorithm == "aws:kms" && e.kms_key.is_some() => Outcome::pass(
                r,
                format!(
                    "default encryption is SSE-KMS with {}",
                    e.kms_key.as_deref().unwrap_or_default()
                ),
            ),
            Some(e) if e.algorithm == "aws:kms" => Outcome::fail(
                r,
                "default encryption is SSE-KMS with the AWS-managed key, not a customer key",
            ),
            Some(e) if e.algorithm != "none" => Outcome::fail(
                r,
                format!(
                    "default encryption is {} (S3-managed keys), not SSE-KMS",
                    e.algorithm
                ),
            ),
            _ => Outcome::fail(r, "no default encryption"),
        }
    })
}

/// Which platform key (by purpose) a bucket's objects must be encrypted with.
fn required_key_purpose(b: &Bucket) -> Option<&'static str> {
    // A data zone classified confidential-pii needs the PII key whatever its zone's default.
    let by_class = (is_data_bucket(b)
        && tag(&b.tags, "classification") == Some("confidential-pii"))
    .then_some("pii");
    by_class.or_else(|| b.zone.as_deref().and_then(zone_key_purpose))
}

/// True when `key_ref` (ARN, id or alias) is a platform key for `purpose`.
fn is_key_for(ctx: &Ctx, key_ref: &str, purpose: &str) -> bool {
    ctx.find_key(key_ref).is_some_and(|(_, k)| {
        tag(&k.tags, "purpose") == Some(purpose) || k.alias.ends_with(&format!("-{purpose}"))
    })
}

pub fn zone_key(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(purpose) = required_key_purpose(b) else {
            return Outcome::not_applicable(r, "the bucket serves no platform zone");
        };
        let zone = b.zone.as_deref().unwrap_or_default();
        let Some(key_ref) = b
            .encryption
            .as_ref()
            .filter(|e| e.algorithm == "aws:kms")
            .and_then(|e| e.kms_key.as_deref())
        else {
            return Outcome::fail(
                r,
                format!(
                    "the {zone} zone must be encrypted with the {purpose} key; the bucket has no customer KMS key"
                ),
            );
        };
        match ctx.find_key(key_ref) {
            Some((name, _)) if is_key_for(ctx, key_ref, purpose) => Outcome::pass(
                r,
                format!("the {zone} zone is encrypted with its {purpose} key {name}"),
            ),
            Some((name, _)) => Outcome::fail(
                r,
                format!("the {zone} zone is encrypted with {name}, not the {purpose} key"),
            ),
            None => Outcome::fail(
                r,
                format!(
                    "the {zone} zone is encrypted with {key_ref}, which is not one of the platform's keys"
                ),
            ),
        }
    })
}

pub fn bucket_public_access_block(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        match &b.public_access_block {
            Some(p) if p.is_all_on() => {
                Outcome::pass(r, "all four Block Public Access settings are on")
            }
            Some(p) => {
                let off: Vec<&str> = [
                    ("BlockPublicAcls", p.block_public_acls),
                    ("IgnorePublicAcls", p.ignore_public_acls),
                    ("BlockPublicPolicy", p.block_public_policy),
                    ("RestrictPublicBuckets", p.restrict_public_buckets),
                ]
                .into_iter()
                .filter(|(_, on)| !on)
                .map(|(n, _)| n)
                .collect();
                Outcome::fail(
                    r,
                    format!("Block Public Access is off for {}", off.join(", ")),
                )
            }
            None => Outcome::fail(r, "the bucket has no Block Public Access configuration"),
        }
    })
}

pub fn account_public_access_block(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let r = ctx.account();
    vec![match &ctx.inv.account.public_access_block {
        Some(p) if p.is_all_on() => {
            Outcome::pass(r, "account-level Block Public Access is fully on")
        }
        Some(_) => Outcome::fail(r, "account-level Block Public Access is only partly on"),
        None => Outcome::fail(r, "the account has no Block Public Access configuration"),
    }]
}

pub fn secure_transport_policy(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(doc) = parse(&b.policy) else {
            return Outcome::fail(r, "no bucket policy, so plain-HTTP requests are not denied");
        };
        let found = doc.statements().iter().enumerate().find(|(_, st)| {
            !st.is_allow()
                && st.principal.as_ref().is_some_and(|p| p.is_public())
                && covers(st, "s3:GetObject")
                && covers(st, "s3:PutObject")
                && condition_values(st, "Bool", "aws:SecureTransport")
                    .iter()
                    .any(|v| v == "false")
        });
        Outcome::verdict(
            r,
            found.is_none().then(|| {
                "no Deny statement for requests with aws:SecureTransport = false".to_string()
            }),
            format!(
                "{} denies requests without TLS",
                found.map(|(i, st)| st.label(i)).unwrap_or_default()
            ),
        )
    })
}

pub fn tls_minimum_version(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(doc) = parse(&b.policy) else {
            return Outcome::fail(r, "no bucket policy, so TLS 1.0 and 1.1 are accepted");
        };
        let found = doc.statements().iter().enumerate().find(|(_, st)| {
            !st.is_allow()
                && st.principal.as_ref().is_some_and(|p| p.is_public())
                && covers(st, "s3:GetObject")
                && condition_values(st, "NumericLessThan", "s3:TlsVersion")
                    .iter()
                    .any(|v| v.parse::<f64>().is_ok_and(|x| x >= 1.2))
        });
        Outcome::verdict(
            r,
            found
                .is_none()
                .then(|| "no Deny statement for s3:TlsVersion below 1.2".to_string()),
            format!(
                "{} denies TLS below 1.2",
                found.map(|(i, st)| st.label(i)).unwrap_or_default()
            ),
        )
    })
}

pub fn acl_prohibited(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        match b.object_ownership.as_deref() {
            Some("BucketOwnerEnforced") => {
                Outcome::pass(r, "ACLs are disabled (ObjectOwnership BucketOwnerEnforced)")
            }
            Some(other) => Outcome::fail(r, format!("ACLs are enabled (ObjectOwnership {other})")),
            None => Outcome::fail(r, "ACLs are enabled (no ownership controls)"),
        }
    })
}

fn public_grants(b: &Bucket) -> Vec<String> {
    b.acl_grants
        .iter()
        .flatten()
        .filter(|g| PUBLIC_GROUPS.contains(&g.grantee.as_str()))
        .map(|g| {
            format!(
                "{} to {}",
                g.permission,
                g.grantee.rsplit('/').next().unwrap_or_default()
            )
        })
        .collect()
}

pub fn public_access(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let grants = public_grants(b);
        if !grants.is_empty() {
            return Outcome::fail(r, format!("the bucket ACL grants {}", grants.join(", ")));
        }
        if let Some(doc) = parse(&b.policy)
            && let Some((i, st)) = doc
                .statements()
                .iter()
                .enumerate()
                .find(|(_, st)| is_public_allow(st))
        {
            return Outcome::fail(r, format!("bucket policy {} allows anyone", st.label(i)));
        }
        Outcome::pass(
            r,
            "neither the ACL nor the bucket policy grants public access",
        )
    })
}

pub fn policy_public_write_access(ctx: &Ctx) -> Vec<Outcome> {
    const WRITES: [&str; 5] = [
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:PutBucketPolicy",
        "s3:PutObjectAcl",
        "s3:DeleteBucket",
    ];
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(doc) = parse(&b.policy) else {
            return Outcome::pass(r, "no bucket policy");
        };
        let found = doc.statements().iter().enumerate().find_map(|(i, st)| {
            let w: Vec<&str> = WRITES
                .iter()
                .copied()
                .filter(|a| is_public_allow(st) && covers(st, a))
                .collect();
            (!w.is_empty())
                .then(|| format!("bucket policy {} lets anyone {}", st.label(i), w.join(", ")))
        });
        Outcome::verdict(r, found, "the bucket policy grants no public write")
    })
}

pub fn cross_account_access(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(doc) = parse(&b.policy) else {
            return Outcome::pass(r, "no bucket policy");
        };
        let found = doc.statements().iter().enumerate().find_map(|(i, st)| {
            let foreign = foreign_principals(st, &ctx.inv.account_id);
            if !foreign.is_empty() {
                Some(format!(
                    "bucket policy {} grants {}",
                    st.label(i),
                    foreign.join(", ")
                ))
            } else if is_public_allow(st) {
                Some(format!("bucket policy {} grants any account", st.label(i)))
            } else {
                None
            }
        });
        Outcome::verdict(
            r,
            found,
            "the bucket policy grants only this account and AWS services",
        )
    })
}

pub fn deny_unencrypted_uploads(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if !is_data_bucket(b) {
            return Outcome::not_applicable(
                r,
                "only the data zones (landing, raw, curated, trusted) require their own key on upload",
            );
        }
        // Held to the zone's platform key, judged apart from the default encryption setting
        // (which `s3_bucket_zone_key` judges), so one change fails one check.
        let default_key = b.encryption.as_ref().and_then(|e| e.kms_key.as_deref());
        let zone_key = |v: &String| {
            Some(v.as_str()) == default_key
                || required_key_purpose(b).is_some_and(|p| is_key_for(ctx, v, p))
        };
        let Some(doc) = parse(&b.policy) else {
            return Outcome::fail(
                r,
                "no bucket policy, so uploads with another key or none are accepted",
            );
        };
        let found = doc.statements().iter().enumerate().find(|(_, st)| {
            !st.is_allow()
                && covers(st, "s3:PutObject")
                && condition_values(
                    st,
                    "StringNotEquals",
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                )
                .iter()
                .any(zone_key)
        });
        Outcome::verdict(
            r,
            found.is_none().then(|| {
                "no Deny statement refuses uploads encrypted with another key".to_string()
            }),
            format!(
                "{} refuses uploads not encrypted with the zone key",
                found.map(|(i, st)| st.label(i)).unwrap_or_default()
            ),
        )
    })
}

pub fn server_access_logging(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if b.zone.as_deref() == Some("logs") {
            return Outcome::not_applicable(
                r,
                "the access-log bucket itself (logging it into itself would loop)",
            );
        }
        match &b.logging {
            Some(l) if ctx.inv.buckets.contains_key(&l.target_bucket) => Outcome::pass(
                r,
                format!("access logs go to {}/{}", l.target_bucket, l.target_prefix),
            ),
            Some(l) => Outcome::fail(
                r,
                format!(
                    "access logs go to {}, which does not exist",
                    l.target_bucket
                ),
            ),
            None => Outcome::fail(r, "server access logging is off"),
        }
    })
}

pub fn classification_tags(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let Some(zone) = b.zone.as_deref().filter(|z| DATA_ZONES.contains(z)) else {
            return Outcome::not_applicable(r, "not a data-zone bucket");
        };
        // Landing and raw hold personal data as received; later zones may be classified either way.
        let allowed: &[&str] = if matches!(zone, "landing" | "raw") {
            &["confidential-pii"]
        } else {
            &["internal", "confidential-pii"]
        };
        let failure = match (tag(&b.tags, "zone"), tag(&b.tags, "classification")) {
            (Some(z), _) if z != zone => Some(format!("tag zone is `{z}`, expected `{zone}`")),
            (None, _) => Some("tag `zone` is missing".to_string()),
            (_, Some(c)) if !allowed.contains(&c) => Some(format!(
                "tag classification is `{c}`; the {zone} zone must be {}",
                allowed.join(" or ")
            )),
            (_, None) => Some("tag `classification` is missing".to_string()),
            _ => None,
        };
        Outcome::verdict(
            r,
            failure,
            format!(
                "tagged zone={zone}, classification={}",
                tag(&b.tags, "classification").unwrap_or_default()
            ),
        )
    })
}

pub fn versioning(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        match b.versioning {
            Some(Versioning::Enabled) => Outcome::pass(r, "versioning is enabled"),
            Some(Versioning::Suspended) => Outcome::fail(
                r,
                "versioning is suspended: overwritten or deleted objects cannot be recovered",
            ),
            _ => Outcome::fail(r, "versioning was never enabled"),
        }
    })
}

pub fn trail_logs_delete_protected(ctx: &Ctx) -> Vec<Outcome> {
    let trail_buckets: Vec<&str> = ctx
        .inv
        .trails
        .values()
        .filter_map(|t| t.s3_bucket.as_deref())
        .collect();
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if !trail_buckets.contains(&b.name.as_str()) && b.zone.as_deref() != Some("trail") {
            return Outcome::not_applicable(r, "no trail delivers to this bucket");
        }
        if b.object_lock.as_ref().is_some_and(|l| l.enabled) {
            return Outcome::pass(r, "object lock protects delivered trail logs");
        }
        let denied = parse(&b.policy).and_then(|doc| {
            doc.statements()
                .iter()
                .enumerate()
                .find(|(_, st)| {
                    !st.is_allow()
                        && st.principal.as_ref().is_some_and(|p| p.is_public())
                        && st.condition.is_none()
                        && covers(st, "s3:DeleteObject")
                        && covers(st, "s3:DeleteObjectVersion")
                })
                .map(|(i, st)| st.label(i))
        });
        match denied {
            Some(l) => Outcome::pass(r, format!("{l} denies deleting trail logs to everyone")),
            None => Outcome::fail(
                r,
                "trail logs can be deleted: no object lock and no policy denying s3:DeleteObject and s3:DeleteObjectVersion",
            ),
        }
    })
}

pub fn lifecycle_respects_retention(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let retention = tag(&b.tags, "retention-days").and_then(|v| v.parse::<u32>().ok());
        if retention.is_none() && b.zone.as_deref() != Some("raw") {
            return Outcome::not_applicable(r, "no retention period is declared for this bucket");
        }
        let earliest = b
            .lifecycle
            .iter()
            .flatten()
            .filter(|l| l.enabled)
            .filter_map(|l| l.expiration_days.map(|d| (d, &l.id)))
            .min();
        match (earliest, retention) {
            (None, _) => Outcome::pass(r, "no lifecycle rule expires current objects"),
            (Some((d, id)), Some(keep)) if d >= keep => Outcome::pass(
                r,
                format!(
                    "rule {id} expires objects after {d} days, not before the {keep}-day retention"
                ),
            ),
            (Some((d, id)), Some(keep)) => Outcome::fail(
                r,
                format!(
                    "rule {id} expires objects after {d} days, before the {keep}-day retention"
                ),
            ),
            (Some((d, id)), None) => Outcome::fail(
                r,
                format!(
                    "rule {id} expires raw records after {d} days; raw is the record of what was received"
                ),
            ),
        }
    })
}

/// The zones holding Delta tables: every load's files stay referenced by the tables' current
/// versions, so a rule that expires objects, or moves them where a read needs a restore first,
/// breaks the tables.
pub fn lifecycle_keeps_table_files(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if !b.zone.as_deref().is_some_and(|z| TABLE_ZONES.contains(&z)) {
            return Outcome::not_applicable(
                r,
                "only the zones holding Delta tables (raw, curated, trusted)",
            );
        }
        let rules: Vec<_> = b.lifecycle.iter().flatten().filter(|l| l.enabled).collect();
        if let Some((d, id)) = rules
            .iter()
            .filter_map(|l| l.expiration_days.map(|d| (d, &l.id)))
            .min()
        {
            return Outcome::fail(
                r,
                format!(
                    "rule {id} expires objects after {d} days, though the tables' current versions reference files of every load"
                ),
            );
        }
        let archived = rules
            .iter()
            .flat_map(|l| l.transitions.iter().map(move |t| (t, &l.id)))
            .find(|(t, _)| ARCHIVE_CLASSES.contains(&t.storage_class.as_str()));
        match archived {
            Some((t, id)) => Outcome::fail(
                r,
                format!(
                    "rule {id} moves objects to {} after {} days, where a read needs a restore first: queries of the tables fail",
                    t.storage_class, t.days
                ),
            ),
            None => Outcome::pass(
                r,
                "no rule expires table files or moves them where they cannot be read at once",
            ),
        }
    })
}

/// Storage classes whose objects must be restored before they can be read.
const ARCHIVE_CLASSES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

pub fn zone_buckets_present(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let missing: Vec<&str> = DATA_ZONES
        .iter()
        .copied()
        .filter(|z| ctx.inv.zone_bucket(z).is_none())
        .collect();
    vec![Outcome::verdict(
        ctx.account(),
        (!missing.is_empty())
            .then(|| format!("no bucket serves the {} zone(s)", missing.join(", "))),
        "every data zone (landing, raw, curated, trusted) has its bucket",
    )]
}

pub fn bucket_key_enabled(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        match &b.encryption {
            Some(e) if e.algorithm == "aws:kms" && e.bucket_key_enabled => {
                Outcome::pass(r, "S3 Bucket Keys are on (far fewer KMS requests)")
            }
            Some(e) if e.algorithm == "aws:kms" => Outcome::fail(
                r,
                "S3 Bucket Keys are off: every object read and write calls KMS",
            ),
            _ => Outcome::not_applicable(r, "the bucket is not SSE-KMS encrypted"),
        }
    })
}

pub fn abort_multipart(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        let rule = b.lifecycle.iter().flatten().find(|l| {
            l.enabled && l.prefix.is_empty() && l.abort_incomplete_multipart_days.is_some()
        });
        match rule {
            Some(l) => Outcome::pass(
                r,
                format!(
                    "rule {} aborts incomplete uploads after {} days",
                    l.id,
                    l.abort_incomplete_multipart_days.unwrap_or_default()
                ),
            ),
            None => Outcome::fail(
                r,
                "incomplete multipart uploads are kept (and billed) forever",
            ),
        }
    })
}

pub fn lifecycle_transitions(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if !matches!(b.zone.as_deref(), Some("raw" | "logs" | "trail")) {
            return Outcome::not_applicable(
                r,
                "only long-kept, rarely read zones (raw, logs, trail) must move to colder storage",
            );
        }
        let t = b
            .lifecycle
            .iter()
            .flatten()
            .filter(|l| l.enabled)
            .flat_map(|l| l.transitions.iter())
            .min_by_key(|t| t.days);
        match t {
            Some(t) => Outcome::pass(
                r,
                format!("objects move to {} after {} days", t.storage_class, t.days),
            ),
            None => Outcome::fail(
                r,
                "objects stay in STANDARD storage for as long as they are kept",
            ),
        }
    })
}

pub fn noncurrent_expiration(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if b.versioning != Some(Versioning::Enabled) {
            return Outcome::not_applicable(
                r,
                "versioning is not enabled, so there are no noncurrent versions",
            );
        }
        match b
            .lifecycle
            .iter()
            .flatten()
            .find(|l| l.enabled && l.noncurrent_expiration_days.is_some())
        {
            Some(l) => Outcome::pass(
                r,
                format!(
                    "rule {} expires noncurrent versions after {} days",
                    l.id,
                    l.noncurrent_expiration_days.unwrap_or_default()
                ),
            ),
            None => Outcome::fail(r, "noncurrent versions are kept (and billed) forever"),
        }
    })
}

pub fn landing_expiration(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |b| {
        let r = ctx.bucket(b);
        if b.zone.as_deref() != Some("landing") {
            return Outcome::not_applicable(r, "only the landing zone is transient");
        }
        match b
            .lifecycle
            .iter()
            .flatten()
            .filter(|l| l.enabled)
            .filter_map(|l| l.expiration_days.map(|d| (d, &l.id)))
            .min()
        {
            Some((d, id)) => {
                Outcome::pass(r, format!("rule {id} expires landed files after {d} days"))
            }
            None => Outcome::fail(
                r,
                "landed files are kept forever although raw holds every record",
            ),
        }
    })
}
