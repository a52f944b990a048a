//! The SQL of every read; list filters are built by the pure [`build_list_filter`].

use agentsight_core::keys::Role;
use agentsight_store::{
    ActionLogRow, AgentRow, AttachmentRow, ButtonRow, ConversationFilter, ConversationRow, ExportRow,
    FeedbackRow, KeyRow, MessageKind, MessageRow, PageRequest, Principal, StoreError, StoreResult,
    Transcript,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::sqlerr;

const CONVERSATION_COLUMNS: &str = "c.id, c.agent_id, c.conversation_id, c.name, c.customer_id,
    c.customer_ip_address, c.country, c.region, c.city, c.latitude, c.longitude, c.device, c.source,
    c.language, c.environment, c.metadata, c.is_used, c.is_marked, c.is_deleted, c.deleted_at,
    c.started_at,
    coalesce(c.ended_at, (SELECT max(m.ts) FROM messages m WHERE m.conversation_pk = c.id)),
    (SELECT count(*) FROM messages m WHERE m.conversation_pk = c.id AND m.kind = 0),
    c.created_at, c.updated_at";

fn conversation_row(r: &Row<'_>) -> rusqlite::Result<ConversationRow> {
    Ok(ConversationRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        conversation_id: r.get(2)?,
        name: r.get(3)?,
        customer_id: r.get(4)?,
        customer_ip_address: r.get(5)?,
        country: r.get(6)?,
        region: r.get(7)?,
        city: r.get(8)?,
        latitude: r.get(9)?,
        longitude: r.get(10)?,
        device: r.get(11)?,
        source: r.get(12)?,
        language: r.get(13)?,
        environment: r.get(14)?,
        metadata: r.get(15)?,
        is_used: r.get(16)?,
        is_marked: r.get(17)?,
        is_deleted: r.get(18)?,
        deleted_at: r.get(19)?,
        started_at: r.get(20)?,
        ended_at: r.get(21)?,
        message_count: r.get(22)?,
        created_at: r.get(23)?,
        updated_at: r.get(24)?,
    })
}

pub(crate) fn kind_code(k: MessageKind) -> i64 {
    match k {
        MessageKind::Message => 0,
        MessageKind::Action => 1,
        MessageKind::Button => 2,
    }
}

fn kind_from(code: i64) -> MessageKind {
    match code {
        1 => MessageKind::Action,
        2 => MessageKind::Button,
        _ => MessageKind::Message,
    }
}

/// A `messages` row from `id, conversation_pk, kind, sender, content, metadata, ts`.
pub(crate) fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_pk: r.get(1)?,
        kind: kind_from(r.get(2)?),
        sender: r.get(3)?,
        content: r.get(4)?,
        metadata: r.get(5)?,
        ts: r.get(6)?,
    })
}

/// The files linked to one message.
pub(crate) fn attachments_of_message(conn: &Connection, message_id: i64) -> StoreResult<Vec<AttachmentRow>> {
    collect(
        conn,
        &format!("{ATTACHMENT_SELECT} WHERE message_id = ?1 ORDER BY ts, id"),
        message_id,
        attachment_row,
    )
}

pub(crate) fn conversation_by_pk(
    conn: &Connection,
    agent_id: i64,
    pk: i64,
) -> StoreResult<Option<ConversationRow>> {
    conn.query_row(
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?1 AND c.agent_id = ?2"),
        params![pk, agent_id],
        conversation_row,
    )
    .optional()
    .map_err(sqlerr)
}

pub(crate) fn conversation_by_id(
    conn: &Connection,
    agent_id: i64,
    conversation_id: &str,
) -> StoreResult<Option<ConversationRow>> {
    conn.query_row(
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c
             WHERE c.agent_id = ?1 AND c.conversation_id = ?2"
        ),
        params![agent_id, conversation_id],
        conversation_row,
    )
    .optional()
    .map_err(sqlerr)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_contains(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// `metadata.key` of `conversations c` equals `value` as text: strings as themselves, integers
/// in decimal, booleans as `true`/`false` (the rule of `metrics::reference::metadata_text`).
pub(crate) fn push_metadata_match(
    clauses: &mut Vec<String>,
    params: &mut Vec<Value>,
    key: &str,
    value: &str,
) {
    // The key is compared as text (`json_each`), never written into a JSON path: a path cannot
    // name every key (a backslash or a NUL in it made SQLite refuse the path: a 500).
    clauses.push(
        "EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE j.key = ? AND (CASE j.type WHEN 'text' THEN j.value \
         WHEN 'integer' THEN CAST(j.value AS TEXT) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END) = ?)"
            .to_string(),
    );
    params.push(Value::Text(key.to_string()));
    params.push(Value::Text(value.to_string()));
}

/// Builds the `WHERE` clause (over `conversations c`) and its bound values for a filter.
/// No user value is ever formatted into the SQL.
pub fn build_list_filter(agent_id: i64, f: &ConversationFilter) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = vec!["c.agent_id = ?".into()];
    let mut params: Vec<Value> = vec![Value::Integer(agent_id)];
    let eq = |col: &str, v: &Option<String>, clauses: &mut Vec<String>, params: &mut Vec<Value>| {
        if let Some(v) = v {
            clauses.push(format!("c.{col} = ?"));
            params.push(Value::Text(v.clone()));
        }
    };
    eq("conversation_id", &f.conversation_id, &mut clauses, &mut params);
    eq("customer_id", &f.customer_id, &mut clauses, &mut params);
    eq("customer_ip_address", &f.customer_ip_address, &mut clauses, &mut params);
    eq("device", &f.device, &mut clauses, &mut params);
    eq("language", &f.language, &mut clauses, &mut params);
    eq("source", &f.source, &mut clauses, &mut params);
    eq("environment", &f.environment, &mut clauses, &mut params);
    if let Some(n) = &f.name {
        clauses.push("c.name LIKE ? ESCAPE '\\'".into());
        params.push(Value::Text(like_contains(n)));
    }
    if let Some(a) = &f.action_name {
        clauses.push(
            "EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id AND a.action_name = ?)"
                .into(),
        );
        params.push(Value::Text(a.clone()));
    }
    if let Some(t) = &f.message_contains {
        clauses.push(
            "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_pk = c.id AND m.kind = 0
                AND m.content LIKE ? ESCAPE '\\')"
                .into(),
        );
        params.push(Value::Text(like_contains(t)));
    }
    for (k, v) in &f.metadata {
        push_metadata_match(&mut clauses, &mut params, k, v);
    }
    let flag = |expr: &str, v: Option<bool>, clauses: &mut Vec<String>| {
        if let Some(b) = v {
            clauses.push(if b { expr.to_string() } else { format!("NOT ({expr})") });
        }
    };
    flag(
        "EXISTS (SELECT 1 FROM messages m WHERE m.conversation_pk = c.id AND m.kind = 0)",
        f.has_messages,
        &mut clauses,
    );
    flag("c.is_marked = 1", f.is_marked, &mut clauses);
    flag("c.is_used = 1", f.is_used, &mut clauses);
    flag("EXISTS (SELECT 1 FROM feedbacks fb WHERE fb.conversation_pk = c.id)", f.has_feedback, &mut clauses);
    if !f.include_deleted {
        clauses.push("c.is_deleted = 0".into());
    }
    if let Some(s) = &f.feedback_sentiment {
        clauses.push(
            "EXISTS (SELECT 1 FROM feedbacks fb WHERE fb.conversation_pk = c.id AND fb.sentiment = ?)".into(),
        );
        params.push(Value::Text(s.clone()));
    }
    if let Some(s) = &f.feedback_source {
        clauses.push(
            "EXISTS (SELECT 1 FROM feedbacks fb WHERE fb.conversation_pk = c.id AND fb.source = ?)".into(),
        );
        params.push(Value::Text(s.clone()));
    }
    if let Some(t) = f.started_at_after {
        clauses.push("c.started_at >= ?".into());
        params.push(Value::Integer(t));
    }
    if let Some(t) = f.started_at_before {
        clauses.push("c.started_at <= ?".into());
        params.push(Value::Integer(t));
    }
    eq("country", &f.country, &mut clauses, &mut params);
    for d in &f.unknown {
        // The column comes from a fixed enum, never from the request.
        clauses.push(format!("c.{} IS NULL", d.column()));
    }
    if let Some(escalated) = f.escalated {
        let expr = if f.escalation_tools.is_empty() {
            "0".to_string()
        } else {
            let marks = vec!["?"; f.escalation_tools.len()].join(", ");
            params.extend(f.escalation_tools.iter().map(|t| Value::Text(t.clone())));
            format!(
                "EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id AND a.action_name IN ({marks}))"
            )
        };
        clauses.push(if escalated { expr } else { format!("NOT ({expr})") });
    }
    if let Some(t) = &f.customer_id_contains {
        clauses.push("c.customer_id LIKE ? ESCAPE '\\'".into());
        params.push(Value::Text(like_contains(t)));
    }
    flag("EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id)", f.has_action, &mut clauses);
    match (&f.metadata_key, &f.metadata_value) {
        (Some(k), Some(v)) => push_metadata_match(&mut clauses, &mut params, k, v),
        (Some(k), None) => {
            clauses.push("EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE j.key = ?)".into());
            params.push(Value::Text(k.clone()));
        }
        (None, Some(v)) => {
            clauses.push(
                "EXISTS (SELECT 1 FROM json_each(c.metadata) j WHERE (CASE j.type WHEN 'text' THEN j.value \
                 WHEN 'integer' THEN CAST(j.value AS TEXT) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END) = ?)"
                    .into(),
            );
            params.push(Value::Text(v.clone()));
        }
        (None, None) => {}
    }
    crate::failures::push_filters(f, &mut clauses, &mut params);
    if let Some(t) = &f.search {
        clauses.push(
            "(c.conversation_id LIKE ? ESCAPE '\\' OR c.name LIKE ? ESCAPE '\\' OR c.customer_id LIKE ? ESCAPE '\\')".into(),
        );
        for _ in 0..3 {
            params.push(Value::Text(like_contains(t)));
        }
    }
    (clauses.join(" AND "), params)
}

pub(crate) fn list_conversations(
    conn: &Connection,
    agent_id: i64,
    f: &ConversationFilter,
    page: PageRequest,
) -> StoreResult<(i64, Vec<ConversationRow>)> {
    let (where_sql, mut params) = build_list_filter(agent_id, f);
    let order = match f.ordering {
        agentsight_store::ConversationOrder::StartedDesc => "c.started_at DESC, c.id DESC",
        agentsight_store::ConversationOrder::StartedAsc => "c.started_at ASC, c.id ASC",
        agentsight_store::ConversationOrder::UpdatedDesc => "c.updated_at DESC, c.id DESC",
        agentsight_store::ConversationOrder::UpdatedAsc => "c.updated_at ASC, c.id ASC",
    };
    let count: i64 = conn
        .query_row(
            &format!("SELECT count(*) FROM conversations c WHERE {where_sql}"),
            params_from_iter(params.iter()),
            |r| r.get(0),
        )
        .map_err(sqlerr)?;
    params.push(Value::Integer(page.page_size));
    params.push(Value::Integer((page.page - 1).saturating_mul(page.page_size)));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE {where_sql}
             ORDER BY {order} LIMIT ? OFFSET ?"
        ))
        .map_err(sqlerr)?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), conversation_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok((count, rows))
}

pub(crate) fn transcript(conn: &Connection, agent_id: i64, pk: i64) -> StoreResult<Option<Transcript>> {
    let Some(conversation) = conversation_by_pk(conn, agent_id, pk)? else {
        return Ok(None);
    };
    let messages = collect(
        conn,
        "SELECT id, conversation_pk, kind, sender, content, metadata, ts FROM messages
         WHERE conversation_pk = ?1 ORDER BY ts, id",
        pk,
        message_row,
    )?;
    let actions = collect(
        conn,
        "SELECT id, message_id, conversation_pk, action_name, started_at, ended_at, duration_ms,
            tools_used, response, error_msg, metadata, ts
         FROM action_logs WHERE conversation_pk = ?1 ORDER BY ts, id",
        pk,
        |r| {
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
        },
    )?;
    let buttons = collect(
        conn,
        "SELECT id, message_id, conversation_pk, button_event, label, value, metadata, ts
         FROM buttons WHERE conversation_pk = ?1 ORDER BY ts, id",
        pk,
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
    )?;
    let attachments = collect(
        conn,
        &format!("{ATTACHMENT_SELECT} WHERE conversation_pk = ?1 ORDER BY ts, id"),
        pk,
        attachment_row,
    )?;
    let feedbacks = collect(
        conn,
        "SELECT f.id, f.conversation_pk, c.conversation_id, f.sentiment, f.source, f.comment,
            f.metadata, f.created_at
         FROM feedbacks f JOIN conversations c ON c.id = f.conversation_pk
         WHERE f.conversation_pk = ?1 ORDER BY f.created_at, f.id",
        pk,
        |r| {
            Ok(FeedbackRow {
                id: r.get(0)?,
                conversation_pk: r.get(1)?,
                conversation_id: r.get(2)?,
                sentiment: r.get(3)?,
                source: r.get(4)?,
                comment: r.get(5)?,
                metadata: r.get(6)?,
                created_at: r.get(7)?,
            })
        },
    )?;
    Ok(Some(Transcript { conversation, messages, actions, buttons, attachments, feedbacks }))
}

const ATTACHMENT_SELECT: &str = "SELECT id, conversation_pk, message_id, sender, filename, mime_type,
    size_bytes, storage_key, metadata, ts FROM attachments";

fn attachment_row(r: &Row<'_>) -> rusqlite::Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.get(0)?,
        conversation_pk: r.get(1)?,
        message_id: r.get(2)?,
        sender: r.get(3)?,
        filename: r.get(4)?,
        mime_type: r.get(5)?,
        size_bytes: r.get(6)?,
        storage_key: r.get(7)?,
        metadata: r.get(8)?,
        ts: r.get(9)?,
    })
}

pub(crate) fn attachment(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<Option<AttachmentRow>> {
    conn.query_row(
        &format!("{ATTACHMENT_SELECT} WHERE id = ?1 AND agent_id = ?2"),
        params![id, agent_id],
        attachment_row,
    )
    .optional()
    .map_err(sqlerr)
}

fn collect<T>(
    conn: &Connection,
    sql: &str,
    pk: i64,
    f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(sqlerr)?;
    stmt.query_map([pk], f).map_err(sqlerr)?.collect::<rusqlite::Result<Vec<_>>>().map_err(sqlerr)
}

fn environments(conn: &Connection, agent_id: i64) -> StoreResult<Vec<String>> {
    collect(conn, "SELECT slug FROM environments WHERE agent_id = ?1 ORDER BY id", agent_id, |r| r.get(0))
}

pub(crate) fn authenticate(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<Principal>> {
    let found: Option<(i64, Vec<u8>, i64, String, String)> = conn
        .query_row(
            "SELECT k.id, k.hash, k.agent_id, a.name, k.role FROM api_keys k
             JOIN agents a ON a.id = k.agent_id
             WHERE k.hash = ?1 AND k.revoked_at IS NULL",
            [&hash[..]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(sqlerr)?;
    let Some((key_id, key_hash, agent_id, agent_name, role)) = found else {
        return Ok(None);
    };
    let role = Role::parse(&role).ok_or_else(|| StoreError::internal(format!("bad role '{role}'")))?;
    Ok(Some(Principal {
        key_id,
        key_hash,
        agent_id,
        agent_name,
        environments: environments(conn, agent_id)?,
        role,
    }))
}

pub(crate) fn list_agents(conn: &Connection) -> StoreResult<Vec<AgentRow>> {
    let mut stmt = conn.prepare("SELECT id, name, created_at FROM agents ORDER BY id").map_err(sqlerr)?;
    let agents = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    agents
        .into_iter()
        .map(|(id, name, created_at)| {
            Ok(AgentRow { id, name, environments: environments(conn, id)?, created_at })
        })
        .collect()
}

pub(crate) fn agent(conn: &Connection, id: i64) -> StoreResult<Option<AgentRow>> {
    let found: Option<(String, i64)> = conn
        .prepare_cached("SELECT name, created_at FROM agents WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(sqlerr)?;
    match found {
        None => Ok(None),
        Some((name, created_at)) => {
            Ok(Some(AgentRow { id, name, environments: environments(conn, id)?, created_at }))
        }
    }
}

/// Conversations for the export: keyset pages by pk, with escalation and latest feedback.
pub(crate) fn export_conversations(
    conn: &Connection,
    agent_id: i64,
    f: &ConversationFilter,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<ExportRow>> {
    let (where_sql, mut params) = build_list_filter(agent_id, f);
    let escalated = if f.escalation_tools.is_empty() {
        "0".to_string()
    } else {
        let marks = vec!["?"; f.escalation_tools.len()].join(", ");
        format!(
            "EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id AND a.action_name IN ({marks}))"
        )
    };
    // The select list's parameters come first in SQL order.
    let mut all: Vec<Value> = f.escalation_tools.iter().map(|t| Value::Text(t.clone())).collect();
    all.append(&mut params);
    all.push(Value::Integer(after));
    all.push(Value::Integer(limit));
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS}, {escalated},
            (SELECT fb.sentiment FROM feedbacks fb WHERE fb.conversation_pk = c.id
             ORDER BY fb.created_at DESC, fb.id DESC LIMIT 1)
         FROM conversations c WHERE {where_sql} AND c.id > ? ORDER BY c.id LIMIT ?"
    );
    let mut stmt = conn.prepare(&sql).map_err(sqlerr)?;
    stmt.query_map(params_from_iter(all.iter()), |r| {
        Ok(ExportRow {
            conversation: conversation_row(r)?,
            escalated: r.get(25)?,
            latest_feedback: r.get(26)?,
        })
    })
    .map_err(sqlerr)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(sqlerr)
}

/// Every transcript entry of these conversations (the agent's only).
pub(crate) fn export_entries(conn: &Connection, agent_id: i64, pks: &[i64]) -> StoreResult<Vec<MessageRow>> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, conversation_pk, kind, sender, content, metadata, ts FROM messages
             WHERE conversation_pk = ?1 AND agent_id = ?2 ORDER BY ts, id",
        )
        .map_err(sqlerr)?;
    for pk in pks {
        let rows = stmt
            .query_map(params![pk, agent_id], |r| {
                Ok(MessageRow {
                    id: r.get(0)?,
                    conversation_pk: r.get(1)?,
                    kind: kind_from(r.get(2)?),
                    sender: r.get(3)?,
                    content: r.get(4)?,
                    metadata: r.get(5)?,
                    ts: r.get(6)?,
                })
            })
            .map_err(sqlerr)?;
        for row in rows {
            out.push(row.map_err(sqlerr)?);
        }
    }
    Ok(out)
}

pub(crate) fn escalation_tools(conn: &Connection, agent_id: i64) -> StoreResult<Option<Vec<String>>> {
    let text: Option<Option<String>> = conn
        .query_row("SELECT escalation_tools FROM agents WHERE id = ?1", [agent_id], |r| r.get(0))
        .optional()
        .map_err(sqlerr)?;
    match text.flatten() {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| StoreError::internal_from(format!("agent {agent_id}: bad escalation_tools"), e)),
    }
}

pub(crate) fn list_keys(conn: &Connection) -> StoreResult<Vec<KeyRow>> {
    let mut stmt = conn
        .prepare(
            "SELECT k.id, k.agent_id, a.name, k.prefix, k.role, k.created_at, k.revoked_at
             FROM api_keys k JOIN agents a ON a.id = k.agent_id ORDER BY k.id",
        )
        .map_err(sqlerr)?;
    let rows = stmt
        .query_map([], |r| {
            let role: String = r.get(4)?;
            Ok(KeyRow {
                id: r.get(0)?,
                agent_id: r.get(1)?,
                agent_name: r.get(2)?,
                prefix: r.get(3)?,
                role: Role::parse(&role).unwrap_or(Role::Read),
                created_at: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_scopes_to_the_agent_and_hides_deleted_rows() {
        let (sql, params) = build_list_filter(7, &ConversationFilter::default());
        assert_eq!(sql, "c.agent_id = ? AND c.is_deleted = 0");
        assert_eq!(params, vec![Value::Integer(7)]);
    }

    #[test]
    fn user_values_are_bound_never_formatted() {
        let f = ConversationFilter {
            name: Some("50%_off' OR 1=1 --".into()),
            metadata: vec![("plan\"x".into(), "pro".into())],
            include_deleted: true,
            has_feedback: Some(false),
            ..Default::default()
        };
        let (sql, params) = build_list_filter(1, &f);
        assert!(!sql.contains("OR 1=1"));
        assert!(!sql.contains("pro"));
        assert!(sql.contains("NOT (EXISTS (SELECT 1 FROM feedbacks"));
        assert!(params.contains(&Value::Text("%50\\%\\_off' OR 1=1 --%".into())));
        // The key is bound as it is, never spelled into a JSON path.
        assert!(params.contains(&Value::Text("plan\"x".into())));
        assert!(!sql.contains("plan"));
    }
}
