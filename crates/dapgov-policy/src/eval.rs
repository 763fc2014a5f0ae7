use crate::document::{Document, OneOrMany, Statement};
use serde_json::Value;
use std::collections::BTreeMap;

/// One request to evaluate: who does what to which resource, with its context keys.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// e.g. `s3:GetObject`
    pub action: String,
    /// e.g. `arn:aws:s3:::bucket/key`
    pub resource: String,
    /// The calling principal's ARN, matched against `Principal` in resource policies.
    pub principal: String,
    /// Condition keys such as `aws:SecureTransport` or `s3:x-amz-server-side-encryption`.
    pub context: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by the named statement.
    Allow(String),
    /// Denied by the named statement.
    ExplicitDeny(String),
    /// No statement allowed it.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// Evaluate a request against policies of one kind (identity or resource policies).
/// `resource_policies` checks `Principal`; identity policies have none.
pub fn evaluate(documents: &[&Document], request: &Request, resource_policies: bool) -> Decision {
    let mut allow = None;
    for doc in documents {
        for (i, st) in doc.statements().iter().enumerate() {
            if !applies(st, request, resource_policies) {
                continue;
            }
            if st.is_allow() {
                allow.get_or_insert_with(|| st.label(i));
            } else {
                return Decision::ExplicitDeny(st.label(i));
            }
        }
    }
    allow.map(Decision::Allow).unwrap_or(Decision::ImplicitDeny)
}

fn applies(st: &Statement, req: &Request, resource_policy: bool) -> bool {
    if resource_policy {
        let named = match (&st.principal, &st.not_principal) {
            (Some(p), _) => p
                .identifiers()
                .iter()
                .any(|(_, id)| principal_matches(id, &req.principal)),
            (None, Some(np)) => !np
                .identifiers()
                .iter()
                .any(|(_, id)| principal_matches(id, &req.principal)),
            (None, None) => false,
        };
        if !named {
            return false;
        }
    }
    let action_ok = match (&st.action, &st.not_action) {
        (Some(a), _) => a
            .as_slice()
            .iter()
            .any(|p| wildcard_match_ci(p, &req.action)),
        (None, Some(na)) => !na
            .as_slice()
            .iter()
            .any(|p| wildcard_match_ci(p, &req.action)),
        (None, None) => false,
    };
    if !action_ok {
        return false;
    }
    let resource_ok = match (&st.resource, &st.not_resource) {
        (Some(r), _) => r
            .as_slice()
            .iter()
            .any(|p| wildcard_match(p, &req.resource)),
        (None, Some(nr)) => !nr
            .as_slice()
            .iter()
            .any(|p| wildcard_match(p, &req.resource)),
        // Trust policies have no Resource; they apply to the role itself.
        (None, None) => true,
    };
    resource_ok && conditions_hold(st, &req.context)
}

/// A principal id matches the caller's ARN directly, as `*`, or as the account root
/// (`arn:aws:iam::ACCOUNT:root` or a bare account id) of the caller's account.
fn principal_matches(id: &str, caller: &str) -> bool {
    if id == "*" || id == caller {
        return true;
    }
    let account = caller.split(':').nth(4).unwrap_or_default();
    let is_root_of_account = matches!(id.split(':').collect::<Vec<_>>()[..], ["arn", _, "iam", "", a, "root"] if a == account);
    !account.is_empty() && (id == account || is_root_of_account)
}

fn conditions_hold(st: &Statement, ctx: &BTreeMap<String, String>) -> bool {
    let Some(cond) = &st.condition else {
        return true;
    };
    cond.iter().all(|(op, keys)| {
        keys.iter()
            .all(|(key, values)| condition_holds(op, ctx.get(key), values))
    })
}

fn condition_holds(op: &str, actual: Option<&String>, expected: &OneOrMany<Value>) -> bool {
    let expected: Vec<String> = expected
        .as_slice()
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let op = op
        .trim_start_matches("ForAnyValue:")
        .trim_start_matches("ForAllValues:");
    if op == "Null" {
        let want_null = expected.iter().any(|e| e == "true");
        return actual.is_none() == want_null;
    }
    let Some(actual) = actual else {
        // As in IAM: a missing key makes `...IfExists` and negated operators true, all others false.
        return if_exists || op.contains("Not");
    };
    let num = |s: &str| s.parse::<f64>().ok();
    let any = |f: &dyn Fn(&str) -> bool| expected.iter().any(|e| f(e));
    match op {
        "StringEquals" | "ArnEquals" => any(&|e| e == actual),
        "StringNotEquals" | "ArnNotEquals" => !any(&|e| e == actual),
        "StringEqualsIgnoreCase" => any(&|e| e.eq_ignore_ascii_case(actual)),
        "StringNotEqualsIgnoreCase" => !any(&|e| e.eq_ignore_ascii_case(actual)),
        "StringLike" | "ArnLike" => any(&|e| wildcard_match(e, actual)),
        "StringNotLike" | "ArnNotLike" => !any(&|e| wildcard_match(e, actual)),
        "Bool" => any(&|e| e.eq_ignore_ascii_case(actual)),
        "NumericEquals" => any(&|e| num(e) == num(actual) && num(e).is_some()),
        "NumericNotEquals" => !any(&|e| num(e) == num(actual)),
        "NumericLessThan" => any(&|e| matches!((num(actual), num(e)), (Some(a), Some(b)) if a < b)),
        "NumericLessThanEquals" => {
            any(&|e| matches!((num(actual), num(e)), (Some(a), Some(b)) if a <= b))
        }
        "NumericGreaterThan" => {
            any(&|e| matches!((num(actual), num(e)), (Some(a), Some(b)) if a > b))
        }
        "NumericGreaterThanEquals" => {
            any(&|e| matches!((num(actual), num(e)), (Some(a), Some(b)) if a >= b))
        }
        // Unknown operators never match: a deny guarded by one does not apply, an allow is not granted.
        _ => false,
    }
}

/// IAM wildcard match: `*` any run, `?` one character; case-sensitive.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Actions are case-insensitive in IAM.
fn wildcard_match_ci(pattern: &str, text: &str) -> bool {
    wildcard_match(&pattern.to_ascii_lowercase(), &text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        Document::parse(&v).unwrap()
    }

    fn req(action: &str, resource: &str) -> Request {
        Request {
            action: action.into(),
            resource: resource.into(),
            principal: "arn:aws:iam::111122223333:role/etl".into(),
            ..Default::default()
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("arn:aws:s3:::b", "arn:aws:s3:::b/x"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a*b", "acbx"));
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let d = doc(json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "NoRaw", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::raw/*"}
        ]}));
        assert_eq!(
            evaluate(&[&d], &req("s3:GetObject", "arn:aws:s3:::raw/a"), false),
            Decision::ExplicitDeny("statement 1 (Sid \"NoRaw\")".into())
        );
        assert!(evaluate(&[&d], &req("s3:GetObject", "arn:aws:s3:::cur/a"), false).is_allowed());
    }

    #[test]
    fn nothing_matching_is_implicit_deny() {
        let d = doc(
            json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::cur/*"]}}),
        );
        assert_eq!(
            evaluate(&[&d], &req("s3:PutObject", "arn:aws:s3:::cur/a"), false),
            Decision::ImplicitDeny
        );
        assert!(evaluate(&[&d], &req("S3:getobject", "arn:aws:s3:::cur/a"), false).is_allowed());
    }

    #[test]
    fn secure_transport_condition() {
        let d = doc(
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
        );
        let mut r = req("s3:GetObject", "arn:aws:s3:::b/k");
        r.context
            .insert("aws:SecureTransport".into(), "false".into());
        assert!(matches!(
            evaluate(&[&d], &r, true),
            Decision::ExplicitDeny(_)
        ));
        r.context
            .insert("aws:SecureTransport".into(), "true".into());
        assert_eq!(evaluate(&[&d], &r, true), Decision::ImplicitDeny);
    }

    #[test]
    fn numeric_and_null_conditions() {
        let d = doc(json!({"Statement": [
            {"Sid": "OldTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
             "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
            {"Sid": "NoSse", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*",
             "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}
        ]}));
        let mut r = req("s3:PutObject", "arn:aws:s3:::b/k");
        r.context.insert("s3:TlsVersion".into(), "1.1".into());
        assert_eq!(
            evaluate(&[&d], &r, true),
            Decision::ExplicitDeny("statement 0 (Sid \"OldTls\")".into())
        );
        r.context.insert("s3:TlsVersion".into(), "1.3".into());
        assert_eq!(
            evaluate(&[&d], &r, true),
            Decision::ExplicitDeny("statement 1 (Sid \"NoSse\")".into())
        );
        r.context
            .insert("s3:x-amz-server-side-encryption".into(), "aws:kms".into());
        assert_eq!(evaluate(&[&d], &r, true), Decision::ImplicitDeny);
    }

    #[test]
    fn string_not_equals_if_exists_denies_missing_keys() {
        let d = doc(
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "k1"}}}]}),
        );
        let mut r = req("s3:PutObject", "arn:aws:s3:::b/k");
        assert!(
            matches!(evaluate(&[&d], &r, true), Decision::ExplicitDeny(_)),
            "an upload without the header is denied"
        );
        r.context.insert(
            "s3:x-amz-server-side-encryption-aws-kms-key-id".into(),
            "k2".into(),
        );
        assert!(matches!(
            evaluate(&[&d], &r, true),
            Decision::ExplicitDeny(_)
        ));
        r.context.insert(
            "s3:x-amz-server-side-encryption-aws-kms-key-id".into(),
            "k1".into(),
        );
        assert_eq!(evaluate(&[&d], &r, true), Decision::ImplicitDeny);
    }

    #[test]
    fn resource_policy_principal_matching() {
        let d = doc(
            json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*", "Resource": "*"}]}),
        );
        assert!(
            evaluate(
                &[&d],
                &req("kms:Decrypt", "arn:aws:kms:ca-central-1:111122223333:key/x"),
                true
            )
            .is_allowed()
        );
        let mut other = req("kms:Decrypt", "k");
        other.principal = "arn:aws:iam::999999999999:role/x".into();
        assert_eq!(evaluate(&[&d], &other, true), Decision::ImplicitDeny);
    }
}
