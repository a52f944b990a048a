//! Alert rules, their episodes, notification targets, SMTP settings, the sends log and leases
//! (`NotifyStore`, migration 0003), as SQLite keeps them. Every write holds the store's write
//! lock (one advisory lock), so opening an episode and taking a lease are atomic across nodes.

use agentsight_core::time::Micros;
use agentsight_store::{
    AlertEventRow, AlertRuleRow, NewAlertRule, NewNotifyTarget, NewSend, NotifyTargetRow, SendAttempt,
    SendRow, SendStatus, SmtpSettings, StoreError, StoreResult,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::sql::{exec, get, opt, rows};

const RULE_COLS: &str = "id, agent_id, kind, threshold, window_hours, enabled, created_at";
const EVENT_COLS: &str =
    "id, rule_id, agent_id, kind, threshold, fired_at, fired_value, resolved_at, resolved_value";
const TARGET_COLS: &str = "id, kind, name, address, secret, enabled, created_at";
const SEND_COLS: &str = "id, channel, source, target_id, alert_event_id, recipient, subject, payload, \
     dedupe_key, created_at, status, attempts, last_error, next_attempt_at, last_attempt_at";

fn rule(r: &Row) -> StoreResult<AlertRuleRow> {
    Ok(AlertRuleRow {
        id: get(r, 0)?,
        agent_id: get(r, 1)?,
        kind: get(r, 2)?,
        threshold: get(r, 3)?,
        window_hours: get::<i32>(r, 4)?.max(0) as u32,
        enabled: get(r, 5)?,
        created_at: get(r, 6)?,
    })
}

fn event(r: &Row) -> StoreResult<AlertEventRow> {
    Ok(AlertEventRow {
        id: get(r, 0)?,
        rule_id: get(r, 1)?,
        agent_id: get(r, 2)?,
        kind: get(r, 3)?,
        threshold: get(r, 4)?,
        fired_at: get(r, 5)?,
        fired_value: get(r, 6)?,
        resolved_at: get(r, 7)?,
        resolved_value: get(r, 8)?,
    })
}

fn target(r: &Row) -> StoreResult<NotifyTargetRow> {
    Ok(NotifyTargetRow {
        id: get(r, 0)?,
        kind: get(r, 1)?,
        name: get(r, 2)?,
        address: get(r, 3)?,
        secret: get(r, 4)?,
        enabled: get(r, 5)?,
        created_at: get(r, 6)?,
    })
}

fn send(r: &Row) -> StoreResult<SendRow> {
    Ok(SendRow {
        id: get(r, 0)?,
        channel: get(r, 1)?,
        source: get(r, 2)?,
        target_id: get(r, 3)?,
        alert_event_id: get(r, 4)?,
        recipient: get(r, 5)?,
        subject: get(r, 6)?,
        payload: get(r, 7)?,
        dedupe_key: get(r, 8)?,
        created_at: get(r, 9)?,
        status: SendStatus::parse(get(r, 10)?),
        attempts: get::<i32>(r, 11)?.max(0) as u32,
        last_error: get(r, 12)?,
        next_attempt_at: get(r, 13)?,
        last_attempt_at: get(r, 14)?,
    })
}

fn window(h: u32) -> i32 {
    i32::try_from(h).unwrap_or(i32::MAX)
}

async fn agent_exists(c: &impl GenericClient, agent_id: i64) -> StoreResult<()> {
    match opt(c, "SELECT 1 FROM agents WHERE id = $1", &[&agent_id]).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::UnknownReference { field: "agent", value: agent_id.to_string() }),
    }
}

pub(crate) async fn alert_rules(c: &impl GenericClient) -> StoreResult<Vec<AlertRuleRow>> {
    rows(c, &format!("SELECT {RULE_COLS} FROM alert_rules ORDER BY id"), &[])
        .await?
        .iter()
        .map(rule)
        .collect()
}

pub(crate) async fn alert_rule(c: &impl GenericClient, id: i64) -> StoreResult<Option<AlertRuleRow>> {
    opt(c, &format!("SELECT {RULE_COLS} FROM alert_rules WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(rule)
        .transpose()
}

pub(crate) async fn create_alert_rule(
    c: &impl GenericClient,
    r: NewAlertRule,
    now: Micros,
) -> StoreResult<AlertRuleRow> {
    agent_exists(c, r.agent_id).await?;
    let row = crate::sql::one(
        c,
        &format!(
            "INSERT INTO alert_rules (agent_id, kind, threshold, window_hours, enabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {RULE_COLS}"
        ),
        &[&r.agent_id, &r.kind, &r.threshold, &window(r.window_hours), &r.enabled, &now],
    )
    .await?;
    rule(&row)
}

pub(crate) async fn update_alert_rule(
    c: &impl GenericClient,
    id: i64,
    r: NewAlertRule,
) -> StoreResult<Option<AlertRuleRow>> {
    agent_exists(c, r.agent_id).await?;
    opt(
        c,
        &format!(
            "UPDATE alert_rules SET agent_id = $2, kind = $3, threshold = $4, window_hours = $5, enabled = $6
             WHERE id = $1 RETURNING {RULE_COLS}"
        ),
        &[&id, &r.agent_id, &r.kind, &r.threshold, &window(r.window_hours), &r.enabled],
    )
    .await?
    .as_ref()
    .map(rule)
    .transpose()
}

pub(crate) async fn delete_alert_rule(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    Ok(exec(c, "DELETE FROM alert_rules WHERE id = $1", &[&id]).await? == 1)
}

pub(crate) async fn open_alert(
    c: &impl GenericClient,
    rule_id: i64,
    at: Micros,
    value: f64,
) -> StoreResult<Option<AlertEventRow>> {
    opt(
        c,
        &format!(
            "INSERT INTO alert_events (rule_id, agent_id, kind, threshold, fired_at, fired_value)
             SELECT id, agent_id, kind, threshold, $2, $3 FROM alert_rules WHERE id = $1
               AND NOT EXISTS (SELECT 1 FROM alert_events WHERE rule_id = $1 AND resolved_at IS NULL)
             RETURNING {EVENT_COLS}"
        ),
        &[&rule_id, &at, &value],
    )
    .await?
    .as_ref()
    .map(event)
    .transpose()
}

pub(crate) async fn resolve_alert(
    c: &impl GenericClient,
    rule_id: i64,
    at: Micros,
    value: Option<f64>,
) -> StoreResult<Option<AlertEventRow>> {
    opt(
        c,
        &format!(
            "UPDATE alert_events SET resolved_at = $2, resolved_value = $3
             WHERE rule_id = $1 AND resolved_at IS NULL RETURNING {EVENT_COLS}"
        ),
        &[&rule_id, &at, &value],
    )
    .await?
    .as_ref()
    .map(event)
    .transpose()
}

pub(crate) async fn alert_events(
    c: &impl GenericClient,
    rule_id: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<AlertEventRow>> {
    rows(
        c,
        &format!(
            "SELECT {EVENT_COLS} FROM alert_events WHERE $1::BIGINT IS NULL OR rule_id = $1 ORDER BY id DESC LIMIT $2"
        ),
        &[&rule_id, &limit],
    )
    .await?
    .iter()
    .map(event)
    .collect()
}

pub(crate) async fn notify_targets(c: &impl GenericClient) -> StoreResult<Vec<NotifyTargetRow>> {
    rows(c, &format!("SELECT {TARGET_COLS} FROM notify_targets ORDER BY id"), &[])
        .await?
        .iter()
        .map(target)
        .collect()
}

pub(crate) async fn notify_target(c: &impl GenericClient, id: i64) -> StoreResult<Option<NotifyTargetRow>> {
    opt(c, &format!("SELECT {TARGET_COLS} FROM notify_targets WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(target)
        .transpose()
}

pub(crate) async fn create_notify_target(
    c: &impl GenericClient,
    t: NewNotifyTarget,
    now: Micros,
) -> StoreResult<NotifyTargetRow> {
    let row = crate::sql::one(
        c,
        &format!(
            "INSERT INTO notify_targets (kind, name, address, secret, enabled, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TARGET_COLS}"
        ),
        &[&t.kind, &t.name, &t.address, &t.secret, &t.enabled, &now],
    )
    .await?;
    target(&row)
}

pub(crate) async fn set_notify_target_enabled(
    c: &impl GenericClient,
    id: i64,
    enabled: bool,
) -> StoreResult<Option<NotifyTargetRow>> {
    opt(
        c,
        &format!("UPDATE notify_targets SET enabled = $2 WHERE id = $1 RETURNING {TARGET_COLS}"),
        &[&id, &enabled],
    )
    .await?
    .as_ref()
    .map(target)
    .transpose()
}

pub(crate) async fn delete_notify_target(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    Ok(exec(c, "DELETE FROM notify_targets WHERE id = $1", &[&id]).await? == 1)
}

pub(crate) async fn smtp_settings(c: &impl GenericClient) -> StoreResult<Option<SmtpSettings>> {
    let Some(r) = opt(
        c,
        "SELECT host, port, security, username, password, from_addr, updated_at FROM smtp_settings WHERE id = 1",
        &[],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(SmtpSettings {
        host: get(&r, 0)?,
        port: u16::try_from(get::<i32>(&r, 1)?).unwrap_or(0),
        security: get(&r, 2)?,
        username: get(&r, 3)?,
        password: get(&r, 4)?,
        from: get(&r, 5)?,
        updated_at: get(&r, 6)?,
    }))
}

pub(crate) async fn set_smtp_settings(c: &impl GenericClient, s: Option<SmtpSettings>) -> StoreResult<()> {
    match s {
        None => exec(c, "DELETE FROM smtp_settings", &[]).await?,
        Some(s) => exec(
            c,
            "INSERT INTO smtp_settings (id, host, port, security, username, password, from_addr, updated_at)
                 VALUES (1, $1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port,
                   security = excluded.security, username = excluded.username, password = excluded.password,
                   from_addr = excluded.from_addr, updated_at = excluded.updated_at",
            &[&s.host, &i32::from(s.port), &s.security, &s.username, &s.password, &s.from, &s.updated_at],
        )
        .await?,
    };
    Ok(())
}

pub(crate) async fn record_send(c: &impl GenericClient, s: NewSend) -> StoreResult<Option<SendRow>> {
    opt(
        c,
        &format!(
            "INSERT INTO notify_sends (channel, source, target_id, alert_event_id, recipient, subject, payload,
               dedupe_key, created_at, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING {SEND_COLS}"
        ),
        &[
            &s.channel,
            &s.source,
            &s.target_id,
            &s.alert_event_id,
            &s.recipient,
            &s.subject,
            &s.payload,
            &s.dedupe_key,
            &s.created_at,
        ],
    )
    .await?
    .as_ref()
    .map(send)
    .transpose()
}

pub(crate) async fn record_attempt(
    c: &impl GenericClient,
    id: i64,
    a: SendAttempt,
) -> StoreResult<Option<SendRow>> {
    opt(
        c,
        &format!(
            "UPDATE notify_sends SET status = $2, attempts = attempts + 1, last_error = $3, next_attempt_at = $4,
               last_attempt_at = $5
             WHERE id = $1 RETURNING {SEND_COLS}"
        ),
        &[&id, &a.status.as_str(), &a.error, &a.next_attempt_at, &a.at],
    )
    .await?
    .as_ref()
    .map(send)
    .transpose()
}

pub(crate) async fn due_sends(
    c: &impl GenericClient,
    now: Micros,
    stale_before: Micros,
    limit: i64,
) -> StoreResult<Vec<SendRow>> {
    rows(
        c,
        &format!(
            "SELECT {SEND_COLS} FROM notify_sends
             WHERE (status = 'retrying' AND next_attempt_at <= $1)
                OR (status = 'pending' AND created_at <= $3)
             ORDER BY coalesce(next_attempt_at, created_at), id LIMIT $2"
        ),
        &[&now, &limit, &stale_before],
    )
    .await?
    .iter()
    .map(send)
    .collect()
}

pub(crate) async fn sends(c: &impl GenericClient, limit: i64) -> StoreResult<Vec<SendRow>> {
    rows(c, &format!("SELECT {SEND_COLS} FROM notify_sends ORDER BY id DESC LIMIT $1"), &[&limit])
        .await?
        .iter()
        .map(send)
        .collect()
}

pub(crate) async fn take_lease(
    c: &impl GenericClient,
    name: String,
    holder: String,
    now: Micros,
    ttl: Micros,
) -> StoreResult<bool> {
    let expires = now.saturating_add(ttl);
    Ok(exec(
        c,
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        &[&name, &holder, &expires, &now],
    )
    .await?
        == 1)
}
