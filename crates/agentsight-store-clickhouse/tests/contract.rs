//! The store contract suite's tracking and metrics tests against real servers, on one ClickHouse server and
//! on the shards of a cluster, and this backend's own: two nodes racing to create one
//! conversation, the batching of concurrent inserts, an insert's error reaching every caller of
//! its batch, nodes migrating at once, an unreachable server answered as `Unavailable`.
//!
//! Needs both servers: `scripts/postgres-test-server.sh start DIR PORT` and
//! `scripts/clickhouse-test-server.sh start DIR PORT 2` start throwaway ones and print the URLs
//! to export as `AGENTSIGHT_TEST_POSTGRES` and `AGENTSIGHT_TEST_CLICKHOUSE` (scripts/test.sh
//! does this). Each test works in a PostgreSQL schema and a ClickHouse database of its own
//! (on every shard), dropped when it ends, so tests run in parallel.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use agentsight_core::tracking::{ConversationFields, ConversationRef, ConversationUpsert, NewMessage};
use agentsight_store::StoreError;
use agentsight_store::prelude::*;
use agentsight_store::testkit::Composed;
use agentsight_store_clickhouse::{BatchOptions, ClickHouseEventStore, ClickHouseOptions, SCHEMA_VERSION};
use agentsight_store_postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

const PG_VAR: &str = "AGENTSIGHT_TEST_POSTGRES";
const CH_VAR: &str = "AGENTSIGHT_TEST_CLICKHOUSE";

fn var(name: &str, how: &str) -> String {
    match std::env::var(name) {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "{name} is not set: these tests need PostgreSQL and ClickHouse servers. Start throwaway ones \
             with {how} and export {name}=<the URL it prints>"
        ),
    }
}

fn pg_url() -> String {
    var(
        PG_VAR,
        "`scripts/postgres-test-server.sh start \"$(mktemp -d)\" 54329` (Debian: apt-get install -y postgresql)",
    )
}

fn ch_url() -> String {
    var(
        CH_VAR,
        "`scripts/clickhouse-test-server.sh start \"$(mktemp -d)\" 18123 2` (Debian: apt-get install -y clickhouse-server)",
    )
}

/// Runs a statement on a ClickHouse server (its answer as text).
fn ch(url: &str, sql: &str) -> String {
    let url = url.to_string();
    let sql = sql.to_string();
    // Blocking HTTP on a thread of its own, outside the test's runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let r = reqwest::Client::new().post(&url).body(sql.clone()).send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert!(status.is_success(), "{sql}: {text}");
            text
        })
    })
    .join()
    .unwrap()
}

/// The HTTP URL of every node of the test cluster: scripts/clickhouse-test-server.sh gives
/// each shard HTTP port = native port - 10.
fn shard_urls(entry: &str) -> Vec<String> {
    let base = entry.split('?').next().unwrap();
    ch(base, "SELECT host_address, port FROM system.clusters WHERE cluster = 'agentsight' ORDER BY shard_num, replica_num")
        .lines()
        .map(|l| {
            let (host, port) = l.split_once('\t').unwrap();
            format!("http://{host}:{}/", port.parse::<u16>().unwrap() - 10)
        })
        .collect()
}

/// A PostgreSQL schema and a ClickHouse database (on every shard) of the test's own.
struct Fresh {
    pg_url: String,
    schema: String,
    shards: Vec<String>,
    database: String,
}

impl Fresh {
    async fn new() -> Fresh {
        let pg_url = pg_url();
        let entry = ch_url();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (schema, database) = (format!("t_{id}"), format!("t_{id}"));
        let (c, conn) = tokio_postgres::connect(&pg_url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        let shards = shard_urls(&entry);
        assert!(!shards.is_empty(), "no cluster 'agentsight' on {entry}");
        for s in &shards {
            ch(s, &format!("CREATE DATABASE {database}"));
        }
        Fresh { pg_url, schema, shards, database }
    }

    fn pg(&self) -> PostgresOptions {
        PostgresOptions::new(&self.pg_url).schema(&self.schema).max_connections(8)
    }

    fn url(&self, shard: usize) -> String {
        format!("{}?database={}", self.shards[shard], self.database)
    }

    /// One server: the first shard alone.
    fn single(&self) -> ClickHouseOptions {
        ClickHouseOptions::new(self.url(0))
    }

    /// The whole cluster.
    fn cluster(&self) -> ClickHouseOptions {
        let urls = (0..self.shards.len()).map(|i| self.url(i)).collect();
        ClickHouseOptions::new(self.url(0)).cluster("agentsight").shard_urls(urls)
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        for s in &self.shards {
            ch(s, &format!("DROP DATABASE IF EXISTS {}", self.database));
        }
        let (url, schema) = (self.pg_url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(conn);
                c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await
            })
        })
        .join();
    }
}

type Store = Composed<PostgresStore, ClickHouseEventStore>;

/// Batches sent after 1 ms: the metrics tests write one row at a time, each waiting for its
/// batch.
const FAST: BatchOptions = BatchOptions {
    interval: Duration::from_millis(1),
    max_rows: 10_000,
    max_bytes: 16 << 20,
    max_queued: 100_000,
};

async fn compose(f: &Fresh, ch: ClickHouseOptions) -> Store {
    let config = PostgresStore::connect(f.pg()).await.unwrap();
    let events = ClickHouseEventStore::connect(f.pg(), ch).await.unwrap();
    Composed { config, events }
}

mod single_server {
    use super::*;

    async fn fresh() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.single()).await, f)
    }

    agentsight_store::tracking_contract_tests!(fresh);

    async fn fresh_fast() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.single().batch(FAST)).await, f)
    }

    agentsight_store::metrics_contract_tests!(fresh_fast);
}

mod cluster {
    use super::*;

    async fn fresh() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.cluster()).await, f)
    }

    agentsight_store::tracking_contract_tests!(fresh);

    async fn fresh_fast() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.cluster().batch(FAST)).await, f)
    }

    agentsight_store::metrics_contract_tests!(fresh_fast);
}

fn upsert(agent_id: i64, id: &str, t: i64) -> ConversationUpsert {
    ConversationUpsert {
        agent_id,
        conversation_id: id.into(),
        fields: ConversationFields::default(),
        is_used: true,
        event_time: t,
        received_at: t,
    }
}

fn message(agent_id: i64, conversation: ConversationRef, t: i64) -> NewMessage {
    NewMessage {
        agent_id,
        conversation,
        sender: "end_user".into(),
        content: format!("at {t}"),
        metadata: "{}".into(),
        event_time: t,
        received_at: t,
    }
}

/// Two nodes racing to create the same conversation (by upsert and by a message naming it)
/// agree on one row: one pk, created once, every message in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_create_one_conversation() {
    let f = Fresh::new().await;
    let one = compose(&f, f.cluster()).await;
    let two = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    let agent = one.create_agent("a".into(), 1).await.unwrap().id;
    let mut tasks = Vec::new();
    for i in 0..16i64 {
        let node = if i % 2 == 0 { one.events.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            if i % 4 < 2 {
                let u = node.upsert_conversation(upsert(agent, "same", 100 + i)).await.unwrap();
                (u.row.id, u.created)
            } else {
                let m = node
                    .insert_message(message(agent, ConversationRef::Id("same".into()), 100 + i))
                    .await
                    .unwrap();
                (m.conversation_pk, false)
            }
        }));
    }
    let mut pks = Vec::new();
    let mut created = 0;
    for t in tasks {
        let (pk, c) = t.await.unwrap();
        pks.push(pk);
        created += usize::from(c);
    }
    pks.dedup();
    assert_eq!(pks.len(), 1, "one pk: {pks:?}");
    assert!(created <= 1, "created at most once by an upsert (a message may have created it): {created}");
    let page = agentsight_store::PageRequest { page: 1, page_size: 10 };
    let (n, rows) = one.list_conversations(agent, Default::default(), page).await.unwrap();
    assert_eq!((n, rows[0].id), (1, pks[0]));
    let t = two.transcript(agent, pks[0]).await.unwrap().unwrap();
    assert_eq!(t.messages.len(), 8);
    assert_eq!(t.conversation.message_count, 8);
}

/// Concurrent inserts join few ClickHouse inserts: 100 messages with a batch cap of 25 rows
/// (and an interval too long to matter) make exactly 4 inserts, and all 100 rows are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_are_batched() {
    let f = Fresh::new().await;
    let setup = compose(&f, f.single()).await;
    let agent = setup.create_agent("a".into(), 1).await.unwrap().id;
    let pk = setup.upsert_conversation(upsert(agent, "c", 1)).await.unwrap().row.id;
    let batch = BatchOptions { interval: Duration::from_secs(600), max_rows: 25, ..Default::default() };
    let node = ClickHouseEventStore::connect(f.pg(), f.single().batch(batch)).await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move { node.insert_message(message(agent, ConversationRef::Pk(pk), i)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(node.inserts("messages"), 4);
    let t = setup.transcript(agent, pk).await.unwrap().unwrap();
    assert_eq!(t.messages.len(), 100);
    let mut ids: Vec<i64> = t.messages.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every message has an id of its own");
}

/// When ClickHouse refuses an insert, every caller whose rows were in it gets the error, with
/// ClickHouse's exception kept as the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_insert_reaches_every_caller() {
    let f = Fresh::new().await;
    let setup = compose(&f, f.single()).await;
    let agent = setup.create_agent("a".into(), 1).await.unwrap().id;
    let pk = setup.upsert_conversation(upsert(agent, "c", 1)).await.unwrap().row.id;
    let batch = BatchOptions { interval: Duration::from_secs(600), max_rows: 10, ..Default::default() };
    let node = ClickHouseEventStore::connect(f.pg(), f.single().batch(batch)).await.unwrap();
    ch(&f.url(0), "DROP TABLE messages");
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let node = node.clone();
            tokio::spawn(async move { node.insert_message(message(agent, ConversationRef::Pk(pk), i)).await })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            Err(e @ StoreError::Internal { .. }) => {
                let m = agentsight_store::chain(&e).to_string();
                assert!(m.contains("Code: 60"), "ClickHouse's exception is kept: {m}");
            }
            other => panic!("expected the insert's error, got {other:?}"),
        }
    }
    assert_eq!(node.inserts("messages"), 0);
}

/// Nodes starting at once: every one connects, the migrations are recorded once, the tables
/// exist on every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let f = Fresh::new().await;
    let (a, b, c) = tokio::join!(
        ClickHouseEventStore::connect(f.pg(), f.cluster()),
        ClickHouseEventStore::connect(f.pg(), f.cluster()),
        ClickHouseEventStore::connect(f.pg(), f.cluster())
    );
    let (_a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let (client, conn) = tokio_postgres::connect(&f.pg_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let versions: Vec<i32> = client
        .query(&format!("SELECT version FROM {}.event_migrations ORDER BY version", f.schema), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION as i32).collect::<Vec<_>>());
    for i in 0..f.shards.len() {
        let tables =
            ch(&f.url(i), "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
        for t in ["messages", "messages_local", "conversations", "conversations_local"] {
            assert!(tables.lines().any(|l| l == t), "shard {i} lacks {t}: {tables}");
        }
    }
}

/// A ClickHouse server that cannot be reached is `Unavailable` (retry later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_clickhouse_is_unavailable() {
    let f = Fresh::new().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = ClickHouseOptions::new(format!("http://127.0.0.1:{port}/?database=none"));
    match ClickHouseEventStore::connect(f.pg(), opts).await {
        Err(StoreError::Unavailable { .. }) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
