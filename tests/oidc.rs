//! OIDC bearer tokens (`serve --oidc-issuer URL --oidc-audience AUD`),
//! against a tiny issuer the test runs itself on loopback (discovery
//! document + JWKS, Ed25519 keys made here): a valid token makes a named
//! user; an expired one, one for another audience, one signed with a key the
//! issuer does not publish, and a shared-secret one are refused with a
//! reason; a rotated key is picked up.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use common::peer::*;
use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use tandem::hub::Hub;
use tandem::node::Node;
use tandem::server::oidc::OidcConfig;
use tandem::server::ServerOptions;
use tandem::store::MemoryStore;

const AUDIENCE: &str = "tandem-test";

/// An Ed25519 key with an id: signs tokens, and its public half is a JWK.
struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl Key {
    fn new(kid: &str) -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Key {
            kid: kid.into(),
            pkcs8: pkcs8.as_ref().to_vec(),
            public: pair.public_key().as_ref().to_vec(),
        }
    }

    fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
            "kid": self.kid, "x": B64URL.encode(&self.public),
        })
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
    }
}

/// The test's issuer: its URL, and the keys it publishes (changeable).
struct Issuer {
    url: String,
    published: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_issuer(keys: &[&Key]) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let published = Arc::new(Mutex::new(keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()));
    let discovery = serde_json::json!({ "issuer": url, "jwks_uri": format!("{url}/jwks") });
    let jwks = published.clone();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let d = discovery.clone();
                async move { Json(d) }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let keys = jwks.lock().unwrap().clone();
                async move { Json(serde_json::json!({ "keys": keys })) }
            }),
        );
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Issuer {
        url,
        published,
        task,
    }
}

async fn server_for(issuer: &Issuer) -> Node {
    let mut config = OidcConfig::new(issuer.url.parse().unwrap(), AUDIENCE);
    config.min_refetch = Duration::ZERO;
    start_server_with_options(ServerOptions {
        oidc: Some(config),
        ..ServerOptions::default()
    })
    .await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(issuer: &Issuer, aud: &str, exp: u64) -> serde_json::Value {
    serde_json::json!({
        "iss": issuer.url, "aud": aud, "sub": "user-42", "name": "Ada Lovelace",
        "iat": now(), "exp": exp,
    })
}

/// `GET /_docs` with `token`: (status, error message if any).
async fn list_with(server: &Node, token: &str) -> (u16, String) {
    let (status, response) = raw(
        server,
        &request(
            "GET",
            "/_docs",
            &format!("Authorization: Bearer {token}\r\n"),
            0,
        ),
        b"",
    )
    .await;
    let error = if status == 200 {
        String::new()
    } else {
        error_of(&response)
    };
    (status, error)
}

#[tokio::test]
async fn a_valid_token_is_a_named_user() {
    let key = Key::new("k1");
    let issuer = start_issuer(&[&key]).await;
    let server = server_for(&issuer).await;
    let token = key.sign(&claims(&issuer, AUDIENCE, now() + 300));
    assert_eq!(list_with(&server, &token).await, (200, String::new()));
    // Without a credential the server is closed, like one with tokens.
    let (status, _) = raw(&server, &request("GET", "/_docs", "", 0), b"").await;
    assert_eq!(status, 401);
    // The token's `name` is who the server relays as.
    let ada = format!("{FEATURE}Authorization: Bearer {token}\r\n");
    let owner = format!("{FEATURE}Authorization: Bearer {OWNER_TOKEN}\r\n");
    let mut a = Peer::open(&server, "room", &ada).await;
    let mut o = Peer::open(&server, "room", &owner).await;
    wait_listening(&server, "room", 2).await;
    a.say(b"hello").await;
    assert_eq!(o.heard(WAIT).await.unwrap()["name"], "Ada Lovelace");
    server.shutdown().await;
    issuer.task.abort();
}

#[tokio::test]
async fn expired_wrong_audience_wrong_key_and_shared_secret_tokens_are_refused() {
    let key = Key::new("k1");
    let issuer = start_issuer(&[&key]).await;
    let server = server_for(&issuer).await;

    let expired = key.sign(&claims(&issuer, AUDIENCE, now() - 3600));
    let (status, error) = list_with(&server, &expired).await;
    assert_eq!(status, 401);
    assert!(error.contains("Expired"), "{error}");

    let other_audience = key.sign(&claims(&issuer, "someone-else", now() + 300));
    let (status, error) = list_with(&server, &other_audience).await;
    assert_eq!(status, 401);
    assert!(error.contains("Audience"), "{error}");

    // Same key id, another key: the signature does not verify.
    let impostor = Key::new("k1");
    let forged = impostor.sign(&claims(&issuer, AUDIENCE, now() + 300));
    let (status, error) = list_with(&server, &forged).await;
    assert_eq!(status, 401);
    assert!(error.contains("Signature"), "{error}");

    // A key id the issuer does not publish.
    let unknown = Key::new("nope").sign(&claims(&issuer, AUDIENCE, now() + 300));
    let (status, error) = list_with(&server, &unknown).await;
    assert_eq!(status, 401);
    assert!(error.contains("does not publish"), "{error}");

    // HS256 with a guessable secret: never accepted.
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims(&issuer, AUDIENCE, now() + 300),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    let (status, error) = list_with(&server, &hs).await;
    assert_eq!(status, 401);
    assert!(error.contains("not accepted"), "{error}");

    // Another issuer's token.
    let mut foreign = claims(&issuer, AUDIENCE, now() + 300);
    foreign["iss"] = "https://elsewhere.example".into();
    let (status, error) = list_with(&server, &key.sign(&foreign)).await;
    assert_eq!(status, 401);
    assert!(error.contains("Issuer"), "{error}");

    // And the good one still works.
    let good = key.sign(&claims(&issuer, AUDIENCE, now() + 300));
    assert_eq!(list_with(&server, &good).await.0, 200);
    server.shutdown().await;
    issuer.task.abort();
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let old = Key::new("2025");
    let issuer = start_issuer(&[&old]).await;
    let server = server_for(&issuer).await;
    assert_eq!(
        list_with(&server, &old.sign(&claims(&issuer, AUDIENCE, now() + 300)))
            .await
            .0,
        200
    );
    let new = Key::new("2026");
    *issuer.published.lock().unwrap() = vec![new.jwk()];
    assert_eq!(
        list_with(&server, &new.sign(&claims(&issuer, AUDIENCE, now() + 300)))
            .await
            .0,
        200,
        "the new key is fetched when a token names it"
    );
    server.shutdown().await;
    issuer.task.abort();
}

#[tokio::test]
async fn an_issuer_over_plain_http_elsewhere_is_refused_at_start() {
    let config = OidcConfig::new("http://issuer.example".parse().unwrap(), AUDIENCE);
    let result = tandem::node::NodeBuilder::new()
        .hub(Hub::new(Arc::new(MemoryStore::new())))
        .server_options(ServerOptions {
            oidc: Some(config),
            ..ServerOptions::default()
        })
        .start()
        .await;
    let error = result.expect_err("refused").to_string();
    assert!(error.contains("https://"), "{error}");
}
