//! Report schedules and the record of their sends (`ReportStore`, migration 0013).

use agentsight_core::reports::ScheduleSettings;
use agentsight_core::time::Micros;
use agentsight_store::{
    NewReportSchedule, ReportScheduleRow, ReportSendRow, ReportStore, StoreError, StoreResult,
    send_state_from_parts, settings_from_parts, timing_parts,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::writer::Notify;
use crate::{SqliteStore, sqlerr};

const SCHEDULE_COLUMNS: &str = "id, agent_id, cadence, day, hour, time_zone, recipients, enabled, share_id, \
                                share_token, active_since, created_at, updated_at";

fn schedule(r: &Row<'_>) -> rusqlite::Result<StoreResult<ReportScheduleRow>> {
    let (cadence, day, hour, tz, recipients, enabled): (String, i64, i64, String, String, bool) =
        (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    let (id, agent_id, share_id, share_token, active_since, created_at, updated_at) =
        (r.get(0)?, r.get(1)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?);
    Ok(settings_from_parts(&cadence, day, hour, &tz, &recipients, enabled).map(|settings| {
        ReportScheduleRow {
            id,
            agent_id,
            settings,
            share_id,
            share_token,
            active_since,
            created_at,
            updated_at,
        }
    }))
}

fn send(r: &Row<'_>) -> rusqlite::Result<StoreResult<ReportSendRow>> {
    let (schedule_id, period_key, state, attempts, claimed_at, sent_at, error): (
        i64,
        String,
        String,
        i64,
        Micros,
        Option<Micros>,
        Option<String>,
    ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
    Ok(send_state_from_parts(&state, claimed_at, attempts).map(|state| ReportSendRow {
        schedule_id,
        period_key,
        state,
        sent_at,
        error,
    }))
}

const SEND_COLUMNS: &str = "schedule_id, period_key, state, attempts, claimed_at, sent_at, error";

fn one_schedule(conn: &Connection, id: i64) -> StoreResult<Option<ReportScheduleRow>> {
    conn.query_row(&format!("SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE id = ?1"), [id], schedule)
        .optional()
        .map_err(sqlerr)?
        .transpose()
}

fn recipients_json(s: &ScheduleSettings) -> StoreResult<String> {
    serde_json::to_string(&s.recipients).map_err(|e| StoreError::internal_from("recipients", e))
}

fn exists(conn: &Connection, sql: &str, id: i64) -> StoreResult<bool> {
    conn.query_row(sql, [id], |r| r.get(0)).map_err(sqlerr)
}

impl ReportStore for SqliteStore {
    async fn create_report_schedule(&self, s: NewReportSchedule) -> StoreResult<ReportScheduleRow> {
        self.write(Notify::Nothing, move |conn| {
            if !exists(conn, "SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)", s.agent_id)? {
                return Err(StoreError::UnknownReference { field: "agent", value: s.agent_id.to_string() });
            }
            let (cadence, day, hour, tz) = timing_parts(&s.settings.timing);
            let id: i64 = conn
                .query_row(
                    "INSERT INTO report_schedules (agent_id, cadence, day, hour, time_zone, recipients, enabled,
                         share_id, share_token, active_since, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?10) RETURNING id",
                    params![
                        s.agent_id,
                        cadence,
                        day,
                        hour,
                        tz,
                        recipients_json(&s.settings)?,
                        s.settings.enabled,
                        s.share_id,
                        s.share_token,
                        s.now
                    ],
                    |r| r.get(0),
                )
                .map_err(sqlerr)?;
            one_schedule(conn, id)?.ok_or_else(|| StoreError::internal("the new report schedule is gone"))
        })
        .await
    }

    async fn report_schedules(&self, agent_id: Option<i64>) -> StoreResult<Vec<ReportScheduleRow>> {
        self.read_config(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {SCHEDULE_COLUMNS} FROM report_schedules WHERE ?1 IS NULL OR agent_id = ?1 ORDER BY id"
                ))
                .map_err(sqlerr)?;
            let rows = stmt.query_map([agent_id], schedule).map_err(sqlerr)?;
            rows.map(|r| r.map_err(sqlerr)?).collect()
        })
        .await
    }

    async fn report_schedule(&self, id: i64) -> StoreResult<Option<ReportScheduleRow>> {
        self.read_config(move |conn| one_schedule(conn, id)).await
    }

    async fn update_report_schedule(
        &self,
        id: i64,
        settings: ScheduleSettings,
        active_since: Micros,
        now: Micros,
    ) -> StoreResult<Option<ReportScheduleRow>> {
        self.write(Notify::Nothing, move |conn| {
            let (cadence, day, hour, tz) = timing_parts(&settings.timing);
            let n = conn
                .execute(
                    "UPDATE report_schedules SET cadence = ?2, day = ?3, hour = ?4, time_zone = ?5, recipients = ?6,
                         enabled = ?7, active_since = ?8, updated_at = ?9 WHERE id = ?1",
                    params![id, cadence, day, hour, tz, recipients_json(&settings)?, settings.enabled, active_since, now],
                )
                .map_err(sqlerr)?;
            if n == 0 { Ok(None) } else { one_schedule(conn, id) }
        })
        .await
    }

    async fn delete_report_schedule(&self, id: i64) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| {
            conn.execute("DELETE FROM report_sends WHERE schedule_id = ?1", [id]).map_err(sqlerr)?;
            Ok(conn.execute("DELETE FROM report_schedules WHERE id = ?1", [id]).map_err(sqlerr)? == 1)
        })
        .await
    }

    async fn report_send(&self, schedule_id: i64, period_key: String) -> StoreResult<Option<ReportSendRow>> {
        self.read_config(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {SEND_COLUMNS} FROM report_sends WHERE schedule_id = ?1 AND period_key = ?2"
                ),
                params![schedule_id, period_key],
                send,
            )
            .optional()
            .map_err(sqlerr)?
            .transpose()
        })
        .await
    }

    async fn report_sends(&self, schedule_id: i64, limit: i64) -> StoreResult<Vec<ReportSendRow>> {
        self.read_config(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {SEND_COLUMNS} FROM report_sends WHERE schedule_id = ?1
                     ORDER BY claimed_at DESC, period_key DESC LIMIT ?2"
                ))
                .map_err(sqlerr)?;
            let rows = stmt.query_map(params![schedule_id, limit], send).map_err(sqlerr)?;
            rows.map(|r| r.map_err(sqlerr)?).collect()
        })
        .await
    }

    async fn claim_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        stale_before: Micros,
        max_attempts: u32,
    ) -> StoreResult<Option<u32>> {
        self.write(Notify::Nothing, move |conn| {
            if !exists(conn, "SELECT EXISTS (SELECT 1 FROM report_schedules WHERE id = ?1)", schedule_id)? {
                return Err(StoreError::UnknownReference { field: "schedule", value: schedule_id.to_string() });
            }
            conn.query_row(
                "INSERT INTO report_sends (schedule_id, period_key, state, attempts, claimed_at)
                 VALUES (?1, ?2, 'sending', 1, ?3)
                 ON CONFLICT (schedule_id, period_key) DO UPDATE
                     SET state = 'sending', attempts = report_sends.attempts + 1, claimed_at = excluded.claimed_at,
                         error = NULL
                     WHERE report_sends.state <> 'sent' AND report_sends.claimed_at <= ?4
                       AND report_sends.attempts < ?5
                 RETURNING attempts",
                params![schedule_id, period_key, now, stale_before, max_attempts],
                |r| r.get::<_, u32>(0),
            )
            .optional()
            .map_err(sqlerr)
        })
        .await
    }

    async fn finish_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        error: Option<String>,
    ) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |conn| {
            let n = conn
                .execute(
                    "UPDATE report_sends SET state = CASE WHEN ?4 IS NULL THEN 'sent' ELSE 'failed' END,
                         sent_at = CASE WHEN ?4 IS NULL THEN ?3 END, error = ?4
                     WHERE schedule_id = ?1 AND period_key = ?2 AND state = 'sending'",
                    params![schedule_id, period_key, now, error],
                )
                .map_err(sqlerr)?;
            Ok(n == 1)
        })
        .await
    }
}
