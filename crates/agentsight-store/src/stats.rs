//! What an event store tells operators about its own work, for monitoring (`GET /metrics`):
//! its write queues (how full, how many writes each commit or insert carried) and the backlog
//! of span batches acknowledged and not yet projected. Backend-neutral: each backend fills in
//! what it has. [`GroupSizes`] is the counter the backends keep as they work (atomics only).

use std::sync::atomic::{AtomicU64, Ordering};

/// The event store's queues and backlog now ([`crate::StatsReader::store_stats`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// Every write queue of the store (SQLite: the main writer and the span archive's writer;
    /// ClickHouse: the batching inserter's queue of each table).
    pub queues: Vec<QueueStats>,
    /// Span batches acknowledged and not yet projected; `None` where a batch is projected before
    /// it is acknowledged (ClickHouse), so there is never a backlog.
    pub projection_backlog: Option<ProjectionBacklog>,
}

/// One write queue and the groups its writer committed.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    /// Which queue (SQLite: `writer`, `archive`; ClickHouse: the table).
    pub name: String,
    /// Writes waiting in the queue now.
    pub depth: u64,
    /// Writes the queue holds at most; beyond, a write is refused as unavailable (503).
    pub capacity: u64,
    /// Writes per group (one transaction, or one `INSERT`) since the store opened.
    pub groups: GroupSizesSnapshot,
    /// Groups that failed (rolled back, or an insert refused) since the store opened.
    pub failed_groups: u64,
}

/// Span batches archived (acknowledged) and not yet projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectionBacklog {
    /// How many batches.
    pub batches: u64,
    /// Their decoded bodies' bytes (as the backlog's limit counts them).
    pub bytes: u64,
    /// The bytes at which an ingest waits for the projection to catch up.
    pub limit_bytes: u64,
}

/// Upper bounds of the [`GroupSizes`] buckets (writes per group); the last bucket is unbounded.
pub const GROUP_SIZE_BOUNDS: [u64; 12] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

/// A histogram of group sizes kept with atomics: recording costs a few relaxed increments.
#[derive(Debug, Default)]
pub struct GroupSizes {
    /// One count per bound of [`GROUP_SIZE_BOUNDS`], then one for larger groups.
    buckets: [AtomicU64; GROUP_SIZE_BOUNDS.len() + 1],
    sum: AtomicU64,
    failed: AtomicU64,
}

/// A [`GroupSizes`] read at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupSizesSnapshot {
    /// Groups per bucket, not cumulative: `buckets[i]` counts the groups of size at most
    /// `GROUP_SIZE_BOUNDS[i]` and above the bound before; the last one, the larger groups.
    pub buckets: Vec<u64>,
    /// Groups.
    pub count: u64,
    /// Writes in them.
    pub sum: u64,
}

impl GroupSizes {
    /// Counts a group of `writes` writes.
    pub fn record(&self, writes: usize) {
        let n = writes as u64;
        let i = GROUP_SIZE_BOUNDS.iter().position(|b| n <= *b).unwrap_or(GROUP_SIZE_BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a group that failed (it is also [`GroupSizes::record`]ed).
    pub fn record_failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> GroupSizesSnapshot {
        let buckets: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        GroupSizesSnapshot { count: buckets.iter().sum(), buckets, sum: self.sum.load(Ordering::Relaxed) }
    }

    /// Groups that failed.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_land_in_the_bucket_of_their_size() {
        let g = GroupSizes::default();
        for n in [1, 2, 3, 512, 513, 5000] {
            g.record(n);
        }
        g.record_failure();
        let s = g.snapshot();
        assert_eq!((s.count, s.sum, g.failed()), (6, 1 + 2 + 3 + 512 + 513 + 5000, 1));
        assert_eq!(s.buckets.len(), GROUP_SIZE_BOUNDS.len() + 1);
        assert_eq!((s.buckets[0], s.buckets[1], s.buckets[2]), (1, 1, 1));
        assert_eq!((s.buckets[9], s.buckets[10], s.buckets[12]), (1, 1, 1));
    }
}
