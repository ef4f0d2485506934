use std::io::Read;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT};

use super::*;

/// A raw deflate stream of `n` zero bytes, compressed as it streams (never
/// holding the `n` bytes).
fn zeros_deflated(n: u64) -> Vec<u8> {
    let source = std::io::repeat(0).take(n);
    let mut encoder = flate2::read::DeflateEncoder::new(source, flate2::Compression::default());
    let mut out = Vec::new();
    encoder.read_to_end(&mut out).expect("in-memory deflate");
    out
}

fn uleb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A chunk of `chunk_type` around `body` (the checksum is not checked here).
fn chunk(chunk_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend([0, 0, 0, 0, chunk_type]);
    uleb(&mut out, body.len() as u64);
    out.extend(body);
    out
}

/// A V1 sync message carrying `chunks` (no heads, needs or haves).
fn sync_message(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x42, 0, 0, 0];
    uleb(&mut out, chunks.len() as u64);
    for c in chunks {
        uleb(&mut out, c.len() as u64);
        out.extend(c);
    }
    out
}

/// A document chunk with no actors, heads or change columns and one ops
/// column holding `stream`, flagged as deflated.
fn document_with_deflated_column(stream: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0]; // actors, heads, change columns
    body.push(1); // one ops column
    uleb(&mut body, u64::from((7 << 4) | DEFLATE_BIT | 2)); // an integer column, deflated
    uleb(&mut body, stream.len() as u64);
    body.extend(stream);
    chunk(DOCUMENT, &body)
}

/// A bundle chunk with no deps or actors and one deflated change column.
fn bundle_with_deflated_column(stream: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 1];
    uleb(&mut body, u64::from((1 << 4) | DEFLATE_BIT | 3));
    uleb(&mut body, stream.len() as u64);
    body.extend(stream);
    body.push(0); // no ops columns
    chunk(BUNDLE, &body)
}

fn small() -> Limits {
    Limits {
        max_inflated_bytes: MIB,
        ..Limits::default()
    }
}

/// A document with a long text, so that its save and its change are compressed.
fn wordy_doc() -> Automerge {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, "text", ObjType::Text).unwrap();
    tx.splice_text(&text, 0, 0, &"all work and no play ".repeat(2000))
        .unwrap();
    tx.commit();
    doc
}

#[test]
fn a_real_compressed_change_passes() {
    let doc = wordy_doc();
    let mut change = doc.get_last_local_change().unwrap().clone();
    let bytes = change.bytes().into_owned();
    assert_eq!(
        bytes[8], COMPRESSED_CHANGE,
        "automerge compressed the change"
    );
    check_saved(&bytes, &Limits::default()).unwrap();
    check_sync_message(
        &sync_message(std::slice::from_ref(&bytes)),
        &Limits::default(),
    )
    .unwrap();
    // …and it is measured: it inflates to more than 1 KiB.
    let tiny = Limits {
        max_inflated_bytes: 1024,
        ..Limits::default()
    };
    assert!(matches!(
        check_saved(&bytes, &tiny),
        Err(GuardError::InflatesTooMuch { index: 1, .. })
    ));
}

#[test]
fn a_real_saved_document_passes_and_its_deflated_columns_are_measured() {
    let saved = wordy_doc().save();
    assert_eq!(saved[8], DOCUMENT);
    check_saved(&saved, &Limits::default()).unwrap();
    let tiny = Limits {
        max_inflated_bytes: 1024,
        ..Limits::default()
    };
    assert!(matches!(
        check_saved(&saved, &tiny),
        Err(GuardError::InflatesTooMuch { .. })
    ));
}

#[test]
fn real_sync_messages_pass() {
    use automerge::sync::SyncDoc;
    let mut source = wordy_doc();
    let mut target = Automerge::new();
    let (mut there, mut back) = (automerge::sync::State::new(), automerge::sync::State::new());
    let mut checked = 0;
    for _ in 0..10 {
        if let Some(message) = source.generate_sync_message(&mut there) {
            let encoded = message.encode();
            check_sync_message(&encoded, &Limits::default()).unwrap();
            checked += 1;
            target
                .receive_sync_message(&mut back, Message::decode(&encoded).unwrap())
                .unwrap();
        }
        if let Some(reply) = target.generate_sync_message(&mut back) {
            let encoded = reply.encode();
            check_sync_message(&encoded, &Limits::default()).unwrap();
            source
                .receive_sync_message(&mut there, Message::decode(&encoded).unwrap())
                .unwrap();
        }
    }
    assert!(checked >= 2);
    assert_eq!(target.get_heads(), source.get_heads());
}

#[test]
fn a_compressed_change_bomb_is_refused() {
    // 1 GiB of zeros is about 1 MB deflated: the attack of issue #7.
    let bomb = chunk(COMPRESSED_CHANGE, &zeros_deflated(1 << 30));
    assert!(bomb.len() < 2 * MIB as usize, "{}", bomb.len());
    let err = check_sync_message(&sync_message(&[bomb]), &Limits::default()).unwrap_err();
    assert!(matches!(err, GuardError::InflatesTooMuch { index: 1, limit } if limit == 256 * MIB));
    let text = err.to_string();
    assert!(
        text.contains("256 MiB") && text.contains("--max-inflated-bytes"),
        "{text}"
    );
}

#[test]
fn the_inflated_budget_is_shared_by_every_chunk_of_a_message() {
    let half = chunk(COMPRESSED_CHANGE, &zeros_deflated(600 * 1024));
    check_saved(&half, &small()).unwrap();
    let twice = [half.clone(), half].concat();
    assert!(matches!(
        check_saved(&twice, &small()),
        Err(GuardError::InflatesTooMuch { index: 2, .. })
    ));
}

#[test]
fn a_document_column_bomb_is_refused() {
    let bomb = document_with_deflated_column(&zeros_deflated(8 * MIB));
    assert!(matches!(
        check_saved(&bomb, &small()),
        Err(GuardError::InflatesTooMuch { index: 1, .. })
    ));
    assert!(matches!(
        check_sync_message(&sync_message(&[bomb]), &small()),
        Err(GuardError::InflatesTooMuch { .. })
    ));
    // Under the limit, the same layout passes (the guard does not judge the
    // columns' contents; Automerge does).
    check_saved(
        &document_with_deflated_column(&zeros_deflated(1000)),
        &small(),
    )
    .unwrap();
}

#[test]
fn bundles_are_refused_and_their_columns_would_be_measured() {
    let doc = wordy_doc();
    let hashes = doc.get_changes(&[]).into_iter().map(|c| c.hash());
    let bundle = doc.bundle(hashes).unwrap().bytes().to_vec();
    assert_eq!(bundle[8], BUNDLE);
    for result in [
        check_saved(&bundle, &Limits::default()),
        check_sync_message(&sync_message(&[bundle]), &Limits::default()),
    ] {
        assert_eq!(result, Err(GuardError::Bundle { index: 1 }));
    }
    let bomb = bundle_with_deflated_column(&zeros_deflated(8 * MIB));
    let mut budget = Budget {
        left: MIB,
        limit: MIB,
        scratch: vec![0; SCRATCH],
    };
    let body = &bomb[Header::parse(&bomb).unwrap().size..];
    assert!(matches!(
        check_bundle(1, body, &mut budget),
        Err(GuardError::InflatesTooMuch { .. })
    ));
}

#[test]
fn a_chunk_split_across_message_parts_is_still_walked() {
    let bomb = chunk(COMPRESSED_CHANGE, &zeros_deflated(8 * MIB));
    let (a, b) = bomb.split_at(20);
    assert!(matches!(
        check_sync_message(&sync_message(&[a.to_vec(), b.to_vec()]), &small()),
        Err(GuardError::InflatesTooMuch { .. })
    ));
}

#[test]
fn chunk_size_and_count_are_bounded() {
    let mut doc = Automerge::new();
    for i in 0..3 {
        doc.transact(|tx| tx.put(ROOT, "n", i as i64)).unwrap();
    }
    let changes: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let message = sync_message(&changes);
    check_sync_message(&message, &Limits::default()).unwrap();
    let two = Limits {
        max_chunks: 2,
        ..Limits::default()
    };
    assert_eq!(
        check_sync_message(&message, &two),
        Err(GuardError::TooManyChunks { limit: 2 })
    );
    let tiny = Limits {
        max_chunk_bytes: 10,
        ..Limits::default()
    };
    let err = check_sync_message(&message, &tiny).unwrap_err();
    assert!(
        matches!(
            err,
            GuardError::ChunkTooLarge {
                index: 1,
                limit: 10,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--max-change-bytes"), "{err}");
}

#[test]
fn a_huge_claimed_length_is_not_trusted() {
    // A header claiming an exabyte, followed by nothing.
    let mut bytes = MAGIC.to_vec();
    bytes.extend([0, 0, 0, 0, COMPRESSED_CHANGE]);
    uleb(&mut bytes, 1 << 60);
    assert!(matches!(
        check_saved(&bytes, &Limits::default()),
        Err(GuardError::ChunkTooLarge { .. })
    ));
    let unlimited = Limits {
        max_chunk_bytes: u64::MAX,
        ..Limits::default()
    };
    check_saved(&bytes, &unlimited).unwrap(); // a truncated tail: Automerge stops too
    assert!(matches!(
        check_sync_message(&sync_message(&[bytes]), &unlimited),
        Err(GuardError::Malformed { .. })
    ));
    // Column counts and lengths that run past the chunk.
    let mut body = vec![0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^32-ish actors
    body.extend([1, 2, 3]);
    assert!(matches!(
        check_sync_message(&sync_message(&[chunk(DOCUMENT, &body)]), &Limits::default()),
        Err(GuardError::Malformed { .. })
    ));
    let mut body = vec![0, 0, 0, 1, 0x1a];
    uleb(&mut body, u64::MAX);
    assert!(matches!(
        check_sync_message(&sync_message(&[chunk(DOCUMENT, &body)]), &Limits::default()),
        Err(GuardError::Malformed { .. })
    ));
}

#[test]
fn truncated_and_garbage_input_is_refused_or_left_to_automerge_without_panicking() {
    let saved = wordy_doc().save();
    // A file cut short: the valid part (here: nothing) is what Automerge keeps.
    for cut in [1, 8, 9, 12, saved.len() / 2, saved.len() - 1] {
        check_saved(&saved[..cut], &Limits::default()).unwrap();
        assert!(
            check_sync_message(&sync_message(&[saved[..cut].to_vec()]), &Limits::default())
                .is_err()
        );
    }
    // A good chunk followed by garbage: the garbage is refused in a message.
    let mut tail = saved.clone();
    tail.extend(b"garbage");
    check_saved(&tail, &Limits::default()).unwrap();
    let err = check_sync_message(&sync_message(&[tail]), &Limits::default()).unwrap_err();
    assert!(
        matches!(err, GuardError::Malformed { index: 2, .. }),
        "{err}"
    );
    for garbage in [
        &b""[..],
        b"\x42",
        b"\x42not a sync message",
        b"\x43\x00\x00\x00\x05",
        b"\x00",
    ] {
        assert!(check_sync_message(garbage, &Limits::default()).is_err() || garbage.is_empty());
    }
    // An invalid deflate stream.
    let broken = chunk(COMPRESSED_CHANGE, b"\xff\xff\xff\xff");
    assert!(matches!(
        check_sync_message(&sync_message(&[broken]), &Limits::default()),
        Err(GuardError::Malformed { .. })
    ));
}

#[test]
fn leb128_matches_automerge() {
    let read = |bytes: &[u8]| Reader::new(bytes).uleb().ok();
    assert_eq!(read(&[0x01]), Some(1));
    assert_eq!(read(&[0x81, 0x01]), Some(129));
    assert_eq!(read(&[0x80, 0x00]), None, "overlong");
    assert_eq!(
        read(&[0xff; 9].iter().copied().chain([0x01]).collect::<Vec<_>>()),
        Some(u64::MAX)
    );
    assert_eq!(
        read(&[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()),
        None
    );
    assert_eq!(read(&[0x80]), None, "cut short");
}

#[test]
fn sizes_read_well() {
    assert_eq!(human(256 * MIB), "256 MiB");
    assert_eq!(human(1000), "1000 bytes");
}
