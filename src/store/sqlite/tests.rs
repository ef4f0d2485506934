//! Tests of the SQLite store: round trips, compaction, settings, tombstones.

use super::*;

fn info(title: &str) -> DocInfo {
    DocInfo {
        title: Some(title.into()),
        heads: vec!["ab".into()],
    }
}

#[test]
fn appends_compacts_lists_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    let id = DocId::parse("notes").unwrap();
    assert_eq!(store.load(&id).unwrap(), None);
    store.append(&id, b"one", &info("a")).unwrap();
    let backlog = store.append(&id, b"two", &info("b")).unwrap();
    assert_eq!(backlog.chunks, 2);
    assert_eq!(store.load(&id).unwrap().unwrap(), b"onetwo");
    store.compact(&id, b"SNAP", &info("c")).unwrap();
    store.append(&id, b"3", &info("d")).unwrap();
    assert_eq!(store.load(&id).unwrap().unwrap(), b"SNAP3");
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title.as_deref(), Some("d"));
    assert_eq!(list[0].size, 5);
    drop(store);
    let store = SqliteStore::open_dir(dir.path(), Durability::Full).unwrap();
    assert_eq!(
        store.load(&id).unwrap().unwrap(),
        b"SNAP3",
        "survives reopening"
    );
    store.save_sync_state(&id, "peer", b"st").unwrap();
    assert_eq!(store.load_sync_state(&id, "peer").unwrap().unwrap(), b"st");
    assert!(store.delete(&id).unwrap());
    assert!(!store.delete(&id).unwrap());
    assert_eq!(store.load_sync_state(&id, "peer").unwrap(), None);
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn settings_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    store.put_setting("k", Some("{\"a\":1}")).unwrap();
    assert_eq!(
        store.get_setting("k").unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    store.put_setting("k", None).unwrap();
    assert_eq!(store.get_setting("k").unwrap(), None);
}

#[test]
fn a_second_open_of_the_same_data_directory_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    let err = SqliteStore::open_dir(dir.path(), Durability::Process)
        .err()
        .expect("the second open fails");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let line = err.to_string();
    assert_eq!(
        line,
        format!(
            "another Tandem is already using {} (pid {}); stop it or pass another --data-dir",
            dir.path().display(),
            std::process::id()
        )
    );
    // Tools that run next to a server open it without the lock.
    let tool = SqliteStore::open_dir_unlocked(dir.path(), Durability::Process).unwrap();
    assert!(tool.list().unwrap().is_empty());
    drop(first);
    SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
}

#[cfg(unix)]
#[test]
fn the_data_directory_is_0700_and_the_database_files_0600() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let store = SqliteStore::open_dir(&dir, Durability::Process).unwrap();
    store
        .append(&DocId::parse("d").unwrap(), b"x", &info("t"))
        .unwrap();
    assert_eq!(mode(&dir), 0o700);
    for name in [
        "tandem.sqlite3",
        "tandem.sqlite3-wal",
        "tandem.sqlite3-shm",
        "tandem.lock",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    drop(store);
    // An existing directory and database left looser are tightened.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.join("tandem.sqlite3");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _store = SqliteStore::open_dir(&dir, Durability::Process).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn rows_load_one_by_one_and_a_quarantined_row_moves_aside() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    let id = DocId::parse("q").unwrap();
    store.compact(&id, b"SNAP", &info("a")).unwrap();
    for chunk in [b"one", b"two", b"333"] {
        store.append(&id, chunk, &info("a")).unwrap();
    }
    let parts = store.load_parts(&id).unwrap().unwrap();
    assert_eq!(parts.snapshot, b"SNAP");
    let data: Vec<&[u8]> = parts.chunks.iter().map(|c| &c.data[..]).collect();
    assert_eq!(data, [&b"one"[..], b"two", b"333"]);
    let bad = parts.chunks[1].seq;
    store.quarantine(&id, bad, "bad change chunk").unwrap();
    store.quarantine(&id, bad, "again").unwrap(); // already gone: fine
    assert_eq!(store.load(&id).unwrap().unwrap(), b"SNAPone333");
    let q = store.quarantined().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].doc_id.as_str(), q[0].seq), ("q", bad));
    assert_eq!((q[0].size, q[0].error.as_str()), (3, "bad change chunk"));
    assert_eq!(store.list().unwrap()[0].size, 10, "sizes follow");
    assert!(store.delete(&id).unwrap());
    assert!(store.quarantined().unwrap().is_empty());
}

#[test]
fn tombstones_are_kept_across_reopening_and_removable() {
    let dir = tempfile::tempdir().unwrap();
    let id = DocId::parse("gone").unwrap();
    let tombstone = Tombstone {
        deleted_at_ms: 42,
        heads: vec!["ab".into()],
        everywhere: true,
    };
    {
        let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
        assert_eq!(store.tombstone(&id).unwrap(), None);
        store.put_tombstone(&id, &tombstone).unwrap();
    }
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    assert_eq!(store.tombstone(&id).unwrap(), Some(tombstone));
    assert!(store.remove_tombstone(&id).unwrap());
    assert!(!store.remove_tombstone(&id).unwrap());
    assert_eq!(store.tombstone(&id).unwrap(), None);
}

#[test]
fn a_full_database_is_disk_full_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    let id = DocId::parse("full").unwrap();
    store.append(&id, b"kept", &info("a")).unwrap();
    store.set_max_page_count(store.page_count());
    let err = store
        .append(&id, &vec![7; 256 * 1024], &info("b"))
        .unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the disk holding {} is full; free some space and try again",
            dir.path().join(SqliteStore::FILE_NAME).display()
        )
    );
    assert_eq!(store.load(&id).unwrap().unwrap(), b"kept");
    drop(store);
    let store = SqliteStore::open_dir(dir.path(), Durability::Process).unwrap();
    assert_eq!(store.load(&id).unwrap().unwrap(), b"kept");
    assert_eq!(store.list().unwrap()[0].title.as_deref(), Some("a"));
}
