use crate::document::Document;
use crate::eval::wildcard_match;

/// Why a policy document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy}: {statement}: {problem}")]
pub struct LintError {
    pub kind: LintKind,
    pub policy: String,
    pub statement: String,
    pub problem: String,
}

/// What a refused statement does wrong; the auditor reports each kind as its own check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintKind {
    AllActions,
    NotAction,
    PassRoleOnAll,
    WriteOnAllResources,
    Escalation,
}

/// Action prefixes that change state. Read-only verbs (Get, List, Describe, ...) are not here.
const WRITE_VERBS: &[&str] = &[
    "put",
    "create",
    "delete",
    "update",
    "attach",
    "detach",
    "set",
    "write",
    "modify",
    "tag",
    "untag",
    "restore",
    "copy",
    "upload",
    "abort",
    "start",
    "stop",
    "pass",
    "add",
    "remove",
    "replace",
    "enable",
    "disable",
    "schedule",
    "cancel",
    "import",
    "encrypt",
    "decrypt",
    "generatedatakey",
    "reencrypt",
    "batchwrite",
    "batchdelete",
];

/// Pairs (or single actions) known to let a principal raise its own privileges.
const ESCALATIONS: &[&[&str]] = &[
    &["iam:CreatePolicyVersion"],
    &["iam:SetDefaultPolicyVersion"],
    &["iam:AttachRolePolicy"],
    &["iam:AttachUserPolicy"],
    &["iam:PutRolePolicy"],
    &["iam:PutUserPolicy"],
    &["iam:UpdateAssumeRolePolicy"],
    &["iam:CreateAccessKey"],
    &["iam:CreateLoginProfile"],
    &["iam:UpdateLoginProfile"],
    &["iam:PassRole", "lambda:CreateFunction"],
    &["iam:PassRole", "ec2:RunInstances"],
    &["iam:PassRole", "glue:CreateDevEndpoint"],
    &["iam:PassRole", "glue:CreateJob"],
    &["iam:PassRole", "cloudformation:CreateStack"],
];

fn is_write(action: &str) -> bool {
    let verb = action
        .split(':')
        .nth(1)
        .unwrap_or(action)
        .to_ascii_lowercase();
    verb == "*"
        || WRITE_VERBS
            .iter()
            .any(|w| verb.starts_with(w) || verb.starts_with(&format!("{w}*")))
}

fn grants(doc: &Document, action: &str) -> bool {
    doc.statements().iter().any(|s| {
        s.is_allow()
            && s.actions()
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
    })
}

/// Refuse `Action: *`, `Resource: *` on write actions without a scoping condition,
/// `iam:PassRole` on `*`, and known privilege-escalation combinations.
pub fn lint(name: &str, doc: &Document) -> Vec<LintError> {
    let mut errors = Vec::new();
    let err = |kind: LintKind, statement: String, problem: String| LintError {
        kind,
        policy: name.to_string(),
        statement,
        problem,
    };
    for (i, st) in doc.statements().iter().enumerate() {
        if !st.is_allow() {
            continue;
        }
        let label = st.label(i);
        if st.actions().iter().any(|a| a == "*" || a == "*:*") {
            errors.push(err(
                LintKind::AllActions,
                label.clone(),
                "allows every action (`Action: *`); list the actions the role needs".into(),
            ));
        }
        if st.not_action.is_some() {
            errors.push(err(
                LintKind::NotAction,
                label.clone(),
                "Allow with NotAction grants everything not listed; list actions instead".into(),
            ));
        }
        let all_resources = st.resources().iter().any(|r| r == "*");
        if all_resources {
            if st
                .actions()
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), "iam:passrole"))
            {
                errors.push(err(
                    LintKind::PassRoleOnAll,
                    label.clone(),
                    "allows iam:PassRole on every role (`Resource: *`); name the role ARNs".into(),
                ));
            }
            let writes: Vec<&String> = st.actions().iter().filter(|a| is_write(a)).collect();
            if !writes.is_empty() && st.condition.is_none() {
                errors.push(err(
                    LintKind::WriteOnAllResources,
                    label.clone(),
                    format!(
                        "allows write action(s) {} on every resource (`Resource: *`); name the resources or add a scoping Condition",
                        writes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    for combo in ESCALATIONS {
        if combo.iter().all(|a| grants(doc, a)) {
            errors.push(err(
                LintKind::Escalation,
                "whole document".into(),
                format!("grants a privilege-escalation path: {}", combo.join(" + ")),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lint_json(v: serde_json::Value) -> Vec<String> {
        lint("p", &Document::parse(&v).unwrap())
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn refuses_admin() {
        let e = lint_json(
            json!({"Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        );
        assert!(
            e[0].contains("statement 0 (Sid \"Admin\")") && e[0].contains("every action"),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_write_on_all_resources_without_condition() {
        let e = lint_json(
            json!({"Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}]}),
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("s3:PutObject") && !e[0].contains("s3:GetObject"));
        let ok = lint_json(
            json!({"Statement": [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "dapgov"}}}]}),
        );
        assert!(ok.is_empty());
    }

    #[test]
    fn refuses_pass_role_on_all_and_escalations() {
        let e = lint_json(
            json!({"Statement": [{"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"},
            {"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "arn:aws:lambda:*:1:function:x"}]}),
        );
        assert!(e.iter().any(|m| m.contains("iam:PassRole on every role")));
        assert!(
            e.iter()
                .any(|m| m.contains("iam:PassRole + lambda:CreateFunction"))
        );
    }

    #[test]
    fn read_only_wildcard_resource_is_fine() {
        assert!(lint_json(json!({"Statement": [{"Effect": "Allow", "Action": ["s3:GetBucketPolicy", "kms:DescribeKey"], "Resource": "*"}]})).is_empty());
    }
}
