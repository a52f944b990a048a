//! The 0.0.x read and manage API: list, lookup, transcript, attachments, rename, mark, update,
//! soft delete. Every query is scoped to the key's agent: another agent's pk is a 404.

use agentsight_store::prelude::*;
use std::collections::HashMap;

use agentsight_core::ValidationErrors;
use agentsight_core::limits::{MAX_METADATA_FILTER_PAIRS, MAX_PAGE_SIZE};
use agentsight_core::metrics::failures;
use agentsight_core::metrics::query::{UNKNOWN, local_day_bounds};
use agentsight_core::normalize;
use agentsight_core::time::{self, now_micros};
use agentsight_core::tracking::{self, ConversationPatch, ConversationRef};
use agentsight_protocol as wire;
use agentsight_store::{ConversationFilter, ConversationOrder, Dimension, PageRequest};
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;

use super::parse_pk;
use crate::app::{AppState, Store};
use crate::auth::{ReadAccess, WriteAccess};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::present;

pub(crate) type Params = HashMap<String, String>;

pub(crate) fn parse_bool(e: &mut ValidationErrors, q: &Params, field: &str) -> Option<bool> {
    let v = q.get(field)?.trim().to_ascii_lowercase();
    match v.as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        "" => None,
        _ => {
            e.add(field, "Must be true or false.");
            None
        }
    }
}

pub(crate) fn parse_instant(
    e: &mut ValidationErrors,
    q: &Params,
    field: &str,
    end_of_day: bool,
) -> Option<i64> {
    let v = q.get(field).map(|s| s.trim()).filter(|s| !s.is_empty())?;
    // A bare date means the start (after) or the end (before) of that UTC day.
    let full = if v.len() == 10 {
        if end_of_day { format!("{v}T23:59:59.999999Z") } else { format!("{v}T00:00:00Z") }
    } else {
        v.to_string()
    };
    e.check(field, time::parse_timestamp(&full))
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).max()
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.into_iter().chain(b).min()
}

pub(crate) fn parse_int(e: &mut ValidationErrors, q: &Params, field: &str, default: i64, max: i64) -> i64 {
    match q.get(field).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => default,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 1 => n.min(max),
            _ => {
                e.add(field, "A positive integer is required.");
                default
            }
        },
    }
}

/// Parses the listing query (A2.6) into a filter and a page; bad values name their parameter.
pub(crate) fn parse_list_query(q: &Params) -> Result<(ConversationFilter, PageRequest), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let mut unknown = Vec::new();
    // `unknown` matches a null dimension, as in the metrics filters.
    for d in [
        Dimension::Device,
        Dimension::Source,
        Dimension::Language,
        Dimension::Environment,
        Dimension::Country,
        Dimension::CustomerId,
    ] {
        if q.get(d.column()).is_some_and(|v| v.trim().eq_ignore_ascii_case(UNKNOWN)) {
            unknown.push(d);
        }
    }
    let text = |k: &str| {
        q.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case(UNKNOWN))
    };
    let (day_after, day_before) = local_day_bounds(&mut e, q);
    let mut metadata = Vec::new();
    if let Some(m) = text("metadata") {
        let pairs: Vec<&str> = m.split(',').filter(|p| !p.trim().is_empty()).collect();
        if pairs.len() > MAX_METADATA_FILTER_PAIRS {
            e.add(
                "metadata",
                format!("At most {MAX_METADATA_FILTER_PAIRS} key:value pairs ({} given).", pairs.len()),
            );
        }
        for pair in pairs.into_iter().take(MAX_METADATA_FILTER_PAIRS) {
            match pair.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => {
                    metadata.push((k.trim().to_string(), v.trim().to_string()))
                }
                _ => e.add("metadata", format!("Use key:value pairs separated by commas ('{pair}').")),
            }
        }
    }
    let filter = ConversationFilter {
        action_name: text("action_name"),
        conversation_id: text("conversation_id"),
        customer_id: text("customer_id"),
        customer_ip_address: text("customer_ip_address")
            .and_then(|v| e.check("customer_ip_address", normalize::ip_address(&v)))
            .map(|ip| ip.to_string()),
        device: text("device").and_then(|v| e.check("device", normalize::device(&v))),
        language: text("language").and_then(|v| e.check("language", normalize::language(&v))),
        source: text("source").and_then(|v| e.check("source", normalize::source(&v))),
        environment: text("environment").or_else(|| text("env")).map(|v| match v.to_lowercase().as_str() {
            "prod" => "production".to_string(),
            "dev" => "development".to_string(),
            other => other.to_string(),
        }),
        message_contains: text("message_contains").or_else(|| text("q")),
        name: text("name"),
        metadata,
        has_messages: parse_bool(&mut e, q, "has_messages"),
        is_marked: parse_bool(&mut e, q, "is_marked"),
        is_used: parse_bool(&mut e, q, "is_used"),
        include_deleted: parse_bool(&mut e, q, "include_deleted").unwrap_or(false),
        has_feedback: parse_bool(&mut e, q, "has_feedback"),
        feedback_sentiment: text("feedback_sentiment")
            .and_then(|v| e.check("feedback_sentiment", normalize::sentiment(&v))),
        feedback_source: text("feedback_source").and_then(|v| {
            let v = v.to_ascii_lowercase();
            if v == "customer" || v == "platform" {
                Some(v)
            } else {
                e.add("feedback_source", "Use customer or platform.");
                None
            }
        }),
        started_at_after: max_opt(parse_instant(&mut e, q, "started_at_after", false), day_after),
        started_at_before: min_opt(parse_instant(&mut e, q, "started_at_before", true), day_before),
        country: text("country").and_then(|v| {
            let c = v.to_ascii_uppercase();
            if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                Some(c)
            } else {
                e.add("country", format!("'{v}' is not an ISO 3166-1 alpha-2 country code"));
                None
            }
        }),
        unknown,
        escalated: parse_bool(&mut e, q, "escalated"),
        // Filled in by the handler from the agent's settings.
        escalation_tools: vec![],
        customer_id_contains: text("customer_id__icontains"),
        has_action: parse_bool(&mut e, q, "has_action"),
        unanswered: parse_bool(&mut e, q, "unanswered"),
        abandoned: parse_bool(&mut e, q, "abandoned"),
        idle_cutoff: {
            let idle = e.check(
                "idle_minutes",
                failures::parse_idle_minutes(q.get("idle_minutes").map(String::as_str)),
            );
            now_micros().saturating_sub(idle.unwrap_or(0).saturating_mul(60_000_000))
        },
        tool_error: parse_bool(&mut e, q, "tool_error"),
        tool_error_name: text("tool_error_name"),
        escalation_turns_min: q
            .get("escalation_turns_min")
            .filter(|s| !s.trim().is_empty())
            .and_then(|v| e.check("escalation_turns_min", failures::parse_turns(v))),
        escalation_turns_max: q
            .get("escalation_turns_max")
            .filter(|s| !s.trim().is_empty())
            .and_then(|v| e.check("escalation_turns_max", failures::parse_turns(v))),
        metadata_key: text("metadata_key"),
        metadata_value: text("metadata_value"),
        search: text("search"),
        ordering: match text("ordering").as_deref() {
            None | Some("-started_at") => ConversationOrder::StartedDesc,
            Some("started_at") => ConversationOrder::StartedAsc,
            Some("-updated_at") => ConversationOrder::UpdatedDesc,
            Some("updated_at") => ConversationOrder::UpdatedAsc,
            Some(_) => {
                e.add("ordering", "Use started_at, -started_at, updated_at or -updated_at.");
                ConversationOrder::StartedDesc
            }
        },
    };
    let page = PageRequest {
        page: parse_int(&mut e, q, "page", 1, i64::from(u32::MAX)),
        page_size: parse_int(&mut e, q, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    };
    e.into_result((filter, page))
}

/// The list query with the agent's escalation tool names filled in (for `escalated` and the
/// export's column).
pub(crate) async fn dashboard_query<S: Store>(
    st: &AppState<S>,
    agent_id: i64,
    q: &Params,
) -> Result<(ConversationFilter, PageRequest), ApiError> {
    let (mut filter, page) = parse_list_query(q)?;
    filter.escalation_tools = super::metrics::escalation_list(st, agent_id).await?.0;
    Ok((filter, page))
}

/// The link to another page of a listing: under the configured public URL, else under the
/// scheme and host the request came with (`X-Forwarded-Proto`/`-Host` from a trusted proxy,
/// else `http` and the `Host` header, which the client chose).
pub(crate) fn page_url(
    public_url: Option<&str>,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    page: i64,
) -> String {
    let origin = match public_url {
        Some(base) => base.to_string(),
        None => crate::proxy::request_origin(headers),
    };
    let mut pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
                .filter(|(k, _)| *k != "page" && !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    pairs.push(("page".into(), page.to_string()));
    let query: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{origin}{}?{}", uri.path(), query.join("&"))
}

/// The seven-key paging envelope (B5.8) of one page of `count` rows.
pub(crate) fn page_of<T>(
    public_url: Option<&str>,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    page: PageRequest,
    count: i64,
    results: Vec<T>,
) -> wire::Page<T> {
    let total_pages = ((count + page.page_size - 1) / page.page_size).max(1);
    wire::Page {
        count,
        next: (page.page < total_pages).then(|| page_url(public_url, headers, uri, page.page + 1)),
        previous: (page.page > 1)
            .then(|| page_url(public_url, headers, uri, (page.page - 1).min(total_pages))),
        results,
        page_size: page.page_size,
        total_pages,
        current_page: page.page,
    }
}

/// `page` and `page_size` (≤ 100) of a listing.
pub(crate) fn parse_page(e: &mut ValidationErrors, q: &Params) -> PageRequest {
    PageRequest {
        page: parse_int(e, q, "page", 1, i64::from(u32::MAX)),
        page_size: parse_int(e, q, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    }
}

/// `full=true`: rows with their transcripts (messages, attachments, action logs, feedback).
pub(crate) fn full_param(q: &Params) -> Result<bool, ApiError> {
    let mut e = ValidationErrors::default();
    let full = parse_bool(&mut e, q, "full").unwrap_or(false);
    e.into_result(full).map_err(ApiError::from)
}

/// `GET /api/conversations/`: the paginated, filtered list, newest first; with `full=true`
/// each row carries its transcript.
#[utoipa::path(
    get,
    path = "/api/conversations/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [])),
    params(super::openapi::ConversationQuery),
    responses(
        (status = 200, description = "A page of conversations, newest first (with `full=true`, each with `messages` and `feedbacks`).", body = wire::Page<wire::ConversationResponse>),
    ),
)]
pub(crate) async fn list_conversations<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadAccess,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let full = full_param(&q)?;
    let (filter, page) = dashboard_query(&st, key.agent_id(), &q).await?;
    let (count, rows) = st.events.list_conversations(key.agent_id(), filter, page).await?;
    let results: Vec<serde_json::Value> = if full {
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(t) = st.events.transcript(key.agent_id(), r.id).await? {
                out.push(serde_json::to_value(present::transcript(&t)).unwrap_or_default());
            }
        }
        out
    } else {
        rows.iter().map(|r| serde_json::to_value(present::conversation(r)).unwrap_or_default()).collect()
    };
    let body = page_of(st.settings.public_url.as_deref(), &headers, &uri, page, count, results);
    Ok(Json(serde_json::to_value(body).unwrap_or_default()))
}

/// `GET /api/conversations/lookup/?conversation_id=…`: the client's id → the conversation.
#[utoipa::path(
    get,
    path = "/api/conversations/lookup/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [])),
    params(
        ("conversation_id" = String, Query, description = "The client's conversation id."),
        super::openapi::AgentQuery,
    ),
    responses((status = 200, description = "The conversation.", body = wire::ConversationResponse)),
)]
pub(crate) async fn lookup_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadAccess,
    Query(q): Query<Params>,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    let id = q
        .get("conversation_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("conversation_id", "This query parameter is required."))?;
    let row = st
        .events
        .conversation(key.agent_id(), ConversationRef::Id(id.to_string()))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(present::conversation(&row)))
}

/// `GET /api/conversations/{pk}/`: the conversation with its transcript and feedback
/// (`full=false`: the conversation's fields only).
#[utoipa::path(
    get,
    path = "/api/conversations/{pk}/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [])),
    params(
        ("pk" = i64, Path, description = "Conversation pk."),
        ("full" = Option<bool>, Query, description = "With the transcript (default true)."),
        super::openapi::AgentQuery,
    ),
    responses(
        (status = 200, description = "The conversation, with its transcript unless `full=false`.", body = super::openapi::ConversationOrDetail),
    ),
)]
pub(crate) async fn get_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadAccess,
    Path(pk): Path<String>,
    Query(q): Query<Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pk = parse_pk(&pk)?;
    let full = !q.contains_key("full") || full_param(&q)?;
    if !full {
        let row = st
            .events
            .conversation(key.agent_id(), ConversationRef::Pk(pk))
            .await?
            .ok_or(ApiError::NotFound)?;
        return Ok(Json(serde_json::to_value(present::conversation(&row)).unwrap_or_default()));
    }
    let t = st.events.transcript(key.agent_id(), pk).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(serde_json::to_value(present::transcript(&t)).unwrap_or_default()))
}

/// `GET /api/conversations/{pk}/attachments/`.
#[utoipa::path(
    get,
    path = "/api/conversations/{pk}/attachments/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [])),
    params(("pk" = i64, Path, description = "Conversation pk."), super::openapi::AgentQuery),
    responses(
        (status = 200, description = "The files, grouped by message.", body = wire::ConversationAttachmentsResponse),
    ),
)]
pub(crate) async fn list_conversation_attachments<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadAccess,
    Path(pk): Path<String>,
) -> Result<Json<wire::ConversationAttachmentsResponse>, ApiError> {
    let t = st.events.transcript(key.agent_id(), parse_pk(&pk)?).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(present::attachment_groups(&t)))
}

async fn apply<S: Store>(
    st: &AppState<S>,
    key: &WriteAccess,
    pk: &str,
    patch: ConversationPatch,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    let row = st
        .events
        .patch_conversation(key.agent_id(), parse_pk(pk)?, patch, now_micros())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(present::conversation(&row)))
}

/// `PATCH /api/conversations/{pk}/rename/` `{"name"}`.
#[utoipa::path(
    patch,
    path = "/api/conversations/{pk}/rename/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [], "csrf" = [])),
    params(("pk" = i64, Path, description = "Conversation pk."), super::openapi::AgentQuery),
    request_body = wire::RenamePayload,
    responses(
        (status = 200, description = "The conversation as changed.", body = wire::ConversationResponse),
    ),
)]
pub(crate) async fn rename_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteAccess,
    Path(pk): Path<String>,
    ApiJson(p): ApiJson<wire::RenamePayload>,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    let patch = tracking::validate_patch(&wire::UpdatePayload { name: Some(p.name), ..Default::default() })?;
    apply(&st, &key, &pk, patch).await
}

/// `POST /api/conversations/{pk}/mark/` `{"is_marked"}`.
#[utoipa::path(
    post,
    path = "/api/conversations/{pk}/mark/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [], "csrf" = [])),
    params(("pk" = i64, Path, description = "Conversation pk."), super::openapi::AgentQuery),
    request_body = wire::MarkPayload,
    responses(
        (status = 200, description = "The conversation as changed.", body = wire::ConversationResponse),
    ),
)]
pub(crate) async fn mark_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteAccess,
    Path(pk): Path<String>,
    ApiJson(p): ApiJson<wire::MarkPayload>,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    apply(&st, &key, &pk, ConversationPatch { is_marked: Some(p.is_marked), ..Default::default() }).await
}

/// `PATCH /api/conversations/{pk}/update/` with any subset of the fields.
#[utoipa::path(
    patch,
    path = "/api/conversations/{pk}/update/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [], "csrf" = [])),
    params(("pk" = i64, Path, description = "Conversation pk."), super::openapi::AgentQuery),
    request_body = wire::UpdatePayload,
    responses(
        (status = 200, description = "The conversation as changed.", body = wire::ConversationResponse),
    ),
)]
pub(crate) async fn update_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteAccess,
    Path(pk): Path<String>,
    ApiJson(p): ApiJson<wire::UpdatePayload>,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    let patch = tracking::validate_patch(&p)?;
    apply(&st, &key, &pk, patch).await
}

/// `DELETE /api/conversations/{pk}/delete/`: soft delete; answers the row with `is_deleted`.
#[utoipa::path(
    delete,
    path = "/api/conversations/{pk}/delete/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [], "csrf" = [])),
    params(("pk" = i64, Path, description = "Conversation pk."), super::openapi::AgentQuery),
    responses(
        (status = 200, description = "The conversation, soft-deleted.", body = wire::ConversationResponse),
    ),
)]
pub(crate) async fn delete_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteAccess,
    Path(pk): Path<String>,
) -> Result<Json<wire::ConversationResponse>, ApiError> {
    apply(&st, &key, &pk, ConversationPatch { delete: true, ..Default::default() }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_sdk_listing_parameters_parse() {
        let (f, p) = parse_list_query(&q(&[
            ("has_feedback", "true"),
            ("include_deleted", "true"),
            ("metadata", "plan:pro,tier:1"),
            ("started_at_after", "2026-01-01"),
            ("page", "2"),
            ("page_size", "500"),
        ]))
        .unwrap();
        assert_eq!(f.has_feedback, Some(true));
        assert!(f.include_deleted);
        assert_eq!(f.metadata, vec![("plan".into(), "pro".into()), ("tier".into(), "1".into())]);
        assert_eq!(p, PageRequest { page: 2, page_size: 100 });
    }

    #[test]
    fn bad_parameters_are_named() {
        let e =
            parse_list_query(&q(&[("device", "fridge"), ("is_marked", "maybe"), ("page", "0")])).unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["device", "is_marked", "page"]);
    }
}
