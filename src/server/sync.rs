//! `PUT /{doc_id}` (and `POST`): admission, the first line, then the stream.
//!
//! The handler reads the request body *before* answering: that is what makes
//! hyper send `100 Continue` (Go's HTTP/1.1 client waits for it), and it lets
//! a malformed first line be refused with a plain `400` rather than a stream
//! that errors at once. If no line arrives within `first_line_wait`, the
//! server answers `200` anyway and carries on.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use super::access::Caller;
use super::admission::{accepts_ndjson, check_content_type, negotiate_codings};
use super::error::ApiError;
use super::listener::ConnectionInfo;
use super::state::AppState;
use crate::doc_id::DocId;
use crate::hub::{apply_sync, ConnectionMeta, SyncError};
use crate::link::{
    Connection, Ending, EphemeralPort, Link, Role, Side, Stopped, READ_ONLY_REFUSAL,
};
use crate::protocol::carries_changes;
use crate::protocol::compress::{self, encode_stream};
use crate::protocol::{Event, EventReader, Inflate, SyncSession, EPHEMERAL_FEATURE, NDJSON_UTF8};
use futures_util::StreamExt as _;

/// Query parameters of a sync request.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct SyncQuery {
    /// `false`: close the response once the request body ended and nothing is
    /// left to send. Default `true`: keep streaming new changes.
    #[serde(default)]
    pub follow: Option<String>,
}

impl SyncQuery {
    fn follow(&self) -> Result<bool, ApiError> {
        match self.follow.as_deref() {
            None | Some("true") | Some("1") | Some("") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => Err(ApiError::BadRequest(format!(
                "follow must be true or false, not {other:?}"
            ))),
        }
    }
}

/// How many encoded lines may wait for a slow reader before the connection
/// stops generating more (back-pressure).
const OUTBOX: usize = 16;

/// Handles one sync request.
pub(crate) async fn sync_doc(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<SyncQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    let follow = query.follow()?;
    if !accepts_ndjson(request.headers()) {
        return Err(ApiError::NotAcceptable("application/x-ndjson"));
    }
    check_content_type(request.headers())?;
    let codings = negotiate_codings(request.headers())?;
    let access = caller.check_doc(&state, &id)?;
    if request.headers().contains_key(header::ORIGIN)
        && !request.headers().contains_key(header::CONTENT_TYPE)
    {
        // A browser can send a body without a Content-Type (a Blob, sendBeacon)
        // without asking first; a real sync client always names ndjson.
        return Err(ApiError::UnsupportedMediaType(
            "(none, from a browser)".into(),
        ));
    }
    let rights = caller.rights(&state.shares, &id, access);
    if state.shutdown.is_cancelled() {
        return Err(ApiError::ShuttingDown);
    }
    let ephemeral = wants_ephemeral(request.headers());
    let doc = super::offload::open(&state.hub, &id).await?;
    let stats = doc
        .connections()
        .register(connection_meta(&request, &caller));
    let mut session = SyncSession::new();
    let counted = stats.clone();
    let body = Inflate::new(
        request.into_body().into_data_stream(),
        codings.request,
        state.options.max_line,
    )
    .inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counted.add_in(bytes.len());
        }
    });
    let mut reader = EventReader::new(body, state.options.max_line)
        .with_budget(state.read_budget.clone())
        .with_partial_timeout(state.options.partial_line_timeout);

    // Read (and apply) the first sync line before answering.
    let mut body_done = false;
    let first = tokio::time::timeout(state.options.first_line_wait, async {
        loop {
            match reader.next_event().await {
                Ok(Some(Event::Sync(bytes))) => return Ok(Some(bytes)),
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    })
    .await;
    match first {
        Ok(Ok(Some(bytes))) => {
            if rights.read_only && carries_changes(&bytes) {
                return Err(ApiError::Forbidden(READ_ONLY_REFUSAL.into()));
            }
            apply_sync(&doc, &mut session, vec![bytes])
                .await
                .map_err(|e| match e {
                    SyncError::Doc(e) => ApiError::from(e),
                    SyncError::Internal(e) => ApiError::Internal(e),
                    peer_fault => ApiError::BadRequest(peer_fault.to_string()),
                })?;
        }
        Ok(Ok(None)) => body_done = true,
        Ok(Err(e)) => return Err(ApiError::BadRequest(e.to_string())),
        Err(_waited) => {}
    }

    let (tx, rx) = mpsc::channel(OUTBOX);
    let role = Role::Server {
        follow,
        ping_interval: state.options.ping_interval,
    };
    let now = tokio::time::Instant::now().into_std();
    let port = ephemeral.then(|| {
        let source = crate::hub::ephemeral::next_source();
        EphemeralPort::new(Side::Server, source, &stats.id, caller.name(), now)
    });
    let connection = Connection {
        doc,
        link: Link::new(role, session, now).read_only(rights.read_only),
        out: tx,
        shutdown: state.shutdown.child_token(),
        write_timeout: state.options.write_timeout,
        access: rights.check,
        ephemeral: port,
        stats: Some(stats),
    };
    let (failed_tx, failed_rx) = oneshot::channel();
    state.tasks.spawn(async move {
        let ending = connection.run(reader, body_done).await;
        tracing::debug!(doc = %id, ?ending, "sync stream ended");
        if let Some(reason) = failure(&ending) {
            let _ = failed_tx.send(StreamFailed(reason));
        }
    });

    // Each line leaves as one zstd frame / gzip flush, so a compressed
    // stream is as live as a plain one. A stream that ends because a
    // foreign peer cannot take a change ends the response abnormally after
    // its error line (HTTP/1.1: no last chunk; HTTP/2: RST_STREAM), see
    // `failure`.
    let lines = encode_stream(ReceiverStream::new(rx), codings.response)
        .map(|line| line.map_err(axum::BoxError::from));
    let verdict = futures_util::stream::once(async move {
        let failed = failed_rx.await.ok()?;
        // An abort discards what hyper or h2 still holds unwritten: give the
        // error line time to leave (a Tandem client reads it and hangs up).
        tokio::time::sleep(ERROR_LINE_GRACE).await;
        Some(Err(axum::BoxError::from(failed)))
    })
    .filter_map(|verdict| async move { verdict });
    let body = Body::from_stream(lines.chain(verdict));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    if let Some(encoding) = codings.response {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(encoding.as_str()),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if codings.advertise {
        // What a later request body may use (RFC 9110 §12.5.3).
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(compress::ACCEPTED),
        );
    }
    // The features this stream carries, echoed only to a peer that asked.
    let features = match (codings.advertise, ephemeral) {
        (true, true) => Some("compression, ephemeral"),
        (true, false) => Some(compress::FEATURE),
        (false, true) => Some(EPHEMERAL_FEATURE),
        (false, false) => None,
    };
    if let Some(features) = features {
        headers.insert(
            compress::FEATURES_HEADER,
            HeaderValue::from_static(features),
        );
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON_UTF8));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// How long a failed stream's error line gets to reach the socket before the
/// response is broken off.
const ERROR_LINE_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Why a sync stream ended in an error of ours (after its error line), ending
/// the HTTP response abnormally.
#[derive(Debug, thiserror::Error)]
#[error("the sync stream ended with an error: {0}")]
struct StreamFailed(String);

/// The reason a connection ended in a way its peer could only take for a
/// finished sync: a change no line of a foreign peer can hold. Only a peer
/// without capability flags (the Go library) gets that ending, and such a
/// peer skips error lines and reports a clean end as success — so its
/// response is broken off instead. Other errors end cleanly after their
/// error line, which Tandem's clients read.
fn failure(stopped: &Stopped) -> Option<String> {
    match stopped {
        Stopped::Link(Ending::Unsendable(e)) => Some(e.to_string()),
        _ => None,
    }
}

/// Whether the request's `Tandem-Features` names `ephemeral`.
pub(crate) fn wants_ephemeral(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(compress::FEATURES_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| compress::names_feature(v, EPHEMERAL_FEATURE))
}

/// How a sync request's connection is listed.
fn connection_meta(request: &Request, caller: &Caller) -> ConnectionMeta {
    let info = request.extensions().get::<ConnectionInfo>();
    let version = match request.version() {
        axum::http::Version::HTTP_2 => "HTTP/2",
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    ConnectionMeta {
        peer: info.map_or_else(|| "unknown".into(), |i| i.remote.to_string()),
        user: caller.name().map(str::to_owned),
        protocol: if info.is_some_and(|i| i.tls) {
            format!("{version}+tls")
        } else {
            version.to_owned()
        },
    }
}
