//! Share policies as the server enforces them: what the owner and what a peer
//! (a caller without the owner's token) may list, read, sync, create, delete
//! and share. Being on this machine grants nothing: a caller on
//! loopback without a token is a peer like any other (see tests/security.rs).

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tandem::hub::Hub;
use tandem::server::listener::ConnectionInfo;
use tandem::server::{app, AppState, ServerOptions};
use tandem::service::{Service, ServiceOptions};
use tandem::share::SharePolicy;
use tandem::store::MemoryStore;
use tower::ServiceExt;

const PEER: &str = "10.0.0.7:50000";
/// Calls from `OWNER` carry the owner token.
const OWNER: &str = "127.0.0.1:50000";
const OWNER_TOKEN: &str = "owner-secret-for-tests-0123456789";

struct Server {
    router: axum::Router,
    service: Arc<Service>,
}

fn server(default_share: SharePolicy, tokens: Vec<&str>) -> Server {
    let service = Service::start_with(
        Hub::new(Arc::new(MemoryStore::new())),
        ServiceOptions { default_share },
    );
    let options = ServerOptions {
        tokens: tokens.into_iter().map(Into::into).collect(),
        owner_token: Some(OWNER_TOKEN.into()),
        ..ServerOptions::default()
    };
    Server {
        router: app(
            AppState::new(
                service.hub().clone(),
                service.shares().clone(),
                "http://x".into(),
                options,
            ),
            Some(tandem::service::http::routes(service.clone(), 1 << 20)),
        ),
        service,
    }
}

async fn call(
    s: &Server,
    from: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let content_type = if path.starts_with("/_") {
        "application/json"
    } else {
        "application/x-ndjson"
    };
    let token = token.or((from == OWNER).then_some(OWNER_TOKEN));
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:7450")
        .header("content-type", content_type);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let mut request = builder.body(Body::from(body.to_owned())).unwrap();
    request.extensions_mut().insert(ConnectionInfo {
        remote: from.parse().unwrap(),
        tls: true,
    });
    let response = s.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn ids(listing: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(listing).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn private_by_default_peers_see_only_what_is_shared() {
    let s = server(SharePolicy::Private, vec![]);
    let secret = s.service.create_doc("Secret").unwrap();
    let team = s.service.create_doc("Team").unwrap();
    let link = s.service.create_doc("Link").unwrap();
    // Only the owner may share.
    let (status, _) = call(
        &s,
        PEER,
        "PUT",
        &format!("/_docs/{team}/share"),
        r#"{"policy":"lan"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &s,
        OWNER,
        "PUT",
        &format!("/_docs/{team}/share"),
        r#"{"policy":"lan"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    call(
        &s,
        OWNER,
        "PUT",
        &format!("/_docs/{link}/share"),
        r#"{"policy":"link"}"#,
        None,
    )
    .await;
    let (status, body) = call(
        &s,
        OWNER,
        "PUT",
        &format!("/_docs/{link}/share"),
        r#"{"policy":"public"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["code"], "bad-input", "{body}");
    assert!(error["error"].is_string(), "{body}");
    let (status, _) = call(
        &s,
        OWNER,
        "PUT",
        "/_docs/missing/share",
        r#"{"policy":"lan"}"#,
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no policy for a document that does not exist"
    );

    // Listings: the owner sees all three with their policies, a peer only the LAN one.
    let (_, owner_list) = call(&s, OWNER, "GET", "/_docs", "", None).await;
    assert_eq!(ids(&owner_list).len(), 3);
    assert!(
        owner_list.contains(r#""share":"private""#) && owner_list.contains(r#""share":"link""#)
    );
    let (_, peer_list) = call(&s, PEER, "GET", "/_docs", "", None).await;
    assert_eq!(ids(&peer_list), vec![team.to_string()]);

    // Reading and syncing: private looks exactly like missing; lan and link work.
    for (id, expected) in [
        (&secret, StatusCode::NOT_FOUND),
        (&team, StatusCode::OK),
        (&link, StatusCode::OK),
    ] {
        let (status, body) = call(&s, PEER, "GET", &format!("/{id}"), "", None).await;
        assert_eq!(status, expected, "GET {id}: {body}");
        let (status, _) = call(&s, PEER, "PUT", &format!("/{id}?follow=false"), "", None).await;
        assert_eq!(status, expected, "PUT {id}");
    }
    let (_, body) = call(&s, PEER, "GET", &format!("/{secret}"), "", None).await;
    let (_, missing) = call(&s, PEER, "GET", "/never-existed", "", None).await;
    assert_eq!(
        body.replace(secret.as_str(), "X"),
        missing.replace("never-existed", "X"),
        "no existence leak"
    );

    // Peers cannot create documents on a private-by-default server, nor delete.
    let (status, _) = call(&s, PEER, "POST", "/_docs", r#"{"title":"x"}"#, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&s, PEER, "PUT", "/brand-new?follow=false", "", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&s, PEER, "DELETE", &format!("/{team}"), "", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&s, OWNER, "DELETE", &format!("/{team}"), "", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.service.share_policy(&team).unwrap(),
        SharePolicy::Private,
        "the policy went with the document"
    );
}

#[tokio::test]
async fn a_team_server_shares_everything_and_tokens_make_owners() {
    let s = server(SharePolicy::Lan, vec!["t"]);
    let doc = s.service.create_doc("Team doc").unwrap();
    let (status, _) = call(&s, PEER, "GET", "/_docs", "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, list) = call(&s, PEER, "GET", "/_docs", "", Some("t")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&list), vec![doc.to_string()]);
    // A token holder is an owner: may make it private, and then still see it.
    let (status, _) = call(
        &s,
        PEER,
        "PUT",
        &format!("/_docs/{doc}/share"),
        r#"{"policy":"private"}"#,
        Some("t"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&s, PEER, "GET", &format!("/{doc}"), "", Some("t")).await;
    assert_eq!(status, StatusCode::OK);
    // Without tokens, a team server lets any peer create and sync new documents.
    let open = server(SharePolicy::Lan, vec![]);
    let (status, _) = call(&open, PEER, "PUT", "/new-one?follow=false", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&open, PEER, "POST", "/_docs", r#"{"title":"x"}"#, None).await;
    assert_eq!(status, StatusCode::CREATED);
}
