//! Alert rules, their history, notification targets, SMTP settings and the sends log
//! (`/api/settings/…`, admins only). Secrets are write-only.

use agentsight_core::alerts::{self, validate_rule, validate_smtp, validate_target};
use agentsight_core::limits::{MAX_ALERT_RULES, MAX_NOTIFY_LISTED, MAX_NOTIFY_TARGETS};
use agentsight_core::time::{now_micros, to_iso};
use agentsight_protocol::notify as wire;
use agentsight_store::prelude::*;
use agentsight_store::{
    AlertEventRow, AlertRuleRow, NewAlertRule, NewNotifyTarget, NotifyTargetRow, SendRow, SmtpSettings,
    StoreError,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::parse_pk;
use crate::app::{AppState, Store};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::notify::alerts::{NoticeState, deliver, measure, notice};
use crate::notify::{Email, Notifier};

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn rule_response(r: &AlertRuleRow, firing: bool) -> wire::AlertRuleResponse {
    wire::AlertRuleResponse {
        id: r.id,
        agent: r.agent_id,
        kind: r.kind.clone(),
        threshold: r.threshold,
        window_hours: r.window_hours,
        enabled: r.enabled,
        state: if firing { "firing" } else { "ok" }.into(),
        created_at: to_iso(r.created_at),
    }
}

fn event_response(e: &AlertEventRow) -> wire::AlertEventResponse {
    wire::AlertEventResponse {
        id: e.id,
        rule: e.rule_id,
        agent: e.agent_id,
        kind: e.kind.clone(),
        threshold: e.threshold,
        state: if e.resolved_at.is_some() { "resolved" } else { "firing" }.into(),
        fired_at: to_iso(e.fired_at),
        fired_value: e.fired_value,
        resolved_at: e.resolved_at.map(to_iso),
        resolved_value: e.resolved_value,
    }
}

pub(crate) fn send_response(s: &SendRow) -> wire::SendResponse {
    wire::SendResponse {
        id: s.id,
        channel: s.channel.clone(),
        source: s.source.clone(),
        target: s.target_id,
        alert_event: s.alert_event_id,
        recipient: s.recipient.clone(),
        subject: s.subject.clone(),
        status: s.status.as_str().into(),
        attempts: s.attempts,
        last_error: s.last_error.clone(),
        next_attempt_at: s.next_attempt_at.map(to_iso),
        last_attempt_at: s.last_attempt_at.map(to_iso),
        created_at: to_iso(s.created_at),
    }
}

fn target_response(t: &NotifyTargetRow, last: Option<&SendRow>) -> wire::NotifyTargetResponse {
    wire::NotifyTargetResponse {
        id: t.id,
        kind: t.kind.clone(),
        name: t.name.clone(),
        address: if t.kind == "webhook" { crate::notify::shown_url(&t.address) } else { t.address.clone() },
        has_secret: t.secret.as_deref().is_some_and(|s| !s.is_empty()),
        enabled: t.enabled,
        created_at: to_iso(t.created_at),
        last_status: last.map(|s| s.status.as_str().to_string()),
        last_error: last.and_then(|s| s.last_error.clone()),
    }
}

/// Whether the rule's latest episode is open.
async fn is_firing<S: Store>(st: &AppState<S>, rule_id: i64) -> Result<bool, ApiError> {
    Ok(st.config.alert_events(Some(rule_id), 1).await?.first().is_some_and(|e| e.resolved_at.is_none()))
}

fn new_rule(p: &wire::AlertRulePayload) -> Result<NewAlertRule, ApiError> {
    let spec = validate_rule(&p.kind, p.threshold, p.window_hours)?;
    Ok(NewAlertRule {
        agent_id: p.agent,
        kind: spec.kind.as_str().into(),
        threshold: spec.threshold,
        window_hours: spec.window_hours,
        enabled: p.enabled.unwrap_or(true),
    })
}

fn unknown_agent(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownReference { field: "agent", .. } => ApiError::field("agent", "No such agent."),
        other => other.into(),
    }
}

/// `GET /api/settings/alerts/rules/`.
#[utoipa::path(
    get,
    path = "/api/settings/alerts/rules/",
    tag = "settings",
    security(("session" = [])),
    responses((status = 200, description = "Every alert rule, oldest first.", body = Vec<wire::AlertRuleResponse>)),
)]
pub(crate) async fn list_rules<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<Vec<wire::AlertRuleResponse>>, ApiError> {
    let mut out = Vec::new();
    for r in st.config.alert_rules().await? {
        out.push(rule_response(&r, is_firing(&st, r.id).await?));
    }
    Ok(Json(out))
}

/// `POST /api/settings/alerts/rules/`.
#[utoipa::path(
    post,
    path = "/api/settings/alerts/rules/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    request_body = wire::AlertRulePayload,
    responses((status = 201, description = "Created.", body = wire::AlertRuleResponse)),
)]
pub(crate) async fn create_rule<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::AlertRulePayload>,
) -> Created<wire::AlertRuleResponse> {
    let rule = new_rule(&p)?;
    if st.config.alert_rules().await?.len() >= MAX_ALERT_RULES {
        return Err(ApiError::BadRequest(format!("At most {MAX_ALERT_RULES} alert rules.")));
    }
    let r = st.config.create_alert_rule(rule, now_micros()).await.map_err(unknown_agent)?;
    Ok((StatusCode::CREATED, Json(rule_response(&r, false))))
}

/// `PUT /api/settings/alerts/rules/{id}/`: replaces the rule's fields.
#[utoipa::path(
    put,
    path = "/api/settings/alerts/rules/{id}/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Rule id.")),
    request_body = wire::AlertRulePayload,
    responses((status = 200, description = "The rule.", body = wire::AlertRuleResponse)),
)]
pub(crate) async fn update_rule<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::AlertRulePayload>,
) -> Result<Json<wire::AlertRuleResponse>, ApiError> {
    let id = parse_pk(&id)?;
    let rule = new_rule(&p)?;
    let r = st.config.update_alert_rule(id, rule).await.map_err(unknown_agent)?.ok_or(ApiError::NotFound)?;
    Ok(Json(rule_response(&r, is_firing(&st, r.id).await?)))
}

/// `DELETE /api/settings/alerts/rules/{id}/`: the rule and its history.
#[utoipa::path(
    delete,
    path = "/api/settings/alerts/rules/{id}/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Rule id.")),
    responses((status = 200, description = "Deleted.", body = super::openapi::Empty)),
)]
pub(crate) async fn delete_rule<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !st.config.delete_alert_rule(parse_pk(&id)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}

async fn enabled_targets<S: Store>(st: &AppState<S>) -> Result<Vec<NotifyTargetRow>, ApiError> {
    Ok(st.config.notify_targets().await?.into_iter().filter(|t| t.enabled).collect())
}

/// `POST /api/settings/alerts/rules/{id}/test/`: measures the rule now and sends a test notice
/// to every enabled target (no episode is opened).
#[utoipa::path(
    post,
    path = "/api/settings/alerts/rules/{id}/test/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Rule id.")),
    responses((status = 200, description = "The value now and the sends.", body = wire::AlertTestResponse)),
)]
pub(crate) async fn test_rule<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<wire::AlertTestResponse>, ApiError> {
    let rule = st.config.alert_rule(parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    let m = measure(&st, &rule, now_micros()).await?;
    let agent =
        st.config.agent(rule.agent_id).await?.map_or_else(|| format!("agent {}", rule.agent_id), |a| a.name);
    let n = notice(&rule, &agent, NoticeState::Test, m.value, &m.range, None, st.notifier.public_url());
    let targets = enabled_targets(&st).await?;
    let sends = deliver(&st.notifier, &st.config, &targets, &n, "test", None, None).await?;
    Ok(Json(wire::AlertTestResponse {
        value: m.value,
        fires: alerts::fires(m.value, rule.threshold),
        range: m.range,
        sends: sends.iter().map(send_response).collect(),
    }))
}

/// `GET /api/settings/alerts/history/[?rule=ID]`: firing episodes, newest first.
#[utoipa::path(
    get,
    path = "/api/settings/alerts/history/",
    tag = "settings",
    security(("session" = [])),
    params(("rule" = Option<i64>, Query, description = "Only this rule's episodes.")),
    responses((status = 200, description = "Episodes, newest first (at most 200).", body = Vec<wire::AlertEventResponse>)),
)]
pub(crate) async fn history<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Vec<wire::AlertEventResponse>>, ApiError> {
    let rule = q
        .get("rule")
        .map(|r| parse_pk(r).map_err(|_| ApiError::field("rule", "A valid integer is required.")))
        .transpose()?;
    let rows = st.config.alert_events(rule, MAX_NOTIFY_LISTED).await?;
    Ok(Json(rows.iter().map(event_response).collect()))
}

/// `GET /api/settings/notify/targets/`.
#[utoipa::path(
    get,
    path = "/api/settings/notify/targets/",
    tag = "settings",
    security(("session" = [])),
    responses((status = 200, description = "Every target, oldest first, with its latest send's outcome.", body = Vec<wire::NotifyTargetResponse>)),
)]
pub(crate) async fn list_targets<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<Vec<wire::NotifyTargetResponse>>, ApiError> {
    let sends = st.config.sends(MAX_NOTIFY_LISTED).await?;
    let targets = st.config.notify_targets().await?;
    Ok(Json(
        targets
            .iter()
            .map(|t| target_response(t, sends.iter().find(|s| s.target_id == Some(t.id))))
            .collect(),
    ))
}

/// `POST /api/settings/notify/targets/`.
#[utoipa::path(
    post,
    path = "/api/settings/notify/targets/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    request_body = wire::NotifyTargetPayload,
    responses((status = 201, description = "Created (the secret is not shown).", body = wire::NotifyTargetResponse)),
)]
pub(crate) async fn create_target<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::NotifyTargetPayload>,
) -> Created<wire::NotifyTargetResponse> {
    let address = match p.kind.as_str() {
        "email" => p.email.clone().unwrap_or_default(),
        _ => p.url.clone().unwrap_or_default(),
    };
    let secret = if p.kind == "webhook" { p.secret.clone() } else { None };
    validate_target(&p.kind, &p.name, &address, secret.as_deref())?;
    if p.kind == "email" && (p.url.is_some() || p.secret.is_some()) {
        return Err(ApiError::field("url", "An e-mail target takes `email` only."));
    }
    if p.kind == "webhook" && p.email.is_some() {
        return Err(ApiError::field("email", "A webhook target takes `url` and `secret`."));
    }
    if st.config.notify_targets().await?.len() >= MAX_NOTIFY_TARGETS {
        return Err(ApiError::BadRequest(format!("At most {MAX_NOTIFY_TARGETS} notification targets.")));
    }
    let t = NewNotifyTarget {
        kind: p.kind.clone(),
        name: p.name.trim().to_string(),
        address,
        secret,
        enabled: p.enabled.unwrap_or(true),
    };
    let t = st.config.create_notify_target(t, now_micros()).await?;
    Ok((StatusCode::CREATED, Json(target_response(&t, None))))
}

/// `PATCH /api/settings/notify/targets/{id}/` `{enabled}`.
#[utoipa::path(
    patch,
    path = "/api/settings/notify/targets/{id}/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Target id.")),
    request_body = wire::NotifyTargetPatch,
    responses((status = 200, description = "The target.", body = wire::NotifyTargetResponse)),
)]
pub(crate) async fn patch_target<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::NotifyTargetPatch>,
) -> Result<Json<wire::NotifyTargetResponse>, ApiError> {
    let t =
        st.config.set_notify_target_enabled(parse_pk(&id)?, p.enabled).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(target_response(&t, None)))
}

/// `DELETE /api/settings/notify/targets/{id}/` (its sends stay in the log).
#[utoipa::path(
    delete,
    path = "/api/settings/notify/targets/{id}/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Target id.")),
    responses((status = 200, description = "Deleted.", body = super::openapi::Empty)),
)]
pub(crate) async fn delete_target<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !st.config.delete_notify_target(parse_pk(&id)?).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}

/// `POST /api/settings/notify/targets/{id}/test/`: sends a test message to this target now.
#[utoipa::path(
    post,
    path = "/api/settings/notify/targets/{id}/test/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Target id.")),
    responses((status = 200, description = "The send, with its first attempt's outcome.", body = wire::SendResponse)),
)]
pub(crate) async fn test_target<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<wire::SendResponse>, ApiError> {
    let t = st.config.notify_target(parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    let subject = "[AgentSight] Test notification".to_string();
    let text = format!("This is a test of the notification target \"{}\" of AgentSight.\n", t.name);
    let sent = if t.kind == "email" {
        let email = Email::simple(t.address.clone(), subject, text, None);
        st.notifier.send_email(&st.config, email, "test", Some(t.id), None, None).await?
    } else {
        let body = json!({"text": text.trim_end(), "agentsight": {"state": "test", "target": t.id}});
        st.notifier.send_webhook(&st.config, &t, body, &subject, "test", None, None).await?
    };
    let sent = sent.ok_or_else(|| ApiError::internal("a send without a dedupe key was not recorded"))?;
    Ok(Json(send_response(&sent)))
}

fn smtp_response(s: Option<&SmtpSettings>) -> wire::SmtpResponse {
    wire::SmtpResponse {
        configured: s.is_some(),
        host: s.map(|s| s.host.clone()),
        port: s.map(|s| s.port),
        security: s.map(|s| s.security.clone()),
        username: s.and_then(|s| s.username.clone()),
        password_set: s.is_some_and(|s| s.password.as_deref().is_some_and(|p| !p.is_empty())),
        from: s.map(|s| s.from.clone()),
        updated_at: s.map(|s| to_iso(s.updated_at)),
    }
}

/// `GET /api/settings/notify/smtp/`: the SMTP settings without the password.
#[utoipa::path(
    get,
    path = "/api/settings/notify/smtp/",
    tag = "settings",
    security(("session" = [])),
    responses((status = 200, description = "The SMTP settings (`configured: false` when none).", body = wire::SmtpResponse)),
)]
pub(crate) async fn get_smtp<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<wire::SmtpResponse>, ApiError> {
    Ok(Json(smtp_response(st.config.smtp_settings().await?.as_ref())))
}

/// `PUT /api/settings/notify/smtp/`: sets the SMTP settings (a password left out is kept).
#[utoipa::path(
    put,
    path = "/api/settings/notify/smtp/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    request_body = wire::SmtpPayload,
    responses((status = 200, description = "The SMTP settings.", body = wire::SmtpResponse)),
)]
pub(crate) async fn put_smtp<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::SmtpPayload>,
) -> Result<Json<wire::SmtpResponse>, ApiError> {
    let s = smtp_settings(&st.config, p).await?;
    st.config.set_smtp_settings(Some(s.clone())).await?;
    Ok(Json(smtp_response(Some(&s))))
}

/// Validated SMTP settings from a payload, the stored password kept when none is given (and a
/// user name remains). Shared with the CLI.
pub(crate) async fn smtp_settings<C: NotifyStore>(
    config: &C,
    p: wire::SmtpPayload,
) -> Result<SmtpSettings, ApiError> {
    let port =
        validate_smtp(&p.host, p.port, &p.security, p.username.as_deref(), p.password.as_deref(), &p.from)?;
    let password = match (&p.username, p.password) {
        (None, _) => None,
        (Some(_), Some(pw)) => Some(pw),
        (Some(_), None) => config.smtp_settings().await?.and_then(|s| s.password),
    };
    Ok(SmtpSettings {
        host: p.host,
        port,
        security: p.security,
        username: p.username,
        password,
        from: p.from,
        updated_at: now_micros(),
    })
}

/// `DELETE /api/settings/notify/smtp/`.
#[utoipa::path(
    delete,
    path = "/api/settings/notify/smtp/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    responses((status = 200, description = "Cleared.", body = wire::SmtpResponse)),
)]
pub(crate) async fn delete_smtp<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<wire::SmtpResponse>, ApiError> {
    st.config.set_smtp_settings(None).await?;
    Ok(Json(smtp_response(None)))
}

/// `POST /api/settings/notify/smtp/test/` `{to}`: sends a test mail now.
#[utoipa::path(
    post,
    path = "/api/settings/notify/smtp/test/",
    tag = "settings",
    security(("session" = [], "csrf" = [])),
    request_body = wire::SmtpTestPayload,
    responses((status = 200, description = "The send, with its first attempt's outcome.", body = wire::SendResponse)),
)]
pub(crate) async fn test_smtp<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::SmtpTestPayload>,
) -> Result<Json<wire::SendResponse>, ApiError> {
    alerts::email_address(&p.to).map_err(|m| ApiError::field("to", m))?;
    if st.config.smtp_settings().await?.is_none() {
        return Err(ApiError::BadRequest("SMTP is not set up: PUT /api/settings/notify/smtp/ first.".into()));
    }
    Ok(Json(send_response(&test_mail(&st.notifier, &st.config, p.to).await?)))
}

/// Sends the SMTP test mail to `to` (also `agentsight notify smtp test`).
pub(crate) async fn test_mail<C: NotifyStore>(
    notifier: &Notifier,
    config: &C,
    to: String,
) -> Result<SendRow, ApiError> {
    let email = Email::smtp_test(to);
    notifier
        .send_email(config, email, "test", None, None, None)
        .await?
        .ok_or_else(|| ApiError::internal("a send without a dedupe key was not recorded"))
}

/// `GET /api/settings/notify/sends/`: the sends log, newest first.
#[utoipa::path(
    get,
    path = "/api/settings/notify/sends/",
    tag = "settings",
    security(("session" = [])),
    responses((status = 200, description = "The newest 200 sends, newest first.", body = Vec<wire::SendResponse>)),
)]
pub(crate) async fn list_sends<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<Vec<wire::SendResponse>>, ApiError> {
    Ok(Json(st.config.sends(MAX_NOTIFY_LISTED).await?.iter().map(send_response).collect()))
}
