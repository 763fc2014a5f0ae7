//! What the platform records and the reports read: run manifests, the KPI figures and the
//! cost, as types both sides share, so a renamed field fails to compile instead of blanking a
//! report. Serde only: the report renderer compiles neither the engine nor a target.

mod cost;
mod kpi;
mod manifest;

pub use cost::*;
pub use kpi::*;
pub use manifest::*;
