//! The one writer: a thread that owns the write connection and commits queued jobs in groups.
//!
//! The jobs of a group run in one transaction, and only after its commit (with
//! `synchronous=FULL`, an fsync of the WAL) does each caller get its answer: one fsync serves the
//! whole group (group commit), and no lock is held around a request.
//!
//! The contract of a job: it may *refuse* (`StoreError::UnknownReference` or `Conflict`) only
//! before its first write, so a refusal needs no rollback and the group goes on. Any other
//! error may come after a partial write, so it rolls back the whole group and every caller in
//! it is told the write did not happen. (Per-job savepoints would cost two statements per
//! write for the sake of failures that only a full disk or a bug produce.)

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use agentsight_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::deltas;
use crate::index::{Batch, Feed};

/// Runs after the group's commit with its outcome, to answer the caller.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A unit of work: writes through the connection, says whether it succeeded.
type Job = Box<dyn FnOnce(&Connection) -> (JobOutcome, Completion) + Send>;

/// How a job ended, for the group.
#[derive(PartialEq, Eq)]
enum JobOutcome {
    /// Wrote what it had to.
    Done,
    /// Refused before writing anything.
    Refused,
    /// Failed, perhaps after writing: the group must roll back.
    Failed,
}

/// The most jobs committed in one transaction.
const MAX_GROUP: usize = 512;

/// A handle to the writer thread.
pub(crate) struct Writer {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, with a queue of `capacity` jobs; what each group
    /// changes in the metric facts goes to `feed` after its commit.
    pub(crate) fn start(conn: Connection, capacity: usize, feed: Option<Feed>) -> std::io::Result<Writer> {
        let (tx, rx) = sync_channel::<Job>(capacity);
        let thread = std::thread::Builder::new()
            .name("agentsight-writer".into())
            .spawn(move || run(conn, rx, feed))?;
        Ok(Writer { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues `f` and waits for the group commit that includes it.
    pub(crate) async fn submit<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let outcome = match &result {
                Ok(_) => JobOutcome::Done,
                Err(StoreError::UnknownReference { .. } | StoreError::Conflict { .. }) => JobOutcome::Refused,
                Err(_) => JobOutcome::Failed,
            };
            let done: Completion = Box::new(move |commit| {
                let _ = reply.send(commit.and(result));
            });
            (outcome, done)
        });
        let tx = self.tx.as_ref().ok_or_else(|| StoreError::Unavailable("store is closed".into()))?;
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(StoreError::Unavailable("write queue is full".into()));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(StoreError::Unavailable("writer has stopped".into()));
            }
        }
        answer.await.map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }
}

impl Drop for Writer {
    /// Closes the queue, lets the thread commit what was queued, and waits for it.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut conn: Connection, rx: Receiver<Job>, feed: Option<Feed>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut seen_version: Option<i64> = None;
    while let Ok(first) = rx.recv() {
        // Another process (the CLI, `agentsight demo`) may have written since our last group:
        // then what the writer caches about conversations may be stale.
        let version = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).ok();
        if version.is_none() || version != seen_version {
            crate::writes::forget_cached();
            seen_version = version;
        }
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let (result, done) = commit_group(&mut conn, &mut group, feed.as_ref());
        for d in done {
            d(result.as_ref().map(|_| ()).map_err(clone_err));
        }
    }
    tracing::debug!("writer stopped");
}

/// Runs one cached statement (no parsing per group).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs a group in one transaction; returns the commit's outcome and the callers to answer.
///
/// A group that changed metric facts also counts itself in `write_log.seq` and, once
/// committed, hands its changes (with the touched conversations read back inside the
/// transaction) to the metrics index — before any caller is answered, so a caller's next
/// metrics query waits for them.
fn commit_group(
    conn: &mut Connection,
    group: &mut Vec<Job>,
    feed: Option<&Feed>,
) -> (Result<(), StoreError>, Vec<Completion>) {
    let n = group.len();
    let mut done: Vec<Completion> = Vec::with_capacity(n);
    let mut jobs = group.drain(..);
    let mut batch: Option<Batch> = None;
    deltas::take();
    let outcome = (|| -> Result<(), String> {
        let run = |sql: &str| run_cached(conn, sql).map_err(|e| e.to_string());
        run("BEGIN IMMEDIATE")?;
        for job in jobs.by_ref() {
            let (outcome, completion) = job(conn);
            done.push(completion);
            if outcome == JobOutcome::Failed {
                return Err("a write in the group failed".into());
            }
        }
        let pending = deltas::take();
        if !pending.is_empty() {
            let seq: i64 = conn
                .prepare_cached("UPDATE write_log SET seq = seq + 1 WHERE id = 1 RETURNING seq")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(|e| e.to_string())?;
            if let Some(feed) = feed {
                let convs = deltas::read_states(conn, &pending.touched).map_err(|e| e.to_string())?;
                feed.committing(seq);
                batch = Some(Batch { seq, convs, entries: pending.entries });
            }
        }
        run("COMMIT")
    })();
    // Jobs never reached are dropped with their reply channel; their callers get "unavailable".
    drop(jobs);
    if let (Ok(()), Some(feed), Some(b)) = (&outcome, feed, batch) {
        feed.committed(b);
    }
    let result = outcome.map_err(|e| {
        tracing::error!(error = %e, jobs = n, "group commit failed");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        crate::writes::forget_cached();
        StoreError::Unavailable(format!("commit failed: {e}"))
    });
    (result, done)
}

fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Internal(other.to_string()),
    }
}
