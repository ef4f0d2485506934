//! UI peers: a UI's Automerge peer attached to a document (the browser's
//! WebSocket, the desktop app's channel), listed among the document's
//! connections and, when it asked, given ephemeral messages.

use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use super::{Service, ServiceError};
use crate::doc_id::DocId;
use crate::link::{Connection, PeerRights};
use crate::protocol::{EventReader, SyncSession, DEFAULT_MAX_LINE};

/// Who a UI peer is (see [`Service::attach_peer_as`]).
#[derive(Debug, Clone, Default)]
pub struct UiPeer {
    /// What names it in the list of connections (an address, `ui`).
    pub peer: String,
    /// The user, where known.
    pub user: Option<String>,
    /// It asked for ephemeral messages.
    pub ephemeral: bool,
}

impl Service {
    /// Attaches a UI's Automerge peer to a document: `incoming` carries the
    /// peer's `{"event":…}` lines, the returned channel the document's. The
    /// connection ends when `incoming` ends or the receiver is dropped.
    pub fn attach_peer<S, E>(
        &self,
        id: &DocId,
        incoming: S,
        rights: PeerRights,
    ) -> Result<mpsc::Receiver<Bytes>, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.attach_peer_as(id, incoming, rights, UiPeer::default())
    }

    /// [`Service::attach_peer`] for a peer described by `peer`: listed among
    /// the document's connections, and given ephemeral messages when it
    /// asked for them.
    pub fn attach_peer_as<S, E>(
        &self,
        id: &DocId,
        incoming: S,
        rights: PeerRights,
        peer: UiPeer,
    ) -> Result<mpsc::Receiver<Bytes>, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let doc = self.hub.open(id)?;
        let (tx, rx) = mpsc::channel(64);
        // The first line, before any sync message: an empty document sends none.
        let _ = tx.try_send(crate::protocol::line::encode_ready(&doc.heads()));
        let role = crate::link::Role::Server {
            follow: false,
            ping_interval: Duration::from_secs(15),
        };
        let now = tokio::time::Instant::now().into_std();
        let stats = doc.connections().register(crate::hub::ConnectionMeta {
            peer: peer.peer,
            user: peer.user.clone(),
            protocol: "WebSocket".into(),
        });
        let ephemeral = peer.ephemeral.then(|| {
            let source = crate::hub::ephemeral::next_source();
            crate::link::EphemeralPort::new(
                crate::link::Side::Server,
                source,
                &stats.id,
                peer.user.as_deref(),
                now,
            )
        });
        let counted = stats.clone();
        let incoming = futures_util::StreamExt::inspect(incoming, move |chunk| {
            if let Ok(bytes) = chunk {
                counted.add_in(bytes.len());
            }
        });
        let connection = Connection {
            doc,
            link: crate::link::Link::new(role, SyncSession::new(), now).read_only(rights.read_only),
            out: tx,
            shutdown: self.shutdown.child_token(),
            write_timeout: Duration::from_secs(60),
            access: rights.check,
            ephemeral,
            stats: Some(stats),
        };
        self.tasks.spawn(async move {
            let ending = connection
                .run(EventReader::new(incoming, DEFAULT_MAX_LINE), false)
                .await;
            tracing::debug!(?ending, "UI peer detached");
        });
        Ok(rx)
    }
}
