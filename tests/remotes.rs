//! "Open from server" and "Sync with server" as the UI uses them, against
//! real servers on loopback: a remote that cannot work says why at once
//! (untrusted certificate with its fingerprint, wrong token, missing
//! document, unreachable) and is not kept retrying out of sight; one that
//! stops working later stops retrying, says why, and is fixed in place (new
//! token, trusted certificate, retry); the same URL twice is one connection.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandem::client::Problem;
use tandem::hub::Hub;
use tandem::node::NodeBuilder;
use tandem::server::tokens::{Role, TokenGrant};
use tandem::server::ServerOptions;
use tandem::service::{RemoteInfo, RemoteSpec, RemoteUpdate, Service, ServiceOptions};
use tandem::share::SharePolicy;
use tandem::store::MemoryStore;
use tandem::tls::Identity;

/// The local side: a service over its own in-memory store (what the app runs).
fn local() -> Arc<Service> {
    Service::start_with(
        Hub::new(Arc::new(MemoryStore::new())),
        ServiceOptions::default(),
    )
}

fn spec(url: String, token: Option<&str>) -> RemoteSpec {
    RemoteSpec {
        url,
        token: token.map(str::to_owned),
        ..RemoteSpec::default()
    }
}

fn team(secret: &str) -> ServerOptions {
    ServerOptions {
        tokens: vec![TokenGrant::new("alice", Role::Write, secret)],
        ..ServerOptions::default()
    }
}

/// Waits until the service reports `id` in `state`.
async fn wait_state(service: &Service, id: &str, state: &str) -> RemoteInfo {
    let mut last = None;
    for _ in 0..300 {
        last = service.remotes().into_iter().find(|r| r.id == id);
        if last.as_ref().is_some_and(|r| r.state == state) {
            return last.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("remote {id} never reached {state}: {last:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_reported_with_its_fingerprint_and_trusting_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let fingerprint = identity.fingerprint().to_string();
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    put(&hub.open(&id("notes")).unwrap(), "title", "Plans");
    let server = start_server_with(hub, Some(identity), ServerOptions::default()).await;
    let url = format!("{}/notes", server.url());
    assert!(url.starts_with("https://"), "{url}");

    let service = local();
    let refused = service
        .add_remote_checked(spec(url.clone(), Some(OWNER_TOKEN)))
        .await
        .unwrap();
    assert_eq!(refused.state, "error", "{refused:?}");
    assert!(
        refused
            .error
            .as_deref()
            .unwrap_or("")
            .contains("certificate"),
        "{refused:?}"
    );
    assert_eq!(
        refused.problem,
        Some(Problem::Certificate {
            presented: Some(fingerprint.clone())
        })
    );
    assert!(
        service.remotes().is_empty(),
        "a failed open must not keep retrying out of sight"
    );

    // "Trust this certificate": the fingerprint it showed.
    let mut trusted = spec(url, Some(OWNER_TOKEN));
    trusted.fingerprint = Some(fingerprint);
    let live = service.add_remote_checked(trusted).await.unwrap();
    assert_eq!(live.state, "live", "{live:?}");
    let copy = service.hub().open(&id("notes")).unwrap();
    wait_for(&copy, "the server's document", |d| {
        get(d, "title").as_deref() == Some("Plans")
    })
    .await;
    service.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_a_missing_document_and_an_unreachable_server_say_so_and_are_not_kept() {
    let server = start_server_with_options(team("alice-secret-0123456789")).await;
    let service = local();

    let wrong = service
        .add_remote_checked(spec(
            format!("{}/notes", server.url()),
            Some("not-the-token-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(
        (wrong.state, wrong.problem.clone()),
        ("error", Some(Problem::Unauthorized)),
        "{wrong:?}"
    );
    assert!(
        wrong.error.as_deref().unwrap_or("").contains("401"),
        "{wrong:?}"
    );

    // A server that keeps documents private until shared (the desktop app):
    // for anyone but its owner, a document it does not share is not there.
    let mut options = team("bob-secret-0123456789");
    options.owner_token = Some(OWNER_TOKEN.into());
    let reader = NodeBuilder::new()
        .service_options(ServiceOptions {
            default_share: SharePolicy::Private,
        })
        .server_options(options)
        .start()
        .await
        .unwrap();
    let private = reader.service().clone();
    let missing = service
        .add_remote_checked(spec(
            format!("{}/nothing-here", reader.url()),
            Some("bob-secret-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(
        (missing.state, missing.problem.clone()),
        ("error", Some(Problem::NotFound)),
        "{missing:?}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = service
        .add_remote_checked(spec(format!("http://127.0.0.1:{port}/notes"), None))
        .await
        .unwrap();
    assert_eq!(
        (unreachable.state, unreachable.problem.clone()),
        ("error", Some(Problem::Unreachable)),
        "{unreachable:?}"
    );

    assert!(service.remotes().is_empty(), "{:?}", service.remotes());
    // Nothing was made locally either: no ghost document.
    assert!(service.hub().store().list().unwrap().is_empty());

    // The right token opens it.
    let ok = service
        .add_remote_checked(spec(
            format!("{}/notes", server.url()),
            Some("alice-secret-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(ok.state, "live", "{ok:?}");
    service.shutdown().await;
    server.shutdown().await;
    reader.shutdown().await;
    private.shutdown().await;
}

#[tokio::test]
async fn a_remote_refused_later_stops_retrying_says_why_and_a_new_token_fixes_it() {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, team("old-secret-0123456789")).await;
    let addr = server.local_addr().unwrap();
    let service = local();
    let live = service
        .add_remote_checked(spec(
            format!("{}/notes", server.url()),
            Some("old-secret-0123456789"),
        ))
        .await
        .unwrap();
    assert_eq!(live.state, "live", "{live:?}");

    // The team rotates its token: the server comes back on the same port
    // with a new one.
    server.shutdown().await;
    let server = start_server_at(addr, hub.clone(), None, team("new-secret-0123456789")).await;
    let failed = wait_state(&service, &live.id, "error").await;
    assert_eq!(failed.problem, Some(Problem::Unauthorized), "{failed:?}");
    assert!(failed.retry_in_ms.is_none(), "{failed:?}");
    // It stays stopped: no reconnecting in the background.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = service
        .remotes()
        .into_iter()
        .find(|r| r.id == live.id)
        .unwrap();
    assert_eq!(still.state, "error", "{still:?}");

    // Retrying without a fix fails the same way; the new token fixes it.
    service.retry_remote(&live.id).unwrap();
    assert_eq!(
        wait_state(&service, &live.id, "error").await.problem,
        Some(Problem::Unauthorized)
    );
    service
        .update_remote(
            &live.id,
            RemoteUpdate {
                token: Some("new-secret-0123456789".into()),
                fingerprint: None,
            },
        )
        .unwrap();
    wait_state(&service, &live.id, "live").await;
    let copy = service.hub().open(&id("notes")).unwrap();
    put(&copy, "after", "rotation");
    let theirs = hub.open(&id("notes")).unwrap();
    wait_for(&theirs, "the edit after the fix", |d| {
        get(d, "after").as_deref() == Some("rotation")
    })
    .await;
    service.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_same_document_from_the_same_url_is_one_connection() {
    let server = start_server().await;
    let service = local();
    let url = format!("{}/notes", server.url());
    let first = service
        .add_remote_checked(spec(url.clone(), Some(OWNER_TOKEN)))
        .await
        .unwrap();
    let again = service.add_remote(spec(url, Some(OWNER_TOKEN))).unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(service.remotes().len(), 1);
    service.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_activity_report_shows_traffic_and_the_last_sync_of_each_remote() {
    let server = start_server().await;
    put(&server.hub().open(&id("notes")).unwrap(), "title", "Plans");
    let service = local();
    let live = service
        .add_remote_checked(spec(format!("{}/notes", server.url()), Some(OWNER_TOKEN)))
        .await
        .unwrap();
    let copy = service.hub().open(&id("notes")).unwrap();
    wait_for(&copy, "the server's document", |d| {
        get(d, "title").as_deref() == Some("Plans")
    })
    .await;
    eventually("traffic and a last sync in the report", || {
        let service = service.clone();
        let id = live.id.clone();
        let doc_id = copy.id().clone();
        async move {
            let report = service.activity();
            let remote = report.remotes.iter().find(|r| r.id == id).cloned();
            remote.is_some_and(|r| r.bytes_in > 0 && r.bytes_out > 0 && r.last_synced_ms.is_some())
                && report
                    .docs
                    .iter()
                    .any(|d| d.id == doc_id && d.totals.changes >= 1)
        }
    })
    .await;
    service.shutdown().await;
    server.shutdown().await;
}
