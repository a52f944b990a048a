//! Report schedules and the record of their sends (`ReportStore`, migration 0004), as SQLite
//! keeps them.

use agentsight_core::reports::ScheduleSettings;
use agentsight_core::time::Micros;
use agentsight_store::{
    NewReportSchedule, ReportScheduleRow, ReportSendRow, StoreError, StoreResult, send_state_from_parts,
    settings_from_parts, timing_parts,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::sql::{exec, get, one, opt, rows};

const SCHEDULE_COLUMNS: &str = "id, agent_id, cadence, day, hour, time_zone, recipients, enabled, share_id, \
                                share_token, active_since, created_at, updated_at";
const SEND_COLUMNS: &str = "schedule_id, period_key, state, attempts, claimed_at, sent_at, error";

fn schedule(r: &Row) -> StoreResult<ReportScheduleRow> {
    let settings = settings_from_parts(
        &get::<String>(r, 2)?,
        get(r, 3)?,
        get(r, 4)?,
        &get::<String>(r, 5)?,
        &get::<String>(r, 6)?,
        get(r, 7)?,
    )?;
    Ok(ReportScheduleRow {
        id: get(r, 0)?,
        agent_id: get(r, 1)?,
        settings,
        share_id: get(r, 8)?,
        share_token: get(r, 9)?,
        active_since: get(r, 10)?,
        created_at: get(r, 11)?,
        updated_at: get(r, 12)?,
    })
}

fn send(r: &Row) -> StoreResult<ReportSendRow> {
    Ok(ReportSendRow {
        schedule_id: get(r, 0)?,
        period_key: get(r, 1)?,
        state: send_state_from_parts(&get::<String>(r, 2)?, get(r, 4)?, get(r, 3)?)?,
        sent_at: get(r, 5)?,
        error: get(r, 6)?,
    })
}

fn recipients_json(s: &ScheduleSettings) -> StoreResult<String> {
    serde_json::to_string(&s.recipients).map_err(|e| StoreError::internal_from("recipients", e))
}

pub(crate) async fn create(c: &impl GenericClient, s: &NewReportSchedule) -> StoreResult<ReportScheduleRow> {
    let exists: bool =
        get(&one(c, "SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)", &[&s.agent_id]).await?, 0)?;
    if !exists {
        return Err(StoreError::UnknownReference { field: "agent", value: s.agent_id.to_string() });
    }
    let (cadence, day, hour, tz) = timing_parts(&s.settings.timing);
    let r = one(
        c,
        &format!(
            "INSERT INTO report_schedules (agent_id, cadence, day, hour, time_zone, recipients, enabled, share_id,
                 share_token, active_since, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) RETURNING {SCHEDULE_COLUMNS}"
        ),
        &[
            &s.agent_id,
            &cadence,
            &day,
            &hour,
            &tz,
            &recipients_json(&s.settings)?,
            &s.settings.enabled,
            &s.share_id,
            &s.share_token,
            &s.now,
        ],
    )
    .await?;
    schedule(&r)
}

pub(crate) async fn list(
    c: &impl GenericClient,
    agent_id: Option<i64>,
) -> StoreResult<Vec<ReportScheduleRow>> {
    rows(
        c,
        &format!(
            "SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE $1::BIGINT IS NULL OR agent_id = $1 ORDER BY id"
        ),
        &[&agent_id],
    )
    .await?
    .iter()
    .map(schedule)
    .collect()
}

pub(crate) async fn get_one(c: &impl GenericClient, id: i64) -> StoreResult<Option<ReportScheduleRow>> {
    opt(c, &format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(schedule)
        .transpose()
}

pub(crate) async fn update(
    c: &impl GenericClient,
    id: i64,
    s: &ScheduleSettings,
    active_since: Micros,
    now: Micros,
) -> StoreResult<Option<ReportScheduleRow>> {
    let (cadence, day, hour, tz) = timing_parts(&s.timing);
    opt(
        c,
        &format!(
            "UPDATE report_schedules SET cadence = $2, day = $3, hour = $4, time_zone = $5, recipients = $6,
                 enabled = $7, active_since = $8, updated_at = $9 WHERE id = $1 RETURNING {SCHEDULE_COLUMNS}"
        ),
        &[&id, &cadence, &day, &hour, &tz, &recipients_json(s)?, &s.enabled, &active_since, &now],
    )
    .await?
    .as_ref()
    .map(schedule)
    .transpose()
}

pub(crate) async fn delete(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    exec(c, "DELETE FROM report_sends WHERE schedule_id = $1", &[&id]).await?;
    Ok(exec(c, "DELETE FROM report_schedules WHERE id = $1", &[&id]).await? == 1)
}

pub(crate) async fn send_of(
    c: &impl GenericClient,
    schedule_id: i64,
    key: &str,
) -> StoreResult<Option<ReportSendRow>> {
    opt(
        c,
        &format!("SELECT {SEND_COLUMNS} FROM report_sends WHERE schedule_id = $1 AND period_key = $2"),
        &[&schedule_id, &key],
    )
    .await?
    .as_ref()
    .map(send)
    .transpose()
}

pub(crate) async fn sends(
    c: &impl GenericClient,
    schedule_id: i64,
    limit: i64,
) -> StoreResult<Vec<ReportSendRow>> {
    rows(
        c,
        &format!(
            "SELECT {SEND_COLUMNS} FROM report_sends WHERE schedule_id = $1
             ORDER BY claimed_at DESC, period_key DESC LIMIT $2"
        ),
        &[&schedule_id, &limit],
    )
    .await?
    .iter()
    .map(send)
    .collect()
}

pub(crate) async fn claim(
    c: &impl GenericClient,
    schedule_id: i64,
    key: &str,
    now: Micros,
    stale_before: Micros,
    max_attempts: u32,
) -> StoreResult<Option<u32>> {
    let exists: bool = get(
        &one(c, "SELECT EXISTS (SELECT 1 FROM report_schedules WHERE id = $1)", &[&schedule_id]).await?,
        0,
    )?;
    if !exists {
        return Err(StoreError::UnknownReference { field: "schedule", value: schedule_id.to_string() });
    }
    let max = i64::from(max_attempts);
    let r = opt(
        c,
        "INSERT INTO report_sends (schedule_id, period_key, state, attempts, claimed_at)
         VALUES ($1, $2, 'sending', 1, $3)
         ON CONFLICT (schedule_id, period_key) DO UPDATE
             SET state = 'sending', attempts = report_sends.attempts + 1, claimed_at = excluded.claimed_at,
                 error = NULL
             WHERE report_sends.state <> 'sent' AND report_sends.claimed_at <= $4 AND report_sends.attempts < $5
         RETURNING attempts",
        &[&schedule_id, &key, &now, &stale_before, &max],
    )
    .await?;
    r.map(|r| get::<i64>(&r, 0).map(|a| u32::try_from(a).unwrap_or(u32::MAX))).transpose()
}

pub(crate) async fn finish(
    c: &impl GenericClient,
    schedule_id: i64,
    key: &str,
    now: Micros,
    error: Option<&str>,
) -> StoreResult<bool> {
    let n = exec(
        c,
        "UPDATE report_sends SET state = CASE WHEN $4::TEXT IS NULL THEN 'sent' ELSE 'failed' END,
             sent_at = CASE WHEN $4::TEXT IS NULL THEN $3::BIGINT END, error = $4
         WHERE schedule_id = $1 AND period_key = $2 AND state = 'sending'",
        &[&schedule_id, &key, &now, &error],
    )
    .await?;
    Ok(n == 1)
}
