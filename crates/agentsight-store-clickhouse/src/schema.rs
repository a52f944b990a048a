//! Forward-only, versioned migrations of both halves: the PostgreSQL registry
//! (`migrations/*.sql`) and the ClickHouse tables (below). Their bookkeeping is the PostgreSQL
//! table `event_migrations`, and a node migrates in one PostgreSQL transaction holding the
//! event store's own advisory lock, so nodes starting at once migrate one after the other and
//! the later ones find nothing left to do. Every ClickHouse statement is `IF NOT EXISTS`: a
//! migration cut short (ClickHouse DDL is not transactional) is simply run again.
//!
//! On a single server a table is created as itself. On a cluster, `<t>_local` is created on
//! every host `system.clusters` lists for the cluster, and `<t>` on every host as a
//! `Distributed` table over them, sharded by `intHash64(conversation_pk)`, so that all rows of
//! a conversation sit on one shard (transcripts and per-conversation aggregates read one shard,
//! and `IN` subqueries stay local).

use agentsight_store::{StoreError, StoreResult};
use agentsight_store_postgres::{pgerr, poolerr};
use deadpool_postgres::Pool;

use crate::http::{Http, quote};

/// One ClickHouse table: name, columns, engine (for the local table), sharding column.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static str,
    pub engine: &'static str,
}

/// Messages, and the transcript entries of actions (kind 1) and buttons (kind 2).
const MESSAGES: Table = Table {
    name: "messages",
    columns: "agent_id Int64, conversation_pk Int64, id Int64, kind UInt8, sender String,
        content String, metadata String, ts Int64, received_at Int64",
    engine: "MergeTree ORDER BY (agent_id, conversation_pk, ts, id)",
};

const ACTION_LOGS: Table = Table {
    name: "action_logs",
    columns: "agent_id Int64, conversation_pk Int64, id Int64, message_id Int64, action_name String,
        started_at Nullable(Int64), ended_at Nullable(Int64), duration_ms Nullable(Int64),
        tools_used Nullable(String), response Nullable(String), error_msg Nullable(String),
        metadata String, ts Int64",
    engine: "MergeTree ORDER BY (agent_id, conversation_pk, ts, id)",
};

const BUTTONS: Table = Table {
    name: "buttons",
    columns: "agent_id Int64, conversation_pk Int64, id Int64, message_id Int64, button_event String,
        label String, value String, metadata String, ts Int64",
    engine: "MergeTree ORDER BY (agent_id, conversation_pk, ts, id)",
};

/// Conversation feedback, every version of it: an insert is version 0; a change or a delete
/// (`is_deleted` = 1) writes the next version (see dataplane.rs). Read the current rows with
/// `FINAL` and `is_deleted = 0` outside it (`ClickHouseEventStore::feedbacks_now`).
const FEEDBACKS: Table = Table {
    name: "feedbacks",
    columns: "agent_id Int64, conversation_pk Int64, id Int64, sentiment String, source String,
        comment Nullable(String), metadata String, created_at Int64, updated_at Nullable(Int64),
        is_deleted UInt8, version Int64",
    engine: "ReplacingMergeTree(version) ORDER BY (agent_id, conversation_pk, created_at, id)",
};

/// Every version of each conversation row written to PostgreSQL; `FINAL` (or `argMax` on
/// `version`) reads the latest. The last four columns are what the metrics read of `metadata`,
/// decoded at write time (18.16 has no exact JSON functions): see `metrics.rs`.
const CONVERSATIONS: Table = Table {
    name: "conversations",
    columns: "conversation_pk Int64, agent_id Int64, conversation_id String, name Nullable(String),
        customer_id Nullable(String), customer_ip_address Nullable(String), country Nullable(String),
        region Nullable(String), city Nullable(String), latitude Nullable(Float64),
        longitude Nullable(Float64), device Nullable(String), source Nullable(String),
        language Nullable(String), environment Nullable(String), metadata Nullable(String),
        is_used UInt8, is_marked UInt8, is_deleted UInt8, deleted_at Nullable(Int64), started_at Int64,
        ended_at Nullable(Int64), created_at Int64, updated_at Int64, version Int64,
        meta_keys Array(String), meta_texts Array(String), fb_meta Int8, fb_rating Nullable(Float64)",
    engine: "ReplacingMergeTree(version) ORDER BY (agent_id, conversation_pk)",
};

/// Every message row's id and conversation, ordered by id: a message read by id
/// (`DataPlane::message`, votes, `set_message_metadata`) finds its conversation here through the
/// primary key, then reads that conversation's range of `messages` (whose sort key starts with
/// agent and conversation) instead of all the agent's messages. Written with every `messages`
/// insert (`Batcher::insert`).
const MESSAGE_IDS: Table = Table {
    name: "message_ids",
    columns: "agent_id Int64, id Int64, conversation_pk Int64",
    engine: "MergeTree ORDER BY (agent_id, id)",
};

/// The tables the batcher inserts into.
pub(crate) const TABLES: &[&str] =
    &["messages", "action_logs", "buttons", "feedbacks", "conversations", "spans", "message_ids"];

/// Rows a migration copies from one ClickHouse table into another it created: `(target,
/// source, columns)`.
type Backfill = (&'static str, &'static str, &'static str);

/// One migration: PostgreSQL SQL, ClickHouse tables, then ClickHouse backfills.
struct Migration {
    postgres: &'static str,
    clickhouse: &'static [Table],
    backfill: &'static [Backfill],
}

/// The migrations, in order; the n-th brings the schema to version n. Never edit one that shipped.
const MIGRATIONS: &[Migration] = &[
    Migration {
        postgres: concat!(
            include_str!("../migrations/0001_registry.sql"),
            include_str!("../migrations/0001_dataplane.sql"),
            include_str!("../migrations/0001_spans.sql")
        ),
        clickhouse: &[MESSAGES, ACTION_LOGS, BUTTONS, FEEDBACKS, CONVERSATIONS, crate::spans::SPANS],
        backfill: &[],
    },
    Migration {
        // Attachment bytes shared by every node (blobs.rs), and the progress of `agentsight migrate` (import.rs).
        postgres: include_str!("../migrations/0002_blobs_import.sql"),
        clickhouse: &[],
        backfill: &[],
    },
    Migration {
        postgres: "",
        clickhouse: &[MESSAGE_IDS],
        backfill: &[("message_ids", "messages", "agent_id, id, conversation_pk")],
    },
    Migration {
        // Language tags in their canonical BCP-47 case: a data step, [`canonical_languages`].
        postgres: "",
        clickhouse: &[],
        backfill: &[],
    },
    Migration { postgres: include_str!("../migrations/0005_erasure.sql"), clickhouse: &[], backfill: &[] },
    Migration {
        // 0.0.x re-sends: the claims that store a timed message, action or button once.
        postgres: include_str!("../migrations/0006_resends.sql"),
        clickhouse: &[],
        backfill: &[],
    },
];

/// The migration that puts stored language tags in their canonical case.
const LANGUAGE_CASE: usize = 4;

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The advisory lock held while migrating (any fixed key; "agentsight events migrate"), not
/// the configuration store's.
const MIGRATE_LOCK: i64 = 0x6576_6e74_6d69_6772;

/// Where the ClickHouse tables go.
pub(crate) enum Layout {
    /// One server: each table as itself.
    Single(Http),
    /// A cluster: `<t>_local` on every host, `<t>` Distributed on every host.
    Cluster { name: String, hosts: Vec<Http> },
}

impl Layout {
    /// The nodes of `cluster`: `shards` (one HTTP URL per node, as their settings say), or
    /// when that is empty, every host `system.clusters` of the entry node lists, reached at the
    /// entry URL's port. Refused when the cluster is unknown or `shards` does not name as many
    /// nodes as it lists.
    pub(crate) async fn cluster(entry: &Http, cluster: &str, shards: Vec<Http>) -> StoreResult<Layout> {
        #[derive(serde::Deserialize)]
        struct Node {
            host_address: String,
        }
        let nodes: Vec<Node> = entry
            .rows(&format!(
                "SELECT host_address FROM system.clusters WHERE cluster = {} ORDER BY shard_num, replica_num",
                quote(cluster)
            ))
            .await?;
        if nodes.is_empty() {
            return Err(StoreError::internal(format!(
                "ClickHouse: no cluster {cluster:?} in system.clusters (remote_servers of the server's config)"
            )));
        }
        let hosts = if shards.is_empty() {
            nodes.iter().map(|n| entry.with_host(&n.host_address)).collect::<StoreResult<_>>()?
        } else if shards.len() == nodes.len() {
            shards
        } else {
            return Err(StoreError::internal(format!(
                "ClickHouse: cluster {cluster:?} lists {} nodes, {} shard URLs given",
                nodes.len(),
                shards.len()
            )));
        };
        Ok(Layout::Cluster { name: cluster.to_string(), hosts })
    }

    /// Copies `columns` of every row of `source` into `target` (each node's local rows into its
    /// local table on a cluster). Run again after a cut-short migration, it copies them again:
    /// only for tables where a repeated row does no harm (`message_ids` is read with `LIMIT 1`).
    async fn backfill(&self, (target, source, columns): Backfill) -> StoreResult<()> {
        match self {
            Layout::Single(http) => {
                http.execute(&format!("INSERT INTO {target} ({columns}) SELECT {columns} FROM {source}"))
                    .await
            }
            Layout::Cluster { hosts, .. } => {
                for h in hosts {
                    h.execute(&format!(
                        "INSERT INTO {target}_local ({columns}) SELECT {columns} FROM {source}_local"
                    ))
                    .await
                    .map_err(|e| e.context(format!("on {}", h.host())))?;
                }
                Ok(())
            }
        }
    }

    async fn create(&self, t: &Table) -> StoreResult<()> {
        match self {
            Layout::Single(http) => {
                http.execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = {}",
                    t.name, t.columns, t.engine
                ))
                .await
            }
            Layout::Cluster { name, hosts } => {
                for h in hosts {
                    h.execute(&format!(
                        "CREATE TABLE IF NOT EXISTS {}_local ({}) ENGINE = {}",
                        t.name, t.columns, t.engine
                    ))
                    .await
                    .map_err(|e| e.context(format!("on {}", h.host())))?;
                }
                for h in hosts {
                    let db = h.database();
                    h.execute(&format!(
                        "CREATE TABLE IF NOT EXISTS {t} AS {t}_local ENGINE = Distributed({name}, {db}, {t}_local, intHash64(conversation_pk))",
                        t = t.name,
                        name = quote(name),
                        db = quote(&db),
                    ))
                    .await
                    .map_err(|e| e.context(format!("on {}", h.host())))?;
                }
                Ok(())
            }
        }
    }
}

/// Applies every migration newer than the recorded version; answers the version in force.
/// Refuses a schema newer than this build.
pub(crate) async fn migrate(pool: &Pool, layout: &Layout, entry: &Http) -> StoreResult<usize> {
    let mut client = pool.get().await.map_err(poolerr)?;
    let tx = client.transaction().await.map_err(pgerr)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK]).await.map_err(pgerr)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS event_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pgerr)?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM event_migrations", &[])
        .await
        .map_err(pgerr)?
        .try_get(0)
        .map_err(pgerr)?;
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::internal(format!(
            "event schema version {current} is newer than this binary ({}); upgrade agentsight",
            MIGRATIONS.len()
        )));
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = (i + 1) as i32;
        tx.batch_execute(m.postgres)
            .await
            .map_err(|e| pgerr(e).context(format!("PostgreSQL event migration {version}")))?;
        for t in m.clickhouse {
            layout.create(t).await.map_err(|e| e.context(format!("ClickHouse event migration {version}")))?;
        }
        for b in m.backfill {
            layout
                .backfill(*b)
                .await
                .map_err(|e| e.context(format!("ClickHouse event migration {version}")))?;
        }
        if i + 1 == LANGUAGE_CASE {
            let rows = canonical_languages(&tx, entry)
                .await
                .map_err(|e| e.context(format!("event migration {version}: language tags")))?;
            tracing::info!(rows, "language tags put in their canonical case");
        }
        tx.execute("INSERT INTO event_migrations (version) VALUES ($1)", &[&version]).await.map_err(pgerr)?;
        tracing::info!(version, "applied event store migration");
    }
    tx.commit().await.map_err(pgerr)?;
    Ok(MIGRATIONS.len())
}

/// Rewrites every registry `language` that ingest would store differently today (tags in their
/// canonical BCP-47 case) as a new version of its row, copied to ClickHouse's `conversations`
/// before the migration's transaction commits (a migration cut short writes the same version
/// again, which `ReplacingMergeTree` keeps once). Answers how many rows changed.
async fn canonical_languages(tx: &deadpool_postgres::Transaction<'_>, ch: &Http) -> StoreResult<u64> {
    /// Rows rewritten and copied per round.
    const ROUND: i64 = 5_000;
    let stored: Vec<String> = tx
        .query("SELECT DISTINCT language FROM event_conversations WHERE language IS NOT NULL", &[])
        .await
        .map_err(pgerr)?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()
        .map_err(pgerr)?;
    let mut changed = 0;
    for old in stored {
        // A value ingest refuses today (too long) is left as it is.
        let Ok(new) = agentsight_core::normalize::language(&old) else { continue };
        if new == old {
            continue;
        }
        loop {
            let rows = tx
                .query(
                    &format!(
                        "UPDATE event_conversations SET language = $1, version = version + 1
                         WHERE id IN (SELECT id FROM event_conversations WHERE language = $2 LIMIT $3)
                         RETURNING {}",
                        crate::registry::REG_COLUMNS
                    ),
                    &[&new, &old, &ROUND],
                )
                .await
                .map_err(pgerr)?;
            if rows.is_empty() {
                break;
            }
            let mut body = Vec::new();
            for r in &rows {
                serde_json::to_writer(&mut body, &crate::registry::reg(r)?.clickhouse_row())
                    .map_err(|e| StoreError::internal_from("encoding a conversation row", e))?;
                body.push(b'\n');
            }
            ch.insert("conversations", body).await?;
            changed += rows.len() as u64;
        }
    }
    Ok(changed)
}
