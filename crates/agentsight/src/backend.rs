//! The backends this binary runs on, chosen and opened here (the server crate knows only the
//! storage traits). Today: the embedded SQLite store, which is both the configuration store and
//! the event store of a deployment.

use agentsight_core::tracking::Enrichment;
use agentsight_server::Settings;
use agentsight_server::app::Stores;
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use anyhow::Context;

/// The stores `serve` runs on.
pub type ServeStores = Stores<SqliteStore, SqliteStore>;

/// The SQLite options for these settings; with `metrics_index` the store keeps the in-memory
/// metrics index, loaded in the background.
fn options(settings: &Settings, metrics_index: bool) -> SqliteOptions {
    let mut opts = SqliteOptions::new(settings.database_path());
    opts.fsync = settings.fsync;
    opts.metrics_index = metrics_index;
    opts
}

/// Opens the store for an operator command, which may run beside a running server: no metrics
/// index, and no recovery of the span pipeline (the server's business).
pub fn open(settings: &Settings) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(options(settings, false))
        .with_context(|| format!("opening the database in {}", settings.data_dir.display()))
}

/// Opens the stores of a server: the store recovers its own pipeline (span batches archived
/// before the last stop are projected, enriched by `enrich`) before this returns.
pub async fn start(settings: &Settings, enrich: &Enrichment) -> anyhow::Result<ServeStores> {
    let (store, _recovered) = SqliteStore::start(options(settings, settings.metrics_index), enrich)
        .await
        .with_context(|| format!("opening the database in {}", settings.data_dir.display()))?;
    Ok(Stores { config: store.clone(), events: store })
}
