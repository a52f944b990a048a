//! The 0.1.x REST data plane (B5.2–B5.5, B5.7): feedback of three kinds, action definitions
//! and logs, one message, metadata keys and values; tickets are not offered to API keys.

use agentsight_core::ValidationErrors;
use agentsight_core::dataplane::{self, FeedbackCommand};
use agentsight_core::limits::MAX_FEEDBACK_OFFSET;
use agentsight_core::time::{now_micros, to_iso};
use agentsight_core::tracking::FeedbackSource;
use agentsight_protocol::{self as wire, v01};
use agentsight_store::prelude::*;
use agentsight_store::{
    ActionFilter, ActionRow, FeedbackFilter, FeedbackItem, MessageDetail, MessageKind, PageRequest,
    StoreError,
};
use axum::Json;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::conversations::{Params, page_of, parse_bool, parse_instant, parse_page};
use super::parse_pk;
use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::{ApiJson, ReadKey, WriteKey};
use crate::present;

/// Logs returned by `GET /api/actions/{id}/logs/` at most (newest first).
pub const MAX_ACTION_LOGS: i64 = 1_000;
/// Values returned by `metadata-values` at most.
pub const MAX_METADATA_VALUES: i64 = 1_000;

fn text(q: &Params, k: &str) -> Option<String> {
    q.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
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

fn json_or_empty(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| json!({}))
}

pub(crate) fn feedback_response(f: &FeedbackItem) -> v01::FeedbackItemResponse {
    v01::FeedbackItemResponse {
        id: f.id,
        kind: f.kind.clone(),
        agent: f.agent_id,
        conversation: f.conversation_pk,
        conversation_id: f.conversation_id.clone(),
        message: f.message_id,
        sentiment: f.sentiment.clone(),
        source: f.source.clone(),
        comment: f.comment.clone(),
        topic: f.topic.clone(),
        reason: f.reason.clone(),
        environment: f.environment.clone(),
        metadata: json_or_empty(&f.metadata),
        created_at: to_iso(f.created_at),
        updated_at: to_iso(f.updated_at),
    }
}

/// `POST /api/feedbacks/`: 201 for a new record; 200 when a message's vote was updated.
#[utoipa::path(
    post,
    path = "/api/feedbacks/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    request_body = v01::FeedbackCreatePayload,
    responses((status = 201, description = "Stored.", body = v01::FeedbackItemResponse)),
)]
pub(crate) async fn create_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<v01::FeedbackCreatePayload>,
) -> Result<(StatusCode, Json<v01::FeedbackItemResponse>), ApiError> {
    let now = now_micros();
    match dataplane::validate_feedback_create(key.scope(), &p, FeedbackSource::Customer, now)? {
        FeedbackCommand::Conversation(f) => {
            let row = st.events.insert_feedback(f).await?;
            let item = st.events.feedback(key.agent_id(), row.id).await?.ok_or(ApiError::NotFound)?;
            Ok((StatusCode::CREATED, Json(feedback_response(&item))))
        }
        FeedbackCommand::Vote(v) => {
            let (item, created) = st.events.insert_vote(v).await?;
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(feedback_response(&item))))
        }
    }
}

/// `GET /api/feedbacks/`'s query: the filter and the page.
pub(crate) fn feedback_query(q: &Params) -> Result<(FeedbackFilter, PageRequest), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let kind = text(q, "kind").map(|k| k.to_ascii_lowercase());
    if let Some(k) = &kind
        && !["conversation", "message", "agent"].contains(&k.as_str())
    {
        e.add("kind", "Use conversation, message or agent.");
    }
    let ascending = match text(q, "ordering").as_deref() {
        None | Some("-created_at") => false,
        Some("created_at") => true,
        Some(_) => {
            e.add("ordering", "Use created_at or -created_at.");
            false
        }
    };
    let filter = FeedbackFilter {
        kind,
        sentiment: text(q, "sentiment")
            .and_then(|s| e.check("sentiment", agentsight_core::normalize::sentiment(&s))),
        conversation: pk_param(&mut e, q, "conversation"),
        conversation_id: text(q, "conversation_id"),
        message: pk_param(&mut e, q, "message"),
        has_comment: parse_bool(&mut e, q, "has_comment"),
        comment_contains: text(q, "comment_contains").or_else(|| text(q, "search")),
        topic: text(q, "topic"),
        reason: text(q, "reason"),
        environment: text(q, "environment").or_else(|| text(q, "env")),
        created_at_after: parse_instant(&mut e, q, "created_at_after", false),
        created_at_before: parse_instant(&mut e, q, "created_at_before", true),
        ascending,
    };
    if parse_bool(&mut e, q, "include_tickets") == Some(true) || text(q, "has_ticket").is_some() {
        e.add("include_tickets", "Tickets are not available to API keys.");
    }
    let page = parse_page(&mut e, q);
    if (page.page - 1).saturating_mul(page.page_size) > MAX_FEEDBACK_OFFSET {
        e.add(
            "page",
            format!(
                "Feedback pages end after {MAX_FEEDBACK_OFFSET} rows; narrow the list with created_at_before or created_at_after."
            ),
        );
    }
    e.into_result((filter, page))
}

/// `GET /api/feedbacks/`: every kind, newest first, with `counts.all`.
#[utoipa::path(
    get,
    path = "/api/feedbacks/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(super::openapi::PageQuery, super::openapi::FeedbackQuery),
    responses((status = 200, description = "A page of feedback records.", body = v01::FeedbackPage)),
)]
pub(crate) async fn list_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<Params>,
) -> Result<Json<v01::FeedbackPage>, ApiError> {
    let (filter, page) = feedback_query(&q)?;
    let (count, rows) = st.events.list_feedback(key.agent_id(), filter, page).await?;
    let results = rows.iter().map(feedback_response).collect();
    Ok(Json(v01::FeedbackPage {
        page: page_of(st.settings.public_url.as_deref(), &headers, &uri, page, count, results),
        counts: json!({ "all": count }),
    }))
}

/// `GET /api/feedbacks/{id}/`.
#[utoipa::path(
    get,
    path = "/api/feedbacks/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Feedback id.")),
    responses((status = 200, description = "The record.", body = v01::FeedbackItemResponse)),
)]
pub(crate) async fn get_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<Json<v01::FeedbackItemResponse>, ApiError> {
    let f = st.events.feedback(key.agent_id(), parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(feedback_response(&f)))
}

/// `PATCH /api/feedbacks/{id}/` with any of sentiment, comment, topic, reason.
#[utoipa::path(
    patch,
    path = "/api/feedbacks/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Feedback id.")),
    request_body = v01::FeedbackPatchPayload,
    responses((status = 200, description = "The record as changed.", body = v01::FeedbackItemResponse)),
)]
pub(crate) async fn update_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<v01::FeedbackPatchPayload>,
) -> Result<Json<v01::FeedbackItemResponse>, ApiError> {
    let change = dataplane::validate_feedback_change(&p, now_micros())?;
    let f =
        st.events.update_feedback(key.agent_id(), parse_pk(&id)?, change).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(feedback_response(&f)))
}

/// `DELETE /api/feedbacks/{id}/`: a hard delete, 204.
#[utoipa::path(
    delete,
    path = "/api/feedbacks/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Feedback id.")),
    responses((status = 204, description = "Deleted.")),
)]
pub(crate) async fn delete_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.events.delete_feedback(key.agent_id(), parse_pk(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

fn action_response(a: &ActionRow) -> v01::ActionResponse {
    v01::ActionResponse {
        id: a.id,
        name: a.name.clone(),
        display_name: a.display_name.clone(),
        description: a.description.clone(),
        log_count: a.log_count,
        created_at: to_iso(a.created_at),
        updated_at: to_iso(a.updated_at),
    }
}

/// `POST /api/actions/`: 201; a taken name is a 400 naming `name`.
#[utoipa::path(
    post,
    path = "/api/actions/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    request_body = v01::ActionCreatePayload,
    responses((status = 201, description = "Created.", body = v01::ActionResponse)),
)]
pub(crate) async fn create_action<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<v01::ActionCreatePayload>,
) -> Result<(StatusCode, Json<v01::ActionResponse>), ApiError> {
    let def = dataplane::validate_action_def(
        Some(&p.name),
        p.display_name.as_deref(),
        p.description.as_deref(),
        true,
    )?;
    let a = st.events.create_action(key.agent_id(), def, now_micros()).await?;
    Ok((StatusCode::CREATED, Json(action_response(&a))))
}

/// `GET /api/actions/`'s query: the filter and the page.
pub(crate) fn action_query(q: &Params) -> Result<(ActionFilter, PageRequest), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let filter = ActionFilter {
        name: text(q, "name"),
        name_contains: text(q, "name__icontains"),
        display_name: text(q, "display_name"),
        search: text(q, "search"),
    };
    let page = parse_page(&mut e, q);
    e.into_result((filter, page))
}

/// `GET /api/actions/` (paged, by name).
#[utoipa::path(
    get,
    path = "/api/actions/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(super::openapi::PageQuery, super::openapi::ActionQuery),
    responses(
        (status = 200, description = "A page of action definitions.", body = wire::Page<v01::ActionResponse>),
    ),
)]
pub(crate) async fn list_actions<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<Params>,
) -> Result<Json<wire::Page<v01::ActionResponse>>, ApiError> {
    let (filter, page) = action_query(&q)?;
    let (count, rows) = st.events.list_actions(key.agent_id(), filter, page).await?;
    Ok(Json(page_of(
        st.settings.public_url.as_deref(),
        &headers,
        &uri,
        page,
        count,
        rows.iter().map(action_response).collect(),
    )))
}

/// `GET /api/actions/{id}/`.
#[utoipa::path(
    get,
    path = "/api/actions/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Action id.")),
    responses((status = 200, description = "The action.", body = v01::ActionResponse)),
)]
pub(crate) async fn get_action<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<Json<v01::ActionResponse>, ApiError> {
    let a = st.events.action(key.agent_id(), parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(action_response(&a)))
}

/// `PATCH /api/actions/{id}/` with any of name, display_name, description.
#[utoipa::path(
    patch,
    path = "/api/actions/{id}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Action id.")),
    request_body = v01::ActionPatchPayload,
    responses((status = 200, description = "The action as changed.", body = v01::ActionResponse)),
)]
pub(crate) async fn update_action<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<v01::ActionPatchPayload>,
) -> Result<Json<v01::ActionResponse>, ApiError> {
    let def = dataplane::validate_action_def(
        p.name.as_deref(),
        p.display_name.as_deref(),
        p.description.as_deref(),
        false,
    )?;
    let a = st
        .events
        .update_action(key.agent_id(), parse_pk(&id)?, def, now_micros())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(action_response(&a)))
}

/// `GET /api/actions/{id}/logs/`: a bare JSON array, newest first (at most 1,000).
#[utoipa::path(
    get,
    path = "/api/actions/{id}/logs/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Action id.")),
    responses((status = 200, description = "Its logs.", body = Vec<v01::ActionLogItemResponse>)),
)]
pub(crate) async fn action_logs<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(id): Path<String>,
) -> Result<Json<Vec<v01::ActionLogItemResponse>>, ApiError> {
    let logs = st
        .events
        .action_logs(key.agent_id(), parse_pk(&id)?, MAX_ACTION_LOGS)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(
        logs.iter()
            .map(|l| v01::ActionLogItemResponse {
                log: present::action_log(&l.log),
                message: l.log.message_id,
                conversation: l.log.conversation_pk,
                conversation_id: l.conversation_id.clone(),
                timestamp: to_iso(l.log.ts),
            })
            .collect(),
    ))
}

fn message_response(d: &MessageDetail) -> v01::MessageDetailResponse {
    let m = &d.message;
    v01::MessageDetailResponse {
        message: wire::MessageResponse {
            id: m.id,
            conversation: m.conversation_pk,
            timestamp: to_iso(m.ts),
            sender: m.sender.clone(),
            content: m.content.clone(),
            action_name: d.action.as_ref().map(|a| a.action_name.clone()),
            metadata: json_or_empty(&m.metadata),
            attachments: d.attachments.iter().map(present::attachment).collect(),
            action_logs: d.action.iter().map(present::action_log).collect(),
            button: (m.kind == MessageKind::Button).then(|| d.button.as_ref().map(present::button)).flatten(),
        },
        conversation_id: d.conversation_id.clone(),
        feedback: d.vote.as_ref().map(feedback_response),
    }
}

/// `GET /api/track/{pk}/`: one message with its files, action log and vote.
#[utoipa::path(
    get,
    path = "/api/track/{pk}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("pk" = i64, Path, description = "Message pk.")),
    responses((status = 200, description = "The message.", body = v01::MessageDetailResponse)),
)]
pub(crate) async fn get_message<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Path(pk): Path<String>,
) -> Result<Json<v01::MessageDetailResponse>, ApiError> {
    let d = st.events.message(key.agent_id(), parse_pk(&pk)?).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(message_response(&d)))
}

/// `PATCH /api/track/{pk}/` `{"metadata": {…}}`: replaces the message's metadata.
#[utoipa::path(
    patch,
    path = "/api/track/{pk}/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("pk" = i64, Path, description = "Message pk.")),
    request_body = v01::MessagePatchPayload,
    responses(
        (status = 200, description = "The message as changed.", body = v01::MessageDetailResponse),
    ),
)]
pub(crate) async fn update_message<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    Path(pk): Path<String>,
    ApiJson(p): ApiJson<v01::MessagePatchPayload>,
) -> Result<Json<v01::MessageDetailResponse>, ApiError> {
    let metadata = dataplane::validate_message_metadata(&p)?;
    let d = st
        .events
        .set_message_metadata(key.agent_id(), parse_pk(&pk)?, metadata)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(message_response(&d)))
}

/// `GET /api/conversations/metadata-keys/`.
#[utoipa::path(
    get,
    path = "/api/conversations/metadata-keys/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The conversation metadata keys.", body = super::openapi::MetadataKeys),
    ),
)]
pub(crate) async fn metadata_keys<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "keys": st.events.metadata_keys(key.agent_id(), false).await? })))
}

/// `GET /api/conversations/message-metadata-keys/`.
#[utoipa::path(
    get,
    path = "/api/conversations/message-metadata-keys/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The message metadata keys.", body = super::openapi::MetadataKeys),
    ),
)]
pub(crate) async fn message_metadata_keys<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "keys": st.events.metadata_keys(key.agent_id(), true).await? })))
}

/// `GET /api/conversations/metadata-values/?key=…`: the distinct values (as JSON values).
#[utoipa::path(
    get,
    path = "/api/conversations/metadata-values/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("key" = String, Query, description = "The metadata key.")),
    responses(
        (status = 200, description = "Its distinct values.", body = super::openapi::MetadataValues),
    ),
)]
pub(crate) async fn metadata_values<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
    Query(q): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let k = text(&q, "key").ok_or_else(|| ApiError::field("key", "This query parameter is required."))?;
    let values: Vec<Value> = st
        .events
        .metadata_values(key.agent_id(), k.clone(), MAX_METADATA_VALUES)
        .await?
        .iter()
        .map(|v| serde_json::from_str(v).unwrap_or(Value::Null))
        .collect();
    Ok(Json(json!({ "key": k, "values": values })))
}

/// Every `/api/tickets/…` route: tickets are not available to API keys (the upstream docs
/// allow 403 or 404).
#[utoipa::path(
    method(get, post),
    path = "/api/tickets/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    responses(
        (status = 403, description = "Tickets are not available to API keys.", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn tickets_forbidden<S: Store>(State(_st): State<AppState<S>>, _key: ReadKey) -> ApiError {
    ApiError::Forbidden("Tickets are not available to API keys.")
}

/// Every path under `/api/tickets/`: as [`tickets_forbidden`].
#[utoipa::path(
    method(get, post, patch, delete),
    path = "/api/tickets/{rest}",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("rest" = String, Path, description = "Any path under tickets.")),
    responses(
        (status = 403, description = "Tickets are not available to API keys.", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn tickets_forbidden_rest<S: Store>(st: State<AppState<S>>, key: ReadKey) -> ApiError {
    tickets_forbidden(st, key).await
}

/// An unknown message reference on an upload is "not found" for the 0.1.x client (B5.1).
pub(crate) fn message_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownReference { field: "message", .. } => ApiError::NotFound,
        other => other.into(),
    }
}
