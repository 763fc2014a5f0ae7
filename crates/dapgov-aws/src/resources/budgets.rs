//! AWS Budgets: read with notifications and subscribers; put; deleted.

use crate::AwsTarget;
use crate::error::{build, sdk};
use crate::read::absent;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

/// A notification's subscribers as `kind:address`; `None` where the endpoint does not serve
/// them (some AWS-compatible endpoints do not): said so rather than guessed.
async fn subscribers_of(
    t: &AwsTarget,
    account: &str,
    name: &str,
    n: &aws_sdk_budgets::types::Notification,
) -> TargetResult<Option<Vec<String>>> {
    let what = format!("budget {name}");
    let asked = t
        .clients
        .budgets
        .describe_subscribers_for_notification()
        .account_id(account)
        .budget_name(name)
        .notification(n.clone())
        .customize()
        // A server error here is an endpoint without the operation, not a blip: ask once.
        .config_override(
            aws_sdk_budgets::config::Builder::default()
                .retry_config(aws_config::retry::RetryConfig::disabled()),
        )
        .send()
        .await;
    if let Err(e) = &asked
        && e.raw_response()
            .is_some_and(|r| r.status().is_server_error())
    {
        tracing::info!(
            "{what}: the endpoint does not report notification subscribers ({})",
            crate::describe(e)
        );
        return Ok(None);
    }
    let subs = absent(
        asked,
        &["NotFoundException"],
        "budgets:DescribeSubscribersForNotification",
        &what,
    )?;
    Ok(Some(
        subs.iter()
            .flat_map(|s| s.subscribers())
            .map(|s| {
                format!(
                    "{}:{}",
                    s.subscription_type().as_str().to_lowercase(),
                    s.address()
                )
            })
            .collect(),
    ))
}

async fn read_all(
    t: &AwsTarget,
    project: &str,
    account: &str,
) -> TargetResult<(BTreeMap<String, Budget>, Vec<String>)> {
    let b = &t.clients.budgets;
    let list = absent(
        b.describe_budgets().account_id(account).send().await,
        &["NotFoundException"],
        "budgets:ViewBudget",
        "the account",
    )?;
    let mut out = BTreeMap::new();
    let mut unreadable = Vec::new();
    for budget in list
        .iter()
        .flat_map(|l| l.budgets())
        .filter(|x| x.budget_name().starts_with(&project_prefix(project)))
    {
        let name = budget.budget_name().to_string();
        let what = format!("budget {name}");
        let notes = absent(
            b.describe_notifications_for_budget()
                .account_id(account)
                .budget_name(&name)
                .send()
                .await,
            &["NotFoundException"],
            "budgets:DescribeNotificationsForBudget",
            &what,
        )?;
        let mut notifications = Vec::new();
        let mut subscribers_readable = true;
        for n in notes.iter().flat_map(|n| n.notifications()) {
            let mut subscribers = vec![];
            if subscribers_readable {
                match subscribers_of(t, account, &name, n).await? {
                    Some(found) => subscribers = found,
                    None => {
                        unreadable.push(format!("budget.{name}:notifications"));
                        subscribers_readable = false;
                    }
                }
            }
            notifications.push(BudgetNotification {
                kind: n.notification_type().as_str().to_string(),
                threshold_percent: n.threshold(),
                subscribers,
            });
        }
        let amount = |s: Option<&aws_sdk_budgets::types::Spend>| {
            s.and_then(|s| s.amount().parse::<f64>().ok())
        };
        let spend = budget.calculated_spend();
        out.insert(
            name.clone(),
            Budget {
                name,
                limit_usd: amount(budget.budget_limit()),
                time_unit: Some(budget.time_unit().as_str().to_string()),
                notifications: Some(notifications),
                actual_usd: amount(spend.and_then(|s| s.actual_spend())),
                forecast_usd: amount(spend.and_then(|s| s.forecasted_spend())),
            },
        );
    }
    Ok((out, unreadable))
}

fn notification(n: &BudgetNotification) -> TargetResult<aws_sdk_budgets::types::Notification> {
    use aws_sdk_budgets::types::*;
    Notification::builder()
        .notification_type(NotificationType::from(n.kind.as_str()))
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(n.threshold_percent)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .map_err(|e| build("a budget notification", e))
}

fn subscribers(n: &BudgetNotification) -> TargetResult<Vec<aws_sdk_budgets::types::Subscriber>> {
    use aws_sdk_budgets::types::*;
    n.subscribers
        .iter()
        .map(|s| {
            let (kind, address) = s.split_once(':').unwrap_or(("email", s));
            let kind = if kind.eq_ignore_ascii_case("sns") {
                SubscriptionType::Sns
            } else {
                SubscriptionType::Email
            };
            Subscriber::builder()
                .subscription_type(kind)
                .address(address)
                .build()
                .map_err(|e| build("a budget subscriber", e))
        })
        .collect()
}

async fn put(t: &AwsTarget, want: Budget, have: Option<Budget>) -> TargetResult<()> {
    let create = have.is_none();
    use aws_sdk_budgets::types::*;
    let b = &t.clients.budgets;
    let account = t.account().await?;
    let what = format!("budget {}", want.name);
    let limit = Spend::builder()
        .amount(format!("{:.2}", want.limit_usd.unwrap_or(0.0)))
        .unit("USD")
        .build()
        .map_err(|e| build("a budget limit", e))?;
    let spec = aws_sdk_budgets::types::Budget::builder()
        .budget_name(&want.name)
        .budget_limit(limit)
        .time_unit(TimeUnit::from(
            want.time_unit.as_deref().unwrap_or("MONTHLY"),
        ))
        .budget_type(BudgetType::Cost)
        .build()
        .map_err(|e| build("a budget", e))?;
    let wanted = want.notifications.clone().unwrap_or_default();
    if create {
        let with: Vec<NotificationWithSubscribers> = wanted
            .iter()
            .map(|n| {
                NotificationWithSubscribers::builder()
                    .notification(notification(n)?)
                    .set_subscribers(Some(subscribers(n)?))
                    .build()
                    .map_err(|e| build("a budget notification", e))
            })
            .collect::<TargetResult<_>>()?;
        b.create_budget()
            .account_id(&account)
            .budget(spec)
            .set_notifications_with_subscribers(Some(with))
            .send()
            .await
            .map_err(|e| sdk("budgets:CreateBudget", &what, e))?;
        return Ok(());
    }
    b.update_budget()
        .account_id(&account)
        .new_budget(spec)
        .send()
        .await
        .map_err(|e| sdk("budgets:ModifyBudget", &what, e))?;
    let existing = have.and_then(|h| h.notifications).unwrap_or_default();
    let same = |a: &BudgetNotification, x: &BudgetNotification| {
        a.kind == x.kind && a.threshold_percent == x.threshold_percent
    };
    for old in existing.iter().filter(|o| {
        !wanted
            .iter()
            .any(|w| same(w, o) && w.subscribers == o.subscribers)
    }) {
        b.delete_notification()
            .account_id(&account)
            .budget_name(&want.name)
            .notification(notification(old)?)
            .send()
            .await
            .map_err(|e| sdk("budgets:DeleteNotification", &what, e))?;
    }
    for new in wanted.iter().filter(|w| {
        !existing
            .iter()
            .any(|o| same(w, o) && w.subscribers == o.subscribers)
    }) {
        b.create_notification()
            .account_id(&account)
            .budget_name(&want.name)
            .notification(notification(new)?)
            .set_subscribers(Some(subscribers(new)?))
            .send()
            .await
            .map_err(|e| sdk("budgets:CreateNotification", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let account = t.account().await?;
    t.clients
        .budgets
        .delete_budget()
        .account_id(account)
        .budget_name(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("budgets:DeleteBudget", &what, e))
}

impl AwsResource for Budget {
    // Budgets authorizes every describe call as ViewBudget.
    const READ_ACTIONS: &'static [&'static str] = &["budgets:ViewBudget"];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        let (resources, unreadable) = read_all(t, scope.project, scope.account).await?;
        Ok(Found {
            resources,
            unreadable,
        })
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
