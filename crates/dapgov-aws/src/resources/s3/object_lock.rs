//! Object Lock: read only (it can be turned on only when a bucket is created, and dapgov
//! declares none; the audit reads it).

use super::S3;
use crate::read::absent;
use dapgov_inventory::ObjectLock;
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<ObjectLock>> {
    let got = s3.get_object_lock_configuration().bucket(n).send().await;
    Ok(absent(
        got,
        &["ObjectLockConfigurationNotFoundError"],
        "s3:GetBucketObjectLockConfiguration",
        n,
    )?
    .and_then(|o| {
        o.object_lock_configuration().map(|c| {
            let retention = c.rule().and_then(|r| r.default_retention());
            ObjectLock {
                enabled: c
                    .object_lock_enabled()
                    .is_some_and(|e| e.as_str() == "Enabled"),
                mode: retention
                    .and_then(|r| r.mode())
                    .map(|m| m.as_str().to_string()),
                days: retention.and_then(|r| r.days()).map(|d| d as u32),
            }
        })
    }))
}
