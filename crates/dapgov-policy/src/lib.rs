//! IAM policy documents: render them from templates, parse them, evaluate a request
//! against them, and lint them before they are applied.
//!
//! The evaluator is what enforces access on the local target and what the auditor uses to
//! prove, for example, that the analyst role cannot read the raw zone. AWS emulators have no
//! policy simulator, so dapgov evaluates policies itself with AWS's rules: an explicit deny
//! wins, then any allow, otherwise the request is implicitly denied.

mod document;
mod eval;
mod lint;
mod render;

pub use document::{Document, OneOrMany, Principal, Statement};
pub use eval::{Decision, Request, evaluate, wildcard_match};
pub use lint::{LintError, LintKind, lint};
pub use render::{RenderError, Templates};
