//! What the platform cost, from Cost Explorer: `GetCostAndUsage` filtered to the platform's
//! `project` tag, month by month, grouped by service or by the `zone` tag, and
//! `GetCostForecast` for the rest of this month. Cost Explorer answers from us-east-1.

use crate::AwsTarget;
use crate::error::{code, sdk};
use aws_sdk_costexplorer::types::{
    CostAllocationTagType, DateInterval, Dimension, Expression, Granularity, GroupDefinition,
    GroupDefinitionType, Metric, TagValues,
};
use chrono::{Datelike, NaiveDate};
use dapgov_inventory::PROJECT_TAG;
use dapgov_target::{CostGrouping, CostReport, MonthCost, TargetError, TargetResult};
use std::collections::BTreeMap;

/// The cost-allocation tag the resources carry for their zone.
const ZONE_TAG: &str = "zone";
const METRIC: &str = "UnblendedCost";

fn first_of_month(d: NaiveDate, back: u32) -> NaiveDate {
    let months = d.year() * 12 + d.month0() as i32 - back as i32;
    NaiveDate::from_ymd_opt(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)
        .expect("a first of the month")
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> TargetResult<T> {
    r.map_err(|e| TargetError::Other(format!("building {what}: {e}")))
}

/// Cost Explorer for the target's account, in the region it answers from.
pub(crate) fn client(t: &AwsTarget) -> TargetResult<aws_sdk_costexplorer::Client> {
    let conf = t.conf.as_ref().ok_or_else(|| {
        TargetError::Other("Cost Explorer needs a target loaded from the AWS configuration".into())
    })?;
    let ce_conf = aws_sdk_costexplorer::config::Builder::from(conf)
        .region(aws_types::region::Region::new(
            dapgov_inventory::BILLING_REGION,
        ))
        .build();
    Ok(aws_sdk_costexplorer::Client::from_conf(ce_conf))
}

fn group_definition(by: CostGrouping) -> GroupDefinition {
    match by {
        CostGrouping::Service => GroupDefinition::builder()
            .r#type(GroupDefinitionType::Dimension)
            .key(Dimension::Service.as_str())
            .build(),
        CostGrouping::Zone => GroupDefinition::builder()
            .r#type(GroupDefinitionType::Tag)
            .key(ZONE_TAG)
            .build(),
    }
}

/// One month of Cost Explorer's answer: its total and its groups.
fn month_cost(r: &aws_sdk_costexplorer::types::ResultByTime) -> MonthCost {
    let month = r
        .time_period()
        .map(|p| p.start().chars().take(7).collect())
        .unwrap_or_default();
    let mut groups = BTreeMap::new();
    for g in r.groups() {
        let amount: f64 = g
            .metrics()
            .and_then(|m| m.get(METRIC))
            .and_then(|v| v.amount())
            .and_then(|a| a.parse().ok())
            .unwrap_or(0.0);
        // A tag group is `zone$raw`; resources without the tag come as `zone$`.
        let key = g.keys().join(", ");
        let key = match key.strip_prefix(&format!("{ZONE_TAG}$")) {
            Some("") => "untagged".to_string(),
            Some(k) => k.to_string(),
            None => key,
        };
        *groups.entry(key).or_insert(0.0) += amount;
    }
    let total = r
        .total()
        .and_then(|t| t.get(METRIC))
        .and_then(|v| v.amount())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| groups.values().sum());
    MonthCost {
        month,
        total,
        groups,
    }
}

/// A month answered on more than one page is added up.
fn add_month(out: &mut Vec<MonthCost>, month: MonthCost) {
    match out.iter_mut().find(|m| m.month == month.month) {
        Some(m) => {
            m.total += month.total;
            for (k, v) in month.groups {
                *m.groups.entry(k).or_insert(0.0) += v;
            }
        }
        None => out.push(month),
    }
}

/// What Cost Explorer forecasts for the rest of the month; why not, when it cannot.
async fn rest_of_month(
    ce: &aws_sdk_costexplorer::Client,
    period: DateInterval,
    tagged: Expression,
    what: &str,
) -> Result<f64, String> {
    let asked = ce
        .get_cost_forecast()
        .time_period(period)
        .metric(Metric::UnblendedCost)
        .granularity(Granularity::Monthly)
        .filter(tagged)
        .send()
        .await;
    match asked {
        Ok(f) => Ok(f
            .total()
            .and_then(|t| t.amount())
            .and_then(|a| a.parse().ok())
            .unwrap_or(0.0)),
        // Cost Explorer forecasts only from enough history; the months are still worth showing.
        Err(e) if code(&e) == Some("DataUnavailableException") => {
            Err("Cost Explorer has too little history for this filter".into())
        }
        Err(e) => Err(sdk("ce:GetCostForecast", what, e).to_string()),
    }
}

pub(crate) async fn report(
    ce: &aws_sdk_costexplorer::Client,
    project: &str,
    months: u32,
    by: CostGrouping,
    today: NaiveDate,
) -> TargetResult<CostReport> {
    let (start, end) = (
        first_of_month(today, months.max(1) - 1),
        today.succ_opt().expect("tomorrow"),
    );
    let tagged = Expression::builder()
        .tags(
            TagValues::builder()
                .key(PROJECT_TAG)
                .values(project)
                .build(),
        )
        .build();
    let group = group_definition(by);
    let period = build(
        DateInterval::builder()
            .start(start.to_string())
            .end(end.to_string())
            .build(),
        "the time period",
    )?;
    let what = format!("the cost of project {project}");
    let mut out: Vec<MonthCost> = vec![];
    let mut token = None;
    loop {
        let page = ce
            .get_cost_and_usage()
            .time_period(period.clone())
            .granularity(Granularity::Monthly)
            .metrics(METRIC)
            .filter(tagged.clone())
            .group_by(group.clone())
            .set_next_page_token(token)
            .send()
            .await
            .map_err(|e| sdk("ce:GetCostAndUsage", &what, e))?;
        for r in page.results_by_time() {
            add_month(&mut out, month_cost(r));
        }
        token = page.next_page_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut notes = vec![format!(
        "Cost Explorer, {METRIC}, resources tagged {PROJECT_TAG} = {project} (activate the tag as a cost-allocation tag for it to count)"
    )];
    let next_month = first_of_month(today, 0)
        .checked_add_months(chrono::Months::new(1))
        .expect("next month");
    let forecast_period = build(
        DateInterval::builder()
            .start(end.to_string())
            .end(next_month.to_string())
            .build(),
        "the forecast period",
    )?;
    let so_far = out
        .iter()
        .find(|m| m.month == today.format("%Y-%m").to_string())
        .map(|m| m.total)
        .unwrap_or(0.0);
    let forecast = if end >= next_month {
        None
    } else {
        match rest_of_month(ce, forecast_period, tagged, &what).await {
            Ok(rest) => Some(so_far + rest),
            Err(why) => {
                notes.push(format!("no forecast: {why}"));
                None
            }
        }
    };
    Ok(CostReport {
        estimated: false,
        currency: "USD".into(),
        by,
        months: out,
        forecast,
        notes,
    })
}

/// Whether Cost Explorer counts the `project` tag: its status (`Active`, `Inactive`) by tag
/// key, absent when Cost Explorer has not seen the key on any billed resource. `Err` carries
/// why the list could not be read (a linked account, a role without `ce:` read, an endpoint
/// without Cost Explorer): the audit then says the check does not apply, and why.
pub(crate) async fn allocation_tags(
    ce: &aws_sdk_costexplorer::Client,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = ce
            .list_cost_allocation_tags()
            .tag_keys(PROJECT_TAG)
            .r#type(CostAllocationTagType::UserDefined)
            .set_next_token(token)
            .customize()
            // An endpoint without the operation answers with a server error: ask once.
            .config_override(
                aws_sdk_costexplorer::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| crate::describe(&e))?;
        for t in page.cost_allocation_tags() {
            out.insert(t.tag_key().to_string(), t.status().as_str().to_string());
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_costexplorer::operation::get_cost_and_usage::GetCostAndUsageOutput;
    use aws_sdk_costexplorer::operation::get_cost_forecast::{
        GetCostForecastError, GetCostForecastOutput,
    };
    use aws_sdk_costexplorer::types::{DateInterval, Group, MetricValue, ResultByTime};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn month(start: &str, end: &str, groups: &[(&str, &str)]) -> ResultByTime {
        let mut r = ResultByTime::builder().time_period(
            DateInterval::builder()
                .start(start)
                .end(end)
                .build()
                .unwrap(),
        );
        for (k, v) in groups {
            r = r.groups(
                Group::builder()
                    .keys(*k)
                    .metrics(
                        METRIC,
                        MetricValue::builder().amount(*v).unit("USD").build(),
                    )
                    .build(),
            );
        }
        r.build()
    }

    #[tokio::test]
    async fn months_by_zone_and_the_forecast_beside_them() {
        let usage = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
            .match_requests(|r| {
                r.filter()
                    .and_then(|f| f.tags())
                    .is_some_and(|t| t.key() == Some("project") && t.values() == ["van311"])
            })
            .then_output(|| {
                GetCostAndUsageOutput::builder()
                    .results_by_time(month(
                        "2026-10-01",
                        "2026-11-01",
                        &[
                            ("zone$raw", "1.25"),
                            ("zone$curated", "2.50"),
                            ("zone$", "0.05"),
                        ],
                    ))
                    .results_by_time(month("2026-11-01", "2026-11-15", &[("zone$raw", "0.75")]))
                    .build()
            });
        let forecast = mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_output(|| {
            GetCostForecastOutput::builder()
                .total(MetricValue::builder().amount("1.00").unit("USD").build())
                .build()
        });
        let ce = mock_client!(
            aws_sdk_costexplorer,
            RuleMode::MatchAny,
            [&usage, &forecast]
        );
        let r = report(
            &ce,
            "van311",
            2,
            CostGrouping::Zone,
            NaiveDate::from_ymd_opt(2026, 11, 14).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(
            r.months
                .iter()
                .map(|m| m.month.as_str())
                .collect::<Vec<_>>(),
            ["2026-10", "2026-11"]
        );
        assert_eq!(r.months[0].groups.get("untagged"), Some(&0.05));
        assert!(
            (r.months[0].total - 3.80).abs() < 1e-9,
            "{}",
            r.months[0].total
        );
        // The forecast is the month so far plus what Cost Explorer expects for the rest.
        assert_eq!(r.forecast, Some(1.75));
        assert!(!r.estimated);
    }

    #[tokio::test]
    async fn a_forecast_cost_explorer_cannot_make_is_a_note_not_a_failure() {
        let usage = mock!(aws_sdk_costexplorer::Client::get_cost_and_usage)
            .then_output(|| GetCostAndUsageOutput::builder().build());
        let forecast = mock!(aws_sdk_costexplorer::Client::get_cost_forecast).then_error(|| {
            GetCostForecastError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("DataUnavailableException")
                    .message("Insufficient amount of historical data")
                    .build(),
            )
        });
        let ce = mock_client!(
            aws_sdk_costexplorer,
            RuleMode::MatchAny,
            [&usage, &forecast]
        );
        let r = report(
            &ce,
            "van311",
            1,
            CostGrouping::Service,
            NaiveDate::from_ymd_opt(2026, 11, 14).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(r.forecast, None);
        assert!(
            r.notes.iter().any(|n| n.contains("too little history")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn months_back_cross_the_year() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
        assert_eq!(first_of_month(d, 0).to_string(), "2026-02-01");
        assert_eq!(first_of_month(d, 2).to_string(), "2025-12-01");
        assert_eq!(first_of_month(d, 14).to_string(), "2024-12-01");
    }

    #[tokio::test]
    async fn the_project_tags_status_is_read_across_pages_and_a_refusal_says_why() {
        use aws_sdk_costexplorer::operation::list_cost_allocation_tags::{
            ListCostAllocationTagsError, ListCostAllocationTagsOutput,
        };
        use aws_sdk_costexplorer::types::{CostAllocationTag, CostAllocationTagStatus};
        let tag = |key: &str, status| {
            CostAllocationTag::builder()
                .tag_key(key)
                .r#type(CostAllocationTagType::UserDefined)
                .status(status)
                .build()
                .unwrap()
        };
        let first = mock!(aws_sdk_costexplorer::Client::list_cost_allocation_tags)
            .match_requests(|r| {
                r.next_token().is_none() && r.tag_keys() == [PROJECT_TAG.to_string()]
            })
            .then_output(move || {
                ListCostAllocationTagsOutput::builder()
                    .cost_allocation_tags(tag("project", CostAllocationTagStatus::Inactive))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_costexplorer::Client::list_cost_allocation_tags)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(move || {
                ListCostAllocationTagsOutput::builder()
                    .cost_allocation_tags(tag("Project", CostAllocationTagStatus::Active))
                    .build()
            });
        let ce = mock_client!(aws_sdk_costexplorer, RuleMode::MatchAny, [&first, &second]);
        let tags = allocation_tags(&ce).await.unwrap();
        assert_eq!(
            tags,
            BTreeMap::from([
                ("Project".to_string(), "Active".to_string()),
                ("project".to_string(), "Inactive".to_string())
            ])
        );

        let refused =
            mock!(aws_sdk_costexplorer::Client::list_cost_allocation_tags).then_error(|| {
                ListCostAllocationTagsError::generic(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("Linked account doesn't have access to cost allocation tags")
                        .build(),
                )
            });
        let ce = mock_client!(aws_sdk_costexplorer, [&refused]);
        let why = allocation_tags(&ce).await.unwrap_err();
        assert!(
            why.contains("AccessDeniedException") && why.contains("Linked account"),
            "{why}"
        );
    }
}
