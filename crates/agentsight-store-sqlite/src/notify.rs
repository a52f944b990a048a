//! Alert rules, their episodes, notification targets, SMTP settings, the sends log and leases
//! on SQLite ([`NotifyStore`], migration 0012). One node: a lease is a row like on PostgreSQL,
//! written by the one writer.

use agentsight_core::time::Micros;
use agentsight_store::{
    AlertEventRow, AlertRuleRow, NewAlertRule, NewNotifyTarget, NewSend, NotifyStore, NotifyTargetRow,
    SendAttempt, SendRow, SendStatus, SmtpSettings, StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::writer::Notify;
use crate::{SqliteStore, sqlerr};

const RULE_COLS: &str = "id, agent_id, kind, threshold, window_hours, enabled, created_at";
const EVENT_COLS: &str =
    "id, rule_id, agent_id, kind, threshold, fired_at, fired_value, resolved_at, resolved_value";
const TARGET_COLS: &str = "id, kind, name, address, secret, enabled, created_at";
const SEND_COLS: &str = "id, channel, source, target_id, alert_event_id, recipient, subject, payload, \
     dedupe_key, created_at, status, attempts, last_error, next_attempt_at, last_attempt_at";

fn rule(r: &Row) -> rusqlite::Result<AlertRuleRow> {
    Ok(AlertRuleRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        kind: r.get(2)?,
        threshold: r.get(3)?,
        window_hours: r.get(4)?,
        enabled: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn event(r: &Row) -> rusqlite::Result<AlertEventRow> {
    Ok(AlertEventRow {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        agent_id: r.get(2)?,
        kind: r.get(3)?,
        threshold: r.get(4)?,
        fired_at: r.get(5)?,
        fired_value: r.get(6)?,
        resolved_at: r.get(7)?,
        resolved_value: r.get(8)?,
    })
}

fn target(r: &Row) -> rusqlite::Result<NotifyTargetRow> {
    Ok(NotifyTargetRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        address: r.get(3)?,
        secret: r.get(4)?,
        enabled: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn send(r: &Row) -> rusqlite::Result<SendRow> {
    Ok(SendRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        source: r.get(2)?,
        target_id: r.get(3)?,
        alert_event_id: r.get(4)?,
        recipient: r.get(5)?,
        subject: r.get(6)?,
        payload: r.get(7)?,
        dedupe_key: r.get(8)?,
        created_at: r.get(9)?,
        status: SendStatus::parse(&r.get::<_, String>(10)?),
        attempts: r.get(11)?,
        last_error: r.get(12)?,
        next_attempt_at: r.get(13)?,
        last_attempt_at: r.get(14)?,
    })
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_map(p, f)?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sqlerr)
}

fn one<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: fn(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    conn.query_row(sql, p, f).optional().map_err(sqlerr)
}

fn agent_exists(conn: &Connection, agent_id: i64) -> StoreResult<()> {
    let found = conn
        .query_row("SELECT 1 FROM agents WHERE id = ?1", [agent_id], |_| Ok(()))
        .optional()
        .map_err(sqlerr)?;
    found.ok_or(StoreError::UnknownReference { field: "agent", value: agent_id.to_string() })
}

impl NotifyStore for SqliteStore {
    async fn alert_rules(&self) -> StoreResult<Vec<AlertRuleRow>> {
        self.read_config(|c| all(c, &format!("SELECT {RULE_COLS} FROM alert_rules ORDER BY id"), [], rule))
            .await
    }

    async fn alert_rule(&self, id: i64) -> StoreResult<Option<AlertRuleRow>> {
        self.read_config(move |c| {
            one(c, &format!("SELECT {RULE_COLS} FROM alert_rules WHERE id = ?1"), [id], rule)
        })
        .await
    }

    async fn create_alert_rule(&self, r: NewAlertRule, now: Micros) -> StoreResult<AlertRuleRow> {
        self.write(Notify::Nothing, move |c| {
            agent_exists(c, r.agent_id)?;
            c.query_row(
                &format!(
                    "INSERT INTO alert_rules (agent_id, kind, threshold, window_hours, enabled, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {RULE_COLS}"
                ),
                params![r.agent_id, r.kind, r.threshold, r.window_hours, r.enabled, now],
                rule,
            )
            .map_err(sqlerr)
        })
        .await
    }

    async fn update_alert_rule(&self, id: i64, r: NewAlertRule) -> StoreResult<Option<AlertRuleRow>> {
        self.write(Notify::Nothing, move |c| {
            agent_exists(c, r.agent_id)?;
            one(
                c,
                &format!(
                    "UPDATE alert_rules SET agent_id = ?2, kind = ?3, threshold = ?4, window_hours = ?5,
                     enabled = ?6 WHERE id = ?1 RETURNING {RULE_COLS}"
                ),
                params![id, r.agent_id, r.kind, r.threshold, r.window_hours, r.enabled],
                rule,
            )
        })
        .await
    }

    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |c| {
            c.execute("DELETE FROM alert_rules WHERE id = ?1", [id]).map(|n| n == 1).map_err(sqlerr)
        })
        .await
    }

    async fn open_alert(&self, rule_id: i64, at: Micros, value: f64) -> StoreResult<Option<AlertEventRow>> {
        self.write(Notify::Nothing, move |c| {
            // The partial unique index refuses a second open episode; INSERT … SELECT … WHERE NOT
            // EXISTS checks first, so nothing is written (and nothing to roll back) when one is open.
            one(
                c,
                &format!(
                    "INSERT INTO alert_events (rule_id, agent_id, kind, threshold, fired_at, fired_value)
                     SELECT id, agent_id, kind, threshold, ?2, ?3 FROM alert_rules WHERE id = ?1
                       AND NOT EXISTS (SELECT 1 FROM alert_events WHERE rule_id = ?1 AND resolved_at IS NULL)
                     RETURNING {EVENT_COLS}"
                ),
                params![rule_id, at, value],
                event,
            )
        })
        .await
    }

    async fn resolve_alert(
        &self,
        rule_id: i64,
        at: Micros,
        value: Option<f64>,
    ) -> StoreResult<Option<AlertEventRow>> {
        self.write(Notify::Nothing, move |c| {
            one(
                c,
                &format!(
                    "UPDATE alert_events SET resolved_at = ?2, resolved_value = ?3
                     WHERE rule_id = ?1 AND resolved_at IS NULL RETURNING {EVENT_COLS}"
                ),
                params![rule_id, at, value],
                event,
            )
        })
        .await
    }

    async fn alert_events(&self, rule_id: Option<i64>, limit: i64) -> StoreResult<Vec<AlertEventRow>> {
        self.read_config(move |c| {
            all(
                c,
                &format!(
                    "SELECT {EVENT_COLS} FROM alert_events WHERE ?1 IS NULL OR rule_id = ?1 ORDER BY id DESC LIMIT ?2"
                ),
                params![rule_id, limit],
                event,
            )
        })
        .await
    }

    async fn notify_targets(&self) -> StoreResult<Vec<NotifyTargetRow>> {
        self.read_config(|c| {
            all(c, &format!("SELECT {TARGET_COLS} FROM notify_targets ORDER BY id"), [], target)
        })
        .await
    }

    async fn notify_target(&self, id: i64) -> StoreResult<Option<NotifyTargetRow>> {
        self.read_config(move |c| {
            one(c, &format!("SELECT {TARGET_COLS} FROM notify_targets WHERE id = ?1"), [id], target)
        })
        .await
    }

    async fn create_notify_target(&self, t: NewNotifyTarget, now: Micros) -> StoreResult<NotifyTargetRow> {
        self.write(Notify::Nothing, move |c| {
            c.query_row(
                &format!(
                    "INSERT INTO notify_targets (kind, name, address, secret, enabled, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {TARGET_COLS}"
                ),
                params![t.kind, t.name, t.address, t.secret, t.enabled, now],
                target,
            )
            .map_err(sqlerr)
        })
        .await
    }

    async fn set_notify_target_enabled(
        &self,
        id: i64,
        enabled: bool,
    ) -> StoreResult<Option<NotifyTargetRow>> {
        self.write(Notify::Nothing, move |c| {
            one(
                c,
                &format!("UPDATE notify_targets SET enabled = ?2 WHERE id = ?1 RETURNING {TARGET_COLS}"),
                params![id, enabled],
                target,
            )
        })
        .await
    }

    async fn delete_notify_target(&self, id: i64) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |c| {
            c.execute("DELETE FROM notify_targets WHERE id = ?1", [id]).map(|n| n == 1).map_err(sqlerr)
        })
        .await
    }

    async fn smtp_settings(&self) -> StoreResult<Option<SmtpSettings>> {
        self.read_config(|c| {
            one(
                c,
                "SELECT host, port, security, username, password, from_addr, updated_at FROM smtp_settings WHERE id = 1",
                [],
                |r| {
                    Ok(SmtpSettings {
                        host: r.get(0)?,
                        port: r.get(1)?,
                        security: r.get(2)?,
                        username: r.get(3)?,
                        password: r.get(4)?,
                        from: r.get(5)?,
                        updated_at: r.get(6)?,
                    })
                },
            )
        })
        .await
    }

    async fn set_smtp_settings(&self, s: Option<SmtpSettings>) -> StoreResult<()> {
        self.write(Notify::Nothing, move |c| {
            match s {
                None => c.execute("DELETE FROM smtp_settings", []),
                Some(s) => c.execute(
                    "INSERT OR REPLACE INTO smtp_settings
                     (id, host, port, security, username, password, from_addr, updated_at)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![s.host, s.port, s.security, s.username, s.password, s.from, s.updated_at],
                ),
            }
            .map(drop)
            .map_err(sqlerr)
        })
        .await
    }

    async fn record_send(&self, s: NewSend) -> StoreResult<Option<SendRow>> {
        self.write(Notify::Nothing, move |c| {
            one(
                c,
                &format!(
                    "INSERT INTO notify_sends (channel, source, target_id, alert_event_id, recipient, subject,
                       payload, dedupe_key, created_at, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending')
                     ON CONFLICT (dedupe_key) DO NOTHING RETURNING {SEND_COLS}"
                ),
                params![
                    s.channel,
                    s.source,
                    s.target_id,
                    s.alert_event_id,
                    s.recipient,
                    s.subject,
                    s.payload,
                    s.dedupe_key,
                    s.created_at
                ],
                send,
            )
        })
        .await
    }

    async fn record_attempt(&self, id: i64, a: SendAttempt) -> StoreResult<Option<SendRow>> {
        self.write(Notify::Nothing, move |c| {
            one(
                c,
                &format!(
                    "UPDATE notify_sends SET status = ?2, attempts = attempts + 1, last_error = ?3,
                       next_attempt_at = ?4, last_attempt_at = ?5
                     WHERE id = ?1 RETURNING {SEND_COLS}"
                ),
                params![id, a.status.as_str(), a.error, a.next_attempt_at, a.at],
                send,
            )
        })
        .await
    }

    async fn due_sends(&self, now: Micros, stale_before: Micros, limit: i64) -> StoreResult<Vec<SendRow>> {
        self.read_config(move |c| {
            all(
                c,
                &format!(
                    "SELECT {SEND_COLS} FROM notify_sends
                     WHERE (status = 'retrying' AND next_attempt_at <= ?1)
                        OR (status = 'pending' AND created_at <= ?3)
                     ORDER BY coalesce(next_attempt_at, created_at), id LIMIT ?2"
                ),
                params![now, limit, stale_before],
                send,
            )
        })
        .await
    }

    async fn sends(&self, limit: i64) -> StoreResult<Vec<SendRow>> {
        self.read_config(move |c| {
            all(c, &format!("SELECT {SEND_COLS} FROM notify_sends ORDER BY id DESC LIMIT ?1"), [limit], send)
        })
        .await
    }

    async fn take_lease(&self, name: String, holder: String, now: Micros, ttl: Micros) -> StoreResult<bool> {
        self.write(Notify::Nothing, move |c| {
            c.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
                params![name, holder, now.saturating_add(ttl), now],
            )
            .map(|n| n == 1)
            .map_err(sqlerr)
        })
        .await
    }
}
