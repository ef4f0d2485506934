//! The async driver of a server-side [`Link`] (a sync stream after its
//! `200`, or a UI peer's WebSocket). It only moves bytes and waits — for the peer's lines, for the
//! document to move, for the link's deadline, for shutdown or a change of
//! rights — and does what the link says (PROTOCOL.md §3).
//!
//! The driver is transport-neutral: lines come from an [`EventReader`] over
//! any byte stream (an HTTP request body, WebSocket frames) and go out through
//! a bounded channel of encoded lines, which is also the back-pressure: a peer
//! that stops reading stalls only its own connection, and is dropped after
//! `write_timeout`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ephemeral::EphemeralPort;
use super::{Ending, Input, Link, Output};
use crate::hub::ephemeral::Farewell;
use crate::hub::{ConnectionStats, Document, Ephemeral};
use crate::protocol::{EphemeralLine, Event, EventReader};

/// How long an ephemeral line may wait for room before it is dropped.
pub const EPHEMERAL_WAIT: Duration = Duration::from_millis(250);

/// The most buffered lines applied as one write.
const MAX_BATCH: usize = 256;

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

/// Waits for the next access change, forever when there is no check.
async fn access_changed(check: &mut Option<AccessCheck>) -> bool {
    match check {
        Some(check) => {
            if check.changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            (check.allowed)()
        }
        None => std::future::pending().await,
    }
}

/// A live connection between one peer and one document.
pub struct Connection {
    /// The document being synced.
    pub doc: Arc<Document>,
    /// This connection's link (sync state, pacing, pings, rights).
    pub link: Link,
    /// Encoded lines to the peer.
    pub out: mpsc::Sender<Bytes>,
    /// Ends the connection when cancelled.
    pub shutdown: CancellationToken,
    /// How long one line may wait for the peer to read.
    pub write_timeout: Duration,
    /// Re-checks of the peer's rights.
    pub access: Option<AccessCheck>,
    /// The peer asked for ephemeral messages: how they are relayed.
    pub ephemeral: Option<EphemeralPort>,
    /// This connection's entry in the document's registry of connections.
    pub stats: Option<Arc<ConnectionStats>>,
}

/// Why the driver stopped, for logs.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The link ended.
    Link(Ending),
    /// The peer went away or stopped reading.
    PeerGone,
    /// The server is shutting down.
    Shutdown,
}

impl Connection {
    /// Sends one line, waiting at most `timeout` for room.
    async fn send(&self, line: Bytes, timeout: Duration) -> Result<(), Stopped> {
        if let Some(stats) = &self.stats {
            stats.add_out(line.len());
        }
        match tokio::time::timeout(timeout, self.out.send(line)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stopped::PeerGone),
            Err(_) => {
                tracing::info!(doc = %self.doc.id(), "peer stopped reading; dropping the connection");
                Err(Stopped::PeerGone)
            }
        }
    }

    /// Feeds `input` to the link (on a blocking thread when big) and carries
    /// out what it says; `Err` once the connection is over.
    async fn step(&mut self, input: Input) -> Result<(), Stopped> {
        let outputs = self.link.handle_now(input, &self.doc).await;
        if let (Some(stats), Some(heads)) = (&self.stats, self.link.session().their_heads()) {
            stats.set_heads(heads);
        }
        for output in outputs {
            match output {
                Output::Send(lines) => {
                    for line in lines {
                        self.send(line, self.write_timeout).await?;
                    }
                }
                Output::Live { .. } => {}
                Output::End(ending) => {
                    if let Ending::Error(reason) | Ending::PeerError(reason) = &ending {
                        tracing::info!(doc = %self.doc.id(), %reason, "ending stream with an error");
                    }
                    return Err(Stopped::Link(ending));
                }
            }
        }
        Ok(())
    }

    /// Notes in the registry that a line came in.
    fn heard(&self) {
        if let Some(stats) = &self.stats {
            stats.heard();
        }
    }

    /// Relays what the peer sent to the document's bus, unless a limit
    /// drops it.
    fn take_ephemeral(&mut self, line: EphemeralLine) {
        let Some(port) = &mut self.ephemeral else {
            return; // The peer did not ask: an unknown event to it.
        };
        let now = tokio::time::Instant::now().into_std();
        match port.inbound(now, line) {
            Ok(message) => {
                self.doc.publish_ephemeral(message);
            }
            Err(refused) => {
                tracing::debug!(doc = %self.doc.id(), %refused, "ephemeral message dropped")
            }
        }
    }

    /// Sends a bus message to the peer if it is not the peer's own. A peer
    /// that stays behind for [`EPHEMERAL_WAIT`] loses it rather than holding
    /// up the sync.
    async fn give_ephemeral(&self, message: &Ephemeral) -> Result<(), Stopped> {
        let Some(line) = self.ephemeral.as_ref().and_then(|p| p.outbound(message)) else {
            return Ok(());
        };
        let len = line.len();
        match tokio::time::timeout(EPHEMERAL_WAIT, self.out.send(line)).await {
            Ok(Ok(())) => {
                if let Some(stats) = &self.stats {
                    stats.add_out(len);
                }
                Ok(())
            }
            Ok(Err(_)) => Err(Stopped::PeerGone),
            Err(_) => Ok(()),
        }
    }

    /// Runs until the link ends, the peer leaves, or shutdown.
    pub async fn run<S, E>(mut self, mut reader: EventReader<S>, mut body_done: bool) -> Stopped
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut changes = self.doc.subscribe();
        let mut access = self.access.take();
        let mut bus = self
            .ephemeral
            .as_ref()
            .map(|_| self.doc.subscribe_ephemeral());
        // When the connection ends, so do the presence sessions behind it.
        let _farewell = self
            .ephemeral
            .as_ref()
            .map(|p| Farewell::new(self.doc.clone(), p.id(), p.source()));
        if let (Some(stats), Some(_)) = (&self.stats, &self.ephemeral) {
            stats.set_ephemeral(true);
        }
        changes.borrow_and_update();
        let first = if body_done {
            Input::PeerEnded
        } else {
            Input::Poll
        };
        if let Err(stopped) = self.step(first).await {
            return stopped;
        }
        loop {
            let deadline = self.link.deadline().map(tokio::time::Instant::from_std);
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let input = tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => return Stopped::Shutdown,
                _ = self.out.closed() => return Stopped::PeerGone,
                allowed = access_changed(&mut access) => Input::Access(allowed),
                message = crate::hub::ephemeral::next(&mut bus) => {
                    let sent = match message {
                        Some(message) => self.give_ephemeral(&message).await,
                        None => { bus = None; Ok(()) }
                    };
                    if let Err(stopped) = sent {
                        return stopped;
                    }
                    continue;
                }
                event = reader.next_event(), if !body_done => match event {
                    Ok(Some(Event::Sync(bytes))) => {
                        // Apply whatever else already arrived in the same write.
                        let mut batch = vec![bytes];
                        match reader.drain_buffered(&mut batch, MAX_BATCH) {
                            Ok(()) => Input::Received(batch),
                            Err(e) => {
                                // The good lines before the bad one are kept.
                                if let Err(stopped) = self.step(Input::Received(batch)).await {
                                    return stopped;
                                }
                                Input::Malformed(e.to_string())
                            }
                        }
                    }
                    Ok(Some(Event::Error(message))) => Input::PeerError(message),
                    Ok(Some(Event::Ephemeral(line))) => {
                        self.heard();
                        self.take_ephemeral(line);
                        continue;
                    }
                    Ok(Some(Event::BadEphemeral(reason))) => {
                        self.heard();
                        if let Some(port) = &mut self.ephemeral { port.dropped += 1 }
                        tracing::debug!(doc = %self.doc.id(), %reason, "bad ephemeral line dropped");
                        continue;
                    }
                    Ok(Some(Event::Ping | Event::Other(_))) => {
                        self.heard();
                        continue;
                    }
                    Ok(None) => {
                        body_done = true;
                        Input::PeerEnded
                    }
                    Err(e) => Input::Malformed(e.to_string()),
                },
                // (An error here is impossible while we hold the document.)
                _ = changes.changed() => {
                    changes.borrow_and_update();
                    Input::DocChanged
                }
                _ = timer => Input::Timer,
            };
            if matches!(input, Input::Received(_) | Input::PeerError(_)) {
                self.heard();
            }
            if let Err(stopped) = self.step(input).await {
                return stopped;
            }
        }
    }
}
