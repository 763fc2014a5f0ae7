//! AWS Budgets.

use crate::context::{Ctx, Outcome};

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
