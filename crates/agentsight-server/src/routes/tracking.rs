//! The 0.0.x tracking writes: conversation upsert, messages, actions, buttons, feedback.

use agentsight_core::time::now_micros;
use agentsight_core::tracking::FeedbackSource;
use agentsight_protocol as wire;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::{ApiJson, WriteKey};
use crate::present;

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// `POST /api/conversations/`: 201 when created, 200 when it existed; both carry `id`.
#[utoipa::path(
    post,
    path = "/api/conversations/",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body = wire::ConversationPayload,
    responses(
        (status = 200, description = "The conversation existed (updated).", body = wire::ConversationResponse),
        (status = 201, description = "Created.", body = wire::ConversationResponse),
    ),
)]
pub(crate) async fn upsert_conversation<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<wire::ConversationPayload>,
) -> Created<wire::ConversationResponse> {
    let up = agentsight_ingest::conversation(&st.events, &st.enrich, key.scope(), &p, now_micros()).await?;
    let status = if up.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(present::conversation(&up.row))))
}

/// `POST /api/track/`: 201 with the message `id`.
#[utoipa::path(
    post,
    path = "/api/track/",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body = wire::TrackPayload,
    responses((status = 201, description = "Stored.", body = wire::MessageResponse)),
)]
pub(crate) async fn track_message<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<wire::TrackPayload>,
) -> Created<wire::MessageResponse> {
    let m = agentsight_ingest::message(&st.events, key.scope(), p, now_micros()).await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::MessageResponse {
            id: m.id,
            conversation: m.conversation_pk,
            timestamp: agentsight_core::time::to_iso(m.ts),
            sender: m.sender,
            content: m.content,
            action_name: None,
            metadata: serde_json::from_str(&m.metadata).unwrap_or_default(),
            attachments: vec![],
            action_logs: vec![],
            button: None,
        }),
    ))
}

/// `POST /api/action_logs/`: 201 with the action log.
#[utoipa::path(
    post,
    path = "/api/action_logs/",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body = wire::ActionPayload,
    responses((status = 201, description = "Stored.", body = wire::ActionLogResponse)),
)]
pub(crate) async fn track_action<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<wire::ActionPayload>,
) -> Created<wire::ActionLogResponse> {
    let a = agentsight_ingest::action(&st.events, key.scope(), &p, now_micros()).await?;
    Ok((StatusCode::CREATED, Json(present::action_log(&a))))
}

/// `POST /api/buttons/`: 201 with the button.
#[utoipa::path(
    post,
    path = "/api/buttons/",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body = wire::ButtonPayload,
    responses((status = 201, description = "Stored.", body = wire::ButtonResponse)),
)]
pub(crate) async fn track_button<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<wire::ButtonPayload>,
) -> Created<wire::ButtonResponse> {
    let b = agentsight_ingest::button(&st.events, key.scope(), &p, now_micros()).await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::ButtonResponse {
            id: b.id,
            button_event: b.button_event,
            label: b.label,
            value: b.value,
            metadata: serde_json::from_str(&b.metadata).unwrap_or_default(),
        }),
    ))
}

/// `POST /api/conversation-feedbacks/`: 201 with the record (`source` is `customer`).
#[utoipa::path(
    post,
    path = "/api/conversation-feedbacks/",
    operation_id = "create_conversation_feedback",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body = wire::FeedbackPayload,
    responses((status = 201, description = "Stored.", body = wire::FeedbackResponse)),
)]
pub(crate) async fn create_feedback<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<wire::FeedbackPayload>,
) -> Created<wire::FeedbackResponse> {
    let f = agentsight_ingest::feedback(&st.events, key.scope(), &p, FeedbackSource::Customer, now_micros())
        .await?;
    Ok((StatusCode::CREATED, Json(present::feedback(&f))))
}
