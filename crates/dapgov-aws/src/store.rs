//! A zone bucket as an `object_store::ObjectStore` over the S3 SDK, acting as one role: the
//! ETL and `query` read and write the zones through it, so what the role's policies, the bucket
//! policy and the key policy refuse reaches DataFusion as an access error. Every write asks
//! for SSE-KMS with the zone's key, as the bucket policy requires.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use bytes::Bytes;
use dapgov_target::TargetError;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    UploadPart,
};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct S3ZoneStore {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    /// The zone's KMS key (ARN); writes name it explicitly.
    pub(crate) kms_key: Option<String>,
    /// Who the calls are made as, for access errors.
    pub(crate) principal: String,
}

impl std::fmt::Display for S3ZoneStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3ZoneStore(s3://{})", self.bucket)
    }
}

const NOT_FOUND: [&str; 3] = ["NoSuchKey", "NotFound", "404"];
const DENIED: [&str; 2] = ["AccessDenied", "AllAccessDisabled"];

impl S3ZoneStore {
    fn arn(&self, location: &Path) -> String {
        dapgov_inventory::names::s3_object_arn(&self.bucket, location.as_ref())
    }

    /// An SDK error as the store error DataFusion and the ETL act on.
    fn error<E, R>(&self, action: &str, location: &Path, e: SdkError<E, R>) -> object_store::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = crate::error::code(&e).map(str::to_string);
        let path = location.to_string();
        match code.as_deref() {
            Some(c) if NOT_FOUND.contains(&c) => object_store::Error::NotFound {
                path,
                source: crate::describe(&e).into(),
            },
            Some("PreconditionFailed" | "ConditionalRequestConflict") => {
                object_store::Error::AlreadyExists {
                    path,
                    source: crate::describe(&e).into(),
                }
            }
            Some(c) if DENIED.contains(&c) => object_store::Error::PermissionDenied {
                path,
                source: Box::new(TargetError::AccessDenied {
                    principal: self.principal.clone(),
                    action: action.into(),
                    resource: self.arn(location),
                    reason: e
                        .as_service_error()
                        .and_then(|s| s.message())
                        .map(str::to_string),
                }),
            },
            _ => object_store::Error::Generic {
                store: "S3",
                source: format!(
                    "{action} on {}: {}",
                    self.arn(location),
                    crate::describe(&e)
                )
                .into(),
            },
        }
    }

    fn meta(
        &self,
        location: Path,
        size: u64,
        modified: Option<&aws_smithy_types::DateTime>,
        e_tag: Option<&str>,
        version: Option<&str>,
    ) -> ObjectMeta {
        let last_modified = modified
            .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), d.subsec_nanos()))
            .unwrap_or_default();
        ObjectMeta {
            location,
            last_modified,
            size,
            e_tag: e_tag.map(str::to_string),
            version: version.map(str::to_string),
        }
    }

    /// Object keys under `prefix` as S3 spells them (`a/b/`), or the whole bucket.
    fn key_prefix(prefix: Option<&Path>) -> Option<String> {
        prefix
            .map(|p| p.to_string())
            .filter(|p| !p.is_empty())
            .map(|p| format!("{p}/"))
    }
}

fn range_header(r: &GetRange) -> String {
    match r {
        GetRange::Bounded(r) => format!("bytes={}-{}", r.start, r.end.saturating_sub(1)),
        GetRange::Offset(o) => format!("bytes={o}-"),
        GetRange::Suffix(n) => format!("bytes=-{n}"),
    }
}

/// `bytes a-b/total` → (a..b+1, total).
fn content_range(v: &str) -> Option<(std::ops::Range<u64>, u64)> {
    let (span, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((
        a.parse().ok()?..b.parse::<u64>().ok()? + 1,
        total.parse().ok()?,
    ))
}

/// Streams handed out are fused: some readers (the Delta kernel's blocking iterators) poll a
/// stream again after it ended, which an unfused `unfold` answers with a panic.
fn body_stream(body: ByteStream) -> BoxStream<'static, object_store::Result<Bytes>> {
    stream::unfold(body, |mut b| async move {
        b.next().await.map(|r| {
            (
                r.map_err(|e| object_store::Error::Generic {
                    store: "S3",
                    source: Box::new(e),
                }),
                b,
            )
        })
    })
    .fuse()
    .boxed()
}

#[async_trait::async_trait]
impl ObjectStore for S3ZoneStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let body: Bytes = payload.into();
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(location.as_ref())
            .body(ByteStream::from(body));
        req = req
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key.clone());
        match &opts.mode {
            PutMode::Overwrite => {}
            PutMode::Create => req = req.if_none_match("*"),
            PutMode::Update(v) => req = req.set_if_match(v.e_tag.clone()),
        }
        let out = req
            .send()
            .await
            .map_err(|e| self.error("s3:PutObject", location, e))?;
        Ok(PutResult {
            e_tag: out.e_tag().map(str::to_string),
            version: out.version_id().map(str::to_string),
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(location.as_ref())
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key.clone())
            .send()
            .await
            .map_err(|e| self.error("s3:PutObject", location, e))?;
        let upload_id = out
            .upload_id()
            .ok_or_else(|| object_store::Error::Generic {
                store: "S3",
                source: "CreateMultipartUpload returned no upload id".into(),
            })?;
        Ok(Box::new(Upload {
            store: self.clone(),
            location: location.clone(),
            upload_id: upload_id.into(),
            parts: Default::default(),
            next: 0,
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            let out = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(location.as_ref())
                .send()
                .await
                .map_err(|e| self.error("s3:GetObject", location, e))?;
            let size = out.content_length().unwrap_or_default() as u64;
            let meta = self.meta(
                location.clone(),
                size,
                out.last_modified(),
                out.e_tag(),
                out.version_id(),
            );
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta,
                range: 0..size,
                attributes: Default::default(),
            });
        }
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(location.as_ref());
        if let Some(r) = &options.range {
            req = req.range(range_header(r));
        }
        req = req
            .set_if_match(options.if_match.clone())
            .set_if_none_match(options.if_none_match.clone())
            .set_version_id(options.version.clone());
        let out = req
            .send()
            .await
            .map_err(|e| self.error("s3:GetObject", location, e))?;
        let length = out.content_length().unwrap_or_default() as u64;
        let (range, size) = out
            .content_range()
            .and_then(content_range)
            .unwrap_or((0..length, length));
        let meta = self.meta(
            location.clone(),
            size,
            out.last_modified(),
            out.e_tag(),
            out.version_id(),
        );
        Ok(GetResult {
            payload: GetResultPayload::Stream(body_stream(out.body)),
            meta,
            range,
            attributes: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let me = self.clone();
        locations
            .and_then(move |p| {
                let me = me.clone();
                async move {
                    me.client
                        .delete_object()
                        .bucket(&me.bucket)
                        .key(p.as_ref())
                        .send()
                        .await
                        .map_err(|e| me.error("s3:DeleteObject", &p, e))?;
                    Ok(p)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let me = self.clone();
        let at = prefix.cloned().unwrap_or_default();
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(Self::key_prefix(prefix))
            .into_paginator()
            .send();
        stream::unfold(pages, |mut p| async move {
            p.next().await.map(|page| (page, p))
        })
        .map_err(move |e| me.error("s3:ListBucket", &at, e))
        .map_ok({
            let me = self.clone();
            move |page| {
                let objects: Vec<object_store::Result<ObjectMeta>> = page
                    .contents()
                    .iter()
                    .map(|o| {
                        Ok(me.meta(
                            Path::from(o.key().unwrap_or_default()),
                            o.size().unwrap_or_default() as u64,
                            o.last_modified(),
                            o.e_tag(),
                            None,
                        ))
                    })
                    .collect();
                stream::iter(objects)
            }
        })
        .try_flatten()
        .fuse()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let at = prefix.cloned().unwrap_or_default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(Self::key_prefix(prefix))
            .delimiter("/")
            .into_paginator()
            .send();
        let mut result = ListResult {
            common_prefixes: vec![],
            objects: vec![],
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error("s3:ListBucket", &at, e))?;
            result.common_prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(|p| Path::from(p.trim_end_matches('/'))),
            );
            for o in page.contents() {
                result.objects.push(self.meta(
                    Path::from(o.key().unwrap_or_default()),
                    o.size().unwrap_or_default() as u64,
                    o.last_modified(),
                    o.e_tag(),
                    None,
                ));
            }
        }
        Ok(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_ref())
            .copy_source(format!(
                "{}/{}",
                self.bucket,
                percent_encoding::utf8_percent_encode(
                    from.as_ref(),
                    percent_encoding::NON_ALPHANUMERIC
                )
            ))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .set_ssekms_key_id(self.kms_key.clone())
            .send()
            .await
            .map_err(|e| self.error("s3:PutObject", to, e))?;
        Ok(())
    }
}

/// A multipart upload: parts go up as they are produced; the object appears on `complete`.
#[derive(Debug)]
struct Upload {
    store: S3ZoneStore,
    location: Path,
    upload_id: String,
    parts: Arc<Mutex<Vec<CompletedPart>>>,
    next: i32,
}

#[async_trait::async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.next += 1;
        let (number, store, location, upload_id, parts) = (
            self.next,
            self.store.clone(),
            self.location.clone(),
            self.upload_id.clone(),
            self.parts.clone(),
        );
        Box::pin(async move {
            let body: Bytes = data.into();
            let out = store
                .client
                .upload_part()
                .bucket(&store.bucket)
                .key(location.as_ref())
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| store.error("s3:PutObject", &location, e))?;
            parts.lock().expect("parts lock").push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let mut parts = self.parts.lock().expect("parts lock").clone();
        parts.sort_by_key(|p| p.part_number());
        if parts.is_empty() {
            // S3 refuses an upload with no parts: an empty object is one empty part.
            self.put_part(PutPayload::new()).await?;
            parts = self.parts.lock().expect("parts lock").clone();
        }
        let out = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.location.as_ref())
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.store.error("s3:PutObject", &self.location, e))?;
        Ok(PutResult {
            e_tag: out.e_tag().map(str::to_string),
            version: out.version_id().map(str::to_string),
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.store
            .client
            .abort_multipart_upload()
            .bucket(&self.store.bucket)
            .key(self.location.as_ref())
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(|e| {
                self.store
                    .error("s3:AbortMultipartUpload", &self.location, e)
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_spelled_as_s3_expects_and_read_back() {
        assert_eq!(range_header(&GetRange::Bounded(10..20)), "bytes=10-19");
        assert_eq!(range_header(&GetRange::Offset(7)), "bytes=7-");
        assert_eq!(range_header(&GetRange::Suffix(8)), "bytes=-8");
        assert_eq!(content_range("bytes 10-19/100"), Some((10..20, 100)));
        assert_eq!(content_range("bytes */100"), None);
    }

    #[tokio::test]
    async fn missing_objects_are_not_found_and_refusals_name_the_role_the_action_and_the_object() {
        use aws_sdk_s3::operation::get_object::GetObjectError;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        use aws_smithy_types::error::ErrorMetadata;
        use object_store::ObjectStoreExt;
        let missing = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.key() == Some("gone"))
            .then_error(|| {
                GetObjectError::generic(
                    ErrorMetadata::builder()
                        .code("NoSuchKey")
                        .message("The specified key does not exist.")
                        .build(),
                )
            });
        let denied = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.key() == Some("raw/secret.parquet"))
            .then_error(|| {
                GetObjectError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDenied")
                        .message("Access Denied")
                        .build(),
                )
            });
        let store = S3ZoneStore {
            client: mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&missing, &denied]),
            bucket: "p-raw-1".into(),
            kms_key: None,
            principal: "arn:aws:sts::1:assumed-role/p-analyst/dapgov-analyst".into(),
        };
        assert!(matches!(
            store.get(&Path::from("gone")).await,
            Err(object_store::Error::NotFound { .. })
        ));
        let e = store
            .get(&Path::from("raw/secret.parquet"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("access denied: arn:aws:sts::1:assumed-role/p-analyst/dapgov-analyst may not s3:GetObject on arn:aws:s3:::p-raw-1/raw/secret.parquet (Access Denied)"), "{e}");
    }
}
