//! The `dapgov.toml` model: parse it, validate it (errors name the key, line and column),
//! and turn it into the Desired platform: an Inventory of what should exist.

pub mod automation;
mod desired;
mod model;
pub mod portable;

pub use dapgov_inventory::Names;
use dapgov_inventory::names::{DATA_ZONES, TABLE_ZONES};
pub use desired::{KEY_PENDING, desired, with_key_arns, zone_key_purpose};
pub use model::*;

use std::path::Path;

/// The commented spec `dapgov init` writes for the Vancouver 3-1-1 platform.
pub const INIT_TEMPLATE: &str = include_str!("init.toml");

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}. Run `dapgov init` to create one, or pass --config FILE")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Spec {
    /// Every name the platform uses in `account`.
    pub fn names(&self, account: &str) -> Names {
        Names::new(&self.platform.name, account, &self.platform.region)
    }
}

/// Render the init template for a platform name and target.
pub fn init_text(name: &str, target: Target) -> Result<String, String> {
    validate_name(name)?;
    Ok(INIT_TEMPLATE
        .replace("name = \"van311\"", &format!("name = \"{name}\""))
        .replace(
            "target = \"local\"",
            &format!("target = \"{}\"", target.as_str()),
        ))
}

/// The column types a dataset may declare (Glue's names, as the ETL types them).
pub const COLUMN_TYPES: [&str; 7] = [
    "string",
    "bigint",
    "int",
    "double",
    "boolean",
    "date",
    "timestamp",
];

/// The longest dataset name: with the zone before it, it stays within every service's limit
/// on table names and object keys.
const MAX_DATASET_NAME: usize = 64;

/// One address, `local@domain.tld`: nothing that could add a header or a second recipient.
fn is_email_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    s.len() <= 254
        && (1..=64).contains(&local.len())
        && local.chars().all(atom)
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An AWS region name: `ca-central-1`, `us-gov-west-1`.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 25
        && parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

fn validate_name(name: &str) -> Result<(), String> {
    let ok = (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase()
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "platform name {name:?} must be 3 to 24 characters of a-z, 0-9 and '-', start with a letter and not end with '-' (it becomes part of bucket names)"
        ))
    }
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Spec::parse(&text, &path.display().to_string())
    }

    /// Parse and validate spec text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
        let spec: Spec = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            SpecError::Invalid {
                path: origin.into(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        if let Err((key_path, message)) = spec.validate() {
            let (line, column) = locate(text, &key_path);
            return Err(SpecError::Invalid {
                path: origin.into(),
                line,
                column,
                message: format!("`{}`: {message}", key_path.join(".")),
            });
        }
        Ok(spec)
    }

    /// Semantic checks serde cannot express. Returns the offending key path and the problem.
    fn validate(&self) -> Result<(), Invalid> {
        validate_name(&self.platform.name).map_err(|m| (at(&["platform", "name"]), m))?;
        self.validate_kpi_and_zones()?;
        self.validate_budget_and_platform()?;
        self.automation.validate()?;
        for (name, ds) in &self.datasets {
            validate_dataset(name, ds)?;
        }
        for (i, t) in self.trusted.iter().enumerate() {
            self.validate_trusted(i, t)?;
        }
        Ok(())
    }

    fn validate_kpi_and_zones(&self) -> Result<(), Invalid> {
        let target = self.kpi.service_level_target;
        if !(0.0..=1.0).contains(&target) || target.is_nan() {
            return Err((
                at(&["kpi", "service_level_target"]),
                format!("{target} is not a share between 0 and 1 (write 0.8 for 80 %)"),
            ));
        }
        for zone in DATA_ZONES {
            if !self.zones.contains_key(zone) {
                return Err((
                    at(&["zones"]),
                    format!(
                        "zone `{zone}` is missing; every platform has landing, raw, curated and trusted zones"
                    ),
                ));
            }
        }
        for (zone, z) in &self.zones {
            if !DATA_ZONES.contains(&zone.as_str()) {
                return Err((
                    at(&["zones", zone]),
                    "unknown zone; use landing, raw, curated or trusted".into(),
                ));
            }
            if let (Some(ia), Some(gl)) = (z.transition_ia_days, z.transition_glacier_days)
                && gl <= ia
            {
                return Err((
                    at(&["zones", zone, "transition_glacier_days"]),
                    format!("must be after transition_ia_days ({ia})"),
                ));
            }
            if let (Some(exp), true) = (z.expire_days, TABLE_ZONES.contains(&zone.as_str())) {
                return Err((
                    at(&["zones", zone, "expire_days"]),
                    format!(
                        "zone `{zone}` holds Delta tables whose current versions reference the files of every load: expiring objects after {exp} days would delete live data; remove `expire_days` (a load is undone with `dapgov etl rollback`)"
                    ),
                ));
            }
            if let (Some(exp), Some(ret)) = (z.expire_days, z.retention_days)
                && exp < ret
            {
                return Err((
                    at(&["zones", zone, "expire_days"]),
                    format!("expires objects after {exp} days, before their {ret}-day retention"),
                ));
            }
        }
        Ok(())
    }

    fn validate_budget_and_platform(&self) -> Result<(), Invalid> {
        if self.budget.monthly_usd <= 0.0 {
            return Err((
                at(&["budget", "monthly_usd"]),
                "must be a positive amount in USD".into(),
            ));
        }
        for t in &self.budget.thresholds {
            if !(1.0..=1000.0).contains(t) {
                return Err((
                    at(&["budget", "thresholds"]),
                    format!("threshold {t} must be a percentage between 1 and 1000"),
                ));
            }
        }
        if !is_email_address(&self.budget.alarm_email) {
            return Err((
                at(&["budget", "alarm_email"]),
                "must be one e-mail address (name@domain.example: no spaces, line breaks or lists)"
                    .into(),
            ));
        }
        if !is_region(&self.platform.region) {
            return Err((
                at(&["platform", "region"]),
                format!(
                    "{:?} is not an AWS region name (like ca-central-1)",
                    self.platform.region
                ),
            ));
        }
        let state_dir = Path::new(&self.platform.state_dir);
        if self.platform.state_dir.is_empty()
            || !state_dir.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            })
        {
            return Err((
                at(&["platform", "state_dir"]),
                format!(
                    "{:?} must be a directory inside the project: a relative path without `..`",
                    self.platform.state_dir
                ),
            ));
        }
        if !(7..=30).contains(&self.keys.deletion_window_days) {
            return Err((
                at(&["keys", "deletion_window_days"]),
                format!(
                    "{} days: KMS schedules a key's deletion 7 to 30 days ahead",
                    self.keys.deletion_window_days
                ),
            ));
        }
        Ok(())
    }

    fn validate_trusted(&self, i: usize, t: &TrustedTable) -> Result<(), Invalid> {
        if !t
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err((
                vec!["trusted".into(), i.to_string(), "name".into()],
                "use lowercase letters, digits and '_'".into(),
            ));
        }
        if t.rebuild == TrustedRebuild::TouchedYears {
            let at_rebuild = vec!["trusted".into(), i.to_string(), "rebuild".into()];
            if !t.partition_by_year {
                return Err((
                    at_rebuild,
                    format!(
                        "trusted `{}`: rebuild = \"touched_years\" replaces year partitions; add partition_by_year = true",
                        t.name
                    ),
                ));
            }
            if let Some(input) = t.inputs.iter().find(|d| {
                self.datasets
                    .get(*d)
                    .is_none_or(|ds| ds.date_column.is_none())
            }) {
                return Err((
                    at_rebuild,
                    format!(
                        "trusted `{}`: rebuild = \"touched_years\" needs a date_column on every input; `{input}` has none",
                        t.name
                    ),
                ));
            }
        }
        // Analysts re-run trusted SQL in Athena: it must mean the same there.
        if let Err((line, what)) = portable::check(&t.sql) {
            return Err((
                vec!["trusted".into(), i.to_string(), "sql".into()],
                format!("trusted `{}`, line {line} of its sql: {what}", t.name),
            ));
        }
        Ok(())
    }
}

/// A key path in the spec and what is wrong there.
type Invalid = (Vec<String>, String);

fn at(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

fn validate_dataset(name: &str, ds: &Dataset) -> Result<(), Invalid> {
    // The name becomes object keys, table names and SQL identifiers.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || name.as_bytes()[0].is_ascii_digit()
    {
        return Err((
            at(&["datasets", name]),
            "a dataset name uses lowercase letters, digits and '_', and starts with a letter"
                .into(),
        ));
    }
    if name.len() > MAX_DATASET_NAME {
        return Err((
            at(&["datasets", name]),
            format!(
                "a dataset name has at most {MAX_DATASET_NAME} characters ({} here): it becomes table names and object keys",
                name.len()
            ),
        ));
    }
    let cols: std::collections::BTreeSet<&str> = ds.columns.keys().map(String::as_str).collect();
    for (key, listed) in [("unique_key", &ds.unique_key), ("required", &ds.required)] {
        if let Some(k) = listed.iter().find(|k| !cols.contains(k.as_str())) {
            return Err((
                at(&["datasets", name, key]),
                format!("column `{k}` is not declared under [datasets.{name}.columns]"),
            ));
        }
    }
    for (i, rule) in ds.rules.iter().enumerate() {
        if let Err((_, what)) = portable::check(&format!("SELECT 1 FROM t WHERE {}", rule.check)) {
            return Err((
                vec![
                    "datasets".into(),
                    name.to_string(),
                    "rules".into(),
                    i.to_string(),
                    "check".into(),
                ],
                format!("rule `{}`: {what}", rule.name),
            ));
        }
    }
    if let Some(d) = &ds.date_column
        && !cols.contains(d.as_str())
    {
        return Err((
            at(&["datasets", name, "date_column"]),
            format!("column `{d}` is not declared under [datasets.{name}.columns]"),
        ));
    }
    if ds.partition_by.is_some_and(|p| p != PartitionBy::None) && ds.date_column.is_none() {
        return Err((
            at(&["datasets", name, "partition_by"]),
            "partitions are derived from the date column: set `date_column`, or use `none`".into(),
        ));
    }
    if ds.load == Some(LoadMode::ReplacePartitions) && ds.date_column.is_none() {
        return Err((at(&["datasets", name, "load"]), "`replace_partitions` replaces the days a delivery contains: set `date_column`, or use `append` or `replace`".into()));
    }
    validate_columns(name, ds)?;
    validate_expectations(name, ds)
}

/// What a dataset's deliveries are expected to be: fresh, of a usual volume, in an inbox
/// inside the project.
fn validate_expectations(name: &str, ds: &Dataset) -> Result<(), Invalid> {
    if let Some(f) = &ds.fresh_within {
        let at_f = at(&["datasets", name, "fresh_within"]);
        let d = automation::parse_duration(f).map_err(|e| (at_f.clone(), e))?;
        if d < chrono::Duration::hours(1) {
            return Err((
                at_f,
                format!("{f:?}: freshness is judged by delivered days; allow at least 1h"),
            ));
        }
        if ds.date_column.is_none() {
            return Err((
                at_f,
                "freshness is judged by the newest delivered day: set `date_column`".into(),
            ));
        }
    }
    if let Some(v) = &ds.volume {
        if ds.date_column.is_none() {
            return Err((
                at(&["datasets", name, "volume"]),
                "volume is judged per delivered day: set `date_column`".into(),
            ));
        }
        v.validate()
            .map_err(|(k, m)| (at(&["datasets", name, "volume", k]), m))?;
        if let Some(c) = &v.column
            && ds
                .columns
                .get(c)
                .is_none_or(|r| !["bigint", "double"].contains(&r.data_type.as_str()))
        {
            return Err((
                at(&["datasets", name, "volume", "column"]),
                format!(
                    "column `{c}` must be declared under [datasets.{name}.columns] as a bigint or double (its daily sum is the volume)"
                ),
            ));
        }
    }
    if let Some(inbox) = &ds.inbox {
        let inside = !inbox.is_empty()
            && Path::new(inbox).components().all(|c| {
                matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            });
        if !inside {
            return Err((
                at(&["datasets", name, "inbox"]),
                format!(
                    "{inbox:?} must be a directory inside the project: a relative path without `..`"
                ),
            ));
        }
    }
    Ok(())
}

fn validate_columns(name: &str, ds: &Dataset) -> Result<(), Invalid> {
    for (col, c) in &ds.columns {
        if !COLUMN_TYPES.contains(&c.data_type.as_str()) {
            return Err((
                at(&["datasets", name, "columns", col]),
                format!(
                    "unknown type {:?}; use one of {}",
                    c.data_type,
                    COLUMN_TYPES.join(", ")
                ),
            ));
        }
        if let Some(e) = c.pii
            && c.data_type != "string"
        {
            return Err((
                at(&["datasets", name, "columns", col]),
                format!(
                    "holds {} but is typed `{}`; personal information is text: use type = \"string\"",
                    e.name(),
                    c.data_type
                ),
            ));
        }
        if let (Some(min), Some(max)) = (c.min, c.max)
            && min > max
        {
            return Err((
                at(&["datasets", name, "columns", col]),
                format!("min {min} is above max {max}"),
            ));
        }
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// The line of the spec that declares a resource, by its Inventory address
/// (`bucket.van311-raw-000000000000` → `[zones.raw]`); `zone` is the bucket's zone. Resources
/// the spec does not name one by one point at the table they follow from.
pub fn declaring_line(text: &str, address: &str, zone: Option<&str>) -> usize {
    let (kind, name) = address.split_once('.').unwrap_or((address, ""));
    let path: Vec<&str> = match kind {
        "bucket" => match zone {
            Some(z) if dapgov_inventory::names::DATA_ZONES.contains(&z) => vec!["zones", z],
            Some("logs") => vec!["logs"],
            Some("athena") => vec!["athena"],
            _ => vec!["platform"],
        },
        "key" => vec!["keys"],
        "budget" => vec!["budget"],
        "alarm" | "topic" => vec!["budget", "alarm_email"],
        "log_group" | "trail" => vec!["logs"],
        "athena_workgroup" => vec!["athena"],
        "etl_dataset" => vec!["datasets", name],
        "glue_table" => match name.rsplit('.').next().and_then(|t| t.split_once('_')) {
            Some(("trusted", _)) => vec!["trusted"],
            Some((_, dataset)) => vec!["datasets", dataset],
            None => vec!["platform"],
        },
        _ => vec!["platform"],
    };
    let header = format!("[{}]", path.join("."));
    match text
        .lines()
        .position(|l| l.trim() == header || l.trim() == format!("[{header}]"))
    {
        Some(i) => i + 1,
        None => {
            locate(
                text,
                &path.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .0
        }
    }
}

/// Find where a key path is written: the key's own line inside its table, else the table header.
fn locate(text: &str, path: &[String]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    for split in (0..path.len()).rev() {
        let (table, key) = (&path[..split], path.get(split));
        let header = format!("[{}]", table.join("."));
        let start = if table.is_empty() {
            Some(0)
        } else {
            lines
                .iter()
                .position(|l| l.trim() == header || l.trim() == format!("[{header}]"))
        };
        let Some(start) = start else { continue };
        if let Some(key) = key {
            for (i, l) in lines
                .iter()
                .enumerate()
                .skip(start + usize::from(!table.is_empty()))
            {
                let t = l.trim_start();
                if t.starts_with('[') {
                    break;
                }
                if t.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
                {
                    return (i + 1, l.len() - t.len() + 1);
                }
            }
        }
        if !table.is_empty() {
            return (start + 1, 1);
        }
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_table_rebuilt_by_year_needs_year_partitions_and_dated_inputs() {
        let text = INIT_TEMPLATE.replacen(
            "name = \"metrics_monthly\"\ninputs = [\"metrics\"]\npartition_by_year = true",
            "name = \"metrics_monthly\"\ninputs = [\"metrics\"]\npartition_by_year = false",
            1,
        );
        let e = Spec::parse(&text, "dapgov.toml").unwrap_err().to_string();
        assert!(e.contains("add partition_by_year = true"), "{e}");
        let text = INIT_TEMPLATE
            .replacen(
                "date_column = \"date\"\nload = \"replace_partitions\"",
                "load = \"replace\"",
                1,
            )
            .replacen("volume = { column = \"calls_offered\"", "# volume = {", 1);
        let e = Spec::parse(&text, "dapgov.toml").unwrap_err().to_string();
        assert!(
            e.contains("needs a date_column on every input; `metrics` has none"),
            "{e}"
        );
    }

    #[test]
    fn a_resource_points_at_the_line_that_declares_it() {
        let line_of = |starts: &str| {
            INIT_TEMPLATE
                .lines()
                .position(|l| l.starts_with(starts))
                .unwrap()
                + 1
        };
        assert_eq!(
            declaring_line(INIT_TEMPLATE, "bucket.van311-raw-1", Some("raw")),
            line_of("[zones.raw]")
        );
        assert_eq!(
            declaring_line(INIT_TEMPLATE, "key.van311-pii", None),
            line_of("[keys]")
        );
        assert_eq!(
            declaring_line(INIT_TEMPLATE, "alarm.van311-billing", None),
            line_of("alarm_email")
        );
        assert_eq!(
            declaring_line(INIT_TEMPLATE, "etl_dataset.calls", None),
            line_of("[datasets.calls]")
        );
        assert_eq!(
            declaring_line(
                INIT_TEMPLATE,
                "glue_table.van311_catalog.trusted_metrics_yearly",
                None
            ),
            line_of("[[trusted]]")
        );
        assert_eq!(
            declaring_line(INIT_TEMPLATE, "role.van311-analyst", None),
            line_of("[platform]")
        );
    }

    /// The error parsing an edited spec gives, and the line that starts with `starts`.
    fn error_at(text: &str, origin: &str, starts: &str) -> (String, usize) {
        let err = Spec::parse(text, origin).unwrap_err().to_string();
        let line = text.lines().position(|l| l.starts_with(starts)).unwrap() + 1;
        (err, line)
    }

    #[test]
    fn table_zones_never_expire_their_objects() {
        let text = INIT_TEMPLATE.replacen(
            "retention_days = 2555",
            "expire_days = 3000\nretention_days = 2555",
            1,
        );
        let (err, line) = error_at(&text, "dapgov.toml", "expire_days = 3000");
        assert!(
            err.starts_with(&format!(
                "dapgov.toml:{line}:1: `zones.raw.expire_days`: zone `raw` holds Delta tables"
            )),
            "{err}"
        );
    }

    #[test]
    fn partitions_need_a_date_column() {
        let text = INIT_TEMPLATE.replacen(
            "date_column = \"date\"\nload = \"replace_partitions\"",
            "partition_by = \"month\"\nload = \"replace\"",
            1,
        );
        let (err, line) = error_at(&text, "dapgov.toml", "partition_by = \"month\"");
        assert!(err.starts_with(&format!("dapgov.toml:{line}:1: `datasets.metrics.partition_by`: partitions are derived from the date column")), "{err}");
        let spec = Spec::parse(INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert_eq!(spec.datasets["metrics"].partition(), PartitionBy::Year);
    }

    #[test]
    fn replacing_partitions_needs_a_date_column() {
        let text = INIT_TEMPLATE.replacen("date_column = \"date\"\n", "", 1);
        let (err, line) = error_at(&text, "dapgov.toml", "load = \"replace_partitions\"");
        assert!(err.starts_with(&format!("dapgov.toml:{line}:1: `datasets.metrics.load`: `replace_partitions` replaces the days")), "{err}");
        let spec = Spec::parse(INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert_eq!(
            spec.datasets["metrics"].load_mode(),
            LoadMode::ReplacePartitions
        );
    }

    /// Values that would fail later, in an engine or a service, are refused at their line.
    #[test]
    fn bad_values_are_refused_at_their_line() {
        let cases = [
            (
                "calls_offered = { type = \"bigint\"",
                "calls_offered = { type = \"integr\"",
                "`datasets.metrics.columns.calls_offered`: unknown type \"integr\"",
            ),
            (
                "calls_offered = { type = \"bigint\"",
                "calls_offered = { type = \"varchar(10)\"",
                "unknown type \"varchar(10)\"; use one of string, bigint",
            ),
            (
                "region = \"ca-central-1\"",
                "region = \"../x\"",
                "`platform.region`: \"../x\" is not an AWS region name",
            ),
            (
                "alarm_email = \"311-data-team@example.org\"",
                "alarm_email = \"311-data-team@example.org\\r\\nBcc: x@evil.example\"",
                "`budget.alarm_email`: must be one e-mail address",
            ),
            (
                "deletion_window_days = 30",
                "deletion_window_days = 0",
                "`keys.deletion_window_days`: 0 days: KMS schedules a key's deletion 7 to 30 days ahead",
            ),
            (
                "state_dir = \".dapgov\"",
                "state_dir = \"../elsewhere\"",
                "`platform.state_dir`: \"../elsewhere\" must be a directory inside the project",
            ),
            (
                "state_dir = \".dapgov\"",
                "state_dir = \"/var/tmp/x\"",
                "must be a directory inside the project",
            ),
        ];
        for (from, to, want) in cases {
            assert!(INIT_TEMPLATE.contains(from), "{from}");
            let text = INIT_TEMPLATE.replacen(from, to, 1);
            let (err, line) = error_at(&text, "dapgov.toml", to.split(" = ").next().unwrap());
            assert!(
                err.starts_with(&format!("dapgov.toml:{line}:")) && err.contains(want),
                "{to}: {err}"
            );
        }
        let long = "d".repeat(200);
        let text = INIT_TEMPLATE.replace("[datasets.metrics", &format!("[datasets.{long}"));
        let err = Spec::parse(&text, "dapgov.toml").unwrap_err().to_string();
        assert!(err.contains("at most 64 characters (200 here)"), "{err}");
        for ok in ["a.b@example.org", "x+y@sub.example.ca"] {
            assert!(is_email_address(ok), "{ok}");
        }
        for region in ["ca-central-1", "us-gov-west-1", "ca-west-1"] {
            assert!(is_region(region), "{region}");
        }
    }

    #[test]
    fn init_template_parses_and_validates() {
        let spec = Spec::parse(INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert_eq!(spec.platform.name, "van311");
        assert_eq!(spec.platform.region, "ca-central-1");
        assert!(spec.datasets.contains_key("metrics"));
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = INIT_TEMPLATE.replace("owner = ", "ownr = ");
        let (err, line) = error_at(&text, "dapgov.toml", "ownr");
        assert!(
            err.starts_with(&format!("dapgov.toml:{line}:1: unknown field `ownr`")),
            "{err}"
        );
    }

    #[test]
    fn semantic_error_names_key_and_line() {
        let text = INIT_TEMPLATE.replace("monthly_usd = 50.0", "monthly_usd = -5.0");
        let (err, line) = error_at(&text, "x.toml", "monthly_usd");
        assert_eq!(
            err,
            format!("x.toml:{line}:1: `budget.monthly_usd`: must be a positive amount in USD")
        );
    }

    /// A misspelled entity would switch its protection off; it is an error at its line.
    #[test]
    fn a_misspelled_pii_entity_names_its_line() {
        let text = INIT_TEMPLATE.replace("EMAIL = \"hash\"", "EMAL = \"hash\"");
        let (err, line) = error_at(&text, "dapgov.toml", "EMAL");
        assert!(
            err.starts_with(&format!("dapgov.toml:{line}:1: unknown variant `EMAL`"))
                && err.contains("PERSON_NAME"),
            "{err}"
        );
        let spec = Spec::parse(INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert_eq!(spec.etl.pii.get(&PiiEntity::Email), Some(&PiiAction::Hash));
    }

    #[test]
    fn pii_columns_name_a_known_entity_on_a_text_column() {
        let spec = Spec::parse(INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert_eq!(
            spec.datasets["calls"].columns["caller_name"].pii,
            Some(PiiEntity::PersonName)
        );
        let text = INIT_TEMPLATE.replace(
            "caller_name = { pii = \"PERSON_NAME\" }",
            "caller_name = { pii = \"PERSON\" }",
        );
        let (err, line) = error_at(&text, "dapgov.toml", "caller_name");
        assert!(
            err.starts_with(&format!("dapgov.toml:{line}:"))
                && err.contains("unknown variant `PERSON`"),
            "{err}"
        );
        let text = INIT_TEMPLATE.replace(
            "caller_phone = { pii = \"PHONE_NUMBER\" }",
            "caller_phone = { type = \"bigint\", pii = \"PHONE_NUMBER\" }",
        );
        let (err, line) = error_at(&text, "dapgov.toml", "caller_phone");
        assert!(err.starts_with(&format!("dapgov.toml:{line}:1: `datasets.calls.columns.caller_phone`: holds PHONE_NUMBER but is typed `bigint`")), "{err}");
    }

    #[test]
    fn dataset_errors_name_the_key_at_fault() {
        let text = INIT_TEMPLATE.replacen("required = [", "required = [\"nope\", ", 1);
        let (err, line) = error_at(&text, "dapgov.toml", "required = [\"nope\"");
        assert!(
            err.starts_with(&format!(
                "dapgov.toml:{line}:1: `datasets.metrics.required`: column `nope`"
            )),
            "{err}"
        );
        for bad in ["\"../x\"", "\"a/b\"", "\"it's\"", "\"Calls\"", "\"1st\""] {
            let text = INIT_TEMPLATE.replace("[datasets.calls]", &format!("[datasets.{bad}]"));
            let err = Spec::parse(&text, "dapgov.toml").unwrap_err().to_string();
            assert!(
                err.contains("a dataset name uses lowercase letters"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn bad_name_is_refused() {
        assert!(init_text("Bad_Name", Target::Local).is_err());
        let text = init_text("city-ops", Target::Aws).unwrap();
        let spec = Spec::parse(&text, "t").unwrap();
        assert_eq!(
            (spec.platform.name.as_str(), spec.platform.target),
            ("city-ops", Target::Aws)
        );
    }
}
