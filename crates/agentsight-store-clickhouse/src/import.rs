//! Copying a single box into this store with the source's ids (`agentsight migrate`): rows
//! arrive as JSON objects keyed by column name, already in this store's form, and are written
//! as given, so conversation pks, message ids and key hashes stay what clients hold.
//!
//! Resuming: the caller copies each (step, agent) in chunks in id order and records the last
//! id of a chunk as the step's high-water mark (`event_import_progress`). A PostgreSQL chunk
//! and its mark commit in one transaction (and skip rows already there), so nothing is copied
//! twice. ClickHouse has no transaction: a chunk is inserted, then its mark committed; a run
//! stopped between the two left the chunk's rows without the mark, so every ClickHouse chunk
//! that starts at or below the largest id the table holds for the agent (read once per (step,
//! agent) in a run: [`ClickHouseEventStore::import_clickhouse_max_id`]) is first compared with
//! what the table already holds ([`ClickHouseEventStore::import_clickhouse`] with
//! `skip_existing`) and only missing rows go in, whatever the size of the stopped run's chunks.
//!
//! Spans (0.1.x) are copied as the scale-out span plane keeps them: the row with its text into
//! ClickHouse's `spans`, then its key row into `event_spans` (state, and what a child arriving
//! later needs of a turn: [`ClickHouseEventStore::import_span_key`]) with the mark, as a span
//! batch does: ClickHouse first, the key after. A row a stopped run left without its key is
//! invisible to span reads until the next run writes the key (and does not insert the row
//! again). A span held when it was copied may be released on the box later: each run brings
//! the state of the copied held spans up to date ([`ClickHouseEventStore::import_held_spans`],
//! [`ClickHouseEventStore::import_span_states`]); nothing else of a span changes once stored.

use std::collections::HashSet;

use agentsight_core::spans::SpanEffect;
use agentsight_store::{StoreError, StoreResult};
use agentsight_store_postgres::pgerr;
use serde_json::Value;

use crate::spans::effect_code;
use crate::{ClickHouseEventStore, ID_BLOCK};

/// The PostgreSQL tables the copy writes (configuration and the event store's own).
const POSTGRES_TABLES: &[&str] = &[
    "agents",
    "environments",
    "api_keys",
    "users",
    "user_agents",
    "shares",
    "agent_branding",
    "event_conversations",
    "event_attachments",
    "event_votes",
    "event_actions",
    "event_token_usage",
    "event_spans",
    "alert_rules",
    "alert_events",
    "notify_targets",
    "smtp_settings",
    "report_schedules",
    "report_sends",
];

/// The ClickHouse tables the copy writes, with the column that names a row.
const CLICKHOUSE_TABLES: &[(&str, &str)] = &[
    ("conversations", "conversation_pk"),
    ("messages", "id"),
    ("action_logs", "id"),
    ("buttons", "id"),
    ("feedbacks", "id"),
    ("spans", "id"),
];

/// Sequences and identities moved above the copied ids when the copy ends.
const SEQUENCED: &[&str] = &[
    "alert_rules",
    "alert_events",
    "notify_targets",
    "report_schedules",
    "agents",
    "environments",
    "api_keys",
    "users",
    "shares",
    "event_conversations",
    "event_attachments",
    "event_actions",
    "event_token_usage",
    "event_spans",
];

fn column_name(c: &str) -> StoreResult<&str> {
    if !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        Ok(c)
    } else {
        Err(StoreError::internal(format!("import: bad column name {c:?}")))
    }
}

/// The advisory lock one copy holds while it runs (any fixed key: "agentsight import").
const IMPORT_LOCK: i64 = 0x6167_7369_6d70_6f72;

/// Held while a copy runs: a PostgreSQL session holding [`IMPORT_LOCK`]; dropping it ends the
/// session's hold (the connection is closed, not returned to the pool).
pub struct ImportLock {
    _client: deadpool_postgres::ClientWrapper,
}

impl ClickHouseEventStore {
    /// Takes the copy's lock on a connection of its own, or answers `None` when another copy
    /// into this deployment holds it (two at once would insert the same ClickHouse chunks).
    pub async fn import_lock(&self) -> StoreResult<Option<ImportLock>> {
        let client = self.client().await?;
        let got: bool =
            client.query_one("SELECT pg_try_advisory_lock($1)", &[&IMPORT_LOCK]).await.map_err(pgerr)?.get(0);
        if !got {
            return Ok(None);
        }
        Ok(Some(ImportLock { _client: deadpool_postgres::Client::take(client) }))
    }

    /// Whether the target holds no agent and no copy was started: the copy refuses to mix a
    /// single box into a deployment that already has data of its own.
    pub async fn import_target_state(&self) -> StoreResult<(i64, i64)> {
        let c = self.client().await?;
        let agents: i64 = c.query_one("SELECT count(*) FROM agents", &[]).await.map_err(pgerr)?.get(0);
        let marks: i64 =
            c.query_one("SELECT count(*) FROM event_import_progress", &[]).await.map_err(pgerr)?.get(0);
        Ok((agents, marks))
    }

    /// The high-water mark of `step` for `agent_id` (the last source id copied; 0 if none).
    pub async fn import_high_water(&self, step: &str, agent_id: i64) -> StoreResult<i64> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT high_water FROM event_import_progress WHERE step = $1 AND agent_id = $2",
                &[&step, &agent_id],
            )
            .await
            .map_err(pgerr)?;
        Ok(r.map_or(0, |r| r.get(0)))
    }

    /// Inserts `rows` into the PostgreSQL table `table` with the ids they carry (rows whose
    /// key or a unique value is already there are skipped), and records `high_water` for
    /// (`step`, `agent_id`), in one transaction. Answers the rows inserted.
    pub async fn import_postgres(
        &self,
        table: &str,
        rows: &[Value],
        step: &str,
        agent_id: i64,
        high_water: i64,
    ) -> StoreResult<u64> {
        if !POSTGRES_TABLES.contains(&table) {
            return Err(StoreError::internal(format!("import: not a table of the copy: {table}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let mut inserted = 0;
        if let Some(Value::Object(first)) = rows.first() {
            let cols = first.keys().map(|k| column_name(k)).collect::<StoreResult<Vec<_>>>()?.join(", ");
            let sql = format!(
                "INSERT INTO {table} ({cols}) OVERRIDING SYSTEM VALUE
                 SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, $1::text::jsonb)
                 ON CONFLICT DO NOTHING"
            );
            let json =
                serde_json::to_string(rows).map_err(|e| StoreError::internal_from("import: encoding", e))?;
            inserted =
                tx.execute(&sql, &[&json]).await.map_err(|e| pgerr(e).context(format!("copying {table}")))?;
        }
        tx.execute(
            "INSERT INTO event_import_progress (step, agent_id, high_water) VALUES ($1, $2, $3)
             ON CONFLICT (step, agent_id) DO UPDATE SET high_water = EXCLUDED.high_water, updated_at = now()",
            &[&step, &agent_id, &high_water],
        )
        .await
        .map_err(pgerr)?;
        tx.commit().await.map_err(pgerr)?;
        Ok(inserted)
    }

    /// Records `high_water` for (`step`, `agent_id`) (after a ClickHouse chunk went in).
    pub async fn import_mark(&self, step: &str, agent_id: i64, high_water: i64) -> StoreResult<()> {
        self.import_postgres("agents", &[], step, agent_id, high_water).await.map(drop)
    }

    /// The largest id `table` (a ClickHouse table of the copy) holds for `agent_id` (0 if none):
    /// a chunk starting at or below it may hold rows a stopped run inserted without its mark,
    /// whatever the chunks of that run were.
    pub async fn import_clickhouse_max_id(&self, table: &str, agent_id: i64) -> StoreResult<i64> {
        let &(_, id_col) = CLICKHOUSE_TABLES.iter().find(|(t, _)| *t == table).ok_or_else(|| {
            StoreError::internal(format!("import: not a ClickHouse table of the copy: {table}"))
        })?;
        #[derive(serde::Deserialize)]
        struct Max {
            id: i64,
        }
        let got: Vec<Max> = self
            .inner
            .ch
            .rows(&format!("SELECT toInt64(max({id_col})) AS id FROM {table} WHERE agent_id = {agent_id}"))
            .await?;
        Ok(got.first().map_or(0, |m| m.id))
    }

    /// Inserts `rows` into the ClickHouse table `table` as given. With `skip_existing`, rows
    /// whose id the table already holds for `agent_id` are left out (a chunk a stopped run
    /// inserted without recording it). Answers the rows inserted.
    pub async fn import_clickhouse(
        &self,
        table: &str,
        agent_id: i64,
        rows: &[Value],
        skip_existing: bool,
    ) -> StoreResult<usize> {
        let &(_, id_col) = CLICKHOUSE_TABLES.iter().find(|(t, _)| *t == table).ok_or_else(|| {
            StoreError::internal(format!("import: not a ClickHouse table of the copy: {table}"))
        })?;
        let id_of = |r: &Value| r.get(id_col).and_then(Value::as_i64);
        let ids: Vec<i64> = rows.iter().filter_map(id_of).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let there: HashSet<i64> = if skip_existing {
            #[derive(serde::Deserialize)]
            struct Id {
                id: i64,
            }
            let (lo, hi) = (ids.iter().min().copied().unwrap_or(0), ids.iter().max().copied().unwrap_or(0));
            let got: Vec<Id> = self
                .inner
                .ch
                .rows(&format!(
                    "SELECT DISTINCT {id_col} AS id FROM {table} WHERE agent_id = {agent_id} AND {id_col} >= {lo} AND {id_col} <= {hi}"
                ))
                .await?;
            got.into_iter().map(|r| r.id).collect()
        } else {
            HashSet::new()
        };
        let mut buf = Vec::new();
        // A message's id and conversation also go to `message_ids` (reads by id find the
        // conversation there), first: a run stopped between the two inserts leaves an id row
        // the next run writes again (harmless, it is read with `LIMIT 1`), never a message
        // without one.
        let mut id_rows = Vec::new();
        let mut n = 0;
        for r in rows {
            if id_of(r).is_some_and(|id| there.contains(&id)) {
                continue;
            }
            serde_json::to_writer(&mut buf, r)
                .map_err(|e| StoreError::internal_from("import: encoding", e))?;
            buf.push(b'\n');
            if table == "messages" {
                let ids = serde_json::json!({
                    "agent_id": r["agent_id"], "id": r["id"], "conversation_pk": r["conversation_pk"]
                });
                serde_json::to_writer(&mut id_rows, &ids)
                    .map_err(|e| StoreError::internal_from("import: encoding", e))?;
                id_rows.push(b'\n');
            }
            n += 1;
        }
        if !id_rows.is_empty() {
            self.inner
                .ch
                .insert("message_ids", id_rows)
                .await
                .map_err(|e| e.context("copying message_ids"))?;
        }
        if n > 0 {
            self.inner.ch.insert(table, buf).await.map_err(|e| e.context(format!("copying {table}")))?;
        }
        Ok(n)
    }

    /// The columns of a copied span's `event_spans` row that come from its text, as a span
    /// batch writes them (`spans.rs`): `effect` (what it projects into) and, for a turn, its
    /// `trace_id`, `turn_complete` and `turn_reason`. A text that no longer validates (it did
    /// when the box stored it) projects into nothing.
    pub fn import_span_key(text: &str) -> Value {
        let (effect, trace, complete, reason) = match agentsight_core::spans::validate_span(text, "span") {
            Ok(s) => match &s.effect {
                SpanEffect::Turn(t) => (
                    effect_code(&s.effect),
                    Some(s.trace_id.clone()),
                    Some(t.complete),
                    t.incomplete_reason.clone(),
                ),
                e => (effect_code(e), None, None, None),
            },
            Err(_) => (effect_code(&SpanEffect::None), None, None, None),
        };
        serde_json::json!({"effect": effect, "trace_id": trace, "turn_complete": complete, "turn_reason": reason})
    }

    /// The ids of `agent_id`'s spans held (waiting for their turn) in `event_spans`.
    pub async fn import_held_spans(&self, agent_id: i64) -> StoreResult<Vec<i64>> {
        let c = self.client().await?;
        let rows = c
            .query("SELECT id FROM event_spans WHERE agent_id = $1 AND state = 0 ORDER BY id", &[&agent_id])
            .await
            .map_err(pgerr)?;
        rows.iter().map(|r| r.try_get(0).map_err(pgerr)).collect()
    }

    /// Sets the state of `agent_id`'s spans `ids` to `states` (a held span the box released
    /// after it was copied). Answers the rows changed.
    pub async fn import_span_states(&self, agent_id: i64, ids: &[i64], states: &[i16]) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let c = self.client().await?;
        c.execute(
            "UPDATE event_spans s SET state = r.state
             FROM unnest($2::bigint[], $3::smallint[]) AS r(id, state)
             WHERE s.agent_id = $1 AND s.id = r.id AND s.state <> r.state",
            &[&agent_id, &ids, &states],
        )
        .await
        .map_err(|e| pgerr(e).context("updating the state of copied spans"))
    }

    /// The ClickHouse `conversations` row (version 1, with the metric columns decoded from
    /// its metadata) of a registry row given as a JSON object in `event_conversations`' form.
    pub fn import_conversation_row(pg_row: &Value) -> Value {
        let mut row = pg_row.clone();
        if let Value::Object(o) = &mut row {
            if let Some(id) = o.remove("id") {
                o.insert("conversation_pk".into(), id);
            }
            for flag in ["is_used", "is_marked", "is_deleted"] {
                let on = o.get(flag).and_then(Value::as_bool).unwrap_or(false);
                o.insert(flag.into(), u8::from(on).into());
            }
            o.insert("version".into(), 1.into());
        }
        let metadata = pg_row.get("metadata").and_then(Value::as_str).map(str::to_string);
        crate::metrics::add_metric_columns(&mut row, metadata.as_deref());
        row
    }

    /// Ends a copy: every id allocator moves above the ids copied (the event id blocks above
    /// `max_event_id`, the largest message, action log, button, feedback or vote id; span batch
    /// ids above `max_span_batch`, the largest batch id of a copied span), so new rows never
    /// take a copied id.
    pub async fn import_finish(&self, max_event_id: i64, max_span_batch: i64) -> StoreResult<()> {
        let c = self.client().await?;
        for t in SEQUENCED {
            c.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))
                     WHERE EXISTS (SELECT 1 FROM {t})"
                ),
                &[],
            )
            .await
            .map_err(|e| pgerr(e).context(format!("moving the id sequence of {t}")))?;
        }
        // Blocks are taken with nextval: the next one starts above max_event_id.
        let block = max_event_id / ID_BLOCK + 1;
        c.execute(
            "SELECT setval('event_id_blocks', greatest($1, (SELECT last_value FROM event_id_blocks)))",
            &[&block],
        )
        .await
        .map_err(pgerr)?;
        c.execute(
            "SELECT setval('event_span_batches', greatest($1, (SELECT last_value FROM event_span_batches)))",
            &[&max_span_batch],
        )
        .await
        .map_err(pgerr)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn span(kind: &str, attrs: Value) -> String {
        let mut a = json!({"agentsight.span.kind": kind, "agentsight.turn.id": "00000000000000a1"});
        if let (Value::Object(a), Value::Object(more)) = (&mut a, attrs) {
            a.extend(more);
        }
        json!({"span_id": "00000000000000a1", "trace_id": "0123456789ABCDEF0123456789abcdef", "kind": kind,
            "name": kind, "started_at": "2026-08-15T10:00:00Z", "ended_at": "2026-08-15T10:00:01Z",
            "status": "ok", "attributes": a, "events": []})
        .to_string()
    }

    /// A copied span's key columns are what a span batch writes for it: a turn keeps its trace
    /// (as validated: lower case) and completeness for the children that arrive after it; the
    /// others only what they project into; a text that no longer validates projects into nothing.
    #[test]
    fn span_keys_are_what_a_batch_writes() {
        let incomplete = span(
            "turn",
            json!({"agentsight.turn.complete": false, "agentsight.turn.incomplete_reason": "abandoned"}),
        );
        assert_eq!(
            ClickHouseEventStore::import_span_key(&incomplete),
            json!({"effect": 1, "trace_id": "0123456789abcdef0123456789abcdef", "turn_complete": false,
                "turn_reason": "abandoned"})
        );
        assert_eq!(ClickHouseEventStore::import_span_key(&span("turn", json!({})))["turn_complete"], true);
        for (kind, attrs, effect) in [
            ("tool", json!({"agentsight.tool.name": "lookup"}), 2),
            ("llm", json!({"gen_ai.request.model": "gpt-4o-mini"}), 3),
            ("button", json!({}), 4),
            ("custom", json!({}), 0),
        ] {
            assert_eq!(
                ClickHouseEventStore::import_span_key(&span(kind, attrs)),
                json!({"effect": effect, "trace_id": null, "turn_complete": null, "turn_reason": null}),
                "{kind}"
            );
        }
        assert_eq!(ClickHouseEventStore::import_span_key("{\"span_id\": 3}")["effect"], 0);
    }
}
