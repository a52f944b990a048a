//! What the data files hold: after a clean stop, and after the writer has been idle.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use agentsight_core::tracking::{ConversationFields, ConversationUpsert};
use agentsight_store::{AgentStore, TrackingWriter};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};

async fn write_conversations(store: &SqliteStore, n: usize) {
    let agent = store.create_agent("a".into(), 1).await.unwrap().id;
    for i in 0..n {
        let c = ConversationUpsert {
            agent_id: agent,
            conversation_id: format!("c{i}"),
            fields: ConversationFields::default(),
            is_used: true,
            event_time: 10,
            received_at: 10,
        };
        store.upsert_conversation(c).await.unwrap();
    }
}

/// Conversations in a copy of the database file alone, without its WAL: what a backup made by
/// copying the file would hold.
fn conversations_in_the_file_alone(db: &Path) -> i64 {
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("copy.db");
    std::fs::copy(db, &file).unwrap();
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.query_row("SELECT count(*) FROM conversations", [], |r| r.get(0)).unwrap_or(-1)
}

fn wal_len(db: &Path) -> u64 {
    std::fs::metadata(format!("{}-wal", db.display())).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_everything_in_the_database_file_and_an_empty_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentsight.db");
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    write_conversations(&store, 200).await;
    assert!(wal_len(&db) > 0, "the writes went to the WAL first");
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
    assert_eq!(wal_len(&db), 0, "checkpointed and truncated at the stop");
    assert_eq!(conversations_in_the_file_alone(&db), 200);
    let archive = dir.path().join("agentsight.archive.db");
    assert_eq!(wal_len(&archive), 0, "the archive's writer checkpoints too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_writer_checkpoints_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentsight.db");
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    write_conversations(&store, 50).await;
    // The writer checkpoints about a second after its last group; the store stays open.
    let until = Instant::now() + Duration::from_secs(30);
    while conversations_in_the_file_alone(&db) != 50 {
        assert!(Instant::now() < until, "no checkpoint within 30 s of idleness");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(store);
}

/// A new database is made with `auto_vacuum = INCREMENTAL`, so a removal gives its pages back to
/// the file system: the file shrinks after an erase (sizes after a clean stop, WAL
/// checkpointed). The figures are printed for the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_gives_the_disk_space_back() {
    use agentsight_core::tracking::{ConversationRef, NewMessage};
    use agentsight_store::{EraseSelector, erase_all};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentsight.db");
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    let agent = store.create_agent("a".into(), 1).await.unwrap().id;
    let text = "x".repeat(2_000);
    for i in 0..1_000 {
        let m = NewMessage {
            agent_id: agent,
            conversation: ConversationRef::Id(format!("c{i}")),
            sender: "end_user".into(),
            content: text.clone(),
            metadata: "{}".into(),
            event_time: 10 + i,
            received_at: 10,
        };
        store.insert_message(m).await.unwrap();
    }
    let mode: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, 2, "incremental");
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
    let before = std::fs::metadata(&db).unwrap().len();
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    let mut steps = 0;
    let which = EraseSelector::LastEventBefore(610);
    let erased = erase_all(&store, agent, which, |_| steps += 1).await.unwrap();
    assert_eq!((erased.conversations, steps), (600, 2), "two steps of at most 500");
    tokio::task::spawn_blocking(move || drop(store)).await.unwrap();
    let after = std::fs::metadata(&db).unwrap().len();
    let free: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0, "no free page is left in the file");
    println!("database file: {before} bytes with 1,000 conversations, {after} after removing 600");
    assert!(after < before * 6 / 10, "the file shrank: {before} → {after}");
}
