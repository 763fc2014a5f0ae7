//! A zone bucket as an `object_store::ObjectStore`, acting as one role: every call is
//! authorised against the role's identity policies, the bucket policy and the key policy,
//! objects are sealed with envelope encryption, and data events go to the trail.
//! DataFusion reads and writes through this store, so the ETL and `query` cannot reach
//! what the role may not.

use crate::Shared;
use crate::crypto::{
    self, HEADER_LEN, Header, ObjectName, SEGMENT, SegmentOpener, SegmentSealer, WrappingKey,
};
use crate::versions;
use bytes::Bytes;
use dapgov_policy::{Decision, Document, Request, evaluate};
use dapgov_target::TargetError;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    UploadPart,
};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// A key as the store needs it: its ARN, policy and whether it may be used.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub key_id: String,
    pub arn: String,
    pub policy: Option<Document>,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub name: String,
    pub arn: String,
    pub dir: PathBuf,
    pub policy: Option<Document>,
    /// The key that encrypts new objects (None: bucket encryption not configured).
    pub key: Option<KeyInfo>,
    /// Record object-level events in the trail.
    pub data_events: bool,
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub role: String,
    pub arn: String,
    pub identity_policies: Vec<Document>,
}

impl Caller {
    /// How an access error names the caller: `role analyst (arn:...)`.
    pub fn described(&self) -> String {
        format!("role {} ({})", self.role, self.arn)
    }
}

#[derive(Debug, Clone)]
pub struct GovernedStore {
    pub(crate) shared: Arc<Shared>,
    pub(crate) bucket: BucketInfo,
    pub(crate) caller: Caller,
    /// Every key by id, to open objects sealed under a key the bucket no longer names.
    pub(crate) keys: BTreeMap<String, KeyInfo>,
}

impl std::fmt::Display for GovernedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dapgov://{} as {}", self.bucket.name, self.caller.role)
    }
}

fn generic(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> object_store::Error {
    object_store::Error::Generic {
        store: "dapgov",
        source: e.into(),
    }
}

fn io_err(path: &Path, e: std::io::Error) -> object_store::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        object_store::Error::NotFound {
            path: path.to_string(),
            source: e.into(),
        }
    } else {
        generic(e)
    }
}

/// Segment `i` of an object of `plain_len` bytes, as sealed on disk.
fn read_segment(f: &mut std::fs::File, i: u64, plain_len: u64) -> std::io::Result<Vec<u8>> {
    let span = crypto::segment_span(i, plain_len);
    let mut sealed = vec![0u8; (span.end - span.start) as usize];
    f.seek(SeekFrom::Start(span.start))?;
    f.read_exact(&mut sealed)?;
    Ok(sealed)
}

impl GovernedStore {
    fn file(&self, location: &Path) -> PathBuf {
        self.bucket.dir.join(location.as_ref())
    }

    /// What an object's segments are bound to.
    fn name<'a>(&'a self, location: &'a Path) -> ObjectName<'a> {
        ObjectName {
            bucket: &self.bucket.name,
            key: location.as_ref(),
        }
    }

    fn object_arn(&self, location: &Path) -> String {
        dapgov_inventory::names::s3_object_arn(&self.bucket.name, location.as_ref())
    }

    /// Whether the trail records `action` on `resource`: every data operation in a bucket
    /// with data events, and every write and delete of a table commit in any bucket.
    fn recorded(&self, action: &str, resource: &str) -> bool {
        self.bucket.data_events
            || (matches!(action, "s3:PutObject" | "s3:DeleteObject")
                && versions::is_table_log(resource))
    }

    /// Record an allowed data operation (see `recorded`), before it takes effect.
    /// A write names the version it creates, so `trail verify` can tell an object rolled back
    /// to an older copy from the one last written.
    fn record(
        &self,
        action: &str,
        resource: &str,
        version: Option<&str>,
    ) -> object_store::Result<()> {
        if self.recorded(action, resource) {
            let detail = version.map(versions::written);
            self.shared
                .record_event(
                    "data",
                    &self.caller.arn,
                    action,
                    resource,
                    "allowed",
                    detail,
                )
                .map_err(generic)?;
        }
        Ok(())
    }

    /// S3 authorisation: an explicit deny anywhere wins; otherwise the identity policy or the
    /// bucket policy must allow. Local calls never cross a network, so they count as TLS 1.3.
    fn authorize_s3(
        &self,
        action: &str,
        resource: &str,
        extra: &[(&str, String)],
    ) -> object_store::Result<()> {
        let mut req = Request {
            action: action.into(),
            resource: resource.into(),
            principal: self.caller.arn.clone(),
            context: BTreeMap::new(),
        };
        req.context
            .insert("aws:SecureTransport".into(), "true".into());
        req.context.insert("s3:TlsVersion".into(), "1.3".into());
        req.context
            .insert("aws:PrincipalArn".into(), self.caller.arn.clone());
        for (k, v) in extra {
            req.context.insert((*k).into(), v.clone());
        }
        let identity: Vec<&Document> = self.caller.identity_policies.iter().collect();
        let id = evaluate(&identity, &req, false);
        let res = self
            .bucket
            .policy
            .as_ref()
            .map(|p| evaluate(&[p], &req, true))
            .unwrap_or(Decision::ImplicitDeny);
        let denied = |reason: String| {
            // Every denial is recorded, in every bucket.
            self.shared
                .record_denial("data", &self.caller.arn, action, resource, &reason);
            Err(generic(TargetError::AccessDenied {
                principal: self.caller.described(),
                action: action.into(),
                resource: resource.into(),
                reason: Some(reason),
            }))
        };
        match (&id, &res) {
            (Decision::ExplicitDeny(s), _) => {
                denied(format!("explicitly denied by the role's policy, {s}"))
            }
            (_, Decision::ExplicitDeny(s)) => {
                denied(format!("explicitly denied by the bucket policy, {s}"))
            }
            (Decision::Allow(_), _) | (_, Decision::Allow(_)) => Ok(()),
            _ => denied("no policy of the role allows it".into()),
        }
    }

    fn authorize_kms(&self, action: &str, key: &KeyInfo) -> object_store::Result<()> {
        check_key(&self.shared, &self.caller, action, key).map_err(generic)
    }

    fn put_context(&self) -> Vec<(&'static str, String)> {
        match &self.bucket.key {
            Some(k) => vec![
                ("s3:x-amz-server-side-encryption", "aws:kms".into()),
                (
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    k.arn.clone(),
                ),
            ],
            None => vec![],
        }
    }

    /// Authorise a write and make the header and data key for a new object.
    fn begin_write(&self, location: &Path) -> object_store::Result<(Header, [u8; 32])> {
        let arn = self.object_arn(location);
        self.authorize_s3("s3:PutObject", &arn, &self.put_context())?;
        match &self.bucket.key {
            Some(k) => {
                self.authorize_kms("kms:GenerateDataKey", k)?;
                let (version, _) = self.shared.kms.latest(&k.key_id).map_err(generic)?;
                let material = self
                    .shared
                    .kms
                    .material(&k.key_id, version)
                    .map_err(generic)?;
                Ok(Header::new(Some(&WrappingKey {
                    key_id: &k.key_id,
                    version,
                    material: &material,
                })))
            }
            None => Ok(Header::new(None)),
        }
    }

    /// Publish a sealed temporary at `location`. `Create` is atomic: of writers racing for one
    /// name, exactly one wins and the others get `AlreadyExists` (a table's commit protocol
    /// depends on it).
    fn finish_write(
        &self,
        location: &Path,
        tmp: &std::path::Path,
        header: &Header,
        mode: &PutMode,
    ) -> object_store::Result<PutResult> {
        let dest = self.file(location);
        if let Some(parent) = dest.parent() {
            crate::state::create_private_dir_all(parent).map_err(generic)?;
        }
        let version = header.version_id();
        let arn = self.object_arn(location);
        self.record("s3:PutObject", &arn, Some(&version))?;
        let written = match mode {
            PutMode::Overwrite => std::fs::rename(tmp, &dest).map_err(generic),
            PutMode::Create => {
                // A hard link never replaces an existing name.
                let linked = std::fs::hard_link(tmp, &dest);
                let _ = std::fs::remove_file(tmp);
                linked.map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => object_store::Error::AlreadyExists {
                        path: location.to_string(),
                        source: Box::new(e),
                    },
                    _ => generic(e),
                })
            }
            PutMode::Update(_) => {
                let _ = std::fs::remove_file(tmp);
                Err(object_store::Error::NotImplemented {
                    operation: "put with PutMode::Update".into(),
                    implementer: self.to_string(),
                })
            }
        };
        if let Err(e) = &written {
            // The record above named a version that did not land: say so, so the version
            // check expects the object's actual one.
            if self.recorded("s3:PutObject", &arn)
                && let Err(trail) = self.shared.record_event(
                    "data",
                    &self.caller.arn,
                    "s3:PutObject",
                    &arn,
                    "error",
                    Some(versions::not_written(&version)),
                )
            {
                tracing::error!("{trail} (after: {e})");
            }
        }
        written.map(|()| PutResult {
            e_tag: Some(version),
            version: None,
        })
    }

    /// An object's metadata and header; its ETag is the version its header names. A file
    /// shorter than the smallest sealed object (a header and one tag) was truncated: an
    /// integrity error, never an empty object whose rows vanish.
    fn meta_of(
        &self,
        location: Path,
        file: &mut std::fs::File,
    ) -> object_store::Result<(ObjectMeta, Header)> {
        let md = file.metadata().map_err(generic)?;
        let smallest = (HEADER_LEN + crypto::TAG) as u64;
        if md.len() < smallest {
            return Err(generic(format!(
                "{}: integrity error: the object is {} bytes, shorter than any sealed object ({smallest}); it was truncated or not written by the platform",
                self.object_arn(&location),
                md.len()
            )));
        }
        let mut hbuf = [0u8; HEADER_LEN];
        file.read_exact(&mut hbuf).map_err(|e| {
            generic(format!(
                "{}: not a dapgov object: {e}",
                self.object_arn(&location)
            ))
        })?;
        let header = Header::decode(&hbuf)
            .map_err(|e| generic(format!("{}: {e}", self.object_arn(&location))))?;
        let last_modified = md
            .modified()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_default();
        let meta = ObjectMeta {
            location,
            last_modified,
            size: crypto::plaintext_len(md.len()),
            e_tag: Some(header.version_id()),
            version: None,
        };
        Ok((meta, header))
    }

    fn walk(&self, prefix: Option<&Path>, recursive: bool) -> object_store::Result<ListResult> {
        self.authorize_s3("s3:ListBucket", &self.bucket.arn, &[])?;
        let base = match prefix {
            Some(p) => self.file(p),
            None => self.bucket.dir.clone(),
        };
        let mut out = ListResult {
            common_prefixes: vec![],
            objects: vec![],
        };
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in rd.flatten() {
                let path = entry.path();
                let rel = path
                    .strip_prefix(&self.bucket.dir)
                    .map_err(generic)?
                    .to_string_lossy()
                    .replace('\\', "/");
                let md = entry.metadata().map_err(generic)?;
                if md.is_dir() {
                    if recursive {
                        stack.push(path);
                    } else {
                        out.common_prefixes.push(Path::from(rel));
                    }
                } else {
                    let mut file = std::fs::File::open(&path).map_err(generic)?;
                    out.objects
                        .push(self.meta_of(Path::from(rel), &mut file)?.0);
                }
            }
        }
        out.objects.sort_by(|a, b| a.location.cmp(&b.location));
        out.common_prefixes.sort();
        if let Some(log) = prefix.filter(|p| p.as_ref().ends_with("_delta_log")) {
            self.check_table_log(log, &out.objects)?;
        }
        Ok(out)
    }

    /// A table's commit log, listed as a table is opened, must hold every commit the trail
    /// recorded there: a log cut short would silently serve an older version of the table.
    fn check_table_log(&self, log: &Path, listed: &[ObjectMeta]) -> object_store::Result<()> {
        let present: std::collections::BTreeSet<String> = listed
            .iter()
            .map(|o| self.object_arn(&o.location))
            .collect();
        let missing = |fresh: bool| -> object_store::Result<Vec<String>> {
            if fresh {
                // Another process may have removed commits through the platform meanwhile.
                self.shared.forget_table_logs();
            }
            let recorded = self
                .shared
                .recorded_table_logs(&self.object_arn(log))
                .map_err(generic)?;
            Ok(recorded
                .iter()
                .filter(|(arn, _)| !present.contains(arn))
                .map(|(arn, seq)| format!("{arn} (written at trail record {seq})"))
                .collect())
        };
        if missing(false)?.is_empty() {
            return Ok(());
        }
        let missing = missing(true)?;
        if missing.is_empty() {
            return Ok(());
        }
        Err(generic(format!(
            "integrity error: the table's commit log is missing {} commit(s) the trail recorded and that were never deleted through the platform: {}; the table would read as an older version. Restore the missing files from a backup (`dapgov trail verify` lists every object that differs)",
            missing.len(),
            missing.join(", ")
        )))
    }
}

#[async_trait::async_trait]
impl ObjectStore for GovernedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let (header, dek) = self.begin_write(location)?;
        let data: Vec<u8> = payload.iter().flat_map(|b| b.iter().copied()).collect();
        let sealed = crypto::seal_all(&header, &dek, self.name(location), &data);
        let tmp = self.shared.tmp_file();
        std::io::Write::write_all(&mut crate::create_private(&tmp).map_err(generic)?, &sealed)
            .map_err(generic)?;
        self.finish_write(location, &tmp, &header, &opts.mode)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let (header, dek) = self.begin_write(location)?;
        let tmp = self.shared.tmp_file();
        let mut file = crate::create_private(&tmp).map_err(generic)?;
        file.write_all(&header.encode()).map_err(generic)?;
        Ok(Box::new(Upload {
            store: Arc::new(self.clone()),
            location: location.clone(),
            tmp,
            file: Some(file),
            sealer: SegmentSealer::new(&header, &dek, self.name(location)),
            header,
            pending: Vec::new(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let arn = self.object_arn(location);
        self.authorize_s3("s3:GetObject", &arn, &[])?;
        let path = self.file(location);
        let mut f = std::fs::File::open(&path).map_err(|e| io_err(location, e))?;
        let (meta, header) = self.meta_of(location.clone(), &mut f)?;
        let len = meta.size;
        // A bucket with a key holds only objects whose data key that key service wrapped.
        if let (false, Some(k)) = (header.wrapped, &self.bucket.key) {
            return Err(generic(format!(
                "{arn}: integrity error: the object's data key is not wrapped, but the bucket encrypts with {}; it was not written by the platform",
                k.arn
            )));
        }
        let material = if header.wrapped {
            let key = self.keys.get(&header.key_id).ok_or_else(|| {
                generic(format!("{arn}: sealed with unknown key {}", header.key_id))
            })?;
            self.authorize_kms("kms:Decrypt", key)?;
            Some(
                self.shared
                    .kms
                    .material(&header.key_id, header.key_version)
                    .map_err(generic)?,
            )
        } else {
            None
        };
        let dek = header
            .data_key(material.as_ref())
            .map_err(|e| generic(format!("{arn}: {e}")))?;
        let opener = SegmentOpener::new(&header, &dek, self.name(location));
        let n = crypto::segment_count(len);
        let range = match &options.range {
            Some(r) => match r.as_range(len) {
                Ok(range) => range,
                Err(e) => {
                    // A wanted range past the end means the object is not the one the reader
                    // expects: say whether it even opens under this name (copied from
                    // elsewhere) before speaking of its size.
                    if let Ok(sealed) = read_segment(&mut f, 0, len) {
                        opener
                            .open(0, n == 1, &sealed)
                            .map_err(|e| generic(format!("{arn}: integrity error: {e}")))?;
                    }
                    return Err(generic(format!(
                        "{arn}: integrity error: {e}; the object holds {len} bytes: if a table's log records another size for it, it was replaced or cut outside the platform (`dapgov trail verify` checks)"
                    )));
                }
            },
            None => 0..len,
        };
        self.record("s3:GetObject", &arn, None)?;
        if options.head {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range,
                attributes: Default::default(),
            });
        }
        // Segments are read and opened as the stream is polled, so a large object is never
        // held whole in memory.
        let (first, last) = (
            range.start / SEGMENT as u64,
            if range.end == 0 {
                0
            } else {
                (range.end - 1) / SEGMENT as u64
            },
        );
        let want = range.clone();
        let segments =
            stream::iter(first..=last.min(n - 1)).map(move |i| -> object_store::Result<Bytes> {
                let sealed = read_segment(&mut f, i, len)
                    .map_err(|e| generic(format!("{arn}: truncated object: {e}")))?;
                let plain = opener
                    .open(i, i + 1 == n, &sealed)
                    .map_err(|e| generic(format!("{arn}: integrity error: {e}")))?;
                let seg_start = i * SEGMENT as u64;
                let a = want.start.saturating_sub(seg_start) as usize;
                let b = ((want.end - seg_start) as usize).min(plain.len());
                Ok(Bytes::from(plain).slice(a..b))
            });
        Ok(GetResult {
            payload: GetResultPayload::Stream(segments.boxed()),
            meta,
            range,
            attributes: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let me = Arc::new(self.clone());
        locations
            .map(move |p| {
                let p = p?;
                let arn = me.object_arn(&p);
                me.authorize_s3("s3:DeleteObject", &arn, &[])?;
                let file = me.file(&p);
                if !file.exists() {
                    return Ok(p);
                }
                me.record("s3:DeleteObject", &arn, None)?;
                match std::fs::remove_file(file) {
                    Ok(()) => Ok(p),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(p),
                    Err(e) => Err(generic(e)),
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        match self.walk(prefix, true) {
            Ok(r) => stream::iter(r.objects.into_iter().map(Ok)).boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.walk(prefix, false)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let data = self
            .get_opts(from, GetOptions::default())
            .await?
            .bytes()
            .await?;
        let mode = match options.mode {
            CopyMode::Overwrite => PutMode::Overwrite,
            CopyMode::Create => PutMode::Create,
        };
        self.put_opts(
            to,
            PutPayload::from_bytes(data),
            PutOptions {
                mode,
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }
}

/// A streaming upload: full segments are sealed and written as parts arrive, so memory
/// stays bounded; the object appears (by rename) only on `complete`.
#[derive(Debug)]
struct Upload {
    store: Arc<GovernedStore>,
    location: Path,
    tmp: PathBuf,
    file: Option<std::fs::File>,
    sealer: SegmentSealer,
    header: Header,
    pending: Vec<u8>,
}

impl std::fmt::Debug for SegmentSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegmentSealer")
    }
}

impl Upload {
    /// Seal every full segment except the last one, which may turn out to be final.
    fn drain(&mut self) -> object_store::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| generic("upload already finished"))?;
        let mut start = 0;
        while self.pending.len() - start > SEGMENT {
            let sealed = self
                .sealer
                .seal(&self.pending[start..start + SEGMENT], false);
            file.write_all(&sealed).map_err(generic)?;
            start += SEGMENT;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

#[async_trait::async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        for chunk in data.iter() {
            self.pending.extend_from_slice(chunk);
        }
        let r = self.drain();
        Box::pin(async move { r })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.drain()?;
        let mut file = self
            .file
            .take()
            .ok_or_else(|| generic("upload already finished"))?;
        let sealed = self.sealer.seal(&self.pending, true);
        file.write_all(&sealed).map_err(generic)?;
        file.sync_all().map_err(generic)?;
        drop(file);
        self.pending.clear();
        self.store
            .finish_write(&self.location, &self.tmp, &self.header, &PutMode::Overwrite)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.file = None;
        let _ = std::fs::remove_file(&self.tmp);
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// KMS authorisation: the key must be enabled, its key policy must allow the caller, and the
/// caller's identity policy must allow the action on the key.
pub(crate) fn check_key(
    shared: &Shared,
    caller: &Caller,
    action: &str,
    key: &KeyInfo,
) -> Result<(), TargetError> {
    let fail = |reason: String| {
        shared.record_denial("management", &caller.arn, action, &key.arn, &reason);
        Err(TargetError::AccessDenied {
            principal: caller.described(),
            action: action.into(),
            resource: key.arn.clone(),
            reason: Some(reason),
        })
    };
    if key.state != "Enabled" {
        return fail(format!("the key is {}", key.state));
    }
    let req = Request {
        action: action.into(),
        resource: key.arn.clone(),
        principal: caller.arn.clone(),
        context: BTreeMap::new(),
    };
    let by_key = key
        .policy
        .as_ref()
        .map(|p| evaluate(&[p], &req, true))
        .unwrap_or(Decision::ImplicitDeny);
    if !by_key.is_allowed() {
        return fail("the key policy does not allow it".into());
    }
    check_identity(caller, &req).or_else(fail)
}

/// Identity-policy check for actions without a resource policy.
pub(crate) fn check_identity(caller: &Caller, req: &Request) -> Result<(), String> {
    let identity: Vec<&Document> = caller.identity_policies.iter().collect();
    match evaluate(&identity, req, false) {
        Decision::Allow(_) => Ok(()),
        Decision::ExplicitDeny(s) => Err(format!("explicitly denied by the role's policy, {s}")),
        Decision::ImplicitDeny => Err("no policy of the role allows it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::RootSecret;
    use object_store::ObjectStoreExt;

    /// A bucket without a key or policy, and a role that may do anything in S3.
    fn store(dir: &std::path::Path) -> GovernedStore {
        let shared = Arc::new(Shared::new(dir, &RootSecret::ephemeral()));
        let allow = Document::parse(&serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})).expect("policy");
        let bucket = BucketInfo {
            name: "b".into(),
            arn: "b".into(),
            dir: dir.join("buckets/b"),
            policy: None,
            key: None,
            data_events: false,
        };
        GovernedStore {
            shared,
            bucket,
            caller: Caller {
                role: "etl".into(),
                arn: "etl".into(),
                identity_policies: vec![allow],
            },
            keys: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn create_lets_exactly_one_of_racing_writers_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Arc::new(store(dir.path()));
        let path = Path::from("_delta_log/00000000000000000001.json");
        let writers: Vec<_> = (0..8u8)
            .map(|i| {
                let (s, path) = (s.clone(), path.clone());
                tokio::spawn(async move {
                    (
                        i,
                        s.put_opts(
                            &path,
                            PutPayload::from(vec![i; 100]),
                            PutOptions {
                                mode: PutMode::Create,
                                ..Default::default()
                            },
                        )
                        .await,
                    )
                })
            })
            .collect();
        let mut winners = vec![];
        for w in writers {
            match w.await.expect("task") {
                (i, Ok(_)) => winners.push(i),
                (_, Err(object_store::Error::AlreadyExists { path: p, .. })) => {
                    assert_eq!(p, path.to_string())
                }
                (_, Err(e)) => panic!("a losing writer must get AlreadyExists, got {e}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "exactly one writer creates the object: {winners:?}"
        );
        assert_eq!(
            s.get(&path)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes")
                .as_ref(),
            &[winners[0]; 100]
        );
        // No temporaries are left behind by the losers.
        assert_eq!(
            std::fs::read_dir(dir.path().join(crate::TMP_DIR))
                .expect("tmp dir")
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn a_range_past_the_end_names_a_copied_object_as_copied_and_a_cut_one_as_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let (a, b) = (Path::from("t/a"), Path::from("t/b"));
        s.put(&a, PutPayload::from(vec![1u8; 3535]))
            .await
            .expect("put a");
        s.put(&b, PutPayload::from(vec![2u8; 3534]))
            .await
            .expect("put b");
        let files = dir.path().join("buckets/b/t");
        // b copied over a outside the platform: one byte shorter than a's readers expect.
        std::fs::copy(files.join("b"), files.join("a")).expect("copy");
        let err = s
            .get_range(&a, 3534..3535)
            .await
            .expect_err("a copy must not open");
        assert!(
            err.to_string().contains("written under another name"),
            "{err}"
        );
        // b asked for a byte it does not hold: it opens under its name, so the size is wrong.
        let err = s.get_range(&b, 3534..3535).await.expect_err("past the end");
        assert!(
            err.to_string().contains("integrity error")
                && err
                    .to_string()
                    .contains("replaced or cut outside the platform"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn copy_and_rename_if_not_exists_keep_the_existing_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let (a, b) = (Path::from("a"), Path::from("b"));
        s.put(&a, PutPayload::from_static(b"new"))
            .await
            .expect("put a");
        s.put(&b, PutPayload::from_static(b"kept"))
            .await
            .expect("put b");
        assert!(matches!(
            s.copy_if_not_exists(&a, &b).await,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        assert!(matches!(
            s.rename_if_not_exists(&a, &b).await,
            Err(object_store::Error::AlreadyExists { .. })
        ));
        assert_eq!(
            s.get(&b)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes")
                .as_ref(),
            b"kept"
        );
        assert!(matches!(
            s.put_opts(
                &b,
                PutPayload::from_static(b"x"),
                PutOptions {
                    mode: PutMode::Update(object_store::UpdateVersion {
                        e_tag: None,
                        version: None
                    }),
                    ..Default::default()
                }
            )
            .await,
            Err(object_store::Error::NotImplemented { .. })
        ));
    }
}
