//! The ephemeral side of one connection, without I/O: what a peer's
//! `ephemeral` line becomes on the document's bus (checked against the size
//! and rate limits, its sender named), and which bus messages go to the
//! peer as lines (docs/protocol-extensions.md, "Ephemeral messages").

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::hub::Ephemeral;
use crate::protocol::line::encode_ephemeral;
use crate::protocol::EphemeralLine;

/// The largest payload relayed, in bytes (decoded).
pub const MAX_EPHEMERAL: usize = 64 * 1024;

/// How many messages one peer may send per second (a burst of as many is
/// allowed); the excess is dropped, not queued.
pub const EPHEMERAL_RATE: u32 = 30;

/// The longest `from` path relayed (it grows by one id per hop, so a message
/// going around a cycle of servers dies out).
pub const MAX_FROM: usize = 256;

/// Why a peer's ephemeral message was not relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The payload is over [`MAX_EPHEMERAL`].
    #[error("ephemeral payload of {size} bytes is over the {limit}-byte limit; dropped")]
    TooBig {
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer sent more than [`EPHEMERAL_RATE`] messages a second.
    #[error("more than {0} ephemeral messages a second; dropped")]
    RateLimited(u32),
    /// The `from` path is over [`MAX_FROM`] (a relay loop, or garbage).
    #[error("ephemeral \"from\" is longer than {0} characters; dropped")]
    FromTooLong(usize),
}

/// How the sender of an incoming message is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The server side: the peer is named by this connection's id, and a
    /// `from` it gives (it forwards someone else's message) is put under it,
    /// so no peer can pass for another. Rate-limited.
    Server,
    /// The client side: the server already named the sender; its `from`
    /// is put under this link's id (so the link's end can say goodbye for
    /// the sessions behind it). Not rate-limited (the server limited each
    /// sender).
    Client,
}

/// One connection's ephemeral port.
#[derive(Debug)]
pub struct EphemeralPort {
    side: Side,
    source: u64,
    id: Arc<str>,
    name: Option<Arc<str>>,
    tokens: f64,
    refilled: Instant,
    rate: u32,
    /// Messages dropped so far (any [`Refused`]).
    pub dropped: u64,
}

impl EphemeralPort {
    /// A port for the connection with local `source` id and opaque `id`,
    /// whose peer is the user `name` (where known), starting at `now`.
    pub fn new(side: Side, source: u64, id: &str, name: Option<&str>, now: Instant) -> Self {
        Self {
            side,
            source,
            id: id.into(),
            name: name.map(Into::into),
            tokens: f64::from(EPHEMERAL_RATE),
            refilled: now,
            rate: EPHEMERAL_RATE,
            dropped: 0,
        }
    }

    /// Changes the rate limit (tests).
    pub fn with_rate(mut self, per_second: u32) -> Self {
        self.rate = per_second;
        self.tokens = f64::from(per_second);
        self
    }

    /// The opaque id it names its peer's messages with.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The local source id its messages are published under.
    pub fn source(&self) -> u64 {
        self.source
    }

    /// What the peer's `line` becomes on the bus, or why it is dropped.
    pub fn inbound(&mut self, now: Instant, line: EphemeralLine) -> Result<Ephemeral, Refused> {
        let result = self.check(now, &line);
        if result.is_err() {
            self.dropped += 1;
        }
        result?;
        let (from, name): (Arc<str>, Option<Arc<str>>) = match (self.side, line.from) {
            (Side::Server, None) => (self.id.clone(), self.name.clone()),
            (_, Some(from)) => (
                format!("{}/{from}", self.id).into(),
                line.name.map(Into::into),
            ),
            (Side::Client, None) => (self.id.clone(), line.name.map(Into::into)),
        };
        if from.len() > MAX_FROM {
            self.dropped += 1;
            return Err(Refused::FromTooLong(MAX_FROM));
        }
        Ok(Ephemeral {
            source: self.source,
            from,
            name,
            data: Bytes::from(line.data),
        })
    }

    fn check(&mut self, now: Instant, line: &EphemeralLine) -> Result<(), Refused> {
        if line.data.len() > MAX_EPHEMERAL {
            return Err(Refused::TooBig {
                size: line.data.len(),
                limit: MAX_EPHEMERAL,
            });
        }
        if self.side == Side::Client {
            return Ok(());
        }
        let rate = f64::from(self.rate);
        let elapsed = now.saturating_duration_since(self.refilled);
        self.refilled = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * rate).min(rate);
        if self.tokens < 1.0 {
            return Err(Refused::RateLimited(self.rate));
        }
        self.tokens -= 1.0;
        Ok(())
    }

    /// The line that carries `message` to the peer; `None` for the peer's
    /// own messages.
    pub fn outbound(&self, message: &Ephemeral) -> Option<Bytes> {
        (message.source != self.source)
            .then(|| encode_ephemeral(&message.data, Some(&message.from), message.name.as_deref()))
    }
}

/// The time one token takes to come back at `rate` per second (for tests).
pub fn refill_time(rate: u32) -> Duration {
    Duration::from_secs_f64(1.0 / f64::from(rate.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(data: &[u8], from: Option<&str>) -> EphemeralLine {
        EphemeralLine {
            data: data.to_vec(),
            from: from.map(Into::into),
            name: Some("claimed".into()),
        }
    }

    #[test]
    fn the_server_side_names_the_sender_and_nests_forwarded_ones() {
        let now = Instant::now();
        let mut port = EphemeralPort::new(Side::Server, 7, "c1", Some("ada"), now);
        let direct = port.inbound(now, line(b"x", None)).unwrap();
        assert_eq!((&*direct.from, direct.name.as_deref()), ("c1", Some("ada")));
        let forwarded = port.inbound(now, line(b"y", Some("c9"))).unwrap();
        assert_eq!(&*forwarded.from, "c1/c9");
        assert_eq!(forwarded.source, 7);
        assert_eq!(port.outbound(&forwarded), None, "not back to its sender");
        let other = Ephemeral {
            source: 8,
            ..forwarded
        };
        assert_eq!(
            &port.outbound(&other).unwrap()[..],
            b"{\"event\":\"ephemeral\",\"data\":\"eQ==\",\"from\":\"c1/c9\",\"name\":\"claimed\"}\n"
        );
    }

    #[test]
    fn over_the_rate_is_dropped_then_allowed_again() {
        let t0 = Instant::now();
        let mut port = EphemeralPort::new(Side::Server, 1, "c1", None, t0).with_rate(5);
        for _ in 0..5 {
            port.inbound(t0, line(b"x", None)).unwrap();
        }
        assert_eq!(
            port.inbound(t0, line(b"x", None)),
            Err(Refused::RateLimited(5))
        );
        assert_eq!(port.dropped, 1);
        port.inbound(t0 + refill_time(5), line(b"x", None)).unwrap();
    }

    #[test]
    fn too_big_and_too_long_paths_are_dropped() {
        let now = Instant::now();
        let mut port = EphemeralPort::new(Side::Client, 1, "c1", None, now);
        let big = vec![0u8; MAX_EPHEMERAL + 1];
        assert!(matches!(
            port.inbound(now, line(&big, None)),
            Err(Refused::TooBig { .. })
        ));
        let long = "c".repeat(MAX_FROM + 1);
        assert_eq!(
            port.inbound(now, line(b"x", Some(&long))),
            Err(Refused::FromTooLong(MAX_FROM))
        );
        assert_eq!(port.dropped, 2);
        assert!(port
            .inbound(now, line(&vec![0u8; MAX_EPHEMERAL], None))
            .is_ok());
    }
}
