//! Splits a byte stream into protocol events, with a line-length limit that is
//! enforced while reading: a line longer than the limit is refused as soon as
//! the limit is passed, never buffered whole.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::line::{decode_line, Event, LineError};

/// The default line limit: 64 MiB. A peer sends a whole history in one
/// message when nothing makes it split (the Go library sends the editing
/// trace's 260k changes as one ~39 MB line), so the limit takes that. The
/// server bounds the memory of unfinished lines of all its connections
/// together with its shared read budget (`ServerOptions::read_budget`), so a
/// large limit per line does not multiply with the number of connections.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024 * 1024;

/// Why reading the next event failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A line was malformed or too long.
    #[error(transparent)]
    Line(#[from] LineError),
    /// The underlying stream failed (connection dropped, body error).
    #[error("stream failed: {0}")]
    Transport(String),
    /// Unfinished lines of all connections together passed the server's budget.
    #[error("the server holds too many unfinished lines ({limit} bytes in all); send shorter lines or try again later")]
    Busy {
        /// The shared budget, in bytes.
        limit: usize,
    },
    /// A line was started and then no byte came for too long.
    #[error("a line was left unfinished for {0:?}; the connection is closed")]
    Stalled(std::time::Duration),
}

/// A memory budget shared by many readers: the bytes of unfinished lines
/// they may hold at once, so that many connections each sending part of a
/// long line cannot exhaust memory together.
#[derive(Debug)]
pub struct ReadBudget {
    used: std::sync::atomic::AtomicUsize,
    limit: usize,
}

impl ReadBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            used: std::sync::atomic::AtomicUsize::new(0),
            limit,
        })
    }

    /// Bytes held right now.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Incremental line splitter: push bytes in, take complete lines out.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    buf: BytesMut,
    /// How far `buf` has been scanned for a newline already.
    scanned: usize,
    max_line: usize,
}

impl LineSplitter {
    /// A splitter refusing lines longer than `max_line` bytes.
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            max_line,
        }
    }

    /// Appends received bytes.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete line (without `\n`), `Ok(None)` if more bytes are
    /// needed, or an error once the pending line passes the limit.
    pub(crate) fn next_line(&mut self) -> Result<Option<Bytes>, LineError> {
        if let Some(pos) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
            let end = self.scanned + pos;
            if end > self.max_line {
                return Err(LineError::TooLong {
                    limit: self.max_line,
                });
            }
            let line = self.buf.split_to(end).freeze();
            self.buf.advance(1);
            self.scanned = 0;
            return Ok(Some(line));
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            return Err(LineError::TooLong {
                limit: self.max_line,
            });
        }
        Ok(None)
    }

    /// Bytes buffered (the start of an unfinished line, or lines not yet taken).
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// What is left once the stream has ended: a last line with no newline.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        self.scanned = 0;
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
    }
}

/// Reads protocol events from a stream of byte chunks.
pub struct EventReader<S> {
    stream: S,
    splitter: LineSplitter,
    ended: bool,
    budget: Option<std::sync::Arc<ReadBudget>>,
    /// Bytes of `budget` this reader holds.
    held: usize,
    partial_timeout: Option<std::time::Duration>,
    /// An event other than sync met while draining, returned next.
    stashed: Option<Event>,
}

impl<S> Drop for EventReader<S> {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget
                .used
                .fetch_sub(self.held, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl<S, E> EventReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    /// Wraps `stream`, refusing lines over `max_line` bytes.
    pub fn new(stream: S, max_line: usize) -> Self {
        Self {
            stream,
            splitter: LineSplitter::new(max_line),
            ended: false,
            budget: None,
            held: 0,
            partial_timeout: None,
            stashed: None,
        }
    }

    /// Counts this reader's unfinished lines against `budget`.
    pub fn with_budget(mut self, budget: std::sync::Arc<ReadBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Ends the stream with [`ReadError::Stalled`] when a line has been
    /// started and no byte arrives for `timeout`.
    pub fn with_partial_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.partial_timeout = Some(timeout);
        self
    }

    /// Brings this reader's share of the budget up to date with its buffer.
    fn account(&mut self) -> Result<(), ReadError> {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        let now = self.splitter.buffered();
        if now > self.held {
            let grow = now - self.held;
            let total = budget.used.fetch_add(grow, Relaxed) + grow;
            self.held = now;
            if total > budget.limit {
                return Err(ReadError::Busy {
                    limit: budget.limit,
                });
            }
        } else if now < self.held {
            budget.used.fetch_sub(self.held - now, Relaxed);
            self.held = now;
        }
        Ok(())
    }

    /// Moves the sync payloads of lines that are already complete in the
    /// buffer (at most `max`) into `batch`, without waiting for more bytes;
    /// the drain stops at any other event, which [`EventReader::next_event`]
    /// returns next. A malformed line stops the drain with its
    /// error, after the good lines before it were moved.
    pub fn drain_buffered(
        &mut self,
        batch: &mut Vec<Vec<u8>>,
        max: usize,
    ) -> Result<(), LineError> {
        while batch.len() < max && self.stashed.is_none() {
            let Some(line) = self.splitter.next_line()? else {
                return Ok(());
            };
            match decode_line(&line)? {
                Some(Event::Sync(bytes)) => batch.push(bytes),
                Some(other) => self.stashed = Some(other),
                None => {}
            }
        }
        Ok(())
    }

    /// The next event; `Ok(None)` at the clean end of the stream. Blank lines
    /// are skipped; unknown events are returned as [`Event::Other`].
    ///
    /// Cancel-safe: bytes already read stay buffered if the future is dropped.
    pub async fn next_event(&mut self) -> Result<Option<Event>, ReadError> {
        if let Some(event) = self.stashed.take() {
            return Ok(Some(event));
        }
        loop {
            let line = self.splitter.next_line()?;
            self.account()?;
            if let Some(line) = line {
                match decode_line(&line)? {
                    Some(event) => return Ok(Some(event)),
                    None => continue,
                }
            }
            if self.ended {
                return match self.splitter.finish() {
                    Some(line) => Ok(decode_line(&line)?),
                    None => Ok(None),
                };
            }
            let next = match self.partial_timeout {
                Some(limit) if self.splitter.buffered() > 0 => {
                    match tokio::time::timeout(limit, self.stream.next()).await {
                        Ok(next) => next,
                        Err(_) => return Err(ReadError::Stalled(limit)),
                    }
                }
                _ => self.stream.next().await,
            };
            match next {
                Some(Ok(chunk)) => {
                    self.splitter.push(&chunk);
                    self.account()?;
                }
                Some(Err(e)) => return Err(ReadError::Transport(e.to_string())),
                None => self.ended = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_limit_takes_a_whole_trace_in_one_line() {
        // What the Go library sends for the editing trace: one ~39 MB line.
        let mut splitter = LineSplitter::new(DEFAULT_MAX_LINE);
        let mut line = vec![b'a'; 39 * 1000 * 1000];
        line.push(b'\n');
        splitter.push(&line);
        assert_eq!(splitter.next_line().unwrap().unwrap().len(), 39_000_000);
    }

    use super::*;
    use futures_util::stream;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
        stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::copy_from_slice(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn lines_split_across_chunks_and_a_last_line_without_newline() {
        let mut r = EventReader::new(
            chunks(&[
                b"{\"event\":\"pi",
                b"ng\"}\n\n{\"event\":\"sync\",\"data\":\"QgAAAQAAAA==\"}",
            ]),
            1024,
        );
        assert_eq!(r.next_event().await.unwrap(), Some(Event::Ping));
        assert!(matches!(
            r.next_event().await.unwrap(),
            Some(Event::Sync(_))
        ));
        assert_eq!(r.next_event().await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_oversized_line_is_refused_before_it_is_complete() {
        // 100 bytes of a line that never ends: the reader must fail once past 64.
        let long = [b'x'; 100];
        let endless = chunks(&[&long]).chain(stream::pending());
        let mut r = EventReader::new(Box::pin(endless), 64);
        let err = tokio::time::timeout(std::time::Duration::from_secs(5), r.next_event())
            .await
            .expect("refused without waiting for the end of the line")
            .unwrap_err();
        assert!(matches!(
            err,
            ReadError::Line(LineError::TooLong { limit: 64 })
        ));
    }

    #[tokio::test]
    async fn unfinished_lines_share_one_budget_and_are_released() {
        let budget = ReadBudget::new(150);
        let partial = [b'x'; 100];
        let mut first =
            EventReader::new(Box::pin(chunks(&[&partial]).chain(stream::pending())), 1024)
                .with_budget(budget.clone());
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(50), first.next_event()).await;
        assert!(
            waited.is_err(),
            "first reader waits for the rest of its line"
        );
        assert_eq!(budget.used(), 100);
        let mut second =
            EventReader::new(Box::pin(chunks(&[&partial])), 1024).with_budget(budget.clone());
        let err = second.next_event().await.unwrap_err();
        assert!(matches!(err, ReadError::Busy { limit: 150 }), "{err}");
        drop(second);
        drop(first);
        assert_eq!(budget.used(), 0, "dropped readers give their share back");
    }

    #[tokio::test]
    async fn a_started_line_that_stalls_is_ended() {
        use std::time::Duration;
        let mut r = EventReader::new(
            Box::pin(chunks(&[b"{\"event\":"]).chain(stream::pending())),
            1024,
        )
        .with_partial_timeout(Duration::from_millis(100));
        let err = tokio::time::timeout(Duration::from_secs(10), r.next_event())
            .await
            .expect("ended by the stall timeout")
            .unwrap_err();
        assert!(matches!(err, ReadError::Stalled(_)), "{err}");
        // An idle stream with no unfinished line is not a stall.
        let mut idle = EventReader::new(
            Box::pin(stream::pending::<Result<Bytes, std::io::Error>>()),
            1024,
        )
        .with_partial_timeout(Duration::from_millis(100));
        assert!(
            tokio::time::timeout(Duration::from_millis(400), idle.next_event())
                .await
                .is_err(),
            "still waiting"
        );
    }

    #[test]
    fn a_line_exactly_at_the_limit_is_accepted() {
        let mut s = LineSplitter::new(4);
        s.push(b"abcd\nabcde\n");
        assert_eq!(s.next_line().unwrap().unwrap(), Bytes::from_static(b"abcd"));
        assert!(s.next_line().is_err());
    }
}
