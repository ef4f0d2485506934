//! Bad input on automerge-repo's WebSocket at `/`: each case gets an `error`
//! message and a close frame that says why, and the documents stay intact
//! (a well-behaved repo client still syncs them afterwards).

mod common;

use std::time::Duration;

use automerge::sync::SyncDoc;
use automerge::{AutoCommit, ReadDoc};
use common::{put, OWNER_TOKEN};
use futures_util::{SinkExt, StreamExt};
use tandem::node::Node;
use tandem::protocol::repo::RepoMessage;
use tandem::server::ServerOptions;
use tandem::DocId;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LIMIT: usize = 64 * 1024;

/// A server whose frames may be at most [`LIMIT`] bytes, with one document.
async fn server_with_doc() -> (Node, DocId) {
    let options = ServerOptions {
        max_line: LIMIT,
        ..Default::default()
    };
    let server = common::start_server_with_options(options).await;
    let id = DocId::random();
    let doc = server.hub().open(&id).unwrap();
    put(&doc, "title", "kept");
    (server, id)
}

async fn connect(server: &Node) -> Socket {
    let url = format!(
        "ws://{}/?access_token={OWNER_TOKEN}",
        server.local_addr().unwrap()
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(ws: &mut Socket, message: &RepoMessage) {
    ws.send(Message::Binary(message.encode().into()))
        .await
        .unwrap();
}

async fn next(ws: &mut Socket) -> Option<Message> {
    tokio::time::timeout(common::WAIT, ws.next())
        .await
        .expect("an answer in time")
        .and_then(Result::ok)
}

/// Joins; returns the server's peer id.
async fn join(ws: &mut Socket) -> String {
    send(
        ws,
        &RepoMessage::Join {
            sender_id: "tester".into(),
            supported_versions: Some(vec!["1".into()]),
        },
    )
    .await;
    match next(ws).await {
        Some(Message::Binary(b)) => match RepoMessage::decode(&b).unwrap() {
            RepoMessage::Peer { sender_id, .. } => sender_id,
            other => panic!("expected peer, got {other:?}"),
        },
        other => panic!("expected peer, got {other:?}"),
    }
}

/// Reads until the close; returns the `error` text before it and the close code and reason.
async fn closed(ws: &mut Socket) -> (String, CloseCode, String) {
    let mut error = String::new();
    loop {
        match next(ws).await {
            Some(Message::Binary(b)) => {
                if let Ok(RepoMessage::Error { message, .. }) = RepoMessage::decode(&b) {
                    error = message;
                }
            }
            Some(Message::Close(Some(frame))) => {
                return (error, frame.code, frame.reason.to_string())
            }
            Some(Message::Close(None)) | None => panic!("closed without a reason"),
            Some(_) => {}
        }
    }
}

fn sync_message(id: &DocId, server_peer: &str, data: Vec<u8>) -> RepoMessage {
    RepoMessage::Sync {
        request: false,
        sender_id: "tester".into(),
        target_id: server_peer.into(),
        document_id: id.to_string(),
        data,
    }
}

/// A good client still gets the document, unchanged, after the bad input.
async fn assert_intact(server: &Node, id: &DocId) {
    let doc = server.hub().open(id).unwrap();
    assert_eq!(common::get(&doc, "title").as_deref(), Some("kept"));
    let mut ws = connect(server).await;
    let peer = join(&mut ws).await;
    let mut local = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let mut request = true;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while local.get(automerge::ROOT, "title").unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the document arrives"
        );
        if let Some(m) = local.sync().generate_sync_message(&mut state) {
            let mut message = sync_message(id, &peer, m.encode());
            if let RepoMessage::Sync { request: r, .. } = &mut message {
                *r = std::mem::take(&mut request);
            }
            send(&mut ws, &message).await;
        }
        if let Some(Message::Binary(b)) = next(&mut ws).await {
            if let RepoMessage::Sync { data, .. } = RepoMessage::decode(&b).unwrap() {
                let m = automerge::sync::Message::decode(&data).unwrap();
                local.sync().receive_sync_message(&mut state, m).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_text_frame_is_refused() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    ws.send(Message::Text("{\"type\":\"join\"}".into()))
        .await
        .unwrap();
    let (_, code, reason) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Unsupported);
    assert!(reason.contains("binary CBOR"), "{reason}");
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn bytes_that_are_not_cbor_are_refused() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    join(&mut ws).await;
    ws.send(Message::Binary(vec![0xff, 0x00, 0x13].into()))
        .await
        .unwrap();
    let (error, code, reason) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Invalid);
    assert!(
        error.contains("not CBOR") && reason.contains("not CBOR"),
        "{error} / {reason}"
    );
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn an_unknown_message_type_is_refused() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    join(&mut ws).await;
    let mut frame = Vec::new();
    let value = ciborium::Value::Map(vec![
        ("type".into(), "shout".into()),
        ("senderId".into(), "tester".into()),
    ]);
    ciborium::ser::into_writer(&value, &mut frame).unwrap();
    ws.send(Message::Binary(frame.into())).await.unwrap();
    let (error, code, _) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Invalid);
    assert!(error.contains("unknown message type \"shout\""), "{error}");
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn a_sync_before_join_is_refused() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    send(&mut ws, &sync_message(&id, "x", vec![0x42])).await;
    let (error, code, _) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(error.contains("first message must be join"), "{error}");
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    send(
        &mut ws,
        &RepoMessage::Join {
            sender_id: "tester".into(),
            supported_versions: Some(vec!["9".into()]),
        },
    )
    .await;
    let (error, code, _) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(error.contains("unsupported protocol version"), "{error}");
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn ids_that_are_not_automerge_repo_ids_are_refused() {
    let (server, id) = server_with_doc().await;
    for wrong in ["notes", "../../etc/passwd", "4NMNnkMhL8jXrdJ9jamS58PAVdXv"] {
        let mut ws = connect(&server).await;
        let peer = join(&mut ws).await;
        let mut message = sync_message(&id, &peer, vec![0x42]);
        if let RepoMessage::Sync { document_id, .. } = &mut message {
            *document_id = wrong.into();
        }
        send(&mut ws, &message).await;
        let (error, code, _) = closed(&mut ws).await;
        assert_eq!(code, CloseCode::Policy, "{wrong}");
        assert!(
            error.contains("not an automerge-repo document id"),
            "{error}"
        );
    }
    assert!(
        server.hub().list().unwrap().len() == 1,
        "nothing was created"
    );
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn a_sync_message_automerge_cannot_read_is_refused() {
    let (server, id) = server_with_doc().await;
    let heads = server.hub().open(&id).unwrap().heads();
    let mut ws = connect(&server).await;
    let peer = join(&mut ws).await;
    send(
        &mut ws,
        &sync_message(&id, &peer, b"not a sync message".to_vec()),
    )
    .await;
    let (error, code, _) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Invalid);
    assert!(error.contains(&format!("document {id}")), "{error}");
    assert_eq!(server.hub().open(&id).unwrap().heads(), heads);
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused() {
    let (server, id) = server_with_doc().await;
    let heads = server.hub().open(&id).unwrap().heads();
    let mut ws = connect(&server).await;
    let peer = join(&mut ws).await;
    let first = vec![0x42u8; LIMIT * 2];
    ws.send(Message::Binary(
        sync_message(&id, &peer, first).encode().into(),
    ))
    .await
    .unwrap();
    let (_, code, reason) = closed(&mut ws).await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    assert!(reason.contains("too big"), "{reason}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.hub().open(&id).unwrap().heads(), heads);
    assert_intact(&server, &id).await;
}

#[tokio::test]
async fn a_withdrawn_document_becomes_unavailable_and_the_socket_stays() {
    let (server, id) = server_with_doc().await;
    let mut ws = connect(&server).await;
    let peer = join(&mut ws).await;
    let mut local = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let m = local.sync().generate_sync_message(&mut state).unwrap();
    let mut message = sync_message(&id, &peer, m.encode());
    if let RepoMessage::Sync { request, .. } = &mut message {
        *request = true;
    }
    send(&mut ws, &message).await;
    assert!(matches!(next(&mut ws).await, Some(Message::Binary(_))));
    server.hub().delete(&id).unwrap();
    loop {
        match next(&mut ws).await {
            Some(Message::Binary(b)) => {
                if let RepoMessage::DocUnavailable { document_id, .. } =
                    RepoMessage::decode(&b).unwrap()
                {
                    assert_eq!(document_id, id.to_string());
                    break;
                }
            }
            other => panic!("expected doc-unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn making_a_document_private_cuts_anonymous_repo_clients_off() {
    let (server, id) = server_with_doc().await;
    let url = format!("ws://{}/", server.local_addr().unwrap());
    let mut ws = tokio_tungstenite::connect_async(&url).await.unwrap().0;
    let peer = join(&mut ws).await;
    let mut local = AutoCommit::new();
    let mut state = automerge::sync::State::new();
    let first = local.sync().generate_sync_message(&mut state).unwrap();
    let mut message = sync_message(&id, &peer, first.encode());
    if let RepoMessage::Sync { request, .. } = &mut message {
        *request = true;
    }
    send(&mut ws, &message).await;
    match next(&mut ws).await {
        Some(Message::Binary(b)) => assert!(matches!(
            RepoMessage::decode(&b).unwrap(),
            RepoMessage::Sync { .. }
        )),
        other => panic!("expected sync, got {other:?}"),
    }
    server
        .service()
        .set_share_policy(&id, tandem::share::SharePolicy::Private)
        .unwrap();
    loop {
        match next(&mut ws).await {
            Some(Message::Binary(b)) => match RepoMessage::decode(&b).unwrap() {
                RepoMessage::DocUnavailable { document_id, .. } => {
                    assert_eq!(document_id, id.to_string());
                    break;
                }
                RepoMessage::Sync { .. } => {}
                other => panic!("expected doc-unavailable, got {other:?}"),
            },
            other => panic!("expected doc-unavailable, got {other:?}"),
        }
    }
    // Asking again finds nothing, as for a document that does not exist.
    send(&mut ws, &message).await;
    match next(&mut ws).await {
        Some(Message::Binary(b)) => assert!(matches!(
            RepoMessage::decode(&b).unwrap(),
            RepoMessage::DocUnavailable { .. }
        )),
        other => panic!("expected doc-unavailable, got {other:?}"),
    }
}
