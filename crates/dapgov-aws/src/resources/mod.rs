//! One file per kind of resource, its read, put and delete side by side, so what dapgov
//! reads and what it writes agree property by property. `read.rs` gathers the Inventory from
//! them; `apply.rs` sends each change to its kind.

pub(crate) mod account;
pub(crate) mod athena;
pub(crate) mod budgets;
pub(crate) mod cloudtrail;
pub(crate) mod cloudwatch;
pub(crate) mod dashboard;
pub(crate) mod glue;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod logs;
pub(crate) mod s3;
pub(crate) mod sns;
