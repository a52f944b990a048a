//! The store contract suite against a real SQLite file.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use agentsight_store_sqlite::{SqliteOptions, SqliteStore};

async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("t.db"))).unwrap();
    (store, dir)
}

agentsight_store::config_contract_tests!(fresh);
agentsight_store::contract_tests!(fresh);
