//! Athena states the emulator cannot produce on demand, with `aws-smithy-mocks`: results of
//! several pages, a failed query and a query stopped on request.

use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
use aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionOutput;
use aws_sdk_athena::types::{
    AthenaError, ColumnInfo, Datum, QueryExecution, QueryExecutionState, QueryExecutionStatistics,
    QueryExecutionStatus, ResultSet, ResultSetMetadata, Row,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use dapgov_aws::athena::AthenaSql;
use dapgov_target::{Cancel, SqlService};

fn execution(state: QueryExecutionState, reason: Option<&str>) -> GetQueryExecutionOutput {
    let mut status = QueryExecutionStatus::builder().state(state);
    if let Some(r) = reason {
        status = status.athena_error(AthenaError::builder().error_message(r).build());
    }
    GetQueryExecutionOutput::builder()
        .query_execution(
            QueryExecution::builder()
                .query_execution_id("q-1")
                .status(status.build())
                .statistics(
                    QueryExecutionStatistics::builder()
                        .data_scanned_in_bytes(12_345_678)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn row(values: &[&str]) -> Row {
    Row::builder()
        .set_data(Some(
            values
                .iter()
                .map(|v| Datum::builder().var_char_value(*v).build())
                .collect(),
        ))
        .build()
}

fn page(rows: Vec<Row>, next: Option<&str>) -> GetQueryResultsOutput {
    let columns = ["year", "calls_offered"]
        .iter()
        .zip(["integer", "bigint"])
        .map(|(n, t)| ColumnInfo::builder().name(*n).r#type(t).build().unwrap())
        .collect();
    let set = ResultSet::builder()
        .set_rows(Some(rows))
        .result_set_metadata(
            ResultSetMetadata::builder()
                .set_column_info(Some(columns))
                .build(),
        )
        .build();
    GetQueryResultsOutput::builder()
        .result_set(set)
        .set_next_token(next.map(String::from))
        .build()
}

fn started() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_athena::Client::start_query_execution)
        .match_requests(|r| {
            r.work_group() == Some("van311-analytics")
                && r.query_execution_context().and_then(|c| c.database()) == Some("van311_catalog")
        })
        .then_output(|| {
            StartQueryExecutionOutput::builder()
                .query_execution_id("q-1")
                .build()
        })
}

fn never() -> Cancel {
    Box::pin(futures::future::pending())
}

#[tokio::test]
async fn results_of_several_pages_are_read_whole_without_the_header_row() {
    let start = started();
    let states = mock!(aws_sdk_athena::Client::get_query_execution)
        .sequence()
        .output(|| execution(QueryExecutionState::Running, None))
        .output(|| execution(QueryExecutionState::Succeeded, None))
        .build();
    let pages = mock!(aws_sdk_athena::Client::get_query_results)
        .sequence()
        .output(|| {
            page(
                vec![row(&["year", "calls_offered"]), row(&["2019", "100"])],
                Some("t-2"),
            )
        })
        .output(|| page(vec![row(&["2020", "200"]), row(&["2021", "300"])], None))
        .build();
    let client = mock_client!(
        aws_sdk_athena,
        RuleMode::MatchAny,
        [&start, &states, &pages]
    );
    let athena = AthenaSql::new(client, "van311-analytics".into(), "van311_catalog".into());
    let answer = athena
        .run(
            "SELECT year, calls_offered FROM trusted_metrics_yearly",
            never(),
        )
        .await
        .unwrap();
    assert_eq!(
        answer
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.sql_type.as_str()))
            .collect::<Vec<_>>(),
        [("year", "integer"), ("calls_offered", "bigint")]
    );
    let rows: Vec<Vec<String>> = answer
        .rows
        .iter()
        .map(|r| r.iter().map(|v| v.clone().unwrap()).collect())
        .collect();
    assert_eq!(rows, [["2019", "100"], ["2020", "200"], ["2021", "300"]]);
    assert_eq!(answer.bytes_scanned, Some(12_345_678));
    assert_eq!((start.num_calls(), pages.num_calls()), (1, 2));
}

#[tokio::test]
async fn a_failed_query_gives_athenas_reason() {
    let start = started();
    let failed = mock!(aws_sdk_athena::Client::get_query_execution).then_output(|| {
        execution(
            QueryExecutionState::Failed,
            Some("TABLE_NOT_FOUND: line 1:15: Table 'van311_catalog.raw_calls' does not exist"),
        )
    });
    let client = mock_client!(aws_sdk_athena, RuleMode::MatchAny, [&start, &failed]);
    let athena = AthenaSql::new(client, "van311-analytics".into(), "van311_catalog".into());
    let e = athena
        .run("SELECT * FROM raw_calls", never())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("failed") && e.contains("TABLE_NOT_FOUND") && e.contains("q-1"),
        "{e}"
    );
}

#[tokio::test]
async fn a_query_is_stopped_when_cancelled() {
    let start = started();
    let running = mock!(aws_sdk_athena::Client::get_query_execution)
        .then_output(|| execution(QueryExecutionState::Running, None));
    let stop = mock!(aws_sdk_athena::Client::stop_query_execution)
        .match_requests(|r| r.query_execution_id() == Some("q-1"))
        .then_output(|| StopQueryExecutionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_athena,
        RuleMode::MatchAny,
        [&start, &running, &stop]
    );
    let athena = AthenaSql::new(client, "van311-analytics".into(), "van311_catalog".into());
    let e = athena
        .run("SELECT 1", Box::pin(async {}))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("stopped on request"), "{e}");
    assert_eq!(stop.num_calls(), 1);
}
