//! One sync connection, after the `200`: the loop that reads the peer's lines,
//! applies them, and streams back what the peer needs whenever the document
//! moves (PROTOCOL.md §3).
//!
//! The loop is transport-neutral: lines come from an [`EventReader`] over any
//! byte stream (an HTTP request body, WebSocket frames) and go out through a
//! bounded channel of encoded lines, which is also the back-pressure: a peer
//! that stops reading stalls only its own connection, and is dropped after
//! `write_timeout`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::hub::{apply_sync, Document};
use crate::protocol::line::{encode_error, encode_ping};
use crate::protocol::{Event, EventReader, Pacer, SyncSession};

/// The most buffered lines applied as one write.
const MAX_BATCH: usize = 256;

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The request body ended and nothing was left to send (`?follow=false`).
    Complete,
    /// The peer went away or stopped reading.
    PeerGone,
    /// The server is shutting down.
    Shutdown,
    /// A bad line or a rejected message; an error line was sent.
    Error(String),
}

/// The rights a connection's peer holds, re-checked whenever they may have
/// changed (a share policy was changed): the connection ends at once when
/// they are gone.
pub struct AccessCheck {
    /// Moves whenever access rules change.
    pub changes: tokio::sync::watch::Receiver<u64>,
    /// Whether the peer may still sync the document.
    pub allowed: Box<dyn Fn() -> bool + Send + Sync>,
}

/// What the peer may do (set from its credential).
#[derive(Default)]
pub struct PeerRights {
    /// The peer may read but not change the document: a message carrying
    /// changes ends the connection with an error.
    pub read_only: bool,
    /// Re-checked on every access change; `None` for the owner.
    pub check: Option<AccessCheck>,
}

/// A live connection between one peer and one document.
pub struct Connection {
    /// The document being synced.
    pub doc: Arc<Document>,
    /// This connection's sync state.
    pub session: SyncSession,
    /// Encoded lines to the peer.
    pub out: mpsc::Sender<Bytes>,
    /// Ends the connection when cancelled.
    pub shutdown: CancellationToken,
    /// Idle time before a ping line.
    pub ping_interval: Duration,
    /// How long one line may wait for the peer to read.
    pub write_timeout: Duration,
    /// What the peer may do.
    pub rights: PeerRights,
}

/// Waits for the next access change, forever when there is no check.
async fn access_changed(check: &mut Option<AccessCheck>) {
    match check {
        Some(check) => {
            if check.changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// Whether a sync message carries changes (a read-only peer's may not).
/// Undecodable messages are left for [`apply_sync`] to refuse.
pub fn carries_changes(payload: &[u8]) -> bool {
    automerge::sync::Message::decode(payload).is_ok_and(|m| !m.changes.is_empty())
}

/// The refusal a read-only peer gets when it sends changes.
pub const READ_ONLY_REFUSAL: &str =
    "this connection may only read (its token has the read role): changes were refused";

impl Connection {
    /// Sends one line, waiting at most `write_timeout` for room.
    async fn send(&self, line: Bytes) -> Result<(), Ending> {
        match tokio::time::timeout(self.write_timeout, self.out.send(line)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::PeerGone),
            Err(_) => {
                tracing::info!(doc = %self.doc.id(), "peer stopped reading; dropping the connection");
                Err(Ending::PeerGone)
            }
        }
    }

    /// Sends everything the peer needs right now; whether anything was sent.
    async fn flush_messages(&mut self) -> Result<bool, Ending> {
        let lines = match self.doc.pending_lines(&mut self.session) {
            Ok(lines) => lines,
            Err(e) => return Err(self.fail(e.to_string()).await),
        };
        let sent = !lines.is_empty();
        for line in lines {
            self.send(line).await?;
        }
        Ok(sent)
    }

    /// Sends an error line (best effort) and reports the ending.
    async fn fail(&self, reason: String) -> Ending {
        tracing::info!(doc = %self.doc.id(), %reason, "ending stream with an error");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.out.send(encode_error(&reason)))
            .await;
        Ending::Error(reason)
    }

    /// Runs until the peer leaves, an error, shutdown, or — when `follow` is
    /// false — the end of the request body with nothing left to send.
    pub async fn run<S, E>(
        mut self,
        mut reader: EventReader<S>,
        mut body_done: bool,
        follow: bool,
    ) -> Ending
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut changes = self.doc.subscribe();
        let idle = tokio::time::sleep(self.ping_interval);
        tokio::pin!(idle);
        let mut pacer = Pacer::default();
        let pace = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(pace);
        loop {
            changes.borrow_and_update();
            if self.doc.is_deleted() {
                return self
                    .fail(format!("document {} was deleted", self.doc.id()))
                    .await;
            }
            let now = tokio::time::Instant::now();
            let paced = !(pacer.may_send(now) || (body_done && !follow));
            if paced {
                pace.as_mut().reset(pacer.deadline());
            } else {
                match self.flush_messages().await {
                    Ok(true) => {
                        pacer.sent(now);
                        idle.as_mut().reset(now + self.ping_interval);
                    }
                    Ok(false) => {}
                    Err(ending) => return ending,
                }
            }
            if body_done && !follow {
                return Ending::Complete;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Ending::Shutdown,
                _ = self.out.closed() => return Ending::PeerGone,
                event = reader.next_event(), if !body_done => match event {
                    Ok(Some(Event::Sync(bytes))) => {
                        // Apply whatever else already arrived in the same write.
                        let mut batch = vec![bytes];
                        let tail = reader.drain_buffered(&mut batch, MAX_BATCH);
                        if self.rights.read_only && batch.iter().any(|b| carries_changes(b)) {
                            return self.fail(READ_ONLY_REFUSAL.into()).await;
                        }
                        if let Err(reason) = apply_sync(&self.doc, &mut self.session, batch).await {
                            return self.fail(reason.to_string()).await;
                        }
                        pacer.received();
                        if let Err(e) = tail {
                            return self.fail(e.to_string()).await;
                        }
                    }
                    Ok(Some(Event::Error(message))) => {
                        tracing::info!(doc = %self.doc.id(), %message, "peer reported an error");
                    }
                    Ok(Some(Event::Ping | Event::Other(_))) => {}
                    Ok(None) => body_done = true,
                    Err(e) => return self.fail(e.to_string()).await,
                },
                changed = changes.changed() => {
                    if changed.is_err() {
                        return self.fail("document closed".into()).await;
                    }
                }
                _ = access_changed(&mut self.rights.check) => {
                    let allowed = self.rights.check.as_ref().is_none_or(|c| (c.allowed)());
                    if !allowed {
                        return self
                            .fail(format!("access to document {} was withdrawn by its owner", self.doc.id()))
                            .await;
                    }
                }
                _ = &mut pace, if paced => {}
                _ = &mut idle => {
                    if let Err(ending) = self.send(encode_ping()).await {
                        return ending;
                    }
                    idle.as_mut().reset(tokio::time::Instant::now() + self.ping_interval);
                }
            }
        }
    }
}
