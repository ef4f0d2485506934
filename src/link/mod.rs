//! One sync link between a local [`Document`] and one peer, as a state
//! machine without I/O: [`Link::handle`] takes what happened (lines arrived,
//! the document moved, the peer's body ended, a deadline passed, access
//! changed) and the current time, and returns what to do (lines to send, a
//! status to show, the end of the link). [`Link::deadline`] says when it
//! wants to be called again.
//!
//! The same link runs every connection Tandem has — the server side of a
//! sync stream, the client side, and the UI's WebSocket peers — each driven
//! by a thin async loop that only moves bytes and waits ([`Connection`] for
//! server streams and UI peers, `client::exchange` for the client). What the link decides:
//!
//! - **Pacing**: one message in flight; the next goes out when the peer
//!   answers or after a short window. An idle link answers at once; a busy
//!   document travels in few messages, each carrying everything the peer lacks,
//!   and what a burst left goes out as soon as the document is quiet.
//! - **Pings** on an idle server stream, so proxies keep it open.
//! - **The idle log**: once the document has been still for
//!   [`IDLE_LOG_AFTER`], its log of recent changes shrinks to what peers in
//!   step need.
//! - **Termination** of a one-shot client (`heads-equal`/`has-remote-heads`),
//!   a **stall** (no line for a while although the check has not passed),
//!   and `?follow=false` on the server.
//! - **Rights**: a read-only peer's changes are refused; a link whose access
//!   was withdrawn or whose document was deleted ends with an error line.
//!
//! Ephemeral messages (the `ephemeral` extension) bypass the link: each
//! driver relays them through an [`EphemeralPort`] (limits, naming) and the
//! document's bus.
//!
//! Scenario tests drive it with a fake clock (`tests/link.rs`).
//!
//! Over 500 lines on purpose: one state machine, whose transitions read best side by side.

pub mod ephemeral;
mod serve;

pub use ephemeral::{EphemeralPort, Side};
pub use serve::{AccessCheck, Connection, PeerRights, Stopped, EPHEMERAL_WAIT};

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::hub::{Document, SyncError};
use crate::protocol::line::{encode_error, encode_ping};
use crate::protocol::{SyncSession, Until};

/// How long to wait for the peer's answer before sending again anyway.
pub const PACE_WINDOW: Duration = Duration::from_millis(5);

/// How long a server-side peer may stay behind — holding none of the
/// changes we sent it since, and advertising no new heads — before the link
/// drops it (it reconnects and resyncs). A peer that makes progress (a cold
/// sync applying batch after batch) is never dropped.
pub const LAG_LIMIT: Duration = Duration::from_secs(60);

/// While the peer is not in step with the document (a burst: both sides
/// keep getting changes) a link sends at most once per gap; the gap starts
/// at [`MIN_BURST_GAP`] and doubles with each message of the burst, up to
/// this many pacing windows.
pub const MAX_BURST_GAP_WINDOWS: u32 = 4;

/// The first gap of a burst: a short burst (ten editors, ten changes each)
/// is over in a few of these, while a long one soon reaches the longest gap.
pub const MIN_BURST_GAP: Duration = Duration::from_millis(1);

/// A burst is over once the document has not moved for this long: a link
/// holding back for its burst gap then sends at once instead of waiting out
/// the gap (by the end of a burst the longest one), so the last changes of
/// a burst are not late by a whole gap. Longer than the document's own
/// wake-up window ([`crate::hub::BURST_WINDOW`]): within a burst the link hears of
/// the document's moves only once per window, and a shorter quiet would end
/// every burst between two wake-ups (measured: 10 × 100 slower).
pub const BURST_QUIET: Duration = crate::hub::BURST_WINDOW.saturating_add(Duration::from_millis(1));

/// A document that has not moved for this long lets its log of recent
/// changes shrink to [`IDLE_LOG_KEEP`] changes (the places of peers in step
/// stay; a peer that is further behind is served by automerge's own sync).
pub const IDLE_LOG_AFTER: Duration = Duration::from_secs(30);

/// How many of the newest changes an idle document keeps in its log.
pub const IDLE_LOG_KEEP: usize = 64;

/// Which end of a connection the link is, and what ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The server side of a sync stream (or a UI peer).
    Server {
        /// Keep streaming after the peer's body ended (`?follow=true`).
        follow: bool,
        /// Idle time before a `{"event":"ping"}` line.
        ping_interval: Duration,
    },
    /// The client side.
    Client {
        /// One-shot: end when this check passes; `None` stays live.
        until: Option<Until>,
        /// One-shot: end as stalled when no line came for this long.
        stall_after: Option<Duration>,
    },
}

/// Something that happened to the link.
#[derive(Debug)]
pub enum Input {
    /// Nothing in particular: re-evaluate (also the first call).
    Poll,
    /// Sync payloads that arrived together (decoded lines, in order).
    Received(Vec<Vec<u8>>),
    /// The peer reported an error and is about to end its stream.
    PeerError(String),
    /// The peer's stream could not be read (a malformed or oversized line).
    Malformed(String),
    /// The peer's stream (request or response body) ended cleanly.
    PeerEnded,
    /// The document moved (a change from anywhere).
    DocChanged,
    /// The deadline returned by [`Link::deadline`] passed.
    Timer,
    /// The peer's rights were re-checked: `false` when they are gone.
    Access(bool),
}

/// What the driver should do.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// Write these encoded lines to the peer, in order.
    Send(Vec<Bytes>),
    /// (Client) the connection is live; whether both sides hold the same heads.
    Live {
        /// Whether the peer's heads equal ours.
        in_sync: bool,
    },
    /// Stop: the link is over (any `Send` before it still goes out).
    End(Ending),
}

/// Why a link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Server: the peer's body ended and nothing was left to send (`?follow=false`).
    Complete,
    /// Client: the termination check passed.
    Satisfied,
    /// Client: nothing arrived for the stall interval and the check had not passed.
    Stalled,
    /// The peer ended its stream.
    PeerClosed,
    /// The peer sent an error line.
    PeerError(String),
    /// A bad line, a refused message, a deleted document or withdrawn access;
    /// on the server side an error line with this text was sent.
    Error(String),
    /// A change cannot be cut into lines this peer can read (a peer with
    /// short lines, like the Go library); on the server side an error line
    /// says so.
    Unsendable(crate::protocol::SplitError),
    /// The document could not take a change (deleted, disk full, …); on the
    /// server side an error line with this text was sent.
    Failed(String),
}

/// The refusal a read-only peer gets when it sends changes.
pub const READ_ONLY_REFUSAL: &str =
    "this connection may only read (its token has the read role): changes were refused";

/// One sync link (see the module docs).
#[derive(Debug)]
pub struct Link {
    role: Role,
    session: SyncSession,
    read_only: bool,
    /// A message is out and no answer came yet.
    awaiting_reply: bool,
    /// Something may be worth sending but pacing held it back: wake up when
    /// the window ends.
    held_back: bool,
    /// When the last message (or ping) went out, or the link started.
    last_sent: Instant,
    /// The least time between two messages while the peer is out of step;
    /// zero once it is in step.
    burst_gap: Duration,
    /// The peer's last message showed it held exactly our heads: the next
    /// change goes out at once.
    in_step: bool,
    /// The document's heads when this link last looked, and whether
    /// something else (another peer, a local edit) changed the document
    /// since this link last sent: together with a peer out of step, that is
    /// a burst, and messages are paced by the burst gap.
    seen_heads: Option<Vec<automerge::ChangeHash>>,
    others_changed: bool,
    /// When this link last saw the document move (see [`BURST_QUIET`]).
    moved_at: Instant,
    /// The document's log was trimmed since it last moved (see
    /// [`IDLE_LOG_AFTER`]).
    log_trimmed: bool,
    /// When the last line came in.
    last_heard: Instant,
    /// The peer has sent at least one sync message.
    heard_from: bool,
    /// Since when the peer has not acknowledged what we sent it, and the
    /// heads it advertised then (progress resets the clock).
    behind: Option<(Instant, Vec<automerge::ChangeHash>)>,
    lag_limit: Duration,
    peer_ended: bool,
    window: Duration,
    ended: bool,
    /// Send bare sync messages instead of ndjson lines (no pings, no error
    /// lines: the driver frames and reports them).
    raw: bool,
}

impl Link {
    /// A link in `role`, starting at `now` with `session` (fresh, or resumed
    /// from a saved sync state).
    pub fn new(role: Role, session: SyncSession, now: Instant) -> Self {
        Self {
            role,
            session,
            read_only: false,
            awaiting_reply: false,
            held_back: false,
            last_sent: now,
            burst_gap: Duration::ZERO,
            in_step: false,
            seen_heads: None,
            others_changed: false,
            moved_at: now,
            log_trimmed: false,
            last_heard: now,
            heard_from: false,
            behind: None,
            lag_limit: LAG_LIMIT,
            peer_ended: false,
            window: PACE_WINDOW,
            ended: false,
            raw: false,
        }
    }

    /// Makes [`Output::Send`] carry bare encoded sync messages instead of
    /// ndjson lines, for a transport that frames messages itself
    /// (automerge-repo's WebSocket). Such a link sends no pings and no error
    /// lines: its driver keeps the connection alive and reports endings in
    /// its own protocol.
    pub fn raw_payloads(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }

    /// The peer may read but not change the document.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Changes the pacing window (tests; the default is [`PACE_WINDOW`]).
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Changes how long a peer may stay behind (tests; the default is
    /// [`LAG_LIMIT`]).
    pub fn with_lag_limit(mut self, limit: Duration) -> Self {
        self.lag_limit = limit;
        self
    }

    /// The sync state (to save it for the next connection).
    pub fn session(&self) -> &SyncSession {
        &self.session
    }

    /// Whether the peer has sent at least one sync message.
    pub fn heard_from(&self) -> bool {
        self.heard_from
    }

    /// Whether a big input should be handled off the async runtime.
    pub fn is_big(input: &Input) -> bool {
        matches!(input, Input::Received(p) if p.iter().map(Vec::len).sum::<usize>() >= BIG_INPUT)
    }

    /// When the link wants [`Input::Timer`], if at all.
    pub fn deadline(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.held_back {
            // Held back by the pacing window (awaiting an answer) and/or the burst gap.
            if self.awaiting_reply {
                consider(self.last_sent + self.window.max(self.burst_gap));
            } else {
                consider((self.last_sent + self.burst_gap).min(self.moved_at + BURST_QUIET));
            }
        }
        if let (Role::Server { .. }, Some((since, _))) = (self.role, &self.behind) {
            consider(*since + self.lag_limit);
        }
        if !self.log_trimmed {
            consider(self.moved_at + IDLE_LOG_AFTER);
        }
        match self.role {
            Role::Server { .. } if self.raw => {}
            Role::Server { ping_interval, .. } => consider(self.last_sent + ping_interval),
            Role::Client {
                stall_after: Some(stall),
                ..
            } => consider(self.last_heard.max(self.last_sent) + stall),
            Role::Client { .. } => {}
        }
        next
    }

    /// Handles one input at `now` against `doc`; returns what to do.
    pub fn handle(&mut self, now: Instant, input: Input, doc: &Document) -> Vec<Output> {
        let out = Vec::new();
        if self.ended {
            return out;
        }
        let heads = doc.heads();
        if self.seen_heads.as_ref().is_some_and(|seen| *seen != heads) {
            self.others_changed = true;
            self.moved_at = now;
            self.log_trimmed = false;
        }
        let out = self.decide(now, input, doc, out);
        self.seen_heads = Some(doc.heads());
        out
    }

    /// [`Link::handle`] once the document's heads were looked at.
    fn decide(
        &mut self,
        now: Instant,
        input: Input,
        doc: &Document,
        mut out: Vec<Output>,
    ) -> Vec<Output> {
        if let Some(ending) = self.take_input(now, input, doc) {
            return self.end(ending, out);
        }
        if doc.is_deleted() {
            let reason = format!("document {} was deleted", doc.id());
            return self.end(Ending::Error(reason), out);
        }
        // A one-shot client is done as soon as the heads are equal: looking
        // first saves a last message (a Bloom filter of the whole history).
        if self.satisfied(doc, Until::HeadsEqual) && self.until().is_some() {
            return self.end(Ending::Satisfied, out);
        }
        // In a burst — the peer out of step while others keep changing the
        // document — one message per gap carries everything the peer lacks.
        // A link whose peer was in step answers at once, and so does one
        // that only trades with its own peer (a cold sync).
        let most = self.window * MAX_BURST_GAP_WINDOWS;
        if self.in_step || now >= self.last_sent + most * 2 {
            self.burst_gap = Duration::ZERO;
        }
        let bursting = !self.in_step && self.others_changed;
        // A burst that went quiet is over: what it left goes out at once.
        let quiet = now >= self.moved_at + BURST_QUIET;
        let coalescing = bursting && now < self.last_sent + self.burst_gap && !quiet;
        let may_send = (!self.awaiting_reply || now >= self.last_sent + self.window) && !coalescing;
        let finishing = self.peer_ended && matches!(self.role, Role::Server { follow: false, .. });
        self.held_back = !(may_send || finishing);
        if !self.held_back {
            let lines = if self.raw {
                doc.pending_messages(&mut self.session)
            } else {
                match doc.pending_lines(&mut self.session) {
                    Ok(lines) => lines,
                    Err(e) => return self.end(Ending::Unsendable(e), out),
                }
            };
            if !lines.is_empty() {
                self.awaiting_reply = true;
                self.last_sent = now;
                if bursting {
                    let least = MIN_BURST_GAP.min(self.window);
                    self.burst_gap = (self.burst_gap * 2).clamp(least, most);
                }
                self.in_step = false;
                self.others_changed = false;
                out.push(Output::Send(lines));
            }
        }
        if let Some(ending) = self.check_lag(now) {
            return self.end(ending, out);
        }
        if !self.log_trimmed && now >= self.moved_at + IDLE_LOG_AFTER {
            doc.trim_recent_changes(IDLE_LOG_KEEP);
            self.log_trimmed = true;
        }
        if let Some(until) = self.until() {
            if self.satisfied(doc, until) {
                return self.end(Ending::Satisfied, out);
            }
        }
        match self.role {
            Role::Server { .. } if finishing => return self.end(Ending::Complete, out),
            Role::Server { ping_interval, .. }
                if !self.raw && now >= self.last_sent + ping_interval =>
            {
                self.last_sent = now;
                out.push(Output::Send(vec![encode_ping()]));
            }
            Role::Client {
                stall_after: Some(stall),
                ..
            } if now >= self.last_heard.max(self.last_sent) + stall => {
                return self.end(Ending::Stalled, out);
            }
            Role::Client { .. } if self.heard_from => {
                let in_sync = self.satisfied(doc, Until::HeadsEqual);
                out.push(Output::Live { in_sync });
            }
            _ => {}
        }
        out
    }

    /// Applies an input's effect; `Some` when it ends the link.
    fn take_input(&mut self, now: Instant, input: Input, doc: &Document) -> Option<Ending> {
        match input {
            Input::Poll | Input::DocChanged | Input::Timer => None,
            Input::Access(true) => None,
            Input::Malformed(reason) => Some(Ending::Error(reason)),
            Input::Access(false) => Some(Ending::Error(format!(
                "access to document {} was withdrawn by its owner",
                doc.id()
            ))),
            Input::PeerEnded => match self.role {
                Role::Server { .. } => {
                    self.peer_ended = true;
                    None
                }
                Role::Client { .. } => Some(Ending::PeerClosed),
            },
            Input::PeerError(message) => match self.role {
                Role::Server { .. } => {
                    tracing::info!(doc = %doc.id(), %message, "peer reported an error");
                    None
                }
                Role::Client { .. } => Some(Ending::PeerError(message)),
            },
            Input::Received(payloads) => {
                self.last_heard = now;
                if self.read_only && payloads.iter().any(|p| crate::protocol::carries_changes(p)) {
                    return Some(Ending::Error(READ_ONLY_REFUSAL.into()));
                }
                self.heard_from = true;
                self.awaiting_reply = false;
                match doc.apply_payloads(&mut self.session, payloads) {
                    Ok(_) => {
                        self.in_step = self.satisfied(doc, Until::HeadsEqual);
                        None
                    }
                    Err(e @ (SyncError::Invalid(_) | SyncError::Rejected(_))) => {
                        Some(Ending::Error(e.to_string()))
                    }
                    Err(e) => Some(Ending::Failed(e.to_string())),
                }
            }
        }
    }

    /// Server side: tracks whether the peer keeps lagging behind what we
    /// sent it; `Some` once it did for longer than the lag limit.
    fn check_lag(&mut self, now: Instant) -> Option<Ending> {
        if !matches!(self.role, Role::Server { .. }) {
            return None;
        }
        if self.session.unacknowledged() == 0 {
            self.behind = None;
            return None;
        }
        let heads = self.session.their_heads().unwrap_or_default().to_vec();
        match &self.behind {
            Some((since, at)) if *at == heads => {
                let lagged = now.saturating_duration_since(*since);
                (lagged >= self.lag_limit).then(|| {
                    Ending::Error(format!(
                        "this peer stayed behind for {} s without taking the changes sent to it \
                         ({} unacknowledged); dropped so the server's memory stays bounded: \
                         reconnect to sync again",
                        lagged.as_secs(),
                        self.session.unacknowledged()
                    ))
                })
            }
            // Behind now, or it made progress: the clock starts again.
            _ => {
                self.behind = Some((now, heads));
                None
            }
        }
    }

    fn until(&self) -> Option<Until> {
        match self.role {
            Role::Client { until, .. } => until,
            Role::Server { .. } => None,
        }
    }

    fn satisfied(&mut self, doc: &Document, until: Until) -> bool {
        doc.with_session(&mut self.session, |d, s| s.is_satisfied(d, until))
    }

    /// Ends the link: the server side tells its peer why in an error line.
    fn end(&mut self, ending: Ending, mut out: Vec<Output>) -> Vec<Output> {
        self.ended = true;
        if self.raw {
            out.push(Output::End(ending));
            return out;
        }
        if let (Role::Server { .. }, Ending::Error(reason)) = (self.role, &ending) {
            out.push(Output::Send(vec![encode_error(reason)]));
        }
        if let (Role::Server { .. }, Ending::Failed(e)) = (self.role, &ending) {
            out.push(Output::Send(vec![encode_error(e)]));
        }
        if let (Role::Server { .. }, Ending::Unsendable(e)) = (self.role, &ending) {
            out.push(Output::Send(vec![encode_error(&e.to_string())]));
        }
        out.push(Output::End(ending));
        out
    }
}

impl Link {
    /// The sync state, given back when the link is done with it.
    pub fn into_session(self) -> SyncSession {
        self.session
    }

    /// [`Link::handle`] at the runtime's current time, on a blocking thread
    /// when the input is big (a huge first sync must not stall the other
    /// connections of the runtime) or the document is slow to change
    /// ([`Document::is_slow_to_change`]: every step may wait for its lock).
    pub async fn handle_now(
        &mut self,
        input: Input,
        doc: &std::sync::Arc<Document>,
    ) -> Vec<Output> {
        let now = tokio::time::Instant::now().into_std();
        if !Self::is_big(&input) && !doc.is_slow_to_change() {
            return self.handle(now, input, doc);
        }
        let doc = std::sync::Arc::clone(doc);
        let mut link = std::mem::replace(self, Self::placeholder());
        match tokio::task::spawn_blocking(move || {
            let outputs = link.handle(now, input, &doc);
            (link, outputs)
        })
        .await
        {
            Ok((link, outputs)) => {
                *self = link;
                outputs
            }
            Err(e) => {
                self.ended = true;
                vec![Output::End(Ending::Failed(format!(
                    "internal error applying a message: {e}"
                )))]
            }
        }
    }

    /// A link that does nothing, to hold a place while the real one is busy
    /// on another thread.
    pub fn placeholder() -> Self {
        Self::new(
            Role::Client {
                until: None,
                stall_after: None,
            },
            SyncSession::new(),
            Instant::now(),
        )
    }
}

/// Inputs at least this big are applied on a blocking thread by the drivers,
/// so a huge first sync does not stall the runtime's other connections.
pub const BIG_INPUT: usize = 64 * 1024;
