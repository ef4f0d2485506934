//! Compression of ndjson streams (docs/protocol-extensions.md, "Compression"),
//! without I/O: which encodings exist, a line-by-line encoder whose output
//! ends at every line (so a live edit is never held back), and a decoding
//! stream adapter that inflates a bounded amount at a time and refuses a
//! line longer than the limit while it is still inflating.
//!
//! zstd: every line is one complete zstd frame (the frames of a stream are
//! concatenated, which every zstd decoder reads as one stream); nothing is
//! kept between lines, so an idle connection holds no compressor. gzip: one
//! gzip member for the whole stream, sync-flushed after every line.

use std::io::Write;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};

/// The feature token a client names in `Tandem-Features` to ask for
/// compression (gzip needs it; see [`response_encoding`]).
pub(crate) const FEATURE: &str = "compression";

/// The request header in which a client lists the extensions it
/// understands, and the `200` echoes those the server will use.
pub(crate) const FEATURES_HEADER: &str = "tandem-features";

/// The encodings Tandem reads and writes, best first, as an
/// `Accept-Encoding` value.
pub(crate) const ACCEPTED: &str = "zstd, gzip";

/// The zstd level: fast, and most of the gain (the data is base64).
const ZSTD_LEVEL: i32 = 3;

/// The largest zstd window a peer may make us hold: 8 MiB (2^23). Tandem
/// itself sends frames with a window of at most 2 MiB.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// The most inflated bytes handed on at once.
const CHUNK: usize = 64 * 1024;

/// At most this much gzip input is inflated in one step (deflate inflates
/// at most ~1032×, so one step yields at most ~0.5 MiB).
const GZIP_STEP: usize = 512;

/// A content coding of a sync stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Zstandard (RFC 8878): one frame per line.
    Zstd,
    /// gzip (RFC 1952): one member, sync-flushed after every line.
    Gzip,
}

impl Encoding {
    /// The token in `Content-Encoding` / `Accept-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// The encoding a `Content-Encoding` value names: `Ok(None)` for
    /// identity (or nothing), `Err` with the value for one Tandem cannot read.
    pub fn from_content_encoding(value: &str) -> Result<Option<Self>, String> {
        let token = value.trim();
        if token.is_empty() || token.eq_ignore_ascii_case("identity") {
            Ok(None)
        } else if token.eq_ignore_ascii_case("zstd") {
            Ok(Some(Self::Zstd))
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            Ok(Some(Self::Gzip))
        } else {
            Err(token.to_owned())
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The codings an `Accept-Encoding` value admits (q > 0), in Tandem's order
/// of preference.
pub(crate) fn accepted(accept_encoding: &str) -> Vec<Encoding> {
    let admitted = |name: &str| {
        accept_encoding.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let zero = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            coding.eq_ignore_ascii_case(name) && !zero
        })
    };
    [Encoding::Zstd, Encoding::Gzip]
        .into_iter()
        .filter(|e| admitted(e.as_str()))
        .collect()
}

/// How a server answers a sync request's `Accept-Encoding`: zstd when it is
/// admitted (no HTTP stack asks for zstd on its own, so naming it is a
/// request), gzip only when the client also named the `compression`
/// feature: Go's HTTP transport adds `Accept-Encoding: gzip` to every
/// request by itself, and the Go library must keep getting identity.
pub(crate) fn response_encoding(accept_encoding: &str, feature_asked: bool) -> Option<Encoding> {
    let admitted = accepted(accept_encoding);
    if admitted.contains(&Encoding::Zstd) {
        Some(Encoding::Zstd)
    } else if feature_asked {
        admitted.first().copied()
    } else {
        None
    }
}

/// Whether a `Tandem-Features` value names `feature`.
pub(crate) fn names_feature(features: &str, feature: &str) -> bool {
    features
        .split(',')
        .any(|f| f.trim().eq_ignore_ascii_case(feature))
}

thread_local! {
    /// One zstd compressor per thread, reused for every line: no context is
    /// set up per line, and none is held by an idle connection.
    static ZSTD_CCTX: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    /// The same for whole small frames on the reading side.
    static ZSTD_DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// `lines` as one zstd frame (content size recorded, window at most 2 MiB).
fn zstd_frame(lines: &[u8]) -> std::io::Result<Vec<u8>> {
    ZSTD_CCTX.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let compressor = match &mut *slot {
                Some(c) => c,
                None => slot.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            };
            compressor.compress(lines)
        }
        Err(_) => zstd::bulk::compress(lines, ZSTD_LEVEL),
    })
}

/// A complete zstd frame at the start of `input` that says its content is
/// at most [`CHUNK`] bytes: its length and its content, decoded in one call.
fn whole_small_frame(input: &[u8]) -> Option<(usize, std::io::Result<Vec<u8>>)> {
    let size = zstd::zstd_safe::find_frame_compressed_size(input).ok()?;
    let content = zstd::zstd_safe::get_frame_content_size(input.get(..size)?).ok()??;
    if content > CHUNK as u64 {
        return None;
    }
    let frame = &input[..size];
    let out = ZSTD_DCTX.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let decompressor = match &mut *slot {
                Some(d) => d,
                None => slot.insert(zstd::bulk::Decompressor::new()?),
            };
            decompressor.decompress(frame, content as usize)
        }
        Err(_) => zstd::bulk::decompress(frame, content as usize),
    });
    Some((size, out))
}

/// Why compressing failed (only an internal library error can do it).
#[derive(Debug, thiserror::Error)]
#[error("cannot {0}-compress a line: {1}")]
pub(crate) struct CompressError(Encoding, String);

/// Compresses one line (or a few) at a time; each call's output ends a
/// zstd frame or a gzip sync-flush block, so the peer can read the line at once.
pub(crate) struct LineEncoder {
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    encoding: Encoding,
}

impl LineEncoder {
    /// An encoder for `encoding`.
    pub(crate) fn new(encoding: Encoding) -> Self {
        let gzip = (encoding == Encoding::Gzip)
            .then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        Self { gzip, encoding }
    }

    /// The compressed form of `lines`, readable in full by the peer.
    pub(crate) fn encode(&mut self, lines: &[u8]) -> Result<Bytes, CompressError> {
        let fail = |e: std::io::Error| CompressError(self.encoding, e.to_string());
        match &mut self.gzip {
            // One frame with its size known: zstd fits its tables and window
            // (at most 2 MiB at this level) to the line.
            None => zstd_frame(lines).map(Bytes::from).map_err(fail),
            Some(gzip) => {
                let written = gzip.write_all(lines).and_then(|()| gzip.flush());
                let out = std::mem::take(gzip.get_mut());
                written
                    .map(|()| Bytes::from(out))
                    .map_err(|e| CompressError(Encoding::Gzip, e.to_string()))
            }
        }
    }

    /// What ends the stream: the gzip trailer; nothing for zstd.
    pub(crate) fn finish(self) -> Result<Bytes, CompressError> {
        match self.gzip {
            None => Ok(Bytes::new()),
            Some(gzip) => gzip
                .finish()
                .map(Bytes::from)
                .map_err(|e| CompressError(Encoding::Gzip, e.to_string())),
        }
    }
}

/// `lines` as a body: compressed line by line with `encoding`, unchanged
/// when it is `None`. A gzip body ends with its trailer once `lines` ends.
pub(crate) fn encode_stream<S>(
    lines: S,
    encoding: Option<Encoding>,
) -> impl Stream<Item = Result<Bytes, CompressError>> + Send + 'static
where
    S: Stream<Item = Bytes> + Send + Unpin + 'static,
{
    let encoder = encoding.map(LineEncoder::new);
    futures_util::stream::unfold(
        (lines, encoder, false),
        |(mut lines, mut encoder, done)| async move {
            if done {
                return None;
            }
            match (lines.next().await, encoder.as_mut()) {
                (Some(line), None) => Some((Ok(line), (lines, encoder, false))),
                (Some(line), Some(e)) => Some((e.encode(&line), (lines, encoder, false))),
                (None, None) => None,
                (None, Some(_)) => {
                    let last = encoder.take().map(LineEncoder::finish)?;
                    Some((last, (lines, None, true)))
                }
            }
        },
    )
}

/// Why an encoded stream could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InflateError {
    /// The stream under it failed.
    #[error("{0}")]
    Transport(String),
    /// The compressed data is not valid.
    #[error("the {encoding}-compressed body is damaged: {reason}")]
    Corrupt {
        /// The encoding.
        encoding: Encoding,
        /// What the decoder said.
        reason: String,
    },
    /// Inflating produced a line longer than the limit (refused as soon as
    /// it passed it, without inflating the rest).
    #[error("the {encoding}-compressed body inflates to a line longer than {limit} bytes; send shorter lines (split the sync message) or raise the reader's --max-line")]
    LineTooLong {
        /// The encoding.
        encoding: Encoding,
        /// The line limit, in inflated bytes.
        limit: usize,
    },
    /// The stream ended inside a compressed frame.
    #[error("the {0}-compressed body ended in the middle of a frame")]
    Truncated(Encoding),
}

enum Codec {
    /// `None` between frames: a new decoder is made for the next one, so an
    /// idle stream holds no window.
    Zstd(Option<zstd::stream::raw::Decoder<'static>>),
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
}

/// A stream of decoded bytes from a stream of encoded ones (or the same
/// bytes when there is no encoding). Hands on at most 64 KiB (zstd) or
/// ~0.5 MiB (gzip) at a time, and fails as soon as an inflated line passes
/// `max_line` bytes.
pub struct Inflate<S> {
    inner: S,
    codec: Option<(Encoding, Codec)>,
    input: Bytes,
    /// zstd may hold more output than the last buffer took.
    drain: bool,
    inner_done: bool,
    failed: bool,
    max_line: usize,
    /// Inflated bytes since the last newline.
    line_len: usize,
}

impl<S> Inflate<S> {
    /// Decodes `inner` per `encoding`, refusing inflated lines over `max_line`.
    pub fn new(inner: S, encoding: Option<Encoding>, max_line: usize) -> Self {
        let codec = encoding.map(|e| {
            let codec = match e {
                Encoding::Zstd => Codec::Zstd(None),
                Encoding::Gzip => {
                    Codec::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Vec::new())))
                }
            };
            (e, codec)
        });
        Self {
            inner,
            codec,
            input: Bytes::new(),
            drain: false,
            inner_done: false,
            failed: false,
            max_line,
            line_len: 0,
        }
    }

    /// Inflates from `input` until some output comes out or the input is used up.
    fn step(&mut self) -> Result<Option<Bytes>, InflateError> {
        let Some((encoding, codec)) = &mut self.codec else {
            return Ok(Some(std::mem::take(&mut self.input)));
        };
        let encoding = *encoding;
        let corrupt = |e: std::io::Error| InflateError::Corrupt {
            encoding,
            reason: e.to_string(),
        };
        while !self.input.is_empty() || self.drain {
            let out = match codec {
                Codec::Zstd(slot) => {
                    let fast = if slot.is_none() {
                        whole_small_frame(&self.input)
                    } else {
                        None
                    };
                    if let Some((used, out)) = fast {
                        // The usual live line: one call, no stream state.
                        self.input.advance(used);
                        self.drain = false;
                        out.map_err(corrupt)?
                    } else {
                        use zstd::stream::raw::{DParameter, Decoder, Operation};
                        let decoder = match slot {
                            Some(d) => d,
                            None => {
                                let mut d = Decoder::new().map_err(corrupt)?;
                                d.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
                                    .map_err(corrupt)?;
                                slot.insert(d)
                            }
                        };
                        let had_input = !self.input.is_empty();
                        let mut out = vec![0u8; CHUNK];
                        let status = decoder
                            .run_on_buffers(&self.input, &mut out)
                            .map_err(corrupt)?;
                        self.input.advance(status.bytes_read);
                        self.drain = status.bytes_written == CHUNK;
                        if status.remaining == 0 && !self.drain {
                            // A frame ended: let its window go.
                            *slot = None;
                        }
                        if had_input && status.bytes_read == 0 && status.bytes_written == 0 {
                            // Cannot happen with room for output; never spin on it.
                            return Err(InflateError::Corrupt {
                                encoding,
                                reason: "the decoder takes no more input".into(),
                            });
                        }
                        out.truncate(status.bytes_written);
                        out
                    }
                }
                Codec::Gzip(decoder) => {
                    let take = self.input.len().min(GZIP_STEP);
                    let used = decoder.write(&self.input[..take]).map_err(corrupt)?;
                    decoder.flush().map_err(corrupt)?;
                    self.input.advance(used);
                    let out = std::mem::take(decoder.get_mut());
                    if used == 0 && out.is_empty() {
                        return Err(InflateError::Corrupt {
                            encoding,
                            reason: "the decoder takes no more input".into(),
                        });
                    }
                    out
                }
            };
            if !out.is_empty() {
                self.line_len = match out.iter().rposition(|b| *b == b'\n') {
                    Some(at) => out.len() - at - 1,
                    None => self.line_len + out.len(),
                };
                if self.line_len > self.max_line {
                    return Err(InflateError::LineTooLong {
                        encoding,
                        limit: self.max_line,
                    });
                }
                return Ok(Some(Bytes::from(out)));
            }
        }
        Ok(None)
    }

    /// At the end of the input: whether the last frame was complete.
    fn finish(&mut self) -> Result<(), InflateError> {
        match &mut self.codec {
            None | Some((_, Codec::Zstd(None))) => Ok(()),
            Some((encoding, Codec::Zstd(Some(_)))) => Err(InflateError::Truncated(*encoding)),
            Some((encoding, Codec::Gzip(decoder))) => decoder
                .try_finish()
                .map_err(|_| InflateError::Truncated(*encoding)),
        }
    }
}

impl<S, E> Stream for Inflate<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes, InflateError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            if !this.input.is_empty() || this.drain {
                match this.step() {
                    Ok(Some(out)) => return Poll::Ready(Some(Ok(out))),
                    Ok(None) => continue,
                    Err(e) => {
                        this.failed = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if this.inner_done {
                this.failed = true;
                return Poll::Ready(this.finish().err().map(Err));
            }
            match ready!(this.inner.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.input = chunk,
                Some(Err(e)) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(InflateError::Transport(e.to_string()))));
                }
                None => this.inner_done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests;
