//! The one writer of a database file: a thread that owns the write connection and commits queued
//! jobs in groups.
//!
//! The jobs of a group run in one transaction, and only after its commit (with
//! `synchronous=FULL`, an fsync of the WAL) does each caller get its answer: one fsync serves the
//! whole group (group commit), and no lock is held around a request.
//!
//! Two kinds of job. A *write* is a closure whose caller waits for the commit. The contract of a
//! write: it may *refuse* (`StoreError::UnknownReference` or `Conflict`) only before its first
//! write, so a refusal needs no rollback and the group goes on. Any other error may come after a
//! partial write, so it rolls back the whole group and every caller in it is told the write did
//! not happen. (Per-job savepoints would cost two statements per write for the sake of failures
//! that only a full disk or a bug produce.)
//!
//! A *projection* turns a span batch that is already archived (durable in the archive database,
//! its client answered) into rows of this database; it is kept until its group commits. A group
//! of projections only is committed without an fsync (`synchronous=NORMAL`): what it writes can
//! be made again from the archive, and the projection records the last batch it projected
//! (`span_log`) in the same transaction, so a batch is projected again after a crash exactly
//! when its projection was lost. When a group fails, its projections run again one by one, each
//! in a transaction of its own; one that fails alone is recorded as failed (`span_log_failures`)
//! and skipped, so one bad batch cannot stop the others. If even that record cannot be written,
//! projecting stops until the next start, which projects again from the archive.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use agentsight_core::spans::SpanIngest;
use agentsight_core::time::now_micros;
use agentsight_store::{IngestOutcome, StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::archive::Progress;
use crate::archiving::Plan;
use crate::deltas;
use crate::index::{Batch, Feed};
use crate::traces::Segments;

/// Runs after the group's commit with its outcome, to answer the caller.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs on the connection, says whether it succeeded.
type WriteFn = Box<dyn FnOnce(&Connection) -> (JobOutcome, Completion) + Send>;

/// A unit of work for the writer thread.
enum Job {
    /// A write whose caller waits for the commit.
    Write(WriteFn),
    /// The projection of an archived span batch.
    Project(Projection),
}

/// How a projection ended.
#[derive(Debug)]
pub(crate) enum Projected {
    /// Committed.
    Done(IngestOutcome),
    /// Could not be projected: recorded in `span_log_failures`, the batch stays archived.
    Failed(String),
    /// Not projected now (the writer stopped projecting, or is shutting down); the next start
    /// projects it from the archive.
    Deferred(String),
}

/// An archived batch to project, and whom to tell.
pub(crate) struct Projection {
    /// Its id in the archive.
    pub(crate) id: i64,
    /// The batch, validated.
    pub(crate) batch: SpanIngest,
    /// What its archiving planned.
    pub(crate) plan: Plan,
    /// Called once the projection is committed, failed or deferred.
    pub(crate) done: Box<dyn FnOnce(Projected) + Send>,
}

/// How a write ended, for the group.
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

/// What the writer thread works with besides its connection.
pub(crate) struct Context {
    /// Commits of groups with writes fsync the WAL.
    pub(crate) fsync: bool,
    /// The metrics index's feed.
    pub(crate) feed: Option<Feed>,
    /// Where projections are counted (`None`: this writer projects nothing, as the archive's).
    pub(crate) progress: Option<Arc<Progress>>,
    /// Trace segments, sealed after every group that committed (the archive's writer, which
    /// writes the span rows).
    pub(crate) segments: Option<Arc<Segments>>,
}

/// A handle to the writer thread.
pub(crate) struct Writer {
    tx: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// Queues jobs from another thread (the archive's writer hands projections over with it).
#[derive(Clone)]
pub(crate) struct Queue {
    tx: SyncSender<Job>,
}

impl Queue {
    /// Queues a projection, waiting while the queue is full; gives it back if the writer has
    /// stopped.
    pub(crate) fn project(&self, p: Projection) -> Result<(), Projection> {
        self.tx.send(Job::Project(p)).map_err(|e| match e.0 {
            Job::Project(p) => p,
            Job::Write(_) => unreachable!("a projection was sent"),
        })
    }

    /// Queues one statement's worth of cleanup nobody waits for: skipped when the queue is full
    /// or the writer has stopped; its failure is logged and does not fail its group (one
    /// statement either happens or not).
    pub(crate) fn detached<F>(&self, f: F)
    where
        F: FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    {
        let job = Job::Write(Box::new(move |conn| {
            let outcome = match f(conn) {
                Ok(()) => JobOutcome::Done,
                Err(e) => {
                    tracing::warn!(error = %e, "a cleanup write failed");
                    JobOutcome::Refused
                }
            };
            let done: Completion = Box::new(|_| {});
            (outcome, done)
        }));
        let _ = self.tx.try_send(job);
    }
}

impl Writer {
    /// Starts the writer thread `name` on `conn`, with a queue of `capacity` jobs.
    pub(crate) fn start(
        name: &str,
        conn: Connection,
        capacity: usize,
        ctx: Context,
    ) -> std::io::Result<Writer> {
        let (tx, rx) = sync_channel::<Job>(capacity);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || run(conn, rx, ctx))?;
        Ok(Writer { tx: Some(tx), thread: Some(thread) })
    }

    /// A queue to this writer (it stops once this handle and every queue are dropped).
    pub(crate) fn queue(&self) -> Option<Queue> {
        self.tx.clone().map(|tx| Queue { tx })
    }

    /// Queues `f` and waits for the group commit that includes it.
    pub(crate) async fn submit<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        self.submit_then(f, move |r| {
            let _ = reply.send(r);
        })?;
        answer.await.map_err(|_| StoreError::Unavailable("the write was not committed".into()))?
    }

    /// Queues `f`; `then` runs on the writer thread once the group including it has committed
    /// (or failed), with `f`'s result. Unavailable at once when the queue is full.
    pub(crate) fn submit_then<T, F, C>(&self, f: F, then: C) -> StoreResult<()>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        C: FnOnce(StoreResult<T>) + Send + 'static,
    {
        let job = Job::Write(Box::new(move |conn| {
            let result = f(conn);
            let outcome = match &result {
                Ok(_) => JobOutcome::Done,
                Err(StoreError::UnknownReference { .. } | StoreError::Conflict { .. }) => JobOutcome::Refused,
                Err(_) => JobOutcome::Failed,
            };
            let done: Completion = Box::new(move |commit| then(commit.and(result)));
            (outcome, done)
        }));
        let tx = self.tx.as_ref().ok_or_else(|| StoreError::Unavailable("store is closed".into()))?;
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(StoreError::Unavailable("write queue is full".into())),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Unavailable("writer has stopped".into())),
        }
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

/// The writer thread's state between groups.
struct State {
    ctx: Context,
    /// The `synchronous` setting in force (changed only between groups).
    synchronous_full: Option<bool>,
    /// Set when a failed projection could not even be recorded: projections wait for a restart.
    halted: Option<String>,
}

fn run(mut conn: Connection, rx: Receiver<Job>, ctx: Context) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut seen_version: Option<i64> = None;
    let mut st = State { ctx, synchronous_full: None, halted: None };
    loop {
        // A job already queued when the last group ended: the writer is busy, and may wait for
        // more projections ([`linger`]); one that had to be waited for is done at once.
        let (first, busy) = match rx.try_recv() {
            Ok(j) => (j, true),
            Err(_) => match rx.recv() {
                Ok(j) => (j, false),
                Err(_) => break,
            },
        };
        // Another process (the CLI, `agentsight demo`) may have written since our last group:
        // then what the writer caches about conversations may be stale.
        let version = conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).ok();
        if version.is_none() || version != seen_version {
            forget_cached();
            seen_version = version;
        }
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        if busy {
            linger(&rx, &mut group);
        }
        run_group(&mut conn, &mut st, &mut group);
    }
    tracing::debug!("writer stopped");
}

/// Projections a busy writer waits for, up to [`LINGER`], before it commits a group of nothing
/// else (a writer that was idle commits at once). Each commit writes every page its group
/// dirtied to the WAL, and a batch dirties a page of each per-conversation index for each of its
/// conversations and the tails of the time-ordered ones: batches projected together share those
/// pages and their commit (`docs/benchmarks.md` §4: at 4 connections, groups of 1–2 batches
/// without the wait).
const LINGER_FOR: usize = 64;
/// How long a busy writer waits for [`LINGER_FOR`] projections. Nobody waits on a projection but
/// a read behind the barrier, which waits this much longer under load at most.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

/// Adds the projections queued within [`LINGER`] to a group of projections only.
fn linger(rx: &Receiver<Job>, group: &mut Vec<Job>) {
    if group.len() >= LINGER_FOR || !group.iter().all(|j| matches!(j, Job::Project(_))) {
        return;
    }
    let until = std::time::Instant::now() + LINGER;
    while group.len() < LINGER_FOR {
        let Some(left) = until.checked_duration_since(std::time::Instant::now()) else { break };
        match rx.recv_timeout(left) {
            Ok(j) => {
                let project = matches!(j, Job::Project(_));
                group.push(j);
                if !project {
                    break;
                }
            }
            Err(_) => break,
        }
    }
}

/// Forgets what this writer thread caches about its database (each module's caches are
/// thread-local: the main writer's in `writes`, the archive writer's in `archiving`; the other
/// module's are empty on a thread).
fn forget_cached() {
    crate::writes::forget_cached();
    crate::archiving::forget_cached();
}

/// Runs one cached statement (no parsing per group).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Sets `synchronous` for the next transaction: an fsync at commit only when the group has
/// writes whose callers wait for durability (and fsync is on).
fn set_synchronous(conn: &Connection, st: &mut State, full: bool) -> Result<(), String> {
    let full = full && st.ctx.fsync;
    if st.synchronous_full != Some(full) {
        conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })
            .map_err(|e| e.to_string())?;
        st.synchronous_full = Some(full);
    }
    Ok(())
}

/// One transaction: `BEGIN IMMEDIATE`, `body`, the metrics bookkeeping, `COMMIT`; on failure the
/// transaction is rolled back and the writer's caches forgotten. A transaction that changed
/// metric facts counts itself in `write_log.seq` and, once committed, hands its changes (with
/// the touched conversations read back inside the transaction) to the metrics index, before
/// any caller is answered, so a caller's next metrics query waits for them.
fn transaction(
    conn: &Connection,
    feed: Option<&Feed>,
    body: impl FnOnce(&Connection) -> Result<(), String>,
) -> Result<(), String> {
    deltas::take();
    let mut batch: Option<Batch> = None;
    let outcome = (|| -> Result<(), String> {
        run_cached(conn, "BEGIN IMMEDIATE").map_err(|e| e.to_string())?;
        body(conn)?;
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
        run_cached(conn, "COMMIT").map_err(|e| e.to_string())
    })();
    match outcome {
        Ok(()) => {
            if let (Some(feed), Some(b)) = (feed, batch) {
                feed.committed(b);
            }
            Ok(())
        }
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            deltas::take();
            forget_cached();
            Err(e)
        }
    }
}

/// Projects `p` and records it as the last batch projected.
fn project(conn: &Connection, p: &Projection) -> Result<IngestOutcome, String> {
    let out = crate::writes::project_batch(conn, &p.batch, &p.plan).map_err(|e| e.to_string())?;
    crate::archive::mark_projected(conn, p.id).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Runs a group in one transaction, in the order queued, and answers everyone in it; a failed
/// group's projections run again one by one.
fn run_group(conn: &mut Connection, st: &mut State, group: &mut Vec<Job>) {
    let n = group.len();
    let mut jobs: Vec<(Option<WriteFn>, Option<Projection>)> = Vec::with_capacity(n);
    for job in group.drain(..) {
        match job {
            Job::Write(w) => jobs.push((Some(w), None)),
            Job::Project(p) if st.halted.is_some() => {
                let why = st.halted.clone().unwrap_or_default();
                (p.done)(Projected::Deferred(why));
            }
            Job::Project(p) => jobs.push((None, Some(p))),
        }
    }
    if jobs.is_empty() {
        return;
    }
    let has_writes = jobs.iter().any(|(w, _)| w.is_some());
    let mut done: Vec<Completion> = Vec::with_capacity(n);
    let mut outcomes: Vec<IngestOutcome> = Vec::new();
    let result = set_synchronous(conn, st, has_writes).and_then(|()| {
        transaction(conn, st.ctx.feed.as_ref(), |conn| {
            for (w, p) in jobs.iter_mut() {
                if let Some(p) = p {
                    outcomes.push(project(conn, p)?);
                } else if let Some(w) = w.take() {
                    let (outcome, completion) = w(conn);
                    done.push(completion);
                    if outcome == JobOutcome::Failed {
                        return Err("a write in the group failed".into());
                    }
                }
            }
            Ok(())
        })
    });
    let projections = jobs.into_iter().filter_map(|(_, p)| p);
    // Writes never reached are dropped with their reply channel: their callers get "unavailable".
    match result {
        Ok(()) => {
            for d in done {
                d(Ok(()));
            }
            for (p, out) in projections.zip(outcomes) {
                finish(st, p, Projected::Done(out));
            }
            seal_segments(conn, st);
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = n, "group commit failed");
            for d in done {
                d(Err(StoreError::Unavailable(format!("commit failed: {e}"))));
            }
            for p in projections {
                project_alone(conn, st, p);
            }
        }
    }
}

/// A projection of a failed group, again in a transaction of its own; recorded as failed when
/// it fails alone.
fn project_alone(conn: &Connection, st: &mut State, p: Projection) {
    if let Some(why) = &st.halted {
        let why = why.clone();
        return (p.done)(Projected::Deferred(why));
    }
    let mut out = None;
    let retried = set_synchronous(conn, st, false).and_then(|()| {
        transaction(conn, st.ctx.feed.as_ref(), |conn| {
            out = Some(project(conn, &p)?);
            Ok(())
        })
    });
    let error = match (retried, out) {
        (Ok(()), Some(out)) => return finish(st, p, Projected::Done(out)),
        (Ok(()), None) => "no outcome".to_string(),
        (Err(e), _) => e,
    };
    tracing::error!(batch = p.id, error = %error, "a span batch could not be projected; it stays in the archive");
    let recorded = transaction(conn, None, |conn| {
        crate::archive::record_failure(conn, p.id, &error, now_micros()).map_err(|e| e.to_string())
    });
    match recorded {
        Ok(()) => finish(st, p, Projected::Failed(error)),
        Err(e) => {
            let why = format!(
                "projection stopped until the next start: batch {} failed ({error}) and could not be recorded ({e})",
                p.id
            );
            tracing::error!("{why}");
            st.halted = Some(why.clone());
            (p.done)(Projected::Deferred(why));
        }
    }
}

/// Seals the trace segments the committed spans fill (`crate::traces`), in a transaction of its
/// own (the archive's writer, after each group; nothing to do for most); a failure is logged
/// and tried again after the next group (a trace's spans are found meanwhile all the same, one
/// by one, after the last sealed segment).
fn seal_segments(conn: &Connection, st: &State) {
    let Some(segments) = &st.ctx.segments else { return };
    let sealed =
        transaction(conn, None, |conn| crate::traces::seal(conn).map(|_| ()).map_err(|e| e.to_string()))
            .and_then(|()| segments.refresh(conn).map_err(|e| e.to_string()));
    if let Err(e) = sealed {
        tracing::warn!(error = %e, "sealing trace segments failed; tried again after the next group");
    }
}

/// Counts a projection as done (committed or recorded as failed) and tells its caller.
fn finish(st: &State, p: Projection, how: Projected) {
    if let Some(progress) = &st.ctx.progress {
        progress.projected(p.id);
    }
    (p.done)(how);
}
