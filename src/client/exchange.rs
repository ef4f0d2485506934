//! One open sync stream, from the client's side: apply the server's lines,
//! send what the server needs whenever the local document moves, and stop
//! when the termination check passes, the stream stalls, or on cancel.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::http::Opened;
use super::status::ConnectionStatus;
use super::{short_heads, ClientConfig, ClientError};
use crate::hub::ephemeral::Farewell;
use crate::hub::Document;
use crate::link::{Ending, EphemeralPort, Input, Link, Output, Role, Side};
use crate::protocol::{
    compress, Event, EventReader, Inflate, ReadError, SyncSession, Until, EPHEMERAL_FEATURE,
};

/// The most buffered lines applied as one write.
const MAX_BATCH: usize = 256;

/// How an exchange ended.
pub(crate) enum ExchangeEnd {
    /// The termination check passed.
    Satisfied,
    /// Nothing arrived for the stall interval and the check had not passed.
    Stalled {
        /// The server's last advertised heads, short.
        their_heads: String,
    },
    /// The server ended the stream.
    Closed,
    /// Something went wrong.
    Failed(ClientError),
    /// Cancelled by the caller.
    Cancelled,
}

/// The client side of one stream.
pub(crate) struct Exchange<'a> {
    config: &'a ClientConfig,
    doc: &'a Arc<Document>,
    session: SyncSession,
    url: Url,
    was_live: bool,
}

/// Live-mode hooks: cancellation and status reporting.
pub(crate) type LiveHooks<'a> = (&'a CancellationToken, &'a watch::Sender<ConnectionStatus>);

/// Resolves when a live exchange is cancelled; never for a one-shot one.
pub(crate) async fn cancelled(live: Option<LiveHooks<'_>>) {
    match live {
        Some((cancel, _)) => cancel.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Reports a live connection's in-sync state (only when it changed).
pub(crate) fn report_live(live: Option<LiveHooks<'_>>, in_sync: bool) {
    if let Some((_, status)) = live {
        status.send_if_modified(|s| {
            let next = ConnectionStatus::Live { in_sync };
            let changed = *s != next;
            *s = next;
            changed
        });
    }
}

impl<'a> Exchange<'a> {
    pub(crate) fn new(
        config: &'a ClientConfig,
        doc: &'a Arc<Document>,
        session: SyncSession,
        url: Url,
    ) -> Self {
        Self {
            config,
            doc,
            session,
            url,
            was_live: false,
        }
    }

    /// The sync state, for saving.
    pub(crate) fn session(&self) -> &SyncSession {
        &self.session
    }

    /// Whether at least one message came through (the connection worked).
    pub(crate) fn was_live(&self) -> bool {
        self.was_live
    }

    fn fail_transport(&self, reason: String) -> ExchangeEnd {
        ExchangeEnd::Failed(ClientError::Transport {
            url: self.url.to_string(),
            reason,
        })
    }

    pub(crate) async fn run(
        &mut self,
        opened: Opened,
        until: Option<Until>,
        stall_after: Option<Duration>,
        live: Option<LiveHooks<'_>>,
    ) -> ExchangeEnd {
        let now = tokio::time::Instant::now().into_std();
        let session = std::mem::take(&mut self.session);
        let mut link = Link::new(Role::Client { until, stall_after }, session, now);
        let end = self.drive(&mut link, opened, live).await;
        self.was_live |= link.heard_from();
        self.session = link.into_session();
        end
    }

    /// The driver: moves lines between the stream and the link, and waits.
    async fn drive(
        &mut self,
        link: &mut Link,
        opened: Opened,
        live: Option<LiveHooks<'_>>,
    ) -> ExchangeEnd {
        let Opened {
            response,
            body,
            encoding,
        } = opened;
        // Ephemeral lines only where the server said it carries them.
        let echoed = response
            .headers()
            .get_all(compress::FEATURES_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| compress::names_feature(v, EPHEMERAL_FEATURE));
        let mut port = (self.config.ephemeral && echoed).then(|| {
            let now = tokio::time::Instant::now().into_std();
            let source = crate::hub::ephemeral::next_source();
            let id = crate::hub::connections::new_connection_id();
            EphemeralPort::new(Side::Client, source, &id, None, now)
        });
        let mut bus = port.as_ref().map(|_| self.doc.subscribe_ephemeral());
        // When the link ends, so do the presence sessions behind the server.
        let _farewell = port
            .as_ref()
            .map(|p| Farewell::new(self.doc.clone(), p.id(), p.source()));
        let inflated = Inflate::new(
            Box::pin(response.bytes_stream()),
            encoding,
            self.config.max_line,
        );
        let mut reader = EventReader::new(inflated, self.config.max_line);
        let mut changes = self.doc.subscribe();
        changes.borrow_and_update();
        let cancelled = cancelled(live);
        tokio::pin!(cancelled);
        let mut input = Input::Poll;
        loop {
            let outputs = link.handle_now(input, self.doc).await;
            self.was_live |= link.heard_from();
            for output in outputs {
                match output {
                    Output::Send(lines) => {
                        for line in lines {
                            if let Some(progress) = &self.config.progress {
                                progress.sent(line.len());
                            }
                            if body.send(line).await.is_err() {
                                return self.fail_transport("the request body was closed".into());
                            }
                        }
                    }
                    Output::Live { in_sync } => report_live(live, in_sync),
                    Output::End(ending) => return self.ended(ending, link),
                }
            }
            let deadline = link.deadline().map(tokio::time::Instant::from_std);
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(timer);
            // Ephemeral messages go around the link: wait again after one.
            input = loop {
                break tokio::select! {
                    _ = &mut cancelled => return ExchangeEnd::Cancelled,
                    message = crate::hub::ephemeral::next(&mut bus) => {
                        match (message, &port) {
                            (Some(message), Some(port)) => {
                                if let Some(line) = port.outbound(&message) {
                                    // A server that stays behind loses it rather
                                    // than holding up the sync.
                                    let wait = crate::link::EPHEMERAL_WAIT;
                                    if let Ok(Err(_)) = tokio::time::timeout(wait, body.send(line)).await {
                                        return self.fail_transport("the request body was closed".into());
                                    }
                                }
                            }
                            _ => bus = None,
                        }
                        continue;
                    }
                    event = reader.next_event() => match event {
                        Ok(Some(Event::Sync(bytes))) => {
                            let mut batch = vec![bytes];
                            let drained = reader.drain_buffered(&mut batch, MAX_BATCH);
                            if let Some(progress) = &self.config.progress {
                                batch.iter().for_each(|m| progress.received(m.len()));
                            }
                            match drained {
                                Ok(()) => Input::Received(batch),
                                Err(e) => {
                                    // The good lines before the bad one are kept.
                                    let outputs = link.handle_now(Input::Received(batch), self.doc).await;
                                    if let Some(Output::End(ending)) = outputs.into_iter().find(|o| matches!(o, Output::End(_))) {
                                        return self.ended(ending, link);
                                    }
                                    Input::Malformed(e.to_string())
                                }
                            }
                        }
                        Ok(Some(Event::Error(message))) => Input::PeerError(message),
                        Ok(Some(Event::Ephemeral(line))) => {
                            if let Some(port) = &mut port {
                                let now = tokio::time::Instant::now().into_std();
                                match port.inbound(now, line) {
                                    Ok(message) => { self.doc.publish_ephemeral(message); }
                                    Err(refused) => tracing::debug!(%refused, "ephemeral message from the server dropped"),
                                }
                            }
                            continue;
                        }
                        Ok(Some(Event::BadEphemeral(reason))) => {
                            tracing::debug!(%reason, "bad ephemeral line from the server dropped");
                            continue;
                        }
                        Ok(Some(Event::Ping | Event::Other(_))) => Input::Poll,
                        Ok(None) => Input::PeerEnded,
                        Err(ReadError::Transport(reason)) => return self.fail_transport(reason),
                        Err(e) => Input::Malformed(e.to_string()),
                    },
                    changed = changes.changed() => {
                        changes.borrow_and_update();
                        if changed.is_err() {
                            return self.fail_transport("the local document was closed".into());
                        }
                        Input::DocChanged
                    }
                    _ = &mut timer => Input::Timer,
                };
            };
        }
    }

    /// What the caller hears of a link's ending.
    fn ended(&self, ending: Ending, link: &Link) -> ExchangeEnd {
        let url = self.url.to_string();
        match ending {
            Ending::Satisfied => ExchangeEnd::Satisfied,
            Ending::Stalled => ExchangeEnd::Stalled {
                their_heads: link
                    .session()
                    .their_heads()
                    .map(short_heads)
                    .unwrap_or_else(|| "none yet".into()),
            },
            Ending::PeerClosed | Ending::Complete => ExchangeEnd::Closed,
            Ending::PeerError(message) => ExchangeEnd::Failed(ClientError::Remote { url, message }),
            Ending::Error(reason) => ExchangeEnd::Failed(ClientError::Protocol { url, reason }),
            Ending::Failed(reason) => ExchangeEnd::Failed(ClientError::Protocol { url, reason }),
            Ending::Unsendable(source) => {
                ExchangeEnd::Failed(ClientError::Unsendable { url, source })
            }
        }
    }
}
