//! IAM roles (permission and trust policies, proved with the policy evaluator) and the
//! account password policy.

use super::{condition_values, foreign_principals, parse};
use crate::context::{Ctx, Outcome};
use dapgov_inventory::{Bucket, PasswordPolicy, Role};
use dapgov_policy::{Decision, Document, LintKind, Request, evaluate, lint};
use std::collections::BTreeMap;

fn each(ctx: &Ctx, f: impl Fn(&Role, &[(String, Document)]) -> Outcome) -> Vec<Outcome> {
    ctx.inv
        .roles
        .values()
        .map(|r| match Ctx::identity_policies(r) {
            Ok(docs) => f(r, &docs),
            Err(e) => Outcome::fail(ctx.role(r), e),
        })
        .collect()
}

/// Lint findings of one kind across a role's policies.
fn lint_kind(ctx: &Ctx, kind: LintKind, ok: &'static str) -> Vec<Outcome> {
    each(ctx, |r, docs| {
        let found: Vec<String> = docs
            .iter()
            .flat_map(|(name, d)| lint(name, d))
            .filter(|e| {
                e.kind == kind || (kind == LintKind::AllActions && e.kind == LintKind::NotAction)
            })
            .map(|e| e.to_string())
            .collect();
        Outcome::verdict(
            ctx.role(r),
            (!found.is_empty()).then(|| found.join("; ")),
            ok,
        )
    })
}

pub fn inline_no_admin(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |r, _| {
        let res = ctx.role(r);
        let inline = r.inline_policies.clone().unwrap_or_default();
        if inline.is_empty() {
            return Outcome::not_applicable(res, "the role has no inline policy");
        }
        let found = inline.iter().find_map(|(name, v)| {
            let doc = Document::parse(v).ok()?;
            doc.statements()
                .iter()
                .enumerate()
                .find(|(_, st)| {
                    st.is_allow()
                        && st.actions().iter().any(|a| a == "*" || a == "*:*")
                        && st.resources().iter().any(|x| x == "*")
                })
                .map(|(i, st)| {
                    format!(
                        "inline policy {name} {} allows every action on every resource",
                        st.label(i)
                    )
                })
        });
        Outcome::verdict(res, found, "no inline policy grants `*:*`")
    })
}

pub fn administrator_access_attached(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |r, _| {
        let res = ctx.role(r);
        let found = r.attached_policies.iter().flatten().find_map(|(arn, v)| {
            if arn.ends_with(":policy/AdministratorAccess") {
                return Some(format!("AdministratorAccess ({arn}) is attached"));
            }
            let doc = Document::parse(v).ok()?;
            doc.statements()
                .iter()
                .any(|st| {
                    st.is_allow()
                        && st.actions().iter().any(|a| a == "*" || a == "*:*")
                        && st.resources().iter().any(|x| x == "*")
                })
                .then(|| format!("attached policy {arn} allows every action on every resource"))
        });
        Outcome::verdict(res, found, "no attached policy grants administrator access")
    })
}

pub fn no_full_service_access(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |r, docs| {
        let found: Vec<String> = docs
            .iter()
            .flat_map(|(name, d)| {
                d.statements()
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| st.is_allow())
                    .flat_map(move |(i, st)| {
                        st.actions()
                            .iter()
                            // `*` grants `service:*` for every service at once.
                            .filter(|a| a.ends_with(":*") || a.as_str() == "*")
                            .map(move |a| format!("{name} {} allows {a}", st.label(i)))
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        Outcome::verdict(
            ctx.role(r),
            (!found.is_empty()).then(|| found.join("; ")),
            "every allowed action is named (no `service:*`)",
        )
    })
}

pub fn no_write_on_all_resources(ctx: &Ctx) -> Vec<Outcome> {
    lint_kind(
        ctx,
        LintKind::WriteOnAllResources,
        "write actions are scoped to named resources or by condition",
    )
}

pub fn no_passrole_on_all(ctx: &Ctx) -> Vec<Outcome> {
    lint_kind(
        ctx,
        LintKind::PassRoleOnAll,
        "iam:PassRole is not granted on every role",
    )
}

pub fn privilege_escalation(ctx: &Ctx) -> Vec<Outcome> {
    lint_kind(
        ctx,
        LintKind::Escalation,
        "no known privilege-escalation combination is granted",
    )
}

fn trust_statements(r: &Role) -> Vec<(usize, dapgov_policy::Statement)> {
    parse(&r.trust_policy)
        .map(|d| {
            d.statements()
                .iter()
                .cloned()
                .enumerate()
                .filter(|(_, s)| s.is_allow())
                .collect()
        })
        .unwrap_or_default()
}

fn principal_kinds(st: &dapgov_policy::Statement, kind: &str) -> Vec<String> {
    st.principal
        .iter()
        .flat_map(|p| p.identifiers())
        .filter(|(k, _)| k == kind)
        .map(|(_, id)| id)
        .collect()
}

pub fn confused_deputy(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .roles
        .values()
        .map(|r| {
            let res = ctx.role(r);
            let service: Vec<_> = trust_statements(r)
                .into_iter()
                .filter(|(_, st)| !principal_kinds(st, "Service").is_empty())
                .collect();
            if service.is_empty() {
                return Outcome::not_applicable(res, "no AWS service may assume the role");
            }
            let bare: Vec<String> = service
                .iter()
                .filter(|(_, st)| {
                    ["aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID"]
                        .iter()
                        .all(|k| {
                            ["StringEquals", "StringLike", "ArnEquals", "ArnLike"]
                                .iter()
                                .all(|op| condition_values(st, op, k).is_empty())
                        })
                })
                .map(|(i, st)| {
                    format!(
                        "trust {} lets {} assume the role on behalf of any account",
                        st.label(*i),
                        principal_kinds(st, "Service").join(", ")
                    )
                })
                .collect();
            Outcome::verdict(
                res,
                (!bare.is_empty()).then(|| bare.join("; ")),
                "service principals are confined by aws:SourceAccount / aws:SourceArn",
            )
        })
        .collect()
}

pub fn trust_requires_mfa(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .roles
        .values()
        .map(|r| {
            let res = ctx.role(r);
            let human: Vec<_> = trust_statements(r)
                .into_iter()
                .filter(|(_, st)| !principal_kinds(st, "AWS").is_empty())
                .collect();
            if human.is_empty() {
                return Outcome::not_applicable(res, "only AWS services may assume the role");
            }
            let missing: Vec<String> = human
                .iter()
                .filter(|(_, st)| {
                    !condition_values(st, "Bool", "aws:MultiFactorAuthPresent")
                        .iter()
                        .any(|v| v == "true")
                })
                .map(|(i, st)| format!("trust {} does not require MFA", st.label(*i)))
                .collect();
            Outcome::verdict(
                res,
                (!missing.is_empty()).then(|| missing.join("; ")),
                "people assume the role only with MFA",
            )
        })
        .collect()
}

pub fn trust_no_external(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .roles
        .values()
        .map(|r| {
            let res = ctx.role(r);
            let bad: Vec<String> = trust_statements(r)
                .iter()
                .filter_map(|(i, st)| {
                    let has_external_id =
                        !condition_values(st, "StringEquals", "sts:ExternalId").is_empty();
                    if st.principal.as_ref().is_some_and(|p| p.is_public()) {
                        return Some(format!(
                            "trust {} lets anyone assume the role",
                            st.label(*i)
                        ));
                    }
                    let foreign = foreign_principals(st, &ctx.inv.account_id);
                    (!foreign.is_empty() && !has_external_id).then(|| {
                        format!(
                            "trust {} lets {} assume the role without an external id",
                            st.label(*i),
                            foreign.join(", ")
                        )
                    })
                })
                .collect();
            Outcome::verdict(
                res,
                (!bad.is_empty()).then(|| bad.join("; ")),
                "only this account and AWS services may assume the role",
            )
        })
        .collect()
}

/// Whether `role` may do `action` on `resource`, with AWS's rules for one account: an explicit
/// deny in any policy wins; otherwise an allow in the identity or the resource policy grants.
/// The request is the most compliant one a caller could send (TLS 1.3, the bucket's own key),
/// so only a real grant, never a missing header, decides. Returns the granting statement.
pub(crate) fn may(
    ctx: &Ctx,
    role: &Role,
    docs: &[(String, Document)],
    action: &str,
    resource: &str,
    bucket: Option<&Bucket>,
) -> Option<String> {
    let mut context = BTreeMap::from([
        ("aws:SecureTransport".to_string(), "true".to_string()),
        ("s3:TlsVersion".to_string(), "1.3".to_string()),
    ]);
    if let Some(key) = bucket
        .and_then(|b| b.encryption.as_ref())
        .and_then(|e| e.kms_key.clone())
    {
        context.insert("s3:x-amz-server-side-encryption".into(), "aws:kms".into());
        context.insert("s3:x-amz-server-side-encryption-aws-kms-key-id".into(), key);
    }
    let resource_policy = bucket.and_then(|b| parse(&b.policy));
    let request = Request {
        action: action.into(),
        resource: resource.into(),
        principal: ctx.role(role).arn,
        context,
    };
    let mut grant = None;
    for (name, doc) in docs {
        match evaluate(&[doc], &request, false) {
            Decision::ExplicitDeny(_) => return None,
            Decision::Allow(s) => {
                grant.get_or_insert(format!("{name} {s}"));
            }
            Decision::ImplicitDeny => {}
        }
    }
    if let Some(doc) = &resource_policy {
        match evaluate(&[doc], &request, true) {
            Decision::ExplicitDeny(_) => return None,
            Decision::Allow(s) => {
                grant.get_or_insert(format!("resource policy {s}"));
            }
            Decision::ImplicitDeny => {}
        }
    }
    grant
}

pub fn analyst_cannot_read_pii(ctx: &Ctx) -> Vec<Outcome> {
    let Some(role) = ctx.platform_role("analyst") else {
        return vec![];
    };
    let res = ctx.role(role);
    let docs = match Ctx::identity_policies(role) {
        Ok(d) => d,
        Err(e) => return vec![Outcome::fail(res, e)],
    };
    let pii: Vec<_> = ctx
        .inv
        .buckets
        .values()
        .filter(|b| matches!(b.zone.as_deref(), Some("landing" | "raw")))
        .collect();
    if pii.is_empty() {
        return vec![Outcome::not_applicable(
            res,
            "there is no landing or raw bucket",
        )];
    }
    let mut granted = Vec::new();
    for b in &pii {
        let arn = ctx.bucket(b).arn;
        for (action, resource) in [
            ("s3:GetObject", format!("{arn}/any/object.csv")),
            ("s3:ListBucket", arn.clone()),
        ] {
            if let Some(by) = may(ctx, role, &docs, action, &resource, Some(b)) {
                granted.push(format!("{action} on {resource} is allowed by {by}"));
            }
        }
    }
    let zones = pii
        .iter()
        .map(|b| b.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    vec![Outcome::verdict(
        res,
        (!granted.is_empty())
            .then(|| format!("the analyst can read personal data: {}", granted.join("; "))),
        format!("evaluated: s3:GetObject and s3:ListBucket are denied on {zones}"),
    )]
}

pub fn auditor_read_only(ctx: &Ctx) -> Vec<Outcome> {
    let Some(role) = ctx.platform_role("auditor") else {
        return vec![];
    };
    let res = ctx.role(role);
    let docs = match Ctx::identity_policies(role) {
        Ok(d) => d,
        Err(e) => return vec![Outcome::fail(res, e)],
    };
    let mut requests: Vec<(&str, String, Option<&Bucket>)> = Vec::new();
    for b in ctx.inv.buckets.values() {
        let arn = ctx.bucket(b).arn;
        for a in ["s3:PutObject", "s3:DeleteObject", "s3:GetObject"] {
            requests.push((a, format!("{arn}/any/object"), Some(b)));
        }
        for a in [
            "s3:PutBucketPolicy",
            "s3:DeleteBucket",
            "s3:PutEncryptionConfiguration",
        ] {
            requests.push((a, arn.clone(), Some(b)));
        }
        // Object keys in the personal-data zones are file names, which often name people.
        if matches!(b.zone.as_deref(), Some("landing" | "raw")) {
            requests.push(("s3:ListBucket", arn.clone(), Some(b)));
        }
    }
    for (name, k) in &ctx.inv.keys {
        let arn = ctx.key(name, k).arn;
        for a in [
            "kms:Decrypt",
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
            "kms:PutKeyPolicy",
        ] {
            requests.push((a, arn.clone(), None));
        }
    }
    for r in ctx.inv.roles.values() {
        for a in [
            "iam:PutRolePolicy",
            "iam:AttachRolePolicy",
            "iam:UpdateAssumeRolePolicy",
        ] {
            requests.push((a, ctx.role(r).arn, None));
        }
    }
    for t in ctx.inv.trails.values() {
        for a in [
            "cloudtrail:StopLogging",
            "cloudtrail:DeleteTrail",
            "cloudtrail:UpdateTrail",
        ] {
            requests.push((a, ctx.trail(t).arn, None));
        }
    }
    let granted: Vec<String> = requests
        .iter()
        .filter_map(|(a, resource, bucket)| {
            may(ctx, role, &docs, a, resource, *bucket)
                .map(|by| format!("{a} on {resource} ({by})"))
        })
        .collect();
    vec![Outcome::verdict(
        res,
        (!granted.is_empty()).then(|| {
            format!(
                "the auditor can change or read data: {}",
                granted.into_iter().take(5).collect::<Vec<_>>().join("; ")
            )
        }),
        format!(
            "evaluated {} write and data-read requests: all denied",
            requests.len()
        ),
    )]
}

pub fn etl_cannot_delete_landing(ctx: &Ctx) -> Vec<Outcome> {
    let Some(role) = ctx.platform_role("etl") else {
        return vec![];
    };
    let res = ctx.role(role);
    let Some(landing) = ctx.inv.zone_bucket("landing") else {
        return vec![Outcome::not_applicable(res, "there is no landing bucket")];
    };
    let docs = match Ctx::identity_policies(role) {
        Ok(d) => d,
        Err(e) => return vec![Outcome::fail(res, e)],
    };
    let arn = ctx.bucket(landing).arn;
    let granted: Vec<String> = [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutLifecycleConfiguration",
    ]
    .iter()
    .filter_map(|a| {
        let resource = if a.contains("Lifecycle") {
            arn.clone()
        } else {
            format!("{arn}/any/object.csv")
        };
        may(ctx, role, &docs, a, &resource, Some(landing)).map(|by| format!("{a} ({by})"))
    })
    .collect();
    vec![Outcome::verdict(
        res,
        (!granted.is_empty()).then(|| {
            format!(
                "the ETL role can remove landed files: {}",
                granted.join("; ")
            )
        }),
        format!(
            "evaluated: the ETL role cannot delete from {}",
            landing.name
        ),
    )]
}

fn password(ctx: &Ctx, f: impl Fn(&PasswordPolicy) -> Option<String>, ok: &str) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let r = ctx.account();
    vec![match &ctx.inv.account.password_policy {
        Some(p) => Outcome::verdict(r, f(p), ok),
        None => Outcome::fail(r, "the account has no password policy"),
    }]
}

pub fn password_length(ctx: &Ctx) -> Vec<Outcome> {
    password(
        ctx,
        |p| {
            (p.minimum_length < 14)
                .then(|| format!("minimum length is {}, below 14", p.minimum_length))
        },
        "passwords are at least 14 characters",
    )
}

pub fn password_complexity(ctx: &Ctx) -> Vec<Outcome> {
    password(
        ctx,
        |p| {
            let missing: Vec<&str> = [
                ("symbols", p.require_symbols),
                ("numbers", p.require_numbers),
                ("uppercase", p.require_uppercase),
                ("lowercase", p.require_lowercase),
            ]
            .into_iter()
            .filter(|(_, on)| !on)
            .map(|(n, _)| n)
            .collect();
            (!missing.is_empty())
                .then(|| format!("passwords need not contain {}", missing.join(", ")))
        },
        "passwords need symbols, numbers, uppercase and lowercase",
    )
}

pub fn password_reuse(ctx: &Ctx) -> Vec<Outcome> {
    password(
        ctx,
        |p| match p.reuse_prevention {
            Some(n) if n >= 24 => None,
            Some(n) => Some(format!("only the last {n} passwords are remembered")),
            None => Some("password reuse is not prevented".into()),
        },
        "the last 24 passwords cannot be reused",
    )
}

pub fn password_max_age(ctx: &Ctx) -> Vec<Outcome> {
    password(
        ctx,
        |p| match p.max_age_days {
            Some(d) if (1..=90).contains(&d) => None,
            Some(d) if d > 90 => Some(format!("passwords expire after {d} days")),
            _ => Some("passwords never expire".into()),
        },
        "passwords expire within 90 days",
    )
}
