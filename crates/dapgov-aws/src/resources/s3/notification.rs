//! Events to EventBridge: read and written here, side by side. Only EventBridge delivery is
//! managed; a bucket's other notification targets are kept as they are.

use super::S3;
use crate::error::sdk;
use dapgov_target::TargetResult;

type Notifications =
    aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;

/// The bucket's notification configuration. An empty answer (which some S3-compatible stores
/// give a bucket with none, where S3 answers an empty document) is none.
async fn get(s3: &S3, n: &str) -> TargetResult<Notifications> {
    use aws_sdk_s3::error::SdkError;
    match s3
        .get_bucket_notification_configuration()
        .bucket(n)
        .send()
        .await
    {
        Ok(got) => Ok(got),
        Err(SdkError::ServiceError(e))
            if e.raw().status().as_u16() == 200
                && e.raw().body().bytes().is_some_and(|b| b.is_empty()) =>
        {
            Ok(Notifications::builder().build())
        }
        Err(e) => Err(sdk("s3:GetBucketNotification", n, e)),
    }
}

/// `Some(true)` when the bucket sends its events to EventBridge (`None` otherwise: dapgov
/// declares it only where it wants it on).
pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<bool>> {
    Ok(get(s3, n).await?.event_bridge_configuration().map(|_| true))
}

pub(super) async fn put(s3: &S3, n: &str, on: bool) -> TargetResult<()> {
    use aws_sdk_s3::types::{EventBridgeConfiguration, NotificationConfiguration};
    let what = format!("bucket {n}");
    let have = get(s3, n).await?;
    let conf = NotificationConfiguration::builder()
        .set_topic_configurations(Some(have.topic_configurations().to_vec()))
        .set_queue_configurations(Some(have.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(have.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(on.then(|| EventBridgeConfiguration::builder().build()))
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(n)
        .notification_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketNotification", &what, e))?;
    Ok(())
}
