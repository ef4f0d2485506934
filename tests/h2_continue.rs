//! HTTP/2 `Expect: 100-continue` (issue #8 item 4): Go's client asks for it
//! on HTTP/2 as on HTTP/1.1 and holds its body back until the `100` arrives
//! (or a second passes). A raw HTTP/2 client (the `h2` crate) checks the
//! frames themselves: the `100` comes before the body is sent, over h2c and
//! over TLS, and a request refused from its headers gets no `100`.
//! Responses also carry the `Date` header that hyper adds on HTTP/1.1.

mod common;

use std::future::poll_fn;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use h2::client::{ResponseFuture, SendRequest};
use http::{Request, StatusCode};
use tandem::hub::Hub;
use tandem::node::Node;
use tandem::server::ServerOptions;
use tandem::store::MemoryStore;
use tandem::tls::Identity;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// An HTTP/2 client connection over `io`, its connection task running.
async fn h2_client<I>(io: I) -> SendRequest<Bytes>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::handshake(io).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// An h2c (prior knowledge) client of `server`.
async fn h2c(server: &Node) -> SendRequest<Bytes> {
    h2_client(
        TcpStream::connect(server.local_addr().expect("listening"))
            .await
            .unwrap(),
    )
    .await
}

/// A TLS client of `server` that offers only `h2` by ALPN.
async fn h2_tls(server: &Node) -> SendRequest<Bytes> {
    let config = pinned(server).client_config(&[b"h2"]).unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.local_addr().expect("listening"))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    h2_client(tls).await
}

/// Starts `PUT /{doc}` as a Go client does (headers first, body held back).
async fn put_expecting_continue(
    client: SendRequest<Bytes>,
    doc: &str,
    accept: &str,
) -> (ResponseFuture, h2::SendStream<Bytes>) {
    let mut client = client.ready().await.unwrap();
    let request = Request::put(format!("http://127.0.0.1/{doc}"))
        .header("content-type", "application/x-ndjson; charset=utf-8")
        .header("accept", accept)
        .header("cache-control", "no-store")
        .header("expect", "100-continue")
        .body(())
        .unwrap();
    client.send_request(request, false).unwrap()
}

/// The next informational response before the final one, if any.
async fn informational(response: &mut ResponseFuture) -> Option<StatusCode> {
    tokio::time::timeout(WAIT, poll_fn(|cx| response.poll_informational(cx)))
        .await
        .expect("an informational or the final response")
        .map(|r| r.expect("a valid informational response").status())
}

/// The whole exchange: `100` first, then the body, then `200` and the
/// server's first line; the change the body carried is stored.
async fn continue_then_sync(client: SendRequest<Bytes>, server: &Node, doc: &str) {
    let (mut response, mut body) = put_expecting_continue(client, doc, NDJSON).await;
    assert_eq!(
        informational(&mut response).await,
        Some(StatusCode::CONTINUE),
        "the server must answer Expect: 100-continue before the client sends its body"
    );
    body.send_data(Bytes::from(line_with_change("via", doc)), false)
        .unwrap();
    let response = tokio::time::timeout(WAIT, response)
        .await
        .expect("a final response")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body();
    let first = tokio::time::timeout(WAIT, stream.data())
        .await
        .expect("a first line")
        .expect("the stream is open")
        .unwrap();
    assert!(first.starts_with(b"{\"event\":\"sync\""), "{first:?}");
    let stored = server.hub().open(&id(doc)).unwrap();
    wait_for(&stored, "the change sent after the 100", |d| {
        get(d, "via").as_deref() == Some(doc)
    })
    .await;
    body.send_reset(h2::Reason::CANCEL);
}

#[tokio::test]
async fn h2c_sync_gets_100_continue_before_sending_its_body() {
    let server = start_server().await;
    continue_then_sync(h2c(&server).await, &server, "h2c-continue").await;
    server.shutdown().await;
}

#[tokio::test]
async fn tls_h2_sync_gets_100_continue_before_sending_its_body() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub, Some(identity), ServerOptions::default()).await;
    continue_then_sync(h2_tls(&server).await, &server, "tls-continue").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_refused_from_its_headers_gets_no_100() {
    let server = start_server().await;
    let (mut response, _body) =
        put_expecting_continue(h2c(&server).await, "refused", "text/html").await;
    assert_eq!(
        informational(&mut response).await,
        None,
        "a refusal decided from the headers must not invite the body"
    );
    let response = tokio::time::timeout(WAIT, response)
        .await
        .expect("a final response")
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_first_line_after_the_100_is_a_plain_400() {
    let server = start_server().await;
    let (mut response, mut body) =
        put_expecting_continue(h2c(&server).await, "bad-first", NDJSON).await;
    assert_eq!(
        informational(&mut response).await,
        Some(StatusCode::CONTINUE)
    );
    // The body stays open, as a live client's does: the 400 and its JSON
    // must still arrive whole (HTTP/2 ends our side with RST_STREAM(NO_ERROR)).
    body.send_data(Bytes::from_static(b"null\n"), false)
        .unwrap();
    let response = tokio::time::timeout(WAIT, response)
        .await
        .expect("a final response")
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let mut text = Vec::new();
    let mut stream = response.into_body();
    while let Some(chunk) = tokio::time::timeout(WAIT, stream.data()).await.unwrap() {
        text.extend_from_slice(&chunk.unwrap());
    }
    let json: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert!(json["error"].as_str().is_some(), "{json}");
    server.shutdown().await;
}

#[tokio::test]
async fn responses_over_http2_carry_a_date_as_over_http1() {
    let server = start_server().await;
    for path in ["/_docs", "/no-such-doc"] {
        let mut client = h2c(&server).await.ready().await.unwrap();
        let request = Request::get(format!("http://127.0.0.1{path}"))
            .body(())
            .unwrap();
        let (response, _) = client.send_request(request, true).unwrap();
        let response = tokio::time::timeout(WAIT, response)
            .await
            .expect("a response")
            .unwrap();
        let date = response
            .headers()
            .get(http::header::DATE)
            .unwrap_or_else(|| panic!("no Date on {path} ({})", response.status()));
        let when = httpdate::parse_http_date(date.to_str().unwrap()).expect("an HTTP date");
        let skew = std::time::SystemTime::now()
            .duration_since(when)
            .unwrap_or_default();
        assert!(skew.as_secs() < 60, "Date {date:?} is not now");
    }
    server.shutdown().await;
}
