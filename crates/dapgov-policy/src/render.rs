use crate::document::Document;
use handlebars::Handlebars;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("policy template {name}: {source}")]
    Template {
        name: String,
        source: Box<handlebars::RenderError>,
    },
    #[error(
        "policy template {name} rendered invalid JSON at line {line}, column {column}: {message}"
    )]
    Json {
        name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("policy template {name} rendered JSON that is not a policy document: {message}")]
    NotAPolicy { name: String, message: String },
    #[error("no policy template named {0}")]
    Missing(String),
}

/// The policy templates shipped under `policies/`, embedded in the binary.
const BUILTIN: &[(&str, &str)] = &[
    (
        "role-etl",
        include_str!("../../../policies/roles/etl.json.hbs"),
    ),
    (
        "role-analyst",
        include_str!("../../../policies/roles/analyst.json.hbs"),
    ),
    (
        "role-auditor",
        include_str!("../../../policies/roles/auditor.json.hbs"),
    ),
    (
        "trust-role",
        include_str!("../../../policies/roles/trust.json.hbs"),
    ),
    (
        "bucket-zone",
        include_str!("../../../policies/buckets/zone.json.hbs"),
    ),
    (
        "bucket-logs",
        include_str!("../../../policies/buckets/logs.json.hbs"),
    ),
    (
        "bucket-trail",
        include_str!("../../../policies/buckets/trail.json.hbs"),
    ),
    ("key", include_str!("../../../policies/keys/key.json.hbs")),
];

pub struct Templates {
    hb: Handlebars<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Templates {
    pub fn builtin() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        hb.register_helper("json", Box::new(json_helper));
        for (name, text) in BUILTIN {
            hb.register_template_string(name, text)
                .expect("builtin policy templates parse");
        }
        Self { hb }
    }

    /// Render a template with `context` and parse the result as a policy document.
    pub fn render<C: Serialize>(
        &self,
        name: &str,
        context: &C,
    ) -> Result<serde_json::Value, RenderError> {
        if !self.hb.has_template(name) {
            return Err(RenderError::Missing(name.into()));
        }
        let text = self
            .hb
            .render(name, context)
            .map_err(|e| RenderError::Template {
                name: name.into(),
                source: Box::new(e),
            })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| RenderError::Json {
                name: name.into(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        Document::parse(&value).map_err(|e| RenderError::NotAPolicy {
            name: name.into(),
            message: e.to_string(),
        })?;
        Ok(value)
    }
}

/// `{{json value}}` writes a value as JSON, so lists render as JSON arrays.
fn json_helper(
    h: &handlebars::Helper,
    _: &Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let v = h
        .param(0)
        .map(|p| p.value().clone())
        .unwrap_or(serde_json::Value::Null);
    out.write(&serde_json::to_string(&v).unwrap_or_default())?;
    Ok(())
}
