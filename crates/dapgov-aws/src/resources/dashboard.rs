//! CloudWatch dashboards: read with their body, put, deleted. A dashboard carries no tags, so
//! it is the platform's by its name.

use crate::AwsTarget;
use crate::apply::json;
use crate::error::sdk;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Dashboard>> {
    let cw = &t.clients.cloudwatch;
    let mut names = vec![];
    let mut token = None;
    loop {
        let page = cw
            .list_dashboards()
            .dashboard_name_prefix(project_prefix(project))
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| sdk("cloudwatch:ListDashboards", "the account", e))?;
        names.extend(
            page.dashboard_entries()
                .iter()
                .filter_map(|d| d.dashboard_name())
                .map(String::from),
        );
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut out = BTreeMap::new();
    for name in names {
        let what = format!("dashboard {name}");
        let got = cw
            .get_dashboard()
            .dashboard_name(&name)
            .send()
            .await
            .map_err(|e| sdk("cloudwatch:GetDashboard", &what, e))?;
        let body = got
            .dashboard_body()
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| TargetError::Other(format!("{what}: the body is not JSON: {e}")))
            })
            .transpose()?;
        out.insert(name.clone(), Dashboard { name, body });
    }
    Ok(out)
}

async fn put(t: &AwsTarget, want: Dashboard) -> TargetResult<()> {
    let what = format!("dashboard {}", want.name);
    let body = want
        .body
        .as_ref()
        .ok_or_else(|| TargetError::Other(format!("{what}: no body to put")))?;
    let got = t
        .clients
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&want.name)
        .dashboard_body(json(body))
        .send()
        .await
        .map_err(|e| sdk("cloudwatch:PutDashboard", &what, e))?;
    // CloudWatch accepts a dashboard with widgets it cannot draw, and says so.
    if let Some(m) = got.dashboard_validation_messages().first() {
        tracing::warn!(
            "{what}: {} ({})",
            m.message().unwrap_or_default(),
            m.data_path().unwrap_or_default()
        );
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .cloudwatch
        .delete_dashboards()
        .dashboard_names(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("cloudwatch:DeleteDashboards", &what, e))
}

impl AwsResource for Dashboard {
    const READ_ACTIONS: &'static [&'static str] =
        &["cloudwatch:ListDashboards", "cloudwatch:GetDashboard"];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(read_all(t, scope.project).await?.into())
    }
    // PutDashboard replaces the whole body: creating and updating are one call.
    async fn put(t: &AwsTarget, want: Self, _have: Option<Self>) -> TargetResult<()> {
        put(t, want).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
