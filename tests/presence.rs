//! Presence over real sockets (docs/presence.md): who is in a document
//! (`GET /_docs/{id}/presence`), gone at once on a goodbye, gone at once
//! when the connection they came through ends (directly, or one hop away),
//! and gone after 15 s of silence (that timing is tested with an exact
//! clock in `hub::presence`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::peer::*;
use common::*;
use tandem::hub::{ephemeral::next_source, Ephemeral};
use tandem::node::Node;

fn hello(session: &str, seq: u64, name: &str) -> Vec<u8> {
    serde_json::json!({
        "t": "presence", "v": 1, "seq": seq, "session": session,
        "user": {"id": format!("id-{name}"), "name": name, "color": "#1c7ed6"},
        "device": "raw test peer", "since": 1_764_500_000_000u64, "state": "active",
        "actor": "", "cursor": null,
    })
    .to_string()
    .into_bytes()
}

fn goodbye(session: &str, seq: u64) -> Vec<u8> {
    format!(r#"{{"t":"leave","v":1,"seq":{seq},"session":"{session}"}}"#).into_bytes()
}

/// The names `GET /_docs/{doc}/presence` lists.
async fn present(server: &Node, doc: &str) -> Vec<String> {
    let (status, response) = raw(
        server,
        &request("GET", &format!("/_docs/{doc}/presence"), "", 0),
        b"",
    )
    .await;
    assert_eq!(status, 200, "{response}");
    let body: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for a relayed goodbye for `session`.
async fn hears_goodbye(peer: &mut Peer, session: &str) {
    loop {
        let line = peer
            .heard(Duration::from_secs(5))
            .await
            .expect("a goodbye within 5 s");
        let data: serde_json::Value = serde_json::from_slice(&payload(&line)).unwrap();
        if data["t"] == "leave" && data["session"] == session {
            return;
        }
    }
}

#[tokio::test]
async fn a_member_is_listed_until_it_says_goodbye() {
    let server = start_server().await;
    let mut ada = Peer::open(&server, "room", FEATURE).await;
    let mut bob = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    assert!(present(&server, "room").await.is_empty());
    ada.say(&hello("ada-1", 1, "Ada")).await;
    bob.heard(WAIT).await.expect("Ada's hello");
    assert_eq!(present(&server, "room").await, ["Ada"]);
    ada.say(&goodbye("ada-1", 2)).await;
    hears_goodbye(&mut bob, "ada-1").await;
    assert!(present(&server, "room").await.is_empty(), "gone at once");
    server.shutdown().await;
}

#[tokio::test]
async fn a_member_whose_connection_ends_is_gone_at_once() {
    let server = start_server().await;
    let mut ada = Peer::open(&server, "room", FEATURE).await;
    let mut bob = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    ada.say(&hello("ada-1", 7, "Ada")).await;
    bob.heard(WAIT).await.expect("Ada's hello");
    assert_eq!(present(&server, "room").await, ["Ada"]);
    // Ada's process dies: no goodbye, the socket just closes.
    let started = tokio::time::Instant::now();
    drop(ada);
    hears_goodbye(&mut bob, "ada-1").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(present(&server, "room").await.is_empty());
    server.shutdown().await;
}

/// A desktop-style hop: a local document live with the server. When the
/// link ends, the server drops the local side's people and the local side
/// drops the server's.
#[tokio::test]
async fn sessions_behind_a_link_that_ends_are_gone_on_both_sides() {
    let server = start_server().await;
    let (_hub, doc) = local_doc("room");
    let live = go_live(
        &client(
            doc_url(&server.url(), "room"),
            tandem::client::HttpVersion::Auto,
        ),
        &doc,
    );
    let mut bob = Peer::open(&server, "room", FEATURE).await;
    wait_listening(&server, "room", 2).await;
    // The local side's link listens to its page once it is live.
    let mut status = live.status.clone();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| matches!(s, tandem::client::ConnectionStatus::Live { .. })),
    )
    .await
    .expect("the local side goes live")
    .unwrap();
    // Ada's page on the local side.
    doc.publish_ephemeral(Ephemeral {
        source: next_source(),
        from: "ui-ada".into(),
        name: None,
        data: Bytes::from(hello("ada-1", 1, "Ada")),
    });
    bob.heard(WAIT).await.expect("Ada's hello through the link");
    bob.say(&hello("bob-1", 1, "Bob")).await;
    eventually("Bob on the local side", || async {
        doc.ephemeral()
            .members()
            .iter()
            .any(|m| m.user.name == "Bob")
    })
    .await;
    assert_eq!(present(&server, "room").await, ["Ada", "Bob"]);
    live.stop().await;
    hears_goodbye(&mut bob, "ada-1").await;
    assert_eq!(present(&server, "room").await, ["Bob"]);
    let left: Vec<_> = doc
        .ephemeral()
        .members()
        .into_iter()
        .map(|m| m.user.name)
        .collect();
    assert_eq!(left, ["Ada"], "the local side keeps its own Ada, not Bob");
    server.shutdown().await;
}
