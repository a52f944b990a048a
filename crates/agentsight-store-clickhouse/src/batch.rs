//! The batching inserter: ClickHouse wants few, large inserts (about one per second per table,
//! thousands of rows each), while an SDK call must be answered within a few hundred
//! milliseconds. Per table, one task collects the rows of concurrent callers and sends them as
//! one `INSERT` when the first row has waited [`BatchOptions::interval`] or the batch reaches
//! [`BatchOptions::max_rows`] rows (or [`BatchOptions::max_bytes`]). Each caller is answered
//! once ClickHouse took the insert that holds its rows; when it fails, every caller in it gets
//! the error. One insert per table is in flight at a time: rows arriving meanwhile form the
//! next batch, so batches grow with the load.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentsight_store::{GroupSizes, QueueStats, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::http::Http;

/// When a batch is sent.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// How long the first row of a batch waits for others.
    pub interval: Duration,
    /// A batch with this many rows is sent at once.
    pub max_rows: usize,
    /// A batch with this many bytes of JSON is sent at once.
    pub max_bytes: usize,
    /// Rows waiting per table at most; beyond, callers are answered `Unavailable`.
    pub max_queued: usize,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            interval: Duration::from_millis(50),
            max_rows: 10_000,
            max_bytes: 16 << 20,
            max_queued: 100_000,
        }
    }
}

/// Rows of one caller, as JSON lines, and where to answer.
struct Pending {
    rows: Vec<u8>,
    count: usize,
    done: oneshot::Sender<Result<(), Arc<StoreError>>>,
}

/// One batching task per table.
pub(crate) struct Batcher {
    queues: HashMap<&'static str, mpsc::Sender<Pending>>,
    inserts: Arc<HashMap<&'static str, AtomicU64>>,
    /// Callers per insert, by table (failed inserts counted too).
    groups: Arc<HashMap<&'static str, GroupSizes>>,
    tables: Vec<&'static str>,
}

impl Batcher {
    /// Starts a task per table, inserting through `http` (tables named as given).
    pub(crate) fn start(http: Http, tables: &[&'static str], opts: BatchOptions) -> Batcher {
        let inserts: Arc<HashMap<&'static str, AtomicU64>> =
            Arc::new(tables.iter().map(|t| (*t, AtomicU64::new(0))).collect());
        let groups: Arc<HashMap<&'static str, GroupSizes>> =
            Arc::new(tables.iter().map(|t| (*t, GroupSizes::default())).collect());
        let mut queues = HashMap::new();
        for &table in tables {
            let (tx, rx) = mpsc::channel(opts.max_queued.max(1));
            tokio::spawn(run(http.clone(), table, rx, opts, inserts.clone(), groups.clone()));
            queues.insert(table, tx);
        }
        Batcher { queues, inserts, groups, tables: tables.to_vec() }
    }

    /// Each table's queue (callers waiting for the next insert) and its inserts so far.
    pub(crate) fn stats(&self) -> Vec<QueueStats> {
        self.tables
            .iter()
            .filter_map(|t| {
                let (queue, sizes) = (self.queues.get(t)?, self.groups.get(t)?);
                Some(QueueStats {
                    name: (*t).to_string(),
                    depth: (queue.max_capacity() - queue.capacity()) as u64,
                    capacity: queue.max_capacity() as u64,
                    groups: sizes.snapshot(),
                    failed_groups: sizes.failed(),
                })
            })
            .collect()
    }

    /// How many `INSERT`s into `table` ClickHouse has taken so far.
    pub(crate) fn inserts(&self, table: &str) -> u64 {
        self.inserts.get(table).map_or(0, |n| n.load(Ordering::Relaxed))
    }

    /// Adds rows (each a JSON object) to the table's next batch and waits until ClickHouse took
    /// it. Rows of `messages` also go to `message_ids` (their id and conversation, for reads by
    /// id), at once: the call returns when both took them.
    pub(crate) async fn insert(&self, table: &'static str, rows: &[serde_json::Value]) -> StoreResult<()> {
        if table == "messages" && self.queues.contains_key("message_ids") {
            let ids: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "agent_id": r["agent_id"], "id": r["id"], "conversation_pk": r["conversation_pk"]
                    })
                })
                .collect();
            tokio::try_join!(self.insert_into(table, rows), self.insert_into("message_ids", &ids))?;
            return Ok(());
        }
        self.insert_into(table, rows).await
    }

    /// [`Batcher::insert`] into one table.
    async fn insert_into(&self, table: &'static str, rows: &[serde_json::Value]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let queue =
            self.queues.get(table).ok_or_else(|| StoreError::internal(format!("no batcher for {table}")))?;
        let mut buf = Vec::new();
        for r in rows {
            serde_json::to_writer(&mut buf, r).map_err(|e| StoreError::internal_from("encoding a row", e))?;
            buf.push(b'\n');
        }
        let (done, answer) = oneshot::channel();
        queue.try_send(Pending { rows: buf, count: rows.len(), done }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::unavailable(format!("ClickHouse insert queue of {table} is full"))
            }
            mpsc::error::TrySendError::Closed(_) => StoreError::unavailable("the store is closing"),
        })?;
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(shared(format!("batched insert into {table}"), e)),
            Err(_) => Err(StoreError::internal(format!("the batcher of {table} stopped"))),
        }
    }
}

/// The batch's error for one of its callers: the same kind, the shared error as the source.
pub(crate) fn shared(context: String, e: Arc<StoreError>) -> StoreError {
    match &*e {
        StoreError::Unavailable { .. } => StoreError::unavailable_from(context, e),
        StoreError::Storage { kind, .. } => StoreError::storage(*kind, context, e),
        _ => StoreError::internal_from(context, e),
    }
}

async fn run(
    http: Http,
    table: &'static str,
    mut rx: mpsc::Receiver<Pending>,
    opts: BatchOptions,
    inserts: Arc<HashMap<&'static str, AtomicU64>>,
    groups: Arc<HashMap<&'static str, GroupSizes>>,
) {
    while let Some(first) = rx.recv().await {
        let deadline = tokio::time::Instant::now() + opts.interval;
        let (mut rows, mut count) = (first.rows, first.count);
        let mut waiting = vec![first.done];
        while count < opts.max_rows && rows.len() < opts.max_bytes {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => {
                    rows.extend_from_slice(&p.rows);
                    count += p.count;
                    waiting.push(p.done);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let result = http.insert(table, rows).await.map_err(Arc::new);
        if let Some(g) = groups.get(table) {
            g.record(waiting.len());
            if result.is_err() {
                g.record_failure();
            }
        }
        if result.is_ok()
            && let Some(n) = inserts.get(table)
        {
            n.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(
            table,
            rows = count,
            callers = waiting.len(),
            ok = result.is_ok(),
            "ClickHouse insert"
        );
        for w in waiting {
            let _ = w.send(result.clone());
        }
    }
}
