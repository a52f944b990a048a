//! The metrics index at run time: [`AgentIndex`]es (one per agent, see
//! `agentsight_core::metrics::index`) loaded from the database in the background at start,
//! then kept current from the writer's committed groups.
//!
//! Consistency:
//! - Every write group that changes metric facts bumps `write_log.seq` (migration 0002) in its
//!   own transaction; the writer sends the group's [`Batch`] (tagged with that seq) to the
//!   indexer thread after the commit and before it answers any caller.
//! - A load reads `write_log.seq` and every row in one read transaction (a snapshot); batches
//!   that arrive meanwhile are buffered, and those newer than the snapshot applied after it.
//! - Batches must follow each other seq by seq. A gap, or a database seq newer than anything
//!   this process wrote, means another process (the CLI, `agentsight demo`) changed the data:
//!   the missing groups are read from the journal and applied (a full rebuild only when the
//!   journal lacks one).
//! - A query first waits until the index has applied everything this process committed before
//!   the query began, so a client that got its 201 sees its write in the next overview.
//!
//! Persisted (instant restart):
//! - Every process's writer stores each group's batch in `index_journal` under its seq, in the
//!   group's own transaction (migration 0010), so the journal holds exactly what the index
//!   applies, in commit order.
//! - The server writes the whole index to `<db>.index` (`agentsight.index`): at start after a
//!   full load or a replay, every [`SNAPSHOT_EVERY`] when something changed (sooner after
//!   [`SNAPSHOT_AFTER_GROUPS`] groups), and at a clean stop. Write to a temporary file, fsync,
//!   rename, fsync the directory; then the journal's groups before the snapshot's seq are
//!   deleted (its own group stays: it anchors the snapshot to this database's history).
//! - At start the snapshot is read (format version, schema version, seq, anchor, CRC-32 over
//!   the whole file) and the journal's groups after its seq replayed, in one read transaction.
//!   A missing, damaged or outdated snapshot, one newer than the database or of another
//!   history, or a journal with a hole falls back to the full load, saying why in the log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use agentsight_core::metrics::codec::{self, Dec, Enc};
use agentsight_core::metrics::index::{
    AgentIndex, ConvState, Delta, Sender as MsgSender, action_duration_us,
};
use rusqlite::{Connection, OpenFlags};

use crate::deltas;

/// What one committed write group changed.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Its `write_log.seq`.
    pub seq: i64,
    /// Touched conversations, read back inside the transaction: (agent, state).
    pub convs: Vec<(i64, ConvState)>,
    /// Entries in write order: (agent, delta).
    pub entries: Vec<(i64, Delta)>,
    /// Conversations removed for good: (agent, pk).
    pub removed: Vec<(i64, i64)>,
}

/// The writer's end: where committed batches go.
pub(crate) struct Feed {
    tx: Sender<Batch>,
    shared: Arc<Shared>,
}

impl Feed {
    /// The writer is about to commit group `seq`.
    pub(crate) fn committing(&self, seq: i64) {
        self.shared.committing.fetch_max(seq, Ordering::SeqCst);
    }

    /// Group `b.seq` is committed.
    pub(crate) fn committed(&self, b: Batch) {
        let seq = b.seq;
        // The indexer outlives the writer; if it is gone, the index is off anyway.
        let _ = self.tx.send(b);
        self.shared.committed.fetch_max(seq, Ordering::SeqCst);
    }
}

/// Where the index stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexPhase {
    /// Being built from the database; queries use raw rows.
    Loading,
    /// Current; queries use it.
    Ready,
    /// The last load failed (logged); queries read raw rows.
    Failed,
}

#[derive(Debug)]
struct State {
    phase: IndexPhase,
    /// Bumped by every (re)load: work started for an older generation is dropped.
    generation: u64,
    /// A load of the current generation is running.
    running: bool,
    applied: i64,
    buffered: Vec<Batch>,
    loads: u64,
    /// The lasting storage failure the last load met (a damaged or unreadable file), said in
    /// full; cleared by a load that succeeds.
    fault: Option<String>,
    /// The first load tries the snapshot file; later ones (after an inconsistency) do not.
    snapshot_tried: bool,
    /// What the last load started from, and how many journal groups it replayed after it.
    loaded: Loaded,
    /// Journal groups applied since start for writes of other processes.
    caught_up: u64,
    /// Loads that read every row (no usable snapshot, or a rebuild).
    full_loads: u64,
    /// The seq of the snapshot file as this process last read or wrote it (-1: none).
    snapshot_seq: i64,
    /// Snapshots written by this process.
    snapshots: u64,
    /// A snapshot should be written soon (after a full load or a long replay).
    want_snapshot: bool,
}

/// Where a load started from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Loaded {
    /// From the snapshot file (else every row of the database).
    pub snapshot: bool,
    /// Journal groups replayed after the snapshot.
    pub replayed: u64,
}

/// Counters of the persisted index, for the status endpoint and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PersistStatus {
    pub loaded: Loaded,
    pub caught_up: u64,
    pub full_loads: u64,
    pub snapshot_seq: i64,
    pub snapshots: u64,
    pub applied: i64,
}

type Agents = HashMap<i64, Arc<RwLock<AgentIndex>>>;

struct Shared {
    path: PathBuf,
    /// The snapshot file.
    snapshot_path: PathBuf,
    /// A read connection for the journal (catching up with other processes, anchors).
    journal: Mutex<Option<Connection>>,
    /// Set at the final snapshot: the periodic snapshot thread stops.
    stop: AtomicBool,
    /// Wakes the periodic snapshot thread (`stop` set, or a snapshot wanted).
    wake: (Mutex<()>, Condvar),
    /// Held while a snapshot is written: one at a time, renamed in the order taken.
    snapshotting: Mutex<()>,
    agents: RwLock<Agents>,
    state: Mutex<State>,
    cond: Condvar,
    /// Held while a batch is applied or a load installed, so the two never interleave.
    apply: Mutex<()>,
    committing: AtomicI64,
    committed: AtomicI64,
}

/// The index and its threads. Cheap to share.
#[derive(Clone)]
pub(crate) struct MetricsIndex {
    shared: Arc<Shared>,
}

/// How long a query waits for the index (a load, or the batches of writes committed before the
/// query) before it reads raw rows instead. A load of ten million messages takes about 15 s on
/// two cores, where raw rows answer one overview in 5 to 7 s.
const CATCH_UP: Duration = Duration::from_secs(60);

/// How often the server writes a snapshot of the index when something changed.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(5 * 60);

/// Journal groups after the last snapshot that make the next one come sooner than
/// [`SNAPSHOT_EVERY`] (a restart then replays at most about this many).
const SNAPSHOT_AFTER_GROUPS: i64 = 20_000;

/// How often the periodic snapshot thread looks.
const SNAPSHOT_CHECK: Duration = Duration::from_secs(10);

/// The snapshot file's first bytes, and its format version: bump it whenever the encoding of
/// [`AgentIndex`] or what the index derives from the rows changes (an older file is then
/// ignored and the index loaded from the database).
const SNAPSHOT_MAGIC: &[u8; 16] = b"AgentSightIndex\n";
const SNAPSHOT_FORMAT: u32 = 1;

/// Journal groups deleted per transaction when pruning (short write locks).
const PRUNE_CHUNK: i64 = 5_000;

/// The snapshot file of the database at `db`: `agentsight.db` → `agentsight.index`.
pub(crate) fn snapshot_path(db: &Path) -> PathBuf {
    db.with_extension("index")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn wait<'a, T>(c: &Condvar, g: std::sync::MutexGuard<'a, T>, d: Duration) -> std::sync::MutexGuard<'a, T> {
    c.wait_timeout(g, d).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0)
}

impl MetricsIndex {
    /// Starts the index for the database at `path` (whose `write_log.seq` is `seq` now): the
    /// indexer thread and a first load. Returns the writer's feed.
    pub(crate) fn start(path: PathBuf, seq: i64, snapshots: bool) -> std::io::Result<(MetricsIndex, Feed)> {
        let shared = Arc::new(Shared {
            snapshot_path: snapshot_path(&path),
            path,
            journal: Mutex::new(None),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
            snapshotting: Mutex::new(()),
            agents: RwLock::new(HashMap::new()),
            state: Mutex::new(State {
                phase: IndexPhase::Loading,
                generation: 0,
                running: false,
                applied: seq,
                buffered: Vec::new(),
                loads: 0,
                fault: None,
                snapshot_tried: false,
                loaded: Loaded::default(),
                caught_up: 0,
                full_loads: 0,
                snapshot_seq: -1,
                snapshots: 0,
                want_snapshot: false,
            }),
            cond: Condvar::new(),
            apply: Mutex::new(()),
            committing: AtomicI64::new(seq),
            committed: AtomicI64::new(seq),
        });
        let (tx, rx) = channel::<Batch>();
        let s = shared.clone();
        std::thread::Builder::new().name("agentsight-indexer".into()).spawn(move || run_indexer(&s, rx))?;
        if snapshots {
            let s = shared.clone();
            std::thread::Builder::new()
                .name("agentsight-index-snapshot".into())
                .spawn(move || run_snapshots(&s))?;
        }
        reload(&shared);
        Ok((MetricsIndex { shared: shared.clone() }, Feed { tx, shared }))
    }

    /// The phase, and how many loads have finished.
    pub(crate) fn phase(&self) -> (IndexPhase, u64) {
        let st = lock(&self.shared.state);
        (st.phase, st.loads)
    }

    /// What the last load started from and the journal's work since.
    pub(crate) fn persist_status(&self) -> PersistStatus {
        let st = lock(&self.shared.state);
        PersistStatus {
            loaded: st.loaded,
            caught_up: st.caught_up,
            full_loads: st.full_loads,
            snapshot_seq: st.snapshot_seq,
            snapshots: st.snapshots,
            applied: st.applied,
        }
    }

    /// Writes the snapshot file now (when the index is ready); its seq.
    pub(crate) fn snapshot(&self) -> Result<Option<i64>, String> {
        write_snapshot(&self.shared)
    }

    /// The clean stop's snapshot: waits (bounded) until everything this process committed is
    /// applied, then writes the file, and stops the periodic thread.
    pub(crate) fn final_snapshot(&self) {
        let s = &self.shared;
        s.stop.store(true, Ordering::SeqCst);
        {
            let _g = lock(&s.wake.0);
            s.wake.1.notify_all();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        {
            let mut st = lock(&s.state);
            while st.phase == IndexPhase::Ready && st.applied < s.committed.load(Ordering::SeqCst) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = wait(&s.cond, st, left);
            }
        }
        let started = Instant::now();
        match write_snapshot(s) {
            Ok(Some(seq)) => {
                tracing::info!(
                    seq,
                    ms = started.elapsed().as_millis() as u64,
                    "metrics index: snapshot written at the stop"
                );
                // Pruning the journal wrote to the WAL after the stop's checkpoint: copy it into
                // the database again, so a clean stop leaves an empty WAL.
                let checkpoint = Connection::open(&s.path)
                    .and_then(|c| c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())));
                if let Err(e) = checkpoint {
                    tracing::warn!(error = %e, "metrics index: checkpoint after the stop's snapshot failed");
                }
            }
            Ok(None) => tracing::info!("metrics index: not ready at the stop; no snapshot written"),
            Err(e) => tracing::warn!(error = %e, "metrics index: the snapshot at the stop failed"),
        }
    }

    /// The lasting storage failure the last load met, if any (see [`State::fault`]).
    pub(crate) fn fault(&self) -> Option<String> {
        lock(&self.shared.state).fault.clone()
    }

    /// Waits until the index is ready (tests, benchmarks); false after `timeout`.
    pub(crate) fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = lock(&self.shared.state);
        while st.phase == IndexPhase::Loading {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = wait(&self.shared.cond, st, left);
        }
        st.phase == IndexPhase::Ready
    }

    /// Runs `f` on the agent's index once it holds everything committed before the query
    /// began: whatever this process committed, and `db_seq` (the database's `write_log.seq` as
    /// the caller's connection sees it; above anything this process wrote, another process
    /// wrote, and the index is rebuilt). Waits for a load rather than reading raw rows, which
    /// at millions of messages take longer than loading; `None` (read raw rows) only after
    /// [`CATCH_UP`].
    pub(crate) fn with_agent<T>(
        &self,
        agent_id: i64,
        db_seq: i64,
        f: impl FnOnce(&AgentIndex) -> Option<T>,
    ) -> Option<T> {
        let target = self.shared.committed.load(Ordering::SeqCst).max(db_seq);
        let deadline = Instant::now() + CATCH_UP;
        {
            let mut st = lock(&self.shared.state);
            loop {
                if st.phase == IndexPhase::Failed {
                    return None;
                }
                if st.phase == IndexPhase::Ready && st.applied >= target {
                    break;
                }
                if st.phase == IndexPhase::Ready && target > self.shared.committing.load(Ordering::SeqCst) {
                    drop(st);
                    match catch_up(&self.shared, target) {
                        Ok(groups) => tracing::info!(
                            db_seq,
                            groups,
                            "metrics index: applied another process's writes from the journal"
                        ),
                        Err(e) => {
                            tracing::info!(db_seq, error = %e, "metrics index: another process changed the data; rebuilding");
                            reload(&self.shared);
                        }
                    }
                    st = lock(&self.shared.state);
                    if st.phase == IndexPhase::Ready && st.applied < target {
                        // Caught up with less than the target (a rebuild started and ended
                        // meanwhile): the next round decides again.
                        st = wait(&self.shared.cond, st, Duration::from_millis(10));
                    }
                    continue;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    tracing::warn!(
                        applied = st.applied,
                        target,
                        "metrics index not current; answering from raw rows"
                    );
                    return None;
                }
                st = wait(&self.shared.cond, st, left);
            }
        }
        let agent = read(&self.shared.agents).get(&agent_id).cloned();
        match agent {
            Some(a) => f(&read(&a)),
            None => f(&AgentIndex::new()),
        }
    }

    /// Approximate bytes held, over all agents.
    pub(crate) fn approx_bytes(&self) -> usize {
        read(&self.shared.agents).values().map(|a| read(a).approx_bytes()).sum()
    }
}

/// Starts a rebuild unless one of the current generation is running.
fn reload(shared: &Arc<Shared>) {
    let generation = {
        let mut st = lock(&shared.state);
        if st.phase == IndexPhase::Loading && st.running {
            return;
        }
        st.phase = IndexPhase::Loading;
        st.running = true;
        st.generation += 1;
        (st.generation, !std::mem::replace(&mut st.snapshot_tried, true))
    };
    let (generation, try_snapshot) = generation;
    // The old index is of no use while loading; free it first so memory stays flat.
    write(&shared.agents).clear();
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("agentsight-index-load".into()).spawn(move || {
        let started = Instant::now();
        let from_snapshot = if try_snapshot {
            match load_snapshot(&s) {
                Ok(found) => Some(found),
                Err(why) => {
                    tracing::info!(
                        file = %s.snapshot_path.display(),
                        why = %why,
                        "metrics index: snapshot not used; loading every row"
                    );
                    None
                }
            }
        } else {
            None
        };
        let loaded = match from_snapshot {
            Some((seq, agents, replayed)) => Ok((seq, agents, Loaded { snapshot: true, replayed })),
            None => load(&s.path).map(|(seq, agents)| (seq, agents, Loaded::default())),
        };
        match loaded {
            Ok((seq, agents, how)) => install(&s, generation, seq, agents, how, started),
            Err(e) => {
                tracing::error!(error = %e, "metrics index: load failed; answering from raw rows");
                let mut st = lock(&s.state);
                if st.generation == generation {
                    st.running = false;
                    st.phase = IndexPhase::Failed;
                    st.fault = e.lasting.map(|kind| {
                        format!(
                            "{kind}: reading {} for the metrics index: {}; `agentsight check --data-dir DIR` \
                             finds the damage, `agentsight restore` brings back a backup",
                            s.path.display(),
                            e.message
                        )
                    });
                    s.cond.notify_all();
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "metrics index: could not start the loader");
        lock(&shared.state).running = false;
    }
}

/// Installs a finished load of `generation` taken at `seq`, then the batches buffered since.
fn install(s: &Arc<Shared>, generation: u64, seq: i64, agents: Agents, how: Loaded, started: Instant) {
    let _applying = lock(&s.apply);
    let mut st = lock(&s.state);
    if st.generation != generation {
        return;
    }
    st.running = false;
    let conversations: usize = agents.values().map(|a| read(a).conversations()).sum();
    let entries: u64 = agents.values().map(|a| read(a).entries()).sum();
    *write(&s.agents) = agents;
    st.applied = seq;
    s.committing.fetch_max(seq, Ordering::SeqCst);
    s.committed.fetch_max(seq, Ordering::SeqCst);
    let mut buffered = std::mem::take(&mut st.buffered);
    buffered.sort_by_key(|b| b.seq);
    for b in buffered.into_iter().filter(|b| b.seq > seq) {
        // Another process's groups committed in between come from the journal.
        let outcome = if b.seq > st.applied + 1 {
            read_journal(s, st.applied, b.seq - 1).and_then(|missing| {
                let n = missing.len() as u64;
                missing.iter().try_for_each(|m| apply(s, m)).map(|()| n)
            })
        } else {
            Ok(0)
        };
        let outcome = outcome.and_then(|n| {
            st.caught_up += n;
            if b.seq > st.applied { apply(s, &b) } else { Ok(()) }
        });
        if let Err(e) = outcome {
            drop(st);
            tracing::info!(error = %e, "metrics index: the data changed during the load; loading again");
            reload(s);
            return;
        }
        st.applied = b.seq;
    }
    st.phase = IndexPhase::Ready;
    st.fault = None;
    st.loads += 1;
    st.loaded = how;
    if !how.snapshot {
        st.full_loads += 1;
    }
    st.want_snapshot = !how.snapshot || how.replayed > 0;
    s.cond.notify_all();
    tracing::info!(
        conversations,
        entries,
        seq = st.applied,
        snapshot = how.snapshot,
        replayed = how.replayed,
        ms = started.elapsed().as_millis() as u64,
        "metrics index ready"
    );
    if st.want_snapshot {
        let _g = lock(&s.wake.0);
        s.wake.1.notify_all();
    }
}

/// Applies committed batches as they come.
fn run_indexer(s: &Arc<Shared>, rx: Receiver<Batch>) {
    while let Ok(b) = rx.recv() {
        let gap = {
            let mut st = lock(&s.state);
            if st.phase == IndexPhase::Loading {
                st.buffered.push(b);
                continue;
            }
            if st.phase == IndexPhase::Failed || b.seq <= st.applied {
                continue;
            }
            b.seq != st.applied + 1
        };
        if gap {
            // Another process wrote the groups in between: apply them from the journal.
            match catch_up(s, b.seq - 1) {
                Ok(groups) => tracing::info!(
                    seq = b.seq,
                    groups,
                    "metrics index: applied another process's writes from the journal"
                ),
                Err(e) => {
                    tracing::info!(seq = b.seq, error = %e, "metrics index: another process changed the data; rebuilding");
                    reload(s);
                    continue;
                }
            }
        }
        let _applying = lock(&s.apply);
        let generation = {
            let mut st = lock(&s.state);
            if st.phase == IndexPhase::Loading {
                st.buffered.push(b);
                continue;
            }
            if st.phase == IndexPhase::Failed || b.seq <= st.applied {
                continue;
            }
            if b.seq != st.applied + 1 {
                drop(st);
                tracing::info!(seq = b.seq, "metrics index: a gap the journal did not fill; rebuilding");
                reload(s);
                continue;
            }
            st.generation
        };
        let outcome = apply(s, &b);
        let mut st = lock(&s.state);
        match outcome {
            Ok(()) if st.generation == generation => {
                st.applied = b.seq;
                s.cond.notify_all();
            }
            Ok(()) => {}
            Err(e) => {
                drop(st);
                tracing::warn!(error = %e, "metrics index: inconsistent batch; rebuilding");
                reload(s);
            }
        }
    }
}

/// A batch's work by agent: its conversations, entries and removals.
type Work<'a> = (Vec<&'a ConvState>, Vec<&'a Delta>, Vec<i64>);

/// A batch's conversations, entries and removed conversations by agent.
fn by_agent(b: &Batch) -> HashMap<i64, Work<'_>> {
    let mut by_agent: HashMap<i64, Work<'_>> = HashMap::new();
    for (agent, c) in &b.convs {
        by_agent.entry(*agent).or_default().0.push(c);
    }
    for (agent, d) in &b.entries {
        by_agent.entry(*agent).or_default().1.push(d);
    }
    for (agent, pk) in &b.removed {
        by_agent.entry(*agent).or_default().2.push(*pk);
    }
    by_agent
}

/// [`apply`] to indexes not yet shared (a replay at start).
fn apply_owned(agents: &mut HashMap<i64, AgentIndex>, b: &Batch) -> Result<(), String> {
    for (agent, (convs, entries, removed)) in by_agent(b) {
        let a = agents.entry(agent).or_default();
        for pk in removed {
            a.remove(pk);
        }
        for c in convs {
            a.conversation(c);
        }
        for d in entries {
            a.apply(d).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Applies a batch: each agent's removals, then its conversations, then its entries, under its
/// lock once. Removals come first: a conversation made later in the group may have been given
/// a removed one's pk (an entry written earlier in the group to a conversation it removed is
/// then unknown, and the index is rebuilt).
fn apply(s: &Shared, b: &Batch) -> Result<(), String> {
    for (agent, (convs, entries, removed)) in by_agent(b) {
        let a = {
            let existing = read(&s.agents).get(&agent).cloned();
            match existing {
                Some(a) => a,
                None => write(&s.agents)
                    .entry(agent)
                    .or_insert_with(|| Arc::new(RwLock::new(AgentIndex::new())))
                    .clone(),
            }
        };
        let mut a = write(&a);
        for pk in removed {
            a.remove(pk);
        }
        for c in convs {
            a.conversation(c);
        }
        for d in entries {
            a.apply(d).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A row the loader read, decoded.
enum Row {
    Conversation(i64, Box<ConvState>),
    Message(i64, Delta),
    Action { agent: i64, pk: i64, ts: i64, name: String, duration_us: Option<i64>, error: bool },
}

/// Rows per chunk sent from the reading thread to the building one.
const CHUNK: usize = 16_384;

/// Reads every metric fact of every agent in one read transaction; returns its
/// `write_log.seq` and the indexes. One thread steps through SQLite while this one builds the
/// indexes from what it sent (the two halves take about the same time).
/// Why a load failed: the message, and the lasting storage failure it is, if it is one (a
/// damaged file is not retried into health: readiness reports it).
#[derive(Debug)]
struct LoadError {
    message: String,
    lasting: Option<agentsight_store::StorageFailure>,
}

impl LoadError {
    fn sql(e: rusqlite::Error) -> LoadError {
        LoadError { lasting: crate::lasting(&e), message: e.to_string() }
    }

    fn other(message: String) -> LoadError {
        LoadError { message, lasting: None }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn load(path: &std::path::Path) -> Result<(i64, Agents), LoadError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(LoadError::sql)?;
    // A full scan through memory-mapped pages would count the whole file as this process's
    // resident memory; read it through the page cache instead.
    conn.pragma_update(None, "mmap_size", 0).map_err(LoadError::sql)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(LoadError::sql)?;
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Row>>(8);
    let reader = std::thread::Builder::new()
        .name("agentsight-index-read".into())
        .spawn(move || -> Result<i64, LoadError> {
            conn.execute_batch("BEGIN").map_err(LoadError::sql)?;
            let result = read_rows(&conn, &tx).map_err(LoadError::sql);
            let _ = conn.execute_batch("COMMIT");
            result
        })
        .map_err(|e| LoadError::other(e.to_string()))?;
    let mut agents: HashMap<i64, AgentIndex> = HashMap::new();
    let mut fail: Option<String> = None;
    for chunk in rx {
        for row in chunk {
            let outcome = match row {
                Row::Conversation(agent, state) => {
                    agents.entry(agent).or_default().conversation(&state);
                    Ok(())
                }
                Row::Message(agent, d) => agents.entry(agent).or_default().apply(&d),
                Row::Action { agent, pk, ts, name, duration_us, error } => {
                    agents.entry(agent).or_default().action(pk, ts, &name, duration_us, error)
                }
            };
            if let Err(e) = outcome {
                fail.get_or_insert(e.to_string());
            }
        }
    }
    let seq = reader.join().map_err(|_| LoadError::other("the index reader panicked".to_string()))??;
    if let Some(e) = fail {
        return Err(LoadError::other(format!("the stored rows contradict each other: {e}")));
    }
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "metrics index: rows read and applied");
    Ok((seq, agents.into_iter().map(|(k, v)| (k, Arc::new(RwLock::new(v)))).collect()))
}

/// Sends `row` in chunks; false when the builder is gone.
struct Chunks<'a> {
    tx: &'a std::sync::mpsc::SyncSender<Vec<Row>>,
    buf: Vec<Row>,
}

impl Chunks<'_> {
    fn push(&mut self, row: Row) {
        self.buf.push(row);
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.tx.send(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        }
    }
}

fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// Steps through the conversations, then the messages and buttons, then the actions.
fn read_rows(conn: &Connection, tx: &std::sync::mpsc::SyncSender<Vec<Row>>) -> rusqlite::Result<i64> {
    let seq: i64 = conn.query_row("SELECT seq FROM write_log WHERE id = 1", [], |r| r.get(0))?;
    let mut out = Chunks { tx, buf: Vec::with_capacity(CHUNK) };
    {
        let mut stmt =
            conn.prepare(&format!("SELECT {} FROM conversations c", deltas::conv_state_columns()))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (agent, state) = deltas::conv_state(r)?;
            out.push(Row::Conversation(agent, Box::new(state)));
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT agent_id, kind, conversation_pk, ts, sender, response_us FROM messages INDEXED BY messages_agent_ts
             WHERE kind IN (0, 2)",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (agent, kind, pk, ts): (i64, i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let d = if kind == 0 {
                Delta::Message { pk, ts, sender: MsgSender::parse(text(r, 4)?), response_us: r.get(5)? }
            } else {
                Delta::Button { pk, ts }
            };
            out.push(Row::Message(agent, d));
        }
    }
    {
        let mut stmt = conn.prepare(
            "SELECT agent_id, conversation_pk, ts, action_name, duration_ms, started_at, ended_at,
                coalesce(error_msg, '') <> '' FROM action_logs",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.push(Row::Action {
                agent: r.get(0)?,
                pk: r.get(1)?,
                ts: r.get(2)?,
                name: text(r, 3)?.to_string(),
                duration_us: action_duration_us(r.get(4)?, r.get(5)?, r.get(6)?),
                error: r.get(7)?,
            });
        }
    }
    out.flush();
    Ok(seq)
}

// ---- persisted: the journal and the snapshot file ----

fn io_sql(e: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn encode_batch(b: &Batch) -> std::io::Result<Vec<u8>> {
    let mut e = Enc::new(Vec::with_capacity(64 + 48 * b.entries.len() + 160 * b.convs.len()));
    e.len(b.convs.len())?;
    for (agent, c) in &b.convs {
        e.i64(*agent)?;
        codec::put_conv_state(&mut e, c)?;
    }
    e.len(b.entries.len())?;
    for (agent, d) in &b.entries {
        e.i64(*agent)?;
        codec::put_delta(&mut e, d)?;
    }
    e.len(b.removed.len())?;
    for (agent, pk) in &b.removed {
        e.i64(*agent)?;
        e.i64(*pk)?;
    }
    Ok(e.finish()?.0)
}

fn decode_batch(seq: i64, blob: &[u8]) -> std::io::Result<Batch> {
    let mut d = Dec::new(blob);
    let n = d.len(blob.len())?;
    let mut convs = Vec::with_capacity(n);
    for _ in 0..n {
        convs.push((d.i64()?, codec::get_conv_state(&mut d)?));
    }
    let n = d.len(blob.len())?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push((d.i64()?, codec::get_delta(&mut d)?));
    }
    let n = d.len(blob.len())?;
    let mut removed = Vec::with_capacity(n);
    for _ in 0..n {
        removed.push((d.i64()?, d.i64()?));
    }
    d.finish()?;
    Ok(Batch { seq, convs, entries, removed })
}

/// Stores a write group's batch in the journal, inside the group's transaction (the writer of
/// every process calls it).
pub(crate) fn journal(conn: &Connection, b: &Batch) -> rusqlite::Result<()> {
    let blob = encode_batch(b).map_err(io_sql)?;
    conn.prepare_cached("INSERT INTO index_journal (seq, batch) VALUES (?1, ?2)")?.execute((b.seq, blob))?;
    Ok(())
}

fn open_read(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.pragma_update(None, "mmap_size", 0)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The journal's groups `after < seq <= upto`, in order, read in `conn`'s current
/// transaction; an error when one is missing (deleted, or written by a build without the
/// journal) or does not decode.
fn journal_range(conn: &Connection, after: i64, upto: i64) -> Result<Vec<Batch>, String> {
    let mut stmt = conn
        .prepare_cached("SELECT seq, batch FROM index_journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq")
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query((after, upto)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut expect = after + 1;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = r.get(0).map_err(|e| e.to_string())?;
        if seq != expect {
            return Err(format!("write group {expect} is not in the journal"));
        }
        let blob = r.get_ref(1).and_then(|v| v.as_blob().map_err(Into::into)).map_err(|e| e.to_string())?;
        out.push(decode_batch(seq, blob).map_err(|e| format!("write group {seq} in the journal: {e}"))?);
        expect += 1;
    }
    if expect <= upto {
        return Err(format!("write group {expect} is not in the journal"));
    }
    Ok(out)
}

/// [`journal_range`] on the shared journal connection, in a read transaction of its own.
fn read_journal(s: &Shared, after: i64, upto: i64) -> Result<Vec<Batch>, String> {
    let mut conn = lock(&s.journal);
    if conn.is_none() {
        *conn = Some(open_read(&s.path).map_err(|e| e.to_string())?);
    }
    let c = conn.as_ref().ok_or("no journal connection")?;
    c.execute_batch("BEGIN").map_err(|e| e.to_string())?;
    let out = journal_range(c, after, upto);
    let _ = c.execute_batch("COMMIT");
    out
}

/// Applies the journal's groups after what the index holds, up to `upto`: the writes of
/// another process. Returns how many were applied; an error (the caller rebuilds) when the
/// journal lacks one or one contradicts the index.
fn catch_up(s: &Shared, upto: i64) -> Result<u64, String> {
    let _applying = lock(&s.apply);
    let (from, generation) = {
        let st = lock(&s.state);
        if st.phase != IndexPhase::Ready {
            return Ok(0);
        }
        (st.applied, st.generation)
    };
    if from >= upto {
        return Ok(0);
    }
    let batches = read_journal(s, from, upto)?;
    for b in &batches {
        apply(s, b)?;
    }
    let mut st = lock(&s.state);
    if st.generation == generation {
        st.applied = st.applied.max(upto);
        st.caught_up += batches.len() as u64;
        s.committing.fetch_max(upto, Ordering::SeqCst);
        s.committed.fetch_max(upto, Ordering::SeqCst);
        s.cond.notify_all();
    }
    Ok(batches.len() as u64)
}

/// [`catch_up`] to the database's seq when another process wrote beyond what this one did.
fn catch_up_with_database(s: &Shared) -> Result<(), String> {
    if lock(&s.state).phase != IndexPhase::Ready {
        return Ok(());
    }
    let db_seq = {
        let mut conn = lock(&s.journal);
        if conn.is_none() {
            *conn = Some(open_read(&s.path).map_err(|e| e.to_string())?);
        }
        let c = conn.as_ref().ok_or("no journal connection")?;
        c.query_row("SELECT seq FROM write_log WHERE id = 1", [], |r| r.get::<_, i64>(0))
            .map_err(|e| e.to_string())?
    };
    if db_seq > s.committing.load(Ordering::SeqCst) {
        let groups = catch_up(s, db_seq)?;
        if groups > 0 {
            tracing::info!(
                db_seq,
                groups,
                "metrics index: applied another process's writes from the journal"
            );
        }
    }
    Ok(())
}

/// The CRC-32 of the journal's group `seq`, if it is there: ties a snapshot taken at `seq` to
/// this database's history (another database at the same seq has another group there).
fn anchor(conn: &Connection, seq: i64) -> Result<Option<u32>, String> {
    use rusqlite::OptionalExtension;
    let blob: Option<Vec<u8>> = conn
        .query_row("SELECT batch FROM index_journal WHERE seq = ?1", [seq], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?;
    Ok(blob.map(|b| crc32fast::hash(&b)))
}

/// Reads the snapshot file and replays the journal after it, in one read transaction:
/// (the database's seq, the indexes, groups replayed). An error says why it cannot be used.
fn load_snapshot(s: &Shared) -> Result<(i64, Agents, u64), String> {
    let file = match std::fs::File::open(&s.snapshot_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("there is none".into()),
        Err(e) => return Err(format!("opening it: {e}")),
    };
    let started = Instant::now();
    let mut d = Dec::new(file);
    let io = |e: std::io::Error| format!("reading it: {e}");
    if d.bytes(SNAPSHOT_MAGIC.len()).map_err(io)? != SNAPSHOT_MAGIC {
        return Err("it is not a snapshot of the metrics index".into());
    }
    let format = d.u32().map_err(io)?;
    if format != SNAPSHOT_FORMAT {
        return Err(format!("format {format}, this build reads {SNAPSHOT_FORMAT}"));
    }
    let schema = d.u64().map_err(io)?;
    if schema != crate::migrate::SCHEMA_VERSION as u64 {
        return Err(format!(
            "taken at schema {schema}, the database is at {}",
            crate::migrate::SCHEMA_VERSION
        ));
    }
    let seq = d.i64().map_err(io)?;
    let stored_anchor = if d.bool().map_err(io)? { Some(d.u32().map_err(io)?) } else { None };
    let conn = open_read(&s.path).map_err(|e| e.to_string())?;
    conn.execute_batch("BEGIN").map_err(|e| e.to_string())?;
    let result = (|| {
        let db_seq: i64 = conn
            .query_row("SELECT seq FROM write_log WHERE id = 1", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if seq > db_seq {
            return Err(format!("taken at write group {seq}, the database is at {db_seq}"));
        }
        if anchor(&conn, seq)? != stored_anchor {
            return Err(format!("write group {seq} differs from the snapshot's: another database's history"));
        }
        let n = d.len(1 << 40).map_err(io)?;
        let mut agents: HashMap<i64, AgentIndex> = HashMap::with_capacity(codec::reserve(n));
        for _ in 0..n {
            let id = d.i64().map_err(io)?;
            agents.insert(id, AgentIndex::decode(&mut d).map_err(io)?);
        }
        d.finish().map_err(io)?;
        let read_ms = started.elapsed().as_millis() as u64;
        let batches = journal_range(&conn, seq, db_seq)?;
        for b in &batches {
            apply_owned(&mut agents, b).map_err(|e| format!("replaying write group {}: {e}", b.seq))?;
        }
        tracing::info!(
            seq,
            db_seq,
            read_ms,
            replayed = batches.len(),
            "metrics index: snapshot read, journal replayed"
        );
        Ok((db_seq, agents, batches.len() as u64))
    })();
    let _ = conn.execute_batch("COMMIT");
    let (db_seq, agents, replayed) = result?;
    lock(&s.state).snapshot_seq = seq;
    Ok((db_seq, agents.into_iter().map(|(k, v)| (k, Arc::new(RwLock::new(v)))).collect(), replayed))
}

/// Writes the snapshot file (when the index is ready) and prunes the journal before it.
/// Batches wait while the index is written (queries do not: they read it meanwhile).
fn write_snapshot(s: &Shared) -> Result<Option<i64>, String> {
    let _one = lock(&s.snapshotting);
    let started = Instant::now();
    static TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = TMP.fetch_add(1, Ordering::Relaxed);
    let tmp = s.snapshot_path.with_extension(format!("index.tmp{}-{n}", std::process::id()));
    let (seq, bytes) = {
        let _applying = lock(&s.apply);
        let seq = {
            let st = lock(&s.state);
            if st.phase != IndexPhase::Ready {
                return Ok(None);
            }
            st.applied
        };
        let anchor = {
            let mut conn = lock(&s.journal);
            if conn.is_none() {
                *conn = Some(open_read(&s.path).map_err(|e| e.to_string())?);
            }
            anchor(conn.as_ref().ok_or("no journal connection")?, seq)?
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
        let written = (|| -> std::io::Result<(std::fs::File, u64)> {
            let mut e = Enc::new(file);
            e.bytes(SNAPSHOT_MAGIC)?;
            e.u32(SNAPSHOT_FORMAT)?;
            e.u64(crate::migrate::SCHEMA_VERSION as u64)?;
            e.i64(seq)?;
            match anchor {
                Some(a) => {
                    e.bool(true)?;
                    e.u32(a)?;
                }
                None => e.bool(false)?,
            }
            let agents = read(&s.agents);
            let mut ids: Vec<i64> = agents.keys().copied().collect();
            ids.sort_unstable();
            e.len(ids.len())?;
            for id in ids {
                e.i64(id)?;
                if let Some(a) = agents.get(&id) {
                    read(a).encode(&mut e)?;
                }
            }
            e.finish()
        })();
        match written {
            Ok((file, bytes)) => {
                drop(_applying);
                file.sync_all().map_err(|e| format!("syncing {}: {e}", tmp.display()))?;
                (seq, bytes)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(format!("writing {}: {e}", tmp.display()));
            }
        }
    };
    std::fs::rename(&tmp, &s.snapshot_path).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
    if let Some(dir) = s.snapshot_path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    {
        let mut st = lock(&s.state);
        st.snapshot_seq = seq;
        st.snapshots += 1;
        st.want_snapshot = false;
    }
    let pruned = prune_journal(&s.path, seq);
    tracing::info!(
        seq,
        bytes,
        ms = started.elapsed().as_millis() as u64,
        pruned = ?pruned,
        "metrics index: snapshot written"
    );
    Ok(Some(seq))
}

/// Deletes the journal's groups before `seq` (the snapshot's own stays, as its anchor), a
/// chunk per transaction so the writer never waits long. Returns how many.
fn prune_journal(path: &Path, seq: i64) -> Result<u64, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let mut total = 0u64;
    loop {
        let n = conn
            .execute(
                "DELETE FROM index_journal WHERE seq IN
                    (SELECT seq FROM index_journal WHERE seq < ?1 ORDER BY seq LIMIT ?2)",
                (seq, PRUNE_CHUNK),
            )
            .map_err(|e| e.to_string())?;
        total += n as u64;
        if (n as i64) < PRUNE_CHUNK {
            return Ok(total);
        }
    }
}

/// Writes a snapshot when one is wanted: soon after a full load or a replay, every
/// [`SNAPSHOT_EVERY`] when something changed, sooner after [`SNAPSHOT_AFTER_GROUPS`] groups.
fn run_snapshots(s: &Arc<Shared>) {
    let mut last = Instant::now();
    loop {
        {
            let g = lock(&s.wake.0);
            let _ = s.wake.1.wait_timeout(g, SNAPSHOT_CHECK);
        }
        if s.stop.load(Ordering::SeqCst) {
            return;
        }
        // Another process's writes are applied as they come, not only when a query or this
        // process's next write notices them (and the journal gets pruned behind them).
        if let Err(e) = catch_up_with_database(s) {
            tracing::info!(error = %e, "metrics index: another process changed the data; rebuilding");
            reload(s);
        }
        let due = {
            let mut st = lock(&s.state);
            let behind = st.applied - st.snapshot_seq;
            let due = st.phase == IndexPhase::Ready
                && (st.want_snapshot
                    || behind >= SNAPSHOT_AFTER_GROUPS
                    || (behind > 0 && last.elapsed() >= SNAPSHOT_EVERY));
            if due {
                st.want_snapshot = false;
            }
            due
        };
        if due {
            last = Instant::now();
            if let Err(e) = write_snapshot(s) {
                tracing::warn!(error = %e, "metrics index: writing the snapshot failed; next time again");
            }
        }
    }
}
