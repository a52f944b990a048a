//! Forward-only numbered migrations, tracked in `PRAGMA user_version`.

use agentsight_store::StoreError;
use rusqlite::Connection;

/// Why a database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// `PRAGMA user_version` could not be read.
    #[error("reading the schema version of the {db}")]
    Version {
        /// "database" or "archive".
        db: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer build: refused, and left as it is.
    #[error(
        "the {db} {path} has schema version {found}, newer than this agentsight knows ({latest}): a newer \
         agentsight wrote it. Run that newer version, or restore a backup made before the upgrade \
         (`agentsight restore`; a server keeps one in <data-dir>/backups/ from before each \
         migration). The file was not changed"
    )]
    TooNew {
        /// "database" or "archive".
        db: &'static str,
        /// The file.
        path: String,
        /// The file's version.
        found: usize,
        /// The newest version this build knows.
        latest: usize,
    },
    /// A numbered migration failed (and was rolled back).
    #[error("{db} migration {step}")]
    Step {
        /// "database" or "archive".
        db: &'static str,
        /// The migration's number.
        step: usize,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Copying rows into the archive before migration 0008 failed (and was rolled back).
    #[error("copying {what} into the archive")]
    Copy {
        /// What was copied.
        what: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Sealing the trace segments of the spans already stored (migration 0008) failed.
    #[error("migration {step}: sealing trace segments")]
    Seal {
        /// The migration's number.
        step: usize,
        /// The cause.
        #[source]
        source: Box<StoreError>,
    },
}

impl From<MigrationError> for StoreError {
    /// A migration that failed on a lasting storage failure (disk full, read-only, damaged
    /// file) stays one; any other is [`StoreError::Internal`]. The migration error is the source.
    fn from(e: MigrationError) -> StoreError {
        let kind = match &e {
            MigrationError::Version { source, .. }
            | MigrationError::Step { source, .. }
            | MigrationError::Copy { source, .. } => crate::lasting(source),
            MigrationError::Seal { source, .. } => match **source {
                StoreError::Storage { kind, .. } => Some(kind),
                _ => None,
            },
            MigrationError::TooNew { .. } => None,
        };
        match kind {
            Some(kind) => StoreError::storage(kind, "migrating the schema", e),
            None => StoreError::internal_from("migrating the schema", e),
        }
    }
}

/// The migrations, in order; the n-th brings the schema to version n. Never edit one that shipped.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_metrics_index.sql"),
    include_str!("../migrations/0003_dashboard.sql"),
    include_str!("../migrations/0004_spans.sql"),
    include_str!("../migrations/0005_span_chunks.sql"),
    include_str!("../migrations/0006_trace_key.sql"),
    include_str!("../migrations/0007_action_logs_by_name.sql"),
    include_str!("../migrations/0008_span_log.sql"),
    include_str!("../migrations/0009_language_case.sql"),
    include_str!("../migrations/0010_index_journal.sql"),
    include_str!("../migrations/0011_retention.sql"),
    include_str!("../migrations/0012_alerts.sql"),
    include_str!("../migrations/0013_reports.sql"),
    include_str!("../migrations/0014_messages_by_sender.sql"),
];

/// The migration that moves the span chunks into the archive database (see [`copy_chunks`]).
const SPAN_LOG: usize = 8;

/// The migration that puts stored language tags in their canonical case (see
/// [`canonical_languages`]).
const LANGUAGE_CASE: usize = 9;

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Copies the chunks of 0005–0007 into the archive (attached as `archive`) under their own ids,
/// in a transaction of the archive's own that commits before migration 0008 drops them (across
/// two WAL databases one transaction is not atomic). Run again after a crash, it copies nothing
/// twice.
fn copy_chunks(conn: &Connection) -> Result<(), MigrationError> {
    copy_into_archive(
        conn,
        "span chunks",
        "INSERT OR IGNORE INTO archive.batches (id, agent_id, received_at, encoding, body)
             SELECT k.id, c.agent_id, coalesce(r.at, 0),
                    CASE typeof(k.data) WHEN 'text' THEN 0 ELSE 2 END, CAST(k.data AS BLOB)
             FROM span_chunks k
             JOIN conversations c ON c.id = k.conversation_pk
             LEFT JOIN (SELECT chunk_id, min(received_at) AS at FROM spans GROUP BY chunk_id) r
                 ON r.chunk_id = k.id",
    )
}

/// Copies the spans of 0004–0007 into the archive (attached as `archive`) under their row ids, with
/// their conversation's `conversation_id`, as [`copy_chunks`] does the chunks they point into.
fn copy_spans(conn: &Connection) -> Result<(), MigrationError> {
    copy_into_archive(
        conn,
        "spans",
        "INSERT OR IGNORE INTO archive.spans (id, agent_id, conversation_id, span_id, trace_id, trace_key,
                 parent_span_id, turn_id, kind, name, status, started_at, ended_at, duration_ms, state,
                 sdk_version, batch_id, text_offset, text_len, received_at)
             SELECT s.id, s.agent_id, c.conversation_id, s.span_id, s.trace_id, s.trace_key, s.parent_span_id,
                    s.turn_id, s.kind, s.name, s.status, s.started_at, s.ended_at, s.duration_ms, s.state,
                    s.sdk_version, s.chunk_id, s.chunk_offset, s.chunk_len, s.received_at
             FROM spans s JOIN conversations c ON c.id = s.conversation_pk",
    )
}

/// Rewrites every stored `language` that ingest would store differently today (tags in their
/// canonical BCP-47 case), one `UPDATE` per distinct value that changes.
fn canonical_languages(tx: &Connection) -> rusqlite::Result<usize> {
    let stored: Vec<String> = tx
        .prepare("SELECT DISTINCT language FROM conversations WHERE language IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut changed = 0;
    for old in stored {
        // A value ingest refuses today (too long) is left as it is.
        let Ok(new) = agentsight_core::normalize::language(&old) else { continue };
        if new != old {
            changed +=
                tx.execute("UPDATE conversations SET language = ?1 WHERE language = ?2", [&new, &old])?;
        }
    }
    Ok(changed)
}

/// Runs `insert` (a copy of `what` into the archive) in a transaction of its own.
fn copy_into_archive(conn: &Connection, what: &'static str, insert: &str) -> Result<(), MigrationError> {
    conn.execute_batch(&format!("BEGIN; {insert}; COMMIT;")).map_err(|source| {
        let _ = conn.execute_batch("ROLLBACK");
        MigrationError::Copy { what, source }
    })
}

/// The schema version of `conn` (`PRAGMA user_version`), refused when newer than the `latest`
/// this build knows (`what` names the database in the message).
pub(crate) fn schema_version(
    conn: &Connection,
    latest: usize,
    db: &'static str,
) -> Result<usize, MigrationError> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|source| MigrationError::Version { db, source })? as usize;
    if current > latest {
        let path = conn.path().filter(|p| !p.is_empty()).unwrap_or("(in memory)").to_string();
        return Err(MigrationError::TooNew { db, path, found: current, latest });
    }
    Ok(current)
}

/// Applies every migration newer than the database's version, each in its own transaction.
/// The span archive must be attached as `archive` (migration 0008 moves data into it).
pub fn migrate(conn: &mut Connection) -> Result<usize, MigrationError> {
    let current = schema_version(conn, MIGRATIONS.len(), "database")?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        if i + 1 == SPAN_LOG {
            copy_chunks(conn)?;
            copy_spans(conn)?;
        }
        let step = i + 1;
        let failed = |source| MigrationError::Step { db: "database", step, source };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(sql).map_err(failed)?;
        if step == SPAN_LOG {
            // The trace segments of the spans already stored.
            crate::traces::seal(&tx).map_err(|e| MigrationError::Seal { step, source: Box::new(e) })?;
        }
        if step == LANGUAGE_CASE {
            let rows = canonical_languages(&tx).map_err(failed)?;
            tracing::info!(rows, "language tags put in their canonical case");
        }
        tx.pragma_update(None, "user_version", step as i64).map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(MIGRATIONS.len())
}

/// An in-memory database at the current schema, its archive (in the returned directory)
/// attached as `archive`.
#[cfg(test)]
pub(crate) fn test_db() -> (Connection, tempfile::TempDir) {
    let (mut c, dir) = test_db_at(0);
    migrate(&mut c).unwrap();
    (c, dir)
}

/// An in-memory database with the first `version` migrations applied and foreign keys on, its
/// archive attached.
#[cfg(test)]
fn test_db_at(version: usize) -> (Connection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.archive.db");
    drop(crate::archive::open_for_writing(&path, false).unwrap());
    let c = Connection::open_in_memory().unwrap();
    c.pragma_update(None, "foreign_keys", "ON").unwrap();
    crate::archive::attach(&c, &path, true).unwrap();
    for sql in &MIGRATIONS[..version] {
        c.execute_batch(sql).unwrap();
    }
    c.pragma_update(None, "user_version", version as i64).unwrap();
    (c, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::{TextRef, Texts};

    /// Every span's text, by span id.
    fn texts(c: &Connection) -> Vec<String> {
        let mut stmt =
            c.prepare("SELECT batch_id, text_offset, text_len FROM archive.spans ORDER BY span_id").unwrap();
        let refs: Vec<TextRef> =
            stmt.query_map([], |r| TextRef::at(r, 0)).unwrap().map(Result::unwrap).collect();
        let mut t = Texts::default();
        refs.into_iter().map(|r| t.text(c, r).unwrap()).collect()
    }

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let (mut c, _dir) = test_db_at(0);
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let n: i64 =
            c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
        assert!(n >= 8);
    }

    #[test]
    fn spans_archived_before_chunks_keep_their_exact_text() {
        let (mut c, _dir) = test_db_at(4);
        let texts = ["{\"span_id\": \"00000000000000aa\", \"note\": \"h\u{e9}llo \u{2713}\"}", "{ }"];
        c.execute_batch(
            "INSERT INTO agents (id, name, created_at) VALUES (1, 'a', 0);
             INSERT INTO conversations (id, agent_id, conversation_id, started_at, created_at, updated_at)
                 VALUES (7, 1, 'c', 0, 0, 0);",
        )
        .unwrap();
        for (i, t) in texts.iter().enumerate() {
            c.execute(
                "INSERT INTO spans (agent_id, conversation_pk, span_id, trace_id, kind, name, status, started_at,
                    ended_at, state, payload, received_at) VALUES (1, 7, ?1, 't', 'turn', 'turn', 'ok', 0, 0, 1, ?2, 0)",
                rusqlite::params![i as i64 + 1, t],
            )
            .unwrap();
        }
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(super::tests::texts(&c), texts);
        let indexes: i64 = c
            .query_row("SELECT count(*) FROM archive.sqlite_master WHERE type = 'index' AND tbl_name = 'spans' AND name LIKE 'spans_%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexes, 3, "spans_conversation, spans_agent_started, spans_held");
    }

    #[test]
    fn spans_stored_before_the_trace_key_get_the_key_the_writer_computes() {
        let (mut c, _dir) = test_db_at(5);
        c.execute_batch(
            "INSERT INTO agents (id, name, created_at) VALUES (1, 'a', 0);
             INSERT INTO conversations (id, agent_id, conversation_id, started_at, created_at, updated_at)
                 VALUES (7, 1, 'c', 0, 0, 0);
             INSERT INTO span_chunks (id, conversation_pk, data) VALUES (1, 7, '{}');",
        )
        .unwrap();
        let traces = [
            "0123456789abcdef0123456789abcdef",
            "ffffffffffffffffffffffffffffffff",
            "8000000000000000000000000000000a",
            "abc",
            "a",
            "0000000000000000000000000000000f",
            "fedcba9876543210",
        ];
        for (i, t) in traces.iter().enumerate() {
            c.execute(
                "INSERT INTO spans (agent_id, conversation_pk, span_id, trace_id, kind, name, status, started_at,
                    ended_at, state, chunk_id, chunk_offset, chunk_len, received_at)
                 VALUES (1, 7, ?1, ?2, 'turn', 'turn', 'ok', 0, 0, 1, 1, 0, 2, 0)",
                rusqlite::params![i as i64 + 1, t],
            )
            .unwrap();
        }
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let mut stmt = c.prepare("SELECT trace_id, trace_key FROM archive.spans ORDER BY span_id").unwrap();
        let keys: Vec<(String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(keys.len(), traces.len());
        for (trace, key) in keys {
            assert_eq!(key, crate::spans::trace_key(&trace), "{trace}");
        }
    }

    #[test]
    fn stored_language_tags_take_their_canonical_case() {
        let (mut c, _dir) = test_db_at(LANGUAGE_CASE - 1);
        c.execute("INSERT INTO agents (id, name, created_at) VALUES (1, 'a', 0)", []).unwrap();
        let sent = [Some("pt-br"), Some("pt-BR"), Some("zh-hant-tw"), Some("en"), Some("English (US)"), None];
        for (i, l) in sent.iter().enumerate() {
            c.execute(
                "INSERT INTO conversations (id, agent_id, conversation_id, language, started_at, created_at, updated_at)
                 VALUES (?1, 1, ?1, ?2, 0, 0, 0)",
                rusqlite::params![i as i64 + 1, l],
            )
            .unwrap();
        }
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let mut stmt = c.prepare("SELECT language FROM conversations ORDER BY id").unwrap();
        let stored: Vec<Option<String>> =
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let want = [Some("pt-BR"), Some("pt-BR"), Some("zh-Hant-TW"), Some("en"), Some("English (US)"), None];
        assert_eq!(stored, want.map(|l| l.map(String::from)));
    }

    #[test]
    fn chunks_and_spans_move_into_the_archive_and_count_as_projected() {
        let (mut c, _dir) = test_db_at(7);
        let chunk = agentsight_core::archive::encode("{\"a\": 1}\n{\"b\": \"h\u{e9}llo\"}");
        c.execute_batch(
            "INSERT INTO agents (id, name, created_at) VALUES (3, 'a', 0);
             INSERT INTO conversations (id, agent_id, conversation_id, started_at, created_at, updated_at)
                 VALUES (7, 3, 'c', 0, 0, 0);
             INSERT INTO span_chunks (id, conversation_pk, data) VALUES (4, 7, '{ }');",
        )
        .unwrap();
        c.execute("INSERT INTO span_chunks (id, conversation_pk, data) VALUES (9, 7, ?1)", [&chunk]).unwrap();
        for (span, chunk, offset, len, at, state) in
            [(1, 9, 0, 8, 50, 1), (2, 9, 9, 15, 40, 0), (3, 4, 0, 3, 70, 2)]
        {
            c.execute(
                "INSERT INTO spans (agent_id, conversation_pk, span_id, trace_id, kind, name, status, started_at,
                    ended_at, state, chunk_id, chunk_offset, chunk_len, received_at, trace_key, turn_id)
                 VALUES (3, 7, ?1, 't', 'tool', 'tool', 'ok', 0, 0, ?6, ?2, ?3, ?4, ?5, 0, 77)",
                rusqlite::params![span, chunk, offset, len, at, state],
            )
            .unwrap();
        }
        // The copies are idempotent: a crash between them and the migration loses nothing.
        copy_chunks(&c).unwrap();
        copy_spans(&c).unwrap();
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(texts(&c), ["{\"a\": 1}", "{\"b\": \"h\u{e9}llo\"}", "{ }"]);
        let batches: Vec<(i64, i64, i64, i64)> = c
            .prepare("SELECT id, agent_id, received_at, encoding FROM archive.batches ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(batches, [(4, 3, 70, 0), (9, 3, 40, 2)]);
        let projected: i64 = c.query_row("SELECT projected FROM span_log", [], |r| r.get(0)).unwrap();
        assert_eq!(projected, 9);
        assert_eq!(crate::archive::last_id(&c).unwrap(), 9, "new batches come after the chunks");
        let spans: Vec<(i64, i64, String, i64, i64)> = c
            .prepare("SELECT id, agent_id, conversation_id, state, turn_id FROM archive.spans ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let c7 = || "c".to_string();
        assert_eq!(
            spans,
            [(1, 3, c7(), 1, 77), (2, 3, c7(), 0, 77), (3, 3, c7(), 2, 77)],
            "a held span is still held"
        );
        let gone: i64 = c
            .query_row(
                "SELECT count(*) FROM main.sqlite_master WHERE name IN ('span_chunks', 'spans')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(gone, 0);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        let e = migrate(&mut c).unwrap_err();
        assert!(matches!(e, MigrationError::TooNew { db: "database", .. }), "{e:?}");
        assert!(e.to_string().contains("newer"));
    }
}
