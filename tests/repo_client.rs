//! Tandem's automerge-repo client against Tandem's own automerge-repo socket
//! (plain and TLS): one-shot both ways, live with the in-sync status, and
//! the same refusals as ndjson remotes. Interop with the JavaScript
//! implementation is proven by `ui/tests/repo/*.mjs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{get, local_doc, put, OWNER_TOKEN, WAIT};
use tandem::client::{ClientConfig, ClientError, ConnectionStatus, SyncClient};
use tandem::hub::Hub;
use tandem::protocol::Until;
use tandem::server::ServerOptions;
use tandem::store::MemoryStore;
use tandem::tls::{Identity, Trust};
use tandem::DocId;
use tokio_util::sync::CancellationToken;
use url::Url;

fn repo_url(base: &str, id: &DocId) -> Url {
    let ws = base.replacen("http", "ws", 1);
    Url::parse(&format!("{ws}/automerge:{id}")).unwrap()
}

fn client(url: Url, f: impl FnOnce(&mut ClientConfig)) -> SyncClient {
    let mut config = ClientConfig::new(url);
    config.token = Some(OWNER_TOKEN.into());
    f(&mut config);
    SyncClient::new(config).unwrap()
}

#[tokio::test]
async fn a_one_shot_sync_pulls_and_pushes_over_the_repo_protocol() {
    let server = common::start_server().await;
    let id = DocId::random();
    let remote = server.hub().open(&id).unwrap();
    put(&remote, "title", "on the server");

    let (_hub, local) = local_doc(id.as_str());
    let sync = client(repo_url(&server.url(), &id), |_| {});
    sync.sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(get(&local, "title").as_deref(), Some("on the server"));

    put(&local, "reply", "from the client");
    sync.sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(get(&remote, "reply").as_deref(), Some("from the client"));
}

#[tokio::test]
async fn wss_with_a_pinned_certificate_works_and_a_wrong_pin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let server = common::start_server_with(
        Hub::new(Arc::new(MemoryStore::new())),
        Some(identity),
        ServerOptions::default(),
    )
    .await;
    let id = DocId::random();
    put(&server.hub().open(&id).unwrap(), "title", "over tls");
    let url = repo_url(&server.url(), &id);
    assert_eq!(url.scheme(), "wss");

    let (_hub, local) = local_doc(id.as_str());
    let pinned = client(url.clone(), |c| c.trust = common::pinned(&server));
    pinned
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(get(&local, "title").as_deref(), Some("over tls"));

    let other = Identity::self_signed_in(tempfile::tempdir().unwrap().path()).unwrap();
    let wrong = client(url, |c| c.trust = Trust::Pinned(other.fingerprint()));
    let err = wrong
        .sync_once(&local, Until::HeadsEqual, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn a_live_sync_reports_in_sync_and_carries_edits_both_ways() {
    let server = common::start_server().await;
    let id = DocId::random();
    let remote = server.hub().open(&id).unwrap();
    put(&remote, "a", "1");
    let (_hub, local) = local_doc(id.as_str());
    let sync = client(repo_url(&server.url(), &id), |_| {});
    let cancel = CancellationToken::new();
    let (status_tx, mut status) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
    let task = {
        let (local, cancel) = (local.clone(), cancel.clone());
        tokio::spawn(async move { sync.sync_live(&local, cancel, status_tx, None).await })
    };
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| *s == ConnectionStatus::Live { in_sync: true }),
    )
    .await
    .expect("live and in sync")
    .unwrap();
    assert_eq!(get(&local, "a").as_deref(), Some("1"));
    put(&local, "b", "2");
    common::wait_for(&remote, "the client's edit", |d| get(d, "b").is_some()).await;
    put(&remote, "c", "3");
    common::wait_for(&local, "the server's edit", |d| get(d, "c").is_some()).await;
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn refusals_are_clear() {
    let server = common::start_server().await;
    let missing = DocId::random();
    let (_hub, local) = local_doc(missing.as_str());
    let err = client(repo_url(&server.url(), &missing), |_| {})
        .sync_once(&local, Until::HeadsEqual, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("doc-unavailable"), "{err}");

    let bad_token = client(repo_url(&server.url(), &missing), |c| {
        c.token = Some("wrong".into())
    })
    .sync_once(&local, Until::HeadsEqual, Duration::from_secs(5))
    .await
    .unwrap_err();
    assert!(
        matches!(bad_token, ClientError::Status { status: 401, .. }),
        "{bad_token}"
    );

    for not_repo in ["ws://127.0.0.1:1/notes", "ws://127.0.0.1:1/automerge:notes"] {
        let err = SyncClient::new(ClientConfig::new(Url::parse(not_repo).unwrap())).unwrap_err();
        assert!(
            matches!(err, ClientError::BadUrl { .. }),
            "{not_repo}: {err}"
        );
    }
    let mut config = ClientConfig::new(
        Url::parse("ws://192.0.2.1:3030/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu").unwrap(),
    );
    config.token = Some("secret".into());
    assert!(matches!(
        SyncClient::new(config).unwrap_err(),
        ClientError::PlainHttpToken { .. }
    ));
}
