//! Ephemeral messages (docs/protocol-extensions.md, "Ephemeral messages"):
//! relayed between the connections of one document that asked for them,
//! never stored, never sent to a peer that did not ask, limited in rate and
//! size, carried through every hop (client ↔ server ↔ client, the UI's
//! WebSocket), and the connections endpoint that lists who is there.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::peer::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use tandem::hub::{ephemeral::next_source, Ephemeral};
use tandem::server::tokens::{Role, TokenGrant};
use tandem::server::ServerOptions;

async fn relay_among(n: usize) {
    let server = start_server().await;
    let mut peers = Vec::new();
    for _ in 0..n {
        peers.push(Peer::open(&server, "room", FEATURE).await);
    }
    wait_listening(&server, "room", n).await;
    for peer in &peers {
        assert!(
            peer.head
                .to_ascii_lowercase()
                .contains("tandem-features: ephemeral"),
            "the server echoes the feature: {}",
            peer.head
        );
    }
    for (i, peer) in peers.iter_mut().enumerate() {
        peer.say(format!("hello from {i}").as_bytes()).await;
    }
    let mut senders = std::collections::HashMap::new();
    for (i, peer) in peers.iter_mut().enumerate() {
        let mut heard = Vec::new();
        for _ in 0..n - 1 {
            let line = peer.heard(WAIT).await.expect("a relayed message");
            let text = String::from_utf8(payload(&line)).unwrap();
            let from = line["from"].as_str().expect("from").to_owned();
            // One sender, one stable id, whoever hears it.
            assert_eq!(
                senders.entry(text.clone()).or_insert_with(|| from.clone()),
                &from
            );
            heard.push(text);
        }
        heard.sort();
        let mut expected: Vec<String> = (0..n)
            .filter(|j| *j != i)
            .map(|j| format!("hello from {j}"))
            .collect();
        expected.sort();
        assert_eq!(
            heard, expected,
            "peer {i} hears every other peer, not itself"
        );
    }
    let ids: std::collections::HashSet<_> = senders.values().collect();
    assert_eq!(ids.len(), n, "each connection has its own id");
    // Nothing was stored: the document was never written.
    let doc = server.hub().get_open(&id("room")).unwrap();
    assert!(doc.heads().is_empty(), "no change was made");
    assert!(server.hub().list().unwrap().is_empty(), "nothing stored");
    server.shutdown().await;
}

#[tokio::test]
async fn two_peers_hear_each_other() {
    relay_among(2).await;
}

#[tokio::test]
async fn ten_peers_hear_every_other_one() {
    relay_among(10).await;
}

#[tokio::test]
async fn a_peer_that_did_not_ask_sees_the_plain_protocol_and_keeps_syncing() {
    let server = start_server().await;
    let mut plain = Peer::open(&server, "room", "").await;
    assert!(
        !plain.head.to_ascii_lowercase().contains("tandem-features"),
        "{}",
        plain.head
    );
    let mut a = Peer::open(&server, "room", FEATURE).await;
    let mut b = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    // What a plain peer sends as `ephemeral` is an unknown event: not relayed.
    plain.say(b"from the plain peer").await;
    a.say(b"from a").await;
    assert_eq!(payload(&b.heard(WAIT).await.unwrap()), b"from a");
    // The plain peer still syncs, and the change reaches it as sync lines
    // only: every line it gets is a sync line.
    plain.send(&line_with_change("plain", "works")).await;
    let doc = server.hub().get_open(&id("room")).unwrap();
    wait_for(&doc, "the plain peer's change", |d| {
        get(d, "plain").as_deref() == Some("works")
    })
    .await;
    a.send(&line_with_change("a", "wrote")).await;
    wait_for(&doc, "a's change", |d| get(d, "a").is_some()).await;
    b.say(b"from b, after").await;
    assert_eq!(payload(&a.heard(WAIT).await.unwrap()), b"from b, after");
    let mut saw_sync = false;
    while let Some(line) = plain.line(Duration::from_millis(500)).await {
        assert_ne!(line["event"], "ephemeral", "the plain peer got {line}");
        saw_sync |= line["event"] == "sync";
    }
    assert!(saw_sync, "the plain peer was sent a's change");
    // And nobody heard the plain peer's line.
    b.say(b"marker").await;
    assert_eq!(a.heard_until(b"marker").await, Vec::<Vec<u8>>::new());
    server.shutdown().await;
}

#[tokio::test]
async fn a_burst_over_the_rate_is_dropped_not_queued() {
    let server = start_server().await;
    let mut sender = Peer::open(&server, "room", FEATURE).await;
    let mut listener = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    let burst: String = (0..100)
        .map(|i| ephemeral_line(format!("burst {i}").as_bytes()))
        .collect();
    sender.send(&burst).await;
    // A second later the bucket has refilled.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sender.say(b"after").await;
    let got = listener.heard_until(b"after").await;
    assert!(
        (30..=36).contains(&got.len()),
        "about 30 of 100 relayed, got {}",
        got.len()
    );
    assert_eq!(got[0], b"burst 0", "the first ones go through, in order");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_and_malformed_ephemeral_lines_are_dropped_and_the_stream_goes_on() {
    let server = start_server().await;
    let mut sender = Peer::open(&server, "room", FEATURE).await;
    let mut listener = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    let limit = tandem::link::ephemeral::MAX_EPHEMERAL;
    sender.say(&vec![b'x'; limit + 1]).await;
    sender.say(&vec![b'y'; limit]).await;
    let long_from = "f".repeat(300);
    sender
        .send(&format!(
            "{{\"event\":\"ephemeral\"}}\n\
             {{\"event\":\"ephemeral\",\"data\":\"not base64!\"}}\n\
             {{\"event\":\"ephemeral\",\"data\":42}}\n\
             {{\"event\":\"ephemeral\",\"data\":\"aGk=\",\"from\":\"{long_from}\"}}\n"
        ))
        .await;
    sender.say(b"end").await;
    let got = listener.heard_until(b"end").await;
    assert_eq!(got, vec![vec![b'y'; limit]], "only the one at the limit");
    // The connection still syncs.
    sender.send(&line_with_change("still", "here")).await;
    let doc = server.hub().get_open(&id("room")).unwrap();
    wait_for(&doc, "the change after bad lines", |d| {
        get(d, "still").is_some()
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_named_token_names_the_sender() {
    let server = start_server_with_options(ServerOptions {
        tokens: vec![TokenGrant::new("ada", Role::Write, "ada-secret-0123456789")],
        ..ServerOptions::default()
    })
    .await;
    let ada = format!("{FEATURE}Authorization: Bearer ada-secret-0123456789\r\n");
    let owner = format!("{FEATURE}Authorization: Bearer {OWNER_TOKEN}\r\n");
    let mut a = Peer::open(&server, "room", &ada).await;
    let mut o = Peer::open(&server, "room", &owner).await;
    wait_listening(&server, "room", 2).await;
    a.say(b"hi").await;
    assert_eq!(o.heard(WAIT).await.unwrap()["name"], "ada");
    server.shutdown().await;
}

/// Desktop-style chain: two local hubs, each live with one server; what
/// one side's UI publishes reaches the other side's bus, and back.
#[tokio::test]
async fn messages_cross_client_server_client_hops() {
    let server = start_server().await;
    let url = doc_url(&server.url(), "room");
    let (_hub_a, doc_a) = local_doc("room");
    let (_hub_b, doc_b) = local_doc("room");
    let live_a = go_live(
        &client(url.clone(), tandem::client::HttpVersion::Auto),
        &doc_a,
    );
    let live_b = go_live(&client(url, tandem::client::HttpVersion::Auto), &doc_b);
    wait_listening(&server, "room", 2).await;
    let mut heard_b = doc_b.subscribe_ephemeral();
    let mut heard_a = doc_a.subscribe_ephemeral();
    let ui_a = next_source();
    doc_a.publish_ephemeral(Ephemeral {
        source: ui_a,
        from: "ui1".into(),
        name: Some("Ada".into()),
        data: Bytes::from_static(b"cursor at 3"),
    });
    let got = tokio::time::timeout(WAIT, heard_b.recv())
        .await
        .expect("relayed to b")
        .unwrap();
    assert_eq!(&got.data[..], b"cursor at 3");
    assert!(got.from.ends_with("/ui1"), "{}", got.from);
    assert_eq!(got.name.as_deref(), Some("Ada"));
    doc_b.publish_ephemeral(Ephemeral {
        source: next_source(),
        from: "ui2".into(),
        name: None,
        data: Bytes::from_static(b"cursor at 5"),
    });
    // a's own message came back to a's bus only as a's own publication.
    let mine = heard_a.recv().await.unwrap();
    assert_eq!((mine.source, &mine.data[..]), (ui_a, &b"cursor at 3"[..]));
    let got = tokio::time::timeout(WAIT, heard_a.recv())
        .await
        .expect("relayed to a")
        .unwrap();
    assert_eq!(&got.data[..], b"cursor at 5");
    live_a.stop().await;
    live_b.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_ui_websocket_takes_part_when_it_asks() {
    let server = start_server().await;
    let doc = server.service().create_doc("Room").unwrap();
    let mut peer = Peer::open(&server, doc.as_ref(), FEATURE).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/_ws/{doc}?features=ephemeral",
        server.local_addr().unwrap()
    ))
    .await
    .unwrap();
    wait_listening(&server, doc.as_ref(), 2).await;
    peer.say(b"to the ui").await;
    let text = loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame")
            .unwrap()
            .unwrap();
        let text = message.into_text().unwrap().to_string();
        if text.contains("\"ephemeral\"") {
            break text;
        }
    };
    let line: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(payload(&line), b"to the ui");
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            ephemeral_line(b"from the ui").trim_end().into(),
        ))
        .await
        .unwrap();
    assert_eq!(payload(&peer.heard(WAIT).await.unwrap()), b"from the ui");
    server.shutdown().await;
}

#[tokio::test]
async fn the_owner_lists_a_documents_live_connections() {
    let server = start_server().await;
    let mut a = Peer::open(&server, "room", FEATURE).await;
    let b = Peer::open(&server, "room", "").await;
    wait_listening(&server, "room", 1).await;
    a.send(&line_with_change("k", "v")).await;
    let doc = server.hub().get_open(&id("room")).unwrap();
    wait_for(&doc, "a's change", |d| get(d, "k").is_some()).await;
    let owner = format!("Authorization: Bearer {OWNER_TOKEN}\r\n");
    let list = |headers: String| {
        let server = &server;
        async move {
            raw(
                server,
                &request("GET", "/_docs/room/connections", &headers, 0),
                b"",
            )
            .await
        }
    };
    let (status, response) = list(owner.clone()).await;
    assert_eq!(status, 200, "{response}");
    let body: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let connections = body["connections"].as_array().unwrap();
    assert_eq!(connections.len(), 2, "{body}");
    let first = &connections[0];
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert!(first["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(first["bytes_in"].as_u64().unwrap() > 0);
    assert!(first["bytes_out"].as_u64().unwrap() > 0);
    assert!(first["since_ms"].as_u64().unwrap() > 0);
    assert_eq!(first["ephemeral"], true);
    assert_eq!(connections[1]["ephemeral"], false);
    // Not the owner: refused.
    let (status, _) = list(String::new()).await;
    assert!(status == 401 || status == 403, "{status}");
    let (status, _) = list("Authorization: Bearer wrong\r\n".into()).await;
    assert_eq!(status, 401);
    // A peer that leaves is no longer listed.
    drop(b);
    eventually("b is gone from the list", || async {
        doc.connection_infos().len() == 1
    })
    .await;
    // Once a has the change it sent, it lags by nothing.
    let info = doc.connection_infos().remove(0);
    assert_eq!(info.lag_changes, 0, "{info:?}");
    assert_eq!(info.heads.len(), 1);
    server.shutdown().await;
}
