//! KMS keys: rotation, key policies, deletion and state.

use super::{covers, is_public_allow, parse};
use crate::context::{Ctx, Outcome};
use dapgov_inventory::Key;

/// Actions that administer a key rather than use it.
const ADMIN_ACTIONS: [&str; 5] = [
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:CreateGrant",
    "kms:UpdateKeyDescription",
];
/// Actions that use a key on data.
const USE_ACTIONS: [&str; 3] = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"];

fn each(ctx: &Ctx, f: impl Fn(&str, &Key) -> Outcome) -> Vec<Outcome> {
    ctx.inv.keys.iter().map(|(n, k)| f(n, k)).collect()
}

fn state(k: &Key) -> &str {
    k.state.as_deref().unwrap_or("Enabled")
}

/// Who uses the key, by any of its ARN, id or alias.
fn users(ctx: &Ctx, name: &str, k: &Key) -> Vec<String> {
    ctx.key_users()
        .into_iter()
        .filter(|(reference, _)| {
            ctx.find_key(reference).is_some_and(|(n, _)| n == name)
                || k.arn.as_deref() == Some(reference.as_str())
        })
        .map(|(_, user)| user)
        .collect()
}

pub fn rotation_enabled(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        if state(k) != "Enabled" {
            return Outcome::not_applicable(r, format!("the key is {}", state(k)));
        }
        match k.rotation_enabled {
            Some(true) => Outcome::pass(r, "automatic rotation is on"),
            _ => Outcome::fail(r, "automatic rotation is off"),
        }
    })
}

pub fn rotation_period(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        if state(k) != "Enabled" || k.rotation_enabled != Some(true) {
            return Outcome::not_applicable(
                r,
                "automatic rotation is off or the key is not enabled",
            );
        }
        match k.rotation_period_days {
            Some(d) if d <= 365 => Outcome::pass(r, format!("the key rotates every {d} days")),
            Some(d) => Outcome::fail(
                r,
                format!("the key rotates only every {d} days (more than a year)"),
            ),
            None => Outcome::pass(r, "the key rotates on the default yearly schedule"),
        }
    })
}

pub fn not_publicly_accessible(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        let Some(doc) = parse(&k.policy) else {
            return Outcome::not_applicable(r, "the key policy could not be read");
        };
        let found = doc
            .statements()
            .iter()
            .enumerate()
            .find(|(_, st)| is_public_allow(st))
            .map(|(i, st)| format!("key policy {} allows anyone", st.label(i)));
        Outcome::verdict(r, found, "the key policy names its principals")
    })
}

pub fn separation_of_duties(ctx: &Ctx) -> Vec<Outcome> {
    let root = format!(":iam::{}:root", ctx.inv.account_id);
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        let Some(doc) = parse(&k.policy) else {
            return Outcome::not_applicable(r, "the key policy could not be read");
        };
        let mut admins = std::collections::BTreeSet::new();
        let mut users = std::collections::BTreeSet::new();
        for st in doc.statements().iter().filter(|s| s.is_allow()) {
            let ids: Vec<String> = st
                .principal
                .iter()
                .flat_map(|p| p.identifiers())
                .map(|(_, id)| id)
                .collect();
            for id in ids
                .iter()
                .filter(|id| !id.ends_with(&root) && id.as_str() != ctx.inv.account_id)
            {
                if ADMIN_ACTIONS.iter().any(|a| covers(st, a)) {
                    admins.insert(id.clone());
                }
                if USE_ACTIONS.iter().any(|a| covers(st, a)) {
                    users.insert(id.clone());
                }
            }
        }
        let both: Vec<&String> = admins.intersection(&users).collect();
        // A grant gives its holder use of the key without a key policy change, so whoever may
        // create grants may, in effect, use the key.
        let granting: Vec<String> = doc
            .statements()
            .iter()
            .filter(|s| {
                s.is_allow()
                    && covers(s, "kms:CreateGrant")
                    && !USE_ACTIONS.iter().any(|a| covers(s, a))
            })
            .flat_map(|s| {
                s.principal
                    .iter()
                    .flat_map(|p| p.identifiers())
                    .map(|(_, id)| id)
                    .collect::<Vec<_>>()
            })
            .filter(|id| !id.ends_with(&root) && id.as_str() != ctx.inv.account_id)
            .collect();
        let failure = if !both.is_empty() {
            Some(format!(
                "{} both administer and use the key",
                both.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        } else if !granting.is_empty() {
            Some(format!(
                "{} may create grants (kms:CreateGrant) and so give themselves use of the key",
                granting.join(", ")
            ))
        } else {
            None
        };
        Outcome::verdict(
            r,
            failure,
            "key administrators and key users are different principals, and administrators cannot grant themselves use",
        )
    })
}

pub fn not_pending_deletion_in_use(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        if state(k) != "PendingDeletion" {
            return Outcome::pass(
                r,
                format!("the key is {}, not scheduled for deletion", state(k)),
            );
        }
        let used_by = users(ctx, name, k);
        Outcome::verdict(
            r,
            (!used_by.is_empty()).then(|| {
                format!(
                    "the key is scheduled for deletion but still protects {}",
                    used_by.join(", ")
                )
            }),
            "the key is scheduled for deletion and nothing uses it",
        )
    })
}

pub fn in_use_enabled(ctx: &Ctx) -> Vec<Outcome> {
    each(ctx, |name, k| {
        let r = ctx.key(name, k);
        let used_by = users(ctx, name, k);
        if used_by.is_empty() {
            return Outcome::not_applicable(r, "no resource of the platform uses this key");
        }
        Outcome::verdict(
            r,
            (state(k) != "Enabled").then(|| {
                format!(
                    "the key is {} but {} depend on it: their data cannot be read or written",
                    state(k),
                    used_by.join(", ")
                )
            }),
            format!("enabled, used by {}", used_by.join(", ")),
        )
    })
}
