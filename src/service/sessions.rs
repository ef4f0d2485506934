//! The sync sessions of an in-process UI's Automerge peers (the desktop
//! app's), one per open document: each bridges a delivery function
//! (document → UI, one protocol line per message, e.g. a Tauri channel) and
//! [`Sessions::send`] (UI → document) to [`Service::attach_peer_as`].
//!
//! Sessions are keyed by document ID (the UI keeps at most one peer per
//! document); each also gets a numeric handle, so that closing a session
//! that has since been replaced by a newer one for the same document is a
//! no-op instead of closing the newer one.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::{Service, ServiceError, UiPeer};
use crate::doc_id::DocId;

/// A line for a session that is not open (the core ended it, or it never was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {0} has no open sync session")]
pub struct NotOpen(pub DocId);

/// Identifies one sync session (unique for the life of the app).
pub type Handle = u64;

/// The open sync sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    last_handle: AtomicU64,
    open: Mutex<HashMap<DocId, Session>>,
}

#[derive(Debug)]
struct Session {
    handle: Handle,
    /// The UI's lines, in order, into the core's session.
    incoming: mpsc::UnboundedSender<Result<Bytes, Infallible>>,
    /// Relays the core's lines to the UI's channel.
    relay: JoinHandle<()>,
}

impl Session {
    /// Ends the session: dropping `incoming` ends the core's side, aborting
    /// the relay stops messages to the UI.
    fn close(self) {
        self.relay.abort();
    }
}

impl Sessions {
    /// Starts a sync session for `id`, replacing (and ending) any earlier one
    /// for the same document; the core's lines go to `deliver` (an error
    /// there ends the session). Must run inside a Tokio runtime.
    pub fn open(
        self: &Arc<Self>,
        service: &Service,
        id: DocId,
        mut deliver: impl FnMut(String) -> Result<(), String> + Send + 'static,
    ) -> Result<Handle, ServiceError> {
        let (incoming, rx) = mpsc::unbounded_channel();
        // The app's own UI takes ephemeral messages (presence, cursors).
        let mut outgoing = service.attach_peer_as(
            &id,
            UnboundedReceiverStream::new(rx),
            crate::link::PeerRights::default(),
            UiPeer {
                peer: "app".into(),
                user: None,
                ephemeral: true,
            },
        )?;
        let handle = self.last_handle.fetch_add(1, Ordering::Relaxed) + 1;
        let sessions: Weak<Self> = Arc::downgrade(self);
        let doc = id.clone();
        let relay = tokio::spawn(async move {
            while let Some(line) = outgoing.recv().await {
                let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
                if let Err(e) = deliver(text.into_owned()) {
                    tracing::warn!(doc = %doc, error = %e, "cannot reach the UI's channel");
                    break;
                }
            }
            tracing::debug!(doc = %doc, handle, "sync session ended");
            if let Some(sessions) = sessions.upgrade() {
                sessions.close(&doc, Some(handle));
            }
        });
        let session = Session {
            handle,
            incoming,
            relay,
        };
        if let Some(old) = self.lock().insert(id, session) {
            old.close();
        }
        Ok(handle)
    }

    /// Feeds one of the UI's protocol lines into the session of `id`.
    pub fn send(&self, id: &DocId, line: String) -> Result<(), NotOpen> {
        let mut bytes = line.into_bytes();
        if bytes.last() != Some(&b'\n') {
            bytes.push(b'\n');
        }
        let mut open = self.lock();
        let sent = match open.get(id) {
            Some(session) => session.incoming.send(Ok(Bytes::from(bytes))).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The core ended the session (or it was never opened): forget it.
        if let Some(session) = open.remove(id) {
            session.close();
        }
        Err(NotOpen(id.clone()))
    }

    /// Ends the session of `id` (only if it is `handle`, when given);
    /// `false` if there was none.
    pub fn close(&self, id: &DocId, handle: Option<Handle>) -> bool {
        let mut open = self.lock();
        match open.get(id) {
            Some(session) if handle.is_none_or(|h| h == session.handle) => {
                if let Some(session) = open.remove(id) {
                    session.close();
                }
                true
            }
            _ => false,
        }
    }

    /// Ends every session (at shutdown).
    pub fn close_all(&self) {
        for (_, session) in self.lock().drain() {
            session.close();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<DocId, Session>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc::UnboundedReceiver;

    use super::*;
    use crate::hub::Hub;
    use crate::store::MemoryStore;

    type Deliver = Box<dyn FnMut(String) -> Result<(), String> + Send>;

    /// A delivery function whose lines land in a receiver.
    fn channel() -> (Deliver, UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let deliver: Deliver = Box::new(move |line| tx.send(line).map_err(|e| e.to_string()));
        (deliver, rx)
    }

    async fn next(rx: &mut UnboundedReceiver<String>) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no message within 5 s")
    }

    #[tokio::test]
    async fn sessions_open_relay_replace_and_close_by_handle() {
        let service = Service::start(Hub::new(Arc::new(MemoryStore::new())));
        let id = service.create_doc("note").expect("create");
        let sessions = Arc::new(Sessions::default());

        let (first, mut first_rx) = channel();
        let h1 = sessions.open(&service, id.clone(), first).expect("open");
        // First the document's heads as it opened, then the sync protocol.
        let ready = next(&mut first_rx).await.expect("a first line");
        assert!(ready.starts_with(r#"{"event":"ready""#), "{ready}");
        let greeting = next(&mut first_rx).await.expect("a second line");
        assert!(greeting.starts_with(r#"{"event":"sync""#), "{greeting}");
        assert!(!greeting.ends_with('\n'));
        sessions
            .send(&id, r#"{"event":"ping"}"#.into())
            .expect("send");

        // Re-opening replaces the first session: its channel is dropped.
        let (second, mut second_rx) = channel();
        let h2 = sessions.open(&service, id.clone(), second).expect("reopen");
        assert_ne!(h1, h2);
        while next(&mut first_rx).await.is_some() {}
        assert!(next(&mut second_rx).await.is_some());

        // A late close of the first session leaves the second alone.
        assert!(!sessions.close(&id, Some(h1)));
        sessions
            .send(&id, r#"{"event":"ping"}"#.into())
            .expect("still open");
        assert!(sessions.close(&id, Some(h2)));
        while next(&mut second_rx).await.is_some() {}
        let err = sessions.send(&id, "{}".into()).expect_err("closed");
        assert_eq!(err, NotOpen(id.clone()));
        assert!(!sessions.close(&id, None));
        service.shutdown().await;
    }
}
