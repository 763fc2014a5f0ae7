//! AWS Budgets.

use crate::context::{Ctx, Outcome};
use dapgov_inventory::PROJECT_TAG;

pub fn budget_present(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let monthly = ctx.inv.budgets.values().find(|b| {
        b.time_unit.as_deref() == Some("MONTHLY") && b.limit_usd.is_some_and(|l| l > 0.0)
    });
    vec![match monthly {
        Some(b) => Outcome::pass(
            ctx.account(),
            format!(
                "budget {} limits monthly cost to {:.2} USD",
                b.name,
                b.limit_usd.unwrap_or_default()
            ),
        ),
        None => Outcome::fail(
            ctx.account(),
            "no monthly cost budget: overspending is noticed only on the invoice",
        ),
    }]
}

pub fn project_tag_active(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let r = ctx.account();
    if !ctx.inv.is_readable("account", "cost_allocation_tags") {
        return vec![Outcome::not_applicable(
            r,
            "Cost Explorer did not list the cost-allocation tags (a linked account, a role without ce:ListCostAllocationTags, or an endpoint without Cost Explorer; the reason is in the log)",
        )];
    }
    let Some(tags) = &ctx.inv.account.cost_allocation_tags else {
        return vec![Outcome::not_applicable(
            r,
            "the target has no Cost Explorer: its cost is estimated from what the platform stores",
        )];
    };
    vec![match tags.get(PROJECT_TAG).map(String::as_str) {
        Some("Active") => Outcome::pass(r, format!("Cost Explorer counts the {PROJECT_TAG} tag")),
        Some(status) => Outcome::fail(
            r,
            format!(
                "the {PROJECT_TAG} cost-allocation tag is {status}: Cost Explorer cannot split the platform's cost from the account's, so `dapgov cost` shows nothing"
            ),
        ),
        None => Outcome::fail(
            r,
            format!(
                "Cost Explorer has no {PROJECT_TAG} cost-allocation tag yet (it lists a tag once a bill carries it): activate it when it appears"
            ),
        ),
    }]
}

pub fn budget_notifications(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .budgets
        .values()
        .map(|b| {
            if !ctx
                .inv
                .is_readable(&format!("budget.{}", b.name), "notifications")
            {
                return Outcome::not_applicable(
                    ctx.budget(&b.name),
                    "the target could not report this budget's notification subscribers",
                );
            }
            let n = b.notifications.clone().unwrap_or_default();
            let kinds = |k: &str| n.iter().any(|x| x.kind == k && !x.subscribers.is_empty());
            let missing: Vec<&str> = ["ACTUAL", "FORECASTED"]
                .into_iter()
                .filter(|k| !kinds(k))
                .collect();
            Outcome::verdict(
                ctx.budget(&b.name),
                (!missing.is_empty())
                    .then(|| format!("no {} notification with a subscriber", missing.join(" or "))),
                "notifies on actual and forecasted spend",
            )
        })
        .collect()
}

pub fn spend_within_limit(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .budgets
        .values()
        .map(|b| {
            let r = ctx.budget(&b.name);
            let (Some(limit), Some(actual)) = (b.limit_usd, b.actual_usd) else {
                return Outcome::not_applicable(r, "no spend reported for this period yet");
            };
            let forecast = b.forecast_usd.unwrap_or(actual);
            if actual > limit {
                Outcome::fail(
                    r,
                    format!("spend {actual:.2} USD is over the {limit:.2} USD limit"),
                )
            } else if forecast > limit {
                Outcome::fail(
                    r,
                    format!("forecast {forecast:.2} USD is over the {limit:.2} USD limit"),
                )
            } else {
                Outcome::pass(
                    r,
                    format!(
                        "spend {actual:.2} USD, forecast {forecast:.2} USD, limit {limit:.2} USD"
                    ),
                )
            }
        })
        .collect()
}
