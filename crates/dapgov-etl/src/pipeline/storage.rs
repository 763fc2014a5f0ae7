//! Files and objects: the input's hash, its landing copy, and the streamed staging of its
//! records as Parquet.

use crate::{EtlError, ingest, query};
use dapgov_inventory::names::Zone;
use dapgov_target::{RoleSession, ZoneStore};
use datafusion::object_store::ObjectStoreExt;
use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::path::Path as StorePath;
use sha2::{Digest, Sha256};

/// A zone's store in the session, or what to do when it is missing.
pub(crate) fn zone(session: &RoleSession, zone: Zone) -> Result<&ZoneStore, EtlError> {
    session.zones.get(zone.as_str()).ok_or_else(|| {
        EtlError::Engine(format!(
            "the {zone} zone does not exist; run `dapgov apply`"
        ))
    })
}

/// Delete every object under `prefix` in a zone.
pub(super) async fn clear_prefix(
    zone: &dapgov_target::ZoneStore,
    prefix: &str,
) -> Result<(), EtlError> {
    use futures::TryStreamExt;
    let p = StorePath::from(prefix);
    let objects: Vec<_> = zone
        .store
        .list(Some(&p))
        .try_collect()
        .await
        .map_err(|e| EtlError::Engine(e.to_string()))?;
    for o in objects {
        zone.store
            .delete(&o.location)
            .await
            .map_err(|e| EtlError::Engine(e.to_string()))?;
    }
    Ok(())
}

/// sha256 and length of a file, read in blocks.
pub async fn hash_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                return Ok((hex::encode(h.finalize()), n));
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Copy a local file into a store object in blocks (a multipart upload for large files).
pub(super) async fn upload(
    path: &std::path::Path,
    zone: &ZoneStore,
    key: &StorePath,
) -> Result<(), EtlError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Large blocks: each read of an async file is a hand-off to a blocking thread, and
    // `tokio::io::copy`'s 8 KiB would make a million of them for a gigabyte or so.
    const BLOCK: usize = 8 << 20;
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| EtlError::input(&path.display().to_string(), format!("cannot read: {e}")))?;
    file.set_max_buf_size(BLOCK);
    let mut writer = BufWriter::new(zone.store.clone(), key.clone());
    let mut block = vec![0u8; BLOCK];
    let copied: std::io::Result<()> = async {
        loop {
            let n = file.read(&mut block).await?;
            if n == 0 {
                return Ok(());
            }
            writer.write_all(&block[..n]).await?;
        }
    }
    .await;
    if let Err(e) = copied {
        let _ = writer.abort().await;
        return Err(EtlError::Engine(format!(
            "{}{key}: cannot store the input: {e}",
            zone.url
        )));
    }
    writer
        .shutdown()
        .await
        .map_err(|e| EtlError::Engine(format!("{}{key}: cannot store the input: {e}", zone.url)))
}

/// A store object as a blocking reader, for parsers that pull bytes; runs on a blocking thread.
struct ObjectReader {
    runtime: tokio::runtime::Handle,
    stream: futures::stream::BoxStream<'static, datafusion::object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl std::io::Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// Records per batch written to the staged source: enough to amortise per-batch work, and
/// at most `INGEST_BATCH_VALUES` values, so a batch of wide rows stays a few megabytes too.
const INGEST_BATCH: usize = 32 * 1024;
const INGEST_BATCH_VALUES: usize = 256 * 1024;

fn ingest_batch(columns: usize) -> usize {
    (INGEST_BATCH_VALUES / columns.max(1)).clamp(64, INGEST_BATCH)
}

enum Ingested {
    Headers(Vec<String>),
    Records(Vec<ingest::Record>),
}

/// Stream the landing copy into a staged Parquet file of text columns (named `cols`, derived
/// from the header by `name_columns`), reading and writing at the same time, so a file of any
/// size passes through in bounded memory.
pub(super) async fn stage_source(
    landing: &ZoneStore,
    landing_key: &StorePath,
    raw: &ZoneStore,
    source_key: StorePath,
    origin: &str,
    name_columns: impl Fn(&[String]) -> Result<Vec<String>, EtlError>,
) -> Result<StagedSource, EtlError> {
    let stream = landing
        .store
        .get(landing_key)
        .await
        .map_err(|e| EtlError::Engine(e.to_string()))?
        .into_stream();
    let reader = ObjectReader {
        runtime: tokio::runtime::Handle::current(),
        stream,
        chunk: bytes::Bytes::new(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Ingested, EtlError>>(2);
    let origin_owned = origin.to_string();
    let parser = tokio::task::spawn_blocking(move || parse_into(reader, &origin_owned, &tx));
    let cols = match rx.recv().await {
        Some(Ok(Ingested::Headers(h))) => name_columns(&h)?,
        Some(Err(e)) => return Err(e),
        _ => {
            return Err(EtlError::Engine(format!(
                "{origin}: the reader stopped before the header"
            )));
        }
    };
    let schema = ingest::to_batch(&cols, &[])?.schema();
    let mut writer = staging_writer(raw, source_key, schema)?;
    let (mut records, mut ragged) = (0u64, 0u64);
    while let Some(msg) = rx.recv().await {
        let Ingested::Records(chunk) = msg? else {
            continue;
        };
        records += chunk.len() as u64;
        ragged += chunk.iter().filter(|r| r.ragged.is_some()).count() as u64;
        writer
            .write(&ingest::to_batch(&cols, &chunk)?)
            .await
            .map_err(staging_error)?;
    }
    writer.close().await.map_err(staging_error)?;
    let warnings = parser.await.map_err(|e| EtlError::Engine(e.to_string()))?;
    if records == 0 {
        return Err(EtlError::input(
            origin,
            "the file has a header but no data rows",
        ));
    }
    Ok(StagedSource {
        cols,
        warnings,
        records,
        ragged,
    })
}

fn staging_error(e: datafusion::parquet::errors::ParquetError) -> EtlError {
    EtlError::Engine(format!("staging the input: {e}"))
}

/// The staged source's Parquet writer, with the engine's row groups.
fn staging_writer(
    raw: &ZoneStore,
    key: StorePath,
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> Result<datafusion::parquet::arrow::AsyncArrowWriter<BufWriter>, EtlError> {
    let row_group = query::engine_config()
        .options()
        .execution
        .parquet
        .max_row_group_size;
    let props = datafusion::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(row_group))
        .build();
    datafusion::parquet::arrow::AsyncArrowWriter::try_new(
        BufWriter::new(raw.store.clone(), key),
        schema,
        Some(props),
    )
    .map_err(staging_error)
}

/// The blocking side of staging: parse the delivery and send its header, then its records in
/// batches, down `tx`; stops at the first error (sent) or when the receiver is gone. Returns
/// the reader's warnings.
fn parse_into(
    reader: ObjectReader,
    origin: &str,
    tx: &tokio::sync::mpsc::Sender<Result<Ingested, EtlError>>,
) -> Vec<String> {
    let mut rows = match ingest::open(reader, origin) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
            return vec![];
        }
    };
    if tx
        .blocking_send(Ok(Ingested::Headers(rows.headers.clone())))
        .is_err()
    {
        return vec![];
    }
    let batch = ingest_batch(rows.headers.len());
    let mut chunk = Vec::with_capacity(batch);
    for r in &mut rows {
        match r {
            Ok(r) => chunk.push(r),
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return rows.warnings();
            }
        }
        if chunk.len() == batch
            && tx
                .blocking_send(Ok(Ingested::Records(std::mem::take(&mut chunk))))
                .is_err()
        {
            return rows.warnings();
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(Ingested::Records(chunk)));
    }
    rows.warnings()
}

/// The input as staged: its columns, the reader's warnings, its records, and how many of them
/// are ragged (their field count differs from the header's).
pub(super) struct StagedSource {
    pub cols: Vec<String>,
    pub warnings: Vec<String>,
    pub records: u64,
    pub ragged: u64,
}
