//! Scheduled client reports in the settings (admins only, `docs/reports.md`): an agent's
//! schedules (create, list, change, delete), the preview of one period's mail, and the record
//! of the sends. The rules (validation, timing, which period) are `agentsight_core::reports`;
//! rendering is `agentsight-report`; sending is the delivery layer's.

use std::collections::HashMap;

use agentsight_core::ValidationErrors;
use agentsight_core::dashboard::{self, share_is_live};
use agentsight_core::limits::MAX_REPORT_SENDS_LISTED;
use agentsight_core::reports::{
    Cadence, OutgoingMail, ReportPeriod, ScheduleFields, ScheduleSettings, SendState, last_send, next_send,
    validate_schedule, weekday_name,
};
use agentsight_core::time::{Micros, now_micros, to_iso};
use agentsight_protocol::dashboard as wire;
use agentsight_report::gather::ShareLink;
use agentsight_report::render::html_with_data_urls;
use agentsight_report::run::message_id;
use agentsight_report::{ReportError, gather, render};
use agentsight_store::prelude::*;
use agentsight_store::{NewReportSchedule, NewShare, ReportScheduleRow, ReportSendRow};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::parse_pk;
use crate::app::{AppState, Store};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::notify::Email;

/// The label of the share link a schedule makes for its mails.
const SHARE_LABEL: &str = "Client reports";

async fn schedule_response<S: Store>(
    st: &AppState<S>,
    r: &ReportScheduleRow,
    now: Micros,
) -> Result<wire::ReportScheduleResponse, ApiError> {
    let share_url = match (r.share_id, &r.share_token) {
        (Some(id), Some(token)) => match st.config.share(id).await? {
            Some(s) if share_is_live(s.expires_at, s.revoked_at, now) => Some(format!("/share/{token}")),
            _ => None,
        },
        _ => None,
    };
    let t = &r.settings.timing;
    let next = next_send(t, now);
    Ok(wire::ReportScheduleResponse {
        id: r.id,
        agent_id: r.agent_id,
        cadence: t.cadence.kind().to_string(),
        weekday: match t.cadence {
            Cadence::Weekly(w) => Some(weekday_name(w).to_string()),
            Cadence::Monthly(_) => None,
        },
        day_of_month: match t.cadence {
            Cadence::Monthly(d) => Some(d),
            Cadence::Weekly(_) => None,
        },
        hour: t.hour,
        time_zone: t.tz.name().to_string(),
        recipients: r.settings.recipients.clone(),
        enabled: r.settings.enabled,
        share_id: r.share_id,
        share_url,
        next_send_at: to_iso(next.at),
        next_period: next.period.key,
        created_at: to_iso(r.created_at),
        updated_at: to_iso(r.updated_at),
    })
}

fn fields(p: &wire::ReportSchedulePayload) -> ScheduleFields<'_> {
    ScheduleFields {
        cadence: p.cadence.as_deref(),
        weekday: p.weekday.as_deref(),
        day_of_month: p.day_of_month,
        hour: p.hour,
        time_zone: p.time_zone.as_deref(),
        recipients: p.recipients.as_deref(),
        enabled: p.enabled,
    }
}

async fn schedule<S: Store>(st: &AppState<S>, id: &str) -> Result<ReportScheduleRow, ApiError> {
    st.config.report_schedule(parse_pk(id)?).await?.ok_or(ApiError::NotFound)
}

/// `GET /api/dash/agents/{id}/reports/`.
#[utoipa::path(
    get,
    path = "/api/dash/agents/{id}/reports/",
    tag = "dashboard",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    responses((status = 200, description = "The agent's report schedules, oldest first.", body = Vec<wire::ReportScheduleResponse>)),
)]
pub(crate) async fn list_reports<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<wire::ReportScheduleResponse>>, ApiError> {
    let agent = st.config.agent(parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    let now = now_micros();
    let mut out = Vec::new();
    for r in st.config.report_schedules(Some(agent.id)).await? {
        out.push(schedule_response(&st, &r, now).await?);
    }
    Ok(Json(out))
}

/// `POST /api/dash/agents/{id}/reports/`: a schedule, with the share link its mails carry (a
/// live link of the agent's other schedules, else a new one labelled "Client reports").
#[utoipa::path(
    post,
    path = "/api/dash/agents/{id}/reports/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    request_body = wire::ReportSchedulePayload,
    responses(
        (status = 201, description = "The schedule.", body = wire::ReportScheduleResponse),
        (status = 400, description = "The bad fields, each named (`recipients[1]`, `hour`, …)."),
    ),
)]
pub(crate) async fn create_report<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::ReportSchedulePayload>,
) -> Result<(StatusCode, Json<wire::ReportScheduleResponse>), ApiError> {
    let agent = st.config.agent(parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    let settings = validate_schedule(&fields(&p), None)?;
    let now = now_micros();
    let mut share = None;
    for other in st.config.report_schedules(Some(agent.id)).await? {
        let (Some(sid), Some(token)) = (other.share_id, other.share_token) else { continue };
        if let Some(s) = st.config.share(sid).await?
            && s.agent_id == agent.id
            && share_is_live(s.expires_at, s.revoked_at, now)
        {
            share = Some((sid, token));
            break;
        }
    }
    let (share_id, share_token) = match share {
        Some(s) => s,
        None => {
            let token = dashboard::generate_token(dashboard::SHARE_PREFIX);
            let row = st
                .config
                .create_share(NewShare {
                    agent_id: agent.id,
                    label: Some(SHARE_LABEL.to_string()),
                    token_prefix: token.prefix.clone(),
                    token_hash: token.hash,
                    expires_at: None,
                    created_at: now,
                })
                .await?;
            (row.id, token.secret)
        }
    };
    let row = st
        .config
        .create_report_schedule(NewReportSchedule {
            agent_id: agent.id,
            settings,
            share_id: Some(share_id),
            share_token: Some(share_token),
            now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(schedule_response(&st, &row, now).await?)))
}

/// Whether a change makes the schedule start afresh (`active_since` = now): its timing
/// changed, or it was turned on. A past period is then never sent because of the change.
fn restarts(old: &ScheduleSettings, new: &ScheduleSettings) -> bool {
    old.timing != new.timing || (!old.enabled && new.enabled)
}

/// `PATCH /api/dash/reports/{id}/`: the fields given change, the others stay.
#[utoipa::path(
    patch,
    path = "/api/dash/reports/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Report schedule id.")),
    request_body = wire::ReportSchedulePayload,
    responses(
        (status = 200, description = "The schedule.", body = wire::ReportScheduleResponse),
        (status = 400, description = "The bad fields, each named."),
    ),
)]
pub(crate) async fn update_report<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::ReportSchedulePayload>,
) -> Result<Json<wire::ReportScheduleResponse>, ApiError> {
    let old = schedule(&st, &id).await?;
    let settings = validate_schedule(&fields(&p), Some(&old.settings))?;
    let now = now_micros();
    let active_since = if restarts(&old.settings, &settings) { now } else { old.active_since };
    let row = st
        .config
        .update_report_schedule(old.id, settings, active_since, now)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(schedule_response(&st, &row, now).await?))
}

/// `DELETE /api/dash/reports/{id}/`: the schedule and the record of its sends; its share link
/// is revoked when no other schedule uses it.
#[utoipa::path(
    delete,
    path = "/api/dash/reports/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Report schedule id.")),
    responses((status = 200, description = "Deleted (`{}`).")),
)]
pub(crate) async fn delete_report<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = schedule(&st, &id).await?;
    if !st.config.delete_report_schedule(row.id).await? {
        return Err(ApiError::NotFound);
    }
    if let Some(sid) = row.share_id {
        let others = st.config.report_schedules(Some(row.agent_id)).await?;
        if !others.iter().any(|o| o.share_id == Some(sid)) {
            st.config.revoke_share(sid, now_micros()).await?;
        }
    }
    Ok(Json(json!({})))
}

fn report_error(e: ReportError) -> ApiError {
    match e {
        ReportError::Store(e) => ApiError::from(e),
        ReportError::Period(m) => {
            let mut v = ValidationErrors::default();
            v.add("period", m);
            ApiError::Fields(v)
        }
        other => ApiError::internal_from("rendering a report", other),
    }
}

fn send_response(s: &ReportSendRow) -> wire::ReportSendResponse {
    let (state, attempted_at, attempts) = match &s.state {
        SendState::Sending { claimed_at, attempts } => ("sending", Some(*claimed_at), Some(*attempts)),
        SendState::Sent => ("sent", None, None),
        SendState::Failed { claimed_at, attempts } => ("failed", Some(*claimed_at), Some(*attempts)),
    };
    wire::ReportSendResponse {
        period: s.period_key.clone(),
        period_label: ReportPeriod::parse(&s.period_key).map(|p| p.label()).unwrap_or_default(),
        state: state.to_string(),
        sent_at: s.sent_at.map(to_iso),
        attempted_at: attempted_at.map(to_iso),
        attempts,
        error: s.error.clone(),
    }
}

/// `GET /api/dash/reports/{id}/sends/`: the newest recorded sends first (at most 50).
#[utoipa::path(
    get,
    path = "/api/dash/reports/{id}/sends/",
    tag = "dashboard",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Report schedule id.")),
    responses((status = 200, description = "The recorded sends, newest first.", body = Vec<wire::ReportSendResponse>)),
)]
pub(crate) async fn list_report_sends<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<wire::ReportSendResponse>>, ApiError> {
    let row = schedule(&st, &id).await?;
    let sends = st.config.report_sends(row.id, MAX_REPORT_SENDS_LISTED).await?;
    Ok(Json(sends.iter().map(send_response).collect()))
}

/// `POST /api/dash/reports/{id}/preview/[?period=2026-W49]`: the mail of one period (by
/// default the one the latest scheduled send reported), rendered as it would be sent; nothing
/// is sent or recorded.
#[utoipa::path(
    post,
    path = "/api/dash/reports/{id}/preview/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(
        ("id" = i64, Path, description = "Report schedule id."),
        ("period" = Option<String>, Query, description = "`2026-W49` or `2026-11`; default the latest full period."),
    ),
    responses(
        (status = 200, description = "The rendered report.", body = wire::ReportPreviewResponse),
        (status = 400, description = "`period` is not a period key."),
    ),
)]
pub(crate) async fn preview_report<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<wire::ReportPreviewResponse>, ApiError> {
    let row = schedule(&st, &id).await?;
    let (period, mail) = rendered(&st, &row, q.get("period").map(String::as_str), None).await?;
    Ok(Json(wire::ReportPreviewResponse {
        period: period.key.clone(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        time_zone: row.settings.timing.tz.name().to_string(),
        subject: mail.subject.clone(),
        html: html_with_data_urls(&mail),
        text: mail.text,
    }))
}

/// A schedule's mail of `period` (a period key; `None` or blank: the one the latest scheduled
/// send reported), rendered off the request threads. `domain`: that of the `Message-ID`.
async fn rendered<S: Store>(
    st: &AppState<S>,
    row: &ReportScheduleRow,
    period: Option<&str>,
    domain: Option<String>,
) -> Result<(ReportPeriod, OutgoingMail), ApiError> {
    let now = now_micros();
    let t = row.settings.timing;
    let period = match period.map(str::trim).filter(|s| !s.is_empty()) {
        Some(key) => ReportPeriod::parse(key).map_err(|m| report_error(ReportError::Period(m)))?,
        None => last_send(&t, now).period,
    };
    let share = match (row.share_id, &row.share_token) {
        (Some(id), Some(token)) => Some(ShareLink { id, token: token.clone() }),
        _ => None,
    };
    let data = gather(
        &st.config,
        &st.events,
        row.agent_id,
        t.cadence,
        period.clone(),
        t.tz,
        share.as_ref(),
        st.settings.public_url.as_deref(),
        now,
    )
    .await
    .map_err(report_error)?;
    let mid = message_id(row.id, &period.key, domain.as_deref().unwrap_or(""));
    // Drawing the chart and encoding the images is CPU work: off the request threads.
    let mail = st.cpu.run(move || render(&data, &mid)).await?.map_err(report_error)?;
    Ok((period, mail))
}

/// `POST /api/dash/reports/{id}/test/[?period=2026-W49]` `{"to": …}`: sends the mail of one
/// period (as the preview) now, to `to` or, without it, to the schedule's recipients, its
/// subject marked `[Test]`. The sends are in the log (`source` `test`) with their first
/// attempt's outcome; the schedule's own sends are not touched.
#[utoipa::path(
    post,
    path = "/api/dash/reports/{id}/test/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(
        ("id" = i64, Path, description = "Report schedule id."),
        ("period" = Option<String>, Query, description = "`2026-W49` or `2026-11`; default the latest full period."),
    ),
    request_body = wire::ReportTestPayload,
    responses(
        (status = 200, description = "One send per address, with its first attempt's outcome.", body = Vec<agentsight_protocol::notify::SendResponse>),
        (status = 400, description = "`to` is not an address, `period` is not a period key, or SMTP is not set up."),
    ),
)]
pub(crate) async fn test_report<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    ApiJson(p): ApiJson<wire::ReportTestPayload>,
) -> Result<Json<Vec<agentsight_protocol::notify::SendResponse>>, ApiError> {
    let row = schedule(&st, &id).await?;
    let to = match p.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(to) => {
            agentsight_core::alerts::email_address(to).map_err(|m| ApiError::field("to", m))?;
            vec![to.to_string()]
        }
        None => row.settings.recipients.clone(),
    };
    let Some(smtp) = st.config.smtp_settings().await? else {
        return Err(ApiError::BadRequest("SMTP is not set up: PUT /api/settings/notify/smtp/ first.".into()));
    };
    let domain = crate::notify::reports::sender_domain(&smtp.from);
    let (_, mail) = rendered(&st, &row, q.get("period").map(String::as_str), Some(domain)).await?;
    let mut out = Vec::new();
    for addr in to {
        let mut email = Email::from_report(&mail, addr);
        email.subject = format!("[Test] {}", email.subject);
        // Not the scheduled send's Message-ID: a mail program may hide a second message with it.
        email.message_id = None;
        let sent = st
            .notifier
            .send_email(&st.config, email, "test", None, None, None)
            .await?
            .ok_or_else(|| ApiError::internal("a send without a dedupe key was not recorded"))?;
        out.push(super::settings::send_response(&sent));
    }
    Ok(Json(out))
}
