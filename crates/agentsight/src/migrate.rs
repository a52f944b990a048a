//! `agentsight migrate`: copies a single box (a data dir) into the scale-out deployment
//! (PostgreSQL and ClickHouse), keeping every id, so conversation pks and message ids the SDK
//! holds stay valid and keys (their stored hashes) keep working.
//!
//! The source is read in one read transaction of its own (a snapshot as of one commit, as
//! `agentsight backup` reads: a server writing to the data dir meanwhile does not change what
//! this run sees), and the span archive (`agentsight.archive.db`) in a second one begun right
//! after it: it holds every span batch the main snapshot counts as projected, and the spans
//! of later batches (whose projection the main snapshot lacks) are left to the next run. There is no lock on a data dir to test for a running server; rows a server
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
//! (their bytes into PostgreSQL), then the 0.1.x span rows (the span listing and trace views):
//! each span with its row id, columns and text as sent into ClickHouse's `spans`, its key and
//! state into `event_spans`; they are not projected again (what they were projected into is
//! copied above). A span copied while held and released on the box later gets its new state at
//! the next run. Each (step, agent) goes in chunks in id order with a high-water mark in PostgreSQL
//! (see `agentsight_store_clickhouse::import`), so a stopped run resumes and a repeated one
//! copies nothing twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use agentsight_core::archive::{self, Encoding};

use agentsight_store_clickhouse::ClickHouseEventStore;
use anyhow::{Context, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
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
    /// Test hook: count only the chunks of this step (`messages`, `spans`, …) towards
    /// `stop_after_chunks`.
    pub stop_in_step: Option<String>,
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

    /// The pk of `agent`'s conversation `cid` in the snapshot.
    fn conversation_pk(&self, agent: i64, cid: &str) -> anyhow::Result<Option<i64>> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stmt =
            conn.prepare_cached("SELECT id FROM conversations WHERE agent_id = ?1 AND conversation_id = ?2")?;
        Ok(stmt.query_row(rusqlite::params![agent, cid], |r| r.get(0)).optional()?)
    }

    fn count(&self, sql: &str, params: &[i64]) -> anyhow::Result<i64> {
        let conn = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(conn.query_row(sql, rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
    }
}

/// The span archive's read snapshot (`agentsight.archive.db`, beside the main database), taken
/// right after the main one's, as `agentsight backup` copies them: it holds every batch the main
/// snapshot counts as projected (`span_log.projected`), and maybe later ones, whose projection
/// (conversation, messages, usage) is not in the main snapshot. Their spans are left to the next
/// run: the copy takes the spans up to the last one of a projected batch (`cut`; span row ids
/// grow with batch ids: the archive writes one batch at a time), and counts a span released by
/// a later batch as still held, as the main snapshot has it.
struct Archive {
    conn: Mutex<Connection>,
    /// The last span row of a batch the main snapshot counts as projected.
    cut: i64,
    /// The largest batch id a copied span can have.
    projected: i64,
    /// Spans released by batches after `projected` (held as far as the main snapshot goes).
    late: HashSet<i64>,
}

/// Decoded archived bodies kept at most before the cache starts over.
const MAX_CACHED_TEXT: usize = 64 << 20;

/// Archived bodies decoded so far: each is read and decompressed once however many of its
/// spans a chunk holds.
#[derive(Default)]
struct Texts {
    decoded: HashMap<i64, String>,
    bytes: usize,
}

/// Span text per span chunk at most (the rows of one ClickHouse insert are held in memory).
const SPAN_CHUNK_BYTES: usize = 16 << 20;

/// One span row of the archive.
struct ArchivedSpan {
    id: i64,
    conversation_id: String,
    span_id: i64,
    trace_id: String,
    parent_span_id: Option<i64>,
    turn_id: Option<i64>,
    kind: String,
    name: String,
    status: String,
    started_at: i64,
    ended_at: i64,
    duration_ms: Option<f64>,
    state: i64,
    sdk_version: Option<String>,
    batch_id: i64,
    text_offset: i64,
    text_len: i64,
    received_at: i64,
}

impl Archive {
    /// Opens the archive of `dir` read-only and begins its snapshot; `projected` is the main
    /// snapshot's `span_log.projected`. `None` when the data dir has no archive (a server never
    /// started on it since 0.1.x: no span was stored).
    fn open(dir: &Path, projected: i64) -> anyhow::Result<Option<Archive>> {
        let path = dir.join(agentsight_store_sqlite::backup::ARCHIVE_DB);
        if !path.is_file() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {} read-only", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let want = agentsight_store_sqlite::ARCHIVE_SCHEMA_VERSION as i64;
        if version != want {
            bail!(
                "{} has schema version {version}, this agentsight copies version {want}: start `agentsight \
                 serve --data-dir` of the version that wrote it once, stop it, then migrate with that version",
                path.display()
            );
        }
        conn.execute_batch("BEGIN DEFERRED")?;
        // The read that starts the snapshot: the last span of a projected batch (searched from
        // the end, where the few unprojected batches are).
        let cut: i64 = conn
            .query_row(
                "SELECT coalesce((SELECT id FROM spans WHERE batch_id <= ?1 ORDER BY id DESC LIMIT 1), 0)",
                [projected],
                |r| r.get(0),
            )
            .context("reading the span archive")?;
        let late = conn
            .prepare("SELECT span FROM releases WHERE batch_id > ?1")?
            .query_map([projected], |r| r.get(0))?
            .collect::<rusqlite::Result<HashSet<i64>>>()?;
        Ok(Some(Archive { conn: Mutex::new(conn), cut, projected, late }))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A span's state as the main snapshot has it.
    fn state_of(&self, id: i64, state: i64) -> i16 {
        if self.late.contains(&id) { 0 } else { state as i16 }
    }

    /// `agent`'s spans up to the cut: how many, and how many up to `hw`.
    fn counts(&self, agent: i64, hw: i64) -> anyhow::Result<(i64, i64)> {
        let conn = self.conn();
        let n = |upto: i64| -> rusqlite::Result<i64> {
            conn.query_row(
                "SELECT count(*) FROM spans WHERE agent_id = ?1 AND id <= ?2",
                [agent, upto],
                |r| r.get(0),
            )
        };
        Ok((n(self.cut)?, n(hw.min(self.cut))?))
    }

    /// Up to `limit` of `agent`'s spans after `hw` (up to the cut), in id order, by row id (as
    /// the other steps read).
    fn spans(&self, agent: i64, hw: i64, limit: usize) -> anyhow::Result<Vec<ArchivedSpan>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, conversation_id, span_id, trace_id, parent_span_id, turn_id, kind, name, status,
                    started_at, ended_at, duration_ms, state, sdk_version, batch_id, text_offset, text_len,
                    received_at
             FROM spans NOT INDEXED WHERE agent_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4",
        )?;
        let rows = stmt.query_map(rusqlite::params![agent, hw, self.cut, limit as i64], |r| {
            Ok(ArchivedSpan {
                id: r.get(0)?,
                conversation_id: r.get(1)?,
                span_id: r.get(2)?,
                trace_id: r.get(3)?,
                parent_span_id: r.get(4)?,
                turn_id: r.get(5)?,
                kind: r.get(6)?,
                name: r.get(7)?,
                status: r.get(8)?,
                started_at: r.get(9)?,
                ended_at: r.get(10)?,
                duration_ms: r.get(11)?,
                state: r.get(12)?,
                sdk_version: r.get(13)?,
                batch_id: r.get(14)?,
                text_offset: r.get(15)?,
                text_len: r.get(16)?,
                received_at: r.get(17)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context("reading the span archive")
    }

    /// The states of spans `ids` as the main snapshot has them (spans no longer in the archive
    /// are left out).
    fn states(&self, ids: &[i64]) -> anyhow::Result<Vec<(i64, i16)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT state FROM spans WHERE id = ?1")?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            if let Some(state) = stmt.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                out.push((id, self.state_of(id, state)));
            }
        }
        Ok(out)
    }

    /// The text of a span as sent: its range of its batch's decoded body (`texts` keeps the
    /// bodies decoded so far).
    fn text(&self, texts: &mut Texts, s: &ArchivedSpan) -> anyhow::Result<String> {
        let damaged =
            |why: String| anyhow::anyhow!("span archive: batch {} of span {}: {why}", s.batch_id, s.id);
        if !texts.decoded.contains_key(&s.batch_id) {
            let (encoding, body): (i64, Vec<u8>) = self
                .conn()
                .prepare_cached("SELECT encoding, body FROM batches WHERE id = ?1")?
                .query_row([s.batch_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| damaged("missing".into()))?;
            let encoding = Encoding::from_code(encoding)
                .ok_or_else(|| damaged(format!("unknown encoding {encoding}")))?;
            let text = archive::decode_as(encoding, &body, archive::MAX_DECODED_BYTES)
                .map_err(|e| damaged(e.to_string()))?;
            if texts.bytes + text.len() > MAX_CACHED_TEXT {
                texts.decoded.clear();
                texts.bytes = 0;
            }
            texts.bytes += text.len();
            texts.decoded.insert(s.batch_id, text);
        }
        let text = &texts.decoded[&s.batch_id];
        usize::try_from(s.text_offset)
            .ok()
            .zip(usize::try_from(s.text_len).ok())
            .and_then(|(o, n)| text.get(o..o.checked_add(n)?))
            .map(str::to_string)
            .ok_or_else(|| damaged(format!("no text at {} + {}", s.text_offset, s.text_len)))
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
    // The archive's snapshot right after the main one's (see `Archive`).
    let projected = src.count("SELECT projected FROM span_log WHERE id = 1", &[])?;
    let arch = Archive::open(&opts.data_dir, projected)?;
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
            // Rows up to here may be in ClickHouse without their mark (a stopped run's chunk,
            // of whatever size that run's chunks were).
            let inserted_up_to = match step.sink {
                Sink::ClickHouse(table) => events.import_clickhouse_max_id(table, agent).await?,
                Sink::Conversations => events.import_clickhouse_max_id("conversations", agent).await?,
                Sink::Postgres(_) | Sink::Attachments => 0,
            };
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
                let check = rows.first().is_some_and(|r| id_of(r, "id") <= inserted_up_to);
                match step.sink {
                    Sink::Postgres(table) => {
                        copied += events.import_postgres(table, &rows, step.name, agent, last).await?;
                    }
                    Sink::ClickHouse(table) => {
                        copied += events.import_clickhouse(table, agent, &rows, check).await? as u64;
                        stop_hook(&mut chunks_in, &opts, step.name)?;
                        events.import_mark(step.name, agent, last).await?;
                    }
                    Sink::Conversations => {
                        let ch: Vec<Value> =
                            rows.iter().map(ClickHouseEventStore::import_conversation_row).collect();
                        events.import_clickhouse("conversations", agent, &ch, check).await?;
                        stop_hook(&mut chunks_in, &opts, step.name)?;
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
                hw = last;
                done += n;
                progress(step.name, agent, done as u64, total as u64);
            }
        }
        report.copied.push((step.name.to_string(), copied));
    }

    // The spans (0.1.x), from the archive.
    let mut copied = 0u64;
    if let Some(arch) = &arch {
        for &agent in &agents {
            copied += copy_spans(&src, arch, &events, agent, chunk, &opts, &mut chunks_in, progress).await?;
        }
    }
    report.copied.push(("spans".to_string(), copied));

    // Above every copied id: messages (with entries), action logs, buttons, feedback, votes.
    let max_event_id = src.count(
        "SELECT max(coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT max(id) FROM action_logs), 0),
                    coalesce((SELECT max(id) FROM buttons), 0), coalesce((SELECT max(id) FROM feedbacks), 0),
                    coalesce((SELECT max(id) FROM feedback_votes), 0))",
        &[],
    )?;
    events.import_finish(max_event_id, arch.as_ref().map_or(0, |a| a.projected)).await?;
    Ok(report)
}

/// Copies `agent`'s spans up to the archive's cut after the step's mark: each chunk's rows
/// with their text into ClickHouse's `spans`, then their key rows into `event_spans` with the
/// mark (see `agentsight_store_clickhouse::import`). First, the spans an earlier run copied
/// while held get the state the box has given them since. Answers the spans copied.
#[allow(clippy::too_many_arguments)]
async fn copy_spans(
    src: &Source,
    arch: &Archive,
    events: &ClickHouseEventStore,
    agent: i64,
    chunk: usize,
    opts: &Options,
    chunks_in: &mut u64,
    progress: &mut dyn FnMut(&str, i64, u64, u64),
) -> anyhow::Result<u64> {
    const STEP: &str = "spans";
    let held = events.import_held_spans(agent).await?;
    let (ids, states): (Vec<i64>, Vec<i16>) =
        arch.states(&held)?.into_iter().filter(|&(_, state)| state != 0).unzip();
    events.import_span_states(agent, &ids, &states).await?;

    let mut hw = events.import_high_water(STEP, agent).await?;
    let (total, mut done) = arch.counts(agent, hw)?;
    progress(STEP, agent, done as u64, total as u64);
    // Rows up to here may be in ClickHouse without their mark (a stopped run's chunk).
    let inserted_up_to = events.import_clickhouse_max_id("spans", agent).await?;
    let mut texts = Texts::default();
    let mut copied = 0u64;
    loop {
        let spans = arch.spans(agent, hw, chunk)?;
        let Some(lowest) = spans.first().map(|s| s.id) else { break };
        let (mut rows, mut keys) = (Vec::with_capacity(spans.len()), Vec::with_capacity(spans.len()));
        let (mut last, mut n, mut bytes) = (hw, 0i64, 0usize);
        let mut pks: HashMap<&str, Option<i64>> = HashMap::new();
        for s in &spans {
            if bytes >= SPAN_CHUNK_BYTES {
                break;
            }
            last = s.id;
            n += 1;
            let pk = match pks.get(s.conversation_id.as_str()) {
                Some(pk) => *pk,
                None => {
                    let pk = src.conversation_pk(agent, &s.conversation_id)?;
                    pks.insert(&s.conversation_id, pk);
                    pk
                }
            };
            // The box's span reads join the span's conversation: a span without one in the
            // snapshot (its batch's projection failed) shows nowhere, and is not copied.
            let Some(pk) = pk else { continue };
            let text = arch.text(&mut texts, s)?;
            bytes += text.len();
            let mut key = ClickHouseEventStore::import_span_key(&text);
            key["id"] = s.id.into();
            key["agent_id"] = agent.into();
            key["conversation_id"] = s.conversation_id.clone().into();
            key["started_at"] = s.started_at.into();
            key["span_id"] = s.span_id.into();
            key["turn_id"] = s.turn_id.into();
            key["state"] = arch.state_of(s.id, s.state).into();
            keys.push(key);
            rows.push(serde_json::json!({
                "agent_id": agent, "conversation_pk": pk, "id": s.id, "conversation_id": s.conversation_id,
                "span_id": s.span_id as u64, "trace_id": s.trace_id,
                "parent_span_id": s.parent_span_id.map(|v| v as u64), "turn_id": s.turn_id.map(|v| v as u64),
                "kind": s.kind, "name": s.name, "status": s.status, "started_at": s.started_at,
                "ended_at": s.ended_at, "duration_ms": s.duration_ms, "sdk_version": s.sdk_version,
                "batch_id": s.batch_id, "received_at": s.received_at, "payload": text,
            }));
        }
        events.import_clickhouse("spans", agent, &rows, lowest <= inserted_up_to).await?;
        stop_hook(chunks_in, opts, STEP)?;
        copied += events.import_postgres("event_spans", &keys, STEP, agent, last).await?;
        hw = last;
        done += n;
        progress(STEP, agent, done as u64, total as u64);
    }
    Ok(copied)
}

fn stop_hook(chunks_in: &mut u64, opts: &Options, step: &str) -> anyhow::Result<()> {
    if opts.stop_in_step.as_deref().is_some_and(|s| s != step) {
        return Ok(());
    }
    *chunks_in += 1;
    if opts.stop_after_chunks.is_some_and(|n| *chunks_in >= n) {
        bail!(
            "stopped by --stop-after-chunks after {chunks_in} ClickHouse chunks, before recording the last one"
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A span archive in `dir` with the archive's own schema: batches 1 and 2 projected (2 is
    /// zstd), 3 archived after the main snapshot's mark; span 4 held in batch 2 and released by
    /// batch 3.
    fn archive_in(dir: &Path) {
        let conn = Connection::open(dir.join(agentsight_store_sqlite::backup::ARCHIVE_DB)).unwrap();
        conn.execute_batch(include_str!("../../agentsight-store-sqlite/migrations/archive/0001_batches.sql"))
            .unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = {}",
            agentsight_store_sqlite::ARCHIVE_SCHEMA_VERSION
        ))
        .unwrap();
        for (id, encoding, body) in [
            (1, Encoding::Plain, b"{\"a\":1}\n{\"b\":2}".to_vec()),
            (2, Encoding::Zstd, archive::encode("{\"c\":3}\n{\"d\":4}")),
            (3, Encoding::Plain, b"{\"e\":5}".to_vec()),
        ] {
            conn.execute(
                "INSERT INTO batches (id, agent_id, received_at, encoding, body) VALUES (?1, 1, 7, ?2, ?3)",
                rusqlite::params![id, encoding.code(), body],
            )
            .unwrap();
        }
        // (id, agent, conversation, state, batch, offset, len)
        for (id, agent, cid, state, batch, offset, len) in [
            (1, 1, "c1", 1, 1, 0, 7),
            (2, 1, "c1", 2, 1, 8, 7),
            (3, 2, "c2", 1, 2, 0, 7),
            (4, 1, "c1", 1, 2, 8, 7),
            (5, 1, "c1", 1, 3, 0, 7),
        ] {
            conn.execute(
                "INSERT INTO spans (id, agent_id, conversation_id, span_id, trace_id, trace_key, kind, name, status,
                    started_at, ended_at, state, batch_id, text_offset, text_len, received_at)
                 VALUES (?1, ?2, ?3, ?1, 't', 0, 'tool', 'n', 'ok', ?1, ?1, ?4, ?5, ?6, ?7, 7)",
                rusqlite::params![id, agent, cid, state, batch, offset, len],
            )
            .unwrap();
        }
        conn.execute("INSERT INTO releases (batch_id, span) VALUES (3, 4)", []).unwrap();
    }

    /// The copy takes the spans of the batches the main snapshot counts as projected, each with
    /// the state the main snapshot knows (held when a later batch released it), and each text
    /// from its batch's body.
    #[test]
    fn the_archive_is_read_up_to_the_main_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Archive::open(dir.path(), 2).unwrap().is_none(), "no archive: no span");
        archive_in(dir.path());
        let a = Archive::open(dir.path(), 2).unwrap().unwrap();
        assert_eq!((a.cut, a.projected), (4, 2));
        assert_eq!(a.counts(1, 0).unwrap(), (3, 0));
        assert_eq!(a.counts(1, 2).unwrap(), (3, 2));
        assert_eq!(a.counts(2, 0).unwrap(), (1, 0));
        let spans = a.spans(1, 0, 10).unwrap();
        assert_eq!(spans.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2, 4]);
        assert_eq!(a.spans(1, 1, 1).unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), [2]);
        assert!(a.spans(1, 4, 10).unwrap().is_empty(), "span 5's batch is not projected yet");
        let states: Vec<i16> = spans.iter().map(|s| a.state_of(s.id, s.state)).collect();
        assert_eq!(states, [1, 2, 0]);
        let mut texts = Texts::default();
        let texts: Vec<String> = spans.iter().map(|s| a.text(&mut texts, s).unwrap()).collect();
        assert_eq!(texts, ["{\"a\":1}", "{\"b\":2}", "{\"d\":4}"]);
        assert_eq!(a.states(&[4, 2, 99]).unwrap(), [(4, 0), (2, 2)]);
        drop(a);
        // Once batch 3 is projected, span 4 is projected and span 5 is copied.
        let a = Archive::open(dir.path(), 3).unwrap().unwrap();
        assert_eq!(a.cut, 5);
        assert_eq!(a.states(&[4]).unwrap(), [(4, 1)]);
        let mut bad = a.spans(1, 4, 10).unwrap();
        bad[0].text_len = 99;
        assert!(
            a.text(&mut Texts::default(), &bad[0]).unwrap_err().to_string().contains("no text at 0 + 99")
        );
        drop(a);
        let conn = Connection::open(dir.path().join(agentsight_store_sqlite::backup::ARCHIVE_DB)).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        let err = Archive::open(dir.path(), 3).err().unwrap().to_string();
        assert!(err.contains("has schema version 99"), "{err}");
    }
}
