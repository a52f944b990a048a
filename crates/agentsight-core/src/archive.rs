//! The span archive's codec.
//!
//! Every span is archived exactly as it was sent, inside the body of the request that brought
//! it: the archive keeps each `POST /api/ingest/` body as received, and each span row keeps the
//! byte range of its own text in the decoded body. A gzip body (the SDK compresses batches above
//! 8 KiB) is kept as the client's own gzip bytes, so archiving costs no compression at all; a
//! large body sent uncompressed is compressed here once, as one zstd frame; a small one is kept
//! as is ([`ArchivedBody::of_plain`]).
//!
//! Stored forms ([`Encoding`]): the JSON text itself; the client's gzip; or one format byte
//! followed by a zstd frame ([`encode`]), which is also how the schema of 0005–0007 kept each
//! block's span texts (its *chunks*, a `\n` between two spans), now archived beside the bodies.

use std::cell::RefCell;

/// The format byte of a zstd frame without a dictionary.
pub const FORMAT_ZSTD: u8 = 1;
/// The zstd level: fast enough for the HTTP workers, most of the gain of higher levels.
const LEVEL: i32 = 3;
/// A stored body never decodes to more than this (a request body is limited far below it).
pub const MAX_DECODED_BYTES: u64 = 256 << 20;
/// A body sent uncompressed is archived as is up to this size, compressed above it (a zstd
/// frame costs a few microseconds whatever its size, and saves little on a small body).
pub const PLAIN_MAX_BYTES: usize = 8 << 10;

/// Why a stored body could not be read back.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// Empty, or a format byte this build does not know.
    #[error("unknown archive format {0:?}")]
    UnknownFormat(Option<u8>),
    /// The stored bytes are damaged (bad checksum, truncated) or a frame's size is not declared.
    #[error("damaged archive body: {0}")]
    Damaged(String),
    /// The stored form decodes to more than the limit it was read with.
    #[error("archive body too large: more than {0} bytes")]
    TooLarge(u64),
    /// The decoded bytes are not UTF-8.
    #[error("archive body is not UTF-8")]
    NotText,
}

/// How an archived body is stored (the code is what the archive's `encoding` column holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The JSON text itself.
    Plain,
    /// gzip: the bytes the client sent with `Content-Encoding: gzip`.
    Gzip,
    /// A format byte and a zstd frame ([`encode`]).
    Zstd,
}

impl Encoding {
    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            Encoding::Plain => 0,
            Encoding::Gzip => 1,
            Encoding::Zstd => 2,
        }
    }

    /// From the stored code.
    pub fn from_code(code: i64) -> Option<Encoding> {
        match code {
            0 => Some(Encoding::Plain),
            1 => Some(Encoding::Gzip),
            2 => Some(Encoding::Zstd),
            _ => None,
        }
    }
}

/// A request body in its archived form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedBody {
    /// How `bytes` are stored.
    pub encoding: Encoding,
    /// The stored bytes.
    pub bytes: Vec<u8>,
}

impl ArchivedBody {
    /// A body received uncompressed: kept as is up to [`PLAIN_MAX_BYTES`], compressed above.
    pub fn of_plain(text: &str) -> ArchivedBody {
        if text.len() <= PLAIN_MAX_BYTES {
            ArchivedBody { encoding: Encoding::Plain, bytes: text.as_bytes().to_vec() }
        } else {
            ArchivedBody { encoding: Encoding::Zstd, bytes: encode(text) }
        }
    }

    /// A body received gzipped, kept as the client sent it.
    pub fn of_gzip(bytes: Vec<u8>) -> ArchivedBody {
        ArchivedBody { encoding: Encoding::Gzip, bytes }
    }

    /// The text, decoded; at most `limit` bytes of it.
    pub fn decode(&self, limit: u64) -> Result<String, ArchiveError> {
        decode_as(self.encoding, &self.bytes, limit)
    }
}

/// Decodes stored bytes of `encoding` into text of at most `limit` bytes (a gzip body is also
/// what a client sends: the server reads requests with this, under its body limit).
pub fn decode_as(encoding: Encoding, stored: &[u8], limit: u64) -> Result<String, ArchiveError> {
    let limit = limit.min(MAX_DECODED_BYTES);
    let bytes = match encoding {
        Encoding::Plain => {
            if stored.len() as u64 > limit {
                return Err(ArchiveError::TooLarge(limit));
            }
            stored.to_vec()
        }
        Encoding::Gzip => gunzip(stored, limit)?,
        Encoding::Zstd => unzstd(stored, limit)?,
    };
    String::from_utf8(bytes).map_err(|_| ArchiveError::NotText)
}

/// gzip (any number of members, as the format allows) into at most `limit` bytes.
fn gunzip(stored: &[u8], limit: u64) -> Result<Vec<u8>, ArchiveError> {
    use std::io::Read as _;
    // The last member's size (mod 2^32) ends the stream: room for it at once, not a vector
    // doubled and copied a dozen times.
    let size = stored
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes([stored[at], stored[at + 1], stored[at + 2], stored[at + 3]]));
    let mut out = Vec::with_capacity((size.unwrap_or(0) as u64).min(limit) as usize + 1);
    flate2::read::MultiGzDecoder::new(stored)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| ArchiveError::Damaged(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(ArchiveError::TooLarge(limit));
    }
    Ok(out)
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

/// Compresses text into a format byte and a zstd frame (a compressor per thread, made once);
/// [`decode_as`] with [`Encoding::Zstd`] reads it back.
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

fn unzstd(stored: &[u8], limit: u64) -> Result<Vec<u8>, ArchiveError> {
    let (&format, frame) = stored.split_first().ok_or(ArchiveError::UnknownFormat(None))?;
    if format != FORMAT_ZSTD {
        return Err(ArchiveError::UnknownFormat(Some(format)));
    }
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(ArchiveError::Damaged("content size not declared".into())),
        Err(e) => return Err(ArchiveError::Damaged(format!("{e:?}"))),
    };
    if size > limit {
        return Err(ArchiveError::TooLarge(limit));
    }
    let bytes =
        zstd::bulk::decompress(frame, size as usize).map_err(|e| ArchiveError::Damaged(e.to_string()))?;
    if bytes.len() as u64 != size {
        return Err(ArchiveError::Damaged("size differs from the declared size".into()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format byte and zstd frame ([`encode`]) read back.
    fn decode(stored: &[u8]) -> Result<String, ArchiveError> {
        decode_as(Encoding::Zstd, stored, MAX_DECODED_BYTES)
    }

    fn span(i: usize) -> String {
        format!(
            r#"{{"span_id":"{i:016x}","kind":"turn","attributes":{{"agentsight.message.content":"héllo ✓ {i}"}},"otel":{{"span_kind":"INTERNAL"}}}}"#
        )
    }

    #[test]
    fn a_zstd_body_reads_back_byte_for_byte_and_is_smaller() {
        let text = (0..50).map(span).collect::<Vec<_>>().join("\n");
        let stored = encode(&text);
        assert_eq!(stored[0], FORMAT_ZSTD);
        assert!(stored.len() * 4 < text.len(), "{} of {}", stored.len(), text.len());
        assert_eq!(decode(&stored).unwrap(), text);
        assert_eq!(decode(&encode("")).unwrap(), "");
    }

    #[test]
    fn damaged_or_unknown_zstd_bodies_are_errors_not_panics() {
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
        assert_eq!(decode(&stored), Err(ArchiveError::TooLarge(MAX_DECODED_BYTES)));
    }

    fn gzip(text: &str) -> Vec<u8> {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn bodies_read_back_byte_for_byte_in_every_stored_form() {
        let big = (0..400).map(span).collect::<Vec<_>>().join("\n");
        assert!(big.len() > PLAIN_MAX_BYTES);
        let small = span(7);
        let plain = ArchivedBody::of_plain(&small);
        assert_eq!((plain.encoding, plain.bytes.as_slice()), (Encoding::Plain, small.as_bytes()));
        let large = ArchivedBody::of_plain(&big);
        assert_eq!(large.encoding, Encoding::Zstd);
        assert!(large.bytes.len() * 4 < big.len());
        let gz = ArchivedBody::of_gzip(gzip(&big));
        for (body, text) in [(&plain, &small), (&large, &big), (&gz, &big)] {
            assert_eq!(body.decode(MAX_DECODED_BYTES).unwrap(), *text);
            let back = Encoding::from_code(body.encoding.code()).unwrap();
            assert_eq!(decode_as(back, &body.bytes, 1 << 20).unwrap(), *text);
        }
        // Two gzip members are one body, as gzip allows.
        let mut two = gzip("[1,");
        two.extend(gzip("2]"));
        assert_eq!(decode_as(Encoding::Gzip, &two, 100).unwrap(), "[1,2]");
        assert_eq!(Encoding::from_code(9), None);
    }

    #[test]
    fn a_body_over_the_limit_or_damaged_is_an_error_before_it_is_all_read() {
        let big = "x".repeat(10_000);
        for body in [ArchivedBody::of_plain(&big), ArchivedBody::of_gzip(gzip(&big))] {
            assert_eq!(body.decode(9_999), Err(ArchiveError::TooLarge(9_999)));
            assert_eq!(body.decode(10_000).unwrap().len(), 10_000);
        }
        // A bomb: a megabyte of zeros in a kilobyte of gzip stops at the limit.
        let bomb = gzip(&"\0".repeat(1 << 20));
        assert!(bomb.len() < 2_000);
        assert_eq!(decode_as(Encoding::Gzip, &bomb, 4096), Err(ArchiveError::TooLarge(4096)));
        let mut bad = gzip(&big);
        let n = bad.len();
        bad[n - 5] ^= 0xff; // the CRC
        assert!(matches!(decode_as(Encoding::Gzip, &bad, 1 << 20), Err(ArchiveError::Damaged(_))));
        assert!(matches!(decode_as(Encoding::Gzip, b"not gzip", 1 << 20), Err(ArchiveError::Damaged(_))));
        assert_eq!(decode_as(Encoding::Plain, &[0xff, 0xfe], 10), Err(ArchiveError::NotText));
    }
}
