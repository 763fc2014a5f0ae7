//! Queries in Athena, as the session's role: in the platform's workgroup (its encryption,
//! result location and bytes-scanned cutoff apply) against the platform's Glue database.

use crate::error::sdk;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultSet};
use dapgov_target::{Cancel, SqlAnswer, SqlColumn, SqlService, TargetError, TargetResult};
use std::time::Duration;

pub struct AthenaSql {
    pub(crate) client: aws_sdk_athena::Client,
    pub(crate) workgroup: String,
    pub(crate) database: String,
    /// How long to wait between polls of a running query.
    pub(crate) poll: Duration,
}

impl AthenaSql {
    /// Athena in `workgroup`, reading `database`, through `client` (the role's credentials).
    pub fn new(client: aws_sdk_athena::Client, workgroup: String, database: String) -> Self {
        Self {
            client,
            workgroup,
            database,
            poll: Duration::from_millis(250),
        }
    }

    /// Wait until the query ends; cancelled, it is stopped first.
    async fn wait(&self, id: &str, mut cancel: Cancel) -> TargetResult<Option<i64>> {
        let what = format!("query {id} in workgroup {}", self.workgroup);
        loop {
            let got = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| sdk("athena:GetQueryExecution", &what, e))?;
            let execution = got.query_execution();
            let status = execution.and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    return Ok(execution
                        .and_then(|q| q.statistics())
                        .and_then(|s| s.data_scanned_in_bytes()));
                }
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    let reason = status
                        .and_then(|s| s.athena_error())
                        .and_then(|e| e.error_message())
                        .or_else(|| status.and_then(|s| s.state_change_reason()));
                    return Err(TargetError::Other(format!(
                        "Athena {what} {}: {}",
                        state.as_str().to_lowercase(),
                        reason.unwrap_or("no reason given")
                    )));
                }
                _ => {}
            }
            tokio::select! {
                _ = &mut cancel => {
                    self.client.stop_query_execution().query_execution_id(id).send().await.map_err(|e| sdk("athena:StopQueryExecution", &what, e))?;
                    return Err(TargetError::Other(format!("Athena {what}: stopped on request (StopQueryExecution sent)")));
                }
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

/// Rows of one page as text; the header row Athena puts first on a query's first page is
/// left out (it repeats the column names).
fn page_rows(
    page: &ResultSet,
    columns: &[SqlColumn],
    first_page: bool,
) -> Vec<Vec<Option<String>>> {
    let rows: Vec<Vec<Option<String>>> = page
        .rows()
        .iter()
        .map(|r| {
            r.data()
                .iter()
                .map(|d| d.var_char_value().map(String::from))
                .collect()
        })
        .collect();
    let is_header = |r: &Vec<Option<String>>| {
        r.len() == columns.len()
            && r.iter()
                .zip(columns)
                .all(|(v, c)| v.as_deref() == Some(c.name.as_str()))
    };
    let skip = usize::from(first_page && rows.first().is_some_and(is_header));
    rows.into_iter().skip(skip).collect()
}

#[async_trait::async_trait]
impl SqlService for AthenaSql {
    fn engine(&self) -> &'static str {
        "athena"
    }

    async fn run(&self, sql: &str, cancel: Cancel) -> TargetResult<SqlAnswer> {
        let what = format!("workgroup {}", self.workgroup);
        let started = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.database)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk("athena:StartQueryExecution", &what, e))?;
        let id = started
            .query_execution_id()
            .ok_or_else(|| {
                TargetError::Other(format!("Athena in {what} started a query without an id"))
            })?
            .to_string();
        let bytes_scanned = self.wait(&id, cancel).await?;
        let mut answer = SqlAnswer {
            query_id: id.clone(),
            bytes_scanned,
            ..Default::default()
        };
        let mut pages = self
            .client
            .get_query_results()
            .query_execution_id(&id)
            .into_paginator()
            .send();
        let mut first = true;
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sdk("athena:GetQueryResults", &format!("query {id}"), e))?;
            let Some(set) = page.result_set() else {
                continue;
            };
            if first {
                answer.columns = set
                    .result_set_metadata()
                    .map(|m| m.column_info())
                    .unwrap_or_default()
                    .iter()
                    .map(|c| SqlColumn {
                        name: c.name().to_string(),
                        sql_type: c.r#type().to_string(),
                        precision: Some(c.precision()),
                        scale: Some(c.scale()),
                    })
                    .collect();
            }
            answer.rows.extend(page_rows(set, &answer.columns, first));
            first = false;
        }
        Ok(answer)
    }
}
