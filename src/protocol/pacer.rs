//! Keeps a connection from flooding its peer while a document changes fast.
//!
//! Automerge answers every message whose heads differ, so a connection that
//! sent a message on every change of a busy document would make the two
//! sides ping-pong continuously, each message paying for the whole history.
//! The pacer allows one message in flight: the next goes out when the peer
//! answers, or after a short window if it is slow — so an idle connection
//! still sends at once, and a burst of changes travels in a few messages.

use std::time::Duration;

use tokio::time::Instant;

/// How long to wait for the peer's answer before sending again anyway.
pub const PACE_WINDOW: Duration = Duration::from_millis(5);

/// One message in flight per connection, with a time-out.
#[derive(Debug, Clone)]
pub struct Pacer {
    awaiting_reply: bool,
    sent_at: Instant,
    window: Duration,
}

impl Pacer {
    /// A pacer with the given window.
    pub fn new(window: Duration) -> Self {
        Self {
            awaiting_reply: false,
            sent_at: Instant::now(),
            window,
        }
    }

    /// Whether a message may go out at `now`.
    pub fn may_send(&self, now: Instant) -> bool {
        !self.awaiting_reply || now >= self.deadline()
    }

    /// When sending is allowed again if the peer stays silent.
    pub fn deadline(&self) -> Instant {
        self.sent_at + self.window
    }

    /// Records that a message went out at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.awaiting_reply = true;
        self.sent_at = now;
    }

    /// Records that the peer answered.
    pub fn received(&mut self) {
        self.awaiting_reply = false;
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(PACE_WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_in_flight_until_an_answer_or_the_window() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_millis(5));
        assert!(p.may_send(t0), "an idle connection sends at once");
        p.sent(t0);
        assert!(!p.may_send(t0 + Duration::from_millis(1)));
        assert!(
            p.may_send(t0 + Duration::from_millis(5)),
            "a slow peer does not block forever"
        );
        p.received();
        assert!(
            p.may_send(t0 + Duration::from_millis(1)),
            "an answer frees the slot"
        );
    }
}
