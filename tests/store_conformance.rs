//! The store conformance suite: one set of checks that every [`Store`] must
//! pass — the in-memory twin, SQLite and PostgreSQL (a real server started
//! by the test, see `common/postgres.rs`). Each check gets a fresh, empty store.

mod common;

use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use common::postgres::TempPostgres;
use tandem::hub::Hub;
use tandem::store::{
    DocInfo, Durability, MemoryStore, PgStore, SqliteStore, Store, StoreError, Tombstone,
};
use tandem::DocId;

type Check = fn(Arc<dyn Store>);

/// Every check, by name.
const CHECKS: &[(&str, Check)] = &[
    (
        "appends, compacts, lists and deletes",
        appends_compacts_lists_and_deletes,
    ),
    (
        "backlog counts since the snapshot",
        backlog_counts_since_the_snapshot,
    ),
    (
        "rows load one by one and quarantine moves one aside",
        rows_and_quarantine,
    ),
    ("tombstones are kept, replaced and removed", tombstones),
    ("settings round trip", settings_round_trip),
    ("sync states are per document and peer", sync_states),
    ("listing is ordered and summarises", listing),
    (
        "binary chunks of every byte value round trip",
        binary_chunks,
    ),
    (
        "appends from several threads are all kept",
        concurrent_appends,
    ),
    (
        "a hub over the store reloads what it stored",
        hub_round_trip,
    ),
];

fn id(s: &str) -> DocId {
    DocId::parse(s).unwrap()
}

fn info(title: &str, heads: &[&str]) -> DocInfo {
    DocInfo {
        title: Some(title.into()),
        heads: heads.iter().map(|h| h.to_string()).collect(),
    }
}

fn appends_compacts_lists_and_deletes(store: Arc<dyn Store>) {
    let notes = id("notes");
    assert_eq!(store.load(&notes).unwrap(), None);
    assert!(store.list().unwrap().is_empty());
    store.append(&notes, b"one", &info("a", &["01"])).unwrap();
    store.append(&notes, b"two", &info("b", &["02"])).unwrap();
    assert_eq!(store.load(&notes).unwrap().unwrap(), b"onetwo");
    store.compact(&notes, b"SNAP", &info("c", &["03"])).unwrap();
    store.append(&notes, b"3", &info("d", &["04"])).unwrap();
    assert_eq!(store.load(&notes).unwrap().unwrap(), b"SNAP3");
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title.as_deref(), Some("d"));
    assert_eq!(list[0].heads, ["04"]);
    assert_eq!(list[0].size, 5);
    assert!(list[0].updated > 0);
    assert!(store.delete(&notes).unwrap());
    assert!(
        !store.delete(&notes).unwrap(),
        "a second delete finds nothing"
    );
    assert_eq!(store.load(&notes).unwrap(), None);
    assert!(store.list().unwrap().is_empty());
}

fn backlog_counts_since_the_snapshot(store: Arc<dyn Store>) {
    let doc = id("backlog");
    let first = store.append(&doc, &[1; 10], &DocInfo::default()).unwrap();
    assert_eq!(
        (first.chunks, first.chunk_bytes, first.snapshot_bytes),
        (1, 10, 0)
    );
    let second = store.append(&doc, &[2; 5], &DocInfo::default()).unwrap();
    assert_eq!((second.chunks, second.chunk_bytes), (2, 15));
    store.compact(&doc, &[9; 100], &DocInfo::default()).unwrap();
    let after = store.append(&doc, &[3; 7], &DocInfo::default()).unwrap();
    assert_eq!(
        (after.chunks, after.chunk_bytes, after.snapshot_bytes),
        (1, 7, 100)
    );
    // A compaction of a document never appended to creates it.
    let fresh = id("fresh");
    store.compact(&fresh, b"S", &info("t", &[])).unwrap();
    assert_eq!(store.load(&fresh).unwrap().unwrap(), b"S");
}

fn rows_and_quarantine(store: Arc<dyn Store>) {
    let doc = id("q");
    store.compact(&doc, b"SNAP", &info("a", &[])).unwrap();
    for chunk in [&b"one"[..], b"two", b"333"] {
        store.append(&doc, chunk, &info("a", &[])).unwrap();
    }
    let parts = store.load_parts(&doc).unwrap().unwrap();
    assert_eq!(parts.snapshot, b"SNAP");
    let data: Vec<&[u8]> = parts.chunks.iter().map(|c| &c.data[..]).collect();
    assert_eq!(data, [&b"one"[..], b"two", b"333"]);
    assert!(
        parts.chunks.windows(2).all(|w| w[0].seq < w[1].seq),
        "positions increase"
    );
    let bad = parts.chunks[1].seq;
    store.quarantine(&doc, bad, "bad change chunk").unwrap();
    store.quarantine(&doc, bad, "again").unwrap(); // already gone: fine
    assert_eq!(store.load(&doc).unwrap().unwrap(), b"SNAPone333");
    let rows = store.quarantined().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].doc_id.as_str(), rows[0].seq), ("q", bad));
    assert_eq!(
        (rows[0].size, rows[0].error.as_str()),
        (3, "bad change chunk")
    );
    assert_eq!(store.list().unwrap()[0].size, 10, "sizes follow");
    assert!(store.delete(&doc).unwrap());
    assert!(store.quarantined().unwrap().is_empty());
    assert_eq!(store.load_parts(&id("none")).unwrap(), None);
}

fn tombstones(store: Arc<dyn Store>) {
    let gone = id("gone");
    assert_eq!(store.tombstone(&gone).unwrap(), None);
    let first = Tombstone {
        deleted_at_ms: 42,
        heads: vec!["ab".into()],
        everywhere: true,
    };
    store.put_tombstone(&gone, &first).unwrap();
    assert_eq!(store.tombstone(&gone).unwrap(), Some(first));
    let second = Tombstone {
        deleted_at_ms: 43,
        heads: vec![],
        everywhere: false,
    };
    store.put_tombstone(&gone, &second).unwrap();
    assert_eq!(store.tombstone(&gone).unwrap(), Some(second), "replaced");
    assert!(store.remove_tombstone(&gone).unwrap());
    assert!(!store.remove_tombstone(&gone).unwrap());
    assert_eq!(store.tombstone(&gone).unwrap(), None);
}

fn settings_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.get_setting("share:notes").unwrap(), None);
    store.put_setting("share:notes", Some("{\"a\":1}")).unwrap();
    store.put_setting("share:notes", Some("\"lan\"")).unwrap();
    assert_eq!(
        store.get_setting("share:notes").unwrap().as_deref(),
        Some("\"lan\"")
    );
    store.put_setting("share:notes", None).unwrap();
    store.put_setting("never-set", None).unwrap();
    assert_eq!(store.get_setting("share:notes").unwrap(), None);
}

fn sync_states(store: Arc<dyn Store>) {
    let (a, b) = (id("a"), id("b"));
    store.append(&a, b"x", &DocInfo::default()).unwrap();
    store.save_sync_state(&a, "peer", b"s1").unwrap();
    store.save_sync_state(&a, "peer", b"s2").unwrap();
    store.save_sync_state(&a, "other", b"o").unwrap();
    store.save_sync_state(&b, "peer", b"b").unwrap();
    assert_eq!(store.load_sync_state(&a, "peer").unwrap().unwrap(), b"s2");
    assert_eq!(store.load_sync_state(&a, "other").unwrap().unwrap(), b"o");
    assert_eq!(store.load_sync_state(&a, "nobody").unwrap(), None);
    assert!(store.delete(&a).unwrap());
    assert_eq!(store.load_sync_state(&a, "peer").unwrap(), None);
    assert_eq!(store.load_sync_state(&b, "peer").unwrap().unwrap(), b"b");
}

fn listing(store: Arc<dyn Store>) {
    for name in ["b", "a", "c-2", "C", "c-10"] {
        store
            .append(&id(name), name.as_bytes(), &info(name, &["aa", "bb"]))
            .unwrap();
    }
    let ids: Vec<String> = store
        .list()
        .unwrap()
        .into_iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(ids, ["C", "a", "b", "c-10", "c-2"], "byte order");
    let untitled = id("untitled");
    store.append(&untitled, b"u", &DocInfo::default()).unwrap();
    let list = store.list().unwrap();
    let entry = list.iter().find(|d| d.id == untitled).unwrap();
    assert_eq!((entry.title.clone(), entry.heads.len()), (None, 0));
}

fn binary_chunks(store: Arc<dyn Store>) {
    let doc = id("bin");
    let every: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    store.append(&doc, &every, &DocInfo::default()).unwrap();
    store.append(&doc, &[0, 0, 0], &DocInfo::default()).unwrap();
    let loaded = store.load(&doc).unwrap().unwrap();
    assert_eq!(loaded.len(), every.len() + 3);
    assert_eq!(&loaded[..every.len()], &every[..]);
    store.compact(&doc, &every, &DocInfo::default()).unwrap();
    assert_eq!(store.load(&doc).unwrap().unwrap(), every);
}

fn concurrent_appends(store: Arc<dyn Store>) {
    let doc = id("busy");
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let store = Arc::clone(&store);
            let doc = doc.clone();
            std::thread::spawn(move || {
                for n in 0..25u8 {
                    store.append(&doc, &[t, n], &DocInfo::default()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let parts = store.load_parts(&doc).unwrap().unwrap();
    assert_eq!(parts.chunks.len(), 100);
    for t in 0..4u8 {
        let mine: Vec<u8> = parts
            .chunks
            .iter()
            .filter(|c| c.data[0] == t)
            .map(|c| c.data[1])
            .collect();
        assert_eq!(mine, (0..25).collect::<Vec<u8>>(), "thread {t} in order");
    }
}

fn hub_round_trip(store: Arc<dyn Store>) {
    let doc_id = id("story");
    let heads = {
        let hub = Hub::new(Arc::clone(&store));
        let doc = hub.open(&doc_id).unwrap();
        for n in 0..20 {
            doc.change(|tx| {
                tx.put(automerge::ROOT, "title", format!("draft {n}"))
                    .map(drop)
            })
            .unwrap();
        }
        doc.compact_now();
        doc.change(|tx| tx.put(automerge::ROOT, "title", "final").map(drop))
            .unwrap();
        doc.heads()
    };
    let hub = Hub::new(store);
    let doc = hub.open(&doc_id).unwrap();
    assert_eq!(doc.heads(), heads);
    let title = doc.read(|d| {
        d.get(automerge::ROOT, "title")
            .unwrap()
            .unwrap()
            .0
            .to_string()
    });
    assert!(title.contains("final"), "{title}");
    assert_eq!(hub.list().unwrap()[0].title.as_deref(), Some("final"));
}

fn run_all(name: &str, mut fresh: impl FnMut(usize) -> Arc<dyn Store>) {
    for (n, (check, f)) in CHECKS.iter().enumerate() {
        eprintln!("{name}: {check}");
        f(fresh(n));
    }
}

#[test]
fn the_memory_store_passes_the_conformance_suite() {
    run_all("memory", |_| Arc::new(MemoryStore::new()));
}

#[test]
fn the_sqlite_store_passes_the_conformance_suite() {
    let root = tempfile::tempdir().unwrap();
    run_all("sqlite", |n| {
        let path = root.path().join(format!("store-{n}.sqlite3"));
        Arc::new(SqliteStore::open(&path, Durability::Process).unwrap())
    });
}

#[test]
fn the_postgres_store_passes_the_conformance_suite() {
    let Some(pg) = TempPostgres::start_or_skip("postgres conformance") else {
        return;
    };
    run_all("postgres", |n| {
        let url = pg.create_database(&format!("conformance_{n}"));
        Arc::new(PgStore::connect(&url).unwrap())
    });
}

#[test]
fn postgres_keeps_everything_across_reconnects_and_migrates_once() {
    let Some(pg) = TempPostgres::start_or_skip("postgres reconnect") else {
        return;
    };
    let url = pg.create_database("reopen");
    let doc = id("kept");
    {
        let store = PgStore::connect(&url).unwrap();
        store.append(&doc, b"one", &info("t", &[])).unwrap();
        store.put_setting("share:kept", Some("\"link\"")).unwrap();
    }
    let store = PgStore::connect(&url).unwrap();
    assert_eq!(store.load(&doc).unwrap().unwrap(), b"one");
    assert_eq!(
        store.get_setting("share:kept").unwrap().as_deref(),
        Some("\"link\"")
    );
    pg.execute(
        "reopen",
        "INSERT INTO tandem_migrations (version) VALUES (999)",
    );
    let err = PgStore::connect(&url).unwrap_err().to_string();
    assert!(
        err.contains("schema version 999, newer than this Tandem knows"),
        "{err}"
    );
}

#[test]
fn postgres_refuses_a_write_while_another_node_holds_the_lease() {
    let Some(pg) = TempPostgres::start_or_skip("postgres fencing") else {
        return;
    };
    let url = pg.create_database("fence");
    let store = PgStore::connect(&url).unwrap();
    store.fence_as("node-a");
    let doc = id("owned");
    store.append(&doc, b"mine", &DocInfo::default()).unwrap();
    pg.execute(
        "fence",
        "INSERT INTO cluster_leases (doc_id, node_id, expires)
         VALUES ('owned', 'node-b', now() + interval '1 minute')",
    );
    let err = store
        .append(&doc, b"late", &DocInfo::default())
        .unwrap_err();
    assert!(matches!(err, StoreError::NotOwner { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "document owned is now served by another node (node-b); reconnect to be redirected"
    );
    let err = store
        .compact(&doc, b"SNAP", &DocInfo::default())
        .unwrap_err();
    assert!(err.is_not_owner(), "{err:?}");
    assert_eq!(
        store.load(&doc).unwrap().unwrap(),
        b"mine",
        "nothing written"
    );
    // Once the other node's lease has expired, writing is allowed again.
    pg.execute(
        "fence",
        "UPDATE cluster_leases SET expires = now() - interval '1 second'",
    );
    store.append(&doc, b"+", &DocInfo::default()).unwrap();
    assert_eq!(store.load(&doc).unwrap().unwrap(), b"mine+");
}

#[test]
fn a_bad_or_unreachable_postgres_url_is_a_clear_error() {
    let err = PgStore::connect("postgres://tandem@127.0.0.1:notaport/db")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid PostgreSQL URL postgres://"),
        "{err}"
    );
    let port = common::postgres::free_port();
    let err = PgStore::connect(&format!("postgres://tandem:secret@127.0.0.1:{port}/db"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("PostgreSQL error while trying to prepare the schema"),
        "{err}"
    );
    assert!(!err.contains("secret"), "the password is not shown: {err}");
}

#[test]
fn a_postgres_restart_fails_the_calls_in_between_and_loses_nothing() {
    let Some(pg) = TempPostgres::start_or_skip("postgres restart") else {
        return;
    };
    let store = PgStore::connect(&pg.create_database("restart")).unwrap();
    let doc = id("kept");
    store.append(&doc, b"before", &DocInfo::default()).unwrap();
    pg.stop();
    let err = store
        .append(&doc, b"lost", &DocInfo::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("PostgreSQL error while trying to append a change"),
        "{err}"
    );
    pg.resume();
    // Each connection thread reopens its connection on its next job.
    let mut reopened = false;
    for _ in 0..8 {
        let attempt = store.append(&doc, b"+after", &DocInfo::default());
        if attempt.is_ok() {
            reopened = true;
            break;
        }
    }
    assert!(reopened, "the store did not reconnect");
    assert_eq!(store.load(&doc).unwrap().unwrap(), b"before+after");
}
