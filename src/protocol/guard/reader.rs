//! A cursor over a chunk body with Automerge's primitive parsers (LEB128
//! numbers, actor and hash lists, column specs), for the guard's walk.

use super::GuardError;

/// Why a chunk body could not be read.
pub(super) enum LebError {
    /// The body ends before its layout does.
    Short,
    /// A LEB128 number Automerge refuses.
    Bad(&'static str),
}

impl LebError {
    pub(super) fn malformed(self, index: usize) -> GuardError {
        GuardError::Malformed {
            index,
            reason: match self {
                LebError::Short => "its layout runs past its end",
                LebError::Bad(reason) => reason,
            },
        }
    }
}

/// A cursor over a byte slice with Automerge's primitive parsers. Nothing it
/// does allocates by a length read from the input, except the list of column
/// specs, which grows one entry per two bytes read at most.
pub(super) struct Reader<'a> {
    input: &'a [u8],
    /// How far it has read.
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.input.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// An unsigned LEB128 number, accepted and refused exactly as Automerge's
    /// `leb128_u64` does (at most ten bytes, no overlong encodings).
    pub(super) fn uleb(&mut self) -> Result<u64, LebError> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8().ok_or(LebError::Short)?;
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift > 64 && byte > 1 {
                    return Err(LebError::Bad("a number is too large"));
                } else if shift > 7 && byte == 0 {
                    return Err(LebError::Bad("a number is overlong"));
                }
                return Ok(value);
            } else if shift > 64 {
                return Err(LebError::Bad("a number is too large"));
            }
        }
    }

    /// A length read from the input, as a `usize` slice length.
    pub(super) fn len(&mut self) -> Result<usize, LebError> {
        // A length beyond the address space cannot be satisfied by the input.
        usize::try_from(self.uleb()?).map_err(|_| LebError::Short)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<(), LebError> {
        self.take(n).map(drop).ok_or(LebError::Short)
    }

    /// `uleb(count)` actor IDs, each `uleb(len) bytes`.
    pub(super) fn actors(&mut self) -> Result<(), LebError> {
        let count = self.uleb()?;
        for _ in 0..count {
            // Each round consumes at least one byte, so a huge count fails
            // as soon as the input runs out.
            let len = self.len()?;
            self.skip(len)?;
        }
        Ok(())
    }

    /// `uleb(count)` change hashes of 32 bytes.
    pub(super) fn hashes(&mut self) -> Result<(), LebError> {
        let count = self.len()?;
        self.skip(count.checked_mul(32).ok_or(LebError::Short)?)
    }

    /// Column metadata: `uleb(count)` pairs of `uleb32(spec) uleb(len)`.
    pub(super) fn columns(&mut self) -> Result<Vec<(u32, u64)>, LebError> {
        let count = self.uleb()?;
        let mut columns = Vec::new();
        for _ in 0..count {
            let spec = u32::try_from(self.uleb()?)
                .map_err(|_| LebError::Bad("a column spec is too large"))?;
            let len = self.uleb()?;
            columns.push((spec, len));
        }
        Ok(columns)
    }

    /// The data block the columns describe (their lengths summed, saturating
    /// as Automerge's offsets do).
    pub(super) fn block(&mut self, columns: &[(u32, u64)]) -> Result<&'a [u8], LebError> {
        let total = columns.iter().fold(0usize, |sum, (_, len)| {
            sum.saturating_add(usize::try_from(*len).unwrap_or(usize::MAX))
        });
        self.take(total).ok_or(LebError::Short)
    }
}
