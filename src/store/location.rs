//! Where Tandem keeps its data by default: one folder shared by the CLI and
//! the desktop app, so `tandem docs` lists what the app stores.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the data directory.
pub(crate) const DATA_DIR_ENV: &str = "TANDEM_DATA_DIR";

/// `$TANDEM_DATA_DIR`, else the platform's data folder for Tandem
/// (`~/.local/share/tandem` on Linux), else `.tandem`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "tandem")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".tandem"))
}

/// What [`adopt_legacy_dir`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Adoption {
    /// Nothing to move: no legacy store, or `dir` already has one.
    Nothing,
    /// The legacy folder was renamed to `dir`.
    Moved {
        /// The folder the data came from.
        from: PathBuf,
    },
}

/// Moves an older app's data folder (`legacy`, e.g. the desktop app's
/// `~/.local/share/dev.tandem.app`) to `dir` when `legacy` holds a store and
/// `dir` holds none, so documents made before the folders were unified stay
/// where both the app and the CLI look. Never merges or overwrites.
pub(crate) fn adopt_legacy_dir(dir: &Path, legacy: &Path) -> std::io::Result<Adoption> {
    let store = super::SqliteStore::FILE_NAME;
    if dir == legacy || !legacy.join(store).exists() || dir.join(store).exists() {
        return Ok(Adoption::Nothing);
    }
    if dir.exists() {
        // An empty (or store-less) folder: only replace it if it is empty.
        if std::fs::read_dir(dir)?.next().is_some() {
            return Ok(Adoption::Nothing);
        }
        std::fs::remove_dir(dir)?;
    } else if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(legacy, dir)?;
    Ok(Adoption::Moved {
        from: legacy.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_store(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(crate::store::SqliteStore::FILE_NAME), b"x").unwrap();
    }

    #[test]
    fn a_legacy_store_moves_to_the_shared_folder_once() {
        let root = tempfile::tempdir().unwrap();
        let (dir, legacy) = (
            root.path().join("tandem"),
            root.path().join("dev.tandem.app"),
        );
        with_store(&legacy);
        assert_eq!(
            adopt_legacy_dir(&dir, &legacy).unwrap(),
            Adoption::Moved {
                from: legacy.clone()
            }
        );
        assert!(dir.join(crate::store::SqliteStore::FILE_NAME).exists());
        assert!(!legacy.exists());
        assert_eq!(adopt_legacy_dir(&dir, &legacy).unwrap(), Adoption::Nothing);
    }

    #[test]
    fn an_existing_store_or_a_non_empty_folder_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let (dir, legacy) = (root.path().join("tandem"), root.path().join("old"));
        with_store(&legacy);
        with_store(&dir);
        assert_eq!(adopt_legacy_dir(&dir, &legacy).unwrap(), Adoption::Nothing);
        assert!(legacy.exists());
        let other = root.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("notes.txt"), b"mine").unwrap();
        assert_eq!(
            adopt_legacy_dir(&other, &legacy).unwrap(),
            Adoption::Nothing
        );
        assert!(other.join("notes.txt").exists() && legacy.exists());
    }

    #[test]
    fn an_empty_folder_is_replaced_by_the_legacy_one() {
        let root = tempfile::tempdir().unwrap();
        let (dir, legacy) = (root.path().join("tandem"), root.path().join("old"));
        with_store(&legacy);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            adopt_legacy_dir(&dir, &legacy).unwrap(),
            Adoption::Moved { .. }
        ));
        assert!(dir.join(crate::store::SqliteStore::FILE_NAME).exists());
    }
}
