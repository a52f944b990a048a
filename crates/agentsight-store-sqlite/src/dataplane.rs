//! The 0.1.x data plane's reads: feedback of every kind, action definitions and their logs,
//! one message, metadata keys and values.

use agentsight_store::{
    ActionFilter, ActionLogItem, ActionLogRow, ActionRow, ButtonRow, FeedbackFilter, FeedbackItem,
    MessageDetail, PageRequest, StoreResult,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::reads::{attachments_of_message, like_contains, message_row};
use crate::sqlerr;

/// Ids of `feedback_votes` start above this (see migration 0002).
pub(crate) const VOTE_ID_BASE: i64 = 1_000_000_000;

/// Every kind of feedback as one relation `fb`.
const FEEDBACK_UNION: &str = "(
    SELECT f.id AS id, 'conversation' AS kind, f.agent_id AS agent_id, f.conversation_pk AS conversation_pk,
        c.conversation_id AS conversation_id, NULL AS message_id, f.sentiment AS sentiment, f.source AS source,
        f.comment AS comment, NULL AS topic, NULL AS reason, c.environment AS environment,
        f.metadata AS metadata, f.created_at AS created_at, coalesce(f.updated_at, f.created_at) AS updated_at
    FROM feedbacks f JOIN conversations c ON c.id = f.conversation_pk
    UNION ALL
    SELECT v.id, v.kind, v.agent_id, v.conversation_pk, c.conversation_id, v.message_id, v.sentiment, v.source,
        v.comment, v.topic, v.reason, coalesce(v.environment, c.environment), '{}', v.created_at, v.updated_at
    FROM feedback_votes v LEFT JOIN conversations c ON c.id = v.conversation_pk
) fb";

const FEEDBACK_COLUMNS: &str = "fb.id, fb.kind, fb.agent_id, fb.conversation_pk, fb.conversation_id, fb.message_id,
    fb.sentiment, fb.source, fb.comment, fb.topic, fb.reason, fb.environment, fb.metadata, fb.created_at, fb.updated_at";

fn feedback_row(r: &Row<'_>) -> rusqlite::Result<FeedbackItem> {
    Ok(FeedbackItem {
        id: r.get(0)?,
        kind: r.get(1)?,
        agent_id: r.get(2)?,
        conversation_pk: r.get(3)?,
        conversation_id: r.get(4)?,
        message_id: r.get(5)?,
        sentiment: r.get(6)?,
        source: r.get(7)?,
        comment: r.get(8)?,
        topic: r.get(9)?,
        reason: r.get(10)?,
        environment: r.get(11)?,
        metadata: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

pub(crate) fn feedback(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<Option<FeedbackItem>> {
    conn.query_row(
        &format!("SELECT {FEEDBACK_COLUMNS} FROM {FEEDBACK_UNION} WHERE fb.id = ?1 AND fb.agent_id = ?2"),
        params![id, agent_id],
        feedback_row,
    )
    .optional()
    .map_err(sqlerr)
}

pub(crate) fn list_feedback(
    conn: &Connection,
    agent_id: i64,
    f: &FeedbackFilter,
    page: PageRequest,
) -> StoreResult<(i64, Vec<FeedbackItem>)> {
    let mut clauses = vec!["fb.agent_id = ?".to_string()];
    let mut p: Vec<Value> = vec![Value::Integer(agent_id)];
    let mut eq = |col: &str, v: Option<Value>| {
        if let Some(v) = v {
            clauses.push(format!("{col} = ?"));
            p.push(v);
        }
    };
    eq("fb.kind", f.kind.clone().map(Value::Text));
    eq("fb.sentiment", f.sentiment.clone().map(Value::Text));
    eq("fb.conversation_pk", f.conversation.map(Value::Integer));
    eq("fb.conversation_id", f.conversation_id.clone().map(Value::Text));
    eq("fb.message_id", f.message.map(Value::Integer));
    eq("fb.topic", f.topic.clone().map(Value::Text));
    eq("fb.reason", f.reason.clone().map(Value::Text));
    eq("fb.environment", f.environment.clone().map(Value::Text));
    if let Some(t) = f.created_at_after {
        clauses.push("fb.created_at >= ?".into());
        p.push(Value::Integer(t));
    }
    if let Some(t) = f.created_at_before {
        clauses.push("fb.created_at <= ?".into());
        p.push(Value::Integer(t));
    }
    match f.has_comment {
        Some(true) => clauses.push("coalesce(fb.comment, '') <> ''".into()),
        Some(false) => clauses.push("coalesce(fb.comment, '') = ''".into()),
        None => {}
    }
    if let Some(c) = &f.comment_contains {
        clauses.push("fb.comment LIKE ? ESCAPE '\\'".into());
        p.push(Value::Text(like_contains(c)));
    }
    let w = clauses.join(" AND ");
    let count: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM {FEEDBACK_UNION} WHERE {w}"),
            params_from_iter(p.iter()),
            |r| r.get(0),
        )
        .map_err(sqlerr)?;
    let order = if f.ascending { "ASC" } else { "DESC" };
    p.push(Value::Integer(page.page_size));
    p.push(Value::Integer((page.page - 1).saturating_mul(page.page_size)));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {FEEDBACK_COLUMNS} FROM {FEEDBACK_UNION} WHERE {w} ORDER BY fb.created_at {order}, fb.id {order} LIMIT ? OFFSET ?"
        ))
        .map_err(sqlerr)?;
    let rows = stmt
        .query_map(params_from_iter(p.iter()), feedback_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok((count, rows))
}

const ACTION_SELECT: &str = "SELECT a.id, a.name, a.display_name, a.description,
    (SELECT count(*) FROM action_logs l WHERE l.agent_id = a.agent_id AND l.action_name = a.name),
    a.created_at, a.updated_at FROM actions a";

fn action_row(r: &Row<'_>) -> rusqlite::Result<ActionRow> {
    Ok(ActionRow {
        id: r.get(0)?,
        name: r.get(1)?,
        display_name: r.get(2)?,
        description: r.get(3)?,
        log_count: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub(crate) fn action(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<Option<ActionRow>> {
    conn.query_row(
        &format!("{ACTION_SELECT} WHERE a.id = ?1 AND a.agent_id = ?2"),
        params![id, agent_id],
        action_row,
    )
    .optional()
    .map_err(sqlerr)
}

pub(crate) fn list_actions(
    conn: &Connection,
    agent_id: i64,
    f: &ActionFilter,
    page: PageRequest,
) -> StoreResult<(i64, Vec<ActionRow>)> {
    let mut clauses = vec!["a.agent_id = ?".to_string()];
    let mut p: Vec<Value> = vec![Value::Integer(agent_id)];
    if let Some(n) = &f.name {
        clauses.push("a.name = ?".into());
        p.push(Value::Text(n.clone()));
    }
    if let Some(n) = &f.display_name {
        clauses.push("a.display_name = ?".into());
        p.push(Value::Text(n.clone()));
    }
    if let Some(n) = &f.name_contains {
        clauses.push("a.name LIKE ? ESCAPE '\\'".into());
        p.push(Value::Text(like_contains(n)));
    }
    if let Some(n) = &f.search {
        clauses.push("(a.name LIKE ? ESCAPE '\\' OR a.display_name LIKE ? ESCAPE '\\')".into());
        p.push(Value::Text(like_contains(n)));
        p.push(Value::Text(like_contains(n)));
    }
    let w = clauses.join(" AND ");
    let count: i64 = conn
        .query_row(&format!("SELECT count(*) FROM actions a WHERE {w}"), params_from_iter(p.iter()), |r| {
            r.get(0)
        })
        .map_err(sqlerr)?;
    p.push(Value::Integer(page.page_size));
    p.push(Value::Integer((page.page - 1).saturating_mul(page.page_size)));
    let mut stmt = conn
        .prepare(&format!("{ACTION_SELECT} WHERE {w} ORDER BY a.name, a.id LIMIT ? OFFSET ?"))
        .map_err(sqlerr)?;
    let rows = stmt
        .query_map(params_from_iter(p.iter()), action_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok((count, rows))
}

pub(crate) fn action_log_row(r: &Row<'_>) -> rusqlite::Result<ActionLogRow> {
    Ok(ActionLogRow {
        id: r.get(0)?,
        message_id: r.get(1)?,
        conversation_pk: r.get(2)?,
        action_name: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        duration_ms: r.get(6)?,
        tools_used: r.get(7)?,
        response: r.get(8)?,
        error_msg: r.get(9)?,
        metadata: r.get(10)?,
        ts: r.get(11)?,
    })
}

const LOG_COLUMNS: &str = "l.id, l.message_id, l.conversation_pk, l.action_name, l.started_at, l.ended_at,
    l.duration_ms, l.tools_used, l.response, l.error_msg, l.metadata, l.ts";

/// An action's latest logs: ?1 agent, ?2 action name, ?3 limit (migration 0007's index).
fn action_logs_sql() -> String {
    format!(
        "SELECT {LOG_COLUMNS}, c.conversation_id FROM action_logs l JOIN conversations c ON c.id = l.conversation_pk
         WHERE l.agent_id = ?1 AND l.action_name = ?2 ORDER BY l.ts DESC, l.id DESC LIMIT ?3"
    )
}

pub(crate) fn action_logs(
    conn: &Connection,
    agent_id: i64,
    id: i64,
    limit: i64,
) -> StoreResult<Option<Vec<ActionLogItem>>> {
    let Some(a) = action(conn, agent_id, id)? else { return Ok(None) };
    let mut stmt = conn.prepare_cached(&action_logs_sql()).map_err(sqlerr)?;
    let rows = stmt
        .query_map(params![agent_id, a.name, limit], |r| {
            Ok(ActionLogItem { log: action_log_row(r)?, conversation_id: r.get(12)? })
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok(Some(rows))
}

pub(crate) fn message(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<Option<MessageDetail>> {
    let found: Option<(agentsight_store::MessageRow, String)> = conn
        .query_row(
            "SELECT m.id, m.conversation_pk, m.kind, m.sender, m.content, m.metadata, m.ts, c.conversation_id
             FROM messages m JOIN conversations c ON c.id = m.conversation_pk WHERE m.id = ?1 AND m.agent_id = ?2",
            params![id, agent_id],
            |r| Ok((message_row(r)?, r.get(7)?)),
        )
        .optional()
        .map_err(sqlerr)?;
    let Some((message, conversation_id)) = found else { return Ok(None) };
    let action = conn
        .query_row(
            &format!("SELECT {LOG_COLUMNS} FROM action_logs l WHERE l.message_id = ?1"),
            [id],
            action_log_row,
        )
        .optional()
        .map_err(sqlerr)?;
    let button = conn
        .query_row(
            "SELECT id, message_id, conversation_pk, button_event, label, value, metadata, ts FROM buttons WHERE message_id = ?1",
            [id],
            |r| {
                Ok(ButtonRow {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    conversation_pk: r.get(2)?,
                    button_event: r.get(3)?,
                    label: r.get(4)?,
                    value: r.get(5)?,
                    metadata: r.get(6)?,
                    ts: r.get(7)?,
                })
            },
        )
        .optional()
        .map_err(sqlerr)?;
    let vote = conn
        .query_row(
            &format!("SELECT {FEEDBACK_COLUMNS} FROM {FEEDBACK_UNION} WHERE fb.kind = 'message' AND fb.message_id = ?1"),
            [id],
            feedback_row,
        )
        .optional()
        .map_err(sqlerr)?;
    Ok(Some(MessageDetail {
        attachments: attachments_of_message(conn, id)?,
        message,
        conversation_id,
        action,
        button,
        vote,
    }))
}

pub(crate) fn metadata_keys(conn: &Connection, agent_id: i64, messages: bool) -> StoreResult<Vec<String>> {
    let sql = if messages {
        "SELECT DISTINCT j.key FROM messages m, json_each(m.metadata) j
         WHERE m.agent_id = ?1 AND m.kind = 0 AND json_valid(m.metadata) AND json_type(m.metadata) = 'object'
         ORDER BY 1 LIMIT 1000"
    } else {
        "SELECT DISTINCT j.key FROM conversations c, json_each(c.metadata) j
         WHERE c.agent_id = ?1 AND c.is_deleted = 0 AND c.metadata IS NOT NULL AND json_valid(c.metadata)
           AND json_type(c.metadata) = 'object'
         ORDER BY 1 LIMIT 1000"
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sqlerr)?;
    stmt.query_map([agent_id], |r| r.get(0))
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)
}

pub(crate) fn metadata_values(
    conn: &Connection,
    agent_id: i64,
    key: &str,
    limit: i64,
) -> StoreResult<Vec<String>> {
    // The key is compared as text (`json_each`), never written into a JSON path: a path cannot
    // name every key (a backslash or a NUL in it made SQLite refuse the path: a 500). Each value
    // is rendered as the JSON text `->` gives.
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT CASE j.type WHEN 'object' THEN j.value WHEN 'array' THEN j.value
                 WHEN 'text' THEN json_quote(j.value) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                 WHEN 'null' THEN 'null' ELSE CAST(j.value AS TEXT) END
             FROM conversations c, json_each(c.metadata) j
             WHERE c.agent_id = ?1 AND c.is_deleted = 0 AND c.metadata IS NOT NULL AND json_valid(c.metadata)
               AND json_type(c.metadata) = 'object' AND j.key = ?2
             ORDER BY 1 LIMIT ?3",
        )
        .map_err(sqlerr)?;
    stmt.query_map(params![agent_id, key, limit], |r| r.get(0))
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actions_logs_are_the_end_of_its_index_range() {
        let (c, _dir) = crate::migrate::test_db();
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", action_logs_sql())).unwrap();
        let plan: Vec<String> =
            stmt.query_map(params![1, "lookup", 10], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
        let plan = plan.join("; ");
        assert!(
            plan.contains("SEARCH l USING INDEX action_logs_agent_name (agent_id=? AND action_name=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
    }
}
