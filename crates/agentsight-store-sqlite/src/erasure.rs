//! Retention and erase on SQLite ([`Erasure`], [`RetentionStore`]).
//!
//! A step removes at most [`MAX_ERASE_STEP`] conversations: first their spans in the archive
//! (one job of the archive's writer; batches left without any span are deleted, bodies and
//! all), then, in one job of the main writer (so in one of its group transactions, between
//! ingest writes), their rows in every table of the main database. The main writer reports the
//! removal to the metrics index with the group (`deltas::Pending::remove`), so the metrics
//! reflect it before the call returns, without a reload. A database made with
//! `auto_vacuum = INCREMENTAL` (every database this version creates) gives the freed pages back
//! to the file system at once (`PRAGMA incremental_vacuum`); an older one reuses them.

use agentsight_store::{
    Change, EraseSelector, Erased, Erasure, ErasureKind, ErasureRecord, MAX_ERASE_STEP, RetentionStore,
    StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::writer::{Caches, MainContext, Notify};
use crate::{SqliteStore, sqlerr, sqlerr_in};

/// `pks` as an SQL list of integer literals (integers only: nothing to escape).
fn list(pks: &[i64]) -> String {
    pks.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The pks and conversation ids of those of `pks` that are the agent's.
fn owned(conn: &Connection, agent_id: i64, pks: &[i64]) -> StoreResult<Vec<(i64, String)>> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, conversation_id FROM conversations WHERE agent_id = ?1 AND id IN ({}) ORDER BY id",
            list(pks)
        ))
        .map_err(sqlerr)?;
    let rows = stmt.query_map([agent_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sqlerr)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sqlerr)
}

/// Conversations of agent ?1 above pk ?2 whose last event is before ?3, at most ?4.
const RETENTION_SQL: &str = "SELECT c.id FROM conversations c INDEXED BY conversations_agent_started
     WHERE c.agent_id = ?1 AND c.started_at < ?3 AND c.id > ?2 AND coalesce(c.ended_at, 0) < ?3
       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_pk = c.id AND m.ts >= ?3)
     LIMIT ?4";

/// Conversations of agent ?1 and customer ?2 above pk ?3, at most ?4, by pk.
const CUSTOMER_SQL: &str =
    "SELECT id FROM conversations WHERE agent_id = ?1 AND customer_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4";

fn find(
    conn: &Connection,
    agent_id: i64,
    which: &EraseSelector,
    after: i64,
    limit: usize,
) -> StoreResult<Vec<i64>> {
    let limit = limit.min(MAX_ERASE_STEP) as i64;
    let collect = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> StoreResult<Vec<i64>> {
        let mut stmt = conn.prepare_cached(sql).map_err(sqlerr)?;
        let rows = stmt.query_map(p, |r| r.get(0)).map_err(sqlerr)?;
        rows.collect::<rusqlite::Result<Vec<i64>>>().map_err(sqlerr)
    };
    match which {
        // The last event: the start, the explicit end, the latest entry (message, action or
        // button), whichever is latest; strictly before the cut-off. In start order (the
        // index's: no sort, and a run that finds little reads little), sorted here.
        EraseSelector::LastEventBefore(before) => {
            let mut pks = collect(RETENTION_SQL, &[&agent_id, &after, before, &limit])?;
            pks.sort_unstable();
            Ok(pks)
        }
        EraseSelector::Customer(customer) => collect(CUSTOMER_SQL, &[&agent_id, customer, &after, &limit]),
    }
}

/// Gives freed pages back to the file system (a no-op unless `auto_vacuum = INCREMENTAL`).
/// The statement frees a page per step: it is stepped to its end.
fn give_back(conn: &Connection) -> StoreResult<()> {
    let vacuum = || -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached("PRAGMA incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
        Ok(())
    };
    vacuum().map_err(|e| sqlerr_in("incremental vacuum", e))
}

/// The archive's part of a step: the spans of these conversations, the releases naming them,
/// and every batch at or below `projected` left without a span. Returns the spans removed.
fn erase_archive(conn: &Connection, agent_id: i64, cids: &[String], projected: i64) -> StoreResult<u64> {
    let mut batches = Vec::new();
    let mut spans = Vec::new();
    {
        let mut del = conn
            .prepare_cached(
                "DELETE FROM spans WHERE agent_id = ?1 AND conversation_id = ?2 RETURNING id, batch_id",
            )
            .map_err(sqlerr)?;
        for cid in cids {
            let rows = del
                .query_map(params![agent_id, cid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sqlerr)?;
            for row in rows {
                let (span, batch) = row.map_err(sqlerr)?;
                spans.push(span);
                batches.push(batch);
            }
        }
    }
    if spans.is_empty() {
        return Ok(0);
    }
    for chunk in spans.chunks(MAX_ERASE_STEP) {
        conn.execute(&format!("DELETE FROM releases WHERE span IN ({})", list(chunk)), []).map_err(sqlerr)?;
    }
    batches.sort_unstable();
    batches.dedup();
    let mut empty = conn
        .prepare_cached(
            "DELETE FROM batches WHERE id = ?1 AND id <= ?2 AND NOT EXISTS
                (SELECT 1 FROM spans s WHERE s.id BETWEEN batches.first_span AND batches.last_span)
             RETURNING id",
        )
        .map_err(sqlerr)?;
    for b in batches {
        if empty
            .query_row(params![b, projected], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(sqlerr)?
            .is_some()
        {
            conn.execute("DELETE FROM releases WHERE batch_id = ?1", [b]).map_err(sqlerr)?;
        }
    }
    Ok(spans.len() as u64)
}

/// The main database's part of a step, in the writer's group transaction.
fn erase_main(cx: &mut MainContext, agent_id: i64, pks: &[i64]) -> StoreResult<Erased> {
    let found: Vec<i64> = owned(&cx.conn, agent_id, pks)?.into_iter().map(|(pk, _)| pk).collect();
    if found.is_empty() {
        return Ok(Erased::default());
    }
    let l = list(&found);
    let conn = &cx.conn;
    let messages: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM messages WHERE conversation_pk IN ({l}) AND kind = 0"),
            [],
            |r| r.get(0),
        )
        .map_err(sqlerr)?;
    let attachment_keys = conn
        .prepare(&format!("SELECT storage_key FROM attachments WHERE conversation_pk IN ({l}) ORDER BY id"))
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(sqlerr)?;
    for sql in [
        format!(
            "DELETE FROM feedback_votes WHERE kind = 'message'
               AND message_id IN (SELECT id FROM messages WHERE conversation_pk IN ({l}))"
        ),
        format!("DELETE FROM feedback_votes WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM attachments WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM action_logs WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM buttons WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM feedbacks WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM token_usage WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM messages WHERE conversation_pk IN ({l})"),
        format!("DELETE FROM conversations WHERE id IN ({l})"),
    ] {
        conn.execute(&sql, []).map_err(|e| sqlerr_in("removing conversations", e))?;
    }
    give_back(conn)?;
    // The writer's caches may name these conversations (their pks, latest messages): forget.
    cx.cache.clear();
    for pk in &found {
        cx.deltas.remove(agent_id, *pk);
    }
    Ok(Erased { conversations: found.len() as u64, messages: messages as u64, attachment_keys })
}

impl Erasure for SqliteStore {
    async fn conversations_to_erase(
        &self,
        agent_id: i64,
        which: EraseSelector,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        self.read(move |conn| find(conn, agent_id, &which, after, limit)).await
    }

    async fn erase_conversations(&self, agent_id: i64, pks: Vec<i64>) -> StoreResult<Erased> {
        if pks.len() > MAX_ERASE_STEP {
            return Err(StoreError::internal(format!(
                "an erase step takes at most {MAX_ERASE_STEP} conversations, not {}",
                pks.len()
            )));
        }
        // `read` waits for every acknowledged span batch to be projected first.
        let lookup = pks.clone();
        let cids: Vec<String> = self
            .read(move |conn| owned(conn, agent_id, &lookup))
            .await?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        if cids.is_empty() {
            return Ok(Erased::default());
        }
        let projected = self.inner.progress.marks().1;
        self.inner
            .archive
            .submit(Notify::Nothing, move |cx| {
                let n = erase_archive(&cx.conn, agent_id, &cids, projected)?;
                if n > 0 {
                    give_back(&cx.conn)?;
                    // Held spans of these conversations may be among them.
                    cx.cache.clear();
                }
                Ok(n)
            })
            .await?;
        self.write_in(Notify::Agent(agent_id, Change::Other), move |cx| erase_main(cx, agent_id, &pks)).await
    }
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<ErasureRecord> {
    let kind: String = r.get(3)?;
    Ok(ErasureRecord {
        id: r.get(0)?,
        at: r.get(1)?,
        agent_id: r.get(2)?,
        kind: ErasureKind::parse(&kind).unwrap_or(ErasureKind::Erase),
        actor: r.get(4)?,
        conversations: r.get::<_, i64>(5)? as u64,
        messages: r.get::<_, i64>(6)? as u64,
    })
}

impl RetentionStore for SqliteStore {
    async fn retention_days(&self, agent_id: i64) -> StoreResult<Option<u32>> {
        self.read_config(move |conn| {
            conn.query_row("SELECT retention_days FROM agents WHERE id = ?1", [agent_id], |r| {
                r.get::<_, Option<u32>>(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(sqlerr)
        })
        .await
    }

    async fn set_retention_days(&self, agent_id: i64, days: Option<u32>) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| {
            conn.execute("UPDATE agents SET retention_days = ?2 WHERE id = ?1", params![agent_id, days])
                .map(|n| n == 1)
                .map_err(sqlerr)
        })
        .await
    }

    async fn retentions(&self) -> StoreResult<Vec<(i64, u32)>> {
        self.read_config(|conn| {
            conn.prepare("SELECT id, retention_days FROM agents WHERE retention_days IS NOT NULL ORDER BY id")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sqlerr)
        })
        .await
    }

    async fn record_erasure(&self, r: ErasureRecord) -> StoreResult<ErasureRecord> {
        self.write(Notify::Nothing, move |conn| {
            let id: i64 = conn
                .query_row(
                    "INSERT INTO erasures (at, agent_id, kind, actor, conversations, messages)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                    params![
                        r.at,
                        r.agent_id,
                        r.kind.as_str(),
                        r.actor,
                        r.conversations as i64,
                        r.messages as i64
                    ],
                    |row| row.get(0),
                )
                .map_err(|e| match e.sqlite_error_code() {
                    Some(rusqlite::ErrorCode::ConstraintViolation) => {
                        StoreError::UnknownReference { field: "agent", value: r.agent_id.to_string() }
                    }
                    _ => sqlerr(e),
                })?;
            Ok(ErasureRecord { id, ..r })
        })
        .await
    }

    async fn erasures(&self, agent_id: Option<i64>, limit: i64) -> StoreResult<Vec<ErasureRecord>> {
        self.read_config(move |conn| {
            conn.prepare_cached(
                "SELECT id, at, agent_id, kind, actor, conversations, messages FROM erasures
                 WHERE ?1 IS NULL OR agent_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![agent_id, limit], record)?.collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sqlerr)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// A retention run reads the agent's conversations started before the cut-off from their
    /// index, in its order (no sort of them all), and each one's entries after the cut-off from
    /// the transcript index; a customer's, from theirs.
    #[test]
    fn the_finders_read_indexes_without_sorting() {
        let (conn, _dir) = crate::migrate::test_db();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map(rusqlite::params![1, 0, 5, 500], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let retention = plan(super::RETENTION_SQL);
        assert!(retention.contains("conversations_agent_started"), "{retention}");
        assert!(retention.contains("messages_conversation"), "{retention}");
        assert!(!retention.contains("TEMP B-TREE"), "{retention}");
        let customer = plan(super::CUSTOMER_SQL);
        assert!(
            customer.contains("conversations_agent_customer") && !customer.contains("TEMP B-TREE"),
            "{customer}"
        );
    }
}
