//! Span ingest (0.1.x): the projection of an archived batch, and token usage. Every change to
//! conversations, messages, action logs and buttons goes through the functions of the other
//! modules (upsert_conversation_lowering, insert_message, insert_action, insert_button).

use agentsight_core::time::Micros;
use agentsight_core::tracking::{ConversationRef, NewAction, NewButton, NewMessage};
use agentsight_store::{StoreError, StoreResult};
use rusqlite::{Connection, params};

use super::conversations::upsert_conversation_lowering;
use super::exec;
use super::transcript::{insert_action, insert_button, insert_message};
use crate::sqlerr;
use crate::writer::MainContext;

use agentsight_core::prices::{Pricing, TokenCounts};
use agentsight_core::spans::{LlmCall, SpanEffect, SpanIngest, SpanRecord, TurnEffect};
use agentsight_store::IngestOutcome;
use agentsight_store::Restated;

use crate::archiving::{Plan, TurnInfo};

/// Projects an archived batch (see `SpanWriter::ingest_spans`) as its archiving planned
/// (`crate::archiving`): each block's conversation upsert, the messages of its new complete
/// turns, then the children its turns released, then its new children. Any error is a failure
/// of the group (rolled back), never a refusal after a partial write.
pub(crate) fn project_batch(cx: &mut MainContext, b: &SpanIngest, plan: &Plan) -> StoreResult<IngestOutcome> {
    project_batch_inner(cx, b, plan).map_err(|e| match e {
        StoreError::Unavailable { .. } => e,
        other => other.context("span projection"),
    })
}

fn project_batch_inner(cx: &mut MainContext, b: &SpanIngest, plan: &Plan) -> StoreResult<IngestOutcome> {
    let mut out = IngestOutcome::default();
    for (block, bp) in b.blocks.iter().zip(&plan.blocks) {
        // An existing conversation's `started_at` moves back to the block's earliest event.
        let (pk, created) = upsert_conversation_lowering(cx, &block.upsert, Some(block.upsert.event_time))?;
        out.conversations.push((pk, created));
        // Turns before their children, so a turn's messages precede its tools at equal times.
        for (i, _) in &bp.fresh {
            if let Some(SpanEffect::Turn(t)) = block.spans.get(*i).map(|s| &s.effect)
                && t.complete
            {
                project_turn_messages(cx, b, pk, t)?;
                out.messages += t.messages.len() as u64;
            }
        }
        for (child, turn) in &bp.released {
            project_child(cx, b, pk, child, Some(turn))?;
        }
        for (i, turn) in &bp.fresh {
            if let Some(s) = block.spans.get(*i).filter(|s| !matches!(s.effect, SpanEffect::Turn(_))) {
                project_child(cx, b, pk, s, turn.as_ref())?;
            }
        }
    }
    Ok(out)
}

/// A complete turn's messages.
fn project_turn_messages(cx: &mut MainContext, b: &SpanIngest, pk: i64, t: &TurnEffect) -> StoreResult<()> {
    for m in &t.messages {
        insert_message(
            cx,
            NewMessage {
                agent_id: b.agent_id,
                conversation: ConversationRef::Pk(pk),
                sender: m.sender.clone(),
                content: m.content.clone(),
                metadata: m.metadata.clone(),
                event_time: m.ts,
                received_at: b.received_at,
            },
            false,
        )?;
    }
    Ok(())
}

/// A tool, LLM call or button (the caller decided it is to be projected).
fn project_child(
    cx: &mut MainContext,
    b: &SpanIngest,
    pk: i64,
    s: &SpanRecord,
    turn: Option<&TurnInfo>,
) -> StoreResult<()> {
    match &s.effect {
        SpanEffect::Tool(t) => {
            insert_action(
                cx,
                &NewAction {
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
                },
                false,
            )?;
        }
        SpanEffect::Button(x) => {
            insert_button(
                cx,
                &NewButton {
                    agent_id: b.agent_id,
                    conversation: ConversationRef::Pk(pk),
                    button_event: x.event.clone(),
                    label: x.label.clone(),
                    value: x.value.clone(),
                    metadata: x.metadata.clone(),
                    event_time: s.started_at,
                    received_at: b.received_at,
                },
                false,
            )?;
        }
        SpanEffect::Llm(c) => add_usage(&cx.conn, b, pk, s, c, turn)?,
        SpanEffect::Turn(_) | SpanEffect::None => {}
    }
    Ok(())
}

/// The `cost_source` and `price_table` stored with a server-computed cost (`None`: unpriced),
/// at ingest and when restating.
fn cost_stamp(cost: Option<i64>, table_date: &'static str) -> (&'static str, Option<&'static str>) {
    match cost {
        Some(_) => ("backend", Some(table_date)),
        None => ("unpriced", None),
    }
}

/// Adds an LLM call to its (turn, model) row.
fn add_usage(
    conn: &Connection,
    b: &SpanIngest,
    pk: i64,
    s: &SpanRecord,
    c: &LlmCall,
    turn: Option<&TurnInfo>,
) -> StoreResult<()> {
    let (turn_key, turn_id) = match s.turn_id {
        Some(t) => (format!("t{t:016x}"), Some(t as i64)),
        None => (format!("s{:016x}", s.span_id), None),
    };
    let t = &c.tokens;
    let (source, table) = cost_stamp(c.cost_pico, agentsight_core::prices::CURRENT.table_date);
    let incomplete = turn.is_some_and(|t| !t.complete);
    exec(
        conn,
        "INSERT INTO token_usage (agent_id, conversation_pk, turn_key, turn_id, model, system, calls,
            unreported_calls, error_calls, input_tokens, output_tokens, cache_read_tokens,
            cache_write_tokens, embedding_tokens, reasoning_tokens, audio_input_tokens,
            audio_output_tokens, cost_pico, cost_source, price_table, incomplete, incomplete_reason,
            started_at, ended_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?24)
         ON CONFLICT (conversation_pk, turn_key, model) DO UPDATE SET
            calls = calls + 1, unreported_calls = unreported_calls + excluded.unreported_calls,
            error_calls = error_calls + excluded.error_calls,
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            embedding_tokens = embedding_tokens + excluded.embedding_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
            audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
            cost_pico = CASE WHEN cost_pico IS NULL OR excluded.cost_pico IS NULL THEN NULL
                             ELSE min(cost_pico + excluded.cost_pico, 9223372036854775807) END,
            system = COALESCE(system, excluded.system),
            started_at = min(started_at, excluded.started_at), ended_at = max(ended_at, excluded.ended_at),
            updated_at = excluded.updated_at",
        params![
            b.agent_id,
            pk,
            turn_key,
            turn_id,
            c.model,
            c.system,
            i64::from(!c.usage_reported),
            i64::from(c.error),
            t.input,
            t.output,
            t.cache_read,
            t.cache_write,
            t.embedding,
            t.reasoning,
            t.audio_input,
            t.audio_output,
            c.cost_pico,
            source,
            table,
            incomplete,
            turn.and_then(|t| t.reason.clone()),
            s.started_at,
            s.ended_at,
            b.received_at
        ],
    )
    .map_err(sqlerr)?;
    Ok(())
}

/// TOKEN USAGE WRITE (no metrics delta: the metrics index holds no costs). Reprices the usage
/// rows of `agent_id` (or of every agent) from their stored counts; see
/// `SpanWriter::restate_costs`. A row's counts are sums over calls of one model, and a cost is
/// linear in the counts, so the restated cost is exactly that of pricing each call.
pub(crate) fn restate_costs(
    conn: &Connection,
    agent_id: Option<i64>,
    pricing: Pricing,
    now: Micros,
) -> StoreResult<Restated> {
    type Stored = (i64, String, TokenCounts, Option<i64>, String, Option<String>);
    let rows: Vec<Stored> = {
        let mut stmt = conn
            .prepare(
                "SELECT id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    embedding_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens,
                    cost_pico, cost_source, price_table
                 FROM token_usage WHERE (?1 IS NULL OR agent_id = ?1) AND cost_source <> 'reported'",
            )
            .map_err(sqlerr)?;
        stmt.query_map([agent_id], |r| {
            let tokens = TokenCounts {
                input: r.get(2)?,
                output: r.get(3)?,
                cache_read: r.get(4)?,
                cache_write: r.get(5)?,
                embedding: r.get(6)?,
                reasoning: r.get(7)?,
                audio_input: r.get(8)?,
                audio_output: r.get(9)?,
            };
            Ok((r.get(0)?, r.get(1)?, tokens, r.get(10)?, r.get(11)?, r.get(12)?))
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sqlerr)?
    };
    let mut out = Restated::default();
    let mut update = conn
        .prepare("UPDATE token_usage SET cost_pico = ?2, cost_source = ?3, price_table = ?4, updated_at = ?5 WHERE id = ?1")
        .map_err(sqlerr)?;
    for (id, model, tokens, cost, source, table) in rows {
        out.rows += 1;
        let new_cost = (pricing.cost)(&model, &tokens);
        let (new_source, new_table) = cost_stamp(new_cost, pricing.table_date);
        if (new_cost, new_source, new_table) != (cost, source.as_str(), table.as_deref()) {
            update.execute(params![id, new_cost, new_source, new_table, now]).map_err(sqlerr)?;
            out.changed += 1;
        }
    }
    Ok(out)
}
