//! The archive writer's share of a span batch, before its 201: the body as received, a row per
//! span not stored before (its state decided: projected, held until its turn arrives, or
//! archived only), the held children the batch's turns release, and the [`Plan`] the main
//! writer's projection follows. Runs on the archive's writer thread, on its connection (the
//! archive database is its `main`).
//!
//! What a plan says is also in the archive (the batch's span rows, `batches.first_span` ..
//! `last_span`, and `releases`), so a batch archived but not projected (the process stopped in
//! between) is projected at the next start exactly as it would have been ([`plan_of`]).

use std::collections::HashMap;

use agentsight_core::archive::ArchivedBody;
use agentsight_core::spans::{SpanEffect, SpanIngest, SpanRecord, TurnEffect};
use agentsight_store::{SpanState, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::spans::{TextRef, Texts, trace_key};
use crate::sqlerr;
use crate::traces::Segments;
use crate::writer::ArchiveContext;

/// A turn's completeness, as its children's projection needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TurnInfo {
    pub(crate) complete: bool,
    pub(crate) reason: Option<String>,
}

impl TurnInfo {
    pub(crate) fn of(t: &TurnEffect) -> TurnInfo {
        TurnInfo { complete: t.complete, reason: t.incomplete_reason.clone() }
    }
}

/// What the projection of a batch does, block by block.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) blocks: Vec<BlockPlan>,
}

/// What the projection of one block does besides its conversation upsert.
#[derive(Debug, Default)]
pub(crate) struct BlockPlan {
    /// The block's spans stored now and to be projected (by index), each child with its turn.
    pub(crate) fresh: Vec<(usize, Option<TurnInfo>)>,
    /// Children held by earlier batches that the block's turns released, with their turn.
    pub(crate) released: Vec<(SpanRecord, TurnInfo)>,
}

/// A batch archived.
#[derive(Debug)]
pub(crate) struct Archived {
    pub(crate) id: i64,
    pub(crate) plan: Plan,
    /// Spans stored now.
    pub(crate) accepted: u64,
    /// Spans stored before (a resend).
    pub(crate) duplicates: u64,
}

/// The archive writer's cache (its [`ArchiveContext`]): held spans per (agent, conversation),
/// or `None` until read from the archive (at start, after a rollback). Exact while `Some`: only
/// this writer holds and releases spans. It spares the writer a held-children query per turn:
/// most conversations never have one held.
#[derive(Default)]
pub(crate) struct Held(Option<HashMap<(i64, String), u64>>);

impl crate::writer::Caches for Held {
    /// Forgets the counts (after a rollback).
    fn clear(&mut self) {
        self.0 = None;
    }
}

fn has_held(conn: &Connection, held: &mut Held, agent_id: i64, cid: &str) -> StoreResult<bool> {
    let key = (agent_id, cid.to_string());
    if let Some(m) = &held.0 {
        return Ok(m.contains_key(&key));
    }
    let counts: HashMap<(i64, String), u64> = conn
        .prepare("SELECT agent_id, conversation_id, count(*) FROM spans WHERE state = 0 GROUP BY 1, 2")
        .and_then(|mut s| {
            s.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64)))?.collect()
        })
        .map_err(sqlerr)?;
    let found = counts.contains_key(&key);
    held.0 = Some(counts);
    Ok(found)
}

/// Counts `n` spans held (`n > 0`) or released (`n < 0`) once the counts are known.
fn count_held(held: &mut Held, agent_id: i64, cid: &str, n: i64) {
    if let Some(m) = held.0.as_mut() {
        let key = (agent_id, cid.to_string());
        let c = m.entry(key.clone()).or_default();
        *c = c.saturating_add_signed(n);
        if *c == 0 {
            m.remove(&key);
        }
    }
}

/// The stored turn `turn_id` of a child that arrived without it in its batch: its completeness
/// if the turn is archived, `None` if it has not arrived. A turn's children are in its trace.
/// `conn` reads the archive unqualified (its own connection, or a reader's with it attached).
pub(crate) fn stored_turn(
    conn: &Connection,
    segments: &Segments,
    agent_id: i64,
    cid: &str,
    child: &SpanRecord,
    turn_id: u64,
) -> StoreResult<Option<TurnInfo>> {
    let key = trace_key(&child.trace_id);
    let (where_ids, ids) =
        crate::spans::trace_candidates(conn, segments, agent_id, &child.trace_id)?.sql("s");
    let mut values: Vec<rusqlite::types::Value> = vec![
        agent_id.into(),
        key.into(),
        (turn_id as i64).into(),
        child.trace_id.clone().into(),
        cid.to_string().into(),
    ];
    values.extend(ids.into_iter().map(rusqlite::types::Value::from));
    let at: Option<TextRef> = conn
        .prepare(&format!(
            "SELECT batch_id, text_offset, text_len FROM spans s NOT INDEXED
             WHERE s.agent_id = ?1 AND s.trace_key = ?2 AND s.span_id = ?3 AND s.trace_id = ?4
                 AND s.conversation_id = ?5 AND s.kind = 'turn' AND {where_ids}"
        ))
        .and_then(|mut q| {
            q.query_row(rusqlite::params_from_iter(values.iter()), |r| TextRef::at(r, 0)).optional()
        })
        .map_err(sqlerr)?;
    let Some(at) = at else { return Ok(None) };
    let text = Texts::default().text(conn, at)?;
    match agentsight_core::spans::validate_span(&text, "span").map(|r| r.effect) {
        Ok(SpanEffect::Turn(t)) => Ok(Some(TurnInfo::of(&t))),
        _ => Ok(Some(TurnInfo { complete: false, reason: Some("unreadable".into()) })),
    }
}

/// The turns of a block, by id.
fn turns_of(spans: &[SpanRecord]) -> HashMap<u64, TurnInfo> {
    spans
        .iter()
        .filter_map(|s| match (&s.effect, s.turn_id) {
            (SpanEffect::Turn(t), Some(id)) => Some((id, TurnInfo::of(t))),
            _ => None,
        })
        .collect()
}

/// A child's turn: in its block, or stored before.
fn turn_of(
    conn: &Connection,
    segments: &Segments,
    agent_id: i64,
    cid: &str,
    turns: &HashMap<u64, TurnInfo>,
    s: &SpanRecord,
) -> StoreResult<Option<TurnInfo>> {
    match (&s.effect, s.turn_id) {
        (SpanEffect::Turn(_), _) | (SpanEffect::None, _) | (_, None) => Ok(None),
        (_, Some(t)) => match turns.get(&t) {
            Some(info) => Ok(Some(info.clone())),
            None => stored_turn(conn, segments, agent_id, cid, s, t),
        },
    }
}

/// Archives a batch (see the module); any error is a failure of the archive's group.
pub(crate) fn archive_batch(
    cx: &mut ArchiveContext,
    segments: &Segments,
    b: &SpanIngest,
    body: &ArchivedBody,
) -> StoreResult<Archived> {
    let id = crate::archive::insert(&cx.conn, b.agent_id, b.received_at, body)?;
    let mut out = Archived { id, plan: Plan::default(), accepted: 0, duplicates: 0 };
    let mut rows: Option<(i64, i64)> = None;
    for block in &b.blocks {
        let cid = block.upsert.conversation_id.as_str();
        let turns = turns_of(&block.spans);
        let mut plan = BlockPlan::default();
        let mut fresh_turns: Vec<(u64, &TurnEffect)> = Vec::new();
        for (i, s) in block.spans.iter().enumerate() {
            let turn = turn_of(&cx.conn, segments, b.agent_id, cid, &turns, s)?;
            let state = match (&s.effect, s.turn_id, &turn) {
                (SpanEffect::None, _, _) => SpanState::Archived,
                (SpanEffect::Turn(_), _, _) => SpanState::Projected,
                (_, Some(_), None) => SpanState::Held,
                (SpanEffect::Llm(_), _, _) => SpanState::Projected,
                (_, Some(_), Some(t)) if !t.complete => SpanState::Archived,
                _ => SpanState::Projected,
            };
            let Some(row) = insert_span(&cx.conn, b, cid, id, s, state)? else {
                out.duplicates += 1;
                continue;
            };
            out.accepted += 1;
            rows = Some(rows.map_or((row, row), |(first, _)| (first, row)));
            match state {
                SpanState::Held => count_held(&mut cx.cache, b.agent_id, cid, 1),
                SpanState::Projected => {
                    if let (SpanEffect::Turn(t), Some(turn_id)) = (&s.effect, s.turn_id) {
                        fresh_turns.push((turn_id, t));
                    }
                    plan.fresh.push((i, turn));
                }
                SpanState::Archived => {}
            }
        }
        for (turn_id, t) in fresh_turns {
            release_held(cx, b.agent_id, cid, id, turn_id, t, &mut plan)?;
        }
        out.plan.blocks.push(plan);
    }
    if let Some((first, last)) = rows {
        cx.conn
            .prepare_cached("UPDATE batches SET first_span = ?2, last_span = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, first, last]))
            .map_err(sqlerr)?;
    }
    Ok(out)
}

/// Stores a span's row unless its conversation has it already (the same start and id: a
/// resend, which is byte for byte the same); its row id when stored now.
fn insert_span(
    conn: &Connection,
    b: &SpanIngest,
    cid: &str,
    batch_id: i64,
    s: &SpanRecord,
    state: SpanState,
) -> StoreResult<Option<i64>> {
    let n = conn
        .prepare_cached(
            "INSERT INTO spans (agent_id, conversation_id, span_id, trace_id, trace_key, parent_span_id, turn_id,
                kind, name, status, started_at, ended_at, duration_ms, state, sdk_version, batch_id, text_offset,
                text_len, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
             ON CONFLICT (agent_id, conversation_id, started_at, span_id) DO NOTHING",
        )
        .and_then(|mut q| {
            q.execute(params![
                b.agent_id,
                cid,
                s.span_id as i64,
                s.trace_id,
                trace_key(&s.trace_id),
                s.parent_span_id.map(|p| p as i64),
                s.turn_id.map(|t| t as i64),
                s.kind,
                s.name,
                s.status,
                s.started_at,
                s.ended_at,
                s.duration_ms,
                state.code(),
                b.sdk_version,
                batch_id,
                s.text.start as i64,
                s.text.len() as i64,
                b.received_at
            ])
        })
        .map_err(sqlerr)?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// Releases the children held for turn `turn_id` of conversation `cid`, now archived by batch
/// `batch_id`: projected (an LLM call always; a tool or button when the turn is complete) or
/// archived only, and recorded as this batch's to project.
fn release_held(
    cx: &mut ArchiveContext,
    agent_id: i64,
    cid: &str,
    batch_id: i64,
    turn_id: u64,
    t: &TurnEffect,
    plan: &mut BlockPlan,
) -> StoreResult<()> {
    let (conn, counts) = (&cx.conn, &mut cx.cache);
    if !has_held(conn, counts, agent_id, cid)? {
        return Ok(());
    }
    let held: Vec<(i64, TextRef)> = conn
        .prepare_cached(
            "SELECT id, batch_id, text_offset, text_len FROM spans INDEXED BY spans_held
             WHERE agent_id = ?1 AND conversation_id = ?2 AND turn_id = ?3 AND state = 0 ORDER BY started_at, id",
        )
        .and_then(|mut q| {
            q.query_map(params![agent_id, cid, turn_id as i64], |r| Ok((r.get(0)?, TextRef::at(r, 1)?)))?
                .collect()
        })
        .map_err(sqlerr)?;
    count_held(counts, agent_id, cid, -(held.len() as i64));
    let info = TurnInfo::of(t);
    let mut texts = Texts::default();
    for (row, at) in held {
        let child = agentsight_core::spans::validate_span(&texts.text(conn, at)?, "span")
            .map_err(|e| StoreError::internal_from(format!("held span {row} no longer validates"), e))?;
        let state = match child.effect {
            SpanEffect::Llm(_) => SpanState::Projected,
            _ if !t.complete => SpanState::Archived,
            _ => SpanState::Projected,
        };
        conn.prepare_cached("UPDATE spans SET state = ?2 WHERE id = ?1")
            .and_then(|mut q| q.execute(params![row, state.code()]))
            .map_err(sqlerr)?;
        if state == SpanState::Projected {
            conn.prepare_cached("INSERT INTO releases (batch_id, span) VALUES (?1, ?2)")
                .and_then(|mut q| q.execute(params![batch_id, row]))
                .map_err(sqlerr)?;
            plan.released.push((child, info.clone()));
        }
    }
    Ok(())
}

/// The plan of archived batch `id` (`b` is its body validated again), from what its archiving
/// recorded: for a batch archived but never projected. `conn` reads the archive unqualified.
pub(crate) fn plan_of(conn: &Connection, segments: &Segments, id: i64, b: &SpanIngest) -> StoreResult<Plan> {
    let rows: Option<(Option<i64>, Option<i64>)> = conn
        .query_row("SELECT first_span, last_span FROM batches WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sqlerr)?;
    let Some(rows) = rows else {
        return Err(StoreError::internal(format!("archived batch {id} is gone")));
    };
    // The spans it stored, by (conversation, start, span id), with their state then: now, but
    // held for one a later batch released (only held spans are released; few are ever held).
    let mut stored: HashMap<(String, i64, i64), i64> = match rows {
        (Some(first), Some(last)) => conn
            .prepare(
                "SELECT conversation_id, started_at, span_id,
                        CASE WHEN id IN (SELECT span FROM releases) THEN 0 ELSE state END
                 FROM spans WHERE id BETWEEN ?1 AND ?2",
            )
            .and_then(|mut q| {
                q.query_map([first, last], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?)))?.collect()
            })
            .map_err(sqlerr)?,
        _ => HashMap::new(),
    };
    // Held children its turns released, by (conversation, turn).
    let mut released: HashMap<(String, i64), Vec<SpanRecord>> = HashMap::new();
    let refs: Vec<(String, i64, TextRef)> = conn
        .prepare(
            "SELECT s.conversation_id, s.turn_id, s.batch_id, s.text_offset, s.text_len
             FROM releases r JOIN spans s ON s.id = r.span WHERE r.batch_id = ?1 ORDER BY s.started_at, s.id",
        )
        .and_then(|mut q| q.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, TextRef::at(r, 2)?)))?.collect())
        .map_err(sqlerr)?;
    let mut texts = Texts::default();
    for (cid, turn, at) in refs {
        let child = agentsight_core::spans::validate_span(&texts.text(conn, at)?, "span").map_err(|e| {
            StoreError::internal_from(format!("a span released by batch {id} no longer validates"), e)
        })?;
        released.entry((cid, turn)).or_default().push(child);
    }
    let mut plan = Plan::default();
    for block in &b.blocks {
        let cid = block.upsert.conversation_id.as_str();
        let turns = turns_of(&block.spans);
        let mut bp = BlockPlan::default();
        for (i, s) in block.spans.iter().enumerate() {
            let key = (cid.to_string(), s.started_at, s.span_id as i64);
            // `remove`: a span sent twice in one batch was stored (and is projected) once.
            if stored.remove(&key) != Some(SpanState::Projected.code()) {
                continue;
            }
            bp.fresh.push((i, turn_of(conn, segments, b.agent_id, cid, &turns, s)?));
            if let (SpanEffect::Turn(t), Some(turn_id)) = (&s.effect, s.turn_id) {
                for child in released.remove(&(cid.to_string(), turn_id as i64)).unwrap_or_default() {
                    bp.released.push((child, TurnInfo::of(t)));
                }
            }
        }
        plan.blocks.push(bp);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentsight_core::tracking::AgentScope;
    use serde_json::{Value, json};

    fn span(id: &str, kind: &str, turn: &str, at: &str, complete: bool) -> Value {
        let mut attrs = json!({"agentsight.span.kind": kind, "agentsight.turn.id": turn});
        if kind == "turn" {
            attrs["agentsight.turn.complete"] = json!(complete);
        }
        if kind == "tool" {
            attrs["agentsight.tool.name"] = json!("lookup");
        }
        json!({"span_id": id, "trace_id": "0123456789abcdef0123456789abcdef", "kind": kind, "name": kind,
            "parent_span_id": if kind == "turn" { Value::Null } else { json!(turn) },
            "started_at": at, "ended_at": at, "status": "ok", "attributes": attrs,
            "events": if kind == "turn" { json!([{"name": "agentsight.message", "timestamp": at,
                "attributes": {"agentsight.message.sender": "end_user", "agentsight.message.content": "hi"}}]) }
                else { json!([]) }})
    }

    fn batch(spans: Value) -> (SpanIngest, ArchivedBody) {
        let text = json!({"conversations": [{"conversation_id": "c1", "spans": spans}]}).to_string();
        let p: agentsight_protocol::v01::IngestPayload<'_> = serde_json::from_str(&text).unwrap();
        let scope = AgentScope { agent_id: 1, environments: vec![] };
        (agentsight_core::spans::validate_batch(&scope, &text, &p, 7).unwrap(), ArchivedBody::of_plain(&text))
    }

    /// Per block: the fresh spans (index, turn complete?) and the released ones (id, complete?).
    type Shape = Vec<(Vec<(usize, Option<bool>)>, Vec<(u64, bool)>)>;

    fn shape(p: &Plan) -> Shape {
        p.blocks
            .iter()
            .map(|b| {
                (
                    b.fresh.iter().map(|(i, t)| (*i, t.as_ref().map(|t| t.complete))).collect(),
                    b.released.iter().map(|(s, t)| (s.span_id, t.complete)).collect(),
                )
            })
            .collect()
    }

    /// A child before its turn is held; the turn's batch releases it; a resend stores nothing;
    /// and the plan read back from the archive is the plan made when archiving.
    #[test]
    fn held_children_are_released_by_their_turn_and_plans_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let mut cx = ArchiveContext::new(
            crate::archive::open_for_writing(&dir.path().join("t.archive.db"), false).unwrap(),
        );
        let segments = Segments::default();
        let (first, body) = batch(json!([span(
            "00000000000000b2",
            "tool",
            "00000000000000b1",
            "2026-08-15T10:00:02Z",
            true
        )]));
        let a = archive_batch(&mut cx, &segments, &first, &body).unwrap();
        assert_eq!((a.accepted, a.duplicates), (1, 0));
        assert_eq!(shape(&a.plan), [(vec![], vec![])], "held: nothing to project yet");
        let (second, body) = batch(json!([
            span("00000000000000b1", "turn", "00000000000000b1", "2026-08-15T10:00:01Z", true),
            span("00000000000000b3", "llm", "00000000000000b1", "2026-08-15T10:00:03Z", true)
        ]));
        let b = archive_batch(&mut cx, &segments, &second, &body).unwrap();
        assert_eq!(shape(&b.plan), [(vec![(0, None), (1, Some(true))], vec![(0xb2, true)])]);
        let state: i64 =
            cx.conn.query_row("SELECT state FROM spans WHERE span_id = 178", [], |r| r.get(0)).unwrap();
        assert_eq!(state, SpanState::Projected.code());
        assert_eq!(shape(&plan_of(&cx.conn, &segments, b.id, &second).unwrap()), shape(&b.plan));
        assert_eq!(shape(&plan_of(&cx.conn, &segments, a.id, &first).unwrap()), shape(&a.plan));
        // A child arriving after its turn finds the stored turn (through the trace segments).
        let (third, body) = batch(json!([span(
            "00000000000000b4",
            "tool",
            "00000000000000b1",
            "2026-08-15T10:00:04Z",
            true
        )]));
        let c = archive_batch(&mut cx, &segments, &third, &body).unwrap();
        assert_eq!(shape(&c.plan), [(vec![(0, Some(true))], vec![])]);
        let (again, body) = batch(json!([span(
            "00000000000000b1",
            "turn",
            "00000000000000b1",
            "2026-08-15T10:00:01Z",
            true
        )]));
        let d = archive_batch(&mut cx, &segments, &again, &body).unwrap();
        assert_eq!((d.accepted, d.duplicates), (0, 1));
        assert_eq!(shape(&d.plan), [(vec![], vec![])]);
        assert_eq!(shape(&plan_of(&cx.conn, &segments, d.id, &again).unwrap()), [(vec![], vec![])]);
    }
}
