//! A small binary codec for the metrics index's persisted forms: the snapshot file of an
//! [`AgentIndex`](super::index::AgentIndex) and the journal of committed write groups
//! ([`ConvState`]s and [`Delta`]s). Fixed-width little-endian fields, strings as a length and
//! UTF-8 bytes, and a CRC-32 over everything written, checked when read back.
//!
//! Buffered in 1 MiB steps both ways, so a snapshot of hundreds of megabytes streams to and
//! from its file without being held whole in memory.

use std::io::{self, Read, Write};

use super::feedback::Sentiment;
use super::index::{ConvState, Delta, Sender};

const STEP: usize = 1 << 20;

/// Writes fields, keeping a CRC-32 of them.
pub struct Enc<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Enc<W> {
    /// An encoder onto `w`.
    pub fn new(w: W) -> Self {
        Enc { w, buf: Vec::with_capacity(STEP), crc: crc32fast::Hasher::new(), written: 0 }
    }

    /// Raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= STEP {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.crc.update(&self.buf);
        self.w.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// A byte.
    pub fn u8(&mut self, v: u8) -> io::Result<()> {
        self.bytes(&[v])
    }

    /// A bool as a byte.
    pub fn bool(&mut self, v: bool) -> io::Result<()> {
        self.u8(u8::from(v))
    }

    /// A u32.
    pub fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// A length (as a u64).
    pub fn len(&mut self, v: usize) -> io::Result<()> {
        self.u64(v as u64)
    }

    /// A u64.
    pub fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// An i64.
    pub fn i64(&mut self, v: i64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// An f64, bit for bit (NaN included).
    pub fn f64(&mut self, v: f64) -> io::Result<()> {
        self.u64(v.to_bits())
    }

    /// A string.
    pub fn str(&mut self, s: &str) -> io::Result<()> {
        self.u32(u32::try_from(s.len()).map_err(|_| io::Error::other("string too long"))?)?;
        self.bytes(s.as_bytes())
    }

    /// An optional string.
    pub fn opt_str(&mut self, s: Option<&str>) -> io::Result<()> {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1)?;
                self.str(s)
            }
        }
    }

    /// An optional i64.
    pub fn opt_i64(&mut self, v: Option<i64>) -> io::Result<()> {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1)?;
                self.i64(v)
            }
        }
    }

    /// An optional f64.
    pub fn opt_f64(&mut self, v: Option<f64>) -> io::Result<()> {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1)?;
                self.f64(v)
            }
        }
    }

    /// Writes the CRC of everything so far after it and returns the writer and the bytes
    /// written (the CRC included).
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.flush()?;
        let crc = self.crc.clone().finalize();
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok((self.w, self.written + 4))
    }
}

/// Reads what an [`Enc`] wrote, keeping the same CRC.
pub struct Dec<R: Read> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    crc: crc32fast::Hasher,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: Read> Dec<R> {
    /// A decoder over `r`.
    pub fn new(r: R) -> Self {
        Dec { r, buf: vec![0; STEP], pos: 0, len: 0, crc: crc32fast::Hasher::new() }
    }

    /// Makes `n` bytes available at `pos`.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        self.crc.update(&self.buf[..self.pos]);
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        if self.buf.len() < n {
            self.buf.resize(n.max(STEP), 0);
        }
        while self.len < n {
            let got = self.r.read(&mut self.buf[self.len..])?;
            if got == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the data ends early"));
            }
            self.len += got;
        }
        Ok(())
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.len - self.pos < n {
            self.fill(n)?;
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// A byte.
    pub fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    /// A bool.
    pub fn bool(&mut self) -> io::Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad("a bool that is neither 0 nor 1")),
        }
    }

    /// A u32.
    pub fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A u64.
    pub fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A length, at most `max` (a damaged file must not make us allocate without bound).
    pub fn len(&mut self, max: usize) -> io::Result<usize> {
        let n = usize::try_from(self.u64()?).map_err(|_| bad("a length beyond memory"))?;
        if n > max {
            return Err(bad("a length beyond its bound"));
        }
        Ok(n)
    }

    /// An i64.
    pub fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// An f64.
    pub fn f64(&mut self) -> io::Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }

    /// A string.
    pub fn str(&mut self) -> io::Result<String> {
        let n = self.u32()? as usize;
        if n > MAX_STR {
            return Err(bad("a string beyond its bound"));
        }
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map(str::to_string).map_err(|_| bad("a string that is not UTF-8"))
    }

    /// An optional string.
    pub fn opt_str(&mut self) -> io::Result<Option<String>> {
        Ok(if self.bool()? { Some(self.str()?) } else { None })
    }

    /// An optional i64.
    pub fn opt_i64(&mut self) -> io::Result<Option<i64>> {
        Ok(if self.bool()? { Some(self.i64()?) } else { None })
    }

    /// An optional f64.
    pub fn opt_f64(&mut self) -> io::Result<Option<f64>> {
        Ok(if self.bool()? { Some(self.f64()?) } else { None })
    }

    /// Reads the CRC and checks it against everything read, and that nothing follows.
    pub fn finish(mut self) -> io::Result<()> {
        self.crc.update(&self.buf[..self.pos]);
        let expected = self.crc.clone().finalize();
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        self.crc = crc32fast::Hasher::new();
        let stored = u32::from_le_bytes(self.array()?);
        if stored != expected {
            return Err(bad("checksum mismatch"));
        }
        if self.len > self.pos || self.r.read(&mut [0u8; 1])? != 0 {
            return Err(bad("bytes after the checksum"));
        }
        Ok(())
    }
}

/// Upper bound for any count read back (conversations, rows, names).
pub const MAX_COUNT: usize = 1 << 36;

/// Upper bound for a string read back (names and metadata documents are far shorter).
pub const MAX_STR: usize = 1 << 24;

/// Room to reserve for `n` items read back: a damaged count must not reserve without bound
/// (the vector grows past this as items actually arrive).
pub fn reserve(n: usize) -> usize {
    n.min(1 << 20)
}

/// A sentiment as a byte (0: none).
pub fn sentiment_byte(s: Option<Sentiment>) -> u8 {
    match s {
        None => 0,
        Some(Sentiment::Positive) => 1,
        Some(Sentiment::Neutral) => 2,
        Some(Sentiment::Negative) => 3,
    }
}

/// The inverse of [`sentiment_byte`].
pub fn byte_sentiment(b: u8) -> io::Result<Option<Sentiment>> {
    Ok(match b {
        0 => None,
        1 => Some(Sentiment::Positive),
        2 => Some(Sentiment::Neutral),
        3 => Some(Sentiment::Negative),
        _ => return Err(bad("an unknown sentiment")),
    })
}

/// Writes a conversation's state.
pub fn put_conv_state<W: Write>(e: &mut Enc<W>, s: &ConvState) -> io::Result<()> {
    e.i64(s.pk)?;
    e.i64(s.started_at)?;
    e.opt_i64(s.ended_at)?;
    for v in [&s.customer_id, &s.environment, &s.source, &s.device, &s.language, &s.country, &s.city] {
        e.opt_str(v.as_deref())?;
    }
    e.opt_f64(s.lat)?;
    e.opt_f64(s.lon)?;
    e.bool(s.is_used)?;
    e.bool(s.is_deleted)?;
    e.opt_str(s.metadata.as_deref())?;
    e.opt_str(s.latest_feedback.as_deref())
}

/// Reads what [`put_conv_state`] wrote.
pub fn get_conv_state<R: Read>(d: &mut Dec<R>) -> io::Result<ConvState> {
    Ok(ConvState {
        pk: d.i64()?,
        started_at: d.i64()?,
        ended_at: d.opt_i64()?,
        customer_id: d.opt_str()?,
        environment: d.opt_str()?,
        source: d.opt_str()?,
        device: d.opt_str()?,
        language: d.opt_str()?,
        country: d.opt_str()?,
        city: d.opt_str()?,
        lat: d.opt_f64()?,
        lon: d.opt_f64()?,
        is_used: d.bool()?,
        is_deleted: d.bool()?,
        metadata: d.opt_str()?,
        latest_feedback: d.opt_str()?,
    })
}

fn sender_byte(s: Sender) -> u8 {
    match s {
        Sender::EndUser => 0,
        Sender::Agent => 1,
        Sender::System => 2,
    }
}

/// Writes an entry-level change.
pub fn put_delta<W: Write>(e: &mut Enc<W>, d: &Delta) -> io::Result<()> {
    match d {
        Delta::Message { pk, ts, sender, response_us } => {
            e.u8(0)?;
            e.i64(*pk)?;
            e.i64(*ts)?;
            e.u8(sender_byte(*sender))?;
            e.opt_i64(*response_us)
        }
        Delta::Response { pk, ts, old, new } => {
            e.u8(1)?;
            e.i64(*pk)?;
            e.i64(*ts)?;
            e.opt_i64(*old)?;
            e.opt_i64(*new)
        }
        Delta::Action { pk, ts, name, duration_us, error } => {
            e.u8(2)?;
            e.i64(*pk)?;
            e.i64(*ts)?;
            e.str(name)?;
            e.opt_i64(*duration_us)?;
            e.bool(*error)
        }
        Delta::Button { pk, ts } => {
            e.u8(3)?;
            e.i64(*pk)?;
            e.i64(*ts)
        }
    }
}

/// Reads what [`put_delta`] wrote.
pub fn get_delta<R: Read>(d: &mut Dec<R>) -> io::Result<Delta> {
    Ok(match d.u8()? {
        0 => Delta::Message {
            pk: d.i64()?,
            ts: d.i64()?,
            sender: match d.u8()? {
                0 => Sender::EndUser,
                1 => Sender::Agent,
                2 => Sender::System,
                _ => return Err(bad("an unknown sender")),
            },
            response_us: d.opt_i64()?,
        },
        1 => Delta::Response { pk: d.i64()?, ts: d.i64()?, old: d.opt_i64()?, new: d.opt_i64()? },
        2 => Delta::Action {
            pk: d.i64()?,
            ts: d.i64()?,
            name: d.str()?,
            duration_us: d.opt_i64()?,
            error: d.bool()?,
        },
        3 => Delta::Button { pk: d.i64()?, ts: d.i64()? },
        _ => return Err(bad("an unknown entry kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_deltas_round_trip_and_a_flipped_bit_is_caught() {
        let s = ConvState {
            pk: 7,
            started_at: -5,
            ended_at: Some(9),
            customer_id: Some("c".into()),
            city: Some("Zürich".into()),
            lat: Some(f64::NAN),
            lon: Some(-0.0),
            is_used: true,
            metadata: Some("{\"a\":1}".into()),
            latest_feedback: Some("positive".into()),
            ..Default::default()
        };
        let deltas = [
            Delta::Message { pk: 7, ts: 1, sender: Sender::Agent, response_us: Some(3) },
            Delta::Response { pk: 7, ts: 1, old: None, new: Some(4) },
            Delta::Action { pk: 7, ts: 2, name: "t".into(), duration_us: None, error: true },
            Delta::Button { pk: 7, ts: 3 },
        ];
        let mut e = Enc::new(Vec::new());
        put_conv_state(&mut e, &s).unwrap();
        for d in &deltas {
            put_delta(&mut e, d).unwrap();
        }
        let (bytes, n) = e.finish().unwrap();
        assert_eq!(n as usize, bytes.len());
        let mut d = Dec::new(&bytes[..]);
        let back = get_conv_state(&mut d).unwrap();
        assert_eq!(back.lat.map(f64::is_nan), Some(true));
        assert_eq!(ConvState { lat: None, ..back }, ConvState { lat: None, ..s.clone() });
        for want in &deltas {
            assert_eq!(&get_delta(&mut d).unwrap(), want);
        }
        d.finish().unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let mut d = Dec::new(&bad[..]);
            let ok = get_conv_state(&mut d).is_ok()
                && deltas.iter().all(|_| get_delta(&mut d).is_ok())
                && d.finish().is_ok();
            assert!(!ok, "a flipped bit at byte {i} went unnoticed");
        }
        let mut d = Dec::new(&bytes[..bytes.len() - 1]);
        get_conv_state(&mut d).unwrap();
        for _ in &deltas {
            get_delta(&mut d).unwrap();
        }
        assert!(d.finish().is_err());
    }
}
