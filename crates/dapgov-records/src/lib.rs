//! What the data stages record and the reports read: run manifests and the KPI figures, as
//! types both sides share, so a renamed field fails to compile instead of blanking a report.
//! Serde only: the report renderer compiles no engine.

mod kpi;
mod manifest;

pub use kpi::*;
pub use manifest::*;
