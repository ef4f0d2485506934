//! Reconnect of an in-sync peer on the editing trace: how long until a live
//! client that already holds everything is back in sync, with the sync state
//! it saved on its last connection and with a fresh one.

use crate::*;

const RECONNECTS: usize = 5;

/// One live connection of `client` until it reports being in sync; the time
/// that took.
async fn connect_until_in_sync(
    client: &SyncClient,
    doc: &Arc<Document>,
    store: Option<Arc<dyn Store>>,
) -> Duration {
    let cancel = CancellationToken::new();
    let (status_tx, mut status) = watch::channel(ConnectionStatus::Connecting);
    let t = Instant::now();
    let task = {
        let (client, doc, cancel) = (client.clone(), Arc::clone(doc), cancel.clone());
        tokio::spawn(async move { client.sync_live(&doc, cancel, status_tx, store).await })
    };
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| matches!(s, ConnectionStatus::Live { in_sync: true })),
    )
    .await
    .expect("in sync within 60 s")
    .expect("status sender alive");
    let dt = t.elapsed();
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    dt
}

pub(crate) async fn scenario_reconnect() -> Vec<Row> {
    let path = editing_trace_path();
    let Ok(trace) = std::fs::read(&path) else {
        return vec![Row::new(
            "reconnect",
            "skipped: editing trace absent",
            "",
            None,
        )];
    };
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let id = doc_id("reconnect");
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc.load_bytes(&trace).expect("load into server");
    let client_hub = Hub::new(Arc::new(MemoryStore::new()));
    let doc = client_hub.open(&id).expect("open client doc");
    doc.load_bytes(&trace).expect("load into client");
    let client =
        SyncClient::new(client_config(&server.url(), &id, HttpVersion::Http1)).expect("client");
    let states: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // The first connection saves its state when it ends.
    let first = connect_until_in_sync(&client, &doc, Some(Arc::clone(&states))).await;
    eprintln!("   first connection (no saved state): {}", fmt_ms(first));
    let mut saved = Vec::new();
    let mut fresh = Vec::new();
    for _ in 0..RECONNECTS {
        saved.push(connect_until_in_sync(&client, &doc, Some(Arc::clone(&states))).await);
        fresh.push(connect_until_in_sync(&client, &doc, None).await);
    }
    let each = |v: &[Duration]| v.iter().map(|d| fmt_ms(*d)).collect::<Vec<_>>().join(", ");
    eprintln!("   saved: {}; fresh: {}", each(&saved), each(&fresh));
    let (saved_med, fresh_med) = (median(saved), median(fresh));
    drop(server_doc);
    server.shutdown().await;
    vec![
        Row::new(
            format!("reconnect of an in-sync live client, editing trace, saved sync state (median of {RECONNECTS}; connect → Live in sync)"),
            fmt_ms(saved_med),
            "≤ 50 ms",
            Some(ms(saved_med) <= 50.0),
        ),
        Row::new(
            format!("reconnect of an in-sync live client, editing trace, fresh sync state (median of {RECONNECTS})"),
            fmt_ms(fresh_med),
            "",
            None,
        ),
    ]
}
