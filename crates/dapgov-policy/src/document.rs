use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A policy document in AWS's JSON grammar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    #[serde(rename = "Version", default = "default_version")]
    pub version: String,
    #[serde(rename = "Id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "Statement")]
    pub statements: OneOrMany<Statement>,
}

fn default_version() -> String {
    "2012-10-17".into()
}

/// AWS accepts a single value where a list is expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t),
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(
        rename = "NotPrincipal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_principal: Option<Principal>,
    #[serde(rename = "Action", default, skip_serializing_if = "Option::is_none")]
    pub action: Option<OneOrMany<String>>,
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<OneOrMany<String>>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<OneOrMany<String>>,
    #[serde(
        rename = "NotResource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<OneOrMany<String>>,
    /// operator → condition key → values
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, OneOrMany<Value>>>>,
}

impl Statement {
    pub fn is_allow(&self) -> bool {
        self.effect.eq_ignore_ascii_case("Allow")
    }
    pub fn label(&self, index: usize) -> String {
        match &self.sid {
            Some(sid) => format!("statement {index} (Sid \"{sid}\")"),
            None => format!("statement {index}"),
        }
    }
    pub fn actions(&self) -> &[String] {
        self.action.as_ref().map(OneOrMany::as_slice).unwrap_or(&[])
    }
    pub fn resources(&self) -> &[String] {
        self.resource
            .as_ref()
            .map(OneOrMany::as_slice)
            .unwrap_or(&[])
    }
}

/// `"*"`, or a map such as `{"AWS": [...]}` / `{"Service": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Principal {
    Wildcard(String),
    Map(BTreeMap<String, OneOrMany<String>>),
}

impl Principal {
    /// All principal identifiers, e.g. `AWS:arn:aws:iam::1:root` or `*`.
    pub fn identifiers(&self) -> Vec<(String, String)> {
        match self {
            Principal::Wildcard(s) => vec![("*".into(), s.clone())],
            Principal::Map(m) => m
                .iter()
                .flat_map(|(k, v)| v.as_slice().iter().map(move |id| (k.clone(), id.clone())))
                .collect(),
        }
    }
    /// True when anyone at all is named (`*` or `{"AWS": "*"}`).
    pub fn is_public(&self) -> bool {
        self.identifiers()
            .iter()
            .any(|(kind, id)| id == "*" && (kind == "*" || kind == "AWS"))
    }
}

impl Document {
    pub fn parse(value: &Value) -> Result<Document, serde_json::Error> {
        serde_json::from_value(value.clone())
    }
    pub fn statements(&self) -> &[Statement] {
        self.statements.as_slice()
    }
}
