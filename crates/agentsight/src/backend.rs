//! The backends this binary runs on, chosen and opened here (the server crate knows only the
//! storage traits):
//!
//! * the embedded SQLite store of a data dir (`--data-dir`, the default), which is both the
//!   configuration store and the event store;
//! * scale-out (`--postgres` and `--clickhouse`): the configuration in PostgreSQL
//!   (agentsight-store-postgres) and the events in ClickHouse with their registry in the same
//!   PostgreSQL database (agentsight-store-clickhouse), shared by any number of `serve` nodes.
//!
//! [`Target::of`] decides which from the command line; the callers then open the stores of
//! that target and run one generic function over them (`with_config!`, `with_stores!`), so
//! every command is compiled once per backend and no trait method goes through a wrapper.

use std::path::{Path, PathBuf};

use agentsight_core::tracking::Enrichment;
use agentsight_server::Settings;
use agentsight_server::app::Stores;
use agentsight_store::{StorageFailure, StoreError};
use agentsight_store_clickhouse::{BatchOptions, ClickHouseEventStore, ClickHouseOptions};
use agentsight_store_postgres::{PostgresOptions, PostgresStore};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};

/// The data dir used when neither `--data-dir` nor the scale-out flags are given.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// Where the stores of a command are, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// `--data-dir` / `AGENTSIGHT_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--postgres` / `AGENTSIGHT_POSTGRES`.
    pub postgres: Option<String>,
    /// `--clickhouse` / `AGENTSIGHT_CLICKHOUSE`.
    pub clickhouse: Option<String>,
    /// `--clickhouse-cluster` / `AGENTSIGHT_CLICKHOUSE_CLUSTER`.
    pub cluster: Option<String>,
    /// `--clickhouse-shard` (repeated) / `AGENTSIGHT_CLICKHOUSE_SHARDS` (comma-separated).
    pub shards: Vec<String>,
    /// `--clickhouse-batch-ms` / `AGENTSIGHT_CLICKHOUSE_BATCH_MS`.
    pub batch_ms: Option<u64>,
}

/// The scale-out backends: PostgreSQL and ClickHouse.
#[derive(Debug, Clone)]
pub struct ScaleOut {
    /// PostgreSQL connection string (configuration, and the event store's registry).
    pub postgres: String,
    /// ClickHouse HTTP URL with `?database=NAME`.
    pub clickhouse: String,
    /// The ClickHouse cluster (`remote_servers`), when the events are sharded.
    pub cluster: Option<String>,
    /// The HTTP URL of every node of the cluster, when they do not all listen on the port of
    /// `clickhouse`.
    pub shards: Vec<String>,
    /// How long a batch of rows waits for more before its insert (default: the store's).
    pub batch_ms: Option<u64>,
}

/// Which backends a command runs on.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded SQLite store in this data dir.
    Sqlite(PathBuf),
    /// PostgreSQL and ClickHouse.
    ScaleOut(ScaleOut),
}

/// How the scale-out flags are named in messages.
const SCALE_OUT_FLAGS: &str = "--postgres and --clickhouse";

impl Target {
    /// The target the flags name: both `--postgres` and `--clickhouse` (scale-out), or neither
    /// (the data dir, `./data` by default). One without the other, `--data-dir` with them, and
    /// the cluster options without `--clickhouse` are errors that name the flag.
    pub fn of(g: &Given) -> anyhow::Result<Target> {
        let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.trim().is_empty());
        match (set(&g.postgres), set(&g.clickhouse)) {
            (false, false) => {
                if g.cluster.is_some() || !g.shards.is_empty() || g.batch_ms.is_some() {
                    anyhow::bail!(
                        "--clickhouse-cluster, --clickhouse-shard and --clickhouse-batch-ms need --clickhouse \
                         (and --postgres)"
                    );
                }
                Ok(Target::Sqlite(g.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))))
            }
            (true, false) => anyhow::bail!(
                "--postgres needs --clickhouse too (or AGENTSIGHT_CLICKHOUSE): scale-out keeps the \
                 configuration in PostgreSQL and the events in ClickHouse, e.g. \
                 --clickhouse 'http://127.0.0.1:8123/?database=agentsight'"
            ),
            (false, true) => anyhow::bail!(
                "--clickhouse needs --postgres too (or AGENTSIGHT_POSTGRES): scale-out keeps the \
                 configuration and the conversation registry in PostgreSQL, e.g. \
                 --postgres 'postgres://agentsight@127.0.0.1:5432/agentsight'"
            ),
            (true, true) => {
                if let Some(dir) = &g.data_dir {
                    anyhow::bail!(
                        "--data-dir ({}) cannot be combined with {SCALE_OUT_FLAGS}: with them nothing is \
                         stored in a data dir (unset AGENTSIGHT_DATA_DIR if it came from the environment)",
                        dir.display()
                    );
                }
                if !g.shards.is_empty() && g.cluster.is_none() {
                    anyhow::bail!(
                        "--clickhouse-shard needs --clickhouse-cluster (the cluster the shards form)"
                    );
                }
                if g.cluster.as_deref().is_some_and(|c| c.trim().is_empty()) {
                    anyhow::bail!("--clickhouse-cluster must name a cluster of the servers' remote_servers");
                }
                Ok(Target::ScaleOut(ScaleOut {
                    postgres: g.postgres.clone().unwrap_or_default(),
                    clickhouse: g.clickhouse.clone().unwrap_or_default(),
                    cluster: g.cluster.clone(),
                    shards: g.shards.clone(),
                    batch_ms: g.batch_ms,
                }))
            }
        }
    }

    /// The data dir, for commands that exist only for the embedded store (`check`, `backup`,
    /// `restore`): with the scale-out flags they refuse, saying what to use instead.
    pub fn sqlite_only(self, command: &str, instead: &str) -> anyhow::Result<PathBuf> {
        match self {
            Target::Sqlite(dir) => Ok(dir),
            Target::ScaleOut(_) => anyhow::bail!(
                "`agentsight {command}` works on the embedded SQLite store of a data dir (--data-dir) \
                 only, not with {SCALE_OUT_FLAGS}: {instead}"
            ),
        }
    }

    /// Where the data is, for a log line (without credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(dir) => format!("data in {}", dir.display()),
            Target::ScaleOut(s) => format!(
                "configuration in PostgreSQL, events in ClickHouse{}",
                s.cluster.as_deref().map(|c| format!(" cluster {c}")).unwrap_or_default()
            ),
        }
    }
}

impl ScaleOut {
    fn postgres(&self) -> PostgresOptions {
        PostgresOptions::new(&self.postgres)
    }

    fn clickhouse(&self) -> ClickHouseOptions {
        let mut o = ClickHouseOptions::new(&self.clickhouse);
        if let Some(c) = &self.cluster {
            o = o.cluster(c).shard_urls(self.shards.clone());
        }
        if let Some(ms) = self.batch_ms {
            o = o.batch(BatchOptions {
                interval: std::time::Duration::from_millis(ms),
                ..BatchOptions::default()
            });
        }
        o
    }

    /// The configuration store on PostgreSQL (created and migrated when needed).
    pub async fn config(&self) -> anyhow::Result<PostgresStore> {
        PostgresStore::connect(self.postgres()).await.map_err(|e| {
            anyhow::Error::new(e).context("opening the configuration store in PostgreSQL (--postgres)")
        })
    }

    /// The event store on ClickHouse and PostgreSQL (tables created and migrated when needed;
    /// safe while other nodes start).
    pub async fn events(&self) -> anyhow::Result<ClickHouseEventStore> {
        ClickHouseEventStore::connect(self.postgres(), self.clickhouse()).await.map_err(|e| {
            anyhow::Error::new(e)
                .context("opening the event store in ClickHouse (--clickhouse) and PostgreSQL")
        })
    }

    /// Both stores.
    pub async fn stores(&self) -> anyhow::Result<Stores<PostgresStore, ClickHouseEventStore>> {
        Ok(Stores { config: self.config().await?, events: self.events().await? })
    }
}

/// Runs `$body` with `$s` bound to the configuration store of `$target` (a [`Target`]): the
/// SQLite store of the data dir, or the PostgreSQL store (ClickHouse is not opened). `$body`
/// is compiled once per backend.
macro_rules! with_config {
    ($target:expr, |$s:ident| $body:expr) => {
        match $target {
            $crate::backend::Target::Sqlite(dir) => {
                let $s = $crate::backend::open(&agentsight_server::Settings::new(&dir))?;
                $body
            }
            $crate::backend::Target::ScaleOut(so) => {
                let $s = so.config().await?;
                $body
            }
        }
    };
}

/// Runs `$body` with `$s` bound to the [`Stores`] of `$target`, opened for an operator
/// command (SQLite: no recovery, no metrics index; see [`open`]).
macro_rules! with_stores {
    ($target:expr, |$s:ident| $body:expr) => {
        match $target {
            $crate::backend::Target::Sqlite(dir) => {
                let store = $crate::backend::open(&agentsight_server::Settings::new(&dir))?;
                let $s = agentsight_server::app::Stores { config: store.clone(), events: store };
                $body
            }
            $crate::backend::Target::ScaleOut(so) => {
                let $s = so.stores().await?;
                $body
            }
        }
    };
}

pub(crate) use {with_config, with_stores};

/// Ingest enrichment of a scale-out node: geolocation from `--geo-dir` when given (there is no
/// data dir to default to), else off, said once in the log.
pub fn scale_out_enrichment(settings: &Settings) -> Enrichment {
    if settings.geo_dir.is_some() {
        return agentsight_server::app::enrichment(settings);
    }
    tracing::warn!(
        "geolocation off: countries and cities of new conversations are unknown; give every node \
         --geo-dir DIR with the files `scripts/fetch-geo.sh --geo-dir DIR` installs"
    );
    Enrichment { locate: None, store_ip: settings.store_ip, databases: vec![] }
}

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

/// Opens the SQLite stores of a server: the store recovers its own pipeline (span batches
/// archived before the last stop are projected, enriched by `enrich`) before this returns.
pub async fn start(
    settings: &Settings,
    enrich: &Enrichment,
) -> anyhow::Result<Stores<SqliteStore, SqliteStore>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pg: Option<&str>, ch: Option<&str>) -> Given {
        Given { postgres: pg.map(Into::into), clickhouse: ch.map(Into::into), ..Given::default() }
    }

    #[test]
    fn neither_flag_is_the_data_dir_and_both_are_scale_out() {
        match Target::of(&Given::default()).unwrap() {
            Target::Sqlite(d) => assert_eq!(d, PathBuf::from(DEFAULT_DATA_DIR)),
            t => panic!("{t:?}"),
        }
        let g = Given { data_dir: Some("/srv/x".into()), ..Given::default() };
        assert!(matches!(Target::of(&g).unwrap(), Target::Sqlite(d) if d == Path::new("/srv/x")));
        let t = Target::of(&given(Some("postgres://a@h/db"), Some("http://h:8123/?database=d"))).unwrap();
        let Target::ScaleOut(s) = t else { panic!("{t:?}") };
        assert_eq!(
            (s.postgres.as_str(), s.clickhouse.as_str()),
            ("postgres://a@h/db", "http://h:8123/?database=d")
        );
        assert_eq!(Target::ScaleOut(s).describe(), "configuration in PostgreSQL, events in ClickHouse");
    }

    #[test]
    fn one_flag_without_the_other_names_the_missing_one() {
        let e = Target::of(&given(Some("postgres://a@h/db"), None)).unwrap_err().to_string();
        assert!(e.starts_with("--postgres needs --clickhouse"), "{e}");
        let e = Target::of(&given(None, Some("http://h:8123/"))).unwrap_err().to_string();
        assert!(e.starts_with("--clickhouse needs --postgres"), "{e}");
        // An empty value (an unset-looking environment variable) counts as missing.
        let e = Target::of(&given(Some("postgres://a@h/db"), Some("  "))).unwrap_err().to_string();
        assert!(e.contains("needs --clickhouse"), "{e}");
    }

    #[test]
    fn data_dir_and_cluster_options_are_checked() {
        let mut g = given(Some("postgres://a@h/db"), Some("http://h:8123/"));
        g.data_dir = Some("./data".into());
        let e = Target::of(&g).unwrap_err().to_string();
        assert!(e.contains("--data-dir (./data) cannot be combined"), "{e}");
        let mut g = given(Some("postgres://a@h/db"), Some("http://h:8123/"));
        g.shards = vec!["http://h2:8123/".into()];
        assert!(Target::of(&g).unwrap_err().to_string().contains("needs --clickhouse-cluster"));
        let g = Given { cluster: Some("c".into()), ..Given::default() };
        assert!(Target::of(&g).unwrap_err().to_string().contains("need --clickhouse"));
        let g = Given { batch_ms: Some(200), ..Given::default() };
        assert!(Target::of(&g).unwrap_err().to_string().contains("--clickhouse-batch-ms need --clickhouse"));
        let mut g = given(Some("postgres://a@h/db"), Some("http://h:8123/"));
        g.batch_ms = Some(200);
        let Ok(Target::ScaleOut(so)) = Target::of(&g) else { panic!("scale-out") };
        assert_eq!(so.batch_ms, Some(200));
        let mut g = given(Some("postgres://a@h/db"), Some("http://h:8123/"));
        g.cluster = Some("agentsight".into());
        let t = Target::of(&g).unwrap();
        assert_eq!(t.describe(), "configuration in PostgreSQL, events in ClickHouse cluster agentsight");
    }

    #[test]
    fn sqlite_only_commands_refuse_scale_out() {
        let t = Target::of(&given(Some("postgres://a@h/db"), Some("http://h:8123/"))).unwrap();
        let e = t.sqlite_only("backup", "use pg_dump").unwrap_err().to_string();
        assert!(e.contains("`agentsight backup` works on the embedded SQLite store"), "{e}");
        assert!(e.ends_with("use pg_dump"), "{e}");
        assert_eq!(Target::Sqlite("d".into()).sqlite_only("check", "").unwrap(), PathBuf::from("d"));
    }
}
