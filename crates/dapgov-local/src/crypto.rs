//! Envelope encryption of objects at rest.
//!
//! Each object gets a fresh 256-bit data key, wrapped (AES-256-GCM) by a version of its
//! bucket's key. The body is split into 64 KiB segments, each sealed with AES-256-GCM under
//! the data key with a nonce of (random 7-byte prefix, segment counter, last-segment flag):
//! the STREAM construction, so segments cannot be reordered, dropped or the object truncated,
//! and a byte range is read by decrypting only the segments it covers.
//!
//! Layout: HEADER_LEN bytes of header, then segments of SEGMENT plaintext bytes + 16-byte tag;
//! the last segment may be shorter (an empty object is one empty final segment).
//!
//! Every segment authenticates the header and the object's name (bucket and key): an object
//! copied over another, or moved, fails to open under its new name. The header's random
//! nonces make each write a distinct version, named by `Header::version_id` (the object's
//! ETag), so an object rolled back to an older copy of itself is told apart from the
//! version last written.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

pub const MAGIC: &[u8; 4] = b"DGVE";
pub const SEGMENT: usize = 64 * 1024;
pub const TAG: usize = 16;
/// magic 4 | format 1 | flags 1 | reserved 2 | key id 36 | key version 4 | wrap nonce 12 | wrapped key 48 | nonce prefix 7 | reserved 1
pub const HEADER_LEN: usize = 116;
const FLAG_WRAPPED: u8 = 1;
/// Objects written before names were bound: their segments authenticate the header only.
const FORMAT_UNBOUND: u8 = 1;
/// Segments authenticate the header and the object's bucket and key.
const FORMAT_BOUND: u8 = 2;

/// Where an object lives: what its segments are bound to.
#[derive(Debug, Clone, Copy)]
pub struct ObjectName<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("not a dapgov object (bad header)")]
    BadHeader,
    #[error(
        "segment {0} failed authentication: the object is damaged, was tampered with, or was written under another name (copied or moved here)"
    )]
    Tampered(u64),
    #[error("the data key could not be unwrapped: wrong key or damaged header")]
    Unwrap,
}

/// Who wraps data keys: a key id and version with its 32-byte material.
pub struct WrappingKey<'a> {
    pub key_id: &'a str,
    pub version: u32,
    pub material: &'a [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// FORMAT_BOUND for every object written now; FORMAT_UNBOUND objects are still read.
    pub format: u8,
    pub key_id: String,
    pub key_version: u32,
    pub wrapped: bool,
    pub wrap_nonce: [u8; 12],
    pub wrapped_key: [u8; 48],
    pub nonce_prefix: [u8; 7],
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(MAGIC);
        h[4] = self.format;
        h[5] = if self.wrapped { FLAG_WRAPPED } else { 0 };
        let id = self.key_id.as_bytes();
        h[8..8 + id.len().min(36)].copy_from_slice(&id[..id.len().min(36)]);
        h[44..48].copy_from_slice(&self.key_version.to_be_bytes());
        h[48..60].copy_from_slice(&self.wrap_nonce);
        h[60..108].copy_from_slice(&self.wrapped_key);
        h[108..115].copy_from_slice(&self.nonce_prefix);
        h
    }

    pub fn decode(h: &[u8]) -> Result<Header, CryptoError> {
        if h.len() < HEADER_LEN
            || &h[0..4] != MAGIC
            || !matches!(h[4], FORMAT_UNBOUND | FORMAT_BOUND)
        {
            return Err(CryptoError::BadHeader);
        }
        let key_id = String::from_utf8_lossy(&h[8..44])
            .trim_end_matches('\0')
            .to_string();
        Ok(Header {
            format: h[4],
            key_id,
            key_version: u32::from_be_bytes(h[44..48].try_into().expect("4 bytes")),
            wrapped: h[5] & FLAG_WRAPPED != 0,
            wrap_nonce: h[48..60].try_into().expect("12 bytes"),
            wrapped_key: h[60..108].try_into().expect("48 bytes"),
            nonce_prefix: h[108..115].try_into().expect("7 bytes"),
        })
    }

    /// A header with a new data key: wrapped by `wrapping`, or stored in the clear when the
    /// bucket has no encryption configured (the audit reports such buckets).
    pub fn new(wrapping: Option<&WrappingKey>) -> (Header, [u8; 32]) {
        let mut rng = rand::thread_rng();
        let mut dek = [0u8; 32];
        rng.fill_bytes(&mut dek);
        let mut nonce_prefix = [0u8; 7];
        rng.fill_bytes(&mut nonce_prefix);
        let mut wrap_nonce = [0u8; 12];
        rng.fill_bytes(&mut wrap_nonce);
        let mut wrapped_key = [0u8; 48];
        let (key_id, key_version, wrapped) = match wrapping {
            Some(w) => {
                let aad = wrap_aad(w.key_id, w.version);
                let ct = Aes256Gcm::new(w.material.into())
                    .encrypt(
                        Nonce::from_slice(&wrap_nonce),
                        Payload {
                            msg: &dek,
                            aad: &aad,
                        },
                    )
                    .expect("AES-GCM encryption of 32 bytes cannot fail");
                wrapped_key.copy_from_slice(&ct);
                (w.key_id.to_string(), w.version, true)
            }
            None => {
                wrapped_key[..32].copy_from_slice(&dek);
                (String::new(), 0, false)
            }
        };
        (
            Header {
                format: FORMAT_BOUND,
                key_id,
                key_version,
                wrapped,
                wrap_nonce,
                wrapped_key,
                nonce_prefix,
            },
            dek,
        )
    }

    /// Whether the segments are bound to the object's name (false only for objects written
    /// before names were bound).
    pub fn is_bound(&self) -> bool {
        self.format == FORMAT_BOUND
    }

    /// This write's version: the header's random nonces, which the segments authenticate.
    pub fn version_id(&self) -> String {
        format!(
            "{}{}",
            hex::encode(self.nonce_prefix),
            hex::encode(&self.wrap_nonce[..9])
        )
    }

    /// What each segment authenticates besides its ciphertext.
    fn segment_aad(&self, name: ObjectName) -> Vec<u8> {
        let mut aad = self.encode().to_vec();
        if self.is_bound() {
            for part in [name.bucket, name.key] {
                aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
                aad.extend_from_slice(part.as_bytes());
            }
        }
        aad
    }

    /// Recover the data key with the wrapping key version named in the header.
    pub fn data_key(&self, material: Option<&[u8; 32]>) -> Result<[u8; 32], CryptoError> {
        if !self.wrapped {
            return Ok(self.wrapped_key[..32].try_into().expect("32 bytes"));
        }
        let material = material.ok_or(CryptoError::Unwrap)?;
        let aad = wrap_aad(&self.key_id, self.key_version);
        let pt = Aes256Gcm::new(material.into())
            .decrypt(
                Nonce::from_slice(&self.wrap_nonce),
                Payload {
                    msg: &self.wrapped_key,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Unwrap)?;
        pt.try_into().map_err(|_| CryptoError::Unwrap)
    }
}

fn wrap_aad(key_id: &str, version: u32) -> Vec<u8> {
    let mut aad = key_id.as_bytes().to_vec();
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

fn segment_nonce(prefix: &[u8; 7], index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&(index as u32).to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Seals segments in order; the caller writes what it returns after the header.
pub struct SegmentSealer {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    prefix: [u8; 7],
    index: u64,
}

impl SegmentSealer {
    pub fn new(header: &Header, dek: &[u8; 32], name: ObjectName) -> Self {
        Self {
            cipher: Aes256Gcm::new(dek.into()),
            aad: header.segment_aad(name),
            prefix: header.nonce_prefix,
            index: 0,
        }
    }

    pub fn seal(&mut self, plaintext: &[u8], last: bool) -> Vec<u8> {
        assert!(plaintext.len() <= SEGMENT);
        let nonce = segment_nonce(&self.prefix, self.index, last);
        self.index += 1;
        self.cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &self.aad,
                },
            )
            .expect("AES-GCM encryption cannot fail for segment sizes")
    }
}

/// Plaintext length of an object from its stored length.
pub fn plaintext_len(stored: u64) -> u64 {
    let body = stored.saturating_sub(HEADER_LEN as u64);
    let full = (SEGMENT + TAG) as u64;
    let segments = body.div_ceil(full).max(1);
    body.saturating_sub(segments * TAG as u64)
}

/// Number of segments of an object with this plaintext length.
pub fn segment_count(plain_len: u64) -> u64 {
    plain_len.div_ceil(SEGMENT as u64).max(1)
}

/// Byte range of segment `i` in the stored object.
pub fn segment_span(i: u64, plain_len: u64) -> std::ops::Range<u64> {
    let start = HEADER_LEN as u64 + i * (SEGMENT + TAG) as u64;
    let plain = (plain_len - i * SEGMENT as u64).min(SEGMENT as u64);
    start..start + plain + TAG as u64
}

/// Opens the segments of one object under one name.
pub struct SegmentOpener {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    prefix: [u8; 7],
}

impl SegmentOpener {
    pub fn new(header: &Header, dek: &[u8; 32], name: ObjectName) -> Self {
        Self {
            cipher: Aes256Gcm::new(dek.into()),
            aad: header.segment_aad(name),
            prefix: header.nonce_prefix,
        }
    }

    pub fn open(&self, i: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = segment_nonce(&self.prefix, i, last);
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| CryptoError::Tampered(i))
    }
}

/// Seal a whole object in memory.
pub fn seal_all(header: &Header, dek: &[u8; 32], name: ObjectName, plaintext: &[u8]) -> Vec<u8> {
    let mut out = header.encode().to_vec();
    let mut s = SegmentSealer::new(header, dek, name);
    let n = segment_count(plaintext.len() as u64);
    for i in 0..n {
        let a = (i as usize) * SEGMENT;
        let b = (a + SEGMENT).min(plaintext.len());
        out.extend(s.seal(&plaintext[a..b], i + 1 == n));
    }
    out
}

/// Open a whole object in memory.
pub fn open_all(
    stored: &[u8],
    name: ObjectName,
    material: impl Fn(&Header) -> Option<[u8; 32]>,
) -> Result<Vec<u8>, CryptoError> {
    let header = Header::decode(stored)?;
    let dek = header.data_key(material(&header).as_ref())?;
    let opener = SegmentOpener::new(&header, &dek, name);
    let len = plaintext_len(stored.len() as u64);
    let n = segment_count(len);
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..n {
        let span = segment_span(i, len);
        let seg = stored
            .get(span.start as usize..span.end as usize)
            .ok_or(CryptoError::Tampered(i))?;
        out.extend(opener.open(i, i + 1 == n, seg)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        [7u8; 32]
    }

    const NAME: ObjectName = ObjectName {
        bucket: "van311-curated",
        key: "calls/year=2020/part-0.parquet",
    };

    #[test]
    fn round_trip_at_segment_boundaries() {
        let k = key();
        let w = WrappingKey {
            key_id: "11111111-2222-3333-4444-555555555555",
            version: 2,
            material: &k,
        };
        for len in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (h, dek) = Header::new(Some(&w));
            let sealed = seal_all(&h, &dek, NAME, &data);
            assert_eq!(plaintext_len(sealed.len() as u64), len as u64);
            assert_eq!(open_all(&sealed, NAME, |_| Some(k)).unwrap(), data);
        }
    }

    #[test]
    fn ciphertext_holds_no_plaintext_and_tampering_is_caught() {
        let k = key();
        let w = WrappingKey {
            key_id: "k",
            version: 1,
            material: &k,
        };
        let secret = b"caller jane.doe@example.org phoned about 604-555-0199".repeat(50);
        let (h, dek) = Header::new(Some(&w));
        let mut sealed = seal_all(&h, &dek, NAME, &secret);
        assert!(!sealed.windows(8).any(|w| w == b"jane.doe"));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            open_all(&sealed, NAME, |_| Some(k)),
            Err(CryptoError::Tampered(0))
        );
        assert_eq!(
            open_all(&seal_all(&h, &dek, NAME, b"x"), NAME, |_| Some([9u8; 32])),
            Err(CryptoError::Unwrap)
        );
    }

    #[test]
    fn truncation_to_a_segment_boundary_is_caught() {
        let k = key();
        let w = WrappingKey {
            key_id: "k",
            version: 1,
            material: &k,
        };
        let data = vec![1u8; 2 * SEGMENT + 5];
        let (h, dek) = Header::new(Some(&w));
        let sealed = seal_all(&h, &dek, NAME, &data);
        let cut = &sealed[..HEADER_LEN + 2 * (SEGMENT + TAG)];
        assert!(matches!(
            open_all(cut, NAME, |_| Some(k)),
            Err(CryptoError::Tampered(_))
        ));
    }

    #[test]
    fn an_object_opens_only_under_the_name_it_was_written_to() {
        let k = key();
        let w = WrappingKey {
            key_id: "k",
            version: 1,
            material: &k,
        };
        let (h, dek) = Header::new(Some(&w));
        let sealed = seal_all(&h, &dek, NAME, b"rows of 2020");
        assert_eq!(
            open_all(&sealed, NAME, |_| Some(k)).unwrap(),
            b"rows of 2020"
        );
        for other in [
            ObjectName {
                key: "calls/year=2019/part-0.parquet",
                ..NAME
            },
            ObjectName {
                bucket: "van311-trusted",
                ..NAME
            },
            // The length prefixes keep a boundary shifted between bucket and key apart.
            ObjectName {
                bucket: "van311-curated/calls",
                key: "year=2020/part-0.parquet",
            },
        ] {
            assert_eq!(
                open_all(&sealed, other, |_| Some(k)),
                Err(CryptoError::Tampered(0)),
                "{other:?}"
            );
        }
        // Each write is its own version, and the version is authenticated with the header.
        let (h2, dek2) = Header::new(Some(&w));
        assert_ne!(h.version_id(), h2.version_id());
        let mut forged = seal_all(&h2, &dek2, NAME, b"rows of 2020");
        forged[108] ^= 1; // a nonce byte: another version id
        assert!(open_all(&forged, NAME, |_| Some(k)).is_err());
    }

    #[test]
    fn objects_written_before_names_were_bound_still_open() {
        let k = key();
        let w = WrappingKey {
            key_id: "k",
            version: 1,
            material: &k,
        };
        let (mut h, dek) = Header::new(Some(&w));
        h.format = FORMAT_UNBOUND;
        let sealed = seal_all(&h, &dek, NAME, b"old");
        let elsewhere = ObjectName {
            bucket: "any",
            key: "where",
        };
        assert_eq!(open_all(&sealed, elsewhere, |_| Some(k)).unwrap(), b"old");
        assert!(!Header::decode(&sealed).unwrap().is_bound());
    }
}
