//! The span archive's chunk codec.
//!
//! Every span is archived exactly as it was sent. The spans of one conversation block of a batch
//! are stored together as one *chunk*: their texts one after another (a `\n` between two), the
//! whole compressed as a single zstd frame, so the JSON keys and `otel` sections that every span
//! repeats cost almost nothing. Each span row keeps the byte range of its own text in the
//! decoded chunk. Compressing once per block instead of once per span matters: zstd has a fixed
//! cost of several microseconds per frame, which on small spans was more than the writes saved.
//!
//! A stored chunk is one format byte followed by the frame. Format 1 is a plain zstd frame
//! (level 3, content size and checksum included). A chunk stored as SQL `TEXT` by an older
//! schema is the span text itself and never passes through here.

use std::cell::RefCell;

/// The format byte of a zstd frame without a dictionary.
pub const FORMAT_ZSTD: u8 = 1;
/// The zstd level: fast enough for the HTTP workers, most of the gain of higher levels.
const LEVEL: i32 = 3;
/// A chunk never decodes to more than this (a block is at most one request body).
pub const MAX_DECODED_BYTES: u64 = 256 << 20;

/// Why a stored chunk could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// Empty, or a format byte this build does not know.
    #[error("unknown archive chunk format {0:?}")]
    UnknownFormat(Option<u8>),
    /// The frame is damaged (bad checksum, truncated) or its size is not declared.
    #[error("damaged archive chunk: {0}")]
    Damaged(String),
    /// The frame declares more than [`MAX_DECODED_BYTES`].
    #[error("archive chunk too large: {0} bytes")]
    TooLarge(u64),
    /// The decoded bytes are not UTF-8.
    #[error("archive chunk is not UTF-8")]
    NotText,
}

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

fn new_compressor() -> std::io::Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::new(LEVEL)?;
    c.include_checksum(true)?;
    c.include_contentsize(true)?;
    Ok(c)
}

/// Compresses a chunk's text into its stored form (a compressor per thread, made once).
///
/// zstd fails here only when it cannot allocate, which panics as any failed allocation would.
pub fn encode(text: &str) -> Vec<u8> {
    let frame = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match &mut *slot {
            Some(c) => c,
            none => none.insert(new_compressor()?),
        };
        c.compress(text.as_bytes())
    });
    #[allow(clippy::expect_used)] // only an allocation failure gets here
    let frame = frame.expect("zstd compression");
    let mut out = Vec::with_capacity(frame.len() + 1);
    out.push(FORMAT_ZSTD);
    out.extend_from_slice(&frame);
    out
}

/// Reads a stored chunk back into its text.
pub fn decode(stored: &[u8]) -> Result<String, ArchiveError> {
    let (&format, frame) = stored.split_first().ok_or(ArchiveError::UnknownFormat(None))?;
    if format != FORMAT_ZSTD {
        return Err(ArchiveError::UnknownFormat(Some(format)));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(ArchiveError::Damaged("content size not declared".into())),
        Err(e) => return Err(ArchiveError::Damaged(format!("{e:?}"))),
    };
    if size > MAX_DECODED_BYTES {
        return Err(ArchiveError::TooLarge(size));
    }
    let bytes =
        zstd::bulk::decompress(frame, size as usize).map_err(|e| ArchiveError::Damaged(e.to_string()))?;
    if bytes.len() as u64 != size {
        return Err(ArchiveError::Damaged("size differs from the declared size".into()));
    }
    String::from_utf8(bytes).map_err(|_| ArchiveError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(i: usize) -> String {
        format!(
            r#"{{"span_id":"{i:016x}","kind":"turn","attributes":{{"agentsight.message.content":"héllo ✓ {i}"}},"otel":{{"span_kind":"INTERNAL"}}}}"#
        )
    }

    #[test]
    fn a_chunk_reads_back_byte_for_byte_and_is_smaller() {
        let text = (0..50).map(span).collect::<Vec<_>>().join("\n");
        let stored = encode(&text);
        assert_eq!(stored[0], FORMAT_ZSTD);
        assert!(stored.len() * 4 < text.len(), "{} of {}", stored.len(), text.len());
        assert_eq!(decode(&stored).unwrap(), text);
        assert_eq!(decode(&encode("")).unwrap(), "");
    }

    #[test]
    fn damaged_or_unknown_chunks_are_errors_not_panics() {
        let mut stored = encode(&span(1));
        assert_eq!(decode(&[]), Err(ArchiveError::UnknownFormat(None)));
        assert_eq!(decode(&[9, 1, 2]), Err(ArchiveError::UnknownFormat(Some(9))));
        let last = stored.len() - 1;
        stored[last] ^= 0xff; // the checksum
        assert!(matches!(decode(&stored), Err(ArchiveError::Damaged(_))), "{:?}", decode(&stored));
        assert!(matches!(decode(&stored[..stored.len() / 2]), Err(ArchiveError::Damaged(_))));
    }

    #[test]
    fn a_frame_declaring_a_huge_size_is_refused_before_allocating() {
        let huge = "x".repeat((MAX_DECODED_BYTES + 1) as usize);
        let stored = encode(&huge);
        assert_eq!(decode(&stored), Err(ArchiveError::TooLarge(MAX_DECODED_BYTES + 1)));
    }
}
