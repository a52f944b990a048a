//! The store contract suite's tracking, data-plane, export, span and metrics tests against real servers, on one ClickHouse server and
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
    /// Whether the server lists the cluster `agentsight` (`system.clusters`).
    clustered: bool,
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
        // A server without the cluster (chdb behind scripts/chdb-http.py) is one server.
        let mut shards = shard_urls(&entry);
        let clustered = !shards.is_empty();
        if !clustered {
            shards.push(format!("{}/", entry.split('?').next().unwrap().trim_end_matches('/')));
        }
        for s in &shards {
            ch(s, &format!("CREATE DATABASE {database}"));
        }
        Fresh { pg_url, schema, shards, database, clustered }
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

    /// The whole cluster; on a server without one (chdb), that server, so the tests of
    /// several nodes and of migrations check their statements there too (the `cluster` module
    /// is left out of that run: it would repeat `single_server`).
    fn cluster(&self) -> ClickHouseOptions {
        if !self.clustered {
            return self.single();
        }
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

    // The same suite SQLite runs, every event trait.
    agentsight_store::contract_tests!(fresh);

    async fn fresh_fast() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.single().batch(FAST)).await, f)
    }

    /// The metrics property against the in-memory reference (a fresh store for each case).
    #[test]
    fn metrics_agree_with_reference() {
        agentsight_store::testkit::metrics_agree_with_reference_alone(fresh_fast);
    }

    /// The failure metrics and the list's failure filters against the reference.
    #[test]
    fn failures_agree_with_reference() {
        agentsight_store::testkit::failures_agree_with_reference(fresh_fast);
    }
}

mod cluster {
    use super::*;

    async fn fresh() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.cluster()).await, f)
    }

    // The same suite SQLite runs, every event trait.
    agentsight_store::contract_tests!(fresh);

    async fn fresh_fast() -> (Store, Fresh) {
        let f = Fresh::new().await;
        (compose(&f, f.cluster().batch(FAST)).await, f)
    }

    /// The metrics property against the in-memory reference (a fresh store for each case).
    #[test]
    fn metrics_agree_with_reference() {
        agentsight_store::testkit::metrics_agree_with_reference_alone(fresh_fast);
    }

    /// The failure metrics and the list's failure filters against the reference.
    #[test]
    fn failures_agree_with_reference() {
        agentsight_store::testkit::failures_agree_with_reference(fresh_fast);
    }
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

/// Re-sends racing on two nodes: 40 timed messages, each sent three times at once through
/// alternating nodes (so re-sends meet in one claim batch and across nodes), are stored once
/// each, and every call of an item is answered with the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_resends_store_each_item_once() {
    let f = Fresh::new().await;
    let one = compose(&f, f.cluster()).await;
    let two = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    let agent = one.create_agent("a".into(), 1).await.unwrap().id;
    let pk = one.events.upsert_conversation(upsert(agent, "c", 1)).await.unwrap().row.id;
    let mut tasks = Vec::new();
    for item in 0..40i64 {
        for copy in 0..3i64 {
            let node = if (item + copy) % 2 == 0 { one.events.clone() } else { two.clone() };
            tasks.push(tokio::spawn(async move {
                // Client time `item`, received later (a re-send's receipt time differs).
                let m = NewMessage {
                    received_at: 1_000_000_000 + copy,
                    ..message(agent, ConversationRef::Pk(pk), item + 10)
                };
                (item, node.insert_message(m).await.unwrap().id)
            }));
        }
    }
    let mut ids: std::collections::HashMap<i64, std::collections::BTreeSet<i64>> = Default::default();
    for t in tasks {
        let (item, id) = t.await.unwrap();
        ids.entry(item).or_default().insert(id);
    }
    assert!(ids.values().all(|s| s.len() == 1), "one id per item: {ids:?}");
    let t = two.transcript(agent, pk).await.unwrap().unwrap();
    assert_eq!(t.messages.len(), 40);
    let stored: std::collections::BTreeSet<i64> = t.messages.iter().map(|m| m.id).collect();
    let answered: std::collections::BTreeSet<i64> = ids.values().flatten().copied().collect();
    assert_eq!(stored, answered);
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
/// ClickHouse's exception kept as the source; the re-send claims of the timed ones among them
/// are dropped (a re-send then stores the item).
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
            // Odd ones timed by their client (re-sendable: claimed before they are written).
            let m = NewMessage {
                received_at: i + (i % 2) * 1_000_000,
                ..message(agent, ConversationRef::Pk(pk), i)
            };
            tokio::spawn(async move { node.insert_message(m).await })
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
    let (client, conn) = tokio_postgres::connect(&f.pg_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let claims: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}.event_resends", f.schema), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(claims, 0, "the failed writes' claims are dropped");
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
        let expected: &[&str] = if f.clustered {
            &["messages", "messages_local", "conversations", "conversations_local"]
        } else {
            &["messages", "conversations"]
        };
        for t in expected {
            assert!(tables.lines().any(|l| l == *t), "shard {i} lacks {t}: {tables}");
        }
    }
}

/// Event migration 4 puts the language tags stored before it in their canonical BCP-47 case, in the
/// PostgreSQL registry and in ClickHouse's copy of the rows, on every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_language_tags_take_their_canonical_case() {
    let f = Fresh::new().await;
    let old = compose(&f, f.cluster()).await;
    let agent = old.create_agent("a".into(), 1).await.unwrap().id;
    // As a build before the migration stored them (the store keeps what ingest gives it).
    let sent = [Some("pt-br"), Some("pt-BR"), Some("zh-hant-tw"), Some("English (US)"), None];
    for (i, language) in sent.iter().enumerate() {
        let mut u = upsert(agent, &format!("c{i}"), 100 + i as i64);
        u.fields.language = language.map(String::from);
        old.upsert_conversation(u).await.unwrap();
    }
    drop(old);
    let (client, conn) = tokio_postgres::connect(&f.pg_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .execute(&format!("DELETE FROM {}.event_migrations WHERE version >= 4", f.schema), &[])
        .await
        .unwrap();

    let new = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    let page = agentsight_store::PageRequest { page: 1, page_size: 10 };
    let (_, rows) = new.list_conversations(agent, Default::default(), page).await.unwrap();
    let mut stored: Vec<_> = rows.iter().map(|r| (r.conversation_id.clone(), r.language.clone())).collect();
    stored.sort();
    let want = [Some("pt-BR"), Some("pt-BR"), Some("zh-Hant-TW"), Some("English (US)"), None];
    let want: Vec<_> = want.iter().enumerate().map(|(i, l)| (format!("c{i}"), l.map(String::from))).collect();
    assert_eq!(stored, want);
    // ClickHouse's current versions (what the metrics read) agree, on every shard together.
    let languages = ch(
        &f.url(0),
        "SELECT language, count() FROM conversations FINAL WHERE language IS NOT NULL \
         GROUP BY language ORDER BY language FORMAT TSV",
    );
    assert_eq!(languages, "English (US)\t1\npt-BR\t2\nzh-Hant-TW\t1\n");
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
        Err(e @ StoreError::Unavailable { .. }) => assert_eq!(e.unavailable_dependency(), Some("clickhouse")),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// Collects what a store's listeners hear, and wakes a waiting test.
struct Heard {
    tx: tokio::sync::mpsc::UnboundedSender<agentsight_store::Committed>,
}

impl agentsight_store::ChangeListener for Heard {
    fn committed(&self, changes: &[agentsight_store::Committed]) {
        for c in changes {
            let _ = self.tx.send(*c);
        }
    }
}

fn listen(node: &ClickHouseEventStore) -> tokio::sync::mpsc::UnboundedReceiver<agentsight_store::Committed> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    node.listen(std::sync::Arc::new(Heard { tx }));
    rx
}

/// Waits (at most a minute, a guard against a hang, not a timing assertion) until the
/// listener has heard `want` writes of `change` for `agent`.
async fn hear(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<agentsight_store::Committed>,
    agent: i64,
    change: agentsight_store::Change,
    want: u64,
) {
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while got < want {
        let c = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("heard {got} of {want} {change:?} writes"))
            .unwrap();
        if c.agent_id == agent && c.change == change {
            got += c.count;
        }
    }
    assert_eq!(got, want);
}

/// Waits until the node's change feed has connected `n` times in all.
async fn feed_connected(node: &ClickHouseEventStore, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while node.feed_connections() < n {
        assert!(tokio::time::Instant::now() < deadline, "the change feed did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The change feed across nodes: a write committed through node A reaches the listeners of
/// node B (by PostgreSQL NOTIFY), with its agent, kind and count, and A's listeners hear it
/// once (not again through the notification). After B's LISTEN connection is killed on the
/// server (as a PostgreSQL restart does), B connects again and hears A's next writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_node_is_heard_on_another() {
    let f = Fresh::new().await;
    let a = compose(&f, f.cluster()).await;
    let b = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    feed_connected(&a.events, 1).await;
    feed_connected(&b, 1).await;
    let mut on_a = listen(&a.events);
    let mut on_b = listen(&b);
    let agent = a.create_agent("a".into(), 1).await.unwrap().id;
    let pk = a.upsert_conversation(upsert(agent, "c", 1)).await.unwrap().row.id;
    for i in 0..3 {
        a.insert_message(message(agent, ConversationRef::Pk(pk), 10 + i)).await.unwrap();
    }
    hear(&mut on_b, agent, agentsight_store::Change::Conversation, 1).await;
    hear(&mut on_b, agent, agentsight_store::Change::Message, 3).await;
    // B's own write is heard on A.
    b.insert_message(message(agent, ConversationRef::Pk(pk), 20)).await.unwrap();
    hear(&mut on_a, agent, agentsight_store::Change::Conversation, 1).await;
    hear(&mut on_a, agent, agentsight_store::Change::Message, 3 + 1).await;
    // A heard its own writes once: nothing more is queued for it now that B's arrived.
    assert!(on_a.try_recv().is_err(), "a node skips its own notifications");

    // The server ends B's LISTEN connection; B connects again.
    let (admin, conn) = tokio_postgres::connect(&f.pg_url, NoTls).await.unwrap();
    tokio::spawn(conn);
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'agentsight feed %'
             AND query LIKE $1",
            &[&format!("LISTEN \"agentsight_events_{}\"", f.schema)],
        )
        .await
        .unwrap();
    assert_eq!(killed.len(), 2, "both nodes' LISTEN connections");
    feed_connected(&b, 2).await;
    feed_connected(&a.events, 2).await;
    a.insert_message(message(agent, ConversationRef::Pk(pk), 30)).await.unwrap();
    hear(&mut on_b, agent, agentsight_store::Change::Message, 1).await;
}

fn feedback(agent_id: i64, pk: i64, sentiment: &str, at: i64) -> agentsight_core::tracking::NewFeedback {
    agentsight_core::tracking::NewFeedback {
        agent_id,
        conversation: ConversationRef::Pk(pk),
        sentiment: sentiment.into(),
        source: agentsight_core::tracking::FeedbackSource::Customer,
        comment: None,
        metadata: "{}".into(),
        created_at: at,
    }
}

fn change(
    sentiment: Option<&str>,
    comment: Option<&str>,
    now: i64,
) -> agentsight_core::dataplane::FeedbackChange {
    agentsight_core::dataplane::FeedbackChange {
        sentiment: sentiment.map(Into::into),
        comment: comment.map(Into::into),
        topic: None,
        reason: None,
        now,
    }
}

/// What the data plane changes reads back at once on another node: a conversation feedback
/// changed on A is changed on B (its transcript, the listing's sentiment filter, the export's
/// latest feedback), deleted on B it is gone on A; concurrent changes of one record from both
/// nodes apply one after the other (none is lost); metadata replaced on A is B's in the
/// transcript, the message, the export's entries and the message metadata keys; an action
/// definition renamed on A makes its old name new again when B tracks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_plane_changes_read_back_on_another_node() {
    let f = Fresh::new().await;
    let a = compose(&f, f.cluster()).await;
    let b = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    let agent = a.create_agent("a".into(), 1).await.unwrap().id;
    let pk = a.upsert_conversation(upsert(agent, "c", 1)).await.unwrap().row.id;
    let fb = a.insert_feedback(feedback(agent, pk, "negative", 5)).await.unwrap();
    let up = a.update_feedback(agent, fb.id, change(Some("positive"), None, 6)).await.unwrap().unwrap();
    assert_eq!((up.sentiment.as_str(), up.updated_at), ("positive", 6));
    let t = b.transcript(agent, pk).await.unwrap().unwrap();
    assert_eq!(t.feedbacks.iter().map(|x| x.sentiment.as_str()).collect::<Vec<_>>(), ["positive"]);
    let page = agentsight_store::PageRequest { page: 1, page_size: 10 };
    let by = |s: &str| agentsight_store::ConversationFilter {
        feedback_sentiment: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(b.list_conversations(agent, by("positive"), page).await.unwrap().0, 1);
    assert_eq!(
        b.list_conversations(agent, by("negative"), page).await.unwrap().0,
        0,
        "the old version is gone"
    );
    let export = b.export_conversations(agent, Default::default(), None, 10).await.unwrap();
    assert_eq!(export.rows[0].latest_feedback.as_deref(), Some("positive"));

    // Both nodes change the record at once, each a different field: both changes stay.
    let tasks: Vec<_> = (0..8i64)
        .map(|i| {
            let node = if i % 2 == 0 { a.events.clone() } else { b.clone() };
            tokio::spawn(async move {
                let c = if i % 2 == 0 {
                    change(Some(["neutral", "positive"][(i / 2 % 2) as usize]), None, 10 + i)
                } else {
                    change(None, Some(&format!("comment {i}")), 10 + i)
                };
                node.update_feedback(agent, fb.id, c).await.unwrap().unwrap()
            })
        })
        .collect();
    let mut last_comment = None;
    for t in tasks {
        let r = t.await.unwrap();
        if r.comment.is_some() {
            last_comment = r.comment.clone();
        }
    }
    let now = b.feedback(agent, fb.id).await.unwrap().unwrap();
    assert!(now.comment.is_some() && last_comment.is_some(), "a comment change is never lost: {now:?}");
    let all = b.list_feedback(agent, Default::default(), page).await.unwrap();
    assert_eq!(all.0, 1, "one record, however many versions: {all:?}");
    assert!(b.delete_feedback(agent, fb.id).await.unwrap());
    assert!(a.feedback(agent, fb.id).await.unwrap().is_none());
    assert!(a.transcript(agent, pk).await.unwrap().unwrap().feedbacks.is_empty());
    let has = agentsight_store::ConversationFilter { has_feedback: Some(true), ..Default::default() };
    assert_eq!(a.list_conversations(agent, has, page).await.unwrap().0, 0);

    // Message metadata.
    let mut m = message(agent, ConversationRef::Pk(pk), 20);
    m.metadata = r#"{"old":1}"#.into();
    let m = a.insert_message(m).await.unwrap();
    let mut nested = message(agent, ConversationRef::Pk(pk), 21);
    nested.metadata = r#"{"deep":{"inner":1},"list":[{"x":2}]}"#.into();
    a.insert_message(nested).await.unwrap();
    assert_eq!(b.metadata_keys(agent, true).await.unwrap(), ["deep", "list", "old"]);
    a.set_message_metadata(agent, m.id, r#"{"new":"x"}"#.into()).await.unwrap().unwrap();
    assert_eq!(b.message(agent, m.id).await.unwrap().unwrap().message.metadata, r#"{"new":"x"}"#);
    let t = b.transcript(agent, pk).await.unwrap().unwrap();
    assert_eq!(t.messages.iter().find(|x| x.id == m.id).unwrap().metadata, r#"{"new":"x"}"#);
    let entries = b.export_entries(agent, vec![pk]).await.unwrap();
    assert_eq!(entries.iter().find(|x| x.id == m.id).unwrap().metadata, r#"{"new":"x"}"#);
    assert_eq!(
        b.metadata_keys(agent, true).await.unwrap(),
        ["deep", "list", "new"],
        "the replaced keys are gone"
    );

    // Action definitions.
    let def = |name: Option<&str>| agentsight_core::dataplane::ActionDef {
        name: name.map(Into::into),
        ..Default::default()
    };
    let lookup = a.create_action(agent, def(Some("lookup")), 30).await.unwrap();
    assert!(matches!(
        b.create_action(agent, def(Some("lookup")), 31).await,
        Err(StoreError::Conflict { field: "name", .. })
    ));
    a.update_action(agent, lookup.id, def(Some("find")), 32).await.unwrap().unwrap();
    let act = agentsight_core::tracking::NewAction {
        agent_id: agent,
        conversation: ConversationRef::Pk(pk),
        action_name: "lookup".into(),
        event_time: 33,
        started_at: None,
        ended_at: None,
        duration_ms: None,
        tools_used: None,
        response: None,
        error_msg: None,
        metadata: "{}".into(),
        received_at: 33,
    };
    b.insert_action(act).await.unwrap();
    let (n, defs) = a.list_actions(agent, Default::default(), page).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        defs.iter().map(|d| (d.name.as_str(), d.log_count)).collect::<Vec<_>>(),
        [("find", 0), ("lookup", 1)]
    );
}

/// A block of a turn and one tool call of it, for conversation `cid` (span ids from `n`).
fn turn_and_tool(cid: &str, n: u64) -> serde_json::Value {
    use agentsight_store::testkit::{tool_json, turn_json};
    let (turn, tool) = (format!("{:016x}", n), format!("{:016x}", n + 1));
    serde_json::json!({"conversation_id": cid, "spans": [
        turn_json(&turn, "2026-08-15T10:00:00+00:00", None),
        tool_json(&tool, &turn, "2026-08-15T10:00:01+00:00")]})
}

/// Two nodes receiving the same conversations at once, each turn at one node and its tool call
/// at the other, every batch twice (the SDK's retry): each span is stored once, and no child is
/// left held, whatever the interleaving (the per-conversation lock and the key table decide
/// across nodes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_store_each_span_once_and_release_every_child() {
    use agentsight_store::testkit::span_batch;
    use agentsight_store::{SpanFilter, SpanState};
    let f = Fresh::new().await;
    let one = compose(&f, f.cluster()).await;
    let two = ClickHouseEventStore::connect(f.pg(), f.cluster()).await.unwrap();
    let a = one.create_agent("a".into(), 1).await.unwrap();
    let scope = agentsight_core::tracking::AgentScope { agent_id: a.id, environments: a.environments };
    let mut tasks = Vec::new();
    for c in 0..6u64 {
        let block = turn_and_tool(&format!("c{c}"), 0x100 * (c + 1));
        let (turn, tool) = (block["spans"][0].clone(), block["spans"][1].clone());
        for (i, span) in [turn, tool].into_iter().enumerate() {
            for copy in 0..2 {
                let node = if (i + copy) % 2 == 0 { one.events.clone() } else { two.clone() };
                let blocks =
                    serde_json::json!([{"conversation_id": format!("c{c}"), "spans": [span.clone()]}]);
                let (batch, body) = span_batch(&scope, blocks, 10);
                tasks.push(tokio::spawn(async move {
                    let r = node.ingest_spans(batch, body).await.unwrap();
                    let accepted = r.accepted;
                    r.projected.await.unwrap();
                    accepted
                }));
            }
        }
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap();
    }
    assert_eq!(accepted, 12, "12 spans, each stored once of its two sends");
    let page = agentsight_store::PageRequest { page: 1, page_size: 100 };
    let (n, rows) = two.list_spans(a.id, SpanFilter::default(), page, false).await.unwrap();
    assert_eq!(n, 12);
    assert!(rows.iter().all(|r| r.state == SpanState::Projected), "{rows:?}");
    for c in 0..6 {
        let conv = one.conversation(a.id, ConversationRef::Id(format!("c{c}"))).await.unwrap().unwrap();
        let t = one.transcript(a.id, conv.id).await.unwrap().unwrap();
        assert_eq!((t.actions.len(), t.conversation.message_count), (1, 2), "c{c}: {t:?}");
    }
}

/// Concurrent span batches join few ClickHouse inserts: 6 batches of a turn and a tool call
/// each, with a cap of 6 rows (and an interval too long to matter), make 2 inserts into `spans`
/// (2 rows a batch), 3 into `messages` (two messages and an action entry a batch), 1 into
/// `action_logs` and 1 into `conversations`, where unjoined they would make 6 each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_span_batches_are_batched() {
    use agentsight_store::testkit::span_batch;
    let f = Fresh::new().await;
    let setup = compose(&f, f.single()).await;
    let a = setup.create_agent("a".into(), 1).await.unwrap();
    let scope = agentsight_core::tracking::AgentScope { agent_id: a.id, environments: a.environments };
    let batch = BatchOptions { interval: Duration::from_secs(600), max_rows: 6, ..Default::default() };
    let node = ClickHouseEventStore::connect(f.pg(), f.single().batch(batch)).await.unwrap();
    let tasks: Vec<_> = (0..6u64)
        .map(|c| {
            let node = node.clone();
            let (b, body) =
                span_batch(&scope, serde_json::json!([turn_and_tool(&format!("c{c}"), 0x10 * (c + 1))]), 5);
            tokio::spawn(async move { node.ingest_spans(b, body).await.map(|r| r.accepted) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 2);
    }
    let inserts: Vec<u64> =
        ["spans", "messages", "action_logs", "conversations"].iter().map(|t| node.inserts(t)).collect();
    assert_eq!(inserts, [2, 3, 1, 1]);
    let (n, _) = setup
        .events
        .list_spans(a.id, Default::default(), agentsight_store::PageRequest { page: 1, page_size: 50 }, false)
        .await
        .unwrap();
    assert_eq!(n, 12);
}

/// A tool call projected from a span batch defines its action's name, as a tracked action does
/// (the data plane lists it, with its log).
#[tokio::test]
async fn a_projected_tool_call_defines_its_action() {
    use agentsight_store::testkit::span_batch;
    let f = Fresh::new().await;
    let store = compose(&f, f.single()).await;
    let a = store.create_agent("a".into(), 1).await.unwrap();
    let scope = agentsight_core::tracking::AgentScope { agent_id: a.id, environments: a.environments };
    let (b, body) = span_batch(&scope, serde_json::json!([turn_and_tool("c1", 0x40)]), 5);
    let r = store.events.ingest_spans(b, body).await.unwrap();
    r.projected.await.unwrap();
    let (n, actions) = store
        .events
        .list_actions(a.id, Default::default(), agentsight_store::PageRequest { page: 1, page_size: 50 })
        .await
        .unwrap();
    assert_eq!(n, 1, "{actions:?}");
    let logs = store.events.action_logs(a.id, actions[0].id, 10).await.unwrap().unwrap();
    assert_eq!(logs.len(), 1);
}

/// Attachment bytes stored through one node read back byte for byte through another (two
/// stores, two pools on one database): a 21 MiB file (22 chunks, the last partial), an empty
/// one, and one byte; a discarded blob is gone for both; a key neither made is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_bytes_written_on_one_node_read_back_on_another() {
    use agentsight_store::BlobStore;
    use agentsight_store_clickhouse::CHUNK_BYTES;
    let f = Fresh::new().await;
    let one = ClickHouseEventStore::connect(f.pg(), f.single()).await.unwrap();
    let two = ClickHouseEventStore::connect(f.pg(), f.single()).await.unwrap();
    let (w, r): (Box<dyn BlobStore>, Box<dyn BlobStore>) = (Box::new(one.blobs()), Box::new(two.blobs()));
    let big: Vec<u8> = (0..21 * CHUNK_BYTES + 12_345).map(|i| (i * 7 + i / 1021) as u8).collect();
    let files = [big, Vec::new(), vec![0xff]];
    let mut keys = Vec::new();
    for (i, data) in files.iter().enumerate() {
        keys.push(w.put(1 + i as i64, data).await.unwrap());
    }
    assert_eq!(keys.iter().collect::<std::collections::HashSet<_>>().len(), 3, "{keys:?}");
    for (k, data) in keys.iter().zip(&files) {
        let got = r.get(k).await.unwrap();
        assert!(got == *data, "{k}: {} bytes read, {} written", got.len(), data.len());
    }
    r.discard(&keys[..1]).await.unwrap();
    for store in [&w, &r] {
        assert_eq!(store.get(&keys[0]).await.unwrap_err().kind(), std::io::ErrorKind::NotFound);
        assert_eq!(store.get(&keys[2]).await.unwrap(), vec![0xff]);
        for bad in ["../etc/passwd", "pg/x", "pg/-1", "1/abc"] {
            assert_eq!(store.get(bad).await.unwrap_err().kind(), std::io::ErrorKind::InvalidInput, "{bad}");
        }
    }
    // Discarding a missing or foreign key is no error.
    w.discard(&[keys[0].clone(), "1/abc".into()]).await.unwrap();
}
