//! The node builder: the LAN rule ("on the LAN iff enabled or something is
//! shared") runs in the core, without a window, and one shutdown stops
//! every part (the LAN listener, the server, the record) and frees the store.

mod common;

use std::time::Duration;

use tandem::node::{LanPolicy, LanSettings, Listen, NodeBuilder};
use tandem::service::ServiceOptions;
use tandem::share::SharePolicy;

/// Waits (bounded) until the node's LAN presence is `listening`.
async fn until_listening(node: &tandem::node::Node, listening: bool, what: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let status = node.lan_status().await.expect("an on-demand LAN policy");
        if status.listening == listening {
            return status.url.unwrap_or_default();
        }
        assert!(started.elapsed() < common::WAIT, "{what}: still {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_node_is_on_the_lan_iff_enabled_or_something_is_shared() {
    std::env::set_var("TANDEM_NO_MDNS", "1");
    let dir = tempfile::tempdir().unwrap();
    let node = NodeBuilder::new()
        .data_dir(dir.path())
        .service_options(ServiceOptions {
            default_share: SharePolicy::Private,
        })
        .record_in_data_dir(true)
        .lan(LanPolicy::OnDemand {
            listen: "127.0.0.1:0".parse().unwrap(),
        })
        .start()
        .await
        .unwrap();
    assert!(
        dir.path().join("server.json").is_file(),
        "server.json written"
    );
    until_listening(&node, false, "nothing shared yet").await;

    // Sharing a document puts the node on the LAN (TLS, its own port)…
    let service = node.service().clone();
    let id = service.create_doc("Shared").unwrap();
    service.set_share_policy(&id, SharePolicy::Lan).unwrap();
    let url = until_listening(&node, true, "a document is shared").await;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let lan_addr = url.trim_start_matches("https://").to_owned();
    tokio::net::TcpStream::connect(&lan_addr)
        .await
        .expect("the LAN listener accepts");

    // …making it private again takes it off…
    service.set_share_policy(&id, SharePolicy::Private).unwrap();
    until_listening(&node, false, "nothing is shared any more").await;

    // …and the user's setting keeps it there with nothing shared.
    let status = node
        .configure_lan(LanSettings {
            enabled: Some(true),
            ..LanSettings::default()
        })
        .await
        .expect("on-demand policy")
        .unwrap();
    assert!(status.enabled && status.listening, "{status:?}");
    let lan_addr = status
        .url
        .unwrap()
        .trim_start_matches("https://")
        .to_owned();

    // One shutdown stops the LAN listener and the server, removes the
    // record and releases the store for the next start.
    drop(service);
    node.shutdown().await;
    assert!(!dir.path().join("server.json").exists(), "record removed");
    let refused = tokio::net::TcpStream::connect(&lan_addr).await;
    assert!(refused.is_err(), "the LAN listener is closed");
    let again = NodeBuilder::new()
        .data_dir(dir.path())
        .listen(Listen::Exactly("127.0.0.1:0".parse().unwrap()))
        .start()
        .await
        .expect("the store is free again");
    assert_eq!(again.service().list_docs().unwrap().len(), 1);
    again.shutdown().await;
}

#[tokio::test]
async fn a_node_without_a_data_dir_cannot_make_a_certificate() {
    let err = NodeBuilder::new()
        .tls(tandem::node::Tls::SelfSigned)
        .start()
        .await
        .expect_err("no data dir");
    assert!(err.to_string().contains("data directory"), "{err}");
}
