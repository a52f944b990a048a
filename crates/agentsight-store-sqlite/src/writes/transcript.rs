//! Transcript entries: messages (with their bot response time), actions (with their
//! definition), buttons, and conversation feedback.

use agentsight_core::metrics::index::{Delta, Sender, action_duration_us};
use agentsight_core::time::Micros;
use agentsight_core::tracking::{NewAction, NewButton, NewFeedback, NewMessage};
use agentsight_store::{ActionLogRow, ButtonRow, FeedbackRow, MessageKind, MessageRow, StoreResult};
use rusqlite::{OptionalExtension, params};

use super::conversations::resolve;
use super::{exec, one};
use crate::writer::MainContext;
use crate::{reads, sqlerr};

/// A transcript entry to insert: a message, or the entry of an action or a button.
struct Entry<'a> {
    agent_id: i64,
    conversation_pk: i64,
    kind: MessageKind,
    sender: &'a str,
    content: &'a str,
    metadata: &'a str,
    ts: Micros,
    received_at: Micros,
    /// Bot response time (messages only).
    response_us: Option<i64>,
}

/// Inserts a transcript entry and marks its conversation used, extending its end.
fn insert_entry(cx: &mut MainContext, e: Entry<'_>) -> StoreResult<i64> {
    let Entry { agent_id, conversation_pk, kind, sender, content, metadata, ts, received_at, response_us } =
        e;
    let kind_code = reads::kind_code(kind);
    exec(
        &cx.conn,
        "INSERT INTO messages (agent_id, conversation_pk, kind, sender, content, ts, metadata, received_at, response_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![agent_id, conversation_pk, kind_code, sender, content, ts, metadata, received_at, response_us],
    )
    .map_err(sqlerr)?;
    let id = cx.conn.last_insert_rowid();
    if !cx.cache.known_row(conversation_pk).is_some_and(|k| k.used) {
        exec(
            &cx.conn,
            // Only the first entry flips the flag; later ones match no row and dirty no page.
            "UPDATE conversations SET is_used = 1, updated_at = ?2 WHERE id = ?1 AND is_used = 0",
            params![conversation_pk, received_at],
        )
        .map_err(sqlerr)?;
        cx.cache.remember_used(conversation_pk);
    }
    Ok(id)
}

/// The latest message of a conversation, from the cache or the database.
fn last_message(cx: &mut MainContext, conversation_pk: i64) -> StoreResult<Option<(i64, String)>> {
    if let Some(hit) = cx.cache.last_message(conversation_pk) {
        return Ok(Some(hit));
    }
    one(
        &cx.conn,
        "SELECT ts, sender FROM messages WHERE conversation_pk = ?1 AND kind = 0 ORDER BY ts DESC, id DESC LIMIT 1",
        [conversation_pk],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(sqlerr)
}

/// The response time of a new message at `ts` (it will have the largest id): an agent message
/// right after an end-user message, by event time, then arrival. Also says whether the message
/// arrived out of order (messages with a later `ts` exist), in which case the next one's
/// response time must be recomputed after the insert.
fn response_of(
    cx: &mut MainContext,
    conversation_pk: i64,
    ts: Micros,
    sender: &str,
) -> StoreResult<(Option<i64>, bool)> {
    let last = last_message(cx, conversation_pk)?;
    let in_order = last.as_ref().is_none_or(|(last_ts, _)| ts >= *last_ts);
    let prev = if in_order {
        cx.cache.remember_last(conversation_pk, ts, sender);
        last
    } else {
        if let Some((last_ts, last_sender)) = &last {
            cx.cache.remember_last(conversation_pk, *last_ts, last_sender);
        }
        one(
            &cx.conn,
            "SELECT ts, sender FROM messages WHERE conversation_pk = ?1 AND kind = 0 AND ts <= ?2
             ORDER BY ts DESC, id DESC LIMIT 1",
            params![conversation_pk, ts],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlerr)?
    };
    let response = (sender == "agent")
        .then_some(prev)
        .flatten()
        .filter(|(_, s)| s == "end_user")
        .map(|(prev_ts, _)| ts - prev_ts);
    Ok((response, !in_order))
}

/// A message that arrived out of order (an earlier `ts` than messages already stored) becomes
/// the predecessor of the next one: recompute that one's response time.
fn fix_successor(
    cx: &mut MainContext,
    agent_id: i64,
    conversation_pk: i64,
    ts: Micros,
    sender: &str,
) -> StoreResult<()> {
    let next: Option<(i64, String, i64, Option<i64>)> = one(
        &cx.conn,
        "SELECT id, sender, ts, response_us FROM messages WHERE conversation_pk = ?1 AND kind = 0 AND ts > ?2
         ORDER BY ts, id LIMIT 1",
        params![conversation_pk, ts],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .map_err(sqlerr)?;
    if let Some((id, next_sender, next_ts, old)) = next {
        let response = (next_sender == "agent" && sender == "end_user").then_some(next_ts - ts);
        if response != old {
            exec(&cx.conn, "UPDATE messages SET response_us = ?2 WHERE id = ?1", params![id, response])
                .map_err(sqlerr)?;
            cx.deltas
                .entry(agent_id, Delta::Response { pk: conversation_pk, ts: next_ts, old, new: response });
        }
    }
    Ok(())
}

/// The stored message a re-send repeats (same conversation, event time, sender, content and
/// metadata; `NewMessage::resendable`), found through `messages_conversation` in the writer's
/// transaction, before the insert.
fn resent_message(cx: &mut MainContext, pk: i64, m: &NewMessage) -> StoreResult<Option<MessageRow>> {
    one(
        &cx.conn,
        RESENT_MESSAGE_SQL,
        params![pk, m.event_time, m.sender, m.content, m.metadata],
        reads::message_row,
    )
    .optional()
    .map_err(sqlerr)
}

const RESENT_MESSAGE_SQL: &str =
    "SELECT id, conversation_pk, kind, sender, content, metadata, ts FROM messages
     WHERE conversation_pk = ?1 AND ts = ?2 AND kind = 0 AND sender = ?3 AND content = ?4 AND metadata = ?5
     ORDER BY id LIMIT 1";

/// The stored action log a re-send repeats: every field of the action equal.
fn resent_action(cx: &mut MainContext, pk: i64, a: &NewAction) -> StoreResult<Option<ActionLogRow>> {
    one(
        &cx.conn,
        RESENT_ACTION_SQL,
        params![
            pk,
            a.event_time,
            a.action_name,
            a.metadata,
            a.started_at,
            a.ended_at,
            a.duration_ms,
            a.tools_used,
            a.response,
            a.error_msg
        ],
        |r| {
            Ok(ActionLogRow {
                id: r.get(0)?,
                message_id: r.get(1)?,
                conversation_pk: pk,
                action_name: a.action_name.clone(),
                started_at: a.started_at,
                ended_at: a.ended_at,
                duration_ms: a.duration_ms,
                tools_used: a.tools_used.clone(),
                response: a.response.clone(),
                error_msg: a.error_msg.clone(),
                metadata: a.metadata.clone(),
                ts: a.event_time,
            })
        },
    )
    .optional()
    .map_err(sqlerr)
}

// An action's entry is always stored with sender `agent` and a button's with `end_user`
// (`insert_action`, `insert_button`): naming it seeks the whole of `messages_conversation`
// (conversation_pk, ts, kind, sender), whose entries are then in `id` order.
const RESENT_ACTION_SQL: &str =
    "SELECT a.id, a.message_id FROM messages m JOIN action_logs a ON a.message_id = m.id
     WHERE m.conversation_pk = ?1 AND m.ts = ?2 AND m.kind = 1 AND m.sender = 'agent' AND a.action_name = ?3 AND a.metadata = ?4
       AND a.started_at IS ?5 AND a.ended_at IS ?6 AND a.duration_ms IS ?7 AND a.tools_used IS ?8
       AND a.response IS ?9 AND a.error_msg IS ?10
     ORDER BY m.id LIMIT 1";

/// The stored button click a re-send repeats: every field of the click equal.
fn resent_button(cx: &mut MainContext, pk: i64, b: &NewButton) -> StoreResult<Option<ButtonRow>> {
    one(
        &cx.conn,
        RESENT_BUTTON_SQL,
        params![pk, b.event_time, b.button_event, b.label, b.value, b.metadata],
        |r| {
            Ok(ButtonRow {
                id: r.get(0)?,
                message_id: r.get(1)?,
                conversation_pk: pk,
                button_event: b.button_event.clone(),
                label: b.label.clone(),
                value: b.value.clone(),
                metadata: b.metadata.clone(),
                ts: b.event_time,
            })
        },
    )
    .optional()
    .map_err(sqlerr)
}

const RESENT_BUTTON_SQL: &str =
    "SELECT b.id, b.message_id FROM messages m JOIN buttons b ON b.message_id = m.id
     WHERE m.conversation_pk = ?1 AND m.ts = ?2 AND m.kind = 2 AND m.sender = 'end_user' AND b.button_event = ?3 AND b.label = ?4
       AND b.value = ?5 AND b.metadata = ?6
     ORDER BY m.id LIMIT 1";

/// Inserts a message; with `once`, a 0.0.x re-send of a stored one is answered with that one
/// instead (the tracking POSTs; a span projection has its own key, and two spans may project
/// equal entries).
pub(crate) fn insert_message(cx: &mut MainContext, m: NewMessage, once: bool) -> StoreResult<MessageRow> {
    let pk = resolve(cx, m.agent_id, &m.conversation, Some((m.event_time, m.received_at)))?;
    if once
        && m.resendable()
        && let Some(stored) = resent_message(cx, pk, &m)?
    {
        return Ok(stored);
    }
    let (response_us, out_of_order) = response_of(cx, pk, m.event_time, &m.sender)?;
    let id = insert_entry(
        cx,
        Entry {
            agent_id: m.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Message,
            sender: &m.sender,
            content: &m.content,
            metadata: &m.metadata,
            ts: m.event_time,
            received_at: m.received_at,
            response_us,
        },
    )?;
    cx.deltas.entry(
        m.agent_id,
        Delta::Message { pk, ts: m.event_time, sender: Sender::parse(&m.sender), response_us },
    );
    if out_of_order {
        fix_successor(cx, m.agent_id, pk, m.event_time, &m.sender)?;
    }
    Ok(MessageRow {
        id,
        conversation_pk: pk,
        kind: MessageKind::Message,
        sender: m.sender,
        content: m.content,
        metadata: m.metadata,
        ts: m.event_time,
    })
}

/// Inserts an action; `once` as for [`insert_message`].
pub(crate) fn insert_action(cx: &mut MainContext, a: &NewAction, once: bool) -> StoreResult<ActionLogRow> {
    let pk = resolve(cx, a.agent_id, &a.conversation, Some((a.event_time, a.received_at)))?;
    if once
        && a.resendable()
        && let Some(stored) = resent_action(cx, pk, a)?
    {
        return Ok(stored);
    }
    ensure_action(cx, a.agent_id, &a.action_name, a.received_at)?;
    let content = format!("Action {} performed", a.action_name);
    let entry = insert_entry(
        cx,
        Entry {
            agent_id: a.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Action,
            sender: "agent",
            content: &content,
            metadata: &a.metadata,
            ts: a.event_time,
            received_at: a.received_at,
            response_us: None,
        },
    )?;
    exec(
        &cx.conn,
        "INSERT INTO action_logs (message_id, agent_id, conversation_pk, action_name, started_at,
            ended_at, duration_ms, tools_used, response, error_msg, metadata, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            entry,
            a.agent_id,
            pk,
            a.action_name,
            a.started_at,
            a.ended_at,
            a.duration_ms,
            a.tools_used,
            a.response,
            a.error_msg,
            a.metadata,
            a.event_time
        ],
    )
    .map_err(sqlerr)?;
    cx.deltas.entry(
        a.agent_id,
        Delta::Action {
            pk,
            ts: a.event_time,
            name: a.action_name.clone(),
            duration_us: action_duration_us(a.duration_ms, a.started_at, a.ended_at),
            error: a.error_msg.as_deref().is_some_and(|e| !e.is_empty()),
        },
    );
    Ok(ActionLogRow {
        id: cx.conn.last_insert_rowid(),
        message_id: entry,
        conversation_pk: pk,
        action_name: a.action_name.clone(),
        started_at: a.started_at,
        ended_at: a.ended_at,
        duration_ms: a.duration_ms,
        tools_used: a.tools_used.clone(),
        response: a.response.clone(),
        error_msg: a.error_msg.clone(),
        metadata: a.metadata.clone(),
        ts: a.event_time,
    })
}

/// Inserts a button press; `once` as for [`insert_message`].
pub(crate) fn insert_button(cx: &mut MainContext, b: &NewButton, once: bool) -> StoreResult<ButtonRow> {
    let pk = resolve(cx, b.agent_id, &b.conversation, Some((b.event_time, b.received_at)))?;
    if once
        && b.resendable()
        && let Some(stored) = resent_button(cx, pk, b)?
    {
        return Ok(stored);
    }
    let entry = insert_entry(
        cx,
        Entry {
            agent_id: b.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Button,
            sender: "end_user",
            content: &b.label,
            metadata: &b.metadata,
            ts: b.event_time,
            received_at: b.received_at,
            response_us: None,
        },
    )?;
    exec(
            &cx.conn,
        "INSERT INTO buttons (message_id, agent_id, conversation_pk, button_event, label, value, metadata, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![entry, b.agent_id, pk, b.button_event, b.label, b.value, b.metadata, b.event_time],
    )
    .map_err(sqlerr)?;
    cx.deltas.entry(b.agent_id, Delta::Button { pk, ts: b.event_time });
    Ok(ButtonRow {
        id: cx.conn.last_insert_rowid(),
        message_id: entry,
        conversation_pk: pk,
        button_event: b.button_event.clone(),
        label: b.label.clone(),
        value: b.value.clone(),
        metadata: b.metadata.clone(),
        ts: b.event_time,
    })
}

pub(crate) fn insert_feedback(cx: &mut MainContext, f: &NewFeedback) -> StoreResult<FeedbackRow> {
    let pk = resolve(cx, f.agent_id, &f.conversation, None)?;
    exec(
        &cx.conn,
        "INSERT INTO feedbacks (agent_id, conversation_pk, sentiment, source, comment, metadata, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![f.agent_id, pk, f.sentiment, f.source.as_str(), f.comment, f.metadata, f.created_at],
    )
    .map_err(sqlerr)?;
    let id = cx.conn.last_insert_rowid();
    cx.deltas.touch(f.agent_id, pk);
    let conversation_id: String =
        one(&cx.conn, "SELECT conversation_id FROM conversations WHERE id = ?1", [pk], |r| r.get(0))
            .map_err(sqlerr)?;
    Ok(FeedbackRow {
        id,
        conversation_pk: pk,
        conversation_id,
        sentiment: f.sentiment.clone(),
        source: f.source.as_str().to_string(),
        comment: f.comment.clone(),
        metadata: f.metadata.clone(),
        created_at: f.created_at,
    })
}

/// Creates the action definition `(agent, name)` the first time a name appears (B5.5).
fn ensure_action(cx: &mut MainContext, agent_id: i64, name: &str, now: Micros) -> StoreResult<()> {
    let key = (agent_id, name.to_string());
    if cx.cache.knows_action(&key) {
        return Ok(());
    }
    exec(
        &cx.conn,
        "INSERT INTO actions (agent_id, name, display_name, created_at, updated_at) VALUES (?1, ?2, ?2, ?3, ?3)
         ON CONFLICT (agent_id, name) DO NOTHING",
        params![agent_id, name, now],
    )
    .map_err(sqlerr)?;
    cx.cache.remember_action(key);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The re-send look-ups run for every timed 0.0.x write: each must seek the conversation's
    /// index at one event time (and the joined row by its unique `message_id`), never scan.
    #[test]
    fn resend_lookups_seek_the_conversation_index() {
        let (c, _dir) = crate::migrate::test_db();
        for (sql, n) in [(RESENT_MESSAGE_SQL, 5), (RESENT_ACTION_SQL, 10), (RESENT_BUTTON_SQL, 6)] {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let params: Vec<rusqlite::types::Value> =
                (0..n).map(|_| rusqlite::types::Value::Integer(1)).collect();
            let plan = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ");
            assert!(
                plan.contains("INDEX messages_conversation (conversation_pk=? AND ts=? AND kind=?"),
                "{plan}"
            );
            assert!(!plan.contains("SCAN") && !plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
