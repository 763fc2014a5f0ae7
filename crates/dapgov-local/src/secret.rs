//! The root secret: everything else (key material, the trail's signing key) is protected by it.
//! It comes from `DAPGOV_ROOT_SECRET` (64 hex characters) or from `root.key` in the state
//! directory, created with mode 0600 on first use; a file readable by others is refused.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::path::Path;

pub const ENV: &str = "DAPGOV_ROOT_SECRET";
pub const FILE: &str = "root.key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{ENV} must be 64 hex characters (32 bytes); generate one with `openssl rand -hex 32`")]
    BadEnv,
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen { path: String, mode: u32 },
    #[error("{path} must hold 64 hex characters (32 bytes)")]
    BadFile { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no root secret: set {ENV} or run `dapgov apply` to create {path}")]
    Missing { path: String },
}

#[derive(Clone)]
pub struct RootSecret([u8; 32]);

impl std::fmt::Debug for RootSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootSecret(..)")
    }
}

impl RootSecret {
    /// Load the secret; with `create`, make a new secret file when there is none.
    pub fn load(state_dir: &Path, create: bool) -> Result<RootSecret, SecretError> {
        if let Ok(v) = std::env::var(ENV) {
            return parse_hex(v.trim())
                .map(RootSecret)
                .ok_or(SecretError::BadEnv);
        }
        let path = state_dir.join(FILE);
        let shown = path.display().to_string();
        let io = |source| SecretError::Io {
            path: shown.clone(),
            source,
        };
        if !path.exists() {
            if !create {
                return Err(SecretError::Missing { path: shown });
            }
            crate::state::create_private_dir_all(state_dir).map_err(io)?;
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            write_private(&path, hex::encode(bytes).as_bytes()).map_err(io)?;
            return Ok(RootSecret(bytes));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::TooOpen { path: shown, mode });
            }
        }
        let text = std::fs::read_to_string(&path).map_err(io)?;
        parse_hex(text.trim())
            .map(RootSecret)
            .ok_or(SecretError::BadFile { path: shown })
    }

    /// A random secret that is never stored, for reading a platform that holds no keys yet.
    pub fn ephemeral() -> RootSecret {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        RootSecret(bytes)
    }

    /// A purpose-bound subkey (HMAC-SHA256 of the purpose under the secret).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Create a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    crate::private_options()
        .write(true)
        .create_new(true)
        .open(path)?
        .write_all(bytes)
}
