//! AgentSight's event store for scale-out: the events in ClickHouse (one server, or a cluster of
//! shards behind `Distributed` tables), what must be unique across nodes or read back exactly
//! right after a change in PostgreSQL, so that any number of stateless `serve` nodes can share
//! one store. Work in progress: [`ClickHouseEventStore`] implements [`TrackingWriter`],
//! [`TrackingReader`], [`SpanWriter`](agentsight_store::SpanWriter),
//! [`SpanReader`](agentsight_store::SpanReader) (see the `spans` module),
//! [`DataPlane`](agentsight_store::DataPlane), [`ExportReader`](agentsight_store::ExportReader),
//! [`MetricsReader`](agentsight_store::MetricsReader) (aggregated in ClickHouse) and
//! [`ChangeFeed`] (across nodes), with the semantics of the embedded SQLite store; `agentsight
//! serve --postgres … --clickhouse …` runs on it.
//!
//! # Design
//!
//! * **PostgreSQL** holds the conversation registry (`event_conversations`: the unique
//!   `(agent, conversation_id)` → pk, the row's current mutable fields and a `version` bumped by
//!   every change), so two nodes racing to create a conversation agree on one row (one
//!   `INSERT … ON CONFLICT` statement) and a rename, mark, soft delete, metadata replacement or
//!   the sticky `is_used` read back exactly; the event id allocator (`event_id_blocks`: a node
//!   takes blocks of 1,000 ids, so ids stay unique across nodes and below 2^53, and increase
//!   within a node in the order its writes arrive); and the attachment rows. Its migrations
//!   have their own bookkeeping (`event_migrations`) and advisory lock, apart from the
//!   configuration store's, so both can share one database.
//! * **ClickHouse** holds the append-only events: `messages` (with the transcript entries of
//!   actions and buttons), `action_logs`, `buttons`, `feedbacks`, and `conversations`, a
//!   `ReplacingMergeTree(version)` copy of every version of a registry row (what the metrics
//!   will filter on). On a cluster every table is `<t>_local` on each node plus `<t>`
//!   `Distributed` over them, sharded by conversation pk: a conversation's rows sit together.
//!   Times are `Int64` microseconds, as in SQLite (18.16 has no `DateTime64`).
//! * **Writes**: the registry first (resolving or creating the conversation, marking it used),
//!   then the event rows through the batching inserter ([`BatchOptions`]): per table, the rows of
//!   concurrent calls join one `INSERT`, sent after a short interval or at a size cap; each call
//!   returns once ClickHouse took its rows (so a client reads what it wrote), and an error
//!   reaches every caller in the batch. A call writing two tables (an action: its transcript
//!   entry and its log) is not atomic: a failure can leave one of the two.
//! * **Reads**: a conversation's row comes from the registry; its message count and last entry
//!   time (`ended_at` unless set explicitly) from ClickHouse. Listing filters on the registry's
//!   columns in PostgreSQL; a filter on events (`action_name`, `message_contains`, feedback,
//!   escalation, …) first asks ClickHouse for the agent's matching conversation pks and hands
//!   them to PostgreSQL, which is exact but grows with the agent's matching conversations.
//! * **Data plane** (votes, feedback changes, action definitions, message metadata): each kind
//!   of change lives where it reads back exactly on every node once acknowledged; the module
//!   docs of `dataplane.rs` say which and why. Conversation feedback is versioned in
//!   ClickHouse: read it through `feedbacks_now`.
//! * **Change feed**: listeners of this process hear of its writes after ClickHouse took them,
//!   before the caller is answered; the other nodes' listeners hear of them through PostgreSQL
//!   `NOTIFY` (see `feed.rs`).
//!
//! Connections are plain (no TLS): keep PostgreSQL and ClickHouse on a trusted network.

#![warn(missing_docs)]

mod batch;
mod blobs;
mod bounds;
mod dataplane;
mod erasure;
mod export;
mod feed;
mod health;
mod http;
mod import;
mod metrics;
mod registry;
mod resend;
mod schema;
mod spans;
mod tracking;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use agentsight_store::{ChangeFeed, ChangeListener, Committed, StoreError, StoreResult};
use agentsight_store_postgres::{PostgresOptions, poolerr};
use deadpool_postgres::Pool;

pub use batch::BatchOptions;
pub use blobs::{CHUNK_BYTES, PostgresBlobs};
pub use http::{ClickHouseError, quote};
pub use import::ImportLock;
pub use schema::SCHEMA_VERSION;

/// How long a ClickHouse request may take before the store answers `Unavailable`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Event ids a node takes from PostgreSQL at once.
pub const ID_BLOCK: i64 = 1000;
/// Conversations whose pk, owner and `is_used` a node remembers (then it forgets them all).
const CACHE_CAP: usize = 100_000;

/// Where ClickHouse is and how to use it.
#[derive(Debug, Clone)]
pub struct ClickHouseOptions {
    url: String,
    cluster: Option<String>,
    shards: Vec<String>,
    timeout: Duration,
    batch: BatchOptions,
}

impl ClickHouseOptions {
    /// The HTTP URL of a server, like `http://127.0.0.1:8123/?database=agentsight` (its query
    /// parameters, `database`, `user` and `password` among them, go with every request).
    pub fn new(url: impl Into<String>) -> Self {
        ClickHouseOptions {
            url: url.into(),
            cluster: None,
            shards: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            batch: BatchOptions::default(),
        }
    }

    /// Uses the cluster `name` of the server's `remote_servers`: local tables on every node it
    /// lists, `Distributed` tables over them.
    pub fn cluster(mut self, name: impl Into<String>) -> Self {
        self.cluster = Some(name.into());
        self
    }

    /// The HTTP URL of every node of the cluster, in the order `system.clusters` lists them
    /// (by shard, then replica). Without them, a node is reached at the address the cluster
    /// lists and the port of [`ClickHouseOptions::new`]'s URL (every node on the same HTTP port).
    pub fn shard_urls(mut self, urls: Vec<String>) -> Self {
        self.shards = urls;
        self
    }

    /// How long a request may take.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// When batched inserts are sent.
    pub fn batch(mut self, b: BatchOptions) -> Self {
        self.batch = b;
        self
    }
}

/// What a node remembers of conversations: immutable facts (pk, owner) and the sticky
/// `is_used`.
#[derive(Default)]
struct Cache {
    pks: HashMap<(i64, String), i64>,
    owners: HashMap<i64, i64>,
    used: HashSet<i64>,
}

impl Cache {
    fn remember(&mut self, agent_id: i64, conversation_id: &str, pk: i64) {
        if self.owners.len() >= CACHE_CAP {
            *self = Cache::default();
        }
        self.pks.insert((agent_id, conversation_id.to_string()), pk);
        self.owners.insert(pk, agent_id);
    }
}

struct Inner {
    pg: Pool,
    ch: http::Http,
    /// Every ClickHouse server the store reaches (the entry alone, or each node of the
    /// cluster), for the readiness probe, and for removals, which mutate each node's tables
    /// (`erasure.rs`).
    servers: Vec<http::Http>,
    batcher: batch::Batcher,
    /// The batching claimer of 0.0.x re-sends (`resend.rs`).
    claims: resend::Claimer,
    /// The next id and the end of the block (exclusive).
    ids: tokio::sync::Mutex<(i64, i64)>,
    cache: Mutex<Cache>,
    listeners: RwLock<Vec<Arc<dyn ChangeListener>>>,
    /// The data plane's state and the change feed across nodes.
    dp: dataplane::State,
    feed: feed::Feed,
}

/// The event store on ClickHouse and PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct ClickHouseEventStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClickHouseEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseEventStore").field("clickhouse", &self.inner.ch).finish()
    }
}

impl ClickHouseEventStore {
    /// Connects to both, then creates or migrates the tables (safe when several nodes start at
    /// once). A server that cannot be reached is `Unavailable`; a bad URL, an unknown cluster or
    /// a schema newer than this build is `Internal`. Needs a Tokio runtime (the batchers run on
    /// it).
    pub async fn connect(pg: PostgresOptions, ch: ClickHouseOptions) -> StoreResult<Self> {
        let pool = pg.pool()?;
        let entry = http::Http::new(&ch.url, ch.timeout)?;
        entry.ping().await?;
        let layout = match &ch.cluster {
            None => schema::Layout::Single(entry.clone()),
            Some(name) => {
                let shards = ch
                    .shards
                    .iter()
                    .map(|u| http::Http::new(u, ch.timeout))
                    .collect::<StoreResult<Vec<_>>>()?;
                schema::Layout::cluster(&entry, name, shards).await?
            }
        };
        schema::migrate(&pool, &layout, &entry).await?;
        let servers = match &layout {
            schema::Layout::Single(h) => vec![h.clone()],
            schema::Layout::Cluster { hosts, .. } => hosts.clone(),
        };
        let batcher = batch::Batcher::start(entry.clone(), schema::TABLES, ch.batch);
        let claims = resend::Claimer::start(pool.clone());
        let dp = dataplane::State::new(&entry, ch.cluster.is_some());
        let (feed, feed_start) = feed::Feed::new(&pool, &pg).await?;
        let store = ClickHouseEventStore {
            inner: Arc::new(Inner {
                pg: pool,
                ch: entry,
                servers,
                batcher,
                claims,
                ids: tokio::sync::Mutex::new((0, 0)),
                cache: Mutex::new(Cache::default()),
                listeners: RwLock::new(Vec::new()),
                dp,
                feed,
            }),
        };
        feed_start.run(Arc::downgrade(&store.inner));
        Ok(store)
    }

    /// How many `INSERT`s into the ClickHouse table `table` this node has made (for operators
    /// and tests of the batching).
    pub fn inserts(&self, table: &str) -> u64 {
        self.inner.batcher.inserts(table)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.inner.pg.get().await.map_err(poolerr)
    }

    /// `n` new event ids, increasing.
    async fn ids(&self, n: usize) -> StoreResult<Vec<i64>> {
        let mut out = Vec::with_capacity(n);
        let mut g = self.inner.ids.lock().await;
        while out.len() < n {
            if g.0 >= g.1 {
                let block = registry::next_id_block(&**self.client().await?).await?;
                *g = (block * ID_BLOCK, (block + 1) * ID_BLOCK);
            }
            out.push(g.0);
            g.0 += 1;
        }
        Ok(out)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn report(&self, changes: &[Committed]) {
        let listeners = self.inner.listeners.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        for l in listeners.iter() {
            l.committed(changes);
        }
        drop(listeners);
        self.inner.feed.publish(changes);
    }
}

impl ChangeFeed for ClickHouseEventStore {
    fn listen(&self, listener: Arc<dyn ChangeListener>) {
        self.inner.listeners.write().unwrap_or_else(std::sync::PoisonError::into_inner).push(listener);
    }
}

impl agentsight_store::StatsReader for ClickHouseEventStore {
    /// The batching inserter's queue of each table (callers waiting for the next `INSERT`, and
    /// callers per insert). No projection backlog: a span batch is projected before its answer.
    fn store_stats(&self) -> agentsight_store::StoreStats {
        agentsight_store::StoreStats { queues: self.inner.batcher.stats(), projection_backlog: None }
    }
}

/// An internal error for a row that does not decode.
pub(crate) fn bad_row(what: &str) -> StoreError {
    StoreError::internal(format!("ClickHouse: unexpected {what}"))
}
