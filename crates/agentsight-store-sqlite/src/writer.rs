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
//! projecting stops until the next start, which projects again from the archive. A projection
//! that fails alone because the disk is full is neither: the batch is fine and was acknowledged,
//! so it *stalls* ([`State::stalled`]) with every projection queued after it, in order, and is
//! tried again every [`STALLED_RETRY_AFTER`] and before every group until it commits; writes
//! meanwhile go on (and fail with the same full disk until space is freed).
//!
//! Every job runs on the thread's [`WriteContext`]: its connection, what it caches about its
//! database (the main writer's [`crate::writes::Cache`], the archive writer's
//! [`crate::archiving::Held`]) and the metric changes of the group in progress. The thread makes
//! it at start and passes it `&mut` to each job; [`WriteContext::forget`] empties it (all but
//! the connection) after a rollback and when another process wrote.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use agentsight_core::spans::SpanIngest;
use agentsight_core::time::now_micros;
use agentsight_store::{
    BoxError, Change, ChangeListener, Committed, GroupSizes, IngestOutcome, QueueStats, StorageFailure,
    StoreError, StoreResult, chain,
};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::archive::Progress;
use crate::archiving::Plan;
use crate::deltas::Pending;
use crate::index::{Batch, Feed};
use crate::sqlerr_in;
use crate::traces::Segments;

/// Runs after the group's commit with its outcome, to answer the caller.
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write: runs on the write context, says whether it succeeded, and what its commit changes
/// for the store's listeners.
type WriteFn<C> = Box<dyn FnOnce(&mut WriteContext<C>) -> (JobOutcome, Completion, Option<Committed>) + Send>;

/// What every write says its commit changes for the store's listeners (the live feed). Each
/// write names it when it is queued, so no write can be added without deciding; the writer
/// reports it once the group that holds the write has committed, with the group's metric
/// deltas, and never for a write that failed or was rolled back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Notify {
    /// Nothing an agent's dashboard shows (configuration: users, keys, sessions, recovery
    /// bookkeeping).
    Nothing,
    /// One write of this kind for this agent.
    Agent(i64, Change),
}

/// The listeners of a store's committed writes.
#[derive(Default)]
pub(crate) struct Listeners(std::sync::RwLock<Vec<Arc<dyn ChangeListener>>>);

impl Listeners {
    /// Adds a listener.
    pub(crate) fn add(&self, l: Arc<dyn ChangeListener>) {
        if let Ok(mut v) = self.0.write() {
            v.push(l);
        }
    }

    /// Tells every listener of `changes` (nothing when there are none).
    fn tell(&self, changes: &[Committed]) {
        if changes.is_empty() {
            return;
        }
        if let Ok(v) = self.0.read() {
            for l in v.iter() {
                l.committed(changes);
            }
        }
    }
}

/// What the projection of a batch of `agent_id` changes: the conversations it created, the
/// messages it projected, and the batch itself.
fn projection_changes(agent_id: i64, out: &IngestOutcome, into: &mut Vec<Committed>) {
    let created = out.conversations.iter().filter(|(_, created)| *created).count() as u64;
    for (change, count) in
        [(Change::Conversation, created), (Change::Message, out.messages), (Change::Other, 1)]
    {
        if count > 0 {
            into.push(Committed { agent_id, change, count });
        }
    }
}

/// A writer thread's write context, made by the thread and passed `&mut` to every job.
pub(crate) struct WriteContext<C> {
    /// The write connection.
    pub(crate) conn: Connection,
    /// What the writer caches about its database: true of what is committed plus what the
    /// group in progress wrote.
    pub(crate) cache: C,
    /// The metric changes of the group in progress (`crate::deltas`), handed to the metrics
    /// index after its commit.
    pub(crate) deltas: Pending,
}

/// The main writer's context (`crate::writes`).
pub(crate) type MainContext = WriteContext<crate::writes::Cache>;
/// The archive writer's context (`crate::archiving`).
pub(crate) type ArchiveContext = WriteContext<crate::archiving::Held>;

impl<C: Caches> WriteContext<C> {
    /// A context on `conn` that knows nothing yet.
    pub(crate) fn new(conn: Connection) -> WriteContext<C> {
        WriteContext { conn, cache: C::default(), deltas: Pending::default() }
    }

    /// Forgets everything but the connection: the caches and the pending metric changes. After
    /// a rollback, and when another process wrote to the database.
    pub(crate) fn forget(&mut self) {
        self.cache.clear();
        self.deltas = Pending::default();
    }
}

/// What a writer caches, and whether it projects span batches.
pub(crate) trait Caches: Default + Send + 'static {
    /// Empties every cache.
    fn clear(&mut self);

    /// Projects an archived batch into this writer's database: only the main writer does.
    fn project(cx: &mut WriteContext<Self>, batch: &SpanIngest, plan: &Plan) -> StoreResult<IngestOutcome> {
        let _ = (cx, batch, plan);
        Err(StoreError::internal("this writer projects nothing"))
    }
}

/// A unit of work for the writer thread.
enum Job<C> {
    /// A write whose caller waits for the commit.
    Write(WriteFn<C>),
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
enum JobOutcome {
    /// Wrote what it had to.
    Done,
    /// Refused before writing anything.
    Refused,
    /// Failed, perhaps after writing: the group must roll back, failing with this error.
    Failed(StoreError),
}

/// The most jobs committed in one transaction.
const MAX_GROUP: usize = 512;

/// What the writer thread works with besides its write context.
pub(crate) struct Config {
    /// Commits of groups with writes fsync the WAL.
    pub(crate) fsync: bool,
    /// The metrics index's feed.
    pub(crate) feed: Option<Feed>,
    /// Where projections are counted (`None`: this writer projects nothing, as the archive's).
    pub(crate) progress: Option<Arc<Progress>>,
    /// Trace segments, sealed after every group that committed (the archive's writer, which
    /// writes the span rows).
    pub(crate) segments: Option<Arc<Segments>>,
    /// Who hears of committed writes (the main writer's; the archive's reports nothing).
    pub(crate) listeners: Option<Arc<Listeners>>,
}

/// What the writer counts as it works, for [`agentsight_store::StatsReader`]: atomics only.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Jobs queued and not yet taken into a group (a job is counted before it is sent, so this
    /// never goes below what is in the channel).
    queued: AtomicI64,
    /// The queue's capacity.
    capacity: usize,
    /// Jobs per group run (committed or rolled back).
    groups: GroupSizes,
}

impl Counters {
    /// The queue `name` now.
    pub(crate) fn stats(&self, name: &str) -> QueueStats {
        QueueStats {
            name: name.to_string(),
            depth: u64::try_from(self.queued.load(Ordering::Relaxed)).unwrap_or(0),
            capacity: self.capacity as u64,
            groups: self.groups.snapshot(),
            failed_groups: self.groups.failed(),
        }
    }

    /// Counts a job about to be sent (before, so the count never lags the channel).
    fn sending(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes back [`Counters::sending`] for a job that was not sent.
    fn not_sent(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A handle to the writer thread.
pub(crate) struct Writer<C> {
    tx: Option<SyncSender<Job<C>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

/// Queues jobs from another thread (the archive's writer hands projections over with it).
pub(crate) struct Queue<C> {
    tx: SyncSender<Job<C>>,
    counters: Arc<Counters>,
}

impl<C> Clone for Queue<C> {
    fn clone(&self) -> Self {
        Queue { tx: self.tx.clone(), counters: self.counters.clone() }
    }
}

impl<C: Caches> Queue<C> {
    /// Queues a projection, waiting while the queue is full; gives it back if the writer has
    /// stopped.
    pub(crate) fn project(&self, p: Projection) -> Result<(), Projection> {
        self.counters.sending();
        self.tx.send(Job::Project(p)).map_err(|e| {
            self.counters.not_sent();
            match e.0 {
                Job::Project(p) => p,
                Job::Write(_) => unreachable!("a projection was sent"),
            }
        })
    }

    /// Queues one statement's worth of cleanup nobody waits for: skipped when the queue is full
    /// or the writer has stopped; its failure is logged and does not fail its group (one
    /// statement either happens or not).
    pub(crate) fn detached<F>(&self, f: F)
    where
        F: FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    {
        let job = Job::Write(Box::new(move |cx: &mut WriteContext<C>| {
            let outcome = match f(&cx.conn) {
                Ok(()) => JobOutcome::Done,
                Err(e) => {
                    tracing::warn!(error = %chain(&e), "a cleanup write failed");
                    JobOutcome::Refused
                }
            };
            let done: Completion = Box::new(|_| {});
            (outcome, done, None)
        }));
        self.counters.sending();
        if self.tx.try_send(job).is_err() {
            self.counters.not_sent();
        }
    }
}

impl<C: Caches> Writer<C> {
    /// Starts the writer thread `name` on `conn`, with a queue of `capacity` jobs.
    pub(crate) fn start(
        name: &str,
        conn: Connection,
        capacity: usize,
        ctx: Config,
    ) -> std::io::Result<Writer<C>> {
        let (tx, rx) = sync_channel::<Job<C>>(capacity);
        let counters = Arc::new(Counters { capacity, ..Counters::default() });
        let c = counters.clone();
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || run(conn, rx, ctx, &c))?;
        Ok(Writer { tx: Some(tx), thread: Some(thread), counters })
    }

    /// A queue to this writer (it stops once this handle and every queue are dropped).
    pub(crate) fn queue(&self) -> Option<Queue<C>> {
        self.tx.clone().map(|tx| Queue { tx, counters: self.counters.clone() })
    }

    /// The queue `name` and its groups now.
    pub(crate) fn stats(&self, name: &str) -> QueueStats {
        self.counters.stats(name)
    }

    /// Queues `f` and waits for the group commit that includes it; `notify` is reported to the
    /// listeners once it has committed.
    pub(crate) async fn submit<T, F>(&self, notify: Notify, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteContext<C>) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        self.submit_then(notify, f, move |r| {
            let _ = reply.send(r);
        })?;
        answer.await.map_err(|_| StoreError::unavailable("the write was not committed"))?
    }

    /// Queues `f`; `then` runs on the writer thread once the group including it has committed
    /// (or failed), with `f`'s result. Unavailable at once when the queue is full.
    pub(crate) fn submit_then<T, F, D>(&self, notify: Notify, f: F, then: D) -> StoreResult<()>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteContext<C>) -> StoreResult<T> + Send + 'static,
        D: FnOnce(StoreResult<T>) + Send + 'static,
    {
        let job = Job::Write(Box::new(move |cx: &mut WriteContext<C>| match f(cx) {
            Err(e) if !matches!(e, StoreError::UnknownReference { .. } | StoreError::Conflict { .. }) => {
                // The group fails with `e`; this caller, as every caller in it, is told so.
                let done: Completion = Box::new(move |commit| {
                    then(commit.and_then(|()| Err(StoreError::internal("a failed write was committed"))))
                });
                (JobOutcome::Failed(e), done, None)
            }
            result => {
                let outcome = if result.is_ok() { JobOutcome::Done } else { JobOutcome::Refused };
                let change = match (notify, &result) {
                    (Notify::Agent(agent_id, change), Ok(_)) => {
                        Some(Committed { agent_id, change, count: 1 })
                    }
                    _ => None,
                };
                let done: Completion = Box::new(move |commit| then(commit.and(result)));
                (outcome, done, change)
            }
        }));
        let tx = self.tx.as_ref().ok_or_else(|| StoreError::unavailable("store is closed"))?;
        self.counters.sending();
        let sent = tx.try_send(job);
        if sent.is_err() {
            self.counters.not_sent();
        }
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(StoreError::unavailable("write queue is full")),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::unavailable("writer has stopped")),
        }
    }
}

impl<C> Drop for Writer<C> {
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
    ctx: Config,
    /// The `synchronous` setting in force (changed only between groups).
    synchronous_full: Option<bool>,
    /// Set when a failed projection could not even be recorded: projections wait for a restart.
    halted: Option<String>,
    /// Projections that failed on a full disk, oldest first, with every projection queued after
    /// them: tried again, in order, until they commit (a full disk is not the batch's fault).
    stalled: VecDeque<Projection>,
}

/// How often stalled projections ([`State::stalled`]) are tried again while the writer has
/// nothing else to do.
pub(crate) const STALLED_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `e` is a full disk (or quota): the failure that passes once space is freed.
fn disk_full(e: &StoreError) -> bool {
    matches!(e, StoreError::Storage { kind: StorageFailure::DiskFull, .. })
}

/// How long the writer waits with nothing to do before it checkpoints what it wrote since its
/// last checkpoint (a passive checkpoint: it never waits for readers). Under load the automatic
/// checkpoint alone runs, in the large steps that keep ingest fast.
pub(crate) const IDLE_CHECKPOINT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Copies the WAL into the database file: `PASSIVE` when idle (as far as readers allow),
/// `TRUNCATE` at a clean stop (the database file then holds everything and the WAL is empty,
/// so the file alone is a complete copy). A failure is logged; nothing depends on it.
fn checkpoint(conn: &Connection, mode: &str) {
    let r = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match r {
        Ok((0, log, done)) => tracing::debug!(mode, wal_pages = log, checkpointed = done, "checkpoint"),
        Ok((_, log, done)) => {
            tracing::debug!(mode, wal_pages = log, checkpointed = done, "checkpoint blocked")
        }
        Err(e) => tracing::warn!(mode, error = %e, "checkpoint failed"),
    }
}

fn run<C: Caches>(conn: Connection, rx: Receiver<Job<C>>, ctx: Config, counters: &Counters) {
    let mut cx = WriteContext::<C>::new(conn);
    let mut group: Vec<Job<C>> = Vec::with_capacity(MAX_GROUP);
    let mut seen_version: Option<i64> = None;
    let mut st = State { ctx, synchronous_full: None, halted: None, stalled: VecDeque::new() };
    // Groups committed since the last checkpoint of the writer's own.
    let mut dirty = false;
    loop {
        // A job already queued when the last group ended: the writer is busy, and may wait for
        // more projections ([`linger`]); one that had to be waited for is done at once.
        let (first, busy) = match rx.try_recv() {
            Ok(j) => (j, true),
            Err(_) if !st.stalled.is_empty() => match rx.recv_timeout(STALLED_RETRY_AFTER) {
                Ok(j) => (j, false),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    retry_stalled(&mut cx, &mut st);
                    dirty = true;
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            },
            Err(_) if dirty => match rx.recv_timeout(IDLE_CHECKPOINT_AFTER) {
                Ok(j) => (j, false),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    checkpoint(&cx.conn, "PASSIVE");
                    dirty = false;
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            },
            Err(_) => match rx.recv() {
                Ok(j) => (j, false),
                Err(_) => break,
            },
        };
        // Another process (the CLI, `agentsight demo`) may have written since our last group:
        // then what the writer caches about conversations may be stale.
        let version = cx.conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).ok();
        if version.is_none() || version != seen_version {
            cx.forget();
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
        counters.queued.fetch_sub(group.len() as i64, Ordering::Relaxed);
        run_group(&mut cx, &mut st, &mut group, &counters.groups);
        dirty = true;
    }
    // Stalled projections were archived: the next start projects them.
    for p in st.stalled.drain(..) {
        (p.done)(Projected::Deferred("the disk was full when the store closed".into()));
    }
    // A clean stop: everything queued is committed; the database file takes it all.
    checkpoint(&cx.conn, "TRUNCATE");
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
fn linger<C>(rx: &Receiver<Job<C>>, group: &mut Vec<Job<C>>) {
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

/// Runs one cached statement (no parsing per group).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Sets `synchronous` for the next transaction: an fsync at commit only when the group has
/// writes whose callers wait for durability (and fsync is on).
fn set_synchronous(conn: &Connection, st: &mut State, full: bool) -> StoreResult<()> {
    let full = full && st.ctx.fsync;
    if st.synchronous_full != Some(full) {
        conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })
            .map_err(|e| sqlerr_in("setting synchronous", e))?;
        st.synchronous_full = Some(full);
    }
    Ok(())
}

/// One transaction: `BEGIN IMMEDIATE`, `body`, the metrics bookkeeping, `COMMIT`; on failure the
/// transaction is rolled back and the write context forgotten ([`WriteContext::forget`]). A transaction that changed
/// metric facts counts itself in `write_log.seq`, journals its changes under that seq (with
/// the touched conversations read back inside the transaction; every process does, so a server
/// replays what the CLI wrote) and, once committed, hands them to the metrics index, before
/// any caller is answered, so a caller's next metrics query waits for them.
fn transaction<C: Caches>(
    cx: &mut WriteContext<C>,
    feed: Option<&Feed>,
    body: impl FnOnce(&mut WriteContext<C>) -> StoreResult<()>,
) -> StoreResult<()> {
    cx.deltas = Pending::default();
    let mut batch: Option<Batch> = None;
    let outcome = (|| -> StoreResult<()> {
        run_cached(&cx.conn, "BEGIN IMMEDIATE").map_err(|e| sqlerr_in("BEGIN", e))?;
        body(cx)?;
        let pending = std::mem::take(&mut cx.deltas);
        if !pending.is_empty() {
            let seq: i64 = cx
                .conn
                .prepare_cached("UPDATE write_log SET seq = seq + 1 WHERE id = 1 RETURNING seq")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(|e| sqlerr_in("counting the write group", e))?;
            let convs = crate::deltas::read_states(&cx.conn, &pending.touched)
                .map_err(|e| sqlerr_in("reading the touched conversations", e))?;
            let b = Batch { seq, convs, entries: pending.entries, removed: pending.removed };
            crate::index::journal(&cx.conn, &b).map_err(|e| sqlerr_in("journaling the write group", e))?;
            if let Some(feed) = feed {
                feed.committing(seq);
                batch = Some(b);
            }
        }
        run_cached(&cx.conn, "COMMIT").map_err(|e| sqlerr_in("COMMIT", e))
    })();
    match outcome {
        Ok(()) => {
            if let (Some(feed), Some(b)) = (feed, batch) {
                feed.committed(b);
            }
            Ok(())
        }
        Err(e) => {
            if !cx.conn.is_autocommit() {
                let _ = cx.conn.execute_batch("ROLLBACK");
            }
            cx.forget();
            Err(e)
        }
    }
}

/// Projects `p` and records it as the last batch projected.
fn project<C: Caches>(cx: &mut WriteContext<C>, p: &Projection) -> StoreResult<IngestOutcome> {
    let out = C::project(cx, &p.batch, &p.plan)?;
    crate::archive::mark_projected(&cx.conn, p.id)?;
    Ok(out)
}

/// A group's failure `e` as told to each of its callers: "commit failed: …", unavailable
/// (retry), or a lasting storage failure when `e` is one; `e`'s cause is the source of each.
fn commit_failed(e: &Arc<StoreError>) -> StoreError {
    let cause = || std::error::Error::source(&**e).map(|_| Box::new(CauseOf(e.clone())) as BoxError);
    match &**e {
        StoreError::Storage { kind, context, .. } => StoreError::Storage {
            kind: *kind,
            context: format!("commit failed: {context}").into(),
            source: Box::new(CauseOf(e.clone())),
        },
        other => {
            StoreError::Unavailable { reason: format!("commit failed: {other}").into(), source: cause() }
        }
    }
}

/// The cause of a shared error (every caller of a failed group is told the group's).
#[derive(Debug)]
struct CauseOf(Arc<StoreError>);

impl std::fmt::Display for CauseOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::error::Error::source(&*self.0) {
            Some(cause) => std::fmt::Display::fmt(cause, f),
            None => Ok(()),
        }
    }
}

impl std::error::Error for CauseOf {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0).and_then(|cause| cause.source())
    }
}

/// Runs a group in one transaction, in the order queued, and answers everyone in it; a failed
/// group's projections run again one by one. Stalled projections are tried first; while some
/// remain, the group's projections wait behind them.
fn run_group<C: Caches>(
    cx: &mut WriteContext<C>,
    st: &mut State,
    group: &mut Vec<Job<C>>,
    sizes: &GroupSizes,
) {
    let n = group.len();
    if !st.stalled.is_empty() {
        retry_stalled(cx, st);
    }
    let mut jobs: Vec<(Option<WriteFn<C>>, Option<Projection>)> = Vec::with_capacity(n);
    for job in group.drain(..) {
        match job {
            Job::Write(w) => jobs.push((Some(w), None)),
            Job::Project(p) if st.halted.is_some() => {
                let why = st.halted.clone().unwrap_or_default();
                (p.done)(Projected::Deferred(why));
            }
            Job::Project(p) if !st.stalled.is_empty() => st.stalled.push_back(p),
            Job::Project(p) => jobs.push((None, Some(p))),
        }
    }
    if jobs.is_empty() {
        return;
    }
    sizes.record(jobs.len());
    let has_writes = jobs.iter().any(|(w, _)| w.is_some());
    let mut done: Vec<Completion> = Vec::with_capacity(n);
    let mut outcomes: Vec<IngestOutcome> = Vec::new();
    let mut changes: Vec<Committed> = Vec::new();
    let result = set_synchronous(&cx.conn, st, has_writes).and_then(|()| {
        transaction(cx, st.ctx.feed.as_ref(), |cx| {
            for (w, p) in jobs.iter_mut() {
                if let Some(p) = p {
                    outcomes.push(project(cx, p)?);
                } else if let Some(w) = w.take() {
                    let (outcome, completion, change) = w(cx);
                    done.push(completion);
                    changes.extend(change);
                    if let JobOutcome::Failed(e) = outcome {
                        return Err(e.context("a write in the group failed"));
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
            let projections: Vec<Projection> = projections.collect();
            if let Some(listeners) = &st.ctx.listeners {
                for (p, out) in projections.iter().zip(&outcomes) {
                    projection_changes(p.batch.agent_id, out, &mut changes);
                }
                listeners.tell(&changes);
            }
            for d in done {
                d(Ok(()));
            }
            for (p, out) in projections.into_iter().zip(outcomes) {
                finish(st, p, Projected::Done(out));
            }
            seal_segments(cx, st);
        }
        Err(e) => {
            tracing::error!(error = %chain(&e), jobs = n, "group commit failed");
            sizes.record_failure();
            let e = Arc::new(e);
            for d in done {
                d(Err(commit_failed(&e)));
            }
            for p in projections {
                project_alone(cx, st, p);
            }
        }
    }
}

/// A projection of a failed group, again in a transaction of its own; recorded as failed when
/// it fails alone, stalled ([`State::stalled`]) when that is for a full disk or others already
/// wait.
fn project_alone<C: Caches>(cx: &mut WriteContext<C>, st: &mut State, p: Projection) {
    if !st.stalled.is_empty() {
        return st.stalled.push_back(p);
    }
    if let Some(p) = project_one(cx, st, p) {
        tracing::warn!(
            batch = p.id,
            "the disk is full: span projection waits (reads answer with what is projected) and is tried again every second"
        );
        if let Some(progress) = &st.ctx.progress {
            progress.set_stalled(true);
        }
        st.stalled.push_back(p);
    }
}

/// Tries the stalled projections again, oldest first, until one still finds the disk full.
fn retry_stalled<C: Caches>(cx: &mut WriteContext<C>, st: &mut State) {
    let before = st.stalled.len();
    while let Some(p) = st.stalled.pop_front() {
        if let Some(p) = project_one(cx, st, p) {
            st.stalled.push_front(p);
            break;
        }
    }
    if before > 0 && st.stalled.is_empty() {
        if let Some(progress) = &st.ctx.progress {
            progress.set_stalled(false);
        }
        tracing::info!(batches = before, "span projection resumed: the stalled batches are projected");
    }
}

/// One projection in a transaction of its own: done, recorded as failed, or deferred (halted);
/// given back when it failed on a full disk.
fn project_one<C: Caches>(cx: &mut WriteContext<C>, st: &mut State, p: Projection) -> Option<Projection> {
    if let Some(why) = &st.halted {
        let why = why.clone();
        (p.done)(Projected::Deferred(why));
        return None;
    }
    let mut out = None;
    let retried = set_synchronous(&cx.conn, st, false).and_then(|()| {
        transaction(cx, st.ctx.feed.as_ref(), |cx| {
            out = Some(project(cx, &p)?);
            Ok(())
        })
    });
    let error = match (retried, out) {
        (Ok(()), Some(out)) => {
            if let Some(listeners) = &st.ctx.listeners {
                let mut changes = Vec::new();
                projection_changes(p.batch.agent_id, &out, &mut changes);
                listeners.tell(&changes);
            }
            finish(st, p, Projected::Done(out));
            return None;
        }
        (Ok(()), None) => "no outcome".to_string(),
        (Err(e), _) if disk_full(&e) => return Some(p),
        (Err(e), _) => chain(&e).to_string(),
    };
    tracing::error!(batch = p.id, error = %error, "a span batch could not be projected; it stays in the archive");
    let recorded =
        transaction(cx, None, |cx| crate::archive::record_failure(&cx.conn, p.id, &error, now_micros()));
    match recorded {
        Ok(()) => finish(st, p, Projected::Failed(error)),
        Err(e) if disk_full(&e) => return Some(p),
        Err(e) => {
            let why = format!(
                "projection stopped until the next start: batch {} failed ({error}) and could not be recorded ({})",
                p.id,
                chain(&e)
            );
            tracing::error!("{why}");
            st.halted = Some(why.clone());
            (p.done)(Projected::Deferred(why));
        }
    }
    None
}

/// Seals the trace segments the committed spans fill (`crate::traces`), in a transaction of its
/// own (the archive's writer, after each group; nothing to do for most); a failure is logged
/// and tried again after the next group (a trace's spans are found meanwhile all the same, one
/// by one, after the last sealed segment).
fn seal_segments<C: Caches>(cx: &mut WriteContext<C>, st: &State) {
    let Some(segments) = &st.ctx.segments else { return };
    let sealed = transaction(cx, None, |cx| crate::traces::seal(&cx.conn).map(|_| ()))
        .and_then(|()| segments.refresh(&cx.conn));
    if let Err(e) = sealed {
        tracing::warn!(error = %chain(&e), "sealing trace segments failed; tried again after the next group");
    }
}

/// Counts a projection as done (committed or recorded as failed) and tells its caller.
fn finish(st: &State, p: Projection, how: Projected) {
    if let Some(progress) = &st.ctx.progress {
        progress.projected(p.id);
    }
    (p.done)(how);
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentsight_core::tracking::{
        ConversationFields, ConversationRef, ConversationUpsert, FeedbackSource, NewFeedback,
    };

    /// Feedback on `conversation`: the write that resolves a reference without creating it.
    fn feedback_on(cx: &mut MainContext, agent_id: i64, conversation: ConversationRef) -> StoreResult<()> {
        let f = NewFeedback {
            agent_id,
            conversation,
            sentiment: "positive".into(),
            source: FeedbackSource::Customer,
            comment: None,
            metadata: "{}".into(),
            created_at: 3,
        };
        match crate::writes::insert_feedback(cx, &f) {
            Err(StoreError::UnknownReference { .. }) => Ok(()),
            Err(e) => Err(e),
            Ok(_) => Err(StoreError::internal("the feedback was written")),
        }
    }

    /// Every caller of a failed group is told "commit failed" with the group's error under it:
    /// unavailable (retry), as always, unless the group failed on a lasting storage failure,
    /// which stays one (a full disk is not "busy").
    #[test]
    fn callers_of_a_failed_group_are_told_why() {
        use agentsight_store::StorageFailure;
        let full = Arc::new(
            StoreError::storage(StorageFailure::DiskFull, "COMMIT", std::io::Error::other("no space"))
                .context("a write in the group failed"),
        );
        let told = commit_failed(&full);
        assert!(matches!(told, StoreError::Storage { kind: StorageFailure::DiskFull, .. }), "{told:?}");
        assert_eq!(
            chain(&told).to_string(),
            "storage failure (disk full): commit failed: a write in the group failed: COMMIT: no space"
        );
        let other = Arc::new(StoreError::internal("a bug"));
        assert!(commit_failed(&other).is_unavailable());
        assert_eq!(
            chain(&commit_failed(&other)).to_string(),
            "store unavailable: commit failed: store failure: a bug"
        );
        let constraint =
            Arc::new(StoreError::internal_from("SQLite", std::io::Error::other("UNIQUE failed")));
        assert_eq!(
            chain(&commit_failed(&constraint)).to_string(),
            "store unavailable: commit failed: store failure: SQLite: UNIQUE failed"
        );
    }

    /// A writer whose projection writes a 64 KiB row per batch (so a database at its size limit
    /// cannot take it: SQLite's own SQLITE_FULL, by `PRAGMA max_page_count`).
    #[derive(Default)]
    struct Filler;

    impl Caches for Filler {
        fn clear(&mut self) {}

        fn project(cx: &mut WriteContext<Self>, batch: &SpanIngest, _: &Plan) -> StoreResult<IngestOutcome> {
            cx.conn
                .execute(
                    "INSERT INTO filler (batch, bytes) VALUES (?1, zeroblob(65536))",
                    [batch.received_at],
                )
                .map_err(crate::sqlerr)?;
            Ok(IngestOutcome::default())
        }
    }

    /// Runs `f` on the writer and waits for its group's commit.
    fn write<T: Send + 'static>(
        w: &Writer<Filler>,
        f: impl FnOnce(&mut WriteContext<Filler>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        w.submit_then(Notify::Nothing, f, move |r| drop(tx.send(r))).unwrap();
        // A write its failed group never reached is dropped (its caller is told "unavailable").
        rx.recv().unwrap_or_else(|_| Err(StoreError::unavailable("dropped")))
    }

    fn limit_pages(cx: &mut WriteContext<Filler>, pages: Option<i64>) -> StoreResult<()> {
        let n = match pages {
            Some(n) => n,
            None => cx.conn.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(crate::sqlerr)?,
        };
        cx.conn.query_row(&format!("PRAGMA max_page_count = {n}"), [], |_| Ok(())).map_err(crate::sqlerr)
    }

    /// A projection that meets a full disk is not recorded as failed (its batch was acknowledged
    /// and is fine): it and the projections queued after it wait, writes go on, and once space is
    /// back the next group projects them, in order, without a restart.
    #[test]
    fn a_projection_on_a_full_disk_waits_and_is_projected_once_space_is_back() {
        let (conn, _dir) = crate::migrate::test_db();
        conn.execute_batch("CREATE TABLE filler (batch INTEGER NOT NULL, bytes BLOB NOT NULL)").unwrap();
        let progress = Arc::new(Progress::new(0));
        let config = Config {
            fsync: false,
            feed: None,
            progress: Some(progress.clone()),
            segments: None,
            listeners: None,
        };
        let w = Writer::<Filler>::start("test-writer", conn, 64, config).unwrap();
        write(&w, |cx| limit_pages(cx, None)).unwrap();
        let (told_tx, told) = std::sync::mpsc::channel::<(i64, String)>();
        let queue = w.queue().unwrap();
        for id in [1, 2] {
            let told_tx = told_tx.clone();
            let batch =
                SpanIngest { agent_id: 1, sdk_version: None, blocks: vec![], received_at: id, body_len: 0 };
            let done = Box::new(move |how: Projected| drop(told_tx.send((id, format!("{how:?}")))));
            assert!(queue.project(Projection { id, batch, plan: Plan::default(), done }).is_ok());
        }
        let state = |cx: &mut WriteContext<Filler>| {
            let q = |sql: &str| cx.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(crate::sqlerr);
            Ok((
                q("SELECT count(*) FROM filler")?,
                q("SELECT count(*) FROM span_log_failures")?,
                q("SELECT projected FROM span_log")?,
            ))
        };
        // The disk is full. A write queued behind the projections: in their group it is dropped
        // with the group; either way they have been tried once it returns.
        let _ = write(&w, |_| Ok(()));
        // A write that needs no space commits; both projections wait.
        assert_eq!(write(&w, state).unwrap(), (0, 0, 0));
        assert!(told.try_recv().is_err(), "a stalled projection's caller is told nothing yet");
        assert_eq!(progress.marks().1, 0);
        // Space is back: the next group projects them, oldest first.
        write(&w, |cx| limit_pages(cx, Some(1 << 30))).unwrap();
        assert_eq!(write(&w, state).unwrap(), (2, 0, 2));
        let first = told.recv().unwrap();
        let second = told.recv().unwrap();
        assert_eq!((first.0, second.0), (1, 2));
        assert!(first.1.starts_with("Done") && second.1.starts_with("Done"), "{first:?} {second:?}");
        assert_eq!(progress.marks().1, 2);
    }

    /// A group that rolls back leaves nothing behind in the write context: a conversation it
    /// created (and cached, by id and by pk) is unknown afterwards, and its metric changes are
    /// gone. With the caches kept, the pk would resolve and the feedback fail on its foreign key.
    #[test]
    fn a_rollback_forgets_what_the_group_cached_and_its_metric_changes() {
        let (conn, _dir) = crate::migrate::test_db();
        let mut cx = MainContext::new(conn);
        let mut agent = 0;
        transaction(&mut cx, None, |cx| {
            agent = crate::writes::create_agent(&cx.conn, "a", 1)?.id;
            Ok(())
        })
        .unwrap();
        let upsert = ConversationUpsert {
            agent_id: agent,
            conversation_id: "c1".into(),
            fields: ConversationFields::default(),
            is_used: false,
            event_time: 2,
            received_at: 2,
        };
        let mut pk = 0;
        let failed = transaction(&mut cx, None, |cx| {
            pk = crate::writes::upsert_conversation(cx, &upsert)?.row.id;
            assert!(!cx.deltas.is_empty(), "the upsert reports its conversation");
            Err(StoreError::internal("a later write of the group failed"))
        });
        assert!(failed.is_err());
        assert!(cx.deltas.is_empty());
        let unknown = transaction(&mut cx, None, |cx| {
            feedback_on(cx, agent, ConversationRef::Pk(pk))?;
            feedback_on(cx, agent, ConversationRef::Id("c1".into()))
        });
        assert!(unknown.is_ok(), "{unknown:?}");
    }
}
