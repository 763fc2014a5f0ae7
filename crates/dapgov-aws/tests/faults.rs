//! Faults the emulator cannot produce on demand, with `aws-smithy-mocks`: throttling and 5xx
//! answers are retried, an exhausted retry or an AccessDenied becomes an error naming the
//! action and resource, and an apply that failed part-way converges when run again.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use dapgov_aws::{AwsTarget, Clients};
use dapgov_inventory::{ResourceKind, ResourceRef};
use dapgov_target::{ChangeAction, ChangeRequest, Target, TargetError};
use std::time::Duration;

fn clients() -> Clients {
    // Clients the test does not mock never send anything.
    let conf = aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_types::region::Region::new("ca-central-1"))
        .build();
    Clients::from_conf(&conf)
}

fn fast_retries(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn sts() -> aws_sdk_sts::Client {
    let who = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
        aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput::builder()
            .account("123456789012")
            .arn("arn:aws:iam::123456789012:user/ops")
            .build()
    });
    mock_client!(aws_sdk_sts, RuleMode::MatchAny, [&who])
}

fn create(kind: ResourceKind, name: &str, desired: serde_json::Value) -> ChangeRequest {
    ChangeRequest {
        resource: ResourceRef {
            kind,
            name: name.into(),
        },
        action: ChangeAction::Create,
        desired: Some(desired),
        observed: None,
        force_delete_data: false,
    }
}

fn xml_error(status: u16, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    );
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn key_request() -> ChangeRequest {
    create(
        ResourceKind::Key,
        "p-pii",
        serde_json::json!({"alias": "p-pii", "description": "pii", "rotation_enabled": true, "rotation_period_days": 365}),
    )
}

#[tokio::test]
async fn throttling_and_5xx_are_retried_until_the_call_succeeds() {
    let create_key = mock!(aws_sdk_kms::Client::create_key)
        .sequence()
        .http_response(|| {
            Response::new(
                StatusCode::try_from(400).unwrap(),
                SdkBody::from(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#),
            )
        })
        .http_status(503, None)
        .output(|| {
            aws_sdk_kms::operation::create_key::CreateKeyOutput::builder()
                .key_metadata(
                    aws_sdk_kms::types::KeyMetadata::builder()
                        .key_id("k-1")
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .build();
    let alias = mock!(aws_sdk_kms::Client::create_alias)
        .then_output(|| aws_sdk_kms::operation::create_alias::CreateAliasOutput::builder().build());
    let rotation = mock!(aws_sdk_kms::Client::enable_key_rotation).then_output(|| {
        aws_sdk_kms::operation::enable_key_rotation::EnableKeyRotationOutput::builder().build()
    });
    let mut c = clients();
    c.kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&create_key, &alias, &rotation],
        |b| b.retry_config(fast_retries(5))
    );
    let t = AwsTarget::with_clients(c, "ca-central-1");
    t.apply(&key_request()).await.expect("retried to success");
    assert_eq!(
        create_key.num_calls(),
        3,
        "one throttled, one 503, one success"
    );
    assert_eq!((alias.num_calls(), rotation.num_calls()), (1, 1));
}

#[tokio::test]
async fn exhausted_retries_name_the_action_and_resource() {
    let create_key = mock!(aws_sdk_kms::Client::create_key)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let mut c = clients();
    c.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&create_key], |b| b
        .retry_config(fast_retries(3)));
    let err = AwsTarget::with_clients(c, "ca-central-1")
        .apply(&key_request())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kms:CreateKey") && err.contains("alias/p-pii"),
        "{err}"
    );
    assert_eq!(create_key.num_calls(), 3);
}

#[tokio::test]
async fn access_denied_names_the_action_resource_and_reason() {
    let create_role = mock!(aws_sdk_iam::Client::create_role).then_http_response(|| {
        xml_error(
            403,
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:CreateRole",
        )
    });
    let mut c = clients();
    c.iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&create_role]);
    let req = create(
        ResourceKind::Role,
        "p-etl",
        serde_json::json!({"name": "p-etl", "trust_policy": {"Version": "2012-10-17", "Statement": []}}),
    );
    match AwsTarget::with_clients(c, "ca-central-1")
        .apply(&req)
        .await
        .unwrap_err()
    {
        TargetError::AccessDenied {
            action,
            resource,
            reason,
            ..
        } => {
            assert_eq!(
                (action.as_str(), resource.as_str()),
                ("iam:CreateRole", "role p-etl")
            );
            assert!(reason.unwrap_or_default().contains("not authorized"));
        }
        other => panic!("expected AccessDenied, got {other}"),
    }
}

#[tokio::test]
async fn an_apply_that_failed_part_way_converges_when_run_again() {
    use aws_sdk_s3::operation::{
        create_bucket::CreateBucketOutput, put_bucket_encryption::PutBucketEncryptionOutput,
        put_bucket_versioning::PutBucketVersioningOutput,
    };
    let desired = serde_json::json!({"name": "p-raw-1", "region": "ca-central-1",
        "encryption": {"algorithm": "aws:kms", "kms_key": "arn:aws:kms:ca-central-1:123456789012:key/k-1", "bucket_key_enabled": true},
        "versioning": "Enabled"});

    // First attempt: the bucket is created, then setting its encryption fails.
    let created = mock!(aws_sdk_s3::Client::create_bucket)
        .then_output(|| CreateBucketOutput::builder().build());
    let broken = mock!(aws_sdk_s3::Client::put_bucket_encryption)
        .then_http_response(|| xml_error(500, "InternalError", "We encountered an internal error"));
    let mut c = clients();
    c.s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&created, &broken], |b| b
        .retry_config(fast_retries(1)));
    c.sts = sts();
    let err = AwsTarget::with_clients(c, "ca-central-1")
        .apply(&create(ResourceKind::Bucket, "p-raw-1", desired.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3:PutEncryptionConfiguration") && err.contains("p-raw-1"),
        "{err}"
    );

    // Second attempt: the bucket already exists (ours), and every property is written.
    let exists = mock!(aws_sdk_s3::Client::create_bucket).then_http_response(|| {
        Response::new(
            StatusCode::try_from(409).unwrap(),
            SdkBody::from(
                "<Error><Code>BucketAlreadyOwnedByYou</Code><Message>yours</Message></Error>",
            ),
        )
    });
    let encrypted = mock!(aws_sdk_s3::Client::put_bucket_encryption)
        .then_output(|| PutBucketEncryptionOutput::builder().build());
    let versioned = mock!(aws_sdk_s3::Client::put_bucket_versioning)
        .then_output(|| PutBucketVersioningOutput::builder().build());
    let mut c = clients();
    c.s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&exists, &encrypted, &versioned]
    );
    c.sts = sts();
    AwsTarget::with_clients(c, "ca-central-1")
        .apply(&create(ResourceKind::Bucket, "p-raw-1", desired))
        .await
        .expect("converges");
    assert_eq!(
        (
            exists.num_calls(),
            encrypted.num_calls(),
            versioned.num_calls()
        ),
        (1, 1, 1)
    );
}
