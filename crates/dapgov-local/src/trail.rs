//! The local audit trail: every management and data operation as a JSON line, each record
//! carrying the SHA-256 of the previous one. A signed head (rewritten on every append) and
//! periodic signed digest files let `verify` detect edited, deleted, inserted, reordered and
//! truncated records, as CloudTrail's log-file validation does.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const EVENTS: &str = "events.jsonl";
const HEAD: &str = "head.json";
/// A digest file is written every this many records.
pub const DIGEST_EVERY: u64 = 100;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub time: String,
    /// `management` or `data`.
    pub category: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// `allowed`, `denied` or `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signed {
    seq: u64,
    hash: String,
    signature: String,
}

#[derive(Debug, Clone)]
pub struct Trail {
    dir: PathBuf,
    key: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("trail record {record}: {problem}")]
pub struct VerifyError {
    /// The 1-based line number of the first bad record (or where one is missing).
    pub record: u64,
    pub problem: String,
}

/// A new event before it is chained.
pub struct NewEvent<'a> {
    pub category: &'a str,
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub outcome: &'a str,
    pub detail: Option<String>,
}

fn record_hash(e: &Event) -> String {
    let mut unsigned = e.clone();
    unsigned.hash = String::new();
    hex::encode(Sha256::digest(serde_json::to_vec(&unsigned).expect("serialize")))
}

impl Trail {
    pub fn new(dir: &Path, key: [u8; 32]) -> Self {
        Self { dir: dir.to_path_buf(), key }
    }

    pub fn events_path(&self) -> PathBuf {
        self.dir.join(EVENTS)
    }

    fn sign(&self, seq: u64, hash: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{seq}:{hash}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn read_signed(&self, path: &Path) -> Option<Signed> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Append one event. A lock on the events file serialises writers across processes.
    pub fn append(&self, ev: NewEvent) -> std::io::Result<Event> {
        std::fs::create_dir_all(&self.dir)?;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(self.events_path())?;
        file.lock()?;
        let head = self.read_signed(&self.dir.join(HEAD));
        let (seq, prev) = head.map(|h| (h.seq + 1, h.hash)).unwrap_or((1, GENESIS.to_string()));
        let mut e = Event {
            seq,
            time: crate::now(),
            category: ev.category.into(),
            principal: ev.principal.into(),
            action: ev.action.into(),
            resource: ev.resource.into(),
            outcome: ev.outcome.into(),
            detail: ev.detail,
            prev_hash: prev,
            hash: String::new(),
        };
        e.hash = record_hash(&e);
        let mut line = serde_json::to_vec(&e).expect("serialize");
        line.push(b'\n');
        (&file).write_all(&line)?;
        let signed = Signed { seq, hash: e.hash.clone(), signature: self.sign(seq, &e.hash) };
        let text = serde_json::to_vec(&signed).expect("serialize");
        crate::write_atomic(&self.dir.join(HEAD), &text)?;
        if seq % DIGEST_EVERY == 0 {
            crate::write_atomic(&self.dir.join(format!("digest-{seq:012}.json")), &text)?;
        }
        file.unlock()?;
        Ok(e)
    }

    /// All events, in file order.
    pub fn read(&self) -> std::io::Result<Vec<Event>> {
        let path = self.events_path();
        if !path.exists() {
            return Ok(vec![]);
        }
        let f = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut out = Vec::new();
        for (i, line) in f.lines().enumerate() {
            let line = line?;
            let e: Event = serde_json::from_str(&line)
                .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("trail record {}: {err}", i + 1)))?;
            out.push(e);
        }
        Ok(out)
    }

    /// Check the whole chain; returns the number of records verified.
    pub fn verify(&self) -> Result<u64, VerifyError> {
        let path = self.events_path();
        let text = if path.exists() {
            std::fs::read_to_string(&path).map_err(|e| VerifyError { record: 0, problem: e.to_string() })?
        } else {
            String::new()
        };
        let mut prev = GENESIS.to_string();
        let mut hashes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            let bad = |problem: String| VerifyError { record: n, problem };
            let e: Event = serde_json::from_str(line).map_err(|err| bad(format!("is not a valid record ({err})")))?;
            if e.seq != n {
                return Err(bad(format!("has sequence number {} where {n} was expected (records deleted, inserted or reordered)", e.seq)));
            }
            if e.prev_hash != prev {
                return Err(bad("does not chain to the record before it (a record was deleted, inserted or reordered)".into()));
            }
            if record_hash(&e) != e.hash {
                return Err(bad("was edited: its content does not match its hash".into()));
            }
            prev = e.hash.clone();
            hashes.push(e.hash);
        }
        let count = hashes.len() as u64;
        let mut signed: Vec<(String, Signed)> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|d| d.ok())
                    .filter(|d| d.file_name().to_string_lossy().starts_with("digest-") || d.file_name() == HEAD)
                    .filter_map(|d| Some((d.file_name().to_string_lossy().to_string(), self.read_signed(&d.path())?)))
                    .collect()
            })
            .unwrap_or_default();
        signed.sort_by_key(|(_, s)| s.seq);
        for (name, s) in signed {
            if s.signature != self.sign(s.seq, &s.hash) {
                return Err(VerifyError { record: s.seq, problem: format!("{name} has a bad signature (digest forged or edited)") });
            }
            match hashes.get(s.seq as usize - 1) {
                None => {
                    return Err(VerifyError {
                        record: count + 1,
                        problem: format!("is missing: {name} vouches for {} records but only {count} remain (trail truncated)", s.seq),
                    })
                }
                Some(h) if *h != s.hash => {
                    return Err(VerifyError { record: s.seq, problem: format!("does not match the hash {name} recorded for it") })
                }
                _ => {}
            }
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail_with(n: usize) -> (tempfile::TempDir, Trail) {
        let dir = tempfile::tempdir().unwrap();
        let t = Trail::new(dir.path(), [3u8; 32]);
        for i in 0..n {
            t.append(NewEvent {
                category: "data",
                principal: "arn:aws:iam::000000000000:role/p-etl",
                action: "s3:GetObject",
                resource: &format!("arn:aws:s3:::b/k{i}"),
                outcome: "allowed",
                detail: None,
            })
            .unwrap();
        }
        (dir, t)
    }

    fn rewrite(t: &Trail, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(t.events_path()).unwrap().lines().map(String::from).collect();
        f(&mut lines);
        std::fs::write(t.events_path(), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn intact_trail_verifies() {
        let (_d, t) = trail_with(5);
        assert_eq!(t.verify().unwrap(), 5);
    }

    #[test]
    fn edited_record_is_named() {
        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l[2] = l[2].replace("k2", "kX"));
        let e = t.verify().unwrap_err();
        assert_eq!(e.record, 3);
        assert!(e.problem.contains("edited"), "{e}");
    }

    #[test]
    fn deleted_reordered_and_truncated_records_are_caught() {
        let (_d, t) = trail_with(5);
        rewrite(&t, |l| {
            l.remove(1);
        });
        assert_eq!(t.verify().unwrap_err().record, 2);

        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l.swap(3, 4));
        assert_eq!(t.verify().unwrap_err().record, 4);

        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l.truncate(3));
        let e = t.verify().unwrap_err();
        assert_eq!(e.record, 4);
        assert!(e.problem.contains("truncated"), "{e}");
    }

    #[test]
    fn recomputed_chain_without_the_key_fails_the_signature() {
        let (_d, t) = trail_with(3);
        // An attacker rewrites record 3 and fixes its hash, but cannot sign the head.
        rewrite(&t, |l| {
            let mut e: Event = serde_json::from_str(&l[2]).unwrap();
            e.outcome = "denied".into();
            e.hash = record_hash(&e);
            l[2] = serde_json::to_string(&e).unwrap();
        });
        let e = t.verify().unwrap_err();
        assert_eq!(e.record, 3);
    }
}
