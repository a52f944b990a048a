//! `GET /api/metrics/overview/` and the agent's metric settings (escalation tool names).

use agentsight_store::prelude::*;
use std::collections::HashMap;

use agentsight_core::metrics::{
    DEFAULT_ESCALATION_TOOLS, failures, query, series, users, validate_escalation_tools,
};
use agentsight_core::time::now_micros;
use agentsight_store::{
    EngineStatus, FailuresResponse, LiveResponse, OverviewResponse, TimeseriesResponse, UsersResponse,
    overview_compared, timeseries_compared,
};
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use crate::app::{AppState, Store};
use crate::auth::{OverviewAccess, Via};
use crate::error::ApiError;
use crate::extract::{ApiJson, ReadKey, WriteKey};

pub(crate) async fn escalation_list<S: Store>(
    st: &AppState<S>,
    agent_id: i64,
) -> Result<(Vec<String>, bool), ApiError> {
    Ok(match st.config.escalation_tools(agent_id).await? {
        Some(list) => (list, false),
        None => (DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect(), true),
    })
}

/// `GET /api/metrics/overview/?from&to&tz&filters…[&compare=previous|year]` for the key's
/// agent; with `compare`, the compared range's overview as `previous`.
#[utoipa::path(
    get,
    path = "/api/metrics/overview/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::MetricsQuery, super::openapi::CompareQuery),
    responses((status = 200, description = "The overview.", body = OverviewResponse)),
)]
pub(crate) async fn get_overview<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<OverviewResponse>, ApiError> {
    let q = query::parse(&params, &key.environments, now_micros())?;
    let compared = query::parse_compare(&q, &params)?.map(|(_, c)| c);
    let (escalation, _) = escalation_list(&st, key.agent_id()).await?;
    let agent = key.agent_ref();
    Ok(Json(overview_compared(&st.events, agent, q, compared, escalation).await?))
}

/// `GET /api/metrics/timeseries/?metric=…&interval=hour|day|week|month[&compare=…]` plus the
/// overview's range and filters.
#[utoipa::path(
    get,
    path = "/api/metrics/timeseries/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::MetricsQuery, super::openapi::SeriesQuery, super::openapi::CompareQuery),
    responses((status = 200, description = "The series.", body = TimeseriesResponse)),
)]
pub(crate) async fn get_timeseries<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<TimeseriesResponse>, ApiError> {
    let q = query::parse(&params, &key.environments, now_micros())?;
    let (metric, interval) = series::parse(&q, &params)?;
    let compared = query::parse_compare(&q, &params)?.map(|(_, c)| c);
    if let Some(c) = &compared {
        series::check_compared(c, interval)?;
    }
    let agent = key.agent_ref();
    Ok(Json(timeseries_compared(&st.events, agent, q, compared, metric, interval).await?))
}

/// `GET /api/metrics/users/?interval=day|week` plus the overview's range and filters: new vs
/// returning users, active users by day, week and month, and the weekly retention cohorts
/// (`docs/metrics.md`, *Users over time*), with the overview's access.
#[utoipa::path(
    get,
    path = "/api/metrics/users/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::MetricsQuery, super::openapi::UsersQuery),
    responses((status = 200, description = "Users over time.", body = UsersResponse)),
)]
pub(crate) async fn get_users<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UsersResponse>, ApiError> {
    let q = query::parse(&params, &key.environments, now_micros())?;
    let interval = users::parse_interval(&params)?;
    Ok(Json(st.events.users(key.agent_ref(), q, interval).await?))
}

/// `GET /api/metrics/llm/?from&to&tz&filters…`: LLM tokens by kind, cost, calls and errors,
/// by model and local day, cost per conversation and the most expensive conversations, with
/// the overview's access (any key of the agent, a session that sees it, its share link). A share
/// link reads no conversations: its answer lists no top conversations.
#[utoipa::path(
    get,
    path = "/api/metrics/llm/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::MetricsQuery),
    responses(
        (status = 200, description = "Tokens and cost.", body = agentsight_protocol::v01::LlmMetricsResponse),
    ),
)]
pub(crate) async fn get_llm<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<agentsight_protocol::v01::LlmMetricsResponse>, ApiError> {
    let q = query::parse(&params, &key.environments, now_micros())?;
    let mut m = st.events.llm_metrics(key.agent_ref(), q).await?;
    if matches!(key.via, Via::Share(..)) {
        m.top_conversations.clear();
    }
    Ok(Json(m))
}

/// `GET /api/metrics/failures/?from&to&tz&filters…[&idle_minutes=30][&top=20]`: where the bot
/// fails — unanswered and abandoned conversations, tool errors by tool, escalations by turn,
/// the most frequent first questions (`docs/metrics.md`), with the overview's access. A share
/// link reads no conversations: its answer lists no first questions (their counts stay).
#[utoipa::path(
    get,
    path = "/api/metrics/failures/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::MetricsQuery, super::openapi::FailuresQuery),
    responses((status = 200, description = "Where the bot fails.", body = FailuresResponse)),
)]
pub(crate) async fn get_failures<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<FailuresResponse>, ApiError> {
    let now = now_micros();
    let q = query::parse(&params, &key.environments, now);
    let p = failures::parse_params(&params, now);
    let (q, p) = match (q, p) {
        (Ok(q), Ok(p)) => (q, p),
        (q, p) => {
            let mut e = q.err().unwrap_or_default();
            e.0.extend(p.err().unwrap_or_default().0);
            return Err(e.into());
        }
    };
    let (escalation, _) = escalation_list(&st, key.agent_id()).await?;
    let mut f = agentsight_store::failures(&st.events, key.agent_ref(), q, p, escalation).await?;
    if matches!(key.via, Via::Share(..)) {
        f.first_questions.top.clear();
    }
    Ok(Json(f))
}

/// `GET /api/metrics/live/`: conversations active in the last 5 minutes, messages per minute
/// over the last hour.
#[utoipa::path(
    get,
    path = "/api/metrics/live/",
    tag = "metrics",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::AgentQuery),
    responses((status = 200, description = "The last hour.", body = LiveResponse)),
)]
pub(crate) async fn get_live<S: Store>(
    State(st): State<AppState<S>>,
    key: OverviewAccess,
) -> Result<Json<LiveResponse>, ApiError> {
    let agent = key.agent_ref();
    Ok(Json(st.events.live(agent, now_micros()).await?))
}

/// `GET /api/metrics/status/` (any key): which engine answers metrics queries, and whether the
/// in-memory index is loaded.
#[utoipa::path(
    get,
    path = "/api/metrics/status/",
    tag = "metrics",
    security(("api_key" = [])),
    responses((status = 200, description = "The engine and its state.", body = EngineStatus)),
)]
pub(crate) async fn get_status<S: Store>(State(st): State<AppState<S>>, _key: ReadKey) -> Json<EngineStatus> {
    Json(st.events.engine_status().await)
}

/// An agent's metric settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SettingsResponse {
    agent_id: i64,
    agent_name: String,
    escalation_tools: Vec<String>,
    escalation_tools_default: bool,
}

/// `PATCH /api/agent/settings/`: `{"escalation_tools": [..]}`, or `null` for the default list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsPayload {
    /// Action names counted as human escalation; `null` restores the default list.
    escalation_tools: Option<Vec<String>>,
}

async fn settings<S: Store>(
    st: &AppState<S>,
    agent_id: i64,
    agent_name: &str,
) -> Result<Json<SettingsResponse>, ApiError> {
    let (escalation_tools, escalation_tools_default) = escalation_list(st, agent_id).await?;
    Ok(Json(SettingsResponse {
        agent_id,
        agent_name: agent_name.to_string(),
        escalation_tools,
        escalation_tools_default,
    }))
}

/// `GET /api/agent/settings/`.
#[utoipa::path(
    get,
    path = "/api/agent/settings/",
    tag = "metrics",
    security(("api_key" = [])),
    responses((status = 200, description = "The settings.", body = SettingsResponse)),
)]
pub(crate) async fn get_settings<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
) -> Result<Json<SettingsResponse>, ApiError> {
    settings(&st, key.agent_id(), &key.0.principal.agent_name).await
}

/// `PATCH /api/agent/settings/` (write key). Applies to past data too: escalation is computed
/// from the stored actions at query time.
#[utoipa::path(
    patch,
    path = "/api/agent/settings/",
    tag = "metrics",
    security(("api_key" = [])),
    request_body = SettingsPayload,
    responses((status = 200, description = "The settings as changed.", body = SettingsResponse)),
)]
pub(crate) async fn update_settings<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    ApiJson(p): ApiJson<SettingsPayload>,
) -> Result<Json<SettingsResponse>, ApiError> {
    let tools = p.escalation_tools.as_deref().map(validate_escalation_tools).transpose()?;
    st.config.set_escalation_tools(key.agent_id(), tools).await?;
    settings(&st, key.agent_id(), &key.0.principal.agent_name).await
}
