//! The span archive: a database file of its own beside the main one (`<name>.archive.db`),
//! with a writer thread of its own, holding every `POST /api/ingest/` body as it was received
//! and a row per span (`crate::archiving` writes them).
//!
//! A span batch is acknowledged once its body and span rows are committed (and fsynced) there.
//! The archive's writer then hands the batch, in the order of the archive's ids, to the main
//! database's writer, which projects it (conversations, messages, action logs, usage), many
//! batches to a commit when it is busy, records it in `span_log` and counts it in [`Progress`].
//! Every read of the store first waits until what was acknowledged before it began is
//! projected ([`Progress::caught_up`]), so a client reads its own writes as before. At start,
//! batches archived but not projected (the process stopped in between) are projected again
//! (`SqliteStore::next_unprojected`, driven by the server, which validates them as at ingest).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use agentsight_core::archive::{ArchivedBody, Encoding};
use agentsight_store::{ArchivedBatch, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::watch;

use crate::sqlerr;

/// The archive's migrations (its own `user_version`); the n-th brings it to version n.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/archive/0001_batches.sql")];

/// The archive's schema version this build writes.
pub(crate) const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The archive file of the main database at `main`: `agentsight.db` → `agentsight.archive.db`.
pub(crate) fn path_of(main: &Path) -> PathBuf {
    main.with_extension("archive.db")
}

/// Opens (creating and migrating) the archive for writing: like the main writer's connection,
/// its hot pages in memory (every active conversation's last spans, the tails of the
/// time-ordered index and the bodies) and checkpoints in large, rare steps.
pub(crate) fn open_for_writing(path: &Path, fsync: bool) -> StoreResult<Connection> {
    let conn =
        crate::open_writer(path, fsync, ARCHIVE_CACHE_KIB, ARCHIVE_AUTOCHECKPOINT_PAGES, "the archive")?;
    migrate(&conn)?;
    Ok(conn)
}

/// Page cache of the archive's writer, in KiB.
const ARCHIVE_CACHE_KIB: i64 = 64 * 1024;
/// WAL pages between the archive's automatic checkpoints (128 MiB).
const ARCHIVE_AUTOCHECKPOINT_PAGES: i64 = 32_768;

fn migrate(conn: &Connection) -> Result<(), crate::migrate::MigrationError> {
    let current = crate::migrate::schema_version(conn, MIGRATIONS.len(), "archive")?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))
            .map_err(|source| crate::migrate::MigrationError::Step { db: "archive", step: i + 1, source })?;
    }
    Ok(())
}

/// A path as an SQLite URI (`file:` with the characters URIs reserve escaped).
fn uri(path: &Path, read_only: bool) -> String {
    let mut out = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    if read_only {
        out.push_str("?mode=ro");
    }
    out
}

/// Attaches the archive to `conn` as `archive` (read-only unless `write`).
pub(crate) fn attach(conn: &Connection, path: &Path, write: bool) -> rusqlite::Result<()> {
    conn.execute("ATTACH DATABASE ?1 AS archive", [uri(path, !write)]).map(|_| ())
}

/// Stores a body; its id.
pub(crate) fn insert(
    conn: &Connection,
    agent_id: i64,
    received_at: i64,
    body: &ArchivedBody,
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO batches (agent_id, received_at, encoding, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![agent_id, received_at, body.encoding.code(), body.bytes]))
    .map_err(sqlerr)?;
    Ok(conn.last_insert_rowid())
}

/// Deletes a body no span points into (a resend, projected).
pub(crate) fn delete(conn: &Connection, id: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM batches WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .map_err(sqlerr)?;
    Ok(())
}

/// The first archived batch after `after` (through `conn`, which has the archive attached).
pub(crate) fn next_after(conn: &Connection, after: i64) -> StoreResult<Option<ArchivedBatch>> {
    let row: Option<(i64, i64, i64, i64, Vec<u8>)> = conn
        .query_row(
            "SELECT id, agent_id, received_at, encoding, body FROM archive.batches WHERE id > ?1 ORDER BY id LIMIT 1",
            [after],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(sqlerr)?;
    row.map(|(id, agent_id, received_at, encoding, bytes)| {
        let encoding = Encoding::from_code(encoding).ok_or_else(|| {
            StoreError::internal(format!("archived batch {id}: unknown encoding {encoding}"))
        })?;
        Ok(ArchivedBatch { id, agent_id, received_at, body: ArchivedBody { encoding, bytes } })
    })
    .transpose()
}

/// The largest id the archive has given (deleted batches included), through `conn` with the
/// archive attached.
pub(crate) fn last_id(conn: &Connection) -> StoreResult<i64> {
    conn.query_row(
        "SELECT max(coalesce((SELECT seq FROM archive.sqlite_sequence WHERE name = 'batches'), 0),
                    coalesce((SELECT max(id) FROM archive.batches), 0))",
        [],
        |r| r.get(0),
    )
    .map_err(sqlerr)
}

/// Makes the archive give ids above `floor` (the main database's last projected batch), should
/// the archive file have been replaced by an older or empty one: a new batch must never take an
/// id the main database counts as projected.
pub(crate) fn ensure_ids_above(conn: &Connection, floor: i64) -> StoreResult<()> {
    if last_id(conn)? < floor {
        tracing::warn!(floor, "the span archive gives ids below the last batch projected; moving them up");
        conn.execute("DELETE FROM archive.sqlite_sequence WHERE name = 'batches'", []).map_err(sqlerr)?;
        conn.execute("INSERT INTO archive.sqlite_sequence (name, seq) VALUES ('batches', ?1)", [floor])
            .map_err(sqlerr)?;
    }
    Ok(())
}

/// The last batch whose projection the main database has committed (`span_log`, migration
/// 0008; every one before it is projected or recorded as failed).
pub(crate) fn last_projected(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("SELECT projected FROM span_log WHERE id = 1", [], |r| r.get(0)).map_err(sqlerr)
}

/// Records batch `id` as projected, in the transaction of its projection (or of its failure).
pub(crate) fn mark_projected(conn: &Connection, id: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE span_log SET projected = max(projected, ?1) WHERE id = 1")
        .and_then(|mut s| s.execute([id]))
        .map_err(sqlerr)?;
    Ok(())
}

/// Records that batch `id` cannot be projected (`error`), and passes it: it stays in the
/// archive, and `span_log_failures` says why.
pub(crate) fn record_failure(conn: &Connection, id: i64, error: &str, at: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT OR REPLACE INTO span_log_failures (batch_id, error, at) VALUES (?1, ?2, ?3)",
        params![id, error, at],
    )
    .map_err(sqlerr)?;
    mark_projected(conn, id)
}

/// How far the span batches are: acknowledged (archived, projection queued) and projected.
pub(crate) struct Progress {
    acked: AtomicI64,
    projected: watch::Sender<i64>,
    /// Projections wait for a full disk to have room again: reads do not wait for them.
    stalled: std::sync::atomic::AtomicBool,
}

/// How long a read waits for the projection before it gives up (503).
pub(crate) const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

impl Progress {
    /// Everything up to `projected` is projected (what the main database records).
    pub(crate) fn new(projected: i64) -> Progress {
        Progress {
            acked: AtomicI64::new(projected),
            projected: watch::Sender::new(projected),
            stalled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Projections are (or no longer are) waiting for a full disk. While they are, a read
    /// answers with what is projected instead of waiting for batches that cannot be projected
    /// until an operator frees space (it would only end in a 503 after [`CATCH_UP_TIMEOUT`]).
    pub(crate) fn set_stalled(&self, stalled: bool) {
        self.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Batch `id` is archived and its projection queued: reads from now on wait for it.
    pub(crate) fn acked(&self, id: i64) {
        self.acked.fetch_max(id, Ordering::SeqCst);
    }

    /// Batch `id` and every one before it are projected (or recorded as failed).
    pub(crate) fn projected(&self, id: i64) {
        self.projected.send_if_modified(|p| {
            let moved = id > *p;
            *p = (*p).max(id);
            moved
        });
    }

    /// Acknowledged and projected ids.
    pub(crate) fn marks(&self) -> (i64, i64) {
        (self.acked.load(Ordering::SeqCst), *self.projected.borrow())
    }

    /// Waits until every batch acknowledged before this call is projected.
    pub(crate) async fn caught_up(&self) -> StoreResult<()> {
        let target = self.acked.load(Ordering::SeqCst);
        if *self.projected.borrow() >= target || self.stalled.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut rx = self.projected.subscribe();
        match tokio::time::timeout(CATCH_UP_TIMEOUT, rx.wait_for(|p| *p >= target)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StoreError::unavailable("the store is closed")),
            Err(_) => Err(StoreError::unavailable(format!(
                "span batches are not projected yet (batch {target} waited for {} s)",
                CATCH_UP_TIMEOUT.as_secs()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_lies_beside_the_database() {
        assert_eq!(path_of(Path::new("/d/agentsight.db")), Path::new("/d/agentsight.archive.db"));
        assert_eq!(uri(Path::new("/a b/x?%#.db"), true), "file:/a b/x%3F%25%23.db?mode=ro");
    }

    /// Projections stalled on a full disk: a read answers with what is projected at once; once
    /// they are no longer stalled, reads wait for them again.
    #[tokio::test]
    async fn a_read_does_not_wait_for_projections_stalled_on_a_full_disk() {
        let p = Progress::new(4);
        p.acked(6);
        p.set_stalled(true);
        tokio::time::timeout(Duration::from_secs(5), p.caught_up()).await.unwrap().unwrap();
        p.set_stalled(false);
        assert!(tokio::time::timeout(Duration::from_millis(50), p.caught_up()).await.is_err());
    }

    #[tokio::test]
    async fn a_read_waits_for_what_was_acknowledged_before_it_only() {
        let p = std::sync::Arc::new(Progress::new(4));
        p.caught_up().await.unwrap();
        p.acked(6);
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.caught_up().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        p.projected(5);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        p.acked(9); // acknowledged after the read began: not waited for
        p.projected(6);
        waiting.await.unwrap().unwrap();
        assert_eq!(p.marks(), (9, 6));
        p.projected(3);
        assert_eq!(p.marks(), (9, 6), "the mark never goes back");
    }

    #[test]
    fn ids_are_never_given_twice_nor_below_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.archive.db");
        let w = open_for_writing(&path, false).unwrap();
        let body = ArchivedBody::of_plain("{}");
        assert_eq!(insert(&w, 1, 0, &body).unwrap(), 1);
        assert_eq!(insert(&w, 1, 0, &body).unwrap(), 2);
        delete(&w, 2).unwrap();
        assert_eq!(insert(&w, 1, 0, &body).unwrap(), 3, "a deleted id is not given again");
        let r = Connection::open_in_memory().unwrap();
        attach(&r, &path, false).unwrap();
        assert_eq!(last_id(&r).unwrap(), 3);
        assert_eq!(next_after(&r, 1).unwrap().map(|b| b.id), Some(3));
        assert!(next_after(&r, 3).unwrap().is_none());
        assert!(r.execute("DELETE FROM archive.batches", []).is_err(), "read-only");
        let m = Connection::open_in_memory().unwrap();
        attach(&m, &path, true).unwrap();
        ensure_ids_above(&m, 2).unwrap();
        assert_eq!(last_id(&m).unwrap(), 3, "already above");
        ensure_ids_above(&m, 10).unwrap();
        drop(m);
        assert_eq!(insert(&w, 1, 0, &body).unwrap(), 11);
    }
}
