//! The backends this binary runs on, chosen and opened here (the server crate knows only the
//! storage traits). Today: the embedded SQLite store, which is both the configuration store and
//! the event store of a deployment.

use agentsight_core::tracking::Enrichment;
use agentsight_server::Settings;
use agentsight_server::app::Stores;
use agentsight_store::{StorageFailure, StoreError};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use std::path::Path;

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
    SqliteStore::open(options(settings, false)).map_err(|e| open_failed(e, &settings.data_dir))
}

/// Opens the stores of a server: the store recovers its own pipeline (span batches archived
/// before the last stop are projected, enriched by `enrich`) before this returns.
pub async fn start(settings: &Settings, enrich: &Enrichment) -> anyhow::Result<ServeStores> {
    let (store, _recovered) = SqliteStore::start(options(settings, settings.metrics_index), enrich)
        .await
        .map_err(|e| open_failed(e, &settings.data_dir))?;
    Ok(Stores { config: store.clone(), events: store })
}

/// A store that does not open, said as `opening the database in DIR: …` with its causes, and
/// for a lasting storage failure the next step ([`NextStep`], printed under the error).
fn open_failed(e: StoreError, data_dir: &Path) -> anyhow::Error {
    let next = match &e {
        StoreError::Storage { kind, .. } => Some(next_step(*kind, data_dir)),
        _ => None,
    };
    let what = format!("opening the database in {}", data_dir.display());
    match next {
        Some(next) => anyhow::Error::new(e).context(NextStep { what, next }),
        None => anyhow::Error::new(e).context(what),
    }
}

/// What an operator does about a lasting storage failure of the data dir `dir`.
pub fn next_step(kind: StorageFailure, dir: &Path) -> String {
    let dir = dir.display();
    match kind {
        StorageFailure::Corrupt | StorageFailure::NotADatabase => format!(
            "`agentsight check --data-dir {dir}` says which file is damaged; restore the data dir from a \
             backup into a new directory (`agentsight restore --from BACKUP --data-dir NEW`) and start \
             with --data-dir NEW; keep {dir} as it is for recovery"
        ),
        StorageFailure::ReadOnly | StorageFailure::CannotOpen => format!(
            "the user the server runs as must own {dir} and its files and be able to read and write \
             them (e.g. `chown -R USER {dir}`), on a file system mounted read-write"
        ),
        StorageFailure::DiskFull => {
            format!("free space on the disk that holds {dir} (`df -h {dir}`), then start again")
        }
        StorageFailure::Io => format!(
            "the disk under {dir} reported an I/O error: look at the system log (`dmesg`) and run \
             `agentsight check --data-dir {dir}`"
        ),
    }
}

/// An error's outermost context that also says what to do next; `main` prints `next` on a line
/// of its own under the error.
#[derive(Debug)]
pub struct NextStep {
    /// What was being done (the context shown in the error line).
    pub what: String,
    /// What the operator should do.
    pub next: String,
}

impl std::fmt::Display for NextStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}
