//! A coverage-free mutation fuzzer that runs on stable Rust (issue #7, Proof).
//!
//! Each target starts from valid samples and feeds seeded random mutations of
//! them (bit flips, byte inserts and deletes, splices of other samples,
//! LEB128 length fields replaced by extreme values, truncation) to one layer
//! that meets untrusted bytes:
//!
//! - `line_reader`: `protocol::EventReader` over random chunkings, and
//!   `protocol::line::decode_line`;
//! - `sync_message` and `chunks`: `protocol::guard`, then
//!   `Message::decode` and `receive_sync_message` on a fresh and on a non-empty
//!   document (and `check_saved` + `Automerge::load` for chunks);
//! - `admission`: `server::admission::{accepts_ndjson, check_content_type}`
//!   and `DocId::parse` with mutated header values and paths.
//!
//! Every iteration has its own seed; a panic is reported with it. Knobs:
//! `TANDEM_FUZZ_SECONDS` (total, default 10, shared by the targets),
//! `TANDEM_FUZZ_SEED` (first seed; random otherwise), `TANDEM_FUZZ_ITERATIONS`
//! (a cap per target, e.g. 1 to replay one seed). See docs/fuzzing.md.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use automerge::sync::{Message, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT};
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem::protocol::guard::{self, Limits};
use tandem::protocol::line::decode_line;
use tandem::protocol::EventReader;
use tandem::server::admission::{accepts_ndjson, check_content_type};
use tandem::DocId;

/// Inputs never grow past this, so one iteration stays cheap.
const MAX_INPUT: usize = 256 * 1024;

/// Small limits: an input that passes the guard cannot make Automerge
/// allocate much, so the fuzzer itself stays light.
fn limits() -> Limits {
    Limits {
        max_chunk_bytes: 1 << 20,
        max_inflated_bytes: 8 << 20,
        max_chunks: 10_000,
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// The time one target may run: `TANDEM_FUZZ_SECONDS` over all four targets.
fn time_per_target() -> Duration {
    let total = env_u64("TANDEM_FUZZ_SECONDS").unwrap_or(10);
    Duration::from_secs(total) / 4
}

/// Runs `target` on mutations of `samples` until the time is up; panics with
/// the failing seed if the target panics.
fn fuzz(name: &str, samples: &[Vec<u8>], target: impl Fn(&[u8])) {
    let first = env_u64("TANDEM_FUZZ_SEED").unwrap_or_else(rand::random);
    let cap = env_u64("TANDEM_FUZZ_ITERATIONS").unwrap_or(u64::MAX);
    let deadline = Instant::now() + time_per_target();
    let mut iterations = 0u64;
    while iterations < cap && (iterations == 0 || Instant::now() < deadline) {
        let seed = first.wrapping_add(iterations);
        let mut rng = StdRng::seed_from_u64(seed);
        let input = mutate(&mut rng, samples);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            panic!(
                "fuzz target {name} panicked on seed {seed}; replay with \
                 TANDEM_FUZZ_SEED={seed} TANDEM_FUZZ_ITERATIONS=1 cargo test --test fuzz {name}"
            );
        }
        iterations += 1;
    }
    eprintln!("fuzz {name}: {iterations} inputs from seed {first}, no panic");
}

/// One input: a sample, mutated one to eight times.
fn mutate(rng: &mut StdRng, samples: &[Vec<u8>]) -> Vec<u8> {
    let mut data = samples[rng.random_range(0..samples.len())].clone();
    for _ in 0..rng.random_range(1..=8) {
        mutate_once(rng, &mut data, samples);
        data.truncate(MAX_INPUT);
    }
    data
}

fn mutate_once(rng: &mut StdRng, data: &mut Vec<u8>, samples: &[Vec<u8>]) {
    let pos = |rng: &mut StdRng, len: usize| rng.random_range(0..=len);
    match rng.random_range(0..9) {
        0 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            data[i] =
                [0, 1, 0x7f, 0x80, 0xff, b'\n', b'"', b'\\', rng.random()][rng.random_range(0..9)];
        }
        2 => {
            let at = pos(rng, data.len());
            let n = rng.random_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(at..at, bytes);
        }
        3 if !data.is_empty() => {
            let start = rng.random_range(0..data.len());
            let end = (start + rng.random_range(1..=64)).min(data.len());
            data.drain(start..end);
        }
        4 if !data.is_empty() => {
            // Duplicate a range (repeated structures, longer lists).
            let start = rng.random_range(0..data.len());
            let end = (start + rng.random_range(1..=256)).min(data.len());
            let copy = data[start..end].to_vec();
            let at = pos(rng, data.len());
            data.splice(at..at, copy);
        }
        5 => {
            // Splice in part of another sample.
            let other = &samples[rng.random_range(0..samples.len())];
            if !other.is_empty() {
                let start = rng.random_range(0..other.len());
                let end = (start + rng.random_range(1..=512)).min(other.len());
                let at = pos(rng, data.len());
                let cut = (at + rng.random_range(0..=64)).min(data.len());
                data.splice(at..cut, other[start..end].iter().copied());
            }
        }
        6 if !data.is_empty() => {
            // Replace a (would-be) LEB128 length with an extreme one.
            let values = [
                0,
                1,
                31,
                32,
                127,
                128,
                255,
                1 << 16,
                1 << 31,
                1 << 32,
                1 << 63,
                u64::MAX,
            ];
            let mut leb = Vec::new();
            let mut n = values[rng.random_range(0..values.len())];
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    leb.push(byte);
                    break;
                }
                leb.push(byte | 0x80);
            }
            let at = rng.random_range(0..data.len());
            let end = (at + rng.random_range(1..=3)).min(data.len());
            data.splice(at..end, leb);
        }
        7 => {
            let keep = pos(rng, data.len());
            data.truncate(keep);
        }
        _ => {
            // Small arithmetic on one byte (counts off by one).
            let i = rng.random_range(0..data.len().max(1));
            if let Some(b) = data.get_mut(i) {
                *b = b.wrapping_add(if rng.random() { 1 } else { 255 });
            }
        }
    }
}

/// A document with text, a map, a list and several actors' changes.
fn sample_doc() -> Automerge {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let text = tx.put_object(ROOT, "title", ObjType::Text)?;
        tx.splice_text(&text, 0, 0, "Fuzzing notes\nline two ")?;
        let list = tx.put_object(ROOT, "items", ObjType::List)?;
        for i in 0..20 {
            tx.insert(&list, i, i as i64)?;
        }
        tx.put(ROOT, "flag", true)?;
        Ok(())
    })
    .unwrap();
    let mut other = doc.fork();
    other
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "other", "value")?;
            let text = tx.put_object(ROOT, "long", ObjType::Text)?;
            tx.splice_text(&text, 0, 0, &"many words repeat ".repeat(40))
        })
        .unwrap();
    doc.merge(&mut other).unwrap();
    doc
}

/// Sync messages a peer really sends: the opening one, V1 messages with
/// changes (some compressed), and a V2 message carrying a whole document.
fn sync_samples() -> Vec<Vec<u8>> {
    let doc = sample_doc();
    let mut samples = Vec::new();
    let mut state = automerge::sync::State::new();
    let first = doc.generate_sync_message(&mut state).unwrap();
    samples.push(first.clone().encode());
    let mut with_changes = first.clone();
    with_changes.changes = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect::<Vec<_>>()
        .into();
    samples.push(with_changes.encode());
    let mut compressed = first.clone();
    compressed.changes = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| c.clone().bytes().into_owned())
        .collect::<Vec<_>>()
        .into();
    samples.push(compressed.encode());
    let mut whole = first;
    whole.changes = doc.save().into();
    samples.push(whole.encode());
    // A real exchange, with heads, needs and bloom filters.
    let mut peer = Automerge::new();
    let (mut ours, mut theirs) = (automerge::sync::State::new(), automerge::sync::State::new());
    let mut doc = doc;
    for _ in 0..6 {
        if let Some(m) = doc.generate_sync_message(&mut ours) {
            samples.push(m.clone().encode());
            peer.receive_sync_message(&mut theirs, m).unwrap();
        }
        if let Some(m) = peer.generate_sync_message(&mut theirs) {
            samples.push(m.clone().encode());
            doc.receive_sync_message(&mut ours, m).unwrap();
        }
    }
    samples
}

/// Automerge chunks: a saved document, raw and compressed changes, a bundle.
fn chunk_samples() -> Vec<Vec<u8>> {
    let doc = sample_doc();
    let mut samples = vec![doc.save(), doc.save_nocompress()];
    for change in doc.get_changes(&[]) {
        samples.push(change.raw_bytes().to_vec());
        samples.push(change.clone().bytes().into_owned());
    }
    let hashes = doc.get_changes(&[]).into_iter().map(|c| c.hash());
    if let Ok(bundle) = doc.bundle(hashes) {
        samples.push(bundle.bytes().to_vec());
    }
    samples
}

/// A V1 sync message carrying `chunks` as one part.
fn wrap(chunks: &[u8]) -> Vec<u8> {
    let mut message = Message::decode(&[0x42, 0, 0, 0, 0]).unwrap();
    message.changes = chunks.to_vec().into();
    message.encode()
}

/// The guard, then Automerge, as `apply_sync` does it: on a fresh document
/// and on one with history.
fn receive_checked(bytes: &[u8]) {
    if guard::check_sync_message(bytes, &limits()).is_err() {
        return;
    }
    let Ok(message) = Message::decode(bytes) else {
        panic!("the guard accepted bytes that do not decode");
    };
    let mut fresh = Automerge::new();
    let _ = fresh.receive_sync_message(&mut automerge::sync::State::new(), message.clone());
    let mut busy = Automerge::new();
    busy.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "k", 1).map(drop))
        .unwrap();
    let _ = busy.receive_sync_message(&mut automerge::sync::State::new(), message);
}

#[test]
fn sync_message() {
    fuzz("sync_message", &sync_samples(), receive_checked);
}

#[test]
fn chunks() {
    fuzz("chunks", &chunk_samples(), |chunks| {
        receive_checked(&wrap(chunks));
        if guard::check_saved(chunks, &limits()).is_ok() {
            let _ = Automerge::load(chunks);
        }
    });
}

fn line_samples() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = sync_samples()
        .into_iter()
        .take(3)
        .map(|m| {
            let data = base64::engine::general_purpose::STANDARD.encode(m);
            format!("{{\"event\":\"sync\",\"data\":\"{data}\"}}\n").into_bytes()
        })
        .collect();
    for line in [
        &b"{\"event\":\"ping\"}\n"[..],
        b"{\"event\":\"error\",\"message\":\"bad \\\"thing\\\" \\u00e9\"}\n",
        b"{\"event\":\"other\",\"x\":[1,{\"y\":null}]}\r\n\n  \n",
        b"null\n[]\n{\"event\":\"sync\",\"data\":\"QUJD\"}",
    ] {
        lines.push(line.to_vec());
    }
    lines
}

#[test]
fn line_reader() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    fuzz("line_reader", &line_samples(), |input| {
        for line in input.split(|b| *b == b'\n') {
            let _ = decode_line(line);
        }
        // Cut the input at pseudo-random places (derived from it, so a seed
        // replays the same chunks) and read it with a small line limit.
        let max_line = 64 + input.len() % 4096;
        let mut chunks = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = 1 + (rest[0] as usize * 7 + rest.len()) % 700;
            let (a, b) = rest.split_at(n.min(rest.len()));
            chunks.push(Ok::<_, String>(Bytes::copy_from_slice(a)));
            rest = b;
        }
        runtime.block_on(async {
            let mut reader = EventReader::new(futures_util::stream::iter(chunks), max_line);
            let mut events = 0;
            while let Ok(Some(_)) = reader.next_event().await {
                events += 1;
                assert!(events <= input.len() + 1, "more events than lines");
            }
        });
    });
}

fn admission_samples() -> Vec<Vec<u8>> {
    [
        "application/x-ndjson",
        "application/x-ndjson; charset=utf-8",
        "application/x-ndjson;charset=\"UTF8\"",
        "*/*",
        "application/*;q=0.5, text/html",
        "text/html, application/x-ndjson;q=0",
        "notes",
        "a:b~c.d-e_f",
        "%2e%2e/etc",
        "_ui",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

#[test]
fn admission() {
    fuzz("admission", &admission_samples(), |input| {
        if let Ok(value) = HeaderValue::from_bytes(input) {
            for name in [header::ACCEPT, header::CONTENT_TYPE] {
                let mut headers = HeaderMap::new();
                headers.insert(name.clone(), value.clone());
                headers.append(name, HeaderValue::from_static("text/plain"));
                let _ = accepts_ndjson(&headers);
                let _ = check_content_type(&headers);
            }
        }
        let path = String::from_utf8_lossy(input);
        if let Ok(id) = DocId::parse(&path) {
            assert_eq!(id.as_str(), path, "an ID is its path segment");
            assert!(id.as_str().len() <= tandem::doc_id::MAX_DOC_ID_LEN);
            assert!(!id.as_str().starts_with(['_', '.']));
            assert!(!id.as_str().contains(['/', '\\', '\0', '%']));
        }
    });
}

#[test]
fn the_mutator_is_deterministic_per_seed() {
    let samples = sync_samples();
    let run = |seed| mutate(&mut StdRng::seed_from_u64(seed), &samples);
    assert_eq!(run(7), run(7));
    assert!(common::WAIT > Duration::ZERO);
}
