//! The SQL of every write, run by the writer thread inside its group's transaction. Each write
//! that changes a metric fact reports it to [`crate::deltas`] for the metrics index.

use agentsight_core::keys::Role;
use agentsight_core::normalize::DEFAULT_ENVIRONMENTS;
use agentsight_core::time::Micros;
use agentsight_core::tracking::{
    AttachmentTarget, ConversationPatch, ConversationRef, ConversationUpsert, NewAction, NewButton,
    NewFeedback, NewMessage,
};
use agentsight_store::{
    ActionLogRow, AgentRow, AttachmentRow, AttachmentsInsert, ButtonRow, ConversationRow, FeedbackRow,
    KeyRow, MessageKind, MessageRow, StoreError, StoreResult, Upserted,
};
use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{deltas, reads, sqlerr};
use agentsight_core::metrics::index::{Delta, Sender, action_duration_us};

/// Runs a statement through the connection's prepared-statement cache (the writer runs the same
/// few statements thousands of times a second; parsing them each time would dominate).
fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

/// One row through the statement cache.
fn one<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(p, f)
}

/// Upsert with the merge rules of `TrackingWriter::upsert_conversation`.
pub(crate) fn upsert_conversation(conn: &Connection, c: &ConversationUpsert) -> StoreResult<Upserted> {
    let (id, created) = upsert_conversation_pk(conn, c)?;
    let row = reads::conversation_by_pk(conn, c.agent_id, id)?
        .ok_or_else(|| StoreError::Internal("upserted row vanished".into()))?;
    Ok(Upserted { row, created })
}

/// The writes of [`upsert_conversation`], answering only the pk and whether it was created (span
/// ingest upserts every block and needs no row back).
pub(crate) fn upsert_conversation_pk(conn: &Connection, c: &ConversationUpsert) -> StoreResult<(i64, bool)> {
    upsert_conversation_lowering(conn, c, None)
}

/// [`upsert_conversation_pk`] that also moves an existing conversation's `started_at` back to
/// `lower_to` when that is earlier, in the same UPDATE (its metrics delta is the upsert's touch).
/// A span batch can bring spans older than the conversation's first payload (children released
/// before their turn, a late exporter): `started_at` is the earliest event seen.
fn upsert_conversation_lowering(
    conn: &Connection,
    c: &ConversationUpsert,
    lower_to: Option<Micros>,
) -> StoreResult<(i64, bool)> {
    let f = &c.fields;
    let loc = f.location.as_ref();
    let existing: Option<i64> = match cached_pk(c.agent_id, &c.conversation_id) {
        Some(pk) => Some(pk),
        None => one(
            conn,
            "SELECT id FROM conversations WHERE agent_id = ?1 AND conversation_id = ?2",
            params![c.agent_id, c.conversation_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlerr)?,
    };
    let fields = lower_to.map(|_| fields_hash(c));
    if let (Some(id), Some(h), Some(low)) = (existing, fields, lower_to)
        && unchanged_since_written(id, h, c.is_used, low)
    {
        // A span block that brings nothing new to the row: only `updated_at` moves (no metric
        // fact changed, so nothing to report either).
        exec(conn, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1", params![id, c.received_at])
            .map_err(sqlerr)?;
        return Ok((id, false));
    }
    let (id, created) = match existing {
        Some(id) => {
            exec(
                conn,
                "UPDATE conversations SET
                    name = COALESCE(?2, name), customer_id = COALESCE(?3, customer_id),
                    customer_ip_address = COALESCE(?4, customer_ip_address),
                    device = COALESCE(?5, device), source = COALESCE(?6, source),
                    language = COALESCE(?7, language), environment = COALESCE(?8, environment),
                    metadata = COALESCE(?9, metadata), is_used = max(is_used, ?10), updated_at = ?11,
                    country = COALESCE(?12, country),
                    region = CASE WHEN ?12 IS NULL THEN region ELSE ?13 END,
                    city = CASE WHEN ?12 IS NULL THEN city ELSE ?14 END,
                    latitude = CASE WHEN ?12 IS NULL THEN latitude ELSE ?15 END,
                    longitude = CASE WHEN ?12 IS NULL THEN longitude ELSE ?16 END,
                    started_at = CASE WHEN ?17 < started_at THEN ?17 ELSE started_at END
                 WHERE id = ?1",
                params![
                    id,
                    f.name,
                    f.customer_id,
                    f.customer_ip_address,
                    f.device,
                    f.source,
                    f.language,
                    f.environment,
                    f.metadata,
                    c.is_used,
                    c.received_at,
                    loc.map(|l| &l.country),
                    loc.and_then(|l| l.region.as_ref()),
                    loc.and_then(|l| l.city.as_ref()),
                    loc.and_then(|l| l.latitude),
                    loc.and_then(|l| l.longitude),
                    lower_to
                ],
            )
            .map_err(sqlerr)?;
            (id, false)
        }
        None => {
            exec(
                conn,
                "INSERT INTO conversations (agent_id, conversation_id, name, customer_id,
                    customer_ip_address, device, source, language, environment, metadata, is_used,
                    started_at, created_at, updated_at, country, region, city, latitude, longitude)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16,
                    ?17, ?18)",
                params![
                    c.agent_id,
                    c.conversation_id,
                    f.name,
                    f.customer_id,
                    f.customer_ip_address,
                    f.device,
                    f.source,
                    f.language,
                    f.environment,
                    f.metadata,
                    c.is_used,
                    c.event_time,
                    c.received_at,
                    loc.map(|l| &l.country),
                    loc.and_then(|l| l.region.as_ref()),
                    loc.and_then(|l| l.city.as_ref()),
                    loc.and_then(|l| l.latitude),
                    loc.and_then(|l| l.longitude)
                ],
            )
            .map_err(sqlerr)?;
            (conn.last_insert_rowid(), true)
        }
    };
    remember_pk(c.agent_id, &c.conversation_id, id);
    if c.is_used {
        remember_used(id);
    }
    match (fields, lower_to) {
        (Some(h), Some(low)) => remember_written(id, h, c.is_used, low),
        _ => forget_written(id),
    }
    deltas::touch(c.agent_id, id);
    Ok((id, created))
}

/// What the span path last wrote to a conversation row: a hash of the fields it set, whether it
/// marked the row used, and a bound on its `started_at` (the row's is at most this).
#[derive(Clone, Copy)]
struct Written {
    fields: u64,
    used: bool,
    started_at_at_most: Micros,
}

thread_local! {
    /// [`Written`] by conversation pk: a block whose fields are those last written, that needs no
    /// `is_used` flip and starts no earlier, changes nothing but `updated_at`. Any other write of
    /// the row's fields forgets its entry; emptied with [`forget_cached`].
    static WRITTEN: RefCell<HashMap<i64, Written>> = RefCell::new(HashMap::new());
}

/// A hash of the fields an upsert sets (the location's too).
fn fields_hash(c: &ConversationUpsert) -> u64 {
    use std::hash::{Hash, Hasher};
    let f = &c.fields;
    let mut h = std::hash::DefaultHasher::new();
    (&f.name, &f.customer_id, &f.customer_ip_address, &f.device, &f.source, &f.language).hash(&mut h);
    (&f.environment, &f.metadata).hash(&mut h);
    if let Some(l) = &f.location {
        (&l.country, &l.region, &l.city, l.latitude.map(f64::to_bits), l.longitude.map(f64::to_bits))
            .hash(&mut h);
    }
    h.finish()
}

fn unchanged_since_written(pk: i64, fields: u64, used: bool, started_at: Micros) -> bool {
    WRITTEN.with(|w| {
        w.borrow()
            .get(&pk)
            .is_some_and(|w| w.fields == fields && (w.used || !used) && started_at >= w.started_at_at_most)
    })
}

fn remember_written(pk: i64, fields: u64, used: bool, started_at: Micros) {
    WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        if w.len() >= MAX_CACHED_CONVERSATIONS && !w.contains_key(&pk) {
            w.clear();
        }
        let used = used || w.get(&pk).is_some_and(|x| x.used);
        w.insert(pk, Written { fields, used, started_at_at_most: started_at });
    });
}

fn forget_written(pk: i64) {
    WRITTEN.with(|w| w.borrow_mut().remove(&pk));
}

thread_local! {
    /// `(agent, conversation_id) → pk` for conversations this thread has seen committed or is
    /// writing, so a message need not search the unique index again. Only the writer thread
    /// writes; conversations are never hard-deleted, so an entry stays true once its group
    /// commits, and [`forget_cached`] empties the map when a group rolls back.
    static CONVERSATION_PKS: RefCell<HashMap<i64, HashMap<String, i64>>> = RefCell::new(HashMap::new());
}

/// Entries kept before the map is emptied (a bound on memory, not a tuning knob).
const MAX_CACHED_CONVERSATIONS: usize = 200_000;

/// What the writer knows of a conversation row by its pk (true for the same reasons as
/// `CONVERSATION_PKS`: `is_used` is never cleared once set).
#[derive(Clone, Copy)]
struct KnownRow {
    agent_id: i64,
    used: bool,
}

thread_local! {
    /// `pk → owner and whether used`, so a write by pk needs no ownership query and a transcript
    /// entry of a used conversation no `is_used` update. Emptied with [`forget_cached`].
    static KNOWN_ROWS: RefCell<HashMap<i64, KnownRow>> = RefCell::new(HashMap::new());
}

fn known_row(pk: i64) -> Option<KnownRow> {
    KNOWN_ROWS.with(|m| m.borrow().get(&pk).copied())
}

/// Records that `pk` belongs to `agent_id` (keeping what is known of its `is_used`).
fn remember_owner(agent_id: i64, pk: i64) {
    KNOWN_ROWS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED_CONVERSATIONS && !m.contains_key(&pk) {
            m.clear();
        }
        m.entry(pk).or_insert(KnownRow { agent_id, used: false });
    });
}

/// Records that conversation `pk` (already remembered with its owner) is used.
fn remember_used(pk: i64) {
    KNOWN_ROWS.with(|m| {
        if let Some(k) = m.borrow_mut().get_mut(&pk) {
            k.used = true;
        }
    });
}

/// Forgets what the main writer caches (conversation pks, latest messages, known actions, what
/// the span path last wrote): after a rollback, or when another process wrote to the database.
pub(crate) fn forget_cached() {
    CONVERSATION_PKS.with(|m| m.borrow_mut().clear());
    KNOWN_ROWS.with(|m| m.borrow_mut().clear());
    LAST_MESSAGE.with(|m| m.borrow_mut().clear());
    KNOWN_ACTIONS.with(|m| m.borrow_mut().clear());
    WRITTEN.with(|w| w.borrow_mut().clear());
}

fn cached_pk(agent_id: i64, cid: &str) -> Option<i64> {
    CONVERSATION_PKS.with(|m| m.borrow().get(&agent_id).and_then(|c| c.get(cid)).copied())
}

fn remember_pk(agent_id: i64, cid: &str, pk: i64) {
    CONVERSATION_PKS.with(|m| {
        let mut m = m.borrow_mut();
        let agent = m.entry(agent_id).or_default();
        if agent.len() >= MAX_CACHED_CONVERSATIONS {
            agent.clear();
        }
        agent.insert(cid.to_string(), pk);
    });
    remember_owner(agent_id, pk);
}

/// Resolves a conversation reference; by id, creates a used conversation started at `create_at`.
fn resolve(
    conn: &Connection,
    agent_id: i64,
    r: &ConversationRef,
    create_at: Option<(Micros, Micros)>,
) -> StoreResult<i64> {
    match r {
        ConversationRef::Pk(pk) => {
            let owner: Option<i64> = match known_row(*pk) {
                Some(k) => Some(k.agent_id),
                None => {
                    let found: Option<i64> =
                        one(conn, "SELECT agent_id FROM conversations WHERE id = ?1", [pk], |r| r.get(0))
                            .optional()
                            .map_err(sqlerr)?;
                    if let Some(a) = found {
                        remember_owner(a, *pk);
                    }
                    found
                }
            };
            match owner {
                Some(a) if a == agent_id => Ok(*pk),
                _ => Err(StoreError::UnknownReference { field: "conversation", value: pk.to_string() }),
            }
        }
        ConversationRef::Id(cid) => {
            if let Some(pk) = cached_pk(agent_id, cid) {
                return Ok(pk);
            }
            let found: Option<i64> = one(
                conn,
                "SELECT id FROM conversations WHERE agent_id = ?1 AND conversation_id = ?2",
                params![agent_id, cid],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlerr)?;
            match (found, create_at) {
                (Some(id), _) => {
                    remember_pk(agent_id, cid, id);
                    Ok(id)
                }
                (None, Some((started_at, now))) => {
                    exec(
                        conn,
                        "INSERT INTO conversations (agent_id, conversation_id, is_used, started_at,
                            created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?4, ?4)",
                        params![agent_id, cid, started_at, now],
                    )
                    .map_err(sqlerr)?;
                    let pk = conn.last_insert_rowid();
                    remember_pk(agent_id, cid, pk);
                    deltas::touch(agent_id, pk);
                    Ok(pk)
                }
                (None, None) => {
                    Err(StoreError::UnknownReference { field: "conversation_id", value: cid.clone() })
                }
            }
        }
    }
}

/// A transcript entry to insert: a message, or the entry of an action or a button.
struct Entry<'a> {
    agent_id: i64,
    conversation_pk: i64,
    kind: MessageKind,
    sender: &'a str,
    content: &'a str,
    metadata: &'a str,
    ts: Micros,
    received_at: Micros,
    /// Bot response time (messages only).
    response_us: Option<i64>,
}

/// Inserts a transcript entry and marks its conversation used, extending its end.
fn insert_entry(conn: &Connection, e: Entry<'_>) -> StoreResult<i64> {
    let Entry { agent_id, conversation_pk, kind, sender, content, metadata, ts, received_at, response_us } =
        e;
    let kind_code = reads::kind_code(kind);
    exec(
        conn,
        "INSERT INTO messages (agent_id, conversation_pk, kind, sender, content, ts, metadata, received_at, response_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![agent_id, conversation_pk, kind_code, sender, content, ts, metadata, received_at, response_us],
    )
    .map_err(sqlerr)?;
    let id = conn.last_insert_rowid();
    if !known_row(conversation_pk).is_some_and(|k| k.used) {
        exec(
            conn,
            // Only the first entry flips the flag; later ones match no row and dirty no page.
            "UPDATE conversations SET is_used = 1, updated_at = ?2 WHERE id = ?1 AND is_used = 0",
            params![conversation_pk, received_at],
        )
        .map_err(sqlerr)?;
        remember_used(conversation_pk);
    }
    Ok(id)
}

thread_local! {
    /// The latest message (by ts, then id) of conversations the writer has seen: `pk → (ts,
    /// sender)`. Messages almost always arrive in order, so the predecessor of a new message is
    /// usually this one and needs no query. Emptied with [`forget_cached`].
    static LAST_MESSAGE: RefCell<HashMap<i64, (i64, String)>> = RefCell::new(HashMap::new());
}

/// The latest message of a conversation, from the cache or the database.
fn last_message(conn: &Connection, conversation_pk: i64) -> StoreResult<Option<(i64, String)>> {
    if let Some(hit) = LAST_MESSAGE.with(|m| m.borrow().get(&conversation_pk).cloned()) {
        return Ok(Some(hit));
    }
    one(
        conn,
        "SELECT ts, sender FROM messages WHERE conversation_pk = ?1 AND kind = 0 ORDER BY ts DESC, id DESC LIMIT 1",
        [conversation_pk],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(sqlerr)
}

fn remember_last(conversation_pk: i64, ts: i64, sender: &str) {
    LAST_MESSAGE.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED_CONVERSATIONS {
            m.clear();
        }
        m.insert(conversation_pk, (ts, sender.to_string()));
    });
}

/// The response time of a new message at `ts` (it will have the largest id): an agent message
/// right after an end-user message, by event time, then arrival. Also says whether the message
/// arrived out of order (messages with a later `ts` exist), in which case the next one's
/// response time must be recomputed after the insert.
fn response_of(
    conn: &Connection,
    conversation_pk: i64,
    ts: Micros,
    sender: &str,
) -> StoreResult<(Option<i64>, bool)> {
    let last = last_message(conn, conversation_pk)?;
    let in_order = last.as_ref().is_none_or(|(last_ts, _)| ts >= *last_ts);
    let prev = if in_order {
        remember_last(conversation_pk, ts, sender);
        last
    } else {
        if let Some((last_ts, last_sender)) = &last {
            remember_last(conversation_pk, *last_ts, last_sender);
        }
        one(
            conn,
            "SELECT ts, sender FROM messages WHERE conversation_pk = ?1 AND kind = 0 AND ts <= ?2
             ORDER BY ts DESC, id DESC LIMIT 1",
            params![conversation_pk, ts],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlerr)?
    };
    let response = (sender == "agent")
        .then_some(prev)
        .flatten()
        .filter(|(_, s)| s == "end_user")
        .map(|(prev_ts, _)| ts - prev_ts);
    Ok((response, !in_order))
}

/// A message that arrived out of order (an earlier `ts` than messages already stored) becomes
/// the predecessor of the next one: recompute that one's response time.
fn fix_successor(
    conn: &Connection,
    agent_id: i64,
    conversation_pk: i64,
    ts: Micros,
    sender: &str,
) -> StoreResult<()> {
    let next: Option<(i64, String, i64, Option<i64>)> = one(
        conn,
        "SELECT id, sender, ts, response_us FROM messages WHERE conversation_pk = ?1 AND kind = 0 AND ts > ?2
         ORDER BY ts, id LIMIT 1",
        params![conversation_pk, ts],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .map_err(sqlerr)?;
    if let Some((id, next_sender, next_ts, old)) = next {
        let response = (next_sender == "agent" && sender == "end_user").then_some(next_ts - ts);
        if response != old {
            exec(conn, "UPDATE messages SET response_us = ?2 WHERE id = ?1", params![id, response])
                .map_err(sqlerr)?;
            deltas::entry(agent_id, Delta::Response { pk: conversation_pk, ts: next_ts, old, new: response });
        }
    }
    Ok(())
}

pub(crate) fn insert_message(conn: &Connection, m: NewMessage) -> StoreResult<MessageRow> {
    let pk = resolve(conn, m.agent_id, &m.conversation, Some((m.event_time, m.received_at)))?;
    let (response_us, out_of_order) = response_of(conn, pk, m.event_time, &m.sender)?;
    let id = insert_entry(
        conn,
        Entry {
            agent_id: m.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Message,
            sender: &m.sender,
            content: &m.content,
            metadata: &m.metadata,
            ts: m.event_time,
            received_at: m.received_at,
            response_us,
        },
    )?;
    deltas::entry(
        m.agent_id,
        Delta::Message { pk, ts: m.event_time, sender: Sender::parse(&m.sender), response_us },
    );
    if out_of_order {
        fix_successor(conn, m.agent_id, pk, m.event_time, &m.sender)?;
    }
    Ok(MessageRow {
        id,
        conversation_pk: pk,
        kind: MessageKind::Message,
        sender: m.sender,
        content: m.content,
        metadata: m.metadata,
        ts: m.event_time,
    })
}

pub(crate) fn insert_action(conn: &Connection, a: &NewAction) -> StoreResult<ActionLogRow> {
    let pk = resolve(conn, a.agent_id, &a.conversation, Some((a.event_time, a.received_at)))?;
    ensure_action(conn, a.agent_id, &a.action_name, a.received_at)?;
    let content = format!("Action {} performed", a.action_name);
    let entry = insert_entry(
        conn,
        Entry {
            agent_id: a.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Action,
            sender: "agent",
            content: &content,
            metadata: &a.metadata,
            ts: a.event_time,
            received_at: a.received_at,
            response_us: None,
        },
    )?;
    exec(
        conn,
        "INSERT INTO action_logs (message_id, agent_id, conversation_pk, action_name, started_at,
            ended_at, duration_ms, tools_used, response, error_msg, metadata, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            entry,
            a.agent_id,
            pk,
            a.action_name,
            a.started_at,
            a.ended_at,
            a.duration_ms,
            a.tools_used,
            a.response,
            a.error_msg,
            a.metadata,
            a.event_time
        ],
    )
    .map_err(sqlerr)?;
    deltas::entry(
        a.agent_id,
        Delta::Action {
            pk,
            ts: a.event_time,
            name: a.action_name.clone(),
            duration_us: action_duration_us(a.duration_ms, a.started_at, a.ended_at),
            error: a.error_msg.as_deref().is_some_and(|e| !e.is_empty()),
        },
    );
    Ok(ActionLogRow {
        id: conn.last_insert_rowid(),
        message_id: entry,
        conversation_pk: pk,
        action_name: a.action_name.clone(),
        started_at: a.started_at,
        ended_at: a.ended_at,
        duration_ms: a.duration_ms,
        tools_used: a.tools_used.clone(),
        response: a.response.clone(),
        error_msg: a.error_msg.clone(),
        metadata: a.metadata.clone(),
        ts: a.event_time,
    })
}

pub(crate) fn insert_button(conn: &Connection, b: &NewButton) -> StoreResult<ButtonRow> {
    let pk = resolve(conn, b.agent_id, &b.conversation, Some((b.event_time, b.received_at)))?;
    let entry = insert_entry(
        conn,
        Entry {
            agent_id: b.agent_id,
            conversation_pk: pk,
            kind: MessageKind::Button,
            sender: "end_user",
            content: &b.label,
            metadata: &b.metadata,
            ts: b.event_time,
            received_at: b.received_at,
            response_us: None,
        },
    )?;
    exec(
            conn,
        "INSERT INTO buttons (message_id, agent_id, conversation_pk, button_event, label, value, metadata, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![entry, b.agent_id, pk, b.button_event, b.label, b.value, b.metadata, b.event_time],
    )
    .map_err(sqlerr)?;
    deltas::entry(b.agent_id, Delta::Button { pk, ts: b.event_time });
    Ok(ButtonRow {
        id: conn.last_insert_rowid(),
        message_id: entry,
        conversation_pk: pk,
        button_event: b.button_event.clone(),
        label: b.label.clone(),
        value: b.value.clone(),
        metadata: b.metadata.clone(),
        ts: b.event_time,
    })
}

pub(crate) fn insert_attachments(
    conn: &Connection,
    a: &AttachmentsInsert,
) -> StoreResult<Vec<AttachmentRow>> {
    let (pk, message_id, sender) = match &a.target {
        AttachmentTarget::Message(mid) => {
            let m: Option<(i64, i64, String)> = one(
                conn,
                "SELECT agent_id, conversation_pk, sender FROM messages WHERE id = ?1",
                [mid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sqlerr)?;
            match m {
                Some((agent, pk, msender)) if agent == a.agent_id => {
                    (pk, Some(*mid), a.sender.clone().or(Some(msender)))
                }
                _ => return Err(StoreError::UnknownReference { field: "message", value: mid.to_string() }),
            }
        }
        AttachmentTarget::Conversation(r) => {
            (resolve(conn, a.agent_id, r, Some((a.event_time, a.event_time)))?, None, a.sender.clone())
        }
    };
    let mut out = Vec::with_capacity(a.files.len());
    for f in &a.files {
        exec(
            conn,
            "INSERT INTO attachments (agent_id, conversation_pk, message_id, sender, filename,
                mime_type, size_bytes, storage_key, metadata, ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                a.agent_id,
                pk,
                message_id,
                sender,
                f.filename,
                f.mime_type,
                f.size_bytes,
                f.storage_key,
                a.metadata,
                a.event_time
            ],
        )
        .map_err(sqlerr)?;
        out.push(AttachmentRow {
            id: conn.last_insert_rowid(),
            conversation_pk: pk,
            message_id,
            sender: sender.clone(),
            filename: f.filename.clone(),
            mime_type: f.mime_type.clone(),
            size_bytes: f.size_bytes,
            storage_key: f.storage_key.clone(),
            metadata: a.metadata.clone(),
            ts: a.event_time,
        });
    }
    Ok(out)
}

pub(crate) fn insert_feedback(conn: &Connection, f: &NewFeedback) -> StoreResult<FeedbackRow> {
    let pk = resolve(conn, f.agent_id, &f.conversation, None)?;
    exec(
        conn,
        "INSERT INTO feedbacks (agent_id, conversation_pk, sentiment, source, comment, metadata, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![f.agent_id, pk, f.sentiment, f.source.as_str(), f.comment, f.metadata, f.created_at],
    )
    .map_err(sqlerr)?;
    let id = conn.last_insert_rowid();
    deltas::touch(f.agent_id, pk);
    let conversation_id: String =
        one(conn, "SELECT conversation_id FROM conversations WHERE id = ?1", [pk], |r| r.get(0))
            .map_err(sqlerr)?;
    Ok(FeedbackRow {
        id,
        conversation_pk: pk,
        conversation_id,
        sentiment: f.sentiment.clone(),
        source: f.source.as_str().to_string(),
        comment: f.comment.clone(),
        metadata: f.metadata.clone(),
        created_at: f.created_at,
    })
}

pub(crate) fn patch_conversation(
    conn: &Connection,
    agent_id: i64,
    pk: i64,
    p: &ConversationPatch,
    now: Micros,
) -> StoreResult<Option<ConversationRow>> {
    forget_written(pk);
    let n = conn
        .execute(
            "UPDATE conversations SET
                name = COALESCE(?3, name), is_marked = COALESCE(?4, is_marked),
                customer_id = COALESCE(?5, customer_id), device = COALESCE(?6, device),
                language = COALESCE(?7, language), source = COALESCE(?8, source),
                metadata = COALESCE(?9, metadata),
                is_deleted = CASE WHEN ?10 THEN 1 ELSE is_deleted END,
                deleted_at = CASE WHEN ?10 AND deleted_at IS NULL THEN ?11 ELSE deleted_at END,
                updated_at = ?11
             WHERE id = ?1 AND agent_id = ?2",
            params![
                pk,
                agent_id,
                p.name,
                p.is_marked,
                p.customer_id,
                p.device,
                p.language,
                p.source,
                p.metadata,
                p.delete,
                now
            ],
        )
        .map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    deltas::touch(agent_id, pk);
    reads::conversation_by_pk(conn, agent_id, pk)
}

pub(crate) fn create_agent(conn: &Connection, name: &str, now: Micros) -> StoreResult<AgentRow> {
    let taken: bool = one(conn, "SELECT EXISTS (SELECT 1 FROM agents WHERE name = ?1)", [name], |r| r.get(0))
        .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("an agent named '{name}' exists"),
        });
    }
    exec(conn, "INSERT INTO agents (name, created_at) VALUES (?1, ?2)", params![name, now])
        .map_err(sqlerr)?;
    let id = conn.last_insert_rowid();
    for slug in DEFAULT_ENVIRONMENTS {
        let (title, prod) = if slug == "production" { ("Production", true) } else { ("Development", false) };
        exec(
            conn,
            "INSERT INTO environments (agent_id, slug, name, is_production, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, slug, title, prod, now],
        )
        .map_err(sqlerr)?;
    }
    Ok(AgentRow {
        id,
        name: name.to_string(),
        environments: DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect(),
        created_at: now,
    })
}

pub(crate) fn create_key(
    conn: &Connection,
    agent_id: i64,
    role: Role,
    prefix: &str,
    hash: &[u8; 32],
    now: Micros,
) -> StoreResult<KeyRow> {
    let agent_name: Option<String> =
        one(conn, "SELECT name FROM agents WHERE id = ?1", [agent_id], |r| r.get(0))
            .optional()
            .map_err(sqlerr)?;
    let agent_name = agent_name
        .ok_or_else(|| StoreError::UnknownReference { field: "agent", value: agent_id.to_string() })?;
    exec(
        conn,
        "INSERT INTO api_keys (agent_id, prefix, hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, prefix, &hash[..], role.as_str(), now],
    )
    .map_err(sqlerr)?;
    Ok(KeyRow {
        id: conn.last_insert_rowid(),
        agent_id,
        agent_name,
        prefix: prefix.to_string(),
        role,
        created_at: now,
        revoked_at: None,
    })
}

pub(crate) fn set_escalation_tools(
    conn: &Connection,
    agent_id: i64,
    tools: Option<&[String]>,
) -> StoreResult<bool> {
    let json = tools.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    let n = exec(conn, "UPDATE agents SET escalation_tools = ?2 WHERE id = ?1", params![agent_id, json])
        .map_err(sqlerr)?;
    Ok(n == 1)
}

pub(crate) fn create_environment(
    conn: &Connection,
    agent_id: i64,
    slug: &str,
    name: &str,
    is_production: bool,
    now: Micros,
) -> StoreResult<agentsight_store::EnvironmentRow> {
    let taken: bool = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM environments WHERE agent_id = ?1 AND slug = ?2)",
        params![agent_id, slug],
        |r| r.get(0),
    )
    .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "slug",
            message: format!("the agent has an environment '{slug}'"),
        });
    }
    exec(
        conn,
        "INSERT INTO environments (agent_id, slug, name, is_production, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, slug, name, is_production, now],
    )
    .map_err(sqlerr)?;
    Ok(agentsight_store::EnvironmentRow {
        id: conn.last_insert_rowid(),
        slug: slug.to_string(),
        name: name.to_string(),
        is_production,
        created_at: now,
    })
}

pub(crate) fn revoke_key(conn: &Connection, key_id: i64, now: Micros) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id, now],
        )
        .map_err(sqlerr)?;
    Ok(n == 1)
}

pub(crate) fn rename_agent(conn: &Connection, id: i64, name: &str) -> StoreResult<Option<AgentRow>> {
    let taken: bool = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM agents WHERE name = ?1 AND id != ?2)",
        params![name, id],
        |r| r.get(0),
    )
    .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("an agent named '{name}' exists"),
        });
    }
    let n = exec(conn, "UPDATE agents SET name = ?2 WHERE id = ?1", params![id, name]).map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    reads::agent(conn, id)
}

thread_local! {
    /// `(agent, action name)` pairs whose definition row exists (or is being written in the
    /// current group). Emptied with [`forget_cached`].
    static KNOWN_ACTIONS: RefCell<std::collections::HashSet<(i64, String)>> = RefCell::new(Default::default());
}

/// Creates the action definition `(agent, name)` the first time a name appears (B5.5).
fn ensure_action(conn: &Connection, agent_id: i64, name: &str, now: Micros) -> StoreResult<()> {
    let key = (agent_id, name.to_string());
    if KNOWN_ACTIONS.with(|k| k.borrow().contains(&key)) {
        return Ok(());
    }
    exec(
        conn,
        "INSERT INTO actions (agent_id, name, display_name, created_at, updated_at) VALUES (?1, ?2, ?2, ?3, ?3)
         ON CONFLICT (agent_id, name) DO NOTHING",
        params![agent_id, name, now],
    )
    .map_err(sqlerr)?;
    KNOWN_ACTIONS.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= MAX_CACHED_CONVERSATIONS {
            k.clear();
        }
        k.insert(key);
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Span ingest (0.1.x). Every change to conversations, messages, action logs and buttons goes
// through the functions above (upsert_conversation_lowering, insert_message, insert_action,
// insert_button).

use agentsight_core::prices::{Pricing, TokenCounts};
use agentsight_core::spans::{LlmCall, SpanEffect, SpanIngest, SpanRecord, TurnEffect};
use agentsight_store::IngestOutcome;
use agentsight_store::Restated;

use crate::archiving::{Plan, TurnInfo};

/// Projects an archived batch (see `SpanWriter::ingest_spans`) as its archiving planned
/// (`crate::archiving`): each block's conversation upsert, the messages of its new complete
/// turns, then the children its turns released, then its new children. Any error is a failure
/// of the group (rolled back), never a refusal after a partial write.
pub(crate) fn project_batch(conn: &Connection, b: &SpanIngest, plan: &Plan) -> StoreResult<IngestOutcome> {
    project_batch_inner(conn, b, plan).map_err(|e| match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m),
        other => StoreError::Internal(format!("span projection: {other}")),
    })
}

fn project_batch_inner(conn: &Connection, b: &SpanIngest, plan: &Plan) -> StoreResult<IngestOutcome> {
    let mut out = IngestOutcome::default();
    for (block, bp) in b.blocks.iter().zip(&plan.blocks) {
        // An existing conversation's `started_at` moves back to the block's earliest event.
        let (pk, created) = upsert_conversation_lowering(conn, &block.upsert, Some(block.upsert.event_time))?;
        out.conversations.push((pk, created));
        // Turns before their children, so a turn's messages precede its tools at equal times.
        for (i, _) in &bp.fresh {
            if let Some(SpanEffect::Turn(t)) = block.spans.get(*i).map(|s| &s.effect)
                && t.complete
            {
                project_turn_messages(conn, b, pk, t)?;
                out.messages += t.messages.len() as u64;
            }
        }
        for (child, turn) in &bp.released {
            project_child(conn, b, pk, child, Some(turn))?;
        }
        for (i, turn) in &bp.fresh {
            if let Some(s) = block.spans.get(*i).filter(|s| !matches!(s.effect, SpanEffect::Turn(_))) {
                project_child(conn, b, pk, s, turn.as_ref())?;
            }
        }
    }
    Ok(out)
}

/// A complete turn's messages.
fn project_turn_messages(conn: &Connection, b: &SpanIngest, pk: i64, t: &TurnEffect) -> StoreResult<()> {
    for m in &t.messages {
        insert_message(
            conn,
            NewMessage {
                agent_id: b.agent_id,
                conversation: ConversationRef::Pk(pk),
                sender: m.sender.clone(),
                content: m.content.clone(),
                metadata: m.metadata.clone(),
                event_time: m.ts,
                received_at: b.received_at,
            },
        )?;
    }
    Ok(())
}

/// A tool, LLM call or button (the caller decided it is to be projected).
fn project_child(
    conn: &Connection,
    b: &SpanIngest,
    pk: i64,
    s: &SpanRecord,
    turn: Option<&TurnInfo>,
) -> StoreResult<()> {
    match &s.effect {
        SpanEffect::Tool(t) => {
            insert_action(
                conn,
                &NewAction {
                    agent_id: b.agent_id,
                    conversation: ConversationRef::Pk(pk),
                    action_name: t.name.clone(),
                    event_time: s.started_at,
                    started_at: Some(s.started_at),
                    ended_at: Some(s.ended_at),
                    duration_ms: t.duration_ms,
                    tools_used: t.tools_used.clone(),
                    response: t.response.clone(),
                    error_msg: t.error.clone(),
                    metadata: t.metadata.clone(),
                    received_at: b.received_at,
                },
            )?;
        }
        SpanEffect::Button(x) => {
            insert_button(
                conn,
                &NewButton {
                    agent_id: b.agent_id,
                    conversation: ConversationRef::Pk(pk),
                    button_event: x.event.clone(),
                    label: x.label.clone(),
                    value: x.value.clone(),
                    metadata: x.metadata.clone(),
                    event_time: s.started_at,
                    received_at: b.received_at,
                },
            )?;
        }
        SpanEffect::Llm(c) => add_usage(conn, b, pk, s, c, turn)?,
        SpanEffect::Turn(_) | SpanEffect::None => {}
    }
    Ok(())
}

/// The `cost_source` and `price_table` stored with a server-computed cost (`None`: unpriced),
/// at ingest and when restating.
fn cost_stamp(cost: Option<i64>, table_date: &'static str) -> (&'static str, Option<&'static str>) {
    match cost {
        Some(_) => ("backend", Some(table_date)),
        None => ("unpriced", None),
    }
}

/// Adds an LLM call to its (turn, model) row.
fn add_usage(
    conn: &Connection,
    b: &SpanIngest,
    pk: i64,
    s: &SpanRecord,
    c: &LlmCall,
    turn: Option<&TurnInfo>,
) -> StoreResult<()> {
    let (turn_key, turn_id) = match s.turn_id {
        Some(t) => (format!("t{t:016x}"), Some(t as i64)),
        None => (format!("s{:016x}", s.span_id), None),
    };
    let t = &c.tokens;
    let (source, table) = cost_stamp(c.cost_pico, agentsight_core::prices::CURRENT.table_date);
    let incomplete = turn.is_some_and(|t| !t.complete);
    exec(
        conn,
        "INSERT INTO token_usage (agent_id, conversation_pk, turn_key, turn_id, model, system, calls,
            unreported_calls, error_calls, input_tokens, output_tokens, cache_read_tokens,
            cache_write_tokens, embedding_tokens, reasoning_tokens, audio_input_tokens,
            audio_output_tokens, cost_pico, cost_source, price_table, incomplete, incomplete_reason,
            started_at, ended_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?24)
         ON CONFLICT (conversation_pk, turn_key, model) DO UPDATE SET
            calls = calls + 1, unreported_calls = unreported_calls + excluded.unreported_calls,
            error_calls = error_calls + excluded.error_calls,
            input_tokens = input_tokens + excluded.input_tokens,
            output_tokens = output_tokens + excluded.output_tokens,
            cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
            cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
            embedding_tokens = embedding_tokens + excluded.embedding_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            audio_input_tokens = audio_input_tokens + excluded.audio_input_tokens,
            audio_output_tokens = audio_output_tokens + excluded.audio_output_tokens,
            cost_pico = CASE WHEN cost_pico IS NULL OR excluded.cost_pico IS NULL THEN NULL
                             ELSE cost_pico + excluded.cost_pico END,
            system = COALESCE(system, excluded.system),
            started_at = min(started_at, excluded.started_at), ended_at = max(ended_at, excluded.ended_at),
            updated_at = excluded.updated_at",
        params![
            b.agent_id,
            pk,
            turn_key,
            turn_id,
            c.model,
            c.system,
            i64::from(!c.usage_reported),
            i64::from(c.error),
            t.input,
            t.output,
            t.cache_read,
            t.cache_write,
            t.embedding,
            t.reasoning,
            t.audio_input,
            t.audio_output,
            c.cost_pico,
            source,
            table,
            incomplete,
            turn.and_then(|t| t.reason.clone()),
            s.started_at,
            s.ended_at,
            b.received_at
        ],
    )
    .map_err(sqlerr)?;
    Ok(())
}

/// TOKEN USAGE WRITE (no metrics delta: the metrics index holds no costs). Reprices the usage
/// rows of `agent_id` (or of every agent) from their stored counts; see
/// `SpanWriter::restate_costs`. A row's counts are sums over calls of one model, and a cost is
/// linear in the counts, so the restated cost is exactly that of pricing each call.
pub(crate) fn restate_costs(
    conn: &Connection,
    agent_id: Option<i64>,
    pricing: Pricing,
    now: Micros,
) -> StoreResult<Restated> {
    type Stored = (i64, String, TokenCounts, Option<i64>, String, Option<String>);
    let rows: Vec<Stored> = {
        let mut stmt = conn
            .prepare(
                "SELECT id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    embedding_tokens, reasoning_tokens, audio_input_tokens, audio_output_tokens,
                    cost_pico, cost_source, price_table
                 FROM token_usage WHERE (?1 IS NULL OR agent_id = ?1) AND cost_source <> 'reported'",
            )
            .map_err(sqlerr)?;
        stmt.query_map([agent_id], |r| {
            let tokens = TokenCounts {
                input: r.get(2)?,
                output: r.get(3)?,
                cache_read: r.get(4)?,
                cache_write: r.get(5)?,
                embedding: r.get(6)?,
                reasoning: r.get(7)?,
                audio_input: r.get(8)?,
                audio_output: r.get(9)?,
            };
            Ok((r.get(0)?, r.get(1)?, tokens, r.get(10)?, r.get(11)?, r.get(12)?))
        })
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sqlerr)?
    };
    let mut out = Restated::default();
    let mut update = conn
        .prepare("UPDATE token_usage SET cost_pico = ?2, cost_source = ?3, price_table = ?4, updated_at = ?5 WHERE id = ?1")
        .map_err(sqlerr)?;
    for (id, model, tokens, cost, source, table) in rows {
        out.rows += 1;
        let new_cost = (pricing.cost)(&model, &tokens);
        let (new_source, new_table) = cost_stamp(new_cost, pricing.table_date);
        if (new_cost, new_source, new_table) != (cost, source.as_str(), table.as_deref()) {
            update.execute(params![id, new_cost, new_source, new_table, now]).map_err(sqlerr)?;
            out.changed += 1;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The 0.1.x data plane's writes (B5).

use agentsight_core::dataplane::{ActionDef, FeedbackChange, NewVote, VoteTarget};
use agentsight_store::{ActionRow, FeedbackItem};

use crate::dataplane::{self, VOTE_ID_BASE};

/// A message vote (one per message: a repeat updates the stored one, keeping omitted fields) or
/// agent feedback. Votes live apart from `feedbacks`, so they never count as a conversation's
/// explicit feedback.
pub(crate) fn insert_vote(conn: &Connection, v: &NewVote) -> StoreResult<(FeedbackItem, bool)> {
    let (kind, conversation_pk, message_id) = match v.target {
        VoteTarget::Message(mid) => {
            let m: Option<(i64, i64)> =
                one(conn, "SELECT agent_id, conversation_pk FROM messages WHERE id = ?1", [mid], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(sqlerr)?;
            match m {
                Some((agent, pk)) if agent == v.agent_id => ("message", Some(pk), Some(mid)),
                _ => return Err(StoreError::UnknownReference { field: "message", value: mid.to_string() }),
            }
        }
        VoteTarget::Agent => ("agent", None, None),
    };
    let existing: Option<i64> = match message_id {
        Some(mid) => one(
            conn,
            "SELECT id FROM feedback_votes WHERE kind = 'message' AND message_id = ?1",
            [mid],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlerr)?,
        None => None,
    };
    let (id, created) = match existing {
        Some(id) => {
            exec(
                conn,
                "UPDATE feedback_votes SET sentiment = ?2, comment = COALESCE(?3, comment), topic = COALESCE(?4, topic),
                    reason = COALESCE(?5, reason), updated_at = ?6 WHERE id = ?1",
                params![id, v.sentiment, v.comment, v.topic, v.reason, v.now],
            )
            .map_err(sqlerr)?;
            (id, false)
        }
        None => {
            let next: i64 =
                one(conn, "SELECT coalesce(max(id), ?1) + 1 FROM feedback_votes", [VOTE_ID_BASE], |r| {
                    r.get(0)
                })
                .map_err(sqlerr)?;
            exec(
                conn,
                "INSERT INTO feedback_votes (id, agent_id, kind, conversation_pk, message_id, sentiment, source, comment,
                    topic, reason, environment, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                params![
                    next.max(VOTE_ID_BASE + 1),
                    v.agent_id,
                    kind,
                    conversation_pk,
                    message_id,
                    v.sentiment,
                    v.source.as_str(),
                    v.comment,
                    v.topic,
                    v.reason,
                    v.environment,
                    v.now
                ],
            )
            .map_err(sqlerr)?;
            (next.max(VOTE_ID_BASE + 1), true)
        }
    };
    let item = dataplane::feedback(conn, v.agent_id, id)?
        .ok_or_else(|| StoreError::Internal("written vote vanished".into()))?;
    Ok((item, created))
}

/// The conversation of a conversation feedback record of the agent.
fn feedback_conversation(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<Option<i64>> {
    one(
        conn,
        "SELECT conversation_pk FROM feedbacks WHERE id = ?1 AND agent_id = ?2",
        params![id, agent_id],
        |r| r.get(0),
    )
    .optional()
    .map_err(sqlerr)
}

/// FEEDBACK ROW WRITE (metrics delta: a conversation feedback's sentiment may change). Changes
/// the given fields of a feedback record of any kind.
pub(crate) fn update_feedback(
    conn: &Connection,
    agent_id: i64,
    id: i64,
    c: &FeedbackChange,
) -> StoreResult<Option<FeedbackItem>> {
    let n = if id > VOTE_ID_BASE {
        exec(
            conn,
            "UPDATE feedback_votes SET sentiment = COALESCE(?3, sentiment), comment = COALESCE(?4, comment),
                topic = COALESCE(?5, topic), reason = COALESCE(?6, reason), updated_at = ?7
             WHERE id = ?1 AND agent_id = ?2",
            params![id, agent_id, c.sentiment, c.comment, c.topic, c.reason, c.now],
        )
    } else {
        if c.topic.is_some() || c.reason.is_some() {
            return Err(StoreError::Conflict { field: "topic", message: "Only message feedback has a topic or reason.".into() });
        }
        if let Some(pk) = feedback_conversation(conn, agent_id, id)? {
            deltas::touch(agent_id, pk);
        }
        exec(
            conn,
            "UPDATE feedbacks SET sentiment = COALESCE(?3, sentiment), comment = COALESCE(?4, comment), updated_at = ?5
             WHERE id = ?1 AND agent_id = ?2",
            params![id, agent_id, c.sentiment, c.comment, c.now],
        )
    }
    .map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    dataplane::feedback(conn, agent_id, id)
}

/// FEEDBACK ROW WRITE (metrics delta: a conversation feedback record disappears). Hard delete.
pub(crate) fn delete_feedback(conn: &Connection, agent_id: i64, id: i64) -> StoreResult<bool> {
    let sql = if id > VOTE_ID_BASE {
        "DELETE FROM feedback_votes WHERE id = ?1 AND agent_id = ?2"
    } else {
        if let Some(pk) = feedback_conversation(conn, agent_id, id)? {
            deltas::touch(agent_id, pk);
        }
        "DELETE FROM feedbacks WHERE id = ?1 AND agent_id = ?2"
    };
    Ok(exec(conn, sql, params![id, agent_id]).map_err(sqlerr)? == 1)
}

pub(crate) fn create_action(
    conn: &Connection,
    agent_id: i64,
    d: &ActionDef,
    now: Micros,
) -> StoreResult<ActionRow> {
    let name = d.name.clone().unwrap_or_default();
    let n = exec(
        conn,
        "INSERT INTO actions (agent_id, name, display_name, description, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (agent_id, name) DO NOTHING",
        params![agent_id, name, d.display_name.clone().unwrap_or_else(|| name.clone()), d.description, now],
    )
    .map_err(sqlerr)?;
    if n == 0 {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("An action named '{name}' exists."),
        });
    }
    let id = conn.last_insert_rowid();
    dataplane::action(conn, agent_id, id)?
        .ok_or_else(|| StoreError::Internal("created action vanished".into()))
}

pub(crate) fn update_action(
    conn: &Connection,
    agent_id: i64,
    id: i64,
    d: &ActionDef,
    now: Micros,
) -> StoreResult<Option<ActionRow>> {
    if let Some(name) = &d.name {
        let taken: bool = one(
            conn,
            "SELECT EXISTS (SELECT 1 FROM actions WHERE agent_id = ?1 AND name = ?2 AND id <> ?3)",
            params![agent_id, name, id],
            |r| r.get(0),
        )
        .map_err(sqlerr)?;
        if taken {
            return Err(StoreError::Conflict {
                field: "name",
                message: format!("An action named '{name}' exists."),
            });
        }
    }
    let n = exec(
        conn,
        "UPDATE actions SET name = COALESCE(?3, name), display_name = COALESCE(?4, display_name),
            description = COALESCE(?5, description), updated_at = ?6 WHERE id = ?1 AND agent_id = ?2",
        params![id, agent_id, d.name, d.display_name, d.description, now],
    )
    .map_err(sqlerr)?;
    KNOWN_ACTIONS.with(|k| k.borrow_mut().clear());
    if n == 0 {
        return Ok(None);
    }
    dataplane::action(conn, agent_id, id)
}

/// MESSAGE ROW WRITE (metadata only: sender and ts never change). Replaces a message's metadata.
pub(crate) fn set_message_metadata(
    conn: &Connection,
    agent_id: i64,
    id: i64,
    metadata: &str,
) -> StoreResult<Option<agentsight_store::MessageDetail>> {
    let n = exec(
        conn,
        "UPDATE messages SET metadata = ?3 WHERE id = ?1 AND agent_id = ?2",
        params![id, agent_id, metadata],
    )
    .map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    dataplane::message(conn, agent_id, id)
}
