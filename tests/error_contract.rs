//! One error contract at both edges: the same failure gives the same `code`
//! over HTTP (a real server on loopback, `{code, message}` bodies) and through
//! the mapping the desktop app's IPC uses (`ErrorBody::from(ServiceError)`),
//! and the HTTP status is the code's ([`Code::status`]).

mod common;

use std::sync::Arc;

use common::*;
use tandem::client::Problem;
use tandem::discovery::peers::Peers;
use tandem::discovery::{DiscoveryEvent, Sighting};
use tandem::error_code::{Code, ErrorBody};
use tandem::node::Node;
use tandem::service::RemoteSpec;
use tandem::store::{MemoryStore, StoreError};

/// A plain HTTP client (the crate brings its own TLS set-up).
fn http() -> reqwest::Client {
    let tls = tandem::tls::Trust::System
        .client_config(&[b"http/1.1"])
        .expect("a TLS config");
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .expect("a client")
}

/// `GET path` with `token`: the status and the JSON body.
async fn get(server: &Node, path: &str, token: &str) -> (u16, serde_json::Value) {
    let response = http()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// The body's code, after checking the body has the contract's shape and the
/// status is the code's.
fn code_of(status: u16, body: &serde_json::Value) -> Code {
    let parsed: ErrorBody = serde_json::from_value(body.clone()).expect("{code, message}");
    assert!(!parsed.message.is_empty(), "{body}");
    assert_eq!(body["error"], body["message"], "the sync protocol's field");
    assert_eq!(status, parsed.code.status(), "{body}");
    parsed.code
}

#[tokio::test]
async fn an_offline_lan_peer_is_offline_over_http_and_ipc() {
    let server = start_server().await;
    let peers = Peers::new("AA".repeat(32), Arc::new(MemoryStore::new())).expect("peers");
    peers.apply(DiscoveryEvent::Seen(Sighting {
        id: "bob-id".into(),
        name: "bob".into(),
        addresses: vec!["127.0.0.1".parse().expect("an address")],
        port: 9,
        fingerprint: "BB".repeat(32),
        version: "1".into(),
    }));
    peers.apply(DiscoveryEvent::Gone {
        id: "bob-id".into(),
    });
    server.service().attach_peers(peers);

    let (status, body) = get(&server, "/_peers/bob-id/docs", OWNER_TOKEN).await;
    assert_eq!(code_of(status, &body), Code::Offline);
    assert_eq!(status, 503, "{body}");

    let ipc = ErrorBody::from(
        server
            .service()
            .peer_docs("bob-id")
            .await
            .expect_err("offline"),
    );
    assert_eq!(ipc.code, Code::Offline);
    assert_eq!(ipc.message, body["message"], "the same words too");

    // A peer nobody knows: not-found at both edges.
    let (status, body) = get(&server, "/_peers/carol-id/docs", OWNER_TOKEN).await;
    assert_eq!(code_of(status, &body), Code::NotFound);
    let ipc = ErrorBody::from(
        server
            .service()
            .peer_docs("carol-id")
            .await
            .expect_err("unknown"),
    );
    assert_eq!(ipc.code, Code::NotFound);
}

#[tokio::test]
async fn a_missing_document_is_not_found_over_http_and_ipc() {
    let server = start_server().await;
    let (status, body) = get(&server, "/_docs/nothing-here/history", OWNER_TOKEN).await;
    assert_eq!(code_of(status, &body), Code::NotFound);

    let ipc = ErrorBody::from(
        server
            .service()
            .history(&id("nothing-here"))
            .expect_err("missing"),
    );
    assert_eq!(ipc.code, Code::NotFound);
    let ipc = ErrorBody::from(
        server
            .service()
            .export_doc(&id("nothing-here"))
            .expect_err("missing"),
    );
    assert_eq!(ipc.code, Code::NotFound);

    // A bad id is bad input at both edges.
    let (status, body) = get(&server, "/_docs/_bad/history", OWNER_TOKEN).await;
    assert_eq!(code_of(status, &body), Code::BadInput);
    let ipc = ErrorBody::from(tandem::DocId::parse("_bad").expect_err("reserved"));
    assert_eq!(ipc.code, Code::BadInput);
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_here_and_the_same_problem_on_a_remote() {
    let server = start_server().await;
    let (status, body) = get(&server, "/_docs", "not-the-token").await;
    assert_eq!(code_of(status, &body), Code::Unauthorized);
    assert_eq!(status, 401);

    // A remote refusing our token is not our own session ending (that would
    // send the browser to sign in): both edges report the remote's problem.
    let local = start_server().await;
    let remote = start_server().await;
    let spec = || RemoteSpec {
        url: format!("{}/notes", remote.url()),
        token: Some("not-the-token".into()),
        ..RemoteSpec::default()
    };
    let ipc = local
        .service()
        .add_remote_checked(spec())
        .await
        .expect("an answer");
    assert_eq!(
        (ipc.state, ipc.problem.clone()),
        ("error", Some(Problem::Unauthorized))
    );
    let response = http()
        .post(format!("{}/_remotes?wait=true", local.url()))
        .bearer_auth(OWNER_TOKEN)
        .json(&serde_json::json!({ "url": spec().url, "token": "not-the-token" }))
        .send()
        .await
        .expect("the server answers");
    let http: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(http["state"], "error", "{http}");
    assert_eq!(
        http["problem"],
        serde_json::json!({ "kind": "unauthorized" })
    );
}

#[test]
fn every_code_has_one_status_and_its_wire_name() {
    for code in Code::ALL {
        let wire = serde_json::to_value(code).expect("serializes");
        assert_eq!(wire, code.as_str());
        assert!((400..600).contains(&code.status()), "{code}");
    }
}

/// A memory store whose saves of pins fail (a full disk): a remote's pinned
/// certificate, and the LAN peers' trust store.
struct PinsFail(tandem::store::MemoryStore);

impl tandem::store::Store for PinsFail {
    fn load(&self, id: &tandem::DocId) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.load(id)
    }
    fn append(
        &self,
        id: &tandem::DocId,
        chunk: &[u8],
        info: &tandem::store::DocInfo,
    ) -> Result<tandem::store::Backlog, StoreError> {
        self.0.append(id, chunk, info)
    }
    fn compact(
        &self,
        id: &tandem::DocId,
        snapshot: &[u8],
        info: &tandem::store::DocInfo,
    ) -> Result<(), StoreError> {
        self.0.compact(id, snapshot, info)
    }
    fn list(&self) -> Result<Vec<tandem::store::DocSummary>, StoreError> {
        self.0.list()
    }
    fn delete(&self, id: &tandem::DocId) -> Result<bool, StoreError> {
        self.0.delete(id)
    }
    fn load_sync_state(
        &self,
        id: &tandem::DocId,
        peer: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.load_sync_state(id, peer)
    }
    fn save_sync_state(
        &self,
        id: &tandem::DocId,
        peer: &str,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.0.save_sync_state(id, peer, state)
    }
    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get_setting(key)
    }
    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let pin = key == "remotes" && value.is_some_and(|v| v.contains("\"fingerprint\":\""));
        if pin || key == "peers/known" {
            return Err(StoreError::DiskFull {
                path: "the test store".into(),
            });
        }
        self.0.put_setting(key, value)
    }
    fn put_tombstone(
        &self,
        id: &tandem::DocId,
        tombstone: &tandem::store::Tombstone,
    ) -> Result<(), StoreError> {
        self.0.put_tombstone(id, tombstone)
    }
    fn tombstone(
        &self,
        id: &tandem::DocId,
    ) -> Result<Option<tandem::store::Tombstone>, StoreError> {
        self.0.tombstone(id)
    }
    fn remove_tombstone(&self, id: &tandem::DocId) -> Result<bool, StoreError> {
        self.0.remove_tombstone(id)
    }
}

#[tokio::test]
async fn a_certificate_pin_that_cannot_be_saved_is_reported_not_swallowed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let identity = tandem::tls::Identity::self_signed_in(dir.path()).expect("an identity");
    let fingerprint = identity.fingerprint().to_string();
    let server = start_server_with(
        tandem::hub::Hub::new(Arc::new(MemoryStore::new())),
        Some(identity),
        tandem::server::ServerOptions::default(),
    )
    .await;
    let service = tandem::service::Service::start(tandem::hub::Hub::new(Arc::new(PinsFail(
        MemoryStore::new(),
    ))));
    let mut events = service.subscribe();
    let added = service
        .add_remote(RemoteSpec {
            url: format!("{}/notes", server.url()),
            token: Some(OWNER_TOKEN.into()),
            trust: true,
            ..RemoteSpec::default()
        })
        .expect("added (nothing pinned yet, so it is saved)");
    assert_eq!(added.save_error, None);

    // The first connection pins the certificate; saving that fails: the
    // remote says so (event and listing), and the pin holds for this run.
    let reported = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(tandem::service::ServiceEvent::Remote { remote })
                    if remote.save_error.is_some() =>
                {
                    return remote
                }
                Ok(_) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the failed save is reported");
    let message = reported.save_error.clone().unwrap_or_default();
    assert!(message.contains("full"), "{message}");
    assert_eq!(reported.fingerprint.as_deref(), Some(fingerprint.as_str()));
    let listed = service.remotes();
    assert_eq!(listed[0].save_error, reported.save_error, "{listed:?}");
    service.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_peer_pin_that_cannot_be_saved_is_reported_over_http_and_ipc() {
    let server = start_server().await;
    let peers = Peers::new("AA".repeat(32), Arc::new(PinsFail(MemoryStore::new()))).expect("peers");
    peers.apply(DiscoveryEvent::Seen(Sighting {
        id: "bob-id".into(),
        name: "bob".into(),
        addresses: vec!["127.0.0.1".parse().expect("an address")],
        port: 9,
        fingerprint: "BB".repeat(32),
        version: "1".into(),
    }));
    // Pinned on first sight, in memory; the failed save is on the peer.
    let bob = peers.get("bob-id").expect("listed");
    assert!(
        bob.save_error
            .as_deref()
            .is_some_and(|e| e.contains("full")),
        "{bob:?}"
    );
    server.service().attach_peers(peers);

    let (status, body) = get(&server, "/_peers", OWNER_TOKEN).await;
    assert_eq!(status, 200);
    assert!(body[0]["save_error"].is_string(), "{body}");

    let response = http()
        .post(format!("{}/_peers/bob-id/verify", server.url()))
        .bearer_auth(OWNER_TOKEN)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(code_of(status, &body), Code::DiskFull);
    let ipc = ErrorBody::from(
        server
            .service()
            .verify_peer("bob-id")
            .expect_err("not saved"),
    );
    assert_eq!(ipc.code, Code::DiskFull);
    assert!(
        ipc.message.contains("holds until the app quits"),
        "{}",
        ipc.message
    );
    // What the user asked for holds for this run.
    assert!(server.service().peers()[0].verified);
}
