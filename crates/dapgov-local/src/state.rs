//! The state directory on disk: private files, atomic writes, stale temporaries.

use crate::LocalError;
use std::path::Path;

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Write a file so readers see the old or the new content, never a part.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", rand::random::<u64>()));
    create_private(&tmp)?.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}

/// Create (or truncate) a file only its owner can read and write, whatever the umask.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Open options that create files 0600.
pub(crate) fn private_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Create a directory and its missing parents 0700, whatever the umask: everything under the
/// state directory is its owner's alone.
pub(crate) fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// The first directory or file under `dir` (itself excluded) that others may write, with its mode.
#[cfg(unix)]
fn writable_by_others(dir: &Path) -> Option<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if !meta.file_type().is_symlink() && mode & 0o022 != 0 {
                return Some((entry.path(), mode));
            }
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    None
}

/// The state directory holds policies, key material and the trail: it is created 0700
/// whatever the umask; one that others can write is refused (they could rewrite policies or
/// the trail), and one that others can only read is closed to them.
pub(crate) fn secure_state_dir(dir: &Path, create: bool) -> Result<(), LocalError> {
    let shown = dir.display();
    if !dir.exists() {
        if !create {
            return Ok(());
        }
        create_private_dir_all(dir).map_err(|e| {
            LocalError::Io(format!("{shown}: cannot create the state directory: {e}"))
        })?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .map_err(|e| LocalError::Io(format!("{shown}: {e}")))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o022 != 0 {
            return Err(LocalError::Io(format!(
                "{shown}: the state directory is writable by others (mode {mode:o}), who could rewrite its policies, keys or trail; check its contents, then run `chmod 700 {shown}`"
            )));
        }
        // Whoever can write anywhere in the tree can rename a trail head or plant an object.
        if let Some((path, mode)) = writable_by_others(dir) {
            let shown = path.display();
            return Err(LocalError::Io(format!(
                "{shown}: writable by others (mode {mode:o}) inside the state directory, so its policies, keys, data or trail could have been changed; check it, then run `chmod -R go-w {}`",
                dir.display()
            )));
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                LocalError::Io(format!(
                    "{shown}: cannot close the state directory to others: {e}"
                ))
            })?;
        }
    }
    Ok(())
}

/// Temporaries (objects being written) are named after the process writing them; those of a
/// process that is gone were left by a killed run and are removed.
pub(crate) fn clear_stale_temporaries(state_dir: &Path) {
    let Ok(rd) = std::fs::read_dir(state_dir.join(TMP_DIR)) else {
        return;
    };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let writer = name
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let gone = match writer {
            Some(pid) => pid != std::process::id() && !process_alive(pid),
            // Named before temporaries carried their writer: gone once an hour old.
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 3600)),
        };
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    // Without /proc, a temporary is assumed in use: never delete what a live run writes.
    !proc.exists() || proc.join(pid.to_string()).exists()
}

pub(crate) const TMP_DIR: &str = "tmp";

/// Every file under `dir`, at any depth, sorted (none when `dir` is missing).
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(_) => out.push(entry.path()),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}
