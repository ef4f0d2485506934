//! Automerge 0.6.1 (op tree) next to 0.12.0 (columnar op set, Tandem's
//! engine), in one process on the same inputs:
//!
//! - loading the editing trace, and each loading what the other saved;
//! - one typed character made on one copy of the trace and applied to another;
//! - (c)'s changes (`n` writers × `m` changes, one character and one key
//!   each), made and then applied by one replica in batches of all, 27 and 1;
//! - sync messages across the versions, both ways, until the heads agree.
//!
//! Usage: `engine-compare PATH/TO/editing-trace.automerge` (or `./run.sh`).

use std::time::Duration;

/// The same measurements, written once for each engine.
macro_rules! engine {
    ($module:ident, $am:ident) => {
        mod $module {
            use std::time::{Duration, Instant};
            use $am::transaction::Transactable;
            use $am::{Automerge, AutomergeError, Change, ObjType, ReadDoc, ROOT};

            /// Loads saved bytes; how long it took.
            pub fn load(bytes: &[u8]) -> (Duration, Automerge) {
                let started = Instant::now();
                let doc = Automerge::load(bytes).expect("load");
                (started.elapsed(), doc)
            }

            /// The document saved.
            pub fn save(doc: &Automerge) -> Vec<u8> {
                doc.save()
            }

            /// The number of heads.
            pub fn heads(doc: &Automerge) -> usize {
                doc.get_heads().len()
            }

            /// Mean time for a copy of `doc` to apply one character typed
            /// into the middle of its text on `doc` (`samples` of them).
            pub fn one_character(doc: &mut Automerge, samples: u32) -> Duration {
                let mut peer = doc.fork();
                let text = match doc.get(ROOT, "text").expect("read") {
                    Some((_, id)) => id,
                    None => {
                        doc.transact::<_, _, AutomergeError>(|tx| {
                            tx.put_object(ROOT, "text", ObjType::Text)
                        })
                        .expect("text")
                        .result
                    }
                };
                peer.merge(doc).expect("merge");
                let middle = doc.length(&text) / 2;
                let mut total = Duration::ZERO;
                for i in 0..samples as usize {
                    doc.transact::<_, _, AutomergeError>(|tx| {
                        tx.splice_text(&text, middle + i, 0, "x")
                    })
                    .expect("type");
                    let change = doc.get_last_local_change().expect("made").clone();
                    let started = Instant::now();
                    peer.apply_changes(vec![change]).expect("apply");
                    total += started.elapsed();
                }
                total / samples
            }

            /// (c)'s changes: `n` writers, `m` changes each, unaware of each
            /// other or in lockstep (each step's changes reach every writer
            /// before the next). Returns the time spent making them, and one
            /// replica's time to apply all of them in batches of all, 27, 1.
            pub fn crowd(n: usize, m: usize, lockstep: bool) -> (Duration, [Duration; 3]) {
                let mut base = Automerge::new();
                let text = base
                    .transact::<_, _, AutomergeError>(|tx| {
                        tx.put_object(ROOT, "text", ObjType::Text)
                    })
                    .expect("text")
                    .result;
                let mut writers: Vec<Automerge> = (0..n).map(|_| base.fork()).collect();
                let mut changes: Vec<Change> = Vec::new();
                let mut making = Duration::ZERO;
                for j in 0..m {
                    let step_start = changes.len();
                    let started = Instant::now();
                    for (i, writer) in writers.iter_mut().enumerate() {
                        writer
                            .transact::<_, _, AutomergeError>(|tx| {
                                tx.splice_text(&text, 0, 0, "x")?;
                                tx.put(ROOT, format!("client{i}"), j as i64)
                            })
                            .expect("change");
                        changes.push(writer.get_last_local_change().expect("made").clone());
                    }
                    making += started.elapsed();
                    if lockstep {
                        let step = changes[step_start..].to_vec();
                        for writer in writers.iter_mut() {
                            writer.apply_changes(step.iter().cloned()).expect("step");
                        }
                    }
                }
                if !lockstep {
                    changes.sort_by_key(|c| (c.actor_id().clone(), c.seq()));
                }
                let applying = [n * m, 27, 1].map(|batch| {
                    let mut replica = base.clone();
                    let started = Instant::now();
                    for part in changes.chunks(batch) {
                        replica.apply_changes(part.iter().cloned()).expect("batch");
                    }
                    started.elapsed()
                });
                (making, applying)
            }
        }
    };
}

engine!(old, am06);
engine!(new, am12);

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: engine-compare PATH/TO/editing-trace.automerge");
    let trace = std::fs::read(&path).expect("read the trace");

    let (took_new, mut doc_new) = new::load(&trace);
    let (took_old, mut doc_old) = old::load(&trace);
    println!("load the trace: 0.12 {took_new:?} · 0.6 {took_old:?}");
    let saved_old = old::save(&doc_old);
    let (took, back) = new::load(&saved_old);
    println!(
        "0.12 loads what 0.6 saved ({} B) in {took:?}; same number of heads: {}",
        saved_old.len(),
        new::heads(&back) == new::heads(&doc_new)
    );
    let saved_new = new::save(&doc_new);
    let (took, back) = old::load(&saved_new);
    println!(
        "0.6 loads what 0.12 saved ({} B) in {took:?}; same number of heads: {}",
        saved_new.len(),
        old::heads(&back) == old::heads(&doc_old)
    );
    println!(
        "one typed character applied on the trace: 0.12 {:?} · 0.6 {:?}",
        new::one_character(&mut doc_new, 20),
        old::one_character(&mut doc_old, 200)
    );
    for (n, m) in [(10, 10), (100, 10)] {
        for lockstep in [false, true] {
            let (make_new, apply_new) = new::crowd(n, m, lockstep);
            let (make_old, apply_old) = old::crowd(n, m, lockstep);
            let shape = if lockstep { "lockstep" } else { "unaware" };
            println!(
                "(c) {n}×{m} {shape}: making 0.12 {make_new:?} · 0.6 {make_old:?}; \
                 one replica applying in batches of all/27/1: 0.12 {} · 0.6 {}",
                show(&apply_new),
                show(&apply_old)
            );
        }
    }
    wire();
}

fn show(times: &[Duration; 3]) -> String {
    times
        .iter()
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Sync messages across the versions: 0.6 decoding 0.12's v2 messages (with
/// and without the flags 0.6 does not know), then a 0.12 document and a 0.6
/// document syncing both ways.
fn wire() {
    use am12::sync::{Message, MessageFlags, MessageVersion};
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    flags.set(MessageFlags::READ_ONLY);
    for (label, flags) in [("no flags", None), ("flags", Some(flags))] {
        let message = Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: Vec::<Vec<u8>>::new().into(),
            flags,
            version: MessageVersion::V2,
        };
        match am06::sync::Message::decode(&message.encode()) {
            Ok(decoded) => println!(
                "0.6 decodes a 0.12 v2 message with {label}: capabilities {:?}",
                decoded.supported_capabilities
            ),
            Err(e) => println!("0.6 cannot decode a 0.12 v2 message with {label}: {e}"),
        }
    }
    let mut a = {
        let mut a = am12::Automerge::new();
        let mut tx = a.transaction();
        am12::transaction::Transactable::put(&mut tx, am12::ROOT, "x", 1).expect("put");
        tx.commit();
        a
    };
    let mut b = {
        let mut b = am06::Automerge::new();
        let mut tx = b.transaction();
        am06::transaction::Transactable::put(&mut tx, am06::ROOT, "y", 2).expect("put");
        tx.commit();
        b
    };
    let (mut state_a, mut state_b) = (am12::sync::State::new(), am06::sync::State::new());
    for round in 0..10 {
        let mut sent = false;
        if let Some(m) = am12::sync::SyncDoc::generate_sync_message(&a, &mut state_a) {
            sent = true;
            let bytes = m.encode();
            println!("round {round}: 0.12 sends a v{} message", version(&bytes));
            let m = am06::sync::Message::decode(&bytes).expect("0.6 decodes it");
            am06::sync::SyncDoc::receive_sync_message(&mut b, &mut state_b, m)
                .expect("0.6 takes it");
        }
        if let Some(m) = am06::sync::SyncDoc::generate_sync_message(&b, &mut state_b) {
            sent = true;
            let bytes = m.encode();
            println!("round {round}: 0.6 sends a v{} message", version(&bytes));
            let m = am12::sync::Message::decode(&bytes).expect("0.12 decodes it");
            am12::sync::SyncDoc::receive_sync_message(&mut a, &mut state_a, m)
                .expect("0.12 takes it");
        }
        if !sent {
            break;
        }
    }
    let sorted = |mut hs: Vec<String>| {
        hs.sort();
        hs
    };
    let same = sorted(a.get_heads().iter().map(ToString::to_string).collect())
        == sorted(b.get_heads().iter().map(ToString::to_string).collect());
    println!("a 0.12 and a 0.6 document synced to the same heads: {same}");
}

fn version(message: &[u8]) -> u8 {
    if message.first() == Some(&0x43) {
        2
    } else {
        1
    }
}
