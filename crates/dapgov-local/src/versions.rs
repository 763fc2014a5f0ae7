//! Objects checked against the versions the trail recorded for them.
//!
//! Every write to a bucket with data events is recorded, before it takes effect, with the
//! version it creates (the random nonces its header authenticates). The signed trail is thus
//! an authenticated map from each object to the version last written: an object rolled back
//! to an older copy of itself, deleted, or brought back after its deletion, outside the
//! platform, no longer matches it.

use crate::LocalTarget;
use crate::crypto::{HEADER_LEN, Header};
use crate::trail::Event;
use std::collections::BTreeMap;
use std::io::Read;

/// Whether an object is a table commit (`…/_delta_log/…`): these are recorded in every zone,
/// whatever its data events, so a commit deleted or rolled back outside the platform is caught
/// in every table.
pub(crate) fn is_table_log(object_arn: &str) -> bool {
    object_arn.contains("/_delta_log/")
}

/// Every table commit the trail recorded, with the record that last wrote it, for those
/// still present by the trail's account (never deleted through the platform).
pub(crate) fn recorded_table_logs(events: &[Event]) -> BTreeMap<String, u64> {
    recorded_versions(events)
        .into_iter()
        .filter(|(arn, _)| is_table_log(arn))
        .filter_map(|(arn, history)| match history.last() {
            Some((seq, Some(_))) => Some((arn, *seq)),
            _ => None,
        })
        .collect()
}

/// How a write's trail record names the version it created.
const VERSION_DETAIL: &str = "version ";
/// A write that lost a create-if-absent race, or failed after its record, did not land.
const NOT_WRITTEN: &str = "not written: ";

/// The detail of a write's trail record: the version it creates.
pub(crate) fn written(version: &str) -> String {
    format!("{VERSION_DETAIL}{version}")
}

/// The detail of the record that says a recorded write did not land.
pub(crate) fn not_written(version: &str) -> String {
    format!("{NOT_WRITTEN}{}", written(version))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectProblem {
    /// The object's ARN.
    pub object: String,
    pub problem: String,
}

#[derive(Debug, Default)]
pub struct VersionCheck {
    /// Objects whose version is the one last recorded.
    pub matched: usize,
    /// Objects in buckets without data events, or written before versions were recorded.
    pub unrecorded: usize,
    pub problems: Vec<ObjectProblem>,
}

/// What the trail says each object should be: the versions recorded for it, oldest first
/// (None: deleted). Keys whose writes were recorded without a version are left out.
fn recorded_versions(events: &[Event]) -> BTreeMap<String, Vec<(u64, Option<String>)>> {
    let mut by_object: BTreeMap<String, Vec<(u64, Option<String>)>> = BTreeMap::new();
    let mut unversioned = std::collections::BTreeSet::new();
    for e in events.iter().filter(|e| e.category == "data") {
        let version = e
            .detail
            .as_deref()
            .and_then(|d| d.strip_prefix(VERSION_DETAIL))
            .map(String::from);
        match (e.action.as_str(), e.outcome.as_str()) {
            ("s3:PutObject", "allowed") if version.is_some() => by_object
                .entry(e.resource.clone())
                .or_default()
                .push((e.seq, version)),
            ("s3:PutObject", "allowed") => {
                unversioned.insert(e.resource.clone());
            }
            ("s3:DeleteObject", "allowed") => by_object
                .entry(e.resource.clone())
                .or_default()
                .push((e.seq, None)),
            ("s3:PutObject", "error") => {
                let failed = e
                    .detail
                    .as_deref()
                    .and_then(|d| d.strip_prefix(NOT_WRITTEN))
                    .and_then(|d| d.strip_prefix(VERSION_DETAIL));
                if let (Some(failed), Some(history)) = (failed, by_object.get_mut(&e.resource)) {
                    history.retain(|(_, v)| v.as_deref() != Some(failed));
                }
            }
            _ => {}
        }
    }
    by_object.retain(|k, _| !unversioned.contains(k));
    by_object
}

fn version_on_disk(path: &std::path::Path) -> Result<String, String> {
    let mut buf = [0u8; HEADER_LEN];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| {
            format!("its header cannot be read ({e}): truncated or not written by the platform")
        })?;
    Header::decode(&buf)
        .map(|h| h.version_id())
        .map_err(|e| e.to_string())
}

impl LocalTarget {
    /// Compare every object of the buckets with data events against the trail's records.
    pub fn check_object_versions(
        &self,
        events: &[Event],
    ) -> dapgov_target::TargetResult<VersionCheck> {
        let recorded = recorded_versions(events);
        let mut check = VersionCheck::default();
        let mut seen = std::collections::BTreeSet::new();
        let watched_buckets = self.data_event_buckets()?;
        for (name, _) in self.records(dapgov_inventory::ResourceKind::Bucket)? {
            let dir = self.bucket_dir(&name);
            let bucket_watched = watched_buckets.contains(&name);
            for file in crate::state::files_under(&dir) {
                let key = file
                    .strip_prefix(&dir)
                    .map(|k| k.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                let arn = dapgov_inventory::names::s3_object_arn(&name, &key);
                let watched = bucket_watched || is_table_log(&arn);
                let Some(history) = recorded.get(&arn).filter(|_| watched) else {
                    check.unrecorded += 1;
                    continue;
                };
                seen.insert(arn.clone());
                let problem = match (version_on_disk(&file), history.last()) {
                    (Err(e), _) => Some(e),
                    (Ok(_), Some((seq, None))) => {
                        Some(format!("was deleted at trail record {seq} and is back"))
                    }
                    (Ok(v), Some((_, Some(last)))) if &v == last => None,
                    (Ok(v), Some((seq, Some(_)))) => Some(
                        match history
                            .iter()
                            .find(|(_, h)| h.as_deref() == Some(v.as_str()))
                        {
                            Some((older, _)) => format!(
                                "holds the version written at trail record {older}, not the one written at record {seq}: rolled back to an older copy"
                            ),
                            None => format!(
                                "holds version {v}, which the trail never recorded (last write: record {seq}): replaced outside the platform"
                            ),
                        },
                    ),
                    (Ok(_), None) => None,
                };
                match problem {
                    Some(problem) => check.problems.push(ObjectProblem {
                        object: arn,
                        problem,
                    }),
                    None => check.matched += 1,
                }
            }
        }
        for (arn, history) in &recorded {
            if let (false, Some((seq, Some(_)))) = (seen.contains(arn), history.last()) {
                check.problems.push(ObjectProblem { object: arn.clone(), problem: format!("is missing: written at trail record {seq} and never deleted through the platform") });
            }
        }
        Ok(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, action: &str, outcome: &str, detail: Option<&str>) -> Event {
        Event {
            seq,
            time: String::new(),
            category: "data".into(),
            principal: "etl".into(),
            action: action.into(),
            resource: dapgov_inventory::names::s3_object_arn("b", "k"),
            outcome: outcome.into(),
            detail: detail.map(String::from),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn a_lost_create_race_is_not_the_version_expected() {
        let events = [
            event(1, "s3:PutObject", "allowed", Some("version aa")),
            event(2, "s3:PutObject", "allowed", Some("version bb")),
            event(3, "s3:PutObject", "error", Some("not written: version bb")),
            event(4, "s3:GetObject", "allowed", None),
        ];
        assert_eq!(
            recorded_versions(&events)[&dapgov_inventory::names::s3_object_arn("b", "k")],
            vec![(1, Some("aa".into()))]
        );
        let deleted = [
            event(1, "s3:PutObject", "allowed", Some("version aa")),
            event(2, "s3:DeleteObject", "allowed", None),
        ];
        assert_eq!(
            recorded_versions(&deleted)[&dapgov_inventory::names::s3_object_arn("b", "k")].last(),
            Some(&(2, None))
        );
        // A write recorded before versions were: the object is not checked.
        let old = [
            event(1, "s3:PutObject", "allowed", None),
            event(2, "s3:PutObject", "allowed", Some("version aa")),
        ];
        assert!(recorded_versions(&old).is_empty());
    }
}
