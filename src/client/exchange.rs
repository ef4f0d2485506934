//! One open sync stream, from the client's side: apply the server's lines,
//! send what the server needs whenever the local document moves, and stop
//! when the termination check passes, the stream stalls, or on cancel.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::http::Opened;
use super::status::ConnectionStatus;
use super::{short_heads, ClientConfig, ClientError};
use crate::hub::{apply_sync, Document};
use crate::protocol::{Event, EventReader, Pacer, ReadError, SyncSession, Until};

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
        let Opened { response, body } = opened;
        let mut reader = EventReader::new(Box::pin(response.bytes_stream()), self.config.max_line);
        let mut changes = self.doc.subscribe();
        let never = Duration::from_secs(365 * 24 * 3600);
        let stall_timer = tokio::time::sleep(stall_after.unwrap_or(never));
        tokio::pin!(stall_timer);
        let reset_stall = |timer: std::pin::Pin<&mut tokio::time::Sleep>| {
            timer.reset(Instant::now() + stall_after.unwrap_or(never));
        };
        let cancelled = async {
            match live {
                Some((cancel, _)) => cancel.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(cancelled);
        let mut pacer = Pacer::default();
        let pace = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(pace);
        loop {
            changes.borrow_and_update();
            // Equal heads satisfy either check; looking first saves a last
            // message (a Bloom filter of the whole history) after a cold sync.
            if until.is_some()
                && self.doc.with_session(&mut self.session, |doc, s| {
                    s.is_satisfied(doc, Until::HeadsEqual)
                })
            {
                return ExchangeEnd::Satisfied;
            }
            let now = Instant::now();
            let paced = !pacer.may_send(now);
            if paced {
                pace.as_mut().reset(pacer.deadline());
            } else {
                let lines = match self.doc.pending_lines(&mut self.session) {
                    Ok(lines) => lines,
                    Err(source) => {
                        return ExchangeEnd::Failed(ClientError::Unsendable {
                            url: self.url.to_string(),
                            source,
                        })
                    }
                };
                let sent = !lines.is_empty();
                for line in lines {
                    if body.send(line).await.is_err() {
                        return self.fail_transport("the request body was closed".into());
                    }
                }
                if sent {
                    pacer.sent(now);
                    reset_stall(stall_timer.as_mut());
                }
            }
            let (satisfied, in_sync) = self.doc.with_session(&mut self.session, |doc, s| {
                (
                    until.is_some_and(|u| s.is_satisfied(doc, u)),
                    s.is_satisfied(doc, Until::HeadsEqual),
                )
            });
            if satisfied {
                return ExchangeEnd::Satisfied;
            }
            if let Some((_, status)) = live {
                if self.was_live {
                    status.send_if_modified(|s| {
                        let next = ConnectionStatus::Live { in_sync };
                        let changed = *s != next;
                        *s = next;
                        changed
                    });
                }
            }
            tokio::select! {
                _ = &mut cancelled => return ExchangeEnd::Cancelled,
                event = reader.next_event() => {
                    reset_stall(stall_timer.as_mut());
                    match event {
                        Ok(Some(Event::Sync(bytes))) => {
                            self.was_live = true;
                            let mut batch = vec![bytes];
                            let tail = reader.drain_buffered(&mut batch, MAX_BATCH);
                            if let Err(reason) = apply_sync(self.doc, &mut self.session, batch).await {
                                return ExchangeEnd::Failed(ClientError::Protocol { url: self.url.to_string(), reason: reason.to_string() });
                            }
                            pacer.received();
                            if let Err(e) = tail {
                                return ExchangeEnd::Failed(ClientError::Protocol { url: self.url.to_string(), reason: e.to_string() });
                            }
                        }
                        Ok(Some(Event::Error(message))) => {
                            return ExchangeEnd::Failed(ClientError::Remote { url: self.url.to_string(), message });
                        }
                        Ok(Some(Event::Ping | Event::Other(_))) => {}
                        Ok(None) => return ExchangeEnd::Closed,
                        Err(ReadError::Transport(reason)) => return self.fail_transport(reason),
                        Err(e @ (ReadError::Line(_) | ReadError::Busy { .. } | ReadError::Stalled(_))) => {
                            return ExchangeEnd::Failed(ClientError::Protocol { url: self.url.to_string(), reason: e.to_string() });
                        }
                    }
                }
                changed = changes.changed() => {
                    if changed.is_err() || self.doc.is_deleted() {
                        return self.fail_transport("the local document was closed".into());
                    }
                }
                _ = &mut pace, if paced => {}
                _ = &mut stall_timer => {
                    let their_heads = self.session.their_heads().map(short_heads).unwrap_or_else(|| "none yet".into());
                    return ExchangeEnd::Stalled { their_heads };
                }
            }
        }
    }
}
