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
//!   the index is rebuilt, and until it is ready queries are answered from raw rows.
//! - A query first waits until the index has applied everything this process committed before
//!   the query began, so a client that got its 201 sees its write in the next overview.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

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
}

type Agents = HashMap<i64, Arc<RwLock<AgentIndex>>>;

struct Shared {
    path: PathBuf,
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
    pub(crate) fn start(path: PathBuf, seq: i64) -> std::io::Result<(MetricsIndex, Feed)> {
        let shared = Arc::new(Shared {
            path,
            agents: RwLock::new(HashMap::new()),
            state: Mutex::new(State {
                phase: IndexPhase::Loading,
                generation: 0,
                running: false,
                applied: seq,
                buffered: Vec::new(),
                loads: 0,
                fault: None,
            }),
            cond: Condvar::new(),
            apply: Mutex::new(()),
            committing: AtomicI64::new(seq),
            committed: AtomicI64::new(seq),
        });
        let (tx, rx) = channel::<Batch>();
        let s = shared.clone();
        std::thread::Builder::new().name("agentsight-indexer".into()).spawn(move || run_indexer(&s, rx))?;
        reload(&shared);
        Ok((MetricsIndex { shared: shared.clone() }, Feed { tx, shared }))
    }

    /// The phase, and how many loads have finished.
    pub(crate) fn phase(&self) -> (IndexPhase, u64) {
        let st = lock(&self.shared.state);
        (st.phase, st.loads)
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
                    tracing::info!(db_seq, "metrics index: another process changed the data; rebuilding");
                    reload(&self.shared);
                    st = lock(&self.shared.state);
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
        st.generation
    };
    // The old index is of no use while loading; free it first so memory stays flat.
    write(&shared.agents).clear();
    let s = shared.clone();
    let spawned = std::thread::Builder::new().name("agentsight-index-load".into()).spawn(move || {
        let started = Instant::now();
        match load(&s.path) {
            Ok((seq, agents)) => install(&s, generation, seq, agents, started),
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
fn install(s: &Arc<Shared>, generation: u64, seq: i64, agents: Agents, started: Instant) {
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
        let outcome = if b.seq == st.applied + 1 { apply(s, &b) } else { Err("a gap".to_string()) };
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
    s.cond.notify_all();
    tracing::info!(
        conversations,
        entries,
        seq = st.applied,
        ms = started.elapsed().as_millis() as u64,
        "metrics index ready"
    );
}

/// Applies committed batches as they come.
fn run_indexer(s: &Arc<Shared>, rx: Receiver<Batch>) {
    while let Ok(b) = rx.recv() {
        let generation = {
            let mut st = lock(&s.state);
            if st.phase == IndexPhase::Loading {
                st.buffered.push(b);
                continue;
            }
            if st.phase == IndexPhase::Failed {
                continue;
            }
            if b.seq <= st.applied {
                continue;
            }
            if b.seq != st.applied + 1 {
                drop(st);
                tracing::info!(seq = b.seq, "metrics index: another process changed the data; rebuilding");
                reload(s);
                continue;
            }
            st.generation
        };
        let _applying = lock(&s.apply);
        if lock(&s.state).generation != generation {
            // A load began after this batch was committed, so its snapshot holds it.
            continue;
        }
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

/// Applies a batch: each agent's removals, then its conversations, then its entries, under its
/// lock once. Removals come first: a conversation made later in the group may have been given
/// a removed one's pk (an entry written earlier in the group to a conversation it removed is
/// then unknown, and the index is rebuilt).
fn apply(s: &Shared, b: &Batch) -> Result<(), String> {
    type Work<'a> = (Vec<&'a ConvState>, Vec<&'a Delta>, Vec<i64>);
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
    for (agent, (convs, entries, removed)) in by_agent {
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
