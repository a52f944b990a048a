//! `agentsight migrate`: copies a single box (a data dir) into the scale-out deployment
//! (PostgreSQL and ClickHouse), keeping every id, so conversation pks and message ids the SDK
//! holds stay valid and keys (their stored hashes) keep working.
//!
//! The source is read in one read transaction of its own (a snapshot as of one commit, as
//! `agentsight backup` reads: a server writing to the data dir meanwhile does not change what
//! this run sees). There is no lock on a data dir to test for a running server; rows a server
//! adds after the snapshot are copied by the next run, but changes to rows already copied
//! (a rename, a mark, a deletion, a new vote on an old message) are not: stop the server, run
//! `migrate` a last time, then start the scale-out nodes.
//!
//! What is copied, in order: the configuration (agents with their retention, environments, keys,
//! users and their agents, share links, branding, alert rules and their history, notification
//! targets, the SMTP settings, report schedules and the record of their sends, so a period
//! sent from the single box is not sent again; sessions are not: users sign in again; nor is
//! the sends log: its history stays in the data dir and its pending retries are dropped), then
//! per agent the
//! conversations, messages (with the transcript entries of actions and buttons), action logs,
//! buttons, conversation feedback, votes, action definitions, token usage and attachments
//! (their bytes into PostgreSQL). Not copied: the span rows of 0.1.x (the span listing and
//! trace views; everything the spans were projected into is copied: messages, tools, token
//! usage). Each (step, agent) goes in chunks in id order with a high-water mark in PostgreSQL
//! (see `agentsight_store_clickhouse::import`), so a stopped run resumes and a repeated one
//! copies nothing twice.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use agentsight_store_clickhouse::ClickHouseEventStore;
use anyhow::{Context, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use crate::backend::ScaleOut;

/// Rows per chunk (one PostgreSQL transaction or one ClickHouse insert each).
pub const DEFAULT_CHUNK_ROWS: usize = 5_000;

/// Attachments per chunk (their bytes are held in memory: at most this many files).
const ATTACHMENT_CHUNK: usize = 8;

/// Where a step's rows go.
#[derive(Clone, Copy, PartialEq)]
enum Sink {
    /// The PostgreSQL table, chunk and mark in one transaction.
    Postgres(&'static str),
    /// The ClickHouse table, then the mark.
    ClickHouse(&'static str),
    /// `event_conversations` and ClickHouse's `conversations`.
    Conversations,
    /// Bytes into the blob store, rows into `event_attachments`.
    Attachments,
}

/// One step per agent: its name (the progress key), the SQLite source and where it goes.
struct Step {
    name: &'static str,
    source: &'static str,
    columns: &'static str,
    sink: Sink,
}

const STEPS: &[Step] = &[
    Step {
        name: "conversations",
        source: "conversations",
        columns: "id, agent_id, conversation_id, name, customer_id, customer_ip_address, country, region, city, \
                  latitude, longitude, device, source, language, environment, metadata, is_used, is_marked, \
                  is_deleted, deleted_at, started_at, ended_at, created_at, updated_at",
        sink: Sink::Conversations,
    },
    Step {
        name: "messages",
        source: "messages",
        columns: "id, agent_id, conversation_pk, kind, sender, content, metadata, ts, received_at",
        sink: Sink::ClickHouse("messages"),
    },
    Step {
        name: "action_logs",
        source: "action_logs",
        columns: "id, agent_id, conversation_pk, message_id, action_name, started_at, ended_at, duration_ms, \
                  tools_used, response, error_msg, metadata, ts",
        sink: Sink::ClickHouse("action_logs"),
    },
    Step {
        name: "buttons",
        source: "buttons",
        columns: "id, agent_id, conversation_pk, message_id, button_event, label, value, metadata, ts",
        sink: Sink::ClickHouse("buttons"),
    },
    Step {
        name: "feedbacks",
        source: "feedbacks",
        columns: "id, agent_id, conversation_pk, sentiment, source, comment, metadata, created_at, updated_at, \
                  0 AS is_deleted, 0 AS version",
        sink: Sink::ClickHouse("feedbacks"),
    },
    Step {
        name: "votes",
        source: "feedback_votes",
        columns: "id, agent_id, kind, conversation_pk, message_id, sentiment, source, comment, topic, reason, \
                  environment, created_at, updated_at",
        sink: Sink::Postgres("event_votes"),
    },
    Step {
        name: "actions",
        source: "actions",
        columns: "id, agent_id, name, display_name, description, created_at, updated_at",
        sink: Sink::Postgres("event_actions"),
    },
    Step {
        name: "token_usage",
        source: "token_usage",
        columns: "id, agent_id, conversation_pk, turn_key, turn_id, model, system, calls, unreported_calls, \
                  error_calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, \
                  embedding_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens, cost_pico, \
                  cost_source, price_table, incomplete, incomplete_reason, started_at, ended_at, created_at, \
                  updated_at",
        sink: Sink::Postgres("event_token_usage"),
    },
    Step {
        name: "attachments",
        source: "attachments",
        columns: "id, agent_id, conversation_pk, message_id, sender, filename, mime_type, size_bytes, storage_key, \
                  metadata, ts",
        sink: Sink::Attachments,
    },
];

/// The configuration tables, copied whole (small) in this order: (table, columns).
const CONFIG: &[(&str, &str)] = &[
    ("agents", "id, name, created_at, escalation_tools, retention_days"),
    ("environments", "id, agent_id, slug, name, is_production, created_at"),
    ("api_keys", "id, agent_id, prefix, hash, role, created_at, revoked_at"),
    ("users", "id, email, password_hash, role, created_at"),
    ("user_agents", "user_id, agent_id"),
    ("shares", "id, agent_id, label, token_prefix, token_hash, created_at, expires_at, revoked_at"),
    ("agent_branding", "agent_id, display_name, accent_color, logo_mime, logo, logo_version"),
    ("alert_rules", "id, agent_id, kind, threshold, window_hours, enabled, created_at"),
    (
        "alert_events",
        "id, rule_id, agent_id, kind, threshold, fired_at, fired_value, resolved_at, resolved_value",
    ),
    ("notify_targets", "id, kind, name, address, secret, enabled, created_at"),
    ("smtp_settings", "id, host, port, security, username, password, from_addr, updated_at"),
    (
        "report_schedules",
        "id, agent_id, cadence, day, hour, time_zone, recipients, enabled, share_id, share_token, active_since, \
         created_at, updated_at",
    ),
    ("report_sends", "schedule_id, period_key, state, attempts, claimed_at, sent_at, error"),
];

/// SQLite integers that are booleans in PostgreSQL.
const BOOLEANS: &[&str] = &["is_used", "is_marked", "is_deleted", "is_production", "incomplete", "enabled"];

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Rows written per step (summed over agents), in step order; rows skipped as already
    /// there are not counted.
    pub copied: Vec<(String, u64)>,
    /// Attachment rows whose file was missing from the data dir (not copied).
    pub missing_files: Vec<String>,
}

/// Options of a run.
pub struct Options {
    /// The data dir to copy.
    pub data_dir: PathBuf,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Test hook: stop with an error after this many ClickHouse chunks went in, before their
    /// marks are recorded (as a run killed at the worst moment).
    pub stop_after_chunks: Option<u64>,
}

/// The read snapshot of the source.
struct Source {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

impl Source {
    fn open(dir: &Path) -> anyhow::Result<Source> {
        let path = dir.join("agentsight.db");
        if !path.is_file() {
            bail!("{} is not a data dir: it has no agentsight.db", dir.display());
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {} read-only", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let want = agentsight_store_sqlite::SCHEMA_VERSION as i64;
        if version != want {
            bail!(
                "{} has schema version {version}, this agentsight copies version {want}: {}",
                path.display(),
                if version < want {
                    "start `agentsight serve --data-dir` of this version on it once (it migrates the data dir), \
                     stop it, then migrate"
                } else {
                    "it was written by a newer agentsight; migrate with that version"
                }
            );
        }
        // One read transaction for the whole run: every read sees the same commit.
        conn.execute_batch("BEGIN DEFERRED")?;
        conn.query_row("SELECT count(*) FROM agents", [], |r| r.get::<_, i64>(0))?;
        Ok(Source { conn: Mutex::new(conn), dir: dir.to_path_buf() })
    }

    fn rows(&self, sql: &str, params: &[i64]) -> anyhow::Result<Vec<Value>> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stmt = conn.prepare(sql).with_context(|| format!("reading the data dir: {sql}"))?;
        let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let mut out = Vec::new();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            let mut o = Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) if BOOLEANS.contains(&name.as_str()) => Value::Bool(n != 0),
                    ValueRef::Integer(n) => n.into(),
                    ValueRef::Real(x) => x.into(),
                    ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                    // bytea's text form.
                    ValueRef::Blob(b) => Value::String(format!("\\x{}", hex::encode(b))),
                };
                o.insert(name.clone(), v);
            }
            out.push(Value::Object(o));
        }
        Ok(out)
    }

    fn count(&self, sql: &str, params: &[i64]) -> anyhow::Result<i64> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(conn.query_row(sql, rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
    }
}

fn id_of(v: &Value, col: &str) -> i64 {
    v.get(col).and_then(Value::as_i64).unwrap_or(0)
}

/// Copies `opts.data_dir` into `target`; `progress` hears (step, agent, rows done, rows total).
pub async fn run(
    opts: Options,
    target: &ScaleOut,
    progress: &mut dyn FnMut(&str, i64, u64, u64),
) -> anyhow::Result<Report> {
    let src = Source::open(&opts.data_dir)?;
    // Both stores' tables exist (created or migrated) before anything is copied.
    drop(target.config().await?);
    let events = target.events().await?;
    let blobs = events.blobs();
    let Some(_lock) = events.import_lock().await? else {
        bail!("another `agentsight migrate` is copying into this deployment: wait for it to end");
    };
    let (agents_there, marks) = events.import_target_state().await?;
    if agents_there > 0 && marks == 0 {
        bail!(
            "the target already has {agents_there} agent(s) of its own: migrate copies a single box into a new, \
             empty deployment (a fresh PostgreSQL database and ClickHouse database), before any `serve` \
             started on it"
        );
    }
    // Which box the target holds a copy of: the creation time of its first agent, recorded by
    // the first run; a run from another data dir is refused (its ids would collide).
    let origin = src.count("SELECT coalesce(min(created_at), 0) FROM agents", &[])?;
    let recorded = events.import_high_water("source", 0).await?;
    if marks > 0 && recorded != origin {
        bail!(
            "the target holds a copy of another data dir (its first agent was created at {recorded} µs, this \
             one's at {origin}): migrate one single box into a new, empty deployment"
        );
    }
    events.import_mark("source", 0, origin).await?;
    let mut report = Report::default();
    let chunk = opts.chunk_rows.max(1);
    let mut chunks_in = 0u64;

    // Configuration: small, copied whole every run (rows already there are skipped).
    for (table, cols) in CONFIG {
        let mut rows = src.rows(&format!("SELECT {cols} FROM {table} ORDER BY 1"), &[])?;
        if *table == "agents" {
            for r in &mut rows {
                // A JSON array in SQLite, TEXT[] in PostgreSQL.
                if let Some(Value::String(s)) = r.get("escalation_tools") {
                    let list: Value = serde_json::from_str(s)
                        .with_context(|| format!("agent {}: escalation_tools is not JSON", id_of(r, "id")))?;
                    r["escalation_tools"] = list;
                }
            }
        }
        let n =
            events.import_postgres(table, &rows, &format!("config:{table}"), 0, rows.len() as i64).await?;
        report.copied.push(((*table).to_string(), n));
        progress(table, 0, rows.len() as u64, rows.len() as u64);
    }

    let agents: Vec<i64> =
        src.rows("SELECT id FROM agents ORDER BY id", &[])?.iter().map(|r| id_of(r, "id")).collect();
    for step in STEPS {
        let mut copied = 0u64;
        for &agent in &agents {
            let mut hw = events.import_high_water(step.name, agent).await?;
            let total =
                src.count(&format!("SELECT count(*) FROM {} WHERE agent_id = ?1", step.source), &[agent])?;
            let mut done = src.count(
                &format!("SELECT count(*) FROM {} WHERE agent_id = ?1 AND id <= ?2", step.source),
                &[agent, hw],
            )?;
            progress(step.name, agent, done as u64, total as u64);
            let limit = if step.sink == Sink::Attachments { ATTACHMENT_CHUNK } else { chunk };
            let mut first = true;
            loop {
                let mut rows = src.rows(
                    &format!(
                        // By rowid from the mark (no index: one agent's index would be sorted
                        // again for every chunk).
                        "SELECT {} FROM {} NOT INDEXED WHERE agent_id = ?1 AND id > ?2 ORDER BY id LIMIT {limit}",
                        step.columns, step.source
                    ),
                    &[agent, hw],
                )?;
                let Some(last) = rows.last().map(|r| id_of(r, "id")) else { break };
                let n = rows.len() as i64;
                match step.sink {
                    Sink::Postgres(table) => {
                        copied += events.import_postgres(table, &rows, step.name, agent, last).await?;
                    }
                    Sink::ClickHouse(table) => {
                        copied += events.import_clickhouse(table, agent, &rows, first).await? as u64;
                        stop_hook(&mut chunks_in, opts.stop_after_chunks)?;
                        events.import_mark(step.name, agent, last).await?;
                    }
                    Sink::Conversations => {
                        let ch: Vec<Value> =
                            rows.iter().map(ClickHouseEventStore::import_conversation_row).collect();
                        events.import_clickhouse("conversations", agent, &ch, first).await?;
                        stop_hook(&mut chunks_in, opts.stop_after_chunks)?;
                        for r in &mut rows {
                            r["version"] = 1.into();
                        }
                        copied += events
                            .import_postgres("event_conversations", &rows, step.name, agent, last)
                            .await?;
                    }
                    Sink::Attachments => {
                        let mut keep = Vec::with_capacity(rows.len());
                        for mut r in rows {
                            let key = r.get("storage_key").and_then(Value::as_str).unwrap_or("").to_string();
                            let bytes = if key.contains("..") || key.starts_with('/') {
                                None
                            } else {
                                tokio::fs::read(src.dir.join("attachments").join(&key)).await.ok()
                            };
                            match bytes {
                                Some(b) => {
                                    r["storage_key"] = blobs.put(agent, &b).await?.into();
                                    keep.push(r);
                                }
                                None => report.missing_files.push(key),
                            }
                        }
                        copied += events
                            .import_postgres("event_attachments", &keep, step.name, agent, last)
                            .await?;
                    }
                }
                first = false;
                hw = last;
                done += n;
                progress(step.name, agent, done as u64, total as u64);
            }
        }
        report.copied.push((step.name.to_string(), copied));
    }

    // Above every copied id: messages (with entries), action logs, buttons, feedback, votes.
    let max_event_id = src.count(
        "SELECT max(coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM action_logs), 0),
                    coalesce((SELECT max(id) FROM buttons), 0), coalesce((SELECT max(id) FROM feedbacks), 0),
                    coalesce((SELECT max(id) FROM feedback_votes), 0))",
        &[],
    )?;
    events.import_finish(max_event_id).await?;
    Ok(report)
}

fn stop_hook(chunks_in: &mut u64, stop_after: Option<u64>) -> anyhow::Result<()> {
    *chunks_in += 1;
    if stop_after.is_some_and(|n| *chunks_in >= n) {
        bail!(
            "stopped by --stop-after-chunks after {chunks_in} ClickHouse chunks, before recording the last one"
        );
    }
    Ok(())
}
