//! One file per kind of resource, its read, put and delete side by side, so what dapgov
//! reads and what it writes agree property by property. Each kind implements
//! [`AwsResource`] once; `read.rs` and `apply.rs` reach every kind through the Inventory's
//! registry of kinds (`dapgov_inventory::with_kind!`), so a kind without an implementation
//! here does not compile.

pub(crate) mod account;
pub(crate) mod athena;
pub(crate) mod budgets;
pub(crate) mod cloudtrail;
pub(crate) mod cloudwatch;
pub(crate) mod dashboard;
pub(crate) mod events;
pub(crate) mod glue;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod lambda;
pub(crate) mod logs;
pub(crate) mod s3;
pub(crate) mod scheduler;
pub(crate) mod sns;
pub(crate) mod sqs;

use crate::AwsTarget;
use dapgov_inventory::Resource;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;
use std::future::Future;

/// What every read of a kind is given.
pub(crate) struct ReadScope<'a> {
    pub project: &'a str,
    pub account: &'a str,
}

/// What a read of one kind found, and the properties it could not read (as
/// `<address>:<property>`).
pub(crate) struct Found<R> {
    pub resources: BTreeMap<String, R>,
    pub unreadable: Vec<String>,
}

impl<R> From<BTreeMap<String, R>> for Found<R> {
    fn from(resources: BTreeMap<String, R>) -> Self {
        Found {
            resources,
            unreadable: vec![],
        }
    }
}

/// A setting of a kind by its property name, and whether a resource read back lacks it.
pub(crate) type Setting<R> = (&'static str, fn(&R) -> bool);

impl<R: Resource> Found<R> {
    /// What was read, with the settings an endpoint other than AWS's may accept without
    /// keeping them (`AwsTarget::custom_endpoint`): each `(property, absent)` read back absent
    /// there is unreadable, not drift. Against AWS they are compared like every property.
    pub(crate) fn kept_only_by_aws(
        t: &AwsTarget,
        resources: BTreeMap<String, R>,
        settings: &[Setting<R>],
    ) -> Self {
        let unreadable = if t.custom_endpoint() {
            resources
                .iter()
                .flat_map(|(name, r)| {
                    settings
                        .iter()
                        .filter(|(_, absent)| absent(r))
                        .map(move |(property, _)| format!("{}.{name}:{property}", R::ADDRESS))
                })
                .collect()
        } else {
            vec![]
        };
        Found {
            resources,
            unreadable,
        }
    }
}

/// A kind of resource on AWS: how it is read, created or updated, and deleted.
pub(crate) trait AwsResource: Resource {
    /// The IAM actions reading this kind needs: the auditor role must allow each.
    const READ_ACTIONS: &'static [&'static str];

    /// Every resource of the kind named for the project (ownership is decided afterwards,
    /// for every kind alike).
    fn read_all(
        t: &AwsTarget,
        scope: &ReadScope<'_>,
    ) -> impl Future<Output = TargetResult<Found<Self>>> + Send;

    /// Writes every property `want` declares: creates the resource when `have` (what was
    /// observed) is `None`, else updates it. Each call is idempotent, so drift repair and a
    /// retry after a failure part-way are the same path.
    fn put(
        t: &AwsTarget,
        want: Self,
        have: Option<Self>,
    ) -> impl Future<Output = TargetResult<()>> + Send;

    fn delete(t: &AwsTarget, c: &ChangeRequest) -> impl Future<Output = TargetResult<()>> + Send;
}
