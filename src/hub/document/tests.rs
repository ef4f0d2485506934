//! Tests of one open document: durable writes, batched receives, deletion.

use super::*;
use crate::store::MemoryStore;
use automerge::transaction::Transactable;

fn put(doc: &mut Automerge, key: &str, value: i64) -> automerge::Change {
    doc.transact::<_, _, AutomergeError>(|tx| tx.put(automerge::ROOT, key, value))
        .unwrap();
    doc.get_last_local_change().unwrap()
}

#[test]
fn arrived_changes_are_reused_only_when_they_are_all_that_was_added() {
    let mut peer = Automerge::new();
    let base = put(&mut peer, "a", 1);
    let c1 = put(&mut peer, "b", 2);
    let c2 = put(&mut peer, "c", 3);
    let mut doc = Automerge::new();
    doc.apply_changes([base.clone()]).unwrap();
    // c2 arrives first and waits for c1 in automerge's queue.
    doc.apply_changes([c2.clone()]).unwrap();
    let before = doc.get_heads();
    doc.apply_changes([c1.clone()]).unwrap();
    assert_eq!(
        added_as_arrived(&added_since(&doc, &before), std::slice::from_ref(&c1)),
        None,
        "c2, which came earlier, must not be left unstored"
    );
    let both = [c1.clone(), c2.clone(), base];
    let mut expected = c1.raw_bytes().to_vec();
    expected.extend_from_slice(c2.raw_bytes());
    let added = added_since(&doc, &before);
    assert_eq!(added_as_arrived(&added, &both), Some(expected));
    assert_eq!(added_as_arrived(&added, &[]), None);
}

#[test]
fn received_changes_survive_a_reload() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let hub = crate::Hub::new(Arc::clone(&store));
    let id = DocId::parse("reuse").unwrap();
    let doc = hub.open(&id).unwrap();
    let mut peer = Automerge::new();
    let (mut ours, mut theirs) = (SyncSession::new(), SyncSession::new());
    for i in 0..5 {
        put(&mut peer, "k", i);
        for _ in 0..4 {
            if let Some(m) = theirs.generate(&peer) {
                doc.receive(&mut ours, m).unwrap();
            }
            if let Some(m) = doc.with_session(&mut ours, |d, s| s.generate(d)) {
                theirs.receive(&mut peer, m).unwrap();
            }
        }
    }
    assert_eq!(doc.heads(), peer.get_heads());
    let reloaded = Automerge::load(&store.load(&id).unwrap().unwrap()).unwrap();
    assert_eq!(reloaded.get_heads(), peer.get_heads());
}
