//! Bounds on what a sync message or a saved document can make Automerge
//! allocate, checked *before* Automerge inflates anything (issue #7, the
//! "compressed-change bomb").
//!
//! Automerge data is a run of chunks: `magic(4) checksum(4) type(1)
//! uleb128(len) data(len)`. Two chunk types carry deflate streams that
//! Automerge inflates into memory with no bound:
//!
//! - type 2, a compressed change: `data` is one raw deflate stream;
//! - type 0 (a document) and type 3 (a bundle): their column metadata lists
//!   `(spec, len)` pairs, and a column whose spec has bit 3 set is a deflate
//!   stream (a ~1 MB stream can inflate to 1 GiB).
//!
//! Bundles (type 3) are refused outright: no sync peer sends them, and
//! Automerge's experimental bundle parser panics on some malformed ones.
//!
//! Type 1 (a plain change) may not hold compressed columns (Automerge refuses
//! them), so its size is its cost. A sync message carries its chunks as a
//! length-prefixed list; Automerge joins them and loads the result like a
//! saved document, so both are checked by the same chunk walk.
//!
//! The walk never allocates by a length read from the input: it only slices
//! the input, and it measures a deflate stream by inflating it through a fixed
//! scratch buffer while counting, stopping one byte past the limit. Memory stays
//! constant whatever the stream claims; the cost is inflating once more than
//! Automerge would, in time only.
//!
//! Not covered here: run-length-encoded columns can also describe many more
//! ops than bytes (a few bytes can claim a run of 2^60 `put`s). Automerge
//! validates such columns while it decodes them; bounding the op count would
//! mean decoding every column type here too.

use std::io::Read;

use automerge::sync::Message;

mod reader;

use reader::{LebError, Reader};

/// The magic bytes every Automerge chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Bit 3 of a column spec: the column's data is deflate-compressed.
const DEFLATE_BIT: u32 = 0b1000;
/// The chunk types (the byte after the checksum).
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED_CHANGE: u8 = 2;
const BUNDLE: u8 = 3;
/// How many inflated bytes are produced per read while measuring a stream.
const SCRATCH: usize = 32 * 1024;
const MIB: u64 = 1024 * 1024;

/// The default for [`Limits::max_chunk_bytes`]: 64 MiB.
pub const DEFAULT_MAX_CHUNK_BYTES: u64 = 64 * MIB;
/// The default for [`Limits::max_inflated_bytes`]: 256 MiB.
pub const DEFAULT_MAX_INFLATED_BYTES: u64 = 256 * MIB;
/// The default for [`Limits::max_chunks`]: one million.
pub const DEFAULT_MAX_CHUNKS: usize = 1_000_000;

/// How much Automerge data one sync message (or one saved file) may hold.
///
/// The defaults let any document Tandem itself produces through, with room
/// to spare, while keeping what one message can make a process allocate to a
/// few hundred MiB instead of whatever an attacker's deflate stream claims.
/// `tandem serve` and `tandem sync` take `--max-change-bytes`,
/// `--max-inflated-bytes` and `--max-chunks` to change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest single chunk (one change, compressed change, document
    /// snapshot or bundle) as it travels, in bytes. Default 64 MiB: a change
    /// is the unit Automerge parses in one piece, and a whole-document
    /// snapshot (what a first sync sends) of a large document fits well below
    /// it; the default line limit (64 MiB of base64, 48 MiB of message) is
    /// smaller anyway, so this mostly bounds imports and stored files.
    pub max_chunk_bytes: u64,
    /// The most bytes all the deflate streams of one message (or one file)
    /// may inflate to, together. Default 256 MiB: Automerge's own columns
    /// deflate 3–20×, so a 48 MiB message legitimately inflates to well under
    /// this, while deflate itself allows ~1000×, which is the bomb (1 MB →
    /// 1 GiB). Automerge holds about three copies of an inflated change while
    /// it parses it, so this is also roughly a third of the worst-case memory.
    pub max_inflated_bytes: u64,
    /// The most chunks in one message or file. Default one million: a sync
    /// message carries one chunk per change when it sends less than a third
    /// of a document, so this allows long histories; each chunk costs
    /// Automerge some bookkeeping, and this keeps that bounded too when the
    /// line limit is raised.
    pub max_chunks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_chunk_bytes: DEFAULT_MAX_CHUNK_BYTES,
            max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES,
            max_chunks: DEFAULT_MAX_CHUNKS,
        }
    }
}

/// Why Automerge data was refused before Automerge saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// More chunks than [`Limits::max_chunks`].
    #[error(
        "more than {limit} chunks (changes) in one message or file; \
         the limit is raised with --max-chunks (tandem serve / tandem sync)"
    )]
    TooManyChunks {
        /// The limit in force.
        limit: usize,
    },
    /// One chunk is larger than [`Limits::max_chunk_bytes`].
    #[error(
        "chunk {index} is {} long, over the {} limit for one change or snapshot; \
         the limit is raised with --max-change-bytes (tandem serve / tandem sync)",
        human(*bytes), human(*limit)
    )]
    ChunkTooLarge {
        /// Which chunk, counting from 1.
        index: usize,
        /// Its size in bytes.
        bytes: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The compressed data inflates past [`Limits::max_inflated_bytes`].
    #[error(
        "chunk {index} holds compressed data that inflates past the {} limit \
         for one message or file; the limit is raised with --max-inflated-bytes \
         (tandem serve / tandem sync)",
        human(*limit)
    )]
    InflatesTooMuch {
        /// Which chunk, counting from 1.
        index: usize,
        /// The limit in force.
        limit: u64,
    },
    /// A chunk is not well-formed Automerge data.
    #[error("chunk {index} is malformed: {reason}")]
    Malformed {
        /// Which chunk, counting from 1.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A bundle chunk: an experimental Automerge format no peer's sync sends,
    /// whose parser panics on some malformed input (found by tests/fuzz.rs).
    #[error(
        "chunk {index} is a bundle (experimental Automerge format), which is \
         not accepted; send changes or a saved document instead"
    )]
    Bundle {
        /// Which chunk, counting from 1.
        index: usize,
    },
    /// The bytes are not an Automerge sync message at all.
    #[error("not an Automerge sync message: {0}")]
    NotSyncMessage(String),
}

/// `268435456` → `"256 MiB"`; sizes that are not whole MiB stay in bytes.
fn human(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Checks an encoded sync message against `limits` before it is decoded for
/// good and applied.
pub fn check_sync_message(bytes: &[u8], limits: &Limits) -> Result<(), GuardError> {
    // Decoding copies the chunk bytes (bounded by the input) but inflates nothing.
    let message = Message::decode(bytes).map_err(|e| GuardError::NotSyncMessage(e.to_string()))?;
    check_message(&message, limits)
}

/// Checks an already decoded sync message against `limits` before it is
/// applied (`receive_sync_message` is where Automerge inflates).
pub fn check_message(message: &Message, limits: &Limits) -> Result<(), GuardError> {
    let parts: Vec<&[u8]> = message.changes.iter().collect();
    match parts.as_slice() {
        [] => Ok(()),
        [one] => walk(one, limits, Tail::Strict),
        // Automerge joins the parts before loading them, so a chunk may span
        // two parts; walk the join (no bigger than the message).
        many => walk(&many.concat(), limits, Tail::Strict),
    }
}

/// Checks saved Automerge bytes (an `.automerge` file, an import, a stored
/// document: chunks one after another) against `limits` before they are loaded.
///
/// A malformed chunk (a truncated last chunk, bytes that are no chunk) ends
/// the check without an error: Automerge stops loading at the same place, and
/// loading the valid part of a file cut short by a crash must keep working.
/// Going over a limit is an error wherever it happens.
pub fn check_saved(bytes: &[u8], limits: &Limits) -> Result<(), GuardError> {
    walk(bytes, limits, Tail::Tolerant)
}

/// What to do with bytes that do not start a chunk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Refuse them (sync messages: a peer never sends that).
    Strict,
    /// Stop there (saved files: Automerge stops there too).
    Tolerant,
}

/// Walks the chunks in `data`, checking each against `limits`.
fn walk(data: &[u8], limits: &Limits, tail: Tail) -> Result<(), GuardError> {
    let mut budget = Budget {
        left: limits.max_inflated_bytes,
        limit: limits.max_inflated_bytes,
        scratch: vec![0; SCRATCH],
    };
    let mut rest = data;
    let mut index = 0;
    while !rest.is_empty() {
        index += 1;
        if index > limits.max_chunks {
            return Err(GuardError::TooManyChunks {
                limit: limits.max_chunks,
            });
        }
        match check_chunk(index, rest, limits, &mut budget) {
            Ok(next) => rest = next,
            // Automerge stops at the first chunk it cannot parse, and what it
            // inflates of that chunk before failing was measured above.
            Err(GuardError::Malformed { .. }) if tail == Tail::Tolerant => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Checks the chunk at the start of `input`; returns what follows it.
fn check_chunk<'a>(
    index: usize,
    input: &'a [u8],
    limits: &Limits,
    budget: &mut Budget,
) -> Result<&'a [u8], GuardError> {
    let malformed = |reason| GuardError::Malformed { index, reason };
    let header = Header::parse(input).map_err(malformed)?;
    if header.len > limits.max_chunk_bytes {
        return Err(GuardError::ChunkTooLarge {
            index,
            bytes: header.len,
            limit: limits.max_chunk_bytes,
        });
    }
    let body_end = usize::try_from(header.len)
        .ok()
        .and_then(|len| header.size.checked_add(len))
        .filter(|end| *end <= input.len())
        .ok_or(malformed("it is cut short"))?;
    let body = &input[header.size..body_end];
    match header.chunk_type {
        CHANGE => {}
        COMPRESSED_CHANGE => budget.spend(index, body)?,
        DOCUMENT => check_document(index, body, budget)?,
        // Refused whatever their content; `check_bundle` still measures them
        // should they ever be let through.
        _ => return Err(GuardError::Bundle { index }),
    }
    Ok(&input[body_end..])
}

/// The inflated bytes left for one message or file, and the buffer that
/// measures them.
struct Budget {
    left: u64,
    limit: u64,
    scratch: Vec<u8>,
}

impl Budget {
    /// Inflates the raw deflate stream `stream` into the scratch buffer,
    /// counting, and fails as soon as the count passes what is left.
    fn spend(&mut self, index: usize, stream: &[u8]) -> Result<(), GuardError> {
        let mut inflater = flate2::bufread::DeflateDecoder::new(stream);
        loop {
            match inflater.read(&mut self.scratch) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let n = n as u64;
                    if n > self.left {
                        return Err(GuardError::InflatesTooMuch {
                            index,
                            limit: self.limit,
                        });
                    }
                    self.left -= n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    return Err(GuardError::Malformed {
                        index,
                        reason: "its compressed data is not a valid deflate stream",
                    })
                }
            }
        }
    }

    /// Measures the deflated columns of a chunk's change and op blocks.
    fn spend_blocks(
        &mut self,
        index: usize,
        (changes, ops): (Block<'_>, Block<'_>),
    ) -> Result<(), GuardError> {
        self.spend_columns(index, &changes.0, changes.1)?;
        self.spend_columns(index, &ops.0, ops.1)
    }

    /// Measures every deflated column of one column block.
    fn spend_columns(
        &mut self,
        index: usize,
        columns: &[(u32, u64)],
        data: &[u8],
    ) -> Result<(), GuardError> {
        let mut offset = 0usize;
        for &(spec, len) in columns {
            // Automerge saturates these offsets too; the block was sliced to
            // their sum, so a saturated range is simply out of bounds.
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let end = offset.saturating_add(len);
            if spec & DEFLATE_BIT != 0 {
                let Some(stream) = data.get(offset..end) else {
                    return Err(GuardError::Malformed {
                        index,
                        reason: "a column runs past the end of its block",
                    });
                };
                self.spend(index, stream)?;
            }
            offset = end;
        }
        Ok(())
    }
}

/// A chunk header.
struct Header {
    chunk_type: u8,
    /// The length of the data after the header.
    len: u64,
    /// The header's own size in bytes.
    size: usize,
}

impl Header {
    /// Parses `magic checksum type uleb(len)`, refusing exactly what
    /// Automerge's header parser refuses.
    fn parse(input: &[u8]) -> Result<Self, &'static str> {
        const SHORT: &str = "it is cut short";
        let mut r = Reader::new(input);
        if r.take(4).ok_or(SHORT)? != MAGIC {
            return Err("it does not start with the Automerge magic bytes");
        }
        r.take(4).ok_or(SHORT)?; // the checksum
        let chunk_type = r.u8().ok_or(SHORT)?;
        if chunk_type > BUNDLE {
            return Err("unknown chunk type");
        }
        let len = r.uleb().map_err(|e| match e {
            LebError::Short => SHORT,
            LebError::Bad(reason) => reason,
        })?;
        Ok(Self {
            chunk_type,
            len,
            size: r.pos,
        })
    }
}

/// Column metadata and the data block it describes.
type Block<'a> = (Vec<(u32, u64)>, &'a [u8]);

/// Checks the deflated columns of a document chunk's body:
/// `actors heads change_meta ops_meta change_data ops_data suffix`.
fn check_document(index: usize, body: &[u8], budget: &mut Budget) -> Result<(), GuardError> {
    fn layout<'a>(r: &mut Reader<'a>) -> Result<(Block<'a>, Block<'a>), LebError> {
        r.actors()?;
        r.hashes()?;
        let changes = r.columns()?;
        let ops = r.columns()?;
        let change_data = r.block(&changes)?;
        let ops_data = r.block(&ops)?;
        Ok(((changes, change_data), (ops, ops_data)))
    }
    let blocks = layout(&mut Reader::new(body)).map_err(|e| e.malformed(index))?;
    budget.spend_blocks(index, blocks)
}

/// Checks the deflated columns of a bundle chunk's body (unused while bundles
/// are refused; kept tested so that allowing them stays a one-line change):
/// `deps actors change_meta change_data ops_meta ops_data`.
#[cfg_attr(not(test), allow(dead_code))]
fn check_bundle(index: usize, body: &[u8], budget: &mut Budget) -> Result<(), GuardError> {
    fn layout<'a>(r: &mut Reader<'a>) -> Result<(Block<'a>, Block<'a>), LebError> {
        r.hashes()?;
        r.actors()?;
        let changes = r.columns()?;
        let change_data = r.block(&changes)?;
        let ops = r.columns()?;
        let ops_data = r.block(&ops)?;
        Ok(((changes, change_data), (ops, ops_data)))
    }
    let blocks = layout(&mut Reader::new(body)).map_err(|e| e.malformed(index))?;
    budget.spend_blocks(index, blocks)
}

#[cfg(test)]
mod tests;
