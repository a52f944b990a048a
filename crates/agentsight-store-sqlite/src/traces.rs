//! Finding a trace's spans without an index keyed by trace id.
//!
//! Trace ids are random, so a b-tree keyed by them takes each new trace on a leaf page of its
//! own somewhere in the index: one more page written per turn at every commit, and a working
//! set that outgrows the page cache as the archive grows (about a quarter of the projection's
//! time over a minute of load; `docs/benchmarks.md` §4). A trace is looked for rarely; spans
//! are written all the time. So spans are cut into *segments* of [`SEGMENT_SPANS`] consecutive
//! row ids, and each full segment gets a Bloom filter of the (agent, trace key) pairs of its
//! spans, written once (`trace_segments`, in the archive database). A trace's spans are then read from
//! the segments whose filter may hold it (a false positive costs a scan of one segment by row
//! id, about one lookup in two thousand) and from the spans after the last full segment, read
//! by row id too. Span rows are never deleted, so a segment's rows never change.

use std::sync::RwLock;

use agentsight_store::{StoreError, StoreResult};
use rusqlite::{Connection, params};

use crate::sqlerr;

/// Spans per segment (by row id).
pub(crate) const SEGMENT_SPANS: i64 = 16_384;
/// Filter bits per distinct (agent, trace key) of a segment, and bit positions per key: about
/// one false positive in two thousand segments.
const BITS_PER_KEY: usize = 16;
const PROBES: u64 = 11;

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The bit positions of a key in a filter of `bits` bits (double hashing).
fn positions(agent_id: i64, trace_key: i64, bits: u64) -> impl Iterator<Item = u64> {
    let h1 = mix((trace_key as u64) ^ mix(agent_id as u64));
    let h2 = mix(h1) | 1;
    (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

/// A Bloom filter of `keys`, as stored: little-endian 64-bit words.
pub(crate) fn filter_of(keys: &mut Vec<(i64, i64)>) -> Vec<u8> {
    keys.sort_unstable();
    keys.dedup();
    let words = (keys.len() * BITS_PER_KEY).div_ceil(64).max(1);
    let mut w = vec![0u64; words];
    let bits = (words * 64) as u64;
    for &(agent, key) in keys.iter() {
        for p in positions(agent, key, bits) {
            w[(p / 64) as usize] |= 1 << (p % 64);
        }
    }
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Whether the stored filter may hold the key (false: it certainly does not).
pub(crate) fn may_contain(filter: &[u8], agent_id: i64, trace_key: i64) -> bool {
    let bits = (filter.len() / 8 * 64) as u64;
    if bits == 0 {
        return true;
    }
    positions(agent_id, trace_key, bits).all(|p| {
        let word = (p / 64) as usize * 8;
        let w = u64::from_le_bytes(filter[word..word + 8].try_into().unwrap_or([0xff; 8]));
        w & (1 << (p % 64)) != 0
    })
}

/// Seals every full segment after the last sealed one; how many. Runs in a transaction of its
/// own, on committed spans only, so a segment once sealed never changes.
pub(crate) fn seal(conn: &Connection) -> StoreResult<usize> {
    let mut sealed = 0;
    loop {
        let (after, last): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT coalesce(max(last_span), 0) FROM trace_segments), (SELECT coalesce(max(id), 0) FROM spans)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sqlerr)?;
        if last - after < SEGMENT_SPANS {
            return Ok(sealed);
        }
        let end = after + SEGMENT_SPANS;
        let mut keys: Vec<(i64, i64)> = conn
            .prepare_cached("SELECT agent_id, trace_key FROM spans WHERE id > ?1 AND id <= ?2")
            .and_then(|mut s| s.query_map([after, end], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(sqlerr)?;
        let filter = filter_of(&mut keys);
        conn.prepare_cached("INSERT INTO trace_segments (last_span, first_span, filter) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![end, after + 1, filter]))
            .map_err(sqlerr)?;
        sealed += 1;
    }
}

/// The sealed segments' filters, as loaded so far (shared by the store's readers and its writer).
#[derive(Default)]
pub(crate) struct Segments {
    loaded: RwLock<Loaded>,
}

#[derive(Default)]
struct Loaded {
    /// Row ids up to this one are in `list`.
    sealed_to: i64,
    /// `(first, last, filter)`, oldest first.
    list: Vec<(i64, i64, Vec<u8>)>,
}

/// Where a trace's spans may be: row id ranges, and every span after `open_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidates {
    /// Sealed segments whose filter may hold the trace.
    pub(crate) ranges: Vec<(i64, i64)>,
    /// The spans after the last sealed segment, read one by one.
    pub(crate) open_after: i64,
}

impl Segments {
    /// Loads the segments sealed since the last call (committed ones, as `conn` sees them).
    pub(crate) fn refresh(&self, conn: &Connection) -> StoreResult<()> {
        let from = self.loaded.read().map_err(poisoned)?.sealed_to;
        let new: Vec<(i64, i64, Vec<u8>)> = conn
            .prepare_cached(
                "SELECT first_span, last_span, filter FROM trace_segments WHERE last_span > ?1 ORDER BY last_span",
            )
            .and_then(|mut s| s.query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
            .map_err(sqlerr)?;
        if !new.is_empty() {
            // Another thread may have loaded some of them meanwhile: keep each once.
            let mut l = self.loaded.write().map_err(poisoned)?;
            for seg in new {
                if seg.0 > l.sealed_to {
                    l.sealed_to = seg.1;
                    l.list.push(seg);
                }
            }
        }
        Ok(())
    }

    /// Where the spans of `(agent, trace key)` may be, after a [`Segments::refresh`] through
    /// the connection that will read them.
    pub(crate) fn candidates(&self, agent_id: i64, trace_key: i64) -> StoreResult<Candidates> {
        let l = self.loaded.read().map_err(poisoned)?;
        let ranges = l
            .list
            .iter()
            .filter(|(_, _, f)| may_contain(f, agent_id, trace_key))
            .map(|(a, b, _)| (*a, *b))
            .collect();
        Ok(Candidates { ranges, open_after: l.sealed_to })
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::internal("the trace segments lock is poisoned")
}

impl Candidates {
    /// The SQL condition on `alias.id` and its values: `(id > ? OR id BETWEEN ? AND ? …)`.
    pub(crate) fn sql(&self, alias: &str) -> (String, Vec<i64>) {
        let mut sql = format!("({alias}.id > ?");
        let mut values = vec![self.open_after];
        for &(a, b) in &self.ranges {
            sql.push_str(&format!(" OR {alias}.id BETWEEN ? AND ?"));
            values.extend([a, b]);
        }
        sql.push(')');
        (sql, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_holds_its_keys_and_rarely_others() {
        let mut keys: Vec<(i64, i64)> = (0..5_000).map(|i| (1 + i % 3, mix(i as u64) as i64 >> 4)).collect();
        let wanted = keys.clone();
        let f = filter_of(&mut keys);
        assert_eq!(f.len() % 8, 0);
        assert!(wanted.iter().all(|&(a, k)| may_contain(&f, a, k)), "no false negative");
        let others = (0..100_000).filter(|&i| may_contain(&f, 1, mix(1_000_000 + i) as i64 >> 4)).count();
        assert!(others < 100, "{others} false positives in 100,000");
        // The same trace key of another agent is another key.
        let mut one = vec![(1, 42)];
        let f = filter_of(&mut one);
        assert!(may_contain(&f, 1, 42) && !may_contain(&f, 2, 42));
        assert!(may_contain(&[], 9, 9), "no filter: anything may be there");
        assert!(filter_of(&mut Vec::new()).len() == 8);
    }

    #[test]
    fn the_condition_reads_the_candidate_ranges_and_the_open_tail() {
        let c = Candidates { ranges: vec![(1, 10), (21, 30)], open_after: 40 };
        assert_eq!(
            c.sql("s"),
            (
                "(s.id > ? OR s.id BETWEEN ? AND ? OR s.id BETWEEN ? AND ?)".to_string(),
                vec![40, 1, 10, 21, 30]
            )
        );
    }
}
