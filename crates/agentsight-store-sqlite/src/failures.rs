//! The facts of the failure metrics (`docs/metrics.md`, *Where the bot fails*) over raw rows,
//! and the conversation list's failure filters. Exact by construction: every entry of the
//! conversations in range is read (by the covering index `messages (conversation_pk, ts, kind,
//! sender)`; the escalations and failed calls among the actions by `action_logs
//! (conversation_pk)`) and folded by
//! `agentsight_core::metrics::failures`, the same code every backend uses; the SQL filters of
//! the list state the same rules row by row.

use std::collections::{HashMap, HashSet};

use agentsight_core::metrics::TOKEN_USAGE_ACTION;
use agentsight_core::metrics::failures::{
    ConversationTrail, FailureFacts, Step, ToolCalls, TrailEntry, normalize_question,
};
use agentsight_core::metrics::query::MetricsQuery;
use agentsight_store::{ConversationFilter, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::metrics::filter_sql;
use crate::sqlerr;

/// The facts of `agent_id` for `q`.
pub(crate) fn facts(
    conn: &Connection,
    agent_id: i64,
    q: &MetricsQuery,
    escalation: &[String],
) -> StoreResult<FailureFacts> {
    let (start, end) = q.instants();
    let (fsql, fparams) = filter_sql(q);
    let mut params = vec![Value::Integer(agent_id), Value::Integer(start), Value::Integer(end)];
    params.extend(fparams);
    let in_range = format!(
        "SELECT c.id FROM conversations c WHERE c.agent_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3{fsql}"
    );

    // The conversations, in pk order.
    let mut convs: Vec<(i64, String)> = Vec::new();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT c.id, c.conversation_id FROM conversations c
             WHERE c.agent_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3{fsql} ORDER BY c.id"
        ))
        .map_err(sqlerr)?;
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        convs.push((r.get(0).map_err(sqlerr)?, r.get(1).map_err(sqlerr)?));
    }
    drop(rows);
    drop(stmt);

    // The actions that are more than an entry: escalations, and failed calls (by name). Any
    // other action is an entry and nothing more.
    let mut escalations: HashSet<i64> = HashSet::new();
    let mut failed: HashMap<i64, Vec<String>> = HashMap::new();
    // Plain `?` after the range's: numbered after them.
    let mut aparams = params.clone();
    aparams.extend(escalation.iter().map(|n| Value::Text(n.clone())));
    let names = match escalation.len() {
        0 => "0".to_string(),
        n => format!("a.action_name IN ({})", vec!["?"; n].join(", ")),
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT a.conversation_pk, a.message_id, a.action_name,
                coalesce(a.error_msg, '') <> '' AND a.action_name <> '{TOKEN_USAGE_ACTION}'
             FROM action_logs a
             WHERE a.conversation_pk IN ({in_range}) AND a.message_id IS NOT NULL
               AND ({names} OR (coalesce(a.error_msg, '') <> '' AND a.action_name <> '{TOKEN_USAGE_ACTION}'))"
        ))
        .map_err(sqlerr)?;
    let mut rows = stmt.query(params_from_iter(aparams.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        let pk: i64 = r.get(0).map_err(sqlerr)?;
        let name: String = r.get(2).map_err(sqlerr)?;
        if escalation.contains(&name) {
            escalations.insert(r.get(1).map_err(sqlerr)?);
        }
        if r.get::<_, bool>(3).map_err(sqlerr)? {
            failed.entry(pk).or_default().push(name);
        }
    }
    drop(rows);
    drop(stmt);

    // Their entries: messages by sender, action messages as escalations or others.
    let mut entries: HashMap<i64, Vec<TrailEntry>> = HashMap::new();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT m.conversation_pk, m.ts, m.id, m.kind, m.sender FROM messages m
             WHERE m.conversation_pk IN ({in_range}) AND m.kind IN (0, 1)"
        ))
        .map_err(sqlerr)?;
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        let pk: i64 = r.get(0).map_err(sqlerr)?;
        let id: i64 = r.get(2).map_err(sqlerr)?;
        let step = if r.get::<_, i64>(3).map_err(sqlerr)? == 0 {
            match r.get_ref(4).map_err(sqlerr)?.as_str().unwrap_or("") {
                "end_user" => Step::User,
                "agent" => Step::Agent,
                _ => Step::Other,
            }
        } else if escalations.contains(&id) {
            Step::Escalation
        } else {
            Step::Other
        };
        entries.entry(pk).or_default().push(TrailEntry { ts: r.get(1).map_err(sqlerr)?, id, step });
    }
    drop(rows);
    drop(stmt);

    let mut trails: Vec<ConversationTrail> = convs
        .into_iter()
        .map(|(pk, id)| {
            ConversationTrail::from_entries(
                pk,
                id,
                entries.remove(&pk).unwrap_or_default(),
                failed.remove(&pk).unwrap_or_default(),
            )
        })
        .collect();

    // First questions: the texts of the first user messages.
    let mut stmt = conn.prepare_cached("SELECT content FROM messages WHERE id = ?1").map_err(sqlerr)?;
    for t in &mut trails {
        if let Some(id) = t.first_question_id {
            let text: String = stmt.query_row([id], |r| r.get(0)).map_err(sqlerr)?;
            t.first_question = normalize_question(&text);
        }
    }
    drop(stmt);

    // Tool calls in range by name.
    let sql = format!(
        "SELECT a.action_name, count(*), count(CASE WHEN coalesce(a.error_msg, '') <> '' THEN 1 END)
         FROM action_logs a JOIN conversations c ON c.id = a.conversation_pk
         WHERE a.agent_id = ?1 AND a.ts >= ?2 AND a.ts < ?3 AND a.action_name <> '{TOKEN_USAGE_ACTION}'{fsql}
         GROUP BY a.action_name"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sqlerr)?;
    let tools = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            Ok(ToolCalls {
                name: r.get(0)?,
                calls: r.get::<_, i64>(1)?.max(0) as u64,
                errors: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok(FailureFacts { trails, tools })
}

/// The last user or bot message of `conversations c` is `sender`'s and dated at or before the
/// cutoff (the next bound value).
fn last_talk_is(sender: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM messages l WHERE l.conversation_pk = c.id AND l.kind = 0 AND l.sender = '{sender}'
            AND l.ts <= ? AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.conversation_pk = c.id AND n.kind = 0
                AND n.sender IN ('end_user', 'agent') AND (n.ts > l.ts OR (n.ts = l.ts AND n.id > l.id))))"
    )
}

/// `IN (?, …)` over the escalation names, or `None` when there are none.
fn escalation_names(f: &ConversationFilter, params: &mut Vec<Value>) -> Option<String> {
    if f.escalation_tools.is_empty() {
        return None;
    }
    params.extend(f.escalation_tools.iter().map(|t| Value::Text(t.clone())));
    Some(vec!["?"; f.escalation_tools.len()].join(", "))
}

/// Adds the failure filters of `f` (`unanswered`, `abandoned`, `tool_error`,
/// `tool_error_name`, `escalation_turns_*`) to a list's clauses over `conversations c`.
pub(crate) fn push_filters(f: &ConversationFilter, clauses: &mut Vec<String>, params: &mut Vec<Value>) {
    let not = |b: bool, expr: String| if b { expr } else { format!("NOT ({expr})") };
    if let Some(b) = f.unanswered {
        params.push(Value::Integer(f.idle_cutoff));
        clauses.push(not(b, last_talk_is("end_user")));
    }
    if let Some(b) = f.abandoned {
        params.push(Value::Integer(f.idle_cutoff));
        let mut expr = format!(
            "({} AND EXISTS (SELECT 1 FROM messages u WHERE u.conversation_pk = c.id AND u.kind = 0
                AND u.sender = 'end_user')",
            last_talk_is("agent")
        );
        if let Some(names) = escalation_names(f, params) {
            expr.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM action_logs e WHERE e.conversation_pk = c.id
                    AND e.action_name IN ({names}))"
            ));
        }
        expr.push(')');
        clauses.push(not(b, expr));
    }
    if let Some(b) = f.tool_error {
        clauses.push(not(
            b,
            format!(
                "EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id
                    AND a.action_name <> '{TOKEN_USAGE_ACTION}' AND coalesce(a.error_msg, '') <> '')"
            ),
        ));
    }
    if let Some(name) = &f.tool_error_name {
        params.push(Value::Text(name.clone()));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id AND a.action_name = ?
                AND a.action_name <> '{TOKEN_USAGE_ACTION}' AND coalesce(a.error_msg, '') <> '')"
        ));
    }
    let bounds = [(f.escalation_turns_min, ">="), (f.escalation_turns_max, "<=")];
    for (bound, op) in bounds.into_iter().filter_map(|(b, op)| b.map(|b| (b, op))) {
        let Some(names) = escalation_names(f, params) else {
            clauses.push("0".into());
            continue;
        };
        // The user messages before the first escalation action (by time, then id); NULL when
        // it never escalated, which no bound matches.
        params.push(Value::Integer(i64::from(bound)));
        clauses.push(format!(
            "(SELECT (SELECT count(*) FROM messages u WHERE u.conversation_pk = c.id AND u.kind = 0
                AND u.sender = 'end_user' AND (u.ts < x.ts OR (u.ts = x.ts AND u.id < x.message_id)))
              FROM action_logs x WHERE x.conversation_pk = c.id AND x.action_name IN ({names})
              ORDER BY x.ts, x.message_id LIMIT 1) {op} ?"
        ));
    }
}
