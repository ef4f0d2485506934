//! The data directory's owner lock: one process at a time may serve a data
//! directory, because two would compact each other's acknowledged changes away.
//!
//! The lock is an exclusive advisory lock (`flock` on Unix, `LockFileEx` on
//! Windows) on `<dir>/tandem.lock`, held by an open file for as long as the
//! [`DirLock`] lives; the kernel releases it when the process dies, so a
//! crash never leaves a stale lock. The file holds the owner's pid, only to
//! name it in the error.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// An exclusive hold on a data directory, released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// The lock file's name inside a data directory.
    pub const FILE_NAME: &'static str = "tandem.lock";

    /// Takes the lock of `dir` (which must exist), or fails with
    /// [`StoreError::Locked`] naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(Self::FILE_NAME);
        let mut file = open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir: dir.display().to_string(),
                    pid: read_pid(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(StoreError::io("lock", &path, source)),
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            file.flush()
        };
        write_pid(&mut file)
            .map_err(|source| StoreError::io("write the pid into", &path, source))?;
        Ok(Self { _file: file, path })
    }

    /// Who holds the lock of `dir` right now: `None` if nobody (or no lock
    /// file), `Some(pid)` if a process does (`pid` as it wrote it). Does not
    /// keep the lock.
    pub fn holder(dir: &Path) -> Result<Option<Option<u32>>, StoreError> {
        let path = dir.join(Self::FILE_NAME);
        let mut file = match OpenOptions::new().read(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::io("open", &path, source)),
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(TryLockError::WouldBlock) => Ok(Some(read_pid(&mut file))),
            Err(TryLockError::Error(source)) => Err(StoreError::io("probe", &path, source)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    super::perms::open_private_file(path).map_err(|source| StoreError::io("open", path, source))
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DirLock::holder(dir.path()).unwrap(), None);
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        let me = std::process::id();
        assert!(
            matches!(err, StoreError::Locked { pid: Some(pid), .. } if pid == me),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "another Tandem is already using {} (pid {me}); stop it or pass another --data-dir",
                dir.path().display()
            )
        );
        assert_eq!(DirLock::holder(dir.path()).unwrap(), Some(Some(me)));
        drop(first);
        assert_eq!(DirLock::holder(dir.path()).unwrap(), None);
        let _again = DirLock::acquire(dir.path()).unwrap();
    }
}
