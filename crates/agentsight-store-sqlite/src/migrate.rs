//! Forward-only numbered migrations, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

/// The migrations, in order; the n-th brings the schema to version n. Never edit one that shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_metrics_index.sql"),
    include_str!("../migrations/0003_dashboard.sql"),
    include_str!("../migrations/0004_spans.sql"),
    include_str!("../migrations/0005_span_chunks.sql"),
    include_str!("../migrations/0006_trace_key.sql"),
    include_str!("../migrations/0007_action_logs_by_name.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Applies every migration newer than the database's version, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<usize, String> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string())? as usize;
    if current > MIGRATIONS.len() {
        return Err(format!(
            "database schema version {current} is newer than this binary ({}); upgrade agentsight",
            MIGRATIONS.len()
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(sql).map_err(|e| format!("migration {}: {e}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(MIGRATIONS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let n: i64 =
            c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0)).unwrap();
        assert!(n >= 8);
    }

    #[test]
    fn spans_archived_before_chunks_keep_their_exact_text() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..4] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 4).unwrap();
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
        let mut chunks = crate::spans::Chunks::default();
        let mut stmt =
            c.prepare("SELECT chunk_id, chunk_offset, chunk_len FROM spans ORDER BY span_id").unwrap();
        let refs: Vec<crate::spans::TextRef> =
            stmt.query_map([], |r| crate::spans::TextRef::at(r, 0)).unwrap().map(Result::unwrap).collect();
        let read: Vec<String> = refs.into_iter().map(|t| chunks.text(&c, t).unwrap()).collect();
        assert_eq!(read, texts);
        let indexes: i64 = c
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spans' AND name LIKE 'spans_%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexes, 3);
    }

    #[test]
    fn spans_stored_before_the_trace_key_get_the_key_the_writer_computes() {
        let mut c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 5).unwrap();
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
        let mut stmt = c.prepare("SELECT trace_id, trace_key FROM spans ORDER BY span_id").unwrap();
        let keys: Vec<(String, i64)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        assert_eq!(keys.len(), traces.len());
        for (trace, key) in keys {
            assert_eq!(key, crate::spans::trace_key(&trace), "{trace}");
        }
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        assert!(migrate(&mut c).unwrap_err().contains("newer"));
    }
}
