//! AgentSight's embedded store: one SQLite file in WAL mode, one writer thread that commits
//! queued writes in groups (see [`writer`]), and a pool of read-only connections.

#![warn(missing_docs)]

mod archive;
mod archiving;
pub mod backup;
mod check;
mod dashboard;
mod dataplane;
mod deltas;
mod erasure;
mod failures;
mod index;
mod llm_metrics;
mod metrics;
mod migrate;
mod notify;
mod reads;
mod reports;
mod spans;
mod traces;
pub mod upgrade;
mod writer;
mod writes;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentsight_core::archive::ArchivedBody;
use agentsight_core::dashboard::Logo;
use agentsight_core::dataplane::{ActionDef, FeedbackChange, NewVote};
use agentsight_core::keys::Role;
use agentsight_core::metrics::index::AgentIndex;
use agentsight_core::metrics::query::MetricsQuery;
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::spans::SpanIngest;
use agentsight_core::time::Micros;
use agentsight_core::tracking::Enrichment;
use agentsight_core::tracking::{
    ConversationPatch, ConversationRef, ConversationUpsert, NewAction, NewButton, NewFeedback, NewMessage,
};
use agentsight_store::{
    ActionFilter, ActionLogItem, ActionRow, DataPlane, FeedbackFilter, FeedbackItem, MessageDetail,
};
use agentsight_store::{
    ActionLogRow, AgentRef, AgentRow, AgentStore, AttachmentRow, AttachmentsInsert, Branding, BrandingPatch,
    BrandingStore, ButtonRow, ConversationFilter, ConversationRow, EngineStatus, ExportCursor, ExportPage,
    ExportReader, FeedbackRow, KeyRow, LiveResponse, MessageRow, MetricsReader, NewShare, NewUser,
    OverviewResponse, PageRequest, Principal, SessionRow, ShareRow, ShareStore, StorageFailure, StoreError,
    StoreResult, TimeseriesResponse, TrackingReader, TrackingWriter, Transcript, Upserted, UserPatch,
    UserRow, UserStore, UsersResponse,
};
use agentsight_store::{
    ArchivedBatch, EnvironmentRow, IngestOutcome, IngestReceipt, Restated, SpanFilter, SpanReader, SpanRow,
    SpanWriter, TokenUsageRow, UsageFilter, UsageGroupBy, UsageGroupRow,
};
use agentsight_store::{Change, ChangeFeed, ChangeListener};
pub use check::{DatabaseReport, check_databases};
pub use migrate::SCHEMA_VERSION;

/// The span archive's schema version this build writes (its own `user_version`).
pub const ARCHIVE_SCHEMA_VERSION: usize = archive::SCHEMA_VERSION;
pub use reads::build_list_filter;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;
use writer::Notify;
use writer::Projected;

/// How the SQLite file is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    /// `synchronous=FULL` (the WAL is fsynced at every group commit, so an acknowledged write
    /// survives a power loss) when true; `NORMAL` (survives a crash of the process, not a power
    /// loss) when false.
    pub fsync: bool,
    /// Read connections in the pool.
    pub readers: u32,
    /// Writes that may wait for the writer before callers get "unavailable".
    pub write_queue: usize,
    /// Keep the in-memory metrics index (the server does; the CLI and `demo` don't need it).
    pub metrics_index: bool,
    /// With the index: write its snapshot file (`<db>.index`) by itself — after a full load,
    /// periodically and at the stop — and start from it. Tests that write it by hand
    /// ([`SqliteStore::write_index_snapshot`]) turn the automatic writes off.
    pub index_snapshots: bool,
    /// Span batches archived and not yet projected, in bytes of their JSON, at most: a batch
    /// that would go over waits for its archive write until the projection catches up.
    pub projection_backlog_bytes: usize,
}

impl SqliteOptions {
    /// Defaults for a file: fsync on, 8 readers, a queue of 16,384 writes.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            fsync: true,
            readers: 8,
            write_queue: 16_384,
            metrics_index: false,
            index_snapshots: true,
            projection_backlog_bytes: DEFAULT_PROJECTION_BACKLOG_BYTES,
        }
    }
}

/// The lasting failure `e` is, if it is one (disk full, read-only, damaged, not a database, the
/// file refused, I/O): an operator must act, retrying does not help.
pub(crate) fn lasting(e: &rusqlite::Error) -> Option<StorageFailure> {
    use rusqlite::ErrorCode as C;
    // The shared-memory index (`*-shm`) could not grow: on a full file system.
    if let rusqlite::Error::SqliteFailure(f, _) = e
        && f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
    {
        return Some(StorageFailure::DiskFull);
    }
    Some(match e.sqlite_error_code()? {
        C::DiskFull => StorageFailure::DiskFull,
        C::ReadOnly => StorageFailure::ReadOnly,
        C::DatabaseCorrupt => StorageFailure::Corrupt,
        C::NotADatabase => StorageFailure::NotADatabase,
        C::CannotOpen | C::PermissionDenied => StorageFailure::CannotOpen,
        C::SystemIoFailure => StorageFailure::Io,
        _ => return None,
    })
}

/// A database error as a [`StoreError`] that keeps it as its source, `context` saying what the
/// store was doing: busy or locked is [`StoreError::Unavailable`] (retry), a lasting failure
/// ([`lasting`]) is [`StoreError::Storage`], anything else [`StoreError::Internal`].
pub(crate) fn sqlerr_in(
    context: impl Into<std::borrow::Cow<'static, str>>,
    e: rusqlite::Error,
) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::unavailable_from(context, e)
        }
        _ => match lasting(&e) {
            Some(kind) => StoreError::storage(kind, context, e),
            None => StoreError::internal_from(context, e),
        },
    }
}

/// [`sqlerr_in`] for a query of the store (most call sites: `.map_err(sqlerr)`).
pub(crate) fn sqlerr(e: rusqlite::Error) -> StoreError {
    sqlerr_in("SQLite", e)
}

/// A file-system error as a [`StoreError`]: out of space, read-only or refused is a lasting
/// [`StoreError::Storage`], anything else [`StoreError::Internal`]; `e` is kept as the source.
pub(crate) fn io_failure(
    context: impl Into<std::borrow::Cow<'static, str>>,
    e: std::io::Error,
) -> StoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded => StoreError::storage(StorageFailure::DiskFull, context, e),
        K::ReadOnlyFilesystem => StoreError::storage(StorageFailure::ReadOnly, context, e),
        K::PermissionDenied => StoreError::storage(StorageFailure::CannotOpen, context, e),
        _ => StoreError::internal_from(context, e),
    }
}

/// The database's count of committed metric write groups (`write_log`, migration 0002).
fn db_seq(conn: &Connection) -> StoreResult<i64> {
    conn.prepare_cached("SELECT seq FROM write_log WHERE id = 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sqlerr)
}

/// The default of [`SqliteOptions::projection_backlog_bytes`]: about a second of span batches at
/// the rate one small machine projects them.
pub const DEFAULT_PROJECTION_BACKLOG_BYTES: usize = 64 << 20;

/// Page cache of the write connection, in KiB: the projection's hot pages (every active
/// conversation's last pages of its indexes, the tails of the time-ordered ones, the interior
/// pages of them all) outgrow 32 MiB within a minute of heavy span ingest, and each miss is a
/// read of the WAL or the file (`docs/benchmarks.md` §4).
const WRITER_CACHE_KIB: i64 = 256 * 1024;
/// WAL pages between automatic checkpoints (SQLite's default is 1000): 512 MiB. A checkpoint
/// writes each page changed since the last one once, however many commits changed it, so rarer
/// checkpoints write the pages every group touches (each conversation's last pages) fewer times
/// (`docs/benchmarks.md` §4).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 131_072;
/// Bytes of the database file each connection maps into memory (reads then copy nothing);
/// address space, not memory: SQLite caps it at 2 GiB.
pub(crate) const MMAP_BYTES: i64 = 2 << 30;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Opens a database file for its writer thread: [`configure`]d, in WAL mode, `synchronous` as
/// `fsync` says, with a page cache of `cache_kib` and automatic checkpoints every
/// `checkpoint_pages` (`what` names the file in errors).
pub(crate) fn open_writer(
    path: &Path,
    fsync: bool,
    cache_kib: i64,
    checkpoint_pages: i64,
    what: &str,
) -> StoreResult<Connection> {
    let failed = |e| sqlerr_in(format!("opening {what} {}", path.display()), e);
    let conn = Connection::open(path).map_err(failed)?;
    configure(&conn).map_err(failed)?;
    // A new file gives the pages a removal frees back to the file system on
    // `PRAGMA incremental_vacuum` (`crate::erasure`). SQLite takes this only before the file's
    // first table, and before WAL mode: on a file made by an older version (`NONE`) it changes
    // nothing, and freed pages are reused by later writes (`VACUUM`, offline, returns them).
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(failed)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(failed)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::internal(format!("could not enable WAL on {what} (journal_mode={mode})")));
    }
    conn.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" }).map_err(failed)?;
    conn.pragma_update(None, "cache_size", -cache_kib).map_err(failed)?;
    conn.pragma_update(None, "wal_autocheckpoint", checkpoint_pages).map_err(failed)?;
    // Once checkpointed, the WAL is cut back to this size when writing restarts at its
    // beginning (it would otherwise keep its largest size for good).
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES).map_err(failed)?;
    Ok(conn)
}

/// What a WAL file is cut back to once checkpointed (`journal_size_limit`). Under sustained
/// load it still grows to its automatic checkpoint's size; the writer checkpoints when it has
/// been idle for [`writer::IDLE_CHECKPOINT_AFTER`], and at a clean stop (then to nothing).
pub(crate) const WAL_SIZE_LIMIT_BYTES: i64 = 64 << 20;

struct ReaderManager {
    path: PathBuf,
    archive: PathBuf,
}

impl r2d2::ManageConnection for ReaderManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        archive::attach(&conn, &self.archive, false)?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

/// Dropped in this order: the archive's writer first (it hands what it archived to the main
/// writer), then the main writer (it projects and commits what is queued).
struct Inner {
    archive: writer::Writer<archiving::Held>,
    writer: writer::Writer<writes::Cache>,
    readers: r2d2::Pool<ReaderManager>,
    index: Option<index::MetricsIndex>,
    progress: Arc<archive::Progress>,
    /// Trace segments' filters, loaded as they are sealed.
    segments: Arc<traces::Segments>,
    /// Bytes of span batches archived and not yet projected ([`SqliteOptions::projection_backlog_bytes`]).
    backlog: Arc<tokio::sync::Semaphore>,
    backlog_limit: u32,
    path: PathBuf,
    /// Who hears of committed writes (the main writer tells them).
    listeners: Arc<writer::Listeners>,
    /// Last: dropped after the writers stopped, it writes the index's snapshot at the stop.
    _final_snapshot: Option<FinalSnapshot>,
}

/// Writes the metrics index's snapshot when the store is dropped (a clean stop), after the
/// writer committed and handed over everything queued.
struct FinalSnapshot(index::MetricsIndex);

impl Drop for FinalSnapshot {
    fn drop(&mut self) {
        self.0.final_snapshot();
    }
}

/// Which plan answers a metrics query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsPlan {
    /// The index when it is ready and current, else raw rows (what the API uses).
    Auto,
    /// Raw rows, always.
    Raw,
    /// The index, waiting for it to be ready; an error when it cannot answer.
    Index,
}

/// The state of the metrics index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStatus {
    /// `off`, `loading`, `ready` or `failed` (raw rows answer; see the log).
    pub phase: &'static str,
    /// Loads finished since start.
    pub loads: u64,
    /// Approximate bytes held.
    pub approx_bytes: usize,
    /// The lasting storage failure the last load met (a damaged file), if any.
    pub fault: Option<String>,
    /// The last load started from the snapshot file (`agentsight.index`), not from every row.
    pub from_snapshot: bool,
    /// Journal groups that load replayed after the snapshot.
    pub replayed: u64,
    /// Journal groups applied since start for writes of other processes (the CLI, `demo`).
    pub caught_up: u64,
    /// Loads since start that read every row.
    pub full_loads: u64,
    /// The write group the snapshot file holds as last read or written (-1: none).
    pub snapshot_seq: i64,
    /// Snapshots written since start.
    pub snapshots: u64,
}

impl IndexStatus {
    fn off() -> IndexStatus {
        IndexStatus {
            phase: "off",
            loads: 0,
            approx_bytes: 0,
            fault: None,
            from_snapshot: false,
            replayed: 0,
            caught_up: 0,
            full_loads: 0,
            snapshot_seq: -1,
            snapshots: 0,
        }
    }
}

/// What [`SqliteStore::start`] found to recover.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Span batches archived before the last stop and projected now.
    pub projected: u64,
    /// Span batches that no longer validate: recorded as failed, kept in the archive.
    pub failed: u64,
}

/// The SQLite store. Cheap to clone; the writer stops when the last clone is dropped, after
/// committing everything queued.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database and starts the writer. A database
    /// or archive of a newer schema is refused untouched; one with data that needs migrating is
    /// first backed up into `<data-dir>/backups/` ([`upgrade`]).
    pub fn open(opts: SqliteOptions) -> StoreResult<SqliteStore> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            agentsight_store::private::private_dir(dir)
                .map_err(|e| io_failure(format!("creating {}", dir.display()), e))?;
        }
        // A newer schema is refused before anything is written; an older one with data is
        // backed up before it is migrated.
        upgrade::before_migrating(&opts.path)?;
        let archive_path = archive::path_of(&opts.path);
        for file in [&opts.path, &archive_path] {
            agentsight_store::private::private_db_file(file)
                .map_err(|e| io_failure(format!("creating {}", file.display()), e))?;
        }
        let archive_conn = archive::open_for_writing(&archive_path, opts.fsync)?;
        // The writer inserts into indexes at random places (one conversation among many): keep
        // their pages in memory instead of re-reading them from the OS at every group, and
        // checkpoint the WAL in larger, rarer steps.
        let mut conn =
            open_writer(&opts.path, opts.fsync, WRITER_CACHE_KIB, WAL_AUTOCHECKPOINT_PAGES, "the database")?;
        // Migrations may move data into the archive (0008); then the archive must never give
        // an id this database already counts as projected.
        archive::attach(&conn, &archive_path, true).map_err(sqlerr)?;
        migrate::migrate(&mut conn)?;
        let projected = archive::last_projected(&conn)?;
        archive::ensure_ids_above(&conn, projected)?;
        conn.execute("DETACH DATABASE archive", []).map_err(sqlerr)?;
        // The trace segments the spans already stored fill (those the migration moved).
        traces::seal(&archive_conn)?;
        let (index, feed) = if opts.metrics_index {
            let seq: i64 =
                conn.query_row("SELECT seq FROM write_log WHERE id = 1", [], |r| r.get(0)).map_err(sqlerr)?;
            let (index, feed) = index::MetricsIndex::start(opts.path.clone(), seq, opts.index_snapshots)
                .map_err(|e| StoreError::internal_from("starting the metrics index", e))?;
            (Some(index), Some(feed))
        } else {
            (None, None)
        };
        let progress = Arc::new(archive::Progress::new(projected));
        let listeners = Arc::new(writer::Listeners::default());
        let segments = Arc::new(traces::Segments::default());
        let started = |e: std::io::Error| StoreError::internal_from("starting writer", e);
        let writer = writer::Writer::start(
            "agentsight-writer",
            conn,
            opts.write_queue,
            writer::Config {
                fsync: opts.fsync,
                feed,
                progress: Some(progress.clone()),
                segments: None,
                listeners: Some(listeners.clone()),
            },
        )
        .map_err(started)?;
        let archive = writer::Writer::start(
            "agentsight-archive",
            archive_conn,
            opts.write_queue,
            writer::Config {
                fsync: opts.fsync,
                feed: None,
                progress: None,
                segments: Some(segments.clone()),
                listeners: None,
            },
        )
        .map_err(started)?;
        let readers = r2d2::Pool::builder()
            .max_size(opts.readers.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(ReaderManager { path: opts.path.clone(), archive: archive_path })
            .map_err(|e| StoreError::internal_from("opening readers", e))?;
        let backlog_limit =
            u32::try_from((opts.projection_backlog_bytes >> 10).max(1)).unwrap_or(u32::MAX >> 4);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                archive,
                writer,
                readers,
                index: index.clone(),
                progress,
                segments,
                backlog: Arc::new(tokio::sync::Semaphore::new(backlog_limit as usize)),
                backlog_limit,
                path: opts.path,
                listeners,
                _final_snapshot: index.filter(|_| opts.index_snapshots).map(FinalSnapshot),
            }),
        })
    }

    /// The metrics index's state.
    pub fn index_status(&self) -> IndexStatus {
        match &self.inner.index {
            None => IndexStatus::off(),
            Some(ix) => {
                let (phase, loads) = ix.phase();
                let p = ix.persist_status();
                IndexStatus {
                    phase: match phase {
                        index::IndexPhase::Loading => "loading",
                        index::IndexPhase::Ready => "ready",
                        index::IndexPhase::Failed => "failed",
                    },
                    loads,
                    approx_bytes: ix.approx_bytes(),
                    fault: ix.fault(),
                    from_snapshot: p.loaded.snapshot,
                    replayed: p.loaded.replayed,
                    caught_up: p.caught_up,
                    full_loads: p.full_loads,
                    snapshot_seq: p.snapshot_seq,
                    snapshots: p.snapshots,
                }
            }
        }
    }

    /// Writes the metrics index's snapshot file now (it is also written periodically and at a
    /// clean stop); the write group it holds, or `None` when the index is off or not ready.
    pub async fn write_index_snapshot(&self) -> StoreResult<Option<i64>> {
        let Some(ix) = self.inner.index.clone() else { return Ok(None) };
        tokio::task::spawn_blocking(move || ix.snapshot())
            .await
            .map_err(|e| StoreError::internal_from("writing the index snapshot", e))?
            .map_err(StoreError::internal)
    }

    /// Waits until the metrics index is ready; false on timeout or when it is off.
    pub async fn wait_index_ready(&self, timeout: Duration) -> bool {
        let Some(ix) = self.inner.index.clone() else { return false };
        tokio::task::spawn_blocking(move || ix.wait_ready(timeout)).await.unwrap_or(false)
    }

    /// The overview through a chosen plan (tests and benchmarks compare them).
    pub async fn overview_with(
        &self,
        plan: MetricsPlan,
        agent: AgentRef,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<OverviewResponse> {
        let (a, qq, esc) = (agent.clone(), q.clone(), escalation.clone());
        self.planned(
            plan,
            agent.id,
            move |ix: &AgentIndex| ix.overview(&qq, &esc, a.clone()),
            move |conn: &Connection| metrics::overview(conn, agent.clone(), &q, &escalation),
        )
        .await
    }

    /// A time series through a chosen plan.
    pub async fn timeseries_with(
        &self,
        plan: MetricsPlan,
        agent: AgentRef,
        q: MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
    ) -> StoreResult<TimeseriesResponse> {
        let (a, qq) = (agent.clone(), q.clone());
        self.planned(
            plan,
            agent.id,
            move |ix: &AgentIndex| ix.timeseries(&qq, metric, interval, a.clone()),
            move |conn: &Connection| metrics::timeseries(conn, agent.clone(), &q, metric, interval),
        )
        .await
    }

    /// Users over time through a chosen plan.
    pub async fn users_with(
        &self,
        plan: MetricsPlan,
        agent: AgentRef,
        q: MetricsQuery,
        interval: Interval,
    ) -> StoreResult<UsersResponse> {
        let (a, qq) = (agent.clone(), q.clone());
        self.planned(
            plan,
            agent.id,
            move |ix: &AgentIndex| ix.users(&qq, interval, a.clone()),
            move |conn: &Connection| metrics::users(conn, agent.clone(), &q, interval),
        )
        .await
    }

    /// Answers from the index when the plan allows and it can, else from raw rows. With
    /// [`MetricsPlan::Index`] it waits for the index (rebuilt, if another process wrote) and
    /// never reads raw rows.
    async fn planned<T, I, R>(
        &self,
        plan: MetricsPlan,
        agent_id: i64,
        from_index: I,
        raw: R,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        I: Fn(&AgentIndex) -> Option<T> + Clone + Send + 'static,
        R: Fn(&Connection) -> StoreResult<T> + Clone + Send + 'static,
    {
        for _ in 0..3 {
            let index = self.planned_index(plan).await?;
            let (f, r) = (from_index.clone(), raw.clone());
            let answer = self
                .read(move |conn| {
                    if let Some(ix) = &index {
                        let seq = db_seq(conn)?;
                        if let Some(t) = ix.with_agent(agent_id, seq, &f) {
                            return Ok(Some(t));
                        }
                        if plan == MetricsPlan::Index {
                            return Ok(None);
                        }
                    }
                    r(conn).map(Some)
                })
                .await?;
            if let Some(t) = answer {
                return Ok(t);
            }
        }
        Err(StoreError::internal("the metrics index could not answer"))
    }

    async fn planned_index(&self, plan: MetricsPlan) -> StoreResult<Option<index::MetricsIndex>> {
        match plan {
            MetricsPlan::Raw => Ok(None),
            MetricsPlan::Auto => Ok(self.inner.index.clone()),
            MetricsPlan::Index => {
                if !self.wait_index_ready(Duration::from_secs(60)).await {
                    return Err(StoreError::internal("the metrics index is off or not ready"));
                }
                Ok(self.inner.index.clone())
            }
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A read of data the span projection writes (conversations, messages, spans, usage,
    /// metrics, …): it first waits until every span batch acknowledged before it is projected
    /// (`archive::Progress`), so a client reads what it wrote.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.progress.caught_up().await?;
        self.read_config(f).await
    }

    /// A read of what the projection never writes (agents, keys, environments, users,
    /// sessions, shares, branding): no wait, so authenticating a request never waits for
    /// the span batches before it.
    async fn read_config<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.inner.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(|e| StoreError::unavailable_from("no reader", e))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::internal_from("reader task", e))?
    }

    /// A write that needs only the connection (no cache, no metrics delta).
    async fn write<T, F>(&self, notify: Notify, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.submit(notify, move |cx| f(&cx.conn)).await
    }

    /// A write on the main writer's whole context (its caches, the group's metrics deltas).
    async fn write_in<T, F>(&self, notify: Notify, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut writer::MainContext) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.submit(notify, f).await
    }
}

impl TrackingWriter for SqliteStore {
    async fn upsert_conversation(&self, c: ConversationUpsert) -> StoreResult<Upserted> {
        self.write_in(Notify::Agent(c.agent_id, Change::Conversation), move |cx| {
            writes::upsert_conversation(cx, &c)
        })
        .await
    }

    async fn insert_message(&self, m: NewMessage) -> StoreResult<MessageRow> {
        self.write_in(Notify::Agent(m.agent_id, Change::Message), move |cx| {
            writes::insert_message(cx, m, true)
        })
        .await
    }

    async fn insert_action(&self, a: NewAction) -> StoreResult<ActionLogRow> {
        self.write_in(Notify::Agent(a.agent_id, Change::Other), move |cx| writes::insert_action(cx, &a, true))
            .await
    }

    async fn insert_button(&self, b: NewButton) -> StoreResult<ButtonRow> {
        self.write_in(Notify::Agent(b.agent_id, Change::Other), move |cx| writes::insert_button(cx, &b, true))
            .await
    }

    async fn insert_attachments(&self, a: AttachmentsInsert) -> StoreResult<Vec<AttachmentRow>> {
        self.write_in(Notify::Agent(a.agent_id, Change::Other), move |cx| writes::insert_attachments(cx, &a))
            .await
    }

    async fn insert_feedback(&self, f: NewFeedback) -> StoreResult<FeedbackRow> {
        self.write_in(Notify::Agent(f.agent_id, Change::Other), move |cx| writes::insert_feedback(cx, &f))
            .await
    }

    async fn patch_conversation(
        &self,
        agent_id: i64,
        pk: i64,
        patch: ConversationPatch,
        now: Micros,
    ) -> StoreResult<Option<ConversationRow>> {
        self.write_in(Notify::Agent(agent_id, Change::Other), move |cx| {
            writes::patch_conversation(cx, agent_id, pk, &patch, now)
        })
        .await
    }
}

impl TrackingReader for SqliteStore {
    async fn conversation(&self, agent_id: i64, r: ConversationRef) -> StoreResult<Option<ConversationRow>> {
        self.read(move |conn| match &r {
            ConversationRef::Pk(pk) => reads::conversation_by_pk(conn, agent_id, *pk),
            ConversationRef::Id(id) => reads::conversation_by_id(conn, agent_id, id),
        })
        .await
    }

    async fn list_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ConversationRow>)> {
        self.read(move |conn| reads::list_conversations(conn, agent_id, &filter, page)).await
    }

    async fn transcript(&self, agent_id: i64, pk: i64) -> StoreResult<Option<Transcript>> {
        self.read(move |conn| reads::transcript(conn, agent_id, pk)).await
    }

    async fn attachment(&self, agent_id: i64, id: i64) -> StoreResult<Option<AttachmentRow>> {
        self.read(move |conn| reads::attachment(conn, agent_id, id)).await
    }
}

/// What a caller is told of a projection.
fn projection_result(r: Result<Projected, oneshot::error::RecvError>) -> StoreResult<IngestOutcome> {
    match r {
        Ok(Projected::Done(out)) => Ok(out),
        Ok(Projected::Failed(why)) => {
            Err(StoreError::internal(format!("the batch could not be projected: {why}")))
        }
        Ok(Projected::Deferred(why)) => Err(StoreError::unavailable(why)),
        Err(_) => Err(StoreError::unavailable("the projection was dropped")),
    }
}

/// Queues archived batch `p` for projection (waiting while the queue is full) and counts it as
/// acknowledged, so reads from now on wait for it; a writer that has stopped defers it to the
/// next start.
fn queue_projection(
    queue: &writer::Queue<writes::Cache>,
    progress: &archive::Progress,
    p: writer::Projection,
) {
    let id = p.id;
    match queue.project(p) {
        Ok(()) => progress.acked(id),
        Err(p) => (p.done)(Projected::Deferred("the store is closing".into())),
    }
}

/// Recovery of the span pipeline (archive, then projection) after a stop between the two: the
/// store's own business, run by [`SqliteStore::start`] before the store is handed out.
impl SqliteStore {
    /// Opens the store as [`SqliteStore::open`] does, then projects the span batches the archive
    /// holds and the database has not projected (the process stopped between the two), in order.
    /// Each is validated and enriched again from its body as at ingest (the agent's environments
    /// only grow, so a batch valid then is valid now); one that no longer reads or validates is
    /// recorded as failed and stays in the archive. For the process that serves requests; an
    /// operator command that runs beside it uses [`SqliteStore::open`].
    pub async fn start(opts: SqliteOptions, enrich: &Enrichment) -> StoreResult<(SqliteStore, Recovered)> {
        let store = tokio::task::spawn_blocking(move || SqliteStore::open(opts))
            .await
            .map_err(|e| StoreError::internal_from("opening the store", e))??;
        let recovered = store.recover(enrich).await?;
        Ok((store, recovered))
    }

    async fn recover(&self, enrich: &Enrichment) -> StoreResult<Recovered> {
        let mut out = Recovered::default();
        let mut after = 0;
        while let Some(b) = self.next_unprojected(after).await? {
            after = b.id;
            match self.revalidate(enrich, &b).await {
                Ok(batch) => {
                    self.project_archived(b.id, batch).await?;
                    out.projected += 1;
                }
                Err(why) => {
                    tracing::error!(batch = b.id, error = %why, "an archived span batch cannot be projected");
                    self.skip_archived(b.id, why).await?;
                    out.failed += 1;
                }
            }
        }
        if out.projected + out.failed > 0 {
            tracing::info!(
                projected = out.projected,
                failed = out.failed,
                "projected the span batches archived before the last stop"
            );
        }
        Ok(out)
    }

    /// An archived batch validated again, or why it cannot be.
    async fn revalidate(&self, enrich: &Enrichment, b: &ArchivedBatch) -> Result<SpanIngest, String> {
        let text = b.body.decode(agentsight_core::archive::MAX_DECODED_BYTES).map_err(|e| e.to_string())?;
        let p: agentsight_protocol::v01::IngestPayload<'_> =
            serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let environments =
            self.environments(b.agent_id).await.map_err(|e| agentsight_store::chain(&e).to_string())?;
        let scope = agentsight_core::tracking::AgentScope {
            agent_id: b.agent_id,
            environments: environments.into_iter().map(|e| e.slug).collect(),
        };
        agentsight_core::spans::validate_and_enrich(enrich, &scope, &text, &p, b.received_at)
            .map_err(|e| format!("{e:?}"))
    }

    async fn next_unprojected(&self, after: i64) -> StoreResult<Option<ArchivedBatch>> {
        self.read_config(move |conn| archive::next_after(conn, after.max(archive::last_projected(conn)?)))
            .await
    }

    async fn project_archived(&self, id: i64, batch: SpanIngest) -> StoreResult<IngestOutcome> {
        let queue =
            self.inner.writer.queue().ok_or_else(|| StoreError::unavailable("the store is closing"))?;
        let segments = self.inner.segments.clone();
        let (batch, plan) = self
            .read_config(move |conn| {
                let plan = archiving::plan_of(conn, &segments, id, &batch)?;
                Ok((batch, plan))
            })
            .await?;
        let (tx, rx) = oneshot::channel::<Projected>();
        let done = Box::new(move |how: Projected| drop(tx.send(how)));
        let progress = self.inner.progress.clone();
        tokio::task::spawn_blocking(move || {
            queue_projection(&queue, &progress, writer::Projection { id, batch, plan, done })
        })
        .await
        .map_err(|e| StoreError::internal_from("queueing a projection", e))?;
        projection_result(rx.await)
    }

    async fn skip_archived(&self, id: i64, why: String) -> StoreResult<()> {
        let now = agentsight_core::time::now_micros();
        self.write(Notify::Nothing, move |conn| archive::record_failure(conn, id, &why, now)).await?;
        self.inner.progress.projected(id);
        Ok(())
    }
}

impl ChangeFeed for SqliteStore {
    fn listen(&self, listener: Arc<dyn ChangeListener>) {
        self.inner.listeners.add(listener);
    }
}

impl agentsight_store::StatsReader for SqliteStore {
    /// The main writer's queue (`writer`: every 0.0.x write and data-plane change, and the span
    /// projections) and the archive writer's (`archive`: span batches), and the span batches
    /// archived and not yet projected.
    fn store_stats(&self) -> agentsight_store::StoreStats {
        let (archived, projected) = self.inner.progress.marks();
        let limit = u64::from(self.inner.backlog_limit);
        let free = self.inner.backlog.available_permits() as u64;
        agentsight_store::StoreStats {
            queues: vec![self.inner.writer.stats("writer"), self.inner.archive.stats("archive")],
            projection_backlog: Some(agentsight_store::ProjectionBacklog {
                batches: u64::try_from(archived.saturating_sub(projected)).unwrap_or(0),
                bytes: limit.saturating_sub(free) << 10,
                limit_bytes: limit << 10,
            }),
        }
    }
}

impl SpanWriter for SqliteStore {
    async fn ingest_spans(&self, batch: SpanIngest, body: ArchivedBody) -> StoreResult<IngestReceipt> {
        let closed = || StoreError::unavailable("the store is closing");
        // The batch's share of the backlog, in KiB (a batch larger than the whole backlog takes
        // all of it, so it waits for the others but is never refused).
        let kib = u32::try_from(batch.body_len >> 10).unwrap_or(u32::MAX).clamp(1, self.inner.backlog_limit);
        let permit = self.inner.backlog.clone().acquire_many_owned(kib).await.map_err(|_| closed())?;
        let queue = self.inner.writer.queue().ok_or_else(closed)?;
        let archive = self.inner.archive.queue();
        let progress = self.inner.progress.clone();
        let segments = self.inner.segments.clone();
        let (archived_tx, archived) = oneshot::channel::<StoreResult<(i64, u64, u64)>>();
        let (projected_tx, projected) = oneshot::channel::<Projected>();
        // Runs on the archive's writer thread, in the order of the ids, once the archive
        // (body, span rows) is durable: hands the batch to the main writer to project.
        let hand_over = move |r: StoreResult<(archiving::Archived, SpanIngest)>| {
            let (a, batch) = match r {
                Ok(done) => done,
                Err(e) => return drop(archived_tx.send(Err(e))),
            };
            let (id, accepted, duplicates) = (a.id, a.accepted, a.duplicates);
            let done = Box::new(move |how: Projected| {
                drop(permit);
                if let (Projected::Done(_), Some(archive), 0) = (&how, archive, accepted) {
                    // A resend (or a batch of upserts only): no span points into its body.
                    archive.detached(move |conn| archive::delete(conn, id));
                }
                let _ = projected_tx.send(how);
            });
            queue_projection(&queue, &progress, writer::Projection { id, batch, plan: a.plan, done });
            let _ = archived_tx.send(Ok((id, accepted, duplicates)));
        };
        self.inner.archive.submit_then(
            // Archiving changes nothing a dashboard shows: the projection reports what it does.
            Notify::Nothing,
            // The batch comes back with what archiving it did, for its projection.
            move |cx| archiving::archive_batch(cx, &segments, &batch, &body).map(|a| (a, batch)),
            hand_over,
        )?;
        let (batch_id, accepted, duplicates) =
            archived.await.map_err(|_| StoreError::unavailable("the batch was not archived"))??;
        Ok(IngestReceipt {
            batch_id,
            accepted,
            duplicates,
            projected: Box::pin(async move { projection_result(projected.await) }),
        })
    }

    async fn restate_costs(
        &self,
        agent_id: Option<i64>,
        pricing: agentsight_core::prices::Pricing,
        now: Micros,
    ) -> StoreResult<Restated> {
        self.write(Notify::Nothing, move |conn| writes::restate_costs(conn, agent_id, pricing, now)).await
    }
}

impl SpanReader for SqliteStore {
    async fn list_spans(
        &self,
        agent_id: i64,
        filter: SpanFilter,
        page: PageRequest,
        payload: bool,
    ) -> StoreResult<(i64, Vec<SpanRow>)> {
        let segments = self.inner.segments.clone();
        self.read(move |conn| spans::list_spans(conn, &segments, agent_id, &filter, page, payload)).await
    }

    async fn span(&self, agent_id: i64, id: i64, payload: bool) -> StoreResult<Option<SpanRow>> {
        self.read(move |conn| spans::span(conn, agent_id, id, payload)).await
    }

    async fn trace(&self, agent_id: i64, trace_id: String, limit: i64) -> StoreResult<(Vec<SpanRow>, bool)> {
        let segments = self.inner.segments.clone();
        self.read(move |conn| spans::trace(conn, &segments, agent_id, &trace_id, limit)).await
    }

    async fn list_token_usage(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<TokenUsageRow>)> {
        self.read(move |conn| spans::list_token_usage(conn, agent_id, &filter, page)).await
    }

    async fn llm_metrics(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
    ) -> StoreResult<agentsight_protocol::v01::LlmMetricsResponse> {
        self.read(move |conn| llm_metrics::llm(conn, agent, &q)).await
    }

    async fn usage_summary(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        group_by: UsageGroupBy,
    ) -> StoreResult<Vec<UsageGroupRow>> {
        self.read(move |conn| spans::usage_summary(conn, agent_id, &filter, group_by)).await
    }
}

impl DataPlane for SqliteStore {
    async fn insert_vote(&self, v: NewVote) -> StoreResult<(FeedbackItem, bool)> {
        self.write(Notify::Agent(v.agent_id, Change::Other), move |conn| writes::insert_vote(conn, &v)).await
    }

    async fn list_feedback(
        &self,
        agent_id: i64,
        filter: FeedbackFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<FeedbackItem>)> {
        self.read(move |conn| dataplane::list_feedback(conn, agent_id, &filter, page)).await
    }

    async fn feedback(&self, agent_id: i64, id: i64) -> StoreResult<Option<FeedbackItem>> {
        self.read(move |conn| dataplane::feedback(conn, agent_id, id)).await
    }

    async fn update_feedback(
        &self,
        agent_id: i64,
        id: i64,
        change: FeedbackChange,
    ) -> StoreResult<Option<FeedbackItem>> {
        self.write_in(Notify::Agent(agent_id, Change::Other), move |cx| {
            writes::update_feedback(cx, agent_id, id, &change)
        })
        .await
    }

    async fn delete_feedback(&self, agent_id: i64, id: i64) -> StoreResult<bool> {
        self.write_in(Notify::Agent(agent_id, Change::Other), move |cx| {
            writes::delete_feedback(cx, agent_id, id)
        })
        .await
    }

    async fn create_action(&self, agent_id: i64, def: ActionDef, now: Micros) -> StoreResult<ActionRow> {
        self.write(Notify::Agent(agent_id, Change::Other), move |conn| {
            writes::create_action(conn, agent_id, &def, now)
        })
        .await
    }

    async fn list_actions(
        &self,
        agent_id: i64,
        filter: ActionFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ActionRow>)> {
        self.read(move |conn| dataplane::list_actions(conn, agent_id, &filter, page)).await
    }

    async fn action(&self, agent_id: i64, id: i64) -> StoreResult<Option<ActionRow>> {
        self.read(move |conn| dataplane::action(conn, agent_id, id)).await
    }

    async fn update_action(
        &self,
        agent_id: i64,
        id: i64,
        def: ActionDef,
        now: Micros,
    ) -> StoreResult<Option<ActionRow>> {
        self.write_in(Notify::Agent(agent_id, Change::Other), move |cx| {
            writes::update_action(cx, agent_id, id, &def, now)
        })
        .await
    }

    async fn action_logs(
        &self,
        agent_id: i64,
        id: i64,
        limit: i64,
    ) -> StoreResult<Option<Vec<ActionLogItem>>> {
        self.read(move |conn| dataplane::action_logs(conn, agent_id, id, limit)).await
    }

    async fn message(&self, agent_id: i64, id: i64) -> StoreResult<Option<MessageDetail>> {
        self.read(move |conn| dataplane::message(conn, agent_id, id)).await
    }

    async fn set_message_metadata(
        &self,
        agent_id: i64,
        id: i64,
        metadata: String,
    ) -> StoreResult<Option<MessageDetail>> {
        self.write(Notify::Agent(agent_id, Change::Other), move |conn| {
            writes::set_message_metadata(conn, agent_id, id, &metadata)
        })
        .await
    }

    async fn metadata_keys(&self, agent_id: i64, messages: bool) -> StoreResult<Vec<String>> {
        self.read(move |conn| dataplane::metadata_keys(conn, agent_id, messages)).await
    }

    async fn metadata_values(&self, agent_id: i64, key: String, limit: i64) -> StoreResult<Vec<String>> {
        self.read(move |conn| dataplane::metadata_values(conn, agent_id, &key, limit)).await
    }
}

impl MetricsReader for SqliteStore {
    async fn overview(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<OverviewResponse> {
        self.overview_with(MetricsPlan::Auto, agent, q, escalation).await
    }

    async fn timeseries(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
    ) -> StoreResult<TimeseriesResponse> {
        self.timeseries_with(MetricsPlan::Auto, agent, q, metric, interval).await
    }

    async fn users(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        interval: Interval,
    ) -> StoreResult<UsersResponse> {
        self.users_with(MetricsPlan::Auto, agent, q, interval).await
    }

    async fn live(&self, agent: AgentRef, now: Micros) -> StoreResult<LiveResponse> {
        self.read(move |conn| metrics::live(conn, agent, now)).await
    }

    async fn failure_facts(
        &self,
        agent_id: i64,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> StoreResult<agentsight_core::metrics::failures::FailureFacts> {
        self.read(move |conn| failures::facts(conn, agent_id, &q, &escalation)).await
    }

    async fn engine_status(&self) -> EngineStatus {
        let (archived, projected) = self.inner.progress.marks();
        let me = self.clone();
        let s = tokio::task::spawn_blocking(move || me.index_status())
            .await
            .unwrap_or_else(|_| IndexStatus::off());
        EngineStatus {
            engine: if s.phase == "off" { "sqlite-raw" } else { "sqlite-index" }.to_string(),
            phase: s.phase.to_string(),
            approx_bytes: s.approx_bytes as u64,
            fault: s.fault,
            details: [
                ("loads".to_string(), i64::try_from(s.loads).unwrap_or(i64::MAX)),
                ("full_loads".to_string(), i64::try_from(s.full_loads).unwrap_or(i64::MAX)),
                ("from_snapshot".to_string(), i64::from(s.from_snapshot)),
                ("replayed_groups".to_string(), i64::try_from(s.replayed).unwrap_or(i64::MAX)),
                ("journal_groups".to_string(), i64::try_from(s.caught_up).unwrap_or(i64::MAX)),
                ("snapshot_seq".to_string(), s.snapshot_seq),
                ("snapshots_written".to_string(), i64::try_from(s.snapshots).unwrap_or(i64::MAX)),
                ("spans_archived_batch".to_string(), archived),
                ("spans_projected_batch".to_string(), projected),
            ]
            .into(),
        }
    }
}

impl AgentStore for SqliteStore {
    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<Principal>> {
        self.read_config(move |conn| reads::authenticate(conn, &key_hash)).await
    }

    async fn environments(&self, agent_id: i64) -> StoreResult<Vec<EnvironmentRow>> {
        self.read_config(move |conn| spans::environments(conn, agent_id)).await
    }

    async fn create_agent(&self, name: String, now: Micros) -> StoreResult<AgentRow> {
        self.write(Notify::Nothing, move |conn| writes::create_agent(conn, &name, now)).await
    }

    async fn list_agents(&self) -> StoreResult<Vec<AgentRow>> {
        self.read_config(reads::list_agents).await
    }

    async fn agent(&self, id: i64) -> StoreResult<Option<AgentRow>> {
        self.read_config(move |conn| reads::agent(conn, id)).await
    }

    async fn rename_agent(&self, id: i64, name: String) -> StoreResult<Option<AgentRow>> {
        self.write(Notify::Nothing, move |conn| writes::rename_agent(conn, id, &name)).await
    }

    async fn create_key(
        &self,
        agent_id: i64,
        role: Role,
        prefix: String,
        hash: [u8; 32],
        now: Micros,
    ) -> StoreResult<KeyRow> {
        self.write(Notify::Nothing, move |conn| writes::create_key(conn, agent_id, role, &prefix, &hash, now))
            .await
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        self.read_config(reads::list_keys).await
    }

    async fn escalation_tools(&self, agent_id: i64) -> StoreResult<Option<Vec<String>>> {
        self.read_config(move |conn| reads::escalation_tools(conn, agent_id)).await
    }

    async fn set_escalation_tools(&self, agent_id: i64, tools: Option<Vec<String>>) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| {
            writes::set_escalation_tools(conn, agent_id, tools.as_deref())
        })
        .await
    }

    async fn create_environment(
        &self,
        agent_id: i64,
        slug: String,
        name: String,
        is_production: bool,
        now: Micros,
    ) -> StoreResult<EnvironmentRow> {
        self.write(Notify::Nothing, move |conn| {
            writes::create_environment(conn, agent_id, &slug, &name, is_production, now)
        })
        .await
    }

    async fn revoke_key(&self, key_id: i64, now: Micros) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| writes::revoke_key(conn, key_id, now)).await
    }
}

impl UserStore for SqliteStore {
    async fn create_user(&self, u: NewUser) -> StoreResult<UserRow> {
        self.write(Notify::Nothing, move |conn| dashboard::create_user(conn, &u)).await
    }

    async fn create_first_admin(&self, u: NewUser) -> StoreResult<Option<UserRow>> {
        self.write(Notify::Nothing, move |conn| dashboard::create_first_admin(conn, &u)).await
    }

    async fn has_admin(&self) -> StoreResult<bool> {
        self.read_config(dashboard::has_admin).await
    }

    async fn user(&self, id: i64) -> StoreResult<Option<UserRow>> {
        self.read_config(move |conn| dashboard::user(conn, id)).await
    }

    async fn user_by_email(&self, email: String) -> StoreResult<Option<(UserRow, String)>> {
        self.read_config(move |conn| dashboard::user_by_email(conn, &email)).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRow>> {
        self.read_config(dashboard::list_users).await
    }

    async fn update_user(&self, id: i64, patch: UserPatch) -> StoreResult<Option<UserRow>> {
        self.write(Notify::Nothing, move |conn| dashboard::update_user(conn, id, &patch)).await
    }

    async fn delete_user(&self, id: i64) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| dashboard::delete_user(conn, id)).await
    }

    async fn create_session(
        &self,
        user_id: i64,
        token_hash: [u8; 32],
        now: Micros,
        expires_at: Micros,
    ) -> StoreResult<()> {
        self.write(Notify::Nothing, move |conn| {
            dashboard::create_session(conn, user_id, &token_hash, now, expires_at)
        })
        .await
    }

    async fn session(&self, token_hash: [u8; 32], now: Micros) -> StoreResult<Option<SessionRow>> {
        self.read_config(move |conn| dashboard::session(conn, &token_hash, now)).await
    }

    async fn extend_session(&self, session_id: i64, now: Micros, expires_at: Micros) -> StoreResult<()> {
        self.write(Notify::Nothing, move |conn| dashboard::extend_session(conn, session_id, now, expires_at))
            .await
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| dashboard::delete_session(conn, &token_hash)).await
    }
}

impl ShareStore for SqliteStore {
    async fn create_share(&self, s: NewShare) -> StoreResult<ShareRow> {
        self.write(Notify::Nothing, move |conn| dashboard::create_share(conn, &s)).await
    }

    async fn list_shares(&self, agent_id: i64) -> StoreResult<Vec<ShareRow>> {
        self.read_config(move |conn| dashboard::list_shares(conn, agent_id)).await
    }

    async fn share(&self, id: i64) -> StoreResult<Option<ShareRow>> {
        self.read_config(move |conn| dashboard::share(conn, id)).await
    }

    async fn share_by_hash(&self, token_hash: [u8; 32]) -> StoreResult<Option<ShareRow>> {
        self.read_config(move |conn| dashboard::share_by_hash(conn, &token_hash)).await
    }

    async fn revoke_share(&self, id: i64, now: Micros) -> StoreResult<Option<ShareRow>> {
        self.write(Notify::Nothing, move |conn| dashboard::revoke_share(conn, id, now)).await
    }
}

impl BrandingStore for SqliteStore {
    async fn branding(&self, agent_id: i64) -> StoreResult<Branding> {
        self.read_config(move |conn| dashboard::branding(conn, agent_id)).await
    }

    async fn set_branding(&self, agent_id: i64, patch: BrandingPatch) -> StoreResult<Option<Branding>> {
        self.write(Notify::Nothing, move |conn| dashboard::set_branding(conn, agent_id, &patch)).await
    }

    async fn logo(&self, agent_id: i64) -> StoreResult<Option<Logo>> {
        self.read_config(move |conn| dashboard::logo(conn, agent_id)).await
    }
}

impl ExportReader for SqliteStore {
    async fn export_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        after: Option<ExportCursor>,
        limit: i64,
    ) -> StoreResult<ExportPage> {
        // The cursor is the last conversation pk of the previous page.
        let after = match after {
            None => 0,
            Some(ExportCursor(c)) => c
                .parse::<i64>()
                .map_err(|_| StoreError::internal(format!("not an export cursor of this store: {c:?}")))?,
        };
        let rows =
            self.read(move |conn| reads::export_conversations(conn, agent_id, &filter, after, limit)).await?;
        let next = match rows.last() {
            Some(last) if rows.len() as i64 >= limit => Some(ExportCursor(last.conversation.id.to_string())),
            _ => None,
        };
        Ok(ExportPage { rows, next })
    }

    async fn export_entries(
        &self,
        agent_id: i64,
        conversation_pks: Vec<i64>,
    ) -> StoreResult<Vec<MessageRow>> {
        self.read(move |conn| reads::export_entries(conn, agent_id, &conversation_pks)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32, message: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message.into()))
    }

    /// Busy and locked are "retry later"; a full disk, a read-only or damaged file, a file that
    /// is not a database are lasting storage failures, told apart from busy; anything else is
    /// internal. Each keeps the rusqlite error as its source.
    #[test]
    fn sqlerr_tells_busy_from_lasting_failures() {
        for code in [ffi::SQLITE_BUSY, ffi::SQLITE_LOCKED] {
            assert!(sqlerr(failure(code, "database is locked")).is_unavailable());
        }
        for (code, kind) in [
            (ffi::SQLITE_FULL, StorageFailure::DiskFull),
            (ffi::SQLITE_READONLY, StorageFailure::ReadOnly),
            (ffi::SQLITE_CORRUPT, StorageFailure::Corrupt),
            (ffi::SQLITE_NOTADB, StorageFailure::NotADatabase),
            (ffi::SQLITE_IOERR, StorageFailure::Io),
            (ffi::SQLITE_IOERR_SHMSIZE, StorageFailure::DiskFull),
        ] {
            match sqlerr_in("COMMIT", failure(code, "it failed")) {
                StoreError::Storage { kind: k, ref source, .. } => {
                    assert_eq!(k, kind);
                    assert!(source.downcast_ref::<rusqlite::Error>().is_some());
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        let e = sqlerr(failure(ffi::SQLITE_CONSTRAINT, "UNIQUE constraint failed: agents.name"));
        assert!(matches!(e, StoreError::Internal { source: Some(_), .. }), "{e:?}");
        // rusqlite's own error has SQLite's code under it.
        assert_eq!(
            agentsight_store::chain(&e).to_string(),
            "store failure: SQLite: UNIQUE constraint failed: agents.name: Error code 19: constraint failed"
        );
        let full = sqlerr_in("COMMIT", failure(ffi::SQLITE_FULL, "database or disk is full"));
        assert!(
            agentsight_store::chain(&full)
                .to_string()
                .starts_with("storage failure (disk full): COMMIT: database or disk is full: "),
            "{}",
            agentsight_store::chain(&full)
        );
    }

    /// A database file that is not one: the store does not open, and says so as a lasting
    /// storage failure naming the file's role, with SQLite's own message under it.
    #[test]
    fn a_file_that_is_not_a_database_is_a_lasting_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentsight.db");
        std::fs::write(&path, "this is not a database, only text long enough to have a header ".repeat(8))
            .unwrap();
        let Err(e) = SqliteStore::open(SqliteOptions::new(&path)) else { panic!("opened") };
        assert!(
            matches!(e, StoreError::Storage { kind: StorageFailure::NotADatabase, .. }),
            "{}",
            agentsight_store::chain(&e)
        );
        let text = agentsight_store::chain(&e).to_string();
        assert!(
            text.starts_with(&format!(
                "storage failure (not a database): opening the database {}: file is not a database",
                path.display()
            )),
            "{text}"
        );
    }
}
