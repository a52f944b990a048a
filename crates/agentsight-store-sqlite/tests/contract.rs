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

/// The removals again, with the in-memory metrics index answering the overviews: it must
/// reflect a removal at once, without a reload.
mod with_the_metrics_index {
    use super::*;

    async fn fresh_indexed() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions { metrics_index: true, ..SqliteOptions::new(dir.path().join("t.db")) };
        let store = SqliteStore::open(opts).unwrap();
        (store, dir)
    }

    agentsight_store::contract_tests!(@each fresh_indexed;
        erasure_of_a_customer_removes_everything_of_theirs,
        retention_cutoff_at_the_boundary,
        metrics_reader_users_over_time);
}
