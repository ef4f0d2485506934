//! The TypeScript types the UI imports from `ui/src/generated/` are made from
//! the Rust types (ts-rs) and must not drift: `generated_types_are_current`
//! regenerates them into a temporary folder and compares.
//! With `TANDEM_REGENERATE_TYPES=1` (what `scripts/gen-types.sh` sets) the
//! same test writes them instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, ExportError, TS};

/// Where the checked-in types live.
fn checked_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/generated")
}

/// Every type the UI receives or sends (their dependencies come along).
fn export_all(out: &Path) -> Result<(), ExportError> {
    let cfg = Config::new().with_large_int("number").with_out_dir(out);
    tandem::error_code::ErrorBody::export_all(&cfg)?;
    tandem::service::DocListing::export_all(&cfg)?;
    tandem::service::ServiceEvent::export_all(&cfg)?;
    tandem::service::ActivityReport::export_all(&cfg)?;
    tandem::service::RemoteSpec::export_all(&cfg)?;
    tandem::service::RemoteUpdate::export_all(&cfg)?;
    tandem::service::search::SearchResults::export_all(&cfg)?;
    tandem::service::Timeline::export_all(&cfg)?;
    tandem::service::HistoryEdit::export_all(&cfg)?;
    tandem::history::DiffEntry::export_all(&cfg)?;
    tandem::history::Conflict::export_all(&cfg)?;
    tandem::hub::presence::Member::export_all(&cfg)?;
    tandem::discovery::peers::PeerInfo::export_all(&cfg)?;
    Ok(())
}

/// File name → contents of the `.ts` files in `dir`.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.expect("a readable folder").path();
        if path.extension().is_some_and(|e| e == "ts") {
            let name = path.file_name().expect("a name").to_string_lossy().into();
            files.insert(name, std::fs::read_to_string(&path).expect("readable"));
        }
    }
    files
}

#[test]
fn generated_types_are_current() {
    if std::env::var_os("TANDEM_REGENERATE_TYPES").is_some() {
        regenerate();
        return;
    }
    let tmp = tempfile::tempdir().expect("a temp dir");
    export_all(tmp.path()).expect("ts-rs exports");
    let fresh = read_dir(tmp.path());
    assert!(fresh.contains_key("Code.ts"), "{:?}", fresh.keys());
    let current = read_dir(&checked_in());
    let stale: std::collections::BTreeSet<&String> = fresh
        .keys()
        .chain(current.keys())
        .filter(|name| fresh.get(*name) != current.get(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "ui/src/generated is out of date ({stale:?}): run \
         scripts/gen-types.sh and commit"
    );
}

/// Rewrites `ui/src/generated/` from the Rust types.
fn regenerate() {
    let dir = checked_in();
    for name in read_dir(&dir).keys() {
        std::fs::remove_file(dir.join(name)).expect("removes a stale file");
    }
    export_all(&dir).expect("ts-rs exports");
}
