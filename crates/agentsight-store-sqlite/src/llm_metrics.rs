//! `GET /api/metrics/llm/` in SQL over `token_usage`: tokens by kind, cost, calls and errors,
//! by model and by local day. A usage row is in range when its `started_at` (its first call)
//! is; filters restrict rows to those whose conversation matches.

use agentsight_core::limits::LLM_TOP_CONVERSATIONS;
use agentsight_core::metrics::llm::{self, ConversationUsage};
use agentsight_core::metrics::query::{MetricsQuery, day_start};
use agentsight_core::prices::{self, PRICE_TABLE_DATE};
use agentsight_protocol::metrics::AgentRef;
use agentsight_protocol::v01::{LlmDayRow, LlmMetricsResponse, LlmModelRow, LlmTotals};
use agentsight_store::StoreResult;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use crate::metrics::filter_sql;
use crate::sqlerr;

/// The summed columns, in the order [`totals`] reads them (from column `first`).
const SUMS: &str = "sum(u.calls), sum(u.error_calls), sum(u.unreported_calls),
    sum(CASE WHEN u.cost_pico IS NULL THEN u.calls ELSE 0 END), sum(u.input_tokens), sum(u.output_tokens),
    sum(u.cache_read_tokens), sum(u.cache_write_tokens), sum(u.embedding_tokens), sum(u.reasoning_tokens),
    sum(u.audio_input_tokens), sum(u.audio_output_tokens),
    coalesce(sum(u.cost_pico / 1000000), 0), coalesce(sum(u.cost_pico % 1000000), 0)";

/// Totals and their exact cost in pico-USD.
fn totals(r: &Row<'_>, first: usize) -> rusqlite::Result<(LlmTotals, i64)> {
    let g = |i: usize| -> rusqlite::Result<i64> { Ok(r.get::<_, Option<i64>>(first + i)?.unwrap_or(0)) };
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
    let pico = prices::join_split_sum(g(12)?, g(13)?);
    Ok((prices::finish_totals(t, pico), pico))
}

pub(crate) fn llm(conn: &Connection, agent: AgentRef, q: &MetricsQuery) -> StoreResult<LlmMetricsResponse> {
    let (start, end) = q.instants();
    let (fsql, fparams) = filter_sql(q);
    let head = vec![Value::Integer(agent.id), Value::Integer(start), Value::Integer(end)];
    let base = format!(
        "FROM token_usage u JOIN conversations c ON c.id = u.conversation_pk
         WHERE u.agent_id = ? AND u.started_at >= ? AND u.started_at < ?{fsql}"
    );
    let mut p = head.clone();
    p.extend(fparams.iter().cloned());
    let mut stmt =
        conn.prepare(&format!("SELECT u.model, {SUMS} {base} GROUP BY u.model")).map_err(sqlerr)?;
    let mut models: Vec<(LlmModelRow, i64)> = stmt
        .query_map(params_from_iter(p.iter()), |r| {
            let (t, pico) = totals(r, 1)?;
            Ok((LlmModelRow { model: r.get(0)?, totals: t }, pico))
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
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
    let days: Vec<chrono::NaiveDate> = (0..q.days()).map(|i| q.from + chrono::Duration::days(i)).collect();
    let mut daily: Vec<LlmDayRow> = days
        .iter()
        .map(|d| LlmDayRow {
            date: d.format("%Y-%m-%d").to_string(),
            totals: prices::finish_totals(LlmTotals::default(), 0),
        })
        .collect();
    // Days in chunks, to stay well under SQLite's bound-parameter limit.
    for (ci, chunk) in days.chunks(500).enumerate() {
        let values: Vec<String> = (0..chunk.len()).map(|_| "(?, ?, ?)".to_string()).collect();
        // Bound in the order the placeholders appear: the days first, then the range and filters.
        let mut dp: Vec<Value> = Vec::with_capacity(chunk.len() * 3 + p.len());
        for (i, d) in chunk.iter().enumerate() {
            dp.push(Value::Integer((ci * 500 + i) as i64));
            dp.push(Value::Integer(day_start(q.tz, *d)));
            dp.push(Value::Integer(day_start(q.tz, *d + chrono::Duration::days(1))));
        }
        dp.extend(p.iter().cloned());
        let sql = format!(
            "WITH days(i, s, e) AS (VALUES {}) SELECT days.i, {SUMS} {base} AND u.started_at >= days.s AND u.started_at < days.e
             GROUP BY days.i",
            values.join(", ")
        )
        .replacen("FROM token_usage u", "FROM days, token_usage u", 1);
        let mut stmt = conn.prepare(&sql).map_err(sqlerr)?;
        let rows = stmt
            .query_map(params_from_iter(dp.iter()), |r| Ok((r.get::<_, i64>(0)?, totals(r, 1)?.0)))
            .map_err(sqlerr)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sqlerr)?;
        for (i, t) in rows {
            if let Some(d) = daily.get_mut(i as usize) {
                d.totals = t;
            }
        }
    }
    // One fact per conversation; cost per conversation and the top ones are the core's.
    let mut stmt = conn
        .prepare(&format!(
            "SELECT u.conversation_pk, count(u.cost_pico) > 0, coalesce(sum(u.cost_pico / 1000000), 0),
                sum(u.calls),
                sum(u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens + u.embedding_tokens),
                coalesce(sum(u.cost_pico % 1000000), 0)
             {base} GROUP BY u.conversation_pk"
        ))
        .map_err(sqlerr)?;
    let facts = stmt
        .query_map(params_from_iter(p.iter()), |r| {
            Ok(ConversationUsage {
                conversation_pk: r.get(0)?,
                priced: r.get(1)?,
                cost_pico: prices::join_split_sum(r.get(2)?, r.get(5)?),
                calls: r.get(3)?,
                total_tokens: r.get(4)?,
            })
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    let (per_conversation, top) = llm::conversation_costs(facts, LLM_TOP_CONVERSATIONS);
    let mut ids = std::collections::HashMap::new();
    if !top.is_empty() {
        let marks = vec!["?"; top.len()].join(", ");
        let mut stmt = conn
            .prepare(&format!("SELECT id, conversation_id FROM conversations WHERE id IN ({marks})"))
            .map_err(sqlerr)?;
        let rows = stmt
            .query_map(params_from_iter(top.iter().map(|t| t.conversation_pk)), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sqlerr)?;
        for row in rows {
            let (pk, id) = row.map_err(sqlerr)?;
            ids.insert(pk, id);
        }
    }
    Ok(LlmMetricsResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        price_table: PRICE_TABLE_DATE.to_string(),
        totals: prices::finish_totals(all, all_pico),
        by_model: models.into_iter().map(|(m, _)| m).collect(),
        daily,
        per_conversation,
        top_conversations: llm::top_rows(&top, |pk| ids.get(&pk).cloned()),
    })
}
