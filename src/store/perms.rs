//! Owner-only permissions for the data directory and the files in it.
//!
//! The data directory holds documents, remote tokens and the TLS key, so
//! other local users must not read it: the directory is `0700` and every file
//! in it `0600`. Modes are set explicitly (not left to the umask), at
//! creation and again on open for anything an older version left looser.
//! On other platforms these functions do nothing: the user's profile
//! directory is already private there.

use std::fs::File;
use std::path::{Path, PathBuf};

/// The mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// Something in the data directory that others may read or write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LooseMode {
    /// The file or directory.
    pub path: PathBuf,
    /// Its permission bits now.
    pub mode: u32,
    /// The bits it should have.
    pub wanted: u32,
}

impl std::fmt::Display for LooseMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {:o}, readable by other users; run: chmod {:o} {}",
            self.path.display(),
            self.mode,
            self.wanted,
            self.path.display()
        )
    }
}

/// Creates `dir` (and its parents) with mode `0700`, or tightens it to
/// `0700` with a warning if it exists with more.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
        tighten(dir, DIR_MODE)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Opens `path` for reading and writing, creating it with mode `0600` if it
/// is missing (never truncating), and tightens it if it is looser.
pub fn open_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    tighten(path, FILE_MODE)?;
    Ok(file)
}

/// Writes `bytes` as the whole of `path` with mode `0600` (for keys and
/// token files), whatever the umask and whatever mode an older file had.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = open_private_file(path)?;
    file.set_len(0)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Sets `path` to `wanted` if it has any permission bit `wanted` lacks,
/// with a warning; a missing file is fine.
pub fn tighten(path: &Path, wanted: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if mode & !wanted != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "other users could read this; setting it to {wanted:o}"
            );
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, wanted);
    Ok(())
}

/// Everything in `dir` (the directory itself, its files and those of its
/// subdirectories such as `tls/`) that is looser than owner-only.
pub fn loose_modes(dir: &Path) -> std::io::Result<Vec<LooseMode>> {
    let mut out = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut pending = vec![dir.to_owned()];
        while let Some(dir) = pending.pop() {
            let mode = std::fs::metadata(&dir)?.permissions().mode() & 0o7777;
            if mode & !DIR_MODE != 0 {
                out.push(LooseMode {
                    path: dir.clone(),
                    mode,
                    wanted: DIR_MODE,
                });
            }
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if meta.is_dir() {
                    pending.push(entry.path());
                } else if meta.is_file() {
                    let mode = meta.permissions().mode() & 0o7777;
                    if mode & !FILE_MODE != 0 {
                        out.push(LooseMode {
                            path: entry.path(),
                            mode,
                            wanted: FILE_MODE,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn directories_and_files_are_owner_only_and_looser_ones_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "tightened");

        let key = dir.join("key");
        write_private_file(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            loose_modes(&dir).unwrap(),
            vec![LooseMode {
                path: key.clone(),
                mode: 0o644,
                wanted: 0o600
            }]
        );
        write_private_file(&key, b"new").unwrap();
        assert_eq!(mode(&key), 0o600, "an old looser file is tightened");
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        assert!(loose_modes(&dir).unwrap().is_empty());
    }
}
