//! (b) cold one-shot sync of a big document vs. in-process `automerge::sync`.

use crate::*;

pub(crate) const B_RUNS: usize = 5;

/// 10,000 changes: one creates a text and a map, then each of 9,999 splices
/// one character into the text and puts one key in the map.
pub(crate) fn build_10k() -> Automerge {
    let mut doc = Automerge::new();
    let (text, meta) = doc
        .transact::<_, _, AutomergeError>(|tx| {
            let text = tx.put_object(ROOT, "text", ObjType::Text)?;
            let meta = tx.put_object(ROOT, "meta", ObjType::Map)?;
            tx.put(ROOT, "title", "benchmark document")?;
            Ok((text, meta))
        })
        .expect("first change")
        .result;
    let alphabet: Vec<char> = "the quick brown fox jumps over the lazy dog "
        .chars()
        .collect();
    for i in 0..9_999usize {
        doc.transact::<_, _, AutomergeError>(|tx| {
            let c = alphabet[i % alphabet.len()].to_string();
            tx.splice_text(&text, i, 0, &c)?;
            tx.put(&meta, format!("k{}", i % 64), i as i64)?;
            Ok(())
        })
        .expect("change");
    }
    doc
}

/// Syncs an empty document from `server` in-process with `automerge::sync`,
/// encoding and decoding every message as any transport must; stops when the
/// client holds the server's heads (what `Until::HeadsEqual` waits for).
pub(crate) fn inproc_sync(server: &mut Automerge) -> Duration {
    let mut client = Automerge::new();
    let mut ss = AmSyncState::new();
    let mut cs = AmSyncState::new();
    let target = server.get_heads();
    let t0 = Instant::now();
    for _ in 0..100 {
        let mut quiet = true;
        if let Some(m) = client.generate_sync_message(&mut cs) {
            let m = Message::decode(&m.encode()).expect("decode");
            server
                .receive_sync_message(&mut ss, m)
                .expect("server receives");
            quiet = false;
        }
        if let Some(m) = server.generate_sync_message(&mut ss) {
            let m = Message::decode(&m.encode()).expect("decode");
            client
                .receive_sync_message(&mut cs, m)
                .expect("client receives");
            quiet = false;
        }
        if client.get_heads() == target || quiet {
            break;
        }
    }
    let dt = t0.elapsed();
    assert_eq!(client.get_heads(), target, "in-process sync converged");
    dt
}

pub(crate) async fn cold_sync_rows(label: &str, saved: &[u8], changes: usize) -> Vec<Row> {
    // The limit first, so the server's copy is not warmed by anything of ours.
    let limit = limit_runs(saved);

    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let id = doc_id("cold");
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc.load_bytes(saved).expect("load into server");
    let target = server_doc.heads();
    let base = server.url();
    let mut tandem = Vec::new();
    let mut attempts = Vec::new();
    for _ in 0..B_RUNS {
        let client_hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = client_hub.open(&id).expect("open client doc");
        let client =
            SyncClient::new(client_config(&base, &id, HttpVersion::Http1)).expect("client");
        let t0 = Instant::now();
        let report = client
            .sync_once(&doc, Until::HeadsEqual, Duration::from_secs(120))
            .await
            .expect("cold sync succeeds");
        tandem.push(t0.elapsed());
        attempts.push(report.attempts);
        assert_eq!(doc.heads(), target, "client converged");
    }
    drop(server_doc);
    server.shutdown().await;

    eprintln!(
        "   {label}: tandem runs [{}], attempts {attempts:?}",
        list(&tandem)
    );
    eprintln!("   {label}: in-process runs [{}]", list(&limit));
    let what = format!(
        "(b) cold sync {label} ({changes} changes, {} KiB saved), Tandem HTTP/1.1, median of {B_RUNS}",
        saved.len() / 1024
    );
    cold_rows(
        what,
        format!("(b) ratio Tandem / limit, {label}"),
        tandem,
        limit,
    )
}

/// The in-process limit: [`B_RUNS`] syncs of an empty document from `saved`.
fn limit_runs(saved: &[u8]) -> Vec<Duration> {
    let mut full = Automerge::load(saved).expect("load document");
    (0..B_RUNS).map(|_| inproc_sync(&mut full)).collect()
}

/// Durations as a list for stderr.
fn list(runs: &[Duration]) -> String {
    runs.iter()
        .map(|d| fmt_ms(*d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of a (b) scenario: Tandem's median (`what`), the limit's, and
/// their ratio against the 1.3× target.
fn cold_rows(what: String, ratio: String, tandem: Vec<Duration>, limit: Vec<Duration>) -> Vec<Row> {
    let t = median(tandem);
    let l = median(limit);
    let r = t.as_secs_f64() / l.as_secs_f64();
    vec![
        Row::new(what, fmt_ms(t), "", None),
        Row::new(
            format!("(b) same, in-process automerge::sync (the limit), median of {B_RUNS}"),
            fmt_ms(l),
            "",
            None,
        ),
        Row::new(ratio, format!("{r:.2}×"), "≤ 1.3×", Some(r <= 1.3)),
    ]
}

/// (b) the other way: a client holding the document pushes it to an empty
/// server document (a fresh one each run), against the same in-process
/// limit (an empty document synced from a full one).
pub(crate) async fn cold_push_rows(label: &str, saved: &[u8], changes: usize) -> Vec<Row> {
    let limit = limit_runs(saved);

    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let base = server.url();
    let mut tandem = Vec::new();
    for run in 0..B_RUNS {
        let id = doc_id(&format!("push-{run}"));
        let client_hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = client_hub.open(&id).expect("open client doc");
        doc.load_bytes(saved).expect("load into client");
        let target = doc.heads();
        let client =
            SyncClient::new(client_config(&base, &id, HttpVersion::Http1)).expect("client");
        let t0 = Instant::now();
        client
            .sync_once(&doc, Until::HeadsEqual, Duration::from_secs(120))
            .await
            .expect("cold push succeeds");
        tandem.push(t0.elapsed());
        let on_server = hub.open(&id).expect("open server doc");
        assert_eq!(on_server.heads(), target, "server converged");
    }
    server.shutdown().await;

    eprintln!("   {label} push: tandem runs [{}]", list(&tandem));
    eprintln!("   {label} push: in-process runs [{}]", list(&limit));
    let what = format!(
        "(b) cold push {label} ({changes} changes) to an empty server document, Tandem HTTP/1.1, median of {B_RUNS}"
    );
    cold_rows(
        what,
        format!("(b) ratio Tandem / limit, push, {label}"),
        tandem,
        limit,
    )
}

/// `b-push-10k`: [`cold_push_rows`] for the 10,000-change document.
pub(crate) async fn scenario_b_push_10k() -> Vec<Row> {
    let saved = build_10k().save();
    cold_push_rows("10k-change doc", &saved, 10_000).await
}

/// `b-push-trace`: [`cold_push_rows`] for the editing trace.
pub(crate) async fn scenario_b_push_trace() -> Vec<Row> {
    match read_trace("(b) cold push, editing trace") {
        Ok(saved) => cold_push_rows("editing trace", &saved, 259_779).await,
        Err(skipped) => skipped,
    }
}

pub(crate) async fn scenario_b_10k() -> Vec<Row> {
    let t = Instant::now();
    let doc = build_10k();
    let saved = doc.save();
    eprintln!(
        "   built the 10,000-change document in {} ({} bytes saved)",
        fmt_ms(t.elapsed()),
        saved.len()
    );
    drop(doc);
    cold_sync_rows("10k-change doc", &saved, 10_000).await
}

pub(crate) fn editing_trace_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/editing-trace.automerge")
}

pub(crate) async fn scenario_b_trace() -> Vec<Row> {
    match read_trace("(b) cold sync, editing trace") {
        Ok(saved) => cold_sync_rows("editing trace", &saved, 259_779).await,
        Err(skipped) => skipped,
    }
}

/// The editing trace's bytes, or the row that says `what` was skipped
/// because the file is absent.
fn read_trace(what: &str) -> Result<Vec<u8>, Vec<Row>> {
    let path = editing_trace_path();
    std::fs::read(&path).map_err(|_| {
        eprintln!("   NOTE: {} is absent; skipping {what}", path.display());
        vec![Row::new(what, "skipped: data file absent", "≤ 1.3×", None)]
    })
}
