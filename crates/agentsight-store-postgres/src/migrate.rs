//! Forward-only numbered migrations, tracked in the table `agentsight_migrations` of the store's
//! schema. Safe when several nodes start at once: migrating runs in one transaction that first
//! takes a transaction-level advisory lock, so one node migrates and the others then find
//! nothing left to do.

use deadpool_postgres::Pool;

use agentsight_store::{StoreError, StoreResult};

use crate::{pgerr, poolerr};

/// The migrations, in order; the n-th brings the schema to version n. Never edit one that shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_config.sql"),
    include_str!("../migrations/0002_retention.sql"),
    include_str!("../migrations/0003_alerts.sql"),
    include_str!("../migrations/0004_reports.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The advisory lock held while migrating (any fixed key; "agentsight migrate").
const MIGRATE_LOCK: i64 = 0x6167_7369_6d69_6772;

/// Applies every migration newer than the schema's version; answers the version now in force.
/// Refuses a schema newer than this build.
pub(crate) async fn migrate(pool: &Pool) -> StoreResult<usize> {
    let mut client = pool.get().await.map_err(poolerr)?;
    let tx = client.transaction().await.map_err(pgerr)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK]).await.map_err(pgerr)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS agentsight_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pgerr)?;
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM agentsight_migrations", &[])
        .await
        .map_err(pgerr)?;
    let current: i32 = row.try_get(0).map_err(pgerr)?;
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(StoreError::internal(format!(
            "configuration schema version {current} is newer than this binary ({}); upgrade agentsight",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = (i + 1) as i32;
        tx.batch_execute(sql)
            .await
            .map_err(|e| pgerr(e).context(format!("PostgreSQL migration {version}")))?;
        tx.execute("INSERT INTO agentsight_migrations (version) VALUES ($1)", &[&version])
            .await
            .map_err(pgerr)?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await.map_err(pgerr)?;
    Ok(MIGRATIONS.len())
}
