//! Local key service: key material versions, each wrapped by a subkey of the root secret.
//! Rotation adds a version; every version stays available so old data stays readable.

use crate::secret::RootSecret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyVersion {
    version: u32,
    created_at: String,
    nonce: String,
    wrapped: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyFile {
    key_id: String,
    versions: Vec<KeyVersion>,
}

#[derive(Clone, Debug)]
pub struct LocalKms {
    dir: PathBuf,
    secret: RootSecret,
}

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("key {0} does not exist")]
    NoKey(String),
    #[error("key {key_id} version {version} does not exist")]
    NoVersion { key_id: String, version: u32 },
    #[error(
        "key material of {0} cannot be unwrapped: the root secret is not the one it was created with"
    )]
    WrongSecret(String),
    #[error("{0}")]
    Io(String),
}

impl LocalKms {
    pub fn new(state_dir: &Path, secret: RootSecret) -> Self {
        Self {
            dir: state_dir.join("kms"),
            secret,
        }
    }

    fn path(&self, key_id: &str) -> PathBuf {
        self.dir.join(format!("{key_id}.json"))
    }

    fn read(&self, key_id: &str) -> Result<KeyFile, KmsError> {
        let text = std::fs::read_to_string(self.path(key_id))
            .map_err(|_| KmsError::NoKey(key_id.into()))?;
        serde_json::from_str(&text)
            .map_err(|e| KmsError::Io(format!("{}: {e}", self.path(key_id).display())))
    }

    fn write(&self, f: &KeyFile) -> Result<(), KmsError> {
        crate::state::create_private_dir_all(&self.dir).map_err(|e| KmsError::Io(e.to_string()))?;
        crate::write_atomic(
            &self.path(&f.key_id),
            serde_json::to_string_pretty(f)
                .expect("serialize")
                .as_bytes(),
        )
        .map_err(|e| KmsError::Io(e.to_string()))
    }

    fn wrapping_key(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.secret.derive("dapgov/kms/v1")).into())
    }

    fn new_version(&self, key_id: &str, version: u32) -> KeyVersion {
        let mut material = [0u8; 32];
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut material);
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = format!("{key_id}/{version}");
        let wrapped = self
            .wrapping_key()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &material,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption cannot fail");
        KeyVersion {
            version,
            created_at: crate::now(),
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
        }
    }

    /// Create a key with its first version; returns the new key id.
    pub fn create(&self) -> Result<String, KmsError> {
        let key_id = new_key_id();
        let v = self.new_version(&key_id, 1);
        self.write(&KeyFile {
            key_id: key_id.clone(),
            versions: vec![v],
        })?;
        Ok(key_id)
    }

    /// Add a version; new data uses it, older versions still decrypt.
    pub fn rotate(&self, key_id: &str) -> Result<u32, KmsError> {
        let mut f = self.read(key_id)?;
        let next = f.versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        f.versions.push(self.new_version(key_id, next));
        self.write(&f)?;
        Ok(next)
    }

    /// Latest version and its creation time.
    pub fn latest(&self, key_id: &str) -> Result<(u32, String), KmsError> {
        let f = self.read(key_id)?;
        let v = f
            .versions
            .iter()
            .max_by_key(|v| v.version)
            .ok_or(KmsError::NoKey(key_id.into()))?;
        Ok((v.version, v.created_at.clone()))
    }

    pub fn version_count(&self, key_id: &str) -> Result<u32, KmsError> {
        Ok(self.read(key_id)?.versions.len() as u32)
    }

    pub fn material(&self, key_id: &str, version: u32) -> Result<[u8; 32], KmsError> {
        let f = self.read(key_id)?;
        let v = f
            .versions
            .iter()
            .find(|v| v.version == version)
            .ok_or(KmsError::NoVersion {
                key_id: key_id.into(),
                version,
            })?;
        let bad = || KmsError::WrongSecret(key_id.into());
        let nonce = hex::decode(&v.nonce).map_err(|_| bad())?;
        let wrapped = hex::decode(&v.wrapped).map_err(|_| bad())?;
        let aad = format!("{key_id}/{version}");
        let pt = self
            .wrapping_key()
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        pt.try_into().map_err(|_| bad())
    }

    pub fn delete_material(&self, key_id: &str) -> Result<(), KmsError> {
        std::fs::remove_file(self.path(key_id)).map_err(|e| KmsError::Io(e.to_string()))
    }
}

/// A random id shaped like a KMS key id (UUID v4 text).
fn new_key_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
