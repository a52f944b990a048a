//! The metrics overview over raw rows: SQL selects and groups what it can, and
//! `agentsight_core::metrics::build` does the local-time bucketing, zero-filling and sorting.

use agentsight_core::metrics::TOKEN_USAGE_ACTION;
use agentsight_core::metrics::build::{ConversationFact, OverviewBuilder};
use agentsight_core::metrics::feedback;
use agentsight_core::metrics::query::{DimFilter, MetricsQuery};
use agentsight_core::metrics::series::{Buckets, Interval, SeriesMetric};
use agentsight_core::metrics::users::{NamedUsers, UsersBuilder, day_of};
use agentsight_core::time::to_iso;
use agentsight_protocol::metrics::{
    AgentRef, LiveResponse, MinuteCount, OverviewResponse, TimeseriesResponse, ToolRow, UsersResponse,
};
use agentsight_store::StoreResult;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::deltas::LATEST_FEEDBACK_SQL;
use crate::reads::push_metadata_match;
use crate::sqlerr;

/// `AND …` clauses over `conversations c` for the query's filters (soft-deleted conversations
/// are always left out), and their values.
pub fn filter_sql(q: &MetricsQuery) -> (String, Vec<Value>) {
    let f = &q.filters;
    let mut clauses: Vec<String> = vec!["c.is_deleted = 0".to_string()];
    let mut params: Vec<Value> = Vec::new();
    let dims = [
        ("environment", &f.environment),
        ("source", &f.source),
        ("device", &f.device),
        ("language", &f.language),
        ("country", &f.country),
        ("customer_id", &f.customer_id),
    ];
    for (col, d) in dims {
        match d {
            Some(DimFilter::Is(v)) => {
                clauses.push(format!("c.{col} = ?"));
                params.push(Value::Text(v.clone()));
            }
            Some(DimFilter::Unknown) => clauses.push(format!("c.{col} IS NULL")),
            None => {}
        }
    }
    if let Some((k, v)) = &f.metadata {
        push_metadata_match(&mut clauses, &mut params, k, v);
    }
    let sql = clauses.iter().map(|c| format!(" AND {c}")).collect::<String>();
    (sql, params)
}

/// Bot responses in range as rows `(ts, response_us)` (kept at ingest, see `writes/transcript.rs`).
/// Parameters: agent, start, end, then the filter's.
fn responses_sql(fsql: &str) -> String {
    format!(
        "SELECT m.ts, m.response_us FROM messages m JOIN conversations c ON c.id = m.conversation_pk
         WHERE m.agent_id = ?1 AND m.kind = 0 AND m.ts >= ?2 AND m.ts < ?3 AND m.sender = 'agent'
            AND m.response_us IS NOT NULL{fsql}"
    )
}

fn with(mut head: Vec<Value>, tail: &[Value]) -> Vec<Value> {
    head.extend_from_slice(tail);
    head
}

/// Computes the overview of one agent.
pub(crate) fn overview(
    conn: &Connection,
    agent: AgentRef,
    q: &MetricsQuery,
    escalation: &[String],
) -> StoreResult<OverviewResponse> {
    let (start, end) = q.instants();
    let (fsql, fparams) = filter_sql(q);
    let base = vec![Value::Integer(agent.id), Value::Integer(start), Value::Integer(end)];
    let escalation_json = serde_json::to_string(escalation).unwrap_or_else(|_| "[]".into());
    let mut b = OverviewBuilder::new(q);

    // Conversations in range.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT c.started_at, c.customer_id, c.device, c.source, c.language, c.country, c.city,
                c.latitude, c.longitude, c.is_used, c.metadata -> '$.feedback',
                {LATEST_FEEDBACK_SQL},
                EXISTS (SELECT 1 FROM action_logs a WHERE a.conversation_pk = c.id
                    AND a.action_name IN (SELECT value FROM json_each(?4))),
                EXISTS (SELECT 1 FROM messages m WHERE m.conversation_pk = c.id AND m.kind = 0),
                coalesce(c.ended_at, (SELECT max(m.ts) FROM messages m WHERE m.conversation_pk = c.id)),
                c.id
             FROM conversations c
             WHERE c.agent_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3{fsql}"
        ))
        .map_err(sqlerr)?;
    let params = with(with(base.clone(), &[Value::Text(escalation_json)]), &fparams);
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        let started_at: i64 = r.get(0).map_err(sqlerr)?;
        let meta_feedback: Option<String> = r.get(10).map_err(sqlerr)?;
        let explicit: Option<String> = r.get(11).map_err(sqlerr)?;
        let meta_value = meta_feedback.and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        let fb = match explicit.as_deref().and_then(feedback::Sentiment::parse) {
            Some(sentiment) => Some(feedback::Feedback { sentiment, rating: None }),
            None => meta_value.as_ref().and_then(feedback::from_metadata_value),
        };
        let has_message: bool = r.get(13).map_err(sqlerr)?;
        let ended: Option<i64> = r.get(14).map_err(sqlerr)?;
        b.conversation(&ConversationFact {
            pk: r.get(15).map_err(sqlerr)?,
            started_at,
            customer_id: r.get(1).map_err(sqlerr)?,
            device: r.get(2).map_err(sqlerr)?,
            source: r.get(3).map_err(sqlerr)?,
            language: r.get(4).map_err(sqlerr)?,
            country: r.get(5).map_err(sqlerr)?,
            city: r.get(6).map_err(sqlerr)?,
            lat: r.get(7).map_err(sqlerr)?,
            lon: r.get(8).map_err(sqlerr)?,
            is_used: r.get(9).map_err(sqlerr)?,
            feedback: fb,
            escalated: r.get(12).map_err(sqlerr)?,
            duration_us: if has_message { ended.map(|e| e - started_at) } else { None },
        });
    }
    drop(rows);
    drop(stmt);

    // Messages in range.
    let sql = format!(
        "SELECT m.ts, m.sender FROM messages m JOIN conversations c ON c.id = m.conversation_pk
         WHERE m.agent_id = ?1 AND m.kind = 0 AND m.ts >= ?2 AND m.ts < ?3{fsql}"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sqlerr)?;
    let params = with(base.clone(), &fparams);
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        let ts: i64 = r.get(0).map_err(sqlerr)?;
        let sender: String = r.get(1).map_err(sqlerr)?;
        b.message(ts, &sender);
    }
    drop(rows);
    drop(stmt);

    // Responses: an agent message whose previous message (by time, then arrival) is the user's.
    let sql = format!("SELECT count(*), coalesce(sum(response_us), 0) FROM ({})", responses_sql(&fsql));
    let params = with(base.clone(), &fparams);
    let (n, sum): (i64, i64) = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params_from_iter(params.iter()), |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(sqlerr)?;
    b.responses(n.max(0) as u64, i128::from(sum));

    // Tools in range.
    let sql = format!(
        "SELECT a.action_name, count(*),
            sum(CASE WHEN a.duration_ms IS NOT NULL THEN a.duration_ms * 1.0
                     WHEN a.started_at IS NOT NULL AND a.ended_at IS NOT NULL
                        THEN (a.ended_at - a.started_at) / 1000.0 END),
            count(CASE WHEN a.duration_ms IS NOT NULL
                        OR (a.started_at IS NOT NULL AND a.ended_at IS NOT NULL) THEN 1 END),
            count(CASE WHEN a.error_msg IS NOT NULL AND a.error_msg <> '' THEN 1 END)
         FROM action_logs a JOIN conversations c ON c.id = a.conversation_pk
         WHERE a.agent_id = ?1 AND a.ts >= ?2 AND a.ts < ?3 AND a.action_name <> ?4{fsql}
         GROUP BY a.action_name"
    );
    let params = with(with(base, &[Value::Text(TOKEN_USAGE_ACTION.into())]), &fparams);
    let mut stmt = conn.prepare_cached(&sql).map_err(sqlerr)?;
    let tools = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            let sum: Option<f64> = r.get(2)?;
            let known: i64 = r.get(3)?;
            Ok(ToolRow {
                name: r.get(0)?,
                calls: r.get::<_, i64>(1)?.max(0) as u64,
                avg_duration_ms: if known > 0 { sum.map(|s| s / known as f64) } else { None },
                errors: r.get::<_, i64>(4)?.max(0) as u64,
            })
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    b.tools(tools);
    Ok(b.finish(agent))
}

/// Runs `sql` (its first three parameters are agent, start, end) and calls `f` on every row.
fn each_row(
    conn: &Connection,
    sql: &str,
    params: &[Value],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(sql).map_err(sqlerr)?;
    let mut rows = stmt.query(params_from_iter(params.iter())).map_err(sqlerr)?;
    while let Some(r) = rows.next().map_err(sqlerr)? {
        f(r).map_err(sqlerr)?;
    }
    Ok(())
}

/// One metric bucketed by local hour, day, week or month.
pub(crate) fn timeseries(
    conn: &Connection,
    agent: AgentRef,
    q: &MetricsQuery,
    metric: SeriesMetric,
    interval: Interval,
) -> StoreResult<TimeseriesResponse> {
    let (start, end) = q.instants();
    let (fsql, fparams) = filter_sql(q);
    let params = with(vec![Value::Integer(agent.id), Value::Integer(start), Value::Integer(end)], &fparams);
    let buckets = Buckets::new(q, interval);
    let mut counts = vec![0u64; buckets.len()];
    let mut sums = vec![0i128; buckets.len()];
    let mut count_at = |ts: i64, add: i128| {
        if let Some(i) = buckets.of(ts) {
            counts[i] += 1;
            sums[i] += add;
        }
    };
    match metric {
        SeriesMetric::Messages => each_row(
            conn,
            &format!(
                "SELECT m.ts FROM messages m JOIN conversations c ON c.id = m.conversation_pk
                 WHERE m.agent_id = ?1 AND m.kind = 0 AND m.ts >= ?2 AND m.ts < ?3{fsql}"
            ),
            &params,
            |r| {
                count_at(r.get(0)?, 0);
                Ok(())
            },
        )?,
        SeriesMetric::Conversations | SeriesMetric::UniqueInteractions => each_row(
            conn,
            &format!(
                "SELECT c.started_at, c.is_used FROM conversations c
                 WHERE c.agent_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3{fsql}"
            ),
            &params,
            |r| {
                let used: bool = r.get(1)?;
                if metric == SeriesMetric::Conversations || used {
                    count_at(r.get(0)?, 0);
                }
                Ok(())
            },
        )?,
        SeriesMetric::BotResponses | SeriesMetric::AvgBotResponseTimeMs => each_row(
            conn,
            &responses_sql(&fsql),
            &params,
            |r| {
                count_at(r.get(0)?, i128::from(r.get::<_, i64>(1)?));
                Ok(())
            },
        )?,
        SeriesMetric::ToolCalls => each_row(
            conn,
            &format!(
                "SELECT a.ts FROM action_logs a JOIN conversations c ON c.id = a.conversation_pk
                 WHERE a.agent_id = ?1 AND a.ts >= ?2 AND a.ts < ?3 AND a.action_name <> '{TOKEN_USAGE_ACTION}'{fsql}"
            ),
            &params,
            |r| {
                count_at(r.get(0)?, 0);
                Ok(())
            },
        )?,
    }
    Ok(agentsight_core::metrics::series::response(agent, q, metric, interval, &buckets, &counts, &sums))
}

/// Users over time from raw rows: the users of the conversations in range that match, then
/// each one's first seen over all the agent's live conversations (`conversations_agent_customer`).
pub(crate) fn users(
    conn: &Connection,
    agent: AgentRef,
    q: &MetricsQuery,
    interval: Interval,
) -> StoreResult<UsersResponse> {
    let (start, end) = q.instants();
    let (fsql, fparams) = filter_sql(q);
    let params = with(vec![Value::Integer(agent.id), Value::Integer(start), Value::Integer(end)], &fparams);
    let mut facts: Vec<(String, i64)> = Vec::new();
    each_row(
        conn,
        &format!(
            "SELECT c.customer_id, c.started_at FROM conversations c
             WHERE c.agent_id = ?1 AND c.started_at >= ?2 AND c.started_at < ?3
                AND c.customer_id IS NOT NULL AND c.customer_id <> ''{fsql}"
        ),
        &params,
        |r| {
            facts.push((r.get(0)?, r.get(1)?));
            Ok(())
        },
    )?;
    let mut named = NamedUsers::new();
    let mut first = conn
        .prepare_cached(
            "SELECT min(started_at) FROM conversations
             WHERE agent_id = ?1 AND customer_id = ?2 AND is_deleted = 0",
        )
        .map_err(sqlerr)?;
    let mut seen = std::collections::HashSet::new();
    for (customer, _) in &facts {
        if seen.insert(customer.as_str()) {
            let at: Option<i64> =
                first.query_row(rusqlite::params![agent.id, customer], |r| r.get(0)).map_err(sqlerr)?;
            named.id(customer, at.unwrap_or(i64::MAX));
        }
    }
    let mut b = UsersBuilder::new(q, interval);
    for (customer, ts) in &facts {
        if let Some(day) = day_of(q, *ts) {
            b.add(named.id(customer, *ts), day);
        }
    }
    Ok(named.finish(b, agent))
}

/// Live activity: conversations with any entry in the last 5 minutes, messages per minute.
pub(crate) fn live(conn: &Connection, agent: AgentRef, now: i64) -> StoreResult<LiveResponse> {
    const MINUTE: i64 = 60_000_000;
    let active: i64 = conn
        .prepare_cached(
            "SELECT count(DISTINCT conversation_pk) FROM messages
             WHERE agent_id = ?1 AND kind IN (0, 1, 2) AND ts > ?2 AND ts <= ?3",
        )
        .and_then(|mut s| s.query_row(rusqlite::params![agent.id, now - 5 * MINUTE, now], |r| r.get(0)))
        .map_err(sqlerr)?;
    let first = (now / MINUTE - 59) * MINUTE;
    let mut per_minute = [0u64; 60];
    each_row(
        conn,
        "SELECT ts FROM messages WHERE agent_id = ?1 AND kind = 0 AND ts >= ?2 AND ts < ?3",
        &[Value::Integer(agent.id), Value::Integer(first), Value::Integer(first + 60 * MINUTE)],
        |r| {
            let ts: i64 = r.get(0)?;
            if let Some(slot) =
                usize::try_from((ts - first) / MINUTE).ok().and_then(|i| per_minute.get_mut(i))
            {
                *slot += 1;
            }
            Ok(())
        },
    )?;
    Ok(LiveResponse {
        agent,
        now: to_iso(now),
        active_conversations: active.max(0) as u64,
        messages_per_minute: per_minute
            .iter()
            .enumerate()
            .map(|(i, n)| MinuteCount { minute: to_iso(first + i as i64 * MINUTE), messages: *n })
            .collect(),
    })
}
