//! The span archive and LLM usage of the data plane (B5.6, B5.7): spans, traces, token usage
//! rows and their summary.

use agentsight_store::prelude::*;
use std::collections::HashMap;

use agentsight_core::ValidationErrors;
use agentsight_core::prices::{self, EUR_PER_USD};
use agentsight_core::spans::{parse_span_id, span_id_hex};
use agentsight_core::time::to_iso;
use agentsight_protocol::{self as wire, v01};
use agentsight_store::{PageRequest, SpanFilter, SpanRow, TokenUsageRow, UsageFilter, UsageGroupBy};
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;

use super::conversations::{Params, page_of, parse_bool, parse_instant, parse_page};
use super::parse_pk;
use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::ReadKey;

/// Spans of one trace returned at most.
pub const MAX_TRACE_SPANS: i64 = 5_000;

fn text(q: &Params, k: &str) -> Option<String> {
    q.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn env_param(q: &Params) -> Option<String> {
    text(q, "environment").or_else(|| text(q, "env")).map(|v| match v.to_lowercase().as_str() {
        "prod" => "production".to_string(),
        "dev" => "development".to_string(),
        other => other.to_string(),
    })
}

fn pk_param(e: &mut ValidationErrors, q: &Params, k: &str) -> Option<i64> {
    let v = text(q, k)?;
    match v.parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            e.add(k, "A positive integer is required.");
            None
        }
    }
}

fn span_id_param(e: &mut ValidationErrors, q: &Params, k: &str) -> Option<u64> {
    let v = text(q, k)?;
    let id = parse_span_id(&v);
    if id.is_none() {
        e.add(k, "Must be 16 hexadecimal digits.");
    }
    id
}

fn want_payload(e: &mut ValidationErrors, q: &Params) -> bool {
    parse_bool(e, q, "payload").unwrap_or(false)
}

/// The span's `payload` is there when the store read it (asked for with `payload=true`).
pub(crate) fn span_response(s: &SpanRow) -> v01::SpanResponse {
    v01::SpanResponse {
        id: s.id,
        conversation: s.conversation_pk,
        conversation_id: s.conversation_id.clone(),
        span_id: span_id_hex(s.span_id),
        trace_id: s.trace_id.clone(),
        parent_span_id: s.parent_span_id.map(span_id_hex),
        turn_id: s.turn_id.map(span_id_hex),
        kind: s.kind.clone(),
        name: s.name.clone(),
        status: s.status.clone(),
        started_at: to_iso(s.started_at),
        ended_at: to_iso(s.ended_at),
        duration_ms: s.duration_ms,
        projection: s.state.as_str().to_string(),
        sdk_version: s.sdk_version.clone(),
        environment: s.environment.clone(),
        received_at: to_iso(s.received_at),
        payload: s.payload.as_deref().map(|p| serde_json::from_str(p).unwrap_or(serde_json::Value::Null)),
    }
}

/// `GET /api/spans/`'s query: the filter, the page, and whether to read payloads.
pub(crate) fn span_query(q: &Params) -> Result<(SpanFilter, PageRequest, bool), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let descending = match text(q, "ordering").as_deref() {
        None | Some("started_at") => false,
        Some("-started_at") => true,
        Some(_) => {
            e.add("ordering", "Use started_at or -started_at.");
            false
        }
    };
    let filter = SpanFilter {
        conversation: pk_param(&mut e, q, "conversation"),
        conversation_id: text(q, "conversation_id"),
        environment: env_param(q),
        kind: text(q, "kind").map(|k| k.to_ascii_lowercase()),
        name: text(q, "name"),
        parent_span_id: span_id_param(&mut e, q, "parent_span_id"),
        span_id: span_id_param(&mut e, q, "span_id"),
        status: text(q, "status").map(|k| k.to_ascii_lowercase()),
        trace_id: text(q, "trace_id").map(|k| k.to_ascii_lowercase()),
        started_at_after: parse_instant(&mut e, q, "started_at_after", false),
        started_at_before: parse_instant(&mut e, q, "started_at_before", true),
        descending,
    };
    let payload = want_payload(&mut e, q);
    let page = parse_page(&mut e, q);
    e.into_result((filter, page, payload))
}

/// `GET /api/spans/?payload=&filters…`: archived spans, oldest first (`ordering=-started_at`
/// for newest first).
#[utoipa::path(
    get,
    path = "/api/spans/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(super::openapi::PageQuery, super::openapi::SpanQuery),
    responses(
        (status = 200, description = "A page of archived spans.", body = wire::Page<v01::SpanResponse>),
    ),
)]
pub(crate) async fn list_spans<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<Params>,
) -> Result<Json<wire::Page<v01::SpanResponse>>, ApiError> {
    let (filter, page, payload) = span_query(&q)?;
    let (count, rows) = st.events.list_spans(key.agent_id(), filter, page, payload).await?;
    let results = rows.iter().map(span_response).collect();
    Ok(Json(page_of(st.settings.public_url.as_deref(), &headers, &uri, page, count, results)))
}

/// `GET /api/spans/{id}/?payload=true|false` (the row id, not the span id).
#[utoipa::path(
    get,
    path = "/api/spans/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(
        ("id" = i64, Path, description = "Span row id."),
        ("payload" = Option<bool>, Query, description = "With the span as sent."),
    ),
    responses((status = 200, description = "The span.", body = v01::SpanResponse)),
)]
pub(crate) async fn get_span<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<v01::SpanResponse>, ApiError> {
    let mut e = ValidationErrors::default();
    let payload = parse_bool(&mut e, &q, "payload").unwrap_or(true);
    e.into_result(())?;
    let s = st.events.span(key.agent_id(), parse_pk(&id)?, payload).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(span_response(&s)))
}

/// `GET /api/traces/{trace_id}/`: the trace as a tree; a span whose parent is missing is a root.
#[utoipa::path(
    get,
    path = "/api/traces/{trace_id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("trace_id" = String, Path, description = "32 hex digits.")),
    responses((status = 200, description = "The trace as a tree.", body = v01::TraceResponse)),
)]
pub(crate) async fn get_trace<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(trace_id): Path<String>,
) -> Result<Json<v01::TraceResponse>, ApiError> {
    let trace_id = trace_id.trim().to_ascii_lowercase();
    if trace_id.is_empty() || trace_id.len() > 32 || !trace_id.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound);
    }
    let (rows, truncated) = st.events.trace(key.agent_id(), trace_id.clone(), MAX_TRACE_SPANS).await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(v01::TraceResponse { trace_id, span_count: rows.len(), truncated, roots: tree(&rows) }))
}

/// Builds the forest: children under their parent (same conversation and span id), oldest first.
fn tree(rows: &[SpanRow]) -> Vec<v01::TraceNode> {
    let index: HashMap<(i64, u64), usize> =
        rows.iter().enumerate().map(|(i, s)| ((s.conversation_pk, s.span_id), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (i, s) in rows.iter().enumerate() {
        match s.parent_span_id.and_then(|p| index.get(&(s.conversation_pk, p))) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => roots.push(i),
        }
    }
    fn build(i: usize, rows: &[SpanRow], children: &[Vec<usize>], depth: usize) -> v01::TraceNode {
        v01::TraceNode {
            span: span_response(&rows[i]),
            children: if depth > 64 {
                Vec::new()
            } else {
                children[i].iter().map(|&c| build(c, rows, children, depth + 1)).collect()
            },
        }
    }
    roots.into_iter().map(|i| build(i, rows, &children, 0)).collect()
}

fn usage_filter(e: &mut ValidationErrors, q: &Params) -> UsageFilter {
    UsageFilter {
        conversation: pk_param(e, q, "conversation"),
        conversation_id: text(q, "conversation_id"),
        cost_source: text(q, "cost_source").and_then(|v| {
            let v = v.to_ascii_lowercase();
            if ["backend", "unpriced", "reported"].contains(&v.as_str()) {
                Some(v)
            } else {
                e.add("cost_source", "Use backend, unpriced or reported.");
                None
            }
        }),
        environment: env_param(q),
        incomplete: parse_bool(e, q, "incomplete"),
        model: text(q, "model"),
        turn_id: span_id_param(e, q, "turn_id"),
        started_at_after: parse_instant(e, q, "started_at_after", false),
        started_at_before: parse_instant(e, q, "started_at_before", true),
    }
}

fn usage_response(u: &TokenUsageRow) -> v01::TokenUsageResponse {
    let t = &u.tokens;
    v01::TokenUsageResponse {
        id: u.id,
        conversation: u.conversation_pk,
        conversation_id: u.conversation_id.clone(),
        turn_id: u.turn_id.map(span_id_hex),
        model: u.model.clone(),
        system: u.system.clone(),
        calls: u.calls,
        unreported_calls: u.unreported_calls,
        error_calls: u.error_calls,
        input_tokens: t.input,
        output_tokens: t.output,
        cache_read_tokens: t.cache_read,
        cache_write_tokens: t.cache_write,
        embedding_tokens: t.embedding,
        reasoning_tokens: t.reasoning,
        audio_input_tokens: t.audio_input,
        audio_output_tokens: t.audio_output,
        total_tokens: t.total(),
        cost_usd: u.cost_pico.map(prices::pico_to_decimal),
        cost_usd_reported: None,
        cost_source: u.cost_source.clone(),
        price_table: u.price_table.clone(),
        incomplete: u.incomplete,
        incomplete_reason: u.incomplete_reason.clone(),
        environment: u.environment.clone(),
        started_at: to_iso(u.started_at),
        ended_at: to_iso(u.ended_at),
    }
}

/// `GET /api/token-usage/`'s query: the filter and the page.
pub(crate) fn usage_query(q: &Params) -> Result<(UsageFilter, PageRequest), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let filter = usage_filter(&mut e, q);
    let page = parse_page(&mut e, q);
    e.into_result((filter, page))
}

/// `GET /api/token-usage/summary/`'s query: the filter, the grouping and the currency.
pub(crate) fn summary_query(q: &Params) -> Result<(UsageFilter, UsageGroupBy, String), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let filter = usage_filter(&mut e, q);
    let group_by = match text(q, "group_by").unwrap_or_else(|| "model".into()).to_ascii_lowercase().as_str() {
        "model" => UsageGroupBy::Model,
        "conversation" => UsageGroupBy::Conversation,
        "day" => UsageGroupBy::Day,
        _ => {
            e.add("group_by", "Use model, conversation or day.");
            UsageGroupBy::Model
        }
    };
    let currency = text(q, "currency").unwrap_or_else(|| "usd".into()).to_ascii_lowercase();
    if currency != "usd" && currency != "eur" {
        e.add("currency", "Use usd or eur.");
    }
    e.into_result((filter, group_by, currency))
}

/// `GET /api/token-usage/` (paged, newest first).
#[utoipa::path(
    get,
    path = "/api/token-usage/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(super::openapi::PageQuery, super::openapi::UsageQuery),
    responses(
        (status = 200, description = "A page of usage rows.", body = wire::Page<v01::TokenUsageResponse>),
    ),
)]
pub(crate) async fn list_token_usage<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<Params>,
) -> Result<Json<wire::Page<v01::TokenUsageResponse>>, ApiError> {
    let (filter, page) = usage_query(&q)?;
    let (count, rows) = st.events.list_token_usage(key.agent_id(), filter, page).await?;
    Ok(Json(page_of(
        st.settings.public_url.as_deref(),
        &headers,
        &uri,
        page,
        count,
        rows.iter().map(usage_response).collect(),
    )))
}

/// `GET /api/token-usage/summary/?group_by=model|conversation|day&currency=usd|eur&filters…`.
#[utoipa::path(
    get,
    path = "/api/token-usage/summary/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(super::openapi::UsageQuery),
    responses((status = 200, description = "Usage by group.", body = v01::UsageSummaryResponse)),
)]
pub(crate) async fn usage_summary<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Query(q): Query<Params>,
) -> Result<Json<v01::UsageSummaryResponse>, ApiError> {
    let (filter, group_by, currency) = summary_query(&q)?;
    let groups = st.events.usage_summary(key.agent_id(), filter, group_by).await?;
    let results = groups
        .into_iter()
        .map(|g| {
            let usd = prices::pico_to_f64(g.cost_pico);
            let t = g.tokens;
            v01::UsageGroupResponse {
                group: g.group,
                calls: g.calls,
                rows: g.rows,
                error_calls: g.error_calls,
                input_tokens: t.input,
                output_tokens: t.output,
                cache_read_tokens: t.cache_read,
                cache_write_tokens: t.cache_write,
                embedding_tokens: t.embedding,
                reasoning_tokens: t.reasoning,
                audio_input_tokens: t.audio_input,
                audio_output_tokens: t.audio_output,
                total_tokens: t.total(),
                cost_usd: usd,
                cost_eur: (currency == "eur").then_some(usd * EUR_PER_USD),
                unpriced_rows: g.unpriced_rows,
            }
        })
        .collect();
    let group_by = match group_by {
        UsageGroupBy::Model => "model",
        UsageGroupBy::Conversation => "conversation",
        UsageGroupBy::Day => "day",
    };
    Ok(Json(v01::UsageSummaryResponse { group_by: group_by.into(), currency, results }))
}
