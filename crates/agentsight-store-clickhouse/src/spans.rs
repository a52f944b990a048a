//! [`SpanWriter`] and [`SpanReader`]: the 0.1.x span plane on ClickHouse and PostgreSQL.
//!
//! * **Which spans are new** is decided in PostgreSQL: `event_spans` holds a key row per span
//!   stored, unique per `(agent, conversation id, start, span id)`, written for a whole batch in
//!   one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING`: what it returns was
//!   stored now, the rest are resends. The key row also keeps the span's state (held,
//!   projected, archived) and, for a turn, its trace and completeness, so a child arriving after
//!   its turn finds it without reading ClickHouse.
//! * **Per conversation, one batch at a time, across nodes**: a batch takes a transaction-scoped
//!   advisory lock per conversation it names (in one statement, in key order) before it looks
//!   at turns and held children, so a turn and its child arriving at two nodes at once cannot
//!   both miss each other.
//! * **The spans** (their columns and their text exactly as sent) are rows of ClickHouse's
//!   `spans` (no separate archive of the body: each span's text is its slice of the body).
//!   A batch's projection writes the rows the 0.0.x path writes (`messages`, `action_logs`,
//!   `buttons`, with the tracking module's row builders) and copies each new version of a
//!   conversation row; all of it through the batching inserter.
//! * **Token usage** rows are merged per (conversation, turn, model) and repriced in place, so
//!   they live in PostgreSQL (`event_token_usage`); so do their reads and the LLM metrics.
//! * **Order**: the PostgreSQL transaction stays open while ClickHouse takes the batch's rows
//!   and commits after; the batch is answered after the commit, projected (nothing waits for a
//!   later projection, so a client reads what it wrote). A ClickHouse failure rolls the keys
//!   back (a resend is stored again); a failure of the commit after ClickHouse took the rows
//!   leaves rows no key points to: span reads skip them, but their messages and actions stay.

use std::collections::HashMap;

use agentsight_core::archive::{ArchivedBody, MAX_DECODED_BYTES};
use agentsight_core::limits::LLM_TOP_CONVERSATIONS;
use agentsight_core::metrics::llm::{self, ConversationUsage};
use agentsight_core::metrics::query::{DimFilter, MetricsQuery, day_start};
use agentsight_core::prices::{self, Pricing, TokenCounts};
use agentsight_core::spans::{LlmCall, SpanEffect, SpanIngest, SpanRecord};
use agentsight_core::time::Micros;
use agentsight_core::tracking::{ConversationRef, NewAction, NewButton, NewMessage};
use agentsight_protocol::v01::{LlmDayRow, LlmMetricsResponse, LlmModelRow, LlmTotals};
use agentsight_store::{
    AgentRef, Change, Committed, IngestOutcome, IngestReceipt, PageRequest, Restated, SpanFilter, SpanReader,
    SpanRow, SpanState, SpanWriter, StoreError, StoreResult, TokenUsageRow, UsageFilter, UsageGroupBy,
    UsageGroupRow,
};
use agentsight_store_postgres::pgerr;
use serde::Deserialize;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use crate::http::{int_list, quote};
use crate::registry::{self, Reg};
use crate::schema::Table;
use crate::tracking::{action_rows, button_rows, message_row, metadata_text};
use crate::{ClickHouseEventStore, ID_BLOCK};

/// The spans: their columns, and `payload`, the span's text exactly as sent. A span's state is
/// in PostgreSQL (`event_spans`, same `id`). 18.16 has no column codecs: the text is compressed
/// with the server's default.
pub(crate) const SPANS: Table = Table {
    name: "spans",
    columns: "agent_id Int64, conversation_pk Int64, id Int64, conversation_id String, span_id UInt64,
        trace_id String, parent_span_id Nullable(UInt64), turn_id Nullable(UInt64), kind String,
        name String, status String, started_at Int64, ended_at Int64, duration_ms Nullable(Float64),
        sdk_version Nullable(String), batch_id Int64, received_at Int64, payload String",
    engine: "MergeTree ORDER BY (agent_id, started_at, id)",
};

/// What a span projects into, as `event_spans.effect` keeps it.
pub(crate) fn effect_code(e: &SpanEffect) -> i16 {
    match e {
        SpanEffect::None => 0,
        SpanEffect::Turn(_) => 1,
        SpanEffect::Tool(_) => 2,
        SpanEffect::Llm(_) => 3,
        SpanEffect::Button(_) => 4,
    }
}

/// A turn's completeness, as its children's projection needs it.
#[derive(Debug, Clone, PartialEq)]
struct TurnInfo {
    complete: bool,
    reason: Option<String>,
}

/// What a batch's PostgreSQL half decided for one block.
#[derive(Default)]
struct BlockPlan {
    /// The block's spans stored now and to be projected (by index), each child with its turn.
    fresh: Vec<(usize, Option<TurnInfo>)>,
    /// Children held before that the block's turns released, with their turn.
    released: Vec<(SpanRecord, TurnInfo)>,
}

/// Token usage of one (conversation, turn, model) from one batch, merged as the table merges.
struct Usage {
    pk: i64,
    turn_key: String,
    turn_id: Option<i64>,
    model: String,
    system: Option<String>,
    calls: i64,
    unreported: i64,
    errors: i64,
    tokens: TokenCounts,
    cost: Option<i64>,
    source: &'static str,
    table: Option<&'static str>,
    incomplete: bool,
    reason: Option<String>,
    started_at: Micros,
    ended_at: Micros,
}

/// The `cost_source` and `price_table` of a server-computed cost (`None`: unpriced).
fn cost_stamp(cost: Option<i64>, table_date: &'static str) -> (&'static str, Option<&'static str>) {
    match cost {
        Some(_) => ("backend", Some(table_date)),
        None => ("unpriced", None),
    }
}

/// Adds an LLM call to the batch's usage rows.
fn add_usage(usage: &mut Vec<Usage>, pk: i64, s: &SpanRecord, c: &LlmCall, turn: Option<&TurnInfo>) {
    let (turn_key, turn_id) = match s.turn_id {
        Some(t) => (format!("t{t:016x}"), Some(t as i64)),
        None => (format!("s{:016x}", s.span_id), None),
    };
    if let Some(u) = usage.iter_mut().find(|u| u.pk == pk && u.turn_key == turn_key && u.model == c.model) {
        u.calls += 1;
        u.unreported += i64::from(!c.usage_reported);
        u.errors += i64::from(c.error);
        u.tokens.add(&c.tokens);
        u.cost = match (u.cost, c.cost_pico) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            _ => None,
        };
        u.system = u.system.take().or_else(|| c.system.clone());
        u.started_at = u.started_at.min(s.started_at);
        u.ended_at = u.ended_at.max(s.ended_at);
        return;
    }
    let (source, table) = cost_stamp(c.cost_pico, prices::CURRENT.table_date);
    usage.push(Usage {
        pk,
        turn_key,
        turn_id,
        model: c.model.clone(),
        system: c.system.clone(),
        calls: 1,
        unreported: i64::from(!c.usage_reported),
        errors: i64::from(c.error),
        tokens: c.tokens,
        cost: c.cost_pico,
        source,
        table,
        incomplete: turn.is_some_and(|t| !t.complete),
        reason: turn.and_then(|t| t.reason.clone()),
        started_at: s.started_at,
        ended_at: s.ended_at,
    });
}

/// The rows one batch writes to ClickHouse, and its projection's outcome.
#[derive(Default)]
struct Rows {
    spans: Vec<Value>,
    messages: Vec<Value>,
    action_logs: Vec<Value>,
    buttons: Vec<Value>,
    conversations: Vec<Value>,
    usage: Vec<Usage>,
    out: IngestOutcome,
}

/// Event ids handed out in order from a list taken at once.
struct Ids(std::vec::IntoIter<i64>);

impl Ids {
    fn next(&mut self) -> StoreResult<i64> {
        self.0.next().ok_or_else(|| StoreError::internal("span projection: event ids ran out"))
    }
}

fn turn_of(
    turns: &HashMap<u64, TurnInfo>,
    stored: &HashMap<(String, u64, String), TurnInfo>,
    cid: &str,
    s: &SpanRecord,
) -> Option<TurnInfo> {
    match (&s.effect, s.turn_id) {
        (SpanEffect::Turn(_), _) | (SpanEffect::None, _) | (_, None) => None,
        (_, Some(t)) => {
            turns.get(&t).cloned().or_else(|| stored.get(&(cid.to_string(), t, s.trace_id.clone())).cloned())
        }
    }
}

/// How many event ids the projection of a child takes.
fn ids_of(s: &SpanRecord) -> usize {
    match s.effect {
        SpanEffect::Tool(_) | SpanEffect::Button(_) => 2,
        _ => 0,
    }
}

impl ClickHouseEventStore {
    /// `n` event ids taken through `c` (the batch's own connection: waiting for another one of
    /// the pool while holding it could starve the pool).
    async fn ids_on(&self, c: &impl GenericClient, n: usize) -> StoreResult<Vec<i64>> {
        let mut out = Vec::with_capacity(n);
        let mut g = self.inner.ids.lock().await;
        while out.len() < n {
            if g.0 >= g.1 {
                let block = registry::next_id_block(c).await?;
                *g = (block * ID_BLOCK, (block + 1) * ID_BLOCK);
            }
            out.push(g.0);
            g.0 += 1;
        }
        Ok(out)
    }

    /// A child's projection (a tool, LLM call or button the plan decided to project).
    fn project_child(
        b: &SpanIngest,
        pk: i64,
        s: &SpanRecord,
        turn: Option<&TurnInfo>,
        ids: &mut Ids,
        rows: &mut Rows,
    ) -> StoreResult<()> {
        match &s.effect {
            SpanEffect::Tool(t) => {
                let a = NewAction {
                    agent_id: b.agent_id,
                    conversation: ConversationRef::Pk(pk),
                    action_name: t.name.clone(),
                    event_time: s.started_at,
                    started_at: Some(s.started_at),
                    ended_at: Some(s.ended_at),
                    duration_ms: t.duration_ms,
                    tools_used: t.tools_used.clone(),
                    response: t.response.clone(),
                    error_msg: t.error.clone(),
                    metadata: t.metadata.clone(),
                    received_at: b.received_at,
                };
                let (entry, log) = action_rows(&a, pk, ids.next()?, ids.next()?);
                rows.messages.push(entry);
                rows.action_logs.push(log);
            }
            SpanEffect::Button(x) => {
                let n = NewButton {
                    agent_id: b.agent_id,
                    conversation: ConversationRef::Pk(pk),
                    button_event: x.event.clone(),
                    label: x.label.clone(),
                    value: x.value.clone(),
                    metadata: x.metadata.clone(),
                    event_time: s.started_at,
                    received_at: b.received_at,
                };
                let (entry, row) = button_rows(&n, pk, ids.next()?, ids.next()?);
                rows.messages.push(entry);
                rows.buttons.push(row);
            }
            SpanEffect::Llm(c) => add_usage(&mut rows.usage, pk, s, c, turn),
            SpanEffect::Turn(_) | SpanEffect::None => {}
        }
        Ok(())
    }

    /// The children of earlier batches held for `turns` ((conversation, turn id, complete)),
    /// released now (their state set in `tx`); the projected ones read back from ClickHouse and
    /// validated again, by (conversation, turn), in time order.
    async fn release_held(
        &self,
        tx: &impl GenericClient,
        agent_id: i64,
        turns: &[(String, u64, bool)],
    ) -> StoreResult<HashMap<(String, u64), Vec<SpanRecord>>> {
        if turns.is_empty() {
            return Ok(HashMap::new());
        }
        let cids: Vec<&str> = turns.iter().map(|t| t.0.as_str()).collect();
        let tids: Vec<i64> = turns.iter().map(|t| t.1 as i64).collect();
        let complete: Vec<bool> = turns.iter().map(|t| t.2).collect();
        let released = tx
            .query(
                "UPDATE event_spans s SET state = CASE WHEN s.effect = 3 OR r.complete THEN 1 ELSE 2 END
                 FROM unnest($2::text[], $3::bigint[], $4::boolean[]) AS r(cid, turn, complete)
                 WHERE s.agent_id = $1 AND s.state = 0 AND s.conversation_id = r.cid AND s.turn_id = r.turn
                 RETURNING s.id, s.conversation_id, s.turn_id, s.state",
                &[&agent_id, &cids, &tids, &complete],
            )
            .await
            .map_err(pgerr)?;
        let mut at: HashMap<i64, (String, u64)> = HashMap::new();
        for r in &released {
            let state: i16 = r.try_get(3).map_err(pgerr)?;
            if i64::from(state) == SpanState::Projected.code() {
                let turn: i64 = r.try_get(2).map_err(pgerr)?;
                at.insert(r.try_get(0).map_err(pgerr)?, (r.try_get(1).map_err(pgerr)?, turn as u64));
            }
        }
        let mut out: HashMap<(String, u64), Vec<SpanRecord>> = HashMap::new();
        if at.is_empty() {
            return Ok(out);
        }
        #[derive(Deserialize)]
        struct Text {
            id: i64,
            payload: String,
        }
        let ids: Vec<i64> = at.keys().copied().collect();
        let texts: Vec<Text> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT id, payload FROM spans WHERE agent_id = {agent_id} AND id IN ({}) ORDER BY started_at, id",
                int_list(&ids)
            ))
            .await?;
        if texts.len() != ids.len() {
            return Err(StoreError::internal(format!(
                "span projection: {} of {} held spans are missing in ClickHouse",
                ids.len() - texts.len(),
                ids.len()
            )));
        }
        for t in texts {
            let child = agentsight_core::spans::validate_span(&t.payload, "span").map_err(|e| {
                StoreError::internal_from(format!("held span {} no longer validates", t.id), e)
            })?;
            if let Some(k) = at.remove(&t.id) {
                out.entry(k).or_default().push(child);
            }
        }
        Ok(out)
    }

    /// The whole write of a batch (see the module): answers what it stored and projected.
    async fn ingest(
        &self,
        b: &SpanIngest,
        body: &ArchivedBody,
    ) -> StoreResult<(i64, u64, u64, IngestOutcome)> {
        let text = body
            .decode(MAX_DECODED_BYTES)
            .map_err(|e| StoreError::internal_from("span batch: decoding its body", e))?;
        let agent_id = b.agent_id;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;

        // One batch per conversation at a time, on every node. Advisory locks are per database:
        // the key includes the schema, so deployments (or tests) in other schemas of the same
        // database never wait on each other.
        let mut cids: Vec<&str> = b.blocks.iter().map(|k| k.upsert.conversation_id.as_str()).collect();
        cids.sort_unstable();
        cids.dedup();
        tx.execute(
            "SELECT pg_advisory_xact_lock(l.k) FROM
                 (SELECT DISTINCT hashtextextended(current_schema() || ':' || c, $1) AS k
                  FROM unnest($2::text[]) AS c ORDER BY 1) AS l",
            &[&agent_id, &cids],
        )
        .await
        .map_err(pgerr)?;
        let batch_id: i64 = tx
            .query_one("SELECT nextval('event_span_batches')", &[])
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;

        // The conversations (pipelined on the transaction's connection).
        let upserts =
            b.blocks.iter().map(|k| registry::upsert_lowering(&*tx, &k.upsert, Some(k.upsert.event_time)));
        let regs: Vec<(Reg, bool)> = futures::future::try_join_all(upserts).await?;

        // Children whose turn is not in their block: the stored turns.
        let mut want: (Vec<&str>, Vec<i64>) = (Vec::new(), Vec::new());
        let block_turns: Vec<HashMap<u64, TurnInfo>> = b
            .blocks
            .iter()
            .map(|k| {
                k.spans
                    .iter()
                    .filter_map(|s| match (&s.effect, s.turn_id) {
                        (SpanEffect::Turn(t), Some(id)) => {
                            Some((id, TurnInfo { complete: t.complete, reason: t.incomplete_reason.clone() }))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        for (k, turns) in b.blocks.iter().zip(&block_turns) {
            for s in &k.spans {
                if let (SpanEffect::Tool(_) | SpanEffect::Llm(_) | SpanEffect::Button(_), Some(t)) =
                    (&s.effect, s.turn_id)
                    && !turns.contains_key(&t)
                {
                    want.0.push(k.upsert.conversation_id.as_str());
                    want.1.push(t as i64);
                }
            }
        }
        let mut stored: HashMap<(String, u64, String), TurnInfo> = HashMap::new();
        if !want.0.is_empty() {
            for r in tx
                .query(
                    "SELECT conversation_id, span_id, trace_id, turn_complete, turn_reason FROM event_spans
                     WHERE agent_id = $1 AND effect = 1
                         AND (conversation_id, span_id) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))",
                    &[&agent_id, &want.0, &want.1],
                )
                .await
                .map_err(pgerr)?
            {
                let span_id: i64 = r.try_get(1).map_err(pgerr)?;
                let trace: Option<String> = r.try_get(2).map_err(pgerr)?;
                let info = TurnInfo {
                    complete: r.try_get::<_, Option<bool>>(3).map_err(pgerr)?.unwrap_or(false),
                    reason: r.try_get(4).map_err(pgerr)?,
                };
                stored
                    .insert((r.try_get(0).map_err(pgerr)?, span_id as u64, trace.unwrap_or_default()), info);
            }
        }

        // Each span's state, then the keys of the whole batch in one statement.
        let mut keys = KeyColumns::default();
        let mut states: Vec<Vec<(SpanState, Option<TurnInfo>)>> = Vec::with_capacity(b.blocks.len());
        for (k, turns) in b.blocks.iter().zip(&block_turns) {
            let cid = k.upsert.conversation_id.as_str();
            let mut v = Vec::with_capacity(k.spans.len());
            for s in &k.spans {
                let turn = turn_of(turns, &stored, cid, s);
                let state = match (&s.effect, s.turn_id, &turn) {
                    (SpanEffect::None, _, _) => SpanState::Archived,
                    (SpanEffect::Turn(_), _, _) => SpanState::Projected,
                    (_, Some(_), None) => SpanState::Held,
                    (SpanEffect::Llm(_), _, _) => SpanState::Projected,
                    (_, Some(_), Some(t)) if !t.complete => SpanState::Archived,
                    _ => SpanState::Projected,
                };
                keys.push(cid, s, state);
                v.push((state, turn));
            }
            states.push(v);
        }
        let mut inserted = keys.insert(&*tx, agent_id).await?;

        // What is new, block by block; the turns stored now release their held children.
        let mut accepted = 0u64;
        let mut duplicates = 0u64;
        let mut new_ids: Vec<Vec<Option<i64>>> = Vec::with_capacity(b.blocks.len());
        let mut plans: Vec<BlockPlan> = Vec::with_capacity(b.blocks.len());
        let mut fresh_turns: Vec<(String, u64, bool)> = Vec::new();
        for (k, st) in b.blocks.iter().zip(states) {
            let cid = k.upsert.conversation_id.as_str();
            let mut plan = BlockPlan::default();
            let mut ids = Vec::with_capacity(k.spans.len());
            for (i, (s, (state, turn))) in k.spans.iter().zip(st).enumerate() {
                // `remove`: a span sent twice in one batch is stored once.
                let Some(id) = inserted.remove(&(cid.to_string(), s.started_at, s.span_id as i64)) else {
                    duplicates += 1;
                    ids.push(None);
                    continue;
                };
                accepted += 1;
                ids.push(Some(id));
                if state == SpanState::Projected {
                    if let (SpanEffect::Turn(t), Some(turn_id)) = (&s.effect, s.turn_id) {
                        fresh_turns.push((cid.to_string(), turn_id, t.complete));
                    }
                    plan.fresh.push((i, turn));
                }
            }
            new_ids.push(ids);
            plans.push(plan);
        }
        let mut released = self.release_held(&*tx, agent_id, &fresh_turns).await?;
        for ((k, turns), plan) in b.blocks.iter().zip(&block_turns).zip(&mut plans) {
            let cid = &k.upsert.conversation_id;
            let mut fresh_turn_ids: Vec<u64> = plan
                .fresh
                .iter()
                .filter_map(|(i, _)| k.spans.get(*i))
                .filter(|s| matches!(s.effect, SpanEffect::Turn(_)))
                .filter_map(|s| s.turn_id)
                .collect();
            fresh_turn_ids.dedup();
            for t in fresh_turn_ids {
                if let (Some(children), Some(info)) = (released.remove(&(cid.clone(), t)), turns.get(&t)) {
                    plan.released.extend(children.into_iter().map(|c| (c, info.clone())));
                }
            }
        }

        // The projection's rows, ids in the order the embedded store writes them: a block's
        // complete turns' messages, the children they released, its new children.
        let n_ids: usize = b
            .blocks
            .iter()
            .zip(&plans)
            .map(|(k, p)| {
                let turn_messages: usize = p
                    .fresh
                    .iter()
                    .filter_map(|(i, _)| match k.spans.get(*i).map(|s| &s.effect) {
                        Some(SpanEffect::Turn(t)) if t.complete => Some(t.messages.len()),
                        _ => None,
                    })
                    .sum();
                let released: usize = p.released.iter().map(|(s, _)| ids_of(s)).sum();
                let children: usize = p.fresh.iter().filter_map(|(i, _)| k.spans.get(*i)).map(ids_of).sum();
                turn_messages + released + children
            })
            .sum();
        let mut ids = Ids(self.ids_on(&*tx, n_ids).await?.into_iter());
        let mut rows = Rows::default();
        for (((k, plan), (reg, created)), span_ids) in b.blocks.iter().zip(&plans).zip(&regs).zip(&new_ids) {
            let pk = reg.row.id;
            rows.out.conversations.push((pk, *created));
            rows.conversations.push(reg.clickhouse_row());
            let cid = k.upsert.conversation_id.as_str();
            for (s, id) in k.spans.iter().zip(span_ids) {
                if let Some(id) = id {
                    let payload = text.get(s.text.clone()).ok_or_else(|| {
                        StoreError::internal("span batch: a span's text is not in the body")
                    })?;
                    rows.spans.push(serde_json::json!({
                        "agent_id": agent_id, "conversation_pk": pk, "id": id, "conversation_id": cid,
                        "span_id": s.span_id, "trace_id": s.trace_id, "parent_span_id": s.parent_span_id,
                        "turn_id": s.turn_id, "kind": s.kind, "name": s.name, "status": s.status,
                        "started_at": s.started_at, "ended_at": s.ended_at, "duration_ms": s.duration_ms,
                        "sdk_version": b.sdk_version, "batch_id": batch_id, "received_at": b.received_at,
                        "payload": payload,
                    }));
                }
            }
            for (i, _) in &plan.fresh {
                if let Some(SpanEffect::Turn(t)) = k.spans.get(*i).map(|s| &s.effect)
                    && t.complete
                {
                    for m in &t.messages {
                        let n = NewMessage {
                            agent_id,
                            conversation: ConversationRef::Pk(pk),
                            sender: m.sender.clone(),
                            content: m.content.clone(),
                            metadata: m.metadata.clone(),
                            event_time: m.ts,
                            received_at: b.received_at,
                        };
                        rows.messages.push(message_row(&n, pk, ids.next()?));
                    }
                    rows.out.messages += t.messages.len() as u64;
                }
            }
            for (child, turn) in &plan.released {
                Self::project_child(b, pk, child, Some(turn), &mut ids, &mut rows)?;
            }
            for (i, turn) in &plan.fresh {
                if let Some(s) = k.spans.get(*i).filter(|s| !matches!(s.effect, SpanEffect::Turn(_))) {
                    Self::project_child(b, pk, s, turn.as_ref(), &mut ids, &mut rows)?;
                }
            }
        }
        upsert_usage(&*tx, agent_id, b.received_at, &rows.usage).await?;
        // ClickHouse takes the rows, then PostgreSQL commits.
        let batcher = &self.inner.batcher;
        tokio::try_join!(
            batcher.insert("spans", &rows.spans),
            batcher.insert("messages", &rows.messages),
            batcher.insert("action_logs", &rows.action_logs),
            batcher.insert("buttons", &rows.buttons),
            batcher.insert("conversations", &rows.conversations),
        )?;
        tx.commit().await.map_err(pgerr)?;
        // A projected tool call defines its action's name when missing, as a tracked action does
        // (`ensure_action`). After the commit, not in the batch's transaction: a concurrent
        // batch inserting the same name would wait there for this one to commit, and so for
        // the inserts this one waits on (the batches would run one at a time).
        let mut names: Vec<&str> =
            rows.action_logs.iter().filter_map(|l| l.get("action_name").and_then(Value::as_str)).collect();
        names.sort_unstable();
        names.dedup();
        if !names.is_empty() {
            client
                .execute(
                    "INSERT INTO event_actions (agent_id, name, display_name, created_at, updated_at)
                     SELECT $1, n, n, $3, $3 FROM unnest($2::text[]) AS n
                     ON CONFLICT (agent_id, name) DO NOTHING",
                    &[&agent_id, &names, &b.received_at],
                )
                .await
                .map_err(pgerr)?;
        }
        drop(client);
        {
            let mut cache = self.cache();
            for ((reg, _), k) in regs.iter().zip(&b.blocks) {
                cache.remember(agent_id, &k.upsert.conversation_id, reg.row.id);
                if reg.row.is_used {
                    cache.used.insert(reg.row.id);
                }
            }
        }
        Ok((batch_id, accepted, duplicates, rows.out))
    }
}

/// The key rows of a batch, column by column (for `unnest`).
#[derive(Default)]
struct KeyColumns {
    cid: Vec<String>,
    started: Vec<i64>,
    span: Vec<i64>,
    turn: Vec<Option<i64>>,
    effect: Vec<i16>,
    state: Vec<i16>,
    trace: Vec<Option<String>>,
    complete: Vec<Option<bool>>,
    reason: Vec<Option<String>>,
}

impl KeyColumns {
    fn push(&mut self, cid: &str, s: &SpanRecord, state: SpanState) {
        self.cid.push(cid.to_string());
        self.started.push(s.started_at);
        self.span.push(s.span_id as i64);
        self.turn.push(s.turn_id.map(|t| t as i64));
        self.effect.push(effect_code(&s.effect));
        self.state.push(state.code() as i16);
        match &s.effect {
            SpanEffect::Turn(t) => {
                self.trace.push(Some(s.trace_id.clone()));
                self.complete.push(Some(t.complete));
                self.reason.push(t.incomplete_reason.clone());
            }
            _ => {
                self.trace.push(None);
                self.complete.push(None);
                self.reason.push(None);
            }
        }
    }

    /// Inserts the keys not stored yet, in one statement; answers the row id of each stored
    /// now, by (conversation id, start, span id).
    async fn insert(
        &self,
        tx: &impl GenericClient,
        agent_id: i64,
    ) -> StoreResult<HashMap<(String, i64, i64), i64>> {
        let rows = tx
            .query(
                "INSERT INTO event_spans (agent_id, conversation_id, started_at, span_id, turn_id, effect,
                    state, trace_id, turn_complete, turn_reason)
                 SELECT $1, k.cid, k.started, k.span, k.turn, k.effect, k.state, k.trace, k.complete, k.reason
                 FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                    $6::smallint[], $7::smallint[], $8::text[], $9::boolean[], $10::text[]) WITH ORDINALITY
                    AS k(cid, started, span, turn, effect, state, trace, complete, reason, n)
                 ORDER BY k.n
                 ON CONFLICT (agent_id, conversation_id, started_at, span_id) DO NOTHING
                 RETURNING id, conversation_id, started_at, span_id",
                &[
                    &agent_id,
                    &self.cid,
                    &self.started,
                    &self.span,
                    &self.turn,
                    &self.effect,
                    &self.state,
                    &self.trace,
                    &self.complete,
                    &self.reason,
                ],
            )
            .await
            .map_err(pgerr)?;
        rows.iter()
            .map(|r| {
                Ok((
                    (
                        r.try_get(1).map_err(pgerr)?,
                        r.try_get(2).map_err(pgerr)?,
                        r.try_get(3).map_err(pgerr)?,
                    ),
                    r.try_get(0).map_err(pgerr)?,
                ))
            })
            .collect()
    }
}

/// Adds the batch's usage to its rows, in one statement.
async fn upsert_usage(
    tx: &impl GenericClient,
    agent_id: i64,
    now: Micros,
    usage: &[Usage],
) -> StoreResult<()> {
    if usage.is_empty() {
        return Ok(());
    }
    let col = |f: &dyn Fn(&Usage) -> i64| usage.iter().map(f).collect::<Vec<i64>>();
    let pk = col(&|u| u.pk);
    let turn_key: Vec<&str> = usage.iter().map(|u| u.turn_key.as_str()).collect();
    let turn_id: Vec<Option<i64>> = usage.iter().map(|u| u.turn_id).collect();
    let model: Vec<&str> = usage.iter().map(|u| u.model.as_str()).collect();
    let system: Vec<Option<&str>> = usage.iter().map(|u| u.system.as_deref()).collect();
    let calls = col(&|u| u.calls);
    let unreported = col(&|u| u.unreported);
    let errors = col(&|u| u.errors);
    let input = col(&|u| u.tokens.input);
    let output = col(&|u| u.tokens.output);
    let cache_read = col(&|u| u.tokens.cache_read);
    let cache_write = col(&|u| u.tokens.cache_write);
    let embedding = col(&|u| u.tokens.embedding);
    let reasoning = col(&|u| u.tokens.reasoning);
    let audio_in = col(&|u| u.tokens.audio_input);
    let audio_out = col(&|u| u.tokens.audio_output);
    let cost: Vec<Option<i64>> = usage.iter().map(|u| u.cost).collect();
    let source: Vec<&str> = usage.iter().map(|u| u.source).collect();
    let table: Vec<Option<&str>> = usage.iter().map(|u| u.table).collect();
    let incomplete: Vec<bool> = usage.iter().map(|u| u.incomplete).collect();
    let reason: Vec<Option<&str>> = usage.iter().map(|u| u.reason.as_deref()).collect();
    let started = col(&|u| u.started_at);
    let ended = col(&|u| u.ended_at);
    tx.execute(
        "INSERT INTO event_token_usage AS t (agent_id, created_at, updated_at, conversation_pk, turn_key,
            turn_id, model, system, calls, unreported_calls, error_calls, input_tokens, output_tokens,
            cache_read_tokens, cache_write_tokens, embedding_tokens, reasoning_tokens, audio_input_tokens,
            audio_output_tokens, cost_pico, cost_source, price_table, incomplete, incomplete_reason,
            started_at, ended_at)
         SELECT $1, $2, $2, r.* FROM unnest($3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[],
            $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
            $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[],
            $20::text[], $21::text[], $22::boolean[], $23::text[], $24::bigint[], $25::bigint[]) AS r
         ON CONFLICT (conversation_pk, turn_key, model) DO UPDATE SET
            calls = t.calls + EXCLUDED.calls, unreported_calls = t.unreported_calls + EXCLUDED.unreported_calls,
            error_calls = t.error_calls + EXCLUDED.error_calls,
            input_tokens = t.input_tokens + EXCLUDED.input_tokens,
            output_tokens = t.output_tokens + EXCLUDED.output_tokens,
            cache_read_tokens = t.cache_read_tokens + EXCLUDED.cache_read_tokens,
            cache_write_tokens = t.cache_write_tokens + EXCLUDED.cache_write_tokens,
            embedding_tokens = t.embedding_tokens + EXCLUDED.embedding_tokens,
            reasoning_tokens = t.reasoning_tokens + EXCLUDED.reasoning_tokens,
            audio_input_tokens = t.audio_input_tokens + EXCLUDED.audio_input_tokens,
            audio_output_tokens = t.audio_output_tokens + EXCLUDED.audio_output_tokens,
            cost_pico = CASE WHEN t.cost_pico IS NULL OR EXCLUDED.cost_pico IS NULL THEN NULL
                             ELSE LEAST(t.cost_pico::numeric + EXCLUDED.cost_pico, 9223372036854775807)::bigint END,
            system = COALESCE(t.system, EXCLUDED.system),
            started_at = LEAST(t.started_at, EXCLUDED.started_at),
            ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
            updated_at = EXCLUDED.updated_at",
        &[
            &agent_id,
            &now,
            &pk,
            &turn_key,
            &turn_id,
            &model,
            &system,
            &calls,
            &unreported,
            &errors,
            &input,
            &output,
            &cache_read,
            &cache_write,
            &embedding,
            &reasoning,
            &audio_in,
            &audio_out,
            &cost,
            &source,
            &table,
            &incomplete,
            &reason,
            &started,
            &ended,
        ],
    )
    .await
    .map_err(pgerr)?;
    Ok(())
}

impl SpanWriter for ClickHouseEventStore {
    async fn ingest_spans(&self, batch: SpanIngest, body: ArchivedBody) -> StoreResult<IngestReceipt> {
        let (batch_id, accepted, duplicates, out) =
            self.ingest(&batch, &body).await.map_err(|e| match e {
                StoreError::Unavailable { .. } => e,
                other => other.context("span batch"),
            })?;
        let created = out.conversations.iter().filter(|(_, c)| *c).count() as u64;
        let changes: Vec<Committed> =
            [(Change::Conversation, created), (Change::Message, out.messages), (Change::Other, 1)]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(change, count)| Committed { agent_id: batch.agent_id, change, count })
                .collect();
        self.report(&changes);
        Ok(IngestReceipt { batch_id, accepted, duplicates, projected: Box::pin(std::future::ready(Ok(out))) })
    }

    async fn restate_costs(
        &self,
        agent_id: Option<i64>,
        pricing: Pricing,
        now: Micros,
    ) -> StoreResult<Restated> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let rows = tx
            .query(
                "SELECT id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    embedding_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens,
                    cost_pico, cost_source, price_table
                 FROM event_token_usage WHERE ($1::bigint IS NULL OR agent_id = $1) AND cost_source <> 'reported'
                 ORDER BY id FOR UPDATE",
                &[&agent_id],
            )
            .await
            .map_err(pgerr)?;
        let mut out = Restated::default();
        let (mut ids, mut costs, mut sources, mut tables) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            out.rows += 1;
            let g = |i: usize| r.try_get::<_, i64>(i).map_err(pgerr);
            let tokens = TokenCounts {
                input: g(2)?,
                output: g(3)?,
                cache_read: g(4)?,
                cache_write: g(5)?,
                embedding: g(6)?,
                reasoning: g(7)?,
                audio_input: g(8)?,
                audio_output: g(9)?,
            };
            let model: String = r.try_get(1).map_err(pgerr)?;
            let cost: Option<i64> = r.try_get(10).map_err(pgerr)?;
            let source: String = r.try_get(11).map_err(pgerr)?;
            let table: Option<String> = r.try_get(12).map_err(pgerr)?;
            let new_cost = (pricing.cost)(&model, &tokens);
            let (new_source, new_table) = cost_stamp(new_cost, pricing.table_date);
            if (new_cost, new_source, new_table) != (cost, source.as_str(), table.as_deref()) {
                ids.push(g(0)?);
                costs.push(new_cost);
                sources.push(new_source);
                tables.push(new_table);
                out.changed += 1;
            }
        }
        if !ids.is_empty() {
            tx.execute(
                "UPDATE event_token_usage u SET cost_pico = r.cost, cost_source = r.source, price_table = r.tbl,
                    updated_at = $5
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS r(id, cost, source, tbl)
                 WHERE u.id = r.id",
                &[&ids, &costs, &sources, &tables, &now],
            )
            .await
            .map_err(pgerr)?;
        }
        tx.commit().await.map_err(pgerr)?;
        Ok(out)
    }
}

/// A span row as ClickHouse answers it.
#[derive(Deserialize)]
struct ChSpan {
    id: i64,
    conversation_pk: i64,
    conversation_id: String,
    span_id: u64,
    trace_id: String,
    parent_span_id: Option<u64>,
    turn_id: Option<u64>,
    kind: String,
    name: String,
    status: String,
    started_at: i64,
    ended_at: i64,
    duration_ms: Option<f64>,
    sdk_version: Option<String>,
    received_at: i64,
    #[serde(default)]
    payload: Option<String>,
}

const SPAN_COLUMNS: &str = "id, conversation_pk, conversation_id, span_id, trace_id, parent_span_id, turn_id,
    kind, name, status, started_at, ended_at, duration_ms, sdk_version, received_at";

type Param = Box<dyn ToSql + Sync + Send>;

fn refs(p: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// A `WHERE` over PostgreSQL under construction: clauses and their values.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn eq<T: ToSql + Sync + Send + Clone + 'static>(&mut self, col: &str, v: &Option<T>) {
        if let Some(v) = v {
            let p = self.bind(Box::new(v.clone()));
            self.clauses.push(format!("{col} = {p}"));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() { "true".into() } else { self.clauses.join(" AND ") }
    }
}

impl ClickHouseEventStore {
    /// ClickHouse span rows completed with their state and environment from PostgreSQL; rows
    /// without a key (left by a batch whose commit failed) are skipped.
    async fn complete_spans(&self, rows: Vec<ChSpan>) -> StoreResult<Vec<SpanRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut pks: Vec<i64> = rows.iter().map(|r| r.conversation_pk).collect();
        pks.sort_unstable();
        pks.dedup();
        let client = self.client().await?;
        let states: HashMap<i64, i16> = client
            .query("SELECT id, state FROM event_spans WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(pgerr)?
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?)))
            .collect::<StoreResult<_>>()?;
        let envs: HashMap<i64, Option<String>> = client
            .query("SELECT id, environment FROM event_conversations WHERE id = ANY($1)", &[&pks])
            .await
            .map_err(pgerr)?
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?)))
            .collect::<StoreResult<_>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let state = *states.get(&r.id)?;
                Some(SpanRow {
                    id: r.id,
                    conversation_pk: r.conversation_pk,
                    conversation_id: r.conversation_id,
                    environment: envs.get(&r.conversation_pk).cloned().flatten(),
                    span_id: r.span_id,
                    trace_id: r.trace_id,
                    parent_span_id: r.parent_span_id,
                    turn_id: r.turn_id,
                    kind: r.kind,
                    name: r.name,
                    status: r.status,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    duration_ms: r.duration_ms,
                    state: SpanState::from_code(i64::from(state)),
                    sdk_version: r.sdk_version,
                    payload: r.payload,
                    received_at: r.received_at,
                })
            })
            .collect())
    }

    /// The ClickHouse condition of a span filter (the environment through the registry).
    async fn span_where(&self, agent_id: i64, f: &SpanFilter) -> StoreResult<String> {
        let mut c = vec![format!("agent_id = {agent_id}")];
        if let Some(pk) = f.conversation {
            c.push(format!("conversation_pk = {pk}"));
        }
        if f.conversation.is_some() || f.conversation_id.is_some() {
            // The conversation's time range: a range of the primary key (see bounds.rs).
            c.push(
                self.conversation_span_window(agent_id, f.conversation, f.conversation_id.as_deref()).await?,
            );
        }
        for (col, v) in [
            ("conversation_id", &f.conversation_id),
            ("kind", &f.kind),
            ("name", &f.name),
            ("status", &f.status),
            ("trace_id", &f.trace_id),
        ] {
            if let Some(v) = v {
                c.push(format!("{col} = {}", quote(v)));
            }
        }
        if let Some(p) = f.parent_span_id {
            c.push(format!("parent_span_id = {p}"));
        }
        if let Some(s) = f.span_id {
            c.push(format!("span_id = {s}"));
        }
        if let Some(t) = f.started_at_after {
            c.push(format!("started_at >= {t}"));
        }
        if let Some(t) = f.started_at_before {
            c.push(format!("started_at <= {t}"));
        }
        if let Some(env) = &f.environment {
            let pks: Vec<i64> = self
                .client()
                .await?
                .query(
                    "SELECT id FROM event_conversations WHERE agent_id = $1 AND environment = $2",
                    &[&agent_id, env],
                )
                .await
                .map_err(pgerr)?
                .iter()
                .map(|r| r.try_get(0).map_err(pgerr))
                .collect::<StoreResult<_>>()?;
            c.push(if pks.is_empty() {
                "0".into()
            } else {
                format!("conversation_pk IN ({})", int_list(&pks))
            });
        }
        Ok(c.join(" AND "))
    }
}

/// The usage filter over `event_token_usage u JOIN event_conversations c`.
fn usage_where(agent_id: i64, f: &UsageFilter) -> Where {
    let mut w = Where::default();
    let a = w.bind(Box::new(agent_id));
    w.clauses.push(format!("u.agent_id = {a}"));
    w.eq("u.conversation_pk", &f.conversation);
    w.eq("c.conversation_id", &f.conversation_id);
    w.eq("u.cost_source", &f.cost_source);
    w.eq("c.environment", &f.environment);
    w.eq("u.incomplete", &f.incomplete);
    w.eq("u.model", &f.model);
    w.eq("u.turn_id", &f.turn_id.map(|t| t as i64));
    if let Some(t) = f.started_at_after {
        let p = w.bind(Box::new(t));
        w.clauses.push(format!("u.started_at >= {p}"));
    }
    if let Some(t) = f.started_at_before {
        let p = w.bind(Box::new(t));
        w.clauses.push(format!("u.started_at <= {p}"));
    }
    w
}

const USAGE_FROM: &str = "FROM event_token_usage u JOIN event_conversations c ON c.id = u.conversation_pk";

const USAGE_COLUMNS: &str = "u.id, u.conversation_pk, c.conversation_id, c.environment, u.turn_id, u.model,
    u.system, u.calls, u.unreported_calls, u.error_calls, u.input_tokens, u.output_tokens,
    u.cache_read_tokens, u.cache_write_tokens, u.embedding_tokens, u.reasoning_tokens,
    u.audio_input_tokens, u.audio_output_tokens, u.cost_pico, u.cost_source, u.price_table,
    u.incomplete, u.incomplete_reason, u.started_at, u.ended_at";

fn tokens_at(r: &Row, first: usize) -> StoreResult<TokenCounts> {
    let g = |i: usize| r.try_get::<_, i64>(first + i).map_err(pgerr);
    Ok(TokenCounts {
        input: g(0)?,
        output: g(1)?,
        cache_read: g(2)?,
        cache_write: g(3)?,
        embedding: g(4)?,
        reasoning: g(5)?,
        audio_input: g(6)?,
        audio_output: g(7)?,
    })
}

fn usage_row(r: &Row) -> StoreResult<TokenUsageRow> {
    let g = |e| pgerr(e);
    Ok(TokenUsageRow {
        id: r.try_get(0).map_err(g)?,
        conversation_pk: r.try_get(1).map_err(g)?,
        conversation_id: r.try_get(2).map_err(g)?,
        environment: r.try_get(3).map_err(g)?,
        turn_id: r.try_get::<_, Option<i64>>(4).map_err(g)?.map(|v| v as u64),
        model: r.try_get(5).map_err(g)?,
        system: r.try_get(6).map_err(g)?,
        calls: r.try_get(7).map_err(g)?,
        unreported_calls: r.try_get(8).map_err(g)?,
        error_calls: r.try_get(9).map_err(g)?,
        tokens: tokens_at(r, 10)?,
        cost_pico: r.try_get(18).map_err(g)?,
        cost_source: r.try_get(19).map_err(g)?,
        price_table: r.try_get(20).map_err(g)?,
        incomplete: r.try_get(21).map_err(g)?,
        incomplete_reason: r.try_get(22).map_err(g)?,
        started_at: r.try_get(23).map_err(g)?,
        ended_at: r.try_get(24).map_err(g)?,
    })
}

/// The summed columns of the LLM metrics, in the order [`llm_totals`] reads them.
const LLM_SUMS: &str = "coalesce(sum(u.calls), 0)::bigint, coalesce(sum(u.error_calls), 0)::bigint,
    coalesce(sum(u.unreported_calls), 0)::bigint,
    coalesce(sum(CASE WHEN u.cost_pico IS NULL THEN u.calls ELSE 0 END), 0)::bigint,
    coalesce(sum(u.input_tokens), 0)::bigint, coalesce(sum(u.output_tokens), 0)::bigint,
    coalesce(sum(u.cache_read_tokens), 0)::bigint, coalesce(sum(u.cache_write_tokens), 0)::bigint,
    coalesce(sum(u.embedding_tokens), 0)::bigint, coalesce(sum(u.reasoning_tokens), 0)::bigint,
    coalesce(sum(u.audio_input_tokens), 0)::bigint, coalesce(sum(u.audio_output_tokens), 0)::bigint,
    LEAST(coalesce(sum(u.cost_pico), 0), 9223372036854775807)::bigint";

/// Totals read from column `first` on, and their exact cost in pico-USD.
fn llm_totals(r: &Row, first: usize) -> StoreResult<(LlmTotals, i64)> {
    let g = |i: usize| r.try_get::<_, i64>(first + i).map_err(pgerr);
    let t = LlmTotals {
        calls: g(0)?,
        errors: g(1)?,
        unreported_calls: g(2)?,
        unpriced_calls: g(3)?,
        input_tokens: g(4)?,
        output_tokens: g(5)?,
        cache_read_tokens: g(6)?,
        cache_write_tokens: g(7)?,
        embedding_tokens: g(8)?,
        reasoning_tokens: g(9)?,
        audio_input_tokens: g(10)?,
        audio_output_tokens: g(11)?,
        total_tokens: 0,
        cost_usd: String::new(),
    };
    let pico = g(12)?;
    Ok((prices::finish_totals(t, pico), pico))
}

/// The metrics filters over `event_conversations c` (as the embedded store's: not deleted, each
/// dimension equal or unknown, a metadata key's value compared as text).
fn metrics_filter(w: &mut Where, q: &MetricsQuery) {
    let f = &q.filters;
    w.clauses.push("NOT c.is_deleted".into());
    for (col, d) in [
        ("environment", &f.environment),
        ("source", &f.source),
        ("device", &f.device),
        ("language", &f.language),
        ("country", &f.country),
        ("customer_id", &f.customer_id),
    ] {
        match d {
            Some(DimFilter::Is(v)) => {
                let p = w.bind(Box::new(v.clone()));
                w.clauses.push(format!("c.{col} = {p}"));
            }
            Some(DimFilter::Unknown) => w.clauses.push(format!("c.{col} IS NULL")),
            None => {}
        }
    }
    if let Some((k, v)) = &f.metadata {
        let kp = w.bind(Box::new(k.clone()));
        let vp = w.bind(Box::new(v.clone()));
        w.clauses.push(format!("{} = {vp}", metadata_text(&format!("(c.metadata::jsonb -> {kp})"))));
    }
}

impl SpanReader for ClickHouseEventStore {
    async fn list_spans(
        &self,
        agent_id: i64,
        filter: SpanFilter,
        page: PageRequest,
        payload: bool,
    ) -> StoreResult<(i64, Vec<SpanRow>)> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let cond = self.span_where(agent_id, &filter).await?;
        let order = if filter.descending { "DESC" } else { "ASC" };
        let offset = (page.page - 1).saturating_mul(page.page_size).max(0);
        let extra = if payload { ", payload" } else { "" };
        let ch = &self.inner.ch;
        let q_count = format!("SELECT toInt64(count()) AS n FROM spans WHERE {cond}");
        let q_page = format!(
            "SELECT {SPAN_COLUMNS}{extra} FROM spans WHERE {cond}
             ORDER BY started_at {order}, id {order} LIMIT {offset}, {}",
            page.page_size.max(0)
        );
        let (count, rows) = tokio::try_join!(ch.rows::<Count>(&q_count), ch.rows::<ChSpan>(&q_page))?;
        let n = count.first().map_or(0, |c| c.n);
        Ok((n, self.complete_spans(rows).await?))
    }

    async fn span(&self, agent_id: i64, id: i64, payload: bool) -> StoreResult<Option<SpanRow>> {
        let extra = if payload { ", payload" } else { "" };
        let rows: Vec<ChSpan> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT {SPAN_COLUMNS}{extra} FROM spans WHERE agent_id = {agent_id} AND id = {id} LIMIT 1"
            ))
            .await?;
        Ok(self.complete_spans(rows).await?.pop())
    }

    async fn trace(&self, agent_id: i64, trace_id: String, limit: i64) -> StoreResult<(Vec<SpanRow>, bool)> {
        let limit = limit.max(0);
        let rows: Vec<ChSpan> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT {SPAN_COLUMNS} FROM spans WHERE agent_id = {agent_id} AND trace_id = {}
                 ORDER BY started_at, id LIMIT {}",
                quote(&trace_id),
                limit + 1
            ))
            .await?;
        let mut rows = self.complete_spans(rows).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok((rows, more))
    }

    async fn list_token_usage(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<TokenUsageRow>)> {
        let mut w = usage_where(agent_id, &filter);
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&format!("SELECT count(*) {USAGE_FROM} WHERE {}", w.sql()), &refs(&w.params))
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;
        let sql = w.sql();
        let limit = w.bind(Box::new(page.page_size.max(0)));
        let offset = w.bind(Box::new((page.page - 1).saturating_mul(page.page_size).max(0)));
        let rows = client
            .query(
                &format!(
                    "SELECT {USAGE_COLUMNS} {USAGE_FROM} WHERE {sql}
                     ORDER BY u.started_at DESC, u.id DESC LIMIT {limit} OFFSET {offset}"
                ),
                &refs(&w.params),
            )
            .await
            .map_err(pgerr)?;
        Ok((count, rows.iter().map(usage_row).collect::<StoreResult<_>>()?))
    }

    async fn llm_metrics(&self, agent: AgentRef, q: MetricsQuery) -> StoreResult<LlmMetricsResponse> {
        let (start, end) = q.instants();
        let mut w = Where::default();
        let a = w.bind(Box::new(agent.id));
        let s = w.bind(Box::new(start));
        let e = w.bind(Box::new(end));
        w.clauses.push(format!("u.agent_id = {a} AND u.started_at >= {s} AND u.started_at < {e}"));
        metrics_filter(&mut w, &q);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT u.model, {LLM_SUMS} {USAGE_FROM} WHERE {} GROUP BY u.model", w.sql()),
                &refs(&w.params),
            )
            .await
            .map_err(pgerr)?;
        let mut models: Vec<(LlmModelRow, i64)> = rows
            .iter()
            .map(|r| {
                let (t, pico) = llm_totals(r, 1)?;
                Ok((LlmModelRow { model: r.try_get(0).map_err(pgerr)?, totals: t }, pico))
            })
            .collect::<StoreResult<_>>()?;
        models.sort_by(|(a, pa), (b, pb)| {
            pb.cmp(pa).then(b.totals.calls.cmp(&a.totals.calls)).then(a.model.cmp(&b.model))
        });
        let mut all = LlmTotals::default();
        let mut all_pico = 0i64;
        for (m, pico) in &models {
            prices::add_totals(&mut all, &m.totals);
            all_pico = all_pico.saturating_add(*pico);
        }
        // Local days: their bounds come from the time zone (DST-correct); SQL sums each day.
        let days: Vec<chrono::NaiveDate> =
            (0..q.days()).map(|i| q.from + chrono::Duration::days(i)).collect();
        let mut daily: Vec<LlmDayRow> = days
            .iter()
            .map(|d| LlmDayRow {
                date: d.format("%Y-%m-%d").to_string(),
                totals: prices::finish_totals(LlmTotals::default(), 0),
            })
            .collect();
        let idx: Vec<i64> = (0..days.len() as i64).collect();
        let starts: Vec<i64> = days.iter().map(|d| day_start(q.tz, *d)).collect();
        let ends: Vec<i64> = days.iter().map(|d| day_start(q.tz, *d + chrono::Duration::days(1))).collect();
        let sql = w.sql();
        // One fact per conversation; cost per conversation and the top ones are the core's.
        let facts = client
            .query(
                &format!(
                    "SELECT u.conversation_pk, count(u.cost_pico) > 0, LEAST(coalesce(sum(u.cost_pico), 0), 9223372036854775807)::bigint,
                        coalesce(sum(u.calls), 0)::bigint,
                        coalesce(sum(u.input_tokens + u.output_tokens + u.cache_read_tokens
                            + u.cache_write_tokens + u.embedding_tokens), 0)::bigint
                     {USAGE_FROM} WHERE {sql} GROUP BY u.conversation_pk"
                ),
                &refs(&w.params),
            )
            .await
            .map_err(pgerr)?
            .iter()
            .map(|r| {
                Ok(ConversationUsage {
                    conversation_pk: r.try_get(0).map_err(pgerr)?,
                    priced: r.try_get(1).map_err(pgerr)?,
                    cost_pico: r.try_get(2).map_err(pgerr)?,
                    calls: r.try_get(3).map_err(pgerr)?,
                    total_tokens: r.try_get(4).map_err(pgerr)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let (per_conversation, top) = llm::conversation_costs(facts, LLM_TOP_CONVERSATIONS);
        let pks: Vec<i64> = top.iter().map(|t| t.conversation_pk).collect();
        let ids: HashMap<i64, String> = client
            .query("SELECT id, conversation_id FROM event_conversations WHERE id = ANY($1)", &[&pks])
            .await
            .map_err(pgerr)?
            .iter()
            .map(|r| Ok((r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?)))
            .collect::<StoreResult<_>>()?;
        let (pi, ps, pe) = (w.bind(Box::new(idx)), w.bind(Box::new(starts)), w.bind(Box::new(ends)));
        let rows = client
            .query(
                &format!(
                    "SELECT d.i, {LLM_SUMS} FROM unnest({pi}::bigint[], {ps}::bigint[], {pe}::bigint[]) AS d(i, s, e)
                     JOIN event_token_usage u ON u.started_at >= d.s AND u.started_at < d.e
                     JOIN event_conversations c ON c.id = u.conversation_pk
                     WHERE {sql} GROUP BY d.i"
                ),
                &refs(&w.params),
            )
            .await
            .map_err(pgerr)?;
        for r in &rows {
            let i: i64 = r.try_get(0).map_err(pgerr)?;
            if let Some(d) = usize::try_from(i).ok().and_then(|i| daily.get_mut(i)) {
                d.totals = llm_totals(r, 1)?.0;
            }
        }
        Ok(LlmMetricsResponse {
            agent,
            range: q.range_ref(),
            filters: q.filters.to_json(),
            price_table: prices::PRICE_TABLE_DATE.to_string(),
            totals: prices::finish_totals(all, all_pico),
            by_model: models.into_iter().map(|(m, _)| m).collect(),
            daily,
            per_conversation,
            top_conversations: llm::top_rows(&top, |pk| ids.get(&pk).cloned()),
        })
    }

    async fn usage_summary(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        group_by: UsageGroupBy,
    ) -> StoreResult<Vec<UsageGroupRow>> {
        let w = usage_where(agent_id, &filter);
        let key = match group_by {
            UsageGroupBy::Model => "u.model",
            UsageGroupBy::Conversation => "c.conversation_id",
            UsageGroupBy::Day => {
                "to_char(to_timestamp(div(u.started_at, 1000000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            }
        };
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {key} AS g, sum(u.calls)::bigint, count(*), sum(u.error_calls)::bigint,
                        sum(u.input_tokens)::bigint, sum(u.output_tokens)::bigint,
                        sum(u.cache_read_tokens)::bigint, sum(u.cache_write_tokens)::bigint,
                        sum(u.embedding_tokens)::bigint, sum(u.reasoning_tokens)::bigint,
                        sum(u.audio_input_tokens)::bigint, sum(u.audio_output_tokens)::bigint,
                        LEAST(coalesce(sum(u.cost_pico), 0), 9223372036854775807)::bigint, count(*) FILTER (WHERE u.cost_pico IS NULL)
                     {USAGE_FROM} WHERE {} GROUP BY 1 ORDER BY 13 DESC, ({key}) COLLATE \"C\"",
                    w.sql()
                ),
                &refs(&w.params),
            )
            .await
            .map_err(pgerr)?;
        rows.iter()
            .map(|r| {
                let g = |e| pgerr(e);
                Ok(UsageGroupRow {
                    group: r.try_get(0).map_err(g)?,
                    calls: r.try_get(1).map_err(g)?,
                    rows: r.try_get(2).map_err(g)?,
                    error_calls: r.try_get(3).map_err(g)?,
                    tokens: tokens_at(r, 4)?,
                    cost_pico: r.try_get(12).map_err(g)?,
                    unpriced_rows: r.try_get(13).map_err(g)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn llm(
        span: u64,
        turn: Option<u64>,
        model: &str,
        input: i64,
        cost: Option<i64>,
    ) -> (SpanRecord, LlmCall) {
        let c = LlmCall {
            model: model.into(),
            system: None,
            tokens: TokenCounts { input, ..Default::default() },
            usage_reported: true,
            error: false,
            cost_pico: cost,
        };
        let s = SpanRecord {
            span_id: span,
            trace_id: "t".into(),
            parent_span_id: turn,
            turn_id: turn,
            kind: "llm".into(),
            name: "llm".into(),
            status: "ok".into(),
            started_at: span as i64,
            ended_at: span as i64 + 1,
            duration_ms: None,
            text: 0..0,
            effect: SpanEffect::Llm(c.clone()),
        };
        (s, c)
    }

    /// A batch's LLM calls merge per (conversation, turn, model) before the one statement that
    /// adds them (PostgreSQL refuses to update a row twice in one `ON CONFLICT` statement): the
    /// counts add up, one unpriced call makes the row unpriced, a call outside any turn is a
    /// row of its own.
    #[test]
    fn usage_merges_per_turn_and_model() {
        let mut usage = Vec::new();
        for (s, c) in [
            llm(1, Some(9), "m", 10, Some(5)),
            llm(2, Some(9), "m", 20, Some(7)),
            llm(3, Some(9), "other", 1, Some(1)),
            llm(4, None, "m", 1, Some(1)),
            llm(5, Some(9), "m", 1, None),
        ] {
            add_usage(&mut usage, 7, &s, &c, None);
        }
        // (turn key, model, calls, input, cost, first start, last end)
        type Merged<'a> = (&'a str, &'a str, i64, i64, Option<i64>, i64, i64);
        let got: Vec<Merged<'_>> = usage
            .iter()
            .map(|u| {
                (
                    u.turn_key.as_str(),
                    u.model.as_str(),
                    u.calls,
                    u.tokens.input,
                    u.cost,
                    u.started_at,
                    u.ended_at,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("t0000000000000009", "m", 3, 31, None, 1, 6),
                ("t0000000000000009", "other", 1, 1, Some(1), 3, 4),
                ("s0000000000000004", "m", 1, 1, Some(1), 4, 5),
            ]
        );
    }
}
