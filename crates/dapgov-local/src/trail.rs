//! The local audit trail: every management and data operation as a JSON line, each record
//! carrying the SHA-256 of the previous one. A signed head (rewritten on every append) and
//! periodic signed digest files let `verify` detect edited, deleted, inserted, reordered and
//! truncated records, as CloudTrail's log-file validation does.
//!
//! Head and digests are signed with Ed25519, as CloudTrail signs its digest files: the signing
//! key is derived from the root secret and never written down; `verify` needs only the public
//! key, published beside the trail and exportable to pin (`trail verify --public-key FILE`).
//! Whoever can verify cannot forge.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

pub const EVENTS: &str = "events.jsonl";
const HEAD: &str = "head.json";
/// The record being appended, signed, written before the record: an append cut short between
/// the record and its head (a crash) is completed by the next one, and one that failed is
/// undone, so the trail never holds a record its head does not cover.
const PENDING: &str = "pending.json";
/// The public key that verifies head and digests, as `ed25519 <hex>`.
pub const PUBLIC_KEY: &str = "public-key";
const SCHEME: &str = "ed25519";
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

/// Which events `dapgov trail show` lists; an empty filter lists all.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only events at or after this time.
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only events of this platform role (`etl`, `analyst`, `auditor`).
    pub role: Option<String>,
    /// Only actions containing this text (`s3:GetObject`, `dapgov:Query`).
    pub action: Option<String>,
    /// Only refusals.
    pub denied_only: bool,
}

impl EventFilter {
    pub fn matches(&self, e: &Event) -> bool {
        self.since
            .is_none_or(|s| chrono::DateTime::parse_from_rfc3339(&e.time).is_ok_and(|t| t >= s))
            && self
                .role
                .as_ref()
                .is_none_or(|r| e.principal.ends_with(&format!("-{r}")))
            && self
                .action
                .as_ref()
                .is_none_or(|a| e.action.contains(a.as_str()))
            && (!self.denied_only || e.outcome == "denied")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signed {
    seq: u64,
    hash: String,
    signature: String,
    /// `ed25519`; absent on trails signed before with an HMAC key, re-signed on next append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheme: Option<String>,
}

/// What a signature covers: the head and a digest sign different messages, so a digest
/// copied over the head does not pass for it.
fn signed_message(kind: &str, seq: u64, hash: &str) -> Vec<u8> {
    format!("dapgov-trail/{kind}/v2\n{seq}\n{hash}").into_bytes()
}

/// The key that verifies the trail. It checks signatures and cannot make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// `ed25519 <64 hex digits>`, as `trail public-key` prints it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex_key = text
            .trim()
            .strip_prefix("ed25519 ")
            .ok_or("a trail public key reads `ed25519 <64 hex digits>`")?;
        let bytes: [u8; 32] = hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("a trail public key reads `ed25519 <64 hex digits>`")?;
        Ok(PublicKey(bytes))
    }

    pub fn to_text(&self) -> String {
        format!("ed25519 {}\n", hex::encode(self.0))
    }

    fn verifies(&self, message: &[u8], signature_hex: &str) -> bool {
        hex::decode(signature_hex).is_ok_and(|sig| {
            UnparsedPublicKey::new(&ED25519, self.0)
                .verify(message, &sig)
                .is_ok()
        })
    }
}

/// A signed statement of how far the trail reached: record `seq` and its hash, kept away
/// from the platform. The records chain, so a trail that still holds that record with that
/// hash holds every record before it unchanged: `verify_anchor` catches a trail rolled back
/// (whole, with its head and digests) to a copy older than the anchor, truncated before it,
/// or rewritten, which nothing kept inside the state directory can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub seq: u64,
    pub hash: String,
    signature: String,
}

const ANCHOR_PREFIX: &str = "dapgov-trail-anchor/v1";

impl Anchor {
    /// `dapgov-trail-anchor/v1 <seq> <hash> <signature>`, as `trail anchor` prints it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shape = || {
            format!(
                "a trail anchor reads `{ANCHOR_PREFIX} <record> <sha-256 hex> <signature hex>`, as `dapgov trail anchor` prints it"
            )
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        match parts.as_slice() {
            [ANCHOR_PREFIX, seq, hash, signature]
                if hash.len() == 64 && hex::decode(hash).is_ok() =>
            {
                Ok(Anchor {
                    seq: seq.parse().map_err(|_| shape())?,
                    hash: hash.to_string(),
                    signature: signature.to_string(),
                })
            }
            _ => Err(shape()),
        }
    }

    pub fn to_text(&self) -> String {
        format!(
            "{ANCHOR_PREFIX} {} {} {}\n",
            self.seq, self.hash, self.signature
        )
    }
}

#[derive(Debug, Clone)]
pub struct Trail {
    dir: PathBuf,
    /// The Ed25519 key, from a seed derived from the root secret.
    signer: std::sync::Arc<Ed25519KeyPair>,
    /// The HMAC key that signed trails before Ed25519, to re-sign them once.
    legacy_key: Option<[u8; 32]>,
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
    hex::encode(Sha256::digest(
        serde_json::to_vec(&unsigned).expect("serialize"),
    ))
}

impl Trail {
    pub fn new(dir: &Path, seed: [u8; 32]) -> Self {
        let signer =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("a 32-byte seed is an Ed25519 key");
        Self {
            dir: dir.to_path_buf(),
            signer: std::sync::Arc::new(signer),
            legacy_key: None,
        }
    }

    /// Accept a head and digests HMAC-signed with `key` (the scheme before Ed25519) and
    /// re-sign them on the next append.
    pub fn migrating_from(mut self, key: [u8; 32]) -> Self {
        self.legacy_key = Some(key);
        self
    }

    /// The key that verifies this trail's signatures.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(
            self.signer
                .public_key()
                .as_ref()
                .try_into()
                .expect("Ed25519 public keys are 32 bytes"),
        )
    }

    /// The public key published beside the trail.
    pub fn published_key(&self) -> Result<PublicKey, VerifyError> {
        let path = self.dir.join(PUBLIC_KEY);
        let text = std::fs::read_to_string(&path).map_err(|e| VerifyError {
            record: 0,
            problem: format!("cannot read the trail's public key {}: {e}", path.display()),
        })?;
        PublicKey::parse(&text).map_err(|e| VerifyError {
            record: 0,
            problem: format!("{}: {e}", path.display()),
        })
    }

    pub fn events_path(&self) -> PathBuf {
        self.dir.join(EVENTS)
    }

    fn sign(&self, kind: &str, seq: u64, hash: &str) -> Signed {
        let signature = hex::encode(self.signer.sign(&signed_message(kind, seq, hash)).as_ref());
        Signed {
            seq,
            hash: hash.into(),
            signature,
            scheme: Some(SCHEME.into()),
        }
    }

    fn legacy_signature_holds(&self, s: &Signed) -> bool {
        let Some(key) = self.legacy_key else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("any key length");
        mac.update(format!("{}:{}", s.seq, s.hash).as_bytes());
        mac.verify_slice(&hex::decode(&s.signature).unwrap_or_default())
            .is_ok()
    }

    /// Digest files, oldest first, with their names.
    fn digests(&self) -> Vec<(String, Option<Signed>)> {
        let mut out: Vec<(String, Option<Signed>)> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|d| d.ok())
                    .filter(|d| d.file_name().to_string_lossy().starts_with("digest-"))
                    .map(|d| {
                        (
                            d.file_name().to_string_lossy().to_string(),
                            self.read_signed(&d.path()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Publish the public key (once: a published key is never replaced; the platform refuses
    /// a root secret whose key differs) and return the head. A head from before Ed25519 means
    /// the first append since: it and the digests whose HMAC signatures hold are re-signed
    /// then, once. Runs under the append lock.
    fn prepare(&self) -> std::io::Result<Option<Signed>> {
        let key_path = self.dir.join(PUBLIC_KEY);
        if !key_path.exists() {
            crate::write_atomic(&key_path, self.public_key().to_text().as_bytes())?;
        }
        let head = self.read_signed(&self.dir.join(HEAD));
        if head.as_ref().is_some_and(|h| h.scheme.is_none()) {
            let digests = self
                .digests()
                .into_iter()
                .filter_map(|(name, d)| Some((self.dir.join(name), "digest", d?)));
            for (path, kind, old) in head
                .iter()
                .map(|h| (self.dir.join(HEAD), "head", h.clone()))
                .chain(digests)
            {
                if old.scheme.is_none() && self.legacy_signature_holds(&old) {
                    crate::write_atomic(
                        &path,
                        &serde_json::to_vec(&self.sign(kind, old.seq, &old.hash))
                            .expect("serialize"),
                    )?;
                }
            }
        }
        Ok(head)
    }

    fn read_signed(&self, path: &Path) -> Option<Signed> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Append one event. A lock on the events file serialises writers across processes.
    pub fn append(&self, ev: NewEvent) -> std::io::Result<Event> {
        crate::state::create_private_dir_all(&self.dir)?;
        let file = crate::private_options()
            .create(true)
            .append(true)
            .open(self.events_path())?;
        file.lock()?;
        let head = self.prepare()?;
        let head = self.complete_interrupted_append(head)?;
        let (seq, prev) = head
            .map(|h| (h.seq + 1, h.hash))
            .unwrap_or((1, GENESIS.to_string()));
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
        let length_before = file.metadata()?.len();
        let pending = self.dir.join(PENDING);
        crate::write_atomic(
            &pending,
            &serde_json::to_vec(&self.sign("pending", seq, &e.hash)).expect("serialize"),
        )?;
        let written = (&file)
            .write_all(&line)
            .and_then(|()| fault::injected("record"))
            .and_then(|()| self.sign_head(seq, &e.hash).map(drop));
        if let Err(err) = written {
            // Undone, so the record never stands without its head; if even the undo fails,
            // the pending record lets the next append finish the job.
            if fault::injected("crash").is_ok() && file.set_len(length_before).is_ok() {
                let _ = std::fs::remove_file(&pending);
            }
            file.unlock()?;
            return Err(err);
        }
        let _ = std::fs::remove_file(&pending);
        file.unlock()?;
        Ok(e)
    }

    /// Write the head (and, every `DIGEST_EVERY` records, a digest) for record `seq`; returns
    /// the head.
    fn sign_head(&self, seq: u64, hash: &str) -> std::io::Result<Signed> {
        fault::injected("head")?;
        let head = self.sign("head", seq, hash);
        crate::write_atomic(
            &self.dir.join(HEAD),
            &serde_json::to_vec(&head).expect("serialize"),
        )?;
        if seq.is_multiple_of(DIGEST_EVERY) {
            crate::write_atomic(
                &self.dir.join(format!("digest-{seq:012}.json")),
                &serde_json::to_vec(&self.sign("digest", seq, hash)).expect("serialize"),
            )?;
        }
        Ok(head)
    }

    /// An append that stopped after its record and before its head (the process died): when
    /// the pending statement is this trail's own signature of exactly the last record, and
    /// that record follows the head, the head is signed for it now. Anything else is left for
    /// `verify` to report (records appended without the signing key stay uncovered).
    fn complete_interrupted_append(&self, head: Option<Signed>) -> std::io::Result<Option<Signed>> {
        let path = self.dir.join(PENDING);
        let Some(pending) = self.read_signed(&path) else {
            return Ok(head);
        };
        let (head_seq, head_hash) = head
            .as_ref()
            .map_or((0, GENESIS.to_string()), |h| (h.seq, h.hash.clone()));
        let ours = self.public_key().verifies(
            &signed_message("pending", pending.seq, &pending.hash),
            &pending.signature,
        );
        let last = last_record(&self.events_path())?;
        let completes = ours
            && pending.seq == head_seq + 1
            && last.as_ref().is_some_and(|e| {
                e.seq == pending.seq
                    && e.hash == pending.hash
                    && e.prev_hash == head_hash
                    && record_hash(e) == e.hash
            });
        if !completes {
            if ours && last.as_ref().is_none_or(|e| e.seq <= head_seq) {
                // The undo of a failed append worked but the statement stayed: stale.
                let _ = std::fs::remove_file(&path);
            }
            return Ok(head);
        }
        let head = self.sign_head(pending.seq, &pending.hash)?;
        let _ = std::fs::remove_file(&path);
        Ok(Some(head))
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
            let e: Event = serde_json::from_str(&line).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("trail record {}: {err}", i + 1),
                )
            })?;
            out.push(e);
        }
        Ok(out)
    }

    /// The events `filter` lets through, in file order.
    pub fn events(&self, filter: &EventFilter) -> std::io::Result<Vec<Event>> {
        Ok(self
            .read()?
            .into_iter()
            .filter(|e| filter.matches(e))
            .collect())
    }

    /// An anchor at the signed head, to keep away from the platform. Verify the trail first:
    /// an anchor vouches for what the trail holds now.
    pub fn anchor(&self) -> Result<Anchor, VerifyError> {
        let head = self
            .read_signed(&self.dir.join(HEAD))
            .ok_or_else(|| VerifyError {
                record: 0,
                problem: format!("{HEAD} is missing: there is nothing to anchor"),
            })?;
        let signature = self.sign("anchor", head.seq, &head.hash).signature;
        Ok(Anchor {
            seq: head.seq,
            hash: head.hash,
            signature,
        })
    }

    /// Does the trail still hold the anchored record, unchanged? Run after `verify`, which
    /// proves the records chain up to it.
    pub fn verify_anchor(&self, key: &PublicKey, anchor: &Anchor) -> Result<(), VerifyError> {
        if !key.verifies(
            &signed_message("anchor", anchor.seq, &anchor.hash),
            &anchor.signature,
        ) {
            return Err(VerifyError { record: anchor.seq, problem: "the anchor's signature does not hold: it was edited, or made by another platform".into() });
        }
        let events = self.read().map_err(|e| VerifyError {
            record: 0,
            problem: e.to_string(),
        })?;
        match events.get((anchor.seq as usize).wrapping_sub(1)) {
            None => Err(VerifyError {
                record: anchor.seq,
                problem: format!(
                    "is missing: the anchor vouches for {} records but the trail holds {} (rolled back to an older copy, or truncated)",
                    anchor.seq,
                    events.len()
                ),
            }),
            Some(e) if e.hash != anchor.hash => Err(VerifyError {
                record: anchor.seq,
                problem: "is not the anchored record: the trail's history was rewritten".into(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Check the whole chain against `key`; returns the number of records verified.
    pub fn verify(&self, key: &PublicKey) -> Result<u64, VerifyError> {
        let path = self.events_path();
        let text = if path.exists() {
            std::fs::read_to_string(&path).map_err(|e| VerifyError {
                record: 0,
                problem: e.to_string(),
            })?
        } else {
            String::new()
        };
        let hashes = chained_hashes(&text)?;
        let count = hashes.len() as u64;
        let head = self.read_signed(&self.dir.join(HEAD));
        if head.is_none() && (count > 0 || self.dir.join(HEAD).exists()) {
            return Err(VerifyError {
                record: count,
                problem: format!(
                    "{HEAD} is missing or unreadable: the trail's signed end was deleted or replaced"
                ),
            });
        }
        let mut signed: Vec<(String, &str, Signed)> = vec![];
        for (name, d) in self.digests() {
            let d = d.ok_or_else(|| VerifyError {
                record: 0,
                problem: format!("{name} is not a signed digest (edited)"),
            })?;
            signed.push((name, "digest", d));
        }
        signed.extend(head.map(|h| (HEAD.to_string(), "head", h)));
        for (name, kind, s) in &signed {
            if s.scheme.as_deref() != Some(SCHEME) {
                return Err(VerifyError {
                    record: s.seq,
                    problem: format!(
                        "{name} is signed with the retired HMAC scheme; it is re-signed with Ed25519 on the platform's next operation"
                    ),
                });
            }
            if !key.verifies(&signed_message(kind, s.seq, &s.hash), &s.signature) {
                return Err(VerifyError {
                    record: s.seq,
                    problem: format!(
                        "{name} has a bad signature (forged, edited, or signed with another key)"
                    ),
                });
            }
            match hashes.get((s.seq as usize).wrapping_sub(1)) {
                None => {
                    return Err(VerifyError {
                        record: count + 1,
                        problem: format!(
                            "is missing: {name} vouches for {} records but only {count} remain (trail truncated)",
                            s.seq
                        ),
                    });
                }
                Some(h) if *h != s.hash => {
                    return Err(VerifyError {
                        record: s.seq,
                        problem: format!("does not match the hash {name} recorded for it"),
                    });
                }
                _ => {}
            }
        }
        // Records past the signed head were appended without the signing key.
        if let Some((_, _, h)) = signed.iter().find(|(_, kind, _)| *kind == "head")
            && h.seq != count
        {
            return Err(VerifyError {
                record: h.seq + 1,
                problem: format!(
                    "and the {} after it are not covered by the signed head (appended without the signing key)",
                    count - h.seq
                ),
            });
        }
        Ok(count)
    }
}

/// Each record's hash, in order, once every record is checked to be well formed, numbered in
/// sequence, chained to the one before it and unedited.
fn chained_hashes(text: &str) -> Result<Vec<String>, VerifyError> {
    let mut prev = GENESIS.to_string();
    let mut hashes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let bad = |problem: String| VerifyError { record: n, problem };
        let e: Event = serde_json::from_str(line)
            .map_err(|err| bad(format!("is not a valid record ({err})")))?;
        if e.seq != n {
            return Err(bad(format!(
                "has sequence number {} where {n} was expected (records deleted, inserted or reordered)",
                e.seq
            )));
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
    Ok(hashes)
}

/// The last complete record of the events file (a record is one line, well under 1 MiB).
fn last_record(path: &Path) -> std::io::Result<Option<Event>> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 1 << 20;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    f.take(TAIL).read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    Ok(text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str(l).ok()))
}

/// Failures the tests inject at a named point of an append (never in a build of the crate).
mod fault {
    #[cfg(test)]
    thread_local! {
        pub static AT: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
    }

    #[cfg(test)]
    pub fn injected(point: &str) -> std::io::Result<()> {
        match AT.with(|a| a.get()) {
            Some(p) if p == point || (p == "crash" && point == "record") => Err(
                std::io::Error::other(format!("injected failure at {point}")),
            ),
            _ => Ok(()),
        }
    }

    #[cfg(not(test))]
    pub fn injected(_: &str) -> std::io::Result<()> {
        Ok(())
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

    fn event(i: usize) -> NewEvent<'static> {
        NewEvent {
            category: "data",
            principal: "arn:aws:iam::000000000000:role/p-etl",
            action: "s3:PutObject",
            resource: if i.is_multiple_of(2) {
                "arn:aws:s3:::b/even"
            } else {
                "arn:aws:s3:::b/odd"
            },
            outcome: "allowed",
            detail: None,
        }
    }

    /// A head that cannot be written (a full disk, a directory made immutable) fails the
    /// append and leaves the trail as it was: the next append continues it and it verifies.
    #[test]
    fn a_failed_head_write_leaves_the_trail_intact() {
        let (_d, t) = trail_with(3);
        fault::AT.with(|a| a.set(Some("head")));
        assert!(t.append(event(4)).is_err());
        fault::AT.with(|a| a.set(None));
        assert_eq!(t.read().unwrap().len(), 3);
        assert_eq!(t.append(event(4)).unwrap().seq, 4);
        assert_eq!(t.verify(&t.public_key()), Ok(4));
        assert!(!t.dir.join(PENDING).exists());
    }

    /// A process that dies between its record and its head: the next append signs the head
    /// for that record, as its own pending statement shows it to be, and continues.
    #[test]
    fn an_append_cut_short_is_completed_by_the_next() {
        let (_d, t) = trail_with(DIGEST_EVERY as usize - 1);
        fault::AT.with(|a| a.set(Some("crash")));
        assert!(t.append(event(0)).is_err());
        fault::AT.with(|a| a.set(None));
        assert_eq!(t.read().unwrap().len(), DIGEST_EVERY as usize);
        assert!(
            t.verify(&t.public_key()).is_err(),
            "the cut-short record is uncovered"
        );
        assert_eq!(t.append(event(1)).unwrap().seq, DIGEST_EVERY + 1);
        assert_eq!(t.verify(&t.public_key()), Ok(DIGEST_EVERY + 1));
        assert!(
            t.dir
                .join(format!("digest-{DIGEST_EVERY:012}.json"))
                .exists()
        );
        // A record appended by someone without the signing key is never adopted.
        let mut forged = t.read().unwrap().pop().unwrap();
        forged.seq += 1;
        forged.prev_hash = forged.hash.clone();
        forged.hash = record_hash(&forged);
        let mut line = serde_json::to_string(&forged).unwrap();
        line.push('\n');
        std::fs::OpenOptions::new()
            .append(true)
            .open(t.events_path())
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        t.append(event(2)).unwrap();
        assert!(t.verify(&t.public_key()).is_err());
    }

    #[test]
    fn the_event_filter_selects_by_role_action_refusal_and_time() {
        let (_d, t) = trail_with(2);
        t.append(NewEvent {
            category: "data",
            principal: "arn:aws:iam::000000000000:role/p-analyst",
            action: "dapgov:Query",
            resource: "raw.metrics",
            outcome: "denied",
            detail: None,
        })
        .unwrap();
        let all = t.events(&EventFilter::default()).unwrap();
        assert_eq!(all.len(), 3);
        let by = |f: EventFilter| {
            t.events(&f)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            by(EventFilter {
                role: Some("analyst".into()),
                ..Default::default()
            }),
            [all[2].seq]
        );
        assert_eq!(
            by(EventFilter {
                role: Some("etl".into()),
                action: Some("s3:Get".into()),
                ..Default::default()
            }),
            [all[0].seq, all[1].seq]
        );
        assert_eq!(
            by(EventFilter {
                denied_only: true,
                ..Default::default()
            }),
            [all[2].seq]
        );
        let later = chrono::DateTime::parse_from_rfc3339("2999-01-01T00:00:00Z").unwrap();
        assert!(
            by(EventFilter {
                since: Some(later),
                ..Default::default()
            })
            .is_empty()
        );
    }

    fn rewrite(t: &Trail, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(t.events_path())
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        f(&mut lines);
        std::fs::write(t.events_path(), lines.join("\n") + "\n").unwrap();
    }

    #[test]
    fn intact_trail_verifies() {
        let (_d, t) = trail_with(5);
        assert_eq!(t.verify(&t.public_key()).unwrap(), 5);
    }

    #[test]
    fn edited_record_is_named() {
        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l[2] = l[2].replace("k2", "kX"));
        let e = t.verify(&t.public_key()).unwrap_err();
        assert_eq!(e.record, 3);
        assert!(e.problem.contains("edited"), "{e}");
    }

    #[test]
    fn deleted_reordered_and_truncated_records_are_caught() {
        let (_d, t) = trail_with(5);
        rewrite(&t, |l| {
            l.remove(1);
        });
        assert_eq!(t.verify(&t.public_key()).unwrap_err().record, 2);

        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l.swap(3, 4));
        assert_eq!(t.verify(&t.public_key()).unwrap_err().record, 4);

        let (_d, t) = trail_with(5);
        rewrite(&t, |l| l.truncate(3));
        let e = t.verify(&t.public_key()).unwrap_err();
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
        let e = t.verify(&t.public_key()).unwrap_err();
        assert_eq!(e.record, 3);
    }

    fn write_signed(t: &Trail, file: &str, s: &Signed) {
        std::fs::write(t.dir.join(file), serde_json::to_vec(s).unwrap()).unwrap();
    }

    /// Everything but the root secret: the records, the head, the digests and the public key.
    /// An attacker rewrites the chain and signs the head with a key of their own.
    #[test]
    fn whoever_holds_the_verify_key_cannot_forge_the_trail() {
        let (_d, t) = trail_with(3);
        let pinned = t.public_key();
        assert_eq!(t.published_key().unwrap(), pinned);
        rewrite(&t, |l| {
            let mut e: Event = serde_json::from_str(&l[2]).unwrap();
            e.outcome = "denied".into();
            e.hash = record_hash(&e);
            l[2] = serde_json::to_string(&e).unwrap();
        });
        let last: Event = serde_json::from_str(
            std::fs::read_to_string(t.events_path())
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        let forger = Trail::new(&t.dir, [9u8; 32]);
        write_signed(&t, HEAD, &forger.sign("head", 3, &last.hash));
        // With the published key left in place, the forged head fails.
        assert!(
            t.verify(&t.published_key().unwrap())
                .unwrap_err()
                .problem
                .contains("bad signature")
        );
        // The forger also replaces the published key: only a pinned key catches it.
        std::fs::write(t.dir.join(PUBLIC_KEY), forger.public_key().to_text()).unwrap();
        assert_eq!(t.verify(&t.published_key().unwrap()).unwrap(), 3);
        let e = t.verify(&pinned).unwrap_err();
        assert!(e.problem.contains("bad signature"), "{e}");
    }

    #[test]
    fn a_deleted_head_a_digest_copied_over_it_and_unsigned_appends_are_caught() {
        let (_d, t) = trail_with(DIGEST_EVERY as usize + 5);
        let key = t.public_key();
        // Deleting the head, with or without truncating the records.
        let head = std::fs::read(t.dir.join(HEAD)).unwrap();
        std::fs::remove_file(t.dir.join(HEAD)).unwrap();
        assert!(
            t.verify(&key)
                .unwrap_err()
                .problem
                .contains("head.json is missing")
        );
        rewrite(&t, |l| l.truncate(DIGEST_EVERY as usize + 2));
        assert!(t.verify(&key).is_err());
        // Truncating to the last digest and copying the digest over the head.
        rewrite(&t, |l| l.truncate(DIGEST_EVERY as usize));
        std::fs::copy(
            t.dir.join(format!("digest-{DIGEST_EVERY:012}.json")),
            t.dir.join(HEAD),
        )
        .unwrap();
        assert!(
            t.verify(&key)
                .unwrap_err()
                .problem
                .contains("bad signature")
        );
        // An empty head file is no head.
        std::fs::write(t.dir.join(HEAD), &head[..0]).unwrap();
        assert!(
            t.verify(&key)
                .unwrap_err()
                .problem
                .contains("head.json is missing")
        );
        // A correctly chained record appended after the signed head.
        let (_d, t) = trail_with(4);
        let head = t.read_signed(&t.dir.join(HEAD)).unwrap();
        let mut e = Event {
            seq: 5,
            time: "2026-01-01T00:00:00Z".into(),
            category: "data".into(),
            principal: "p".into(),
            action: "s3:GetObject".into(),
            resource: "r".into(),
            outcome: "allowed".into(),
            detail: None,
            prev_hash: head.hash,
            hash: String::new(),
        };
        e.hash = record_hash(&e);
        rewrite(&t, |l| l.push(serde_json::to_string(&e).unwrap()));
        let err = t.verify(&t.public_key()).unwrap_err();
        assert_eq!(err.record, 5);
        assert!(
            err.problem.contains("not covered by the signed head"),
            "{err}"
        );
    }

    #[test]
    fn a_trail_signed_with_the_retired_hmac_key_is_re_signed_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let hmac_key = [5u8; 32];
        let t = Trail::new(dir.path(), [3u8; 32]).migrating_from(hmac_key);
        t.append(NewEvent {
            category: "data",
            principal: "p",
            action: "a",
            resource: "r",
            outcome: "allowed",
            detail: None,
        })
        .unwrap();
        // Rewrite the head as the HMAC scheme wrote it.
        let head = t.read_signed(&t.dir.join(HEAD)).unwrap();
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&hmac_key).unwrap();
        mac.update(format!("{}:{}", head.seq, head.hash).as_bytes());
        write_signed(
            &t,
            HEAD,
            &Signed {
                seq: head.seq,
                hash: head.hash.clone(),
                signature: hex::encode(mac.finalize().into_bytes()),
                scheme: None,
            },
        );
        assert!(
            t.verify(&t.public_key())
                .unwrap_err()
                .problem
                .contains("retired HMAC")
        );
        t.append(NewEvent {
            category: "data",
            principal: "p",
            action: "a",
            resource: "r",
            outcome: "allowed",
            detail: None,
        })
        .unwrap();
        assert_eq!(t.verify(&t.public_key()).unwrap(), 2);
    }

    #[test]
    fn an_anchor_kept_away_catches_a_trail_rolled_back_whole() {
        let (dir, t) = trail_with(5);
        let key = t.public_key();
        let older = dir.path().join("older");
        std::fs::create_dir(&older).unwrap();
        for f in [EVENTS, HEAD, PUBLIC_KEY] {
            std::fs::copy(t.dir.join(f), older.join(f)).unwrap();
        }
        for i in 0..3 {
            t.append(NewEvent {
                category: "data",
                principal: "p",
                action: "a",
                resource: &format!("r{i}"),
                outcome: "allowed",
                detail: None,
            })
            .unwrap();
        }
        let anchor = Anchor::parse(&t.anchor().unwrap().to_text()).unwrap();
        assert_eq!(anchor.seq, 8);
        t.verify(&key).unwrap();
        t.verify_anchor(&key, &anchor).unwrap();
        // The whole trail directory put back as it was at record 5: intact by itself...
        for f in [EVENTS, HEAD, PUBLIC_KEY] {
            std::fs::copy(older.join(f), t.dir.join(f)).unwrap();
        }
        assert_eq!(t.verify(&key), Ok(5));
        // ...but not what the anchor vouched for.
        let e = t.verify_anchor(&key, &anchor).unwrap_err();
        assert!(e.problem.contains("rolled back"), "{e}");
        // An edited anchor does not verify.
        let mut forged = anchor.clone();
        forged.seq = 4;
        assert!(
            t.verify_anchor(&key, &forged)
                .unwrap_err()
                .problem
                .contains("signature")
        );
        assert!(Anchor::parse("dapgov-trail-anchor/v1 x y z").is_err());
    }
}
