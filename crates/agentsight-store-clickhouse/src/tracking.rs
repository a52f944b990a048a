//! [`TrackingWriter`] and [`TrackingReader`]: the registry in PostgreSQL, the events in
//! ClickHouse (see the crate docs).

use std::collections::HashMap;

use agentsight_core::time::Micros;
use agentsight_core::tracking::{
    AttachmentTarget, ConversationPatch, ConversationRef, ConversationUpsert, NewAction, NewButton,
    NewFeedback, NewMessage,
};
use agentsight_store::{
    ActionLogRow, AttachmentRow, AttachmentsInsert, ButtonRow, Change, Committed, ConversationFilter,
    ConversationOrder, ConversationRow, FeedbackRow, MessageKind, MessageRow, PageRequest, StoreError,
    StoreResult, TrackingReader, TrackingWriter, Transcript, Upserted,
};
use agentsight_store_postgres::pgerr;
use serde::Deserialize;
use serde_json::json;
use tokio_postgres::types::ToSql;

use crate::http::{int_list, quote};
use crate::registry::{self, REG_COLUMNS, Reg};
use crate::resend::{self, Claimed};
use crate::{ClickHouseEventStore, bad_row};

fn kind_code(k: MessageKind) -> u8 {
    match k {
        MessageKind::Message => 0,
        MessageKind::Action => 1,
        MessageKind::Button => 2,
    }
}

fn kind_from(code: u8) -> MessageKind {
    match code {
        1 => MessageKind::Action,
        2 => MessageKind::Button,
        _ => MessageKind::Message,
    }
}

/// The answer for an action stored as entry `entry`, log `id`.
fn action_log(a: NewAction, pk: i64, entry: i64, id: i64) -> ActionLogRow {
    ActionLogRow {
        id,
        message_id: entry,
        conversation_pk: pk,
        action_name: a.action_name,
        started_at: a.started_at,
        ended_at: a.ended_at,
        duration_ms: a.duration_ms,
        tools_used: a.tools_used,
        response: a.response,
        error_msg: a.error_msg,
        metadata: a.metadata,
        ts: a.event_time,
    }
}

/// The answer for a button press stored as entry `entry`, row `id`.
fn button_row(b: NewButton, pk: i64, entry: i64, id: i64) -> ButtonRow {
    ButtonRow {
        id,
        message_id: entry,
        conversation_pk: pk,
        button_event: b.button_event,
        label: b.label,
        value: b.value,
        metadata: b.metadata,
        ts: b.event_time,
    }
}

/// The ClickHouse row of a message (the 0.0.x path and a span batch's turns write the same).
pub(crate) fn message_row(m: &NewMessage, pk: i64, id: i64) -> serde_json::Value {
    json!({
        "agent_id": m.agent_id, "conversation_pk": pk, "id": id, "kind": kind_code(MessageKind::Message),
        "sender": m.sender, "content": m.content, "metadata": m.metadata, "ts": m.event_time,
        "received_at": m.received_at,
    })
}

/// The ClickHouse rows of an action: its transcript entry (id `entry`) and its log (id `id`).
pub(crate) fn action_rows(
    a: &NewAction,
    pk: i64,
    entry: i64,
    id: i64,
) -> (serde_json::Value, serde_json::Value) {
    let message = json!({
        "agent_id": a.agent_id, "conversation_pk": pk, "id": entry, "kind": kind_code(MessageKind::Action),
        "sender": "agent", "content": format!("Action {} performed", a.action_name),
        "metadata": a.metadata, "ts": a.event_time, "received_at": a.received_at,
    });
    let log = json!({
        "agent_id": a.agent_id, "conversation_pk": pk, "id": id, "message_id": entry,
        "action_name": a.action_name, "started_at": a.started_at, "ended_at": a.ended_at,
        "duration_ms": a.duration_ms, "tools_used": a.tools_used, "response": a.response,
        "error_msg": a.error_msg, "metadata": a.metadata, "ts": a.event_time,
    });
    (message, log)
}

/// The ClickHouse rows of a button press: its transcript entry (id `entry`) and its row (id `id`).
pub(crate) fn button_rows(
    b: &NewButton,
    pk: i64,
    entry: i64,
    id: i64,
) -> (serde_json::Value, serde_json::Value) {
    let message = json!({
        "agent_id": b.agent_id, "conversation_pk": pk, "id": entry, "kind": kind_code(MessageKind::Button),
        "sender": "end_user", "content": b.label, "metadata": b.metadata, "ts": b.event_time,
        "received_at": b.received_at,
    });
    let row = json!({
        "agent_id": b.agent_id, "conversation_pk": pk, "id": id, "message_id": entry,
        "button_event": b.button_event, "label": b.label, "value": b.value, "metadata": b.metadata,
        "ts": b.event_time,
    });
    (message, row)
}

#[derive(Deserialize)]
struct ChMessage {
    id: i64,
    conversation_pk: i64,
    kind: u8,
    sender: String,
    content: String,
    metadata: String,
    ts: i64,
}

/// An `action_logs` row as ClickHouse returns it (its columns: [`ACTION_LOG_COLUMNS`]).
#[derive(Deserialize)]
pub(crate) struct ChAction {
    id: i64,
    message_id: i64,
    pub(crate) conversation_pk: i64,
    action_name: String,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    duration_ms: Option<i64>,
    tools_used: Option<String>,
    response: Option<String>,
    error_msg: Option<String>,
    metadata: String,
    ts: i64,
}

/// The columns [`ChAction`] reads.
pub(crate) const ACTION_LOG_COLUMNS: &str = "id, message_id, conversation_pk, action_name, started_at, ended_at, \
    duration_ms, tools_used, response, error_msg, metadata, ts";

impl ChAction {
    pub(crate) fn row(self) -> ActionLogRow {
        ActionLogRow {
            id: self.id,
            message_id: self.message_id,
            conversation_pk: self.conversation_pk,
            action_name: self.action_name,
            started_at: self.started_at,
            ended_at: self.ended_at,
            duration_ms: self.duration_ms,
            tools_used: self.tools_used,
            response: self.response,
            error_msg: self.error_msg,
            metadata: self.metadata,
            ts: self.ts,
        }
    }
}

#[derive(Deserialize)]
struct ChButton {
    id: i64,
    message_id: i64,
    conversation_pk: i64,
    button_event: String,
    label: String,
    value: String,
    metadata: String,
    ts: i64,
}

#[derive(Deserialize)]
struct ChFeedback {
    id: i64,
    conversation_pk: i64,
    sentiment: String,
    source: String,
    comment: Option<String>,
    metadata: String,
    created_at: i64,
}

#[derive(Deserialize)]
struct Stats {
    conversation_pk: i64,
    last: i64,
    n: i64,
}

#[derive(Deserialize)]
struct Pk {
    conversation_pk: i64,
}

/// `%s%` for `ILIKE … ` with `%`, `_` and `\` escaped (PostgreSQL's default escape is `\`).
pub(crate) fn like_contains(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// The text a JSON value matches in a metadata filter: strings as themselves, integers in
/// decimal, booleans as `true`/`false` (SQLite's rule), for the jsonb value `v`.
pub(crate) fn metadata_text(v: &str) -> String {
    format!(
        "(CASE jsonb_typeof({v}) WHEN 'string' THEN {v} #>> '{{}}' \
         WHEN 'number' THEN (CASE WHEN ({v} #>> '{{}}') ~ '^-?[0-9]+$' THEN {v} #>> '{{}}' END) \
         WHEN 'boolean' THEN {v} #>> '{{}}' END)"
    )
}

pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

pub(crate) fn refs(p: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}

impl ClickHouseEventStore {
    /// Resolves a reference to a pk of the agent; by id, creates a used conversation started at
    /// `create_at.0` when missing (answering its row).
    async fn resolve(
        &self,
        agent_id: i64,
        r: &ConversationRef,
        create_at: Option<(Micros, Micros)>,
    ) -> StoreResult<(i64, Option<Reg>)> {
        match r {
            ConversationRef::Pk(pk) => {
                let cached = self.cache().owners.get(pk).copied();
                let owner = match cached {
                    Some(a) => Some(a),
                    None => registry::owner(&**self.client().await?, *pk).await?,
                };
                match owner {
                    Some(a) if a == agent_id => Ok((*pk, None)),
                    _ => Err(StoreError::UnknownReference { field: "conversation", value: pk.to_string() }),
                }
            }
            ConversationRef::Id(cid) => {
                if let Some(pk) = self.cache().pks.get(&(agent_id, cid.clone())).copied() {
                    return Ok((pk, None));
                }
                let client = self.client().await?;
                let (pk, created) = match create_at {
                    Some((started, now)) => {
                        registry::get_or_create(&**client, agent_id, cid, started, now).await?
                    }
                    None => match registry::find_pk(&**client, agent_id, cid).await? {
                        Some(pk) => (pk, None),
                        None => {
                            return Err(StoreError::UnknownReference {
                                field: "conversation_id",
                                value: cid.clone(),
                            });
                        }
                    },
                };
                drop(client);
                let mut cache = self.cache();
                cache.remember(agent_id, cid, pk);
                if created.is_some() {
                    cache.used.insert(pk);
                }
                Ok((pk, created))
            }
        }
    }

    /// Copies a new version of a registry row to ClickHouse.
    async fn copy(&self, r: &Reg) -> StoreResult<()> {
        self.inner.batcher.insert("conversations", &[r.clickhouse_row()]).await
    }

    /// Marks a conversation used (once), copying the new version.
    async fn mark_used(&self, pk: i64, now: Micros) -> StoreResult<()> {
        if self.cache().used.contains(&pk) {
            return Ok(());
        }
        let changed = registry::mark_used(&**self.client().await?, pk, now).await?;
        if let Some(r) = &changed {
            self.copy(r).await?;
        }
        self.cache().used.insert(pk);
        Ok(())
    }

    /// Resolves the entry's conversation (creating it by id), marks it used and answers its pk.
    async fn entry_conversation(
        &self,
        agent_id: i64,
        r: &ConversationRef,
        ts: Micros,
        now: Micros,
    ) -> StoreResult<i64> {
        let (pk, created) = self.resolve(agent_id, r, Some((ts, now))).await?;
        match created {
            Some(reg) => self.copy(&reg).await?,
            None => self.mark_used(pk, now).await?,
        }
        Ok(pk)
    }

    /// Each conversation's message count and last entry time, from ClickHouse.
    async fn stats(&self, agent_id: i64, pks: &[i64]) -> StoreResult<HashMap<i64, (i64, i64)>> {
        if pks.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<Stats> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT conversation_pk, max(ts) AS last, toInt64(countIf(kind = 0)) AS n FROM messages
                 WHERE agent_id = {agent_id} AND conversation_pk IN ({}) GROUP BY conversation_pk",
                int_list(pks)
            ))
            .await?;
        Ok(rows.into_iter().map(|s| (s.conversation_pk, (s.last, s.n))).collect())
    }

    /// Registry rows completed with what the events say.
    pub(crate) async fn complete(&self, agent_id: i64, regs: Vec<Reg>) -> StoreResult<Vec<ConversationRow>> {
        let pks: Vec<i64> = regs.iter().map(|r| r.row.id).collect();
        let stats = self.stats(agent_id, &pks).await?;
        Ok(regs
            .into_iter()
            .map(|r| {
                let mut row = r.row;
                if let Some((last, n)) = stats.get(&row.id) {
                    row.ended_at = row.ended_at.or(Some(*last));
                    row.message_count = *n;
                }
                row
            })
            .collect())
    }

    async fn complete_one(&self, agent_id: i64, reg: Option<Reg>) -> StoreResult<Option<ConversationRow>> {
        match reg {
            None => Ok(None),
            Some(r) => Ok(self.complete(agent_id, vec![r]).await?.pop()),
        }
    }

    /// The agent's conversation pks with a matching event in `table`.
    async fn pks_where(&self, agent_id: i64, table: &str, cond: &str) -> StoreResult<Vec<i64>> {
        let rows: Vec<Pk> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT DISTINCT conversation_pk FROM {table} WHERE agent_id = {agent_id} AND ({cond})"
            ))
            .await?;
        Ok(rows.into_iter().map(|p| p.conversation_pk).collect())
    }

    /// The `WHERE` clause over `event_conversations` and its values for a filter.
    pub(crate) async fn list_filter(
        &self,
        agent_id: i64,
        f: &ConversationFilter,
    ) -> StoreResult<(String, Vec<Param>)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Param> = Vec::new();
        // Binds a value, answering its placeholder.
        fn bind(params: &mut Vec<Param>, p: Param) -> String {
            params.push(p);
            format!("${}", params.len())
        }
        let a = bind(&mut params, Box::new(agent_id));
        clauses.push(format!("agent_id = {a}"));
        for (col, v) in [
            ("conversation_id", &f.conversation_id),
            ("customer_id", &f.customer_id),
            ("customer_ip_address", &f.customer_ip_address),
            ("device", &f.device),
            ("language", &f.language),
            ("source", &f.source),
            ("environment", &f.environment),
            ("country", &f.country),
        ] {
            if let Some(v) = v {
                let p = bind(&mut params, Box::new(v.clone()));
                clauses.push(format!("{col} = {p}"));
            }
        }
        if let Some(n) = &f.name {
            let p = bind(&mut params, Box::new(like_contains(n)));
            clauses.push(format!("name ILIKE {p}"));
        }
        if let Some(t) = &f.customer_id_contains {
            let p = bind(&mut params, Box::new(like_contains(t)));
            clauses.push(format!("customer_id ILIKE {p}"));
        }
        if let Some(t) = &f.search {
            let p = bind(&mut params, Box::new(like_contains(t)));
            clauses.push(format!("(conversation_id ILIKE {p} OR name ILIKE {p} OR customer_id ILIKE {p})"));
        }
        let key_is = |params: &mut Vec<Param>, k: &str, v: &str| {
            let kp = bind(params, Box::new(k.to_string()));
            let vp = bind(params, Box::new(v.to_string()));
            format!("{} = {vp}", metadata_text(&format!("(metadata::jsonb -> {kp})")))
        };
        for (k, v) in &f.metadata {
            let c = key_is(&mut params, k, v);
            clauses.push(c);
        }
        match (&f.metadata_key, &f.metadata_value) {
            (Some(k), Some(v)) => {
                let c = key_is(&mut params, k, v);
                clauses.push(c);
            }
            (Some(k), None) => {
                let p = bind(&mut params, Box::new(k.clone()));
                clauses.push(format!("metadata::jsonb ? {p}"));
            }
            (None, Some(v)) => {
                let p = bind(&mut params, Box::new(v.clone()));
                clauses.push(format!(
                    "EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(metadata::jsonb) = 'object' \
                     THEN metadata::jsonb ELSE '{{}}'::jsonb END) j WHERE {} = {p})",
                    metadata_text("j.value")
                ));
            }
            (None, None) => {}
        }
        for (expr, v) in [("is_marked", f.is_marked), ("is_used", f.is_used)] {
            if let Some(b) = v {
                clauses.push(if b { expr.to_string() } else { format!("NOT {expr}") });
            }
        }
        if !f.include_deleted {
            clauses.push("NOT is_deleted".into());
        }
        if let Some(t) = f.started_at_after {
            let p = bind(&mut params, Box::new(t));
            clauses.push(format!("started_at >= {p}"));
        }
        if let Some(t) = f.started_at_before {
            let p = bind(&mut params, Box::new(t));
            clauses.push(format!("started_at <= {p}"));
        }
        for d in &f.unknown {
            // The column comes from a fixed enum, never from the request.
            clauses.push(format!("{} IS NULL", d.column()));
        }
        // Filters on events: the matching pks from ClickHouse.
        let mut on_events: Vec<(bool, &str, String)> = Vec::new();
        // Conversation feedback: its current versions (see dataplane.rs).
        let feedbacks = self.feedbacks_now(&format!("agent_id = {agent_id}"));
        let feedbacks = feedbacks.as_str();
        if let Some(a) = &f.action_name {
            on_events.push((true, "action_logs", format!("action_name = {}", quote(a))));
        }
        if let Some(t) = &f.message_contains {
            on_events.push((
                true,
                "messages",
                format!("kind = 0 AND positionCaseInsensitive(content, {}) > 0", quote(t)),
            ));
        }
        if let Some(b) = f.has_messages {
            on_events.push((b, "messages", "kind = 0".into()));
        }
        if let Some(b) = f.has_feedback {
            on_events.push((b, feedbacks, "1".into()));
        }
        if let Some(s) = &f.feedback_sentiment {
            on_events.push((true, feedbacks, format!("sentiment = {}", quote(s))));
        }
        if let Some(s) = &f.feedback_source {
            on_events.push((true, feedbacks, format!("source = {}", quote(s))));
        }
        if let Some(b) = f.has_action {
            on_events.push((b, "action_logs", "1".into()));
        }
        if let Some(escalated) = f.escalated {
            if f.escalation_tools.is_empty() {
                if escalated {
                    clauses.push("false".into());
                }
            } else {
                let names = f.escalation_tools.iter().map(|t| quote(t)).collect::<Vec<_>>().join(", ");
                on_events.push((escalated, "action_logs", format!("action_name IN ({names})")));
            }
        }
        for (positive, pks) in self.failure_filter_pks(agent_id, f).await? {
            let p = bind(&mut params, Box::new(pks));
            clauses.push(if positive { format!("id = ANY({p})") } else { format!("NOT (id = ANY({p}))") });
        }
        for (positive, table, cond) in on_events {
            let pks = self.pks_where(agent_id, table, &cond).await?;
            let p = bind(&mut params, Box::new(pks));
            clauses.push(if positive { format!("id = ANY({p})") } else { format!("NOT (id = ANY({p}))") });
        }
        Ok((clauses.join(" AND "), params))
    }

    async fn insert_feedback_rows(&self, rows: &[serde_json::Value]) -> StoreResult<()> {
        self.inner.batcher.insert("feedbacks", rows).await
    }
}

impl TrackingWriter for ClickHouseEventStore {
    async fn upsert_conversation(&self, c: ConversationUpsert) -> StoreResult<Upserted> {
        let (reg, created) = registry::upsert(&**self.client().await?, &c).await?;
        self.copy(&reg).await?;
        {
            let mut cache = self.cache();
            cache.remember(c.agent_id, &c.conversation_id, reg.row.id);
            if reg.row.is_used {
                cache.used.insert(reg.row.id);
            }
        }
        // A conversation created now has no events yet.
        let row = if created {
            reg.row
        } else {
            self.complete(c.agent_id, vec![reg]).await?.pop().ok_or_else(|| bad_row("empty upsert"))?
        };
        self.report(&[Committed { agent_id: c.agent_id, change: Change::Conversation, count: 1 }]);
        Ok(Upserted { row, created })
    }

    async fn insert_message(&self, m: NewMessage) -> StoreResult<MessageRow> {
        let pk = self.entry_conversation(m.agent_id, &m.conversation, m.event_time, m.received_at).await?;
        let id = self.ids(1).await?[0];
        let row = message_row(&m, pk, id);
        let write = self.inner.batcher.insert("messages", std::slice::from_ref(&row));
        let key = m.resendable().then(|| resend::Key {
            conversation_pk: pk,
            kind: 0,
            event_time: m.event_time,
            digest: resend::message_digest(&m),
        });
        let claimed = self.write_once(key, id, id, write).await?;
        if claimed == Claimed::Written {
            self.report(&[Committed { agent_id: m.agent_id, change: Change::Message, count: 1 }]);
        }
        Ok(MessageRow {
            id: claimed.ids(id, id).0,
            conversation_pk: pk,
            kind: MessageKind::Message,
            sender: m.sender,
            content: m.content,
            metadata: m.metadata,
            ts: m.event_time,
        })
    }

    async fn insert_action(&self, a: NewAction) -> StoreResult<ActionLogRow> {
        let pk = self.entry_conversation(a.agent_id, &a.conversation, a.event_time, a.received_at).await?;
        self.ensure_action(a.agent_id, &a.action_name, a.received_at).await?;
        let ids = self.ids(2).await?;
        let (entry, id) = (ids[0], ids[1]);
        let (message, log) = action_rows(&a, pk, entry, id);
        let (entries, rows) = ([message], [log]);
        let write = async {
            tokio::try_join!(
                self.inner.batcher.insert("messages", &entries),
                self.inner.batcher.insert("action_logs", &rows)
            )
            .map(|_| ())
        };
        let key = a.resendable().then(|| resend::Key {
            conversation_pk: pk,
            kind: 1,
            event_time: a.event_time,
            digest: resend::action_digest(&a),
        });
        let claimed = self.write_once(key, entry, id, write).await?;
        if claimed == Claimed::Written {
            self.report(&[Committed { agent_id: a.agent_id, change: Change::Other, count: 1 }]);
        }
        let (entry, id) = claimed.ids(entry, id);
        Ok(action_log(a, pk, entry, id))
    }

    async fn insert_button(&self, b: NewButton) -> StoreResult<ButtonRow> {
        let pk = self.entry_conversation(b.agent_id, &b.conversation, b.event_time, b.received_at).await?;
        let ids = self.ids(2).await?;
        let (entry, id) = (ids[0], ids[1]);
        let (message, row) = button_rows(&b, pk, entry, id);
        let (entries, rows) = ([message], [row]);
        let write = async {
            tokio::try_join!(
                self.inner.batcher.insert("messages", &entries),
                self.inner.batcher.insert("buttons", &rows)
            )
            .map(|_| ())
        };
        let key = b.resendable().then(|| resend::Key {
            conversation_pk: pk,
            kind: 2,
            event_time: b.event_time,
            digest: resend::button_digest(&b),
        });
        let claimed = self.write_once(key, entry, id, write).await?;
        if claimed == Claimed::Written {
            self.report(&[Committed { agent_id: b.agent_id, change: Change::Other, count: 1 }]);
        }
        let (entry, id) = claimed.ids(entry, id);
        Ok(button_row(b, pk, entry, id))
    }

    async fn insert_attachments(&self, a: AttachmentsInsert) -> StoreResult<Vec<AttachmentRow>> {
        let (pk, message_id, sender) = match &a.target {
            AttachmentTarget::Message(mid) => {
                #[derive(Deserialize)]
                struct Found {
                    conversation_pk: i64,
                    sender: String,
                }
                let found: Vec<Found> = self
                    .inner
                    .ch
                    .rows(&format!(
                        "SELECT conversation_pk, sender FROM messages WHERE agent_id = {} AND id = {mid} LIMIT 1",
                        a.agent_id
                    ))
                    .await?;
                match found.into_iter().next() {
                    Some(f) => (f.conversation_pk, Some(*mid), a.sender.clone().or(Some(f.sender))),
                    None => {
                        return Err(StoreError::UnknownReference {
                            field: "message",
                            value: mid.to_string(),
                        });
                    }
                }
            }
            AttachmentTarget::Conversation(r) => {
                let (pk, created) = self.resolve(a.agent_id, r, Some((a.event_time, a.event_time))).await?;
                if let Some(reg) = created {
                    self.copy(&reg).await?;
                }
                (pk, None, a.sender.clone())
            }
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let mut out = Vec::with_capacity(a.files.len());
        for f in &a.files {
            out.push(
                registry::insert_attachment(
                    &*tx,
                    a.agent_id,
                    pk,
                    message_id,
                    &sender,
                    f,
                    &a.metadata,
                    a.event_time,
                )
                .await?,
            );
        }
        tx.commit().await.map_err(pgerr)?;
        self.report(&[Committed { agent_id: a.agent_id, change: Change::Other, count: 1 }]);
        Ok(out)
    }

    async fn insert_feedback(&self, f: NewFeedback) -> StoreResult<FeedbackRow> {
        let (pk, _) = self.resolve(f.agent_id, &f.conversation, None).await?;
        let conversation_id = match &f.conversation {
            ConversationRef::Id(cid) => cid.clone(),
            ConversationRef::Pk(_) => registry::by_pk(&**self.client().await?, f.agent_id, pk)
                .await?
                .map(|r| r.row.conversation_id)
                .ok_or_else(|| StoreError::UnknownReference {
                    field: "conversation",
                    value: pk.to_string(),
                })?,
        };
        let id = self.ids(1).await?[0];
        let row = json!({
            "agent_id": f.agent_id, "conversation_pk": pk, "id": id, "sentiment": f.sentiment,
            "source": f.source.as_str(), "comment": f.comment, "metadata": f.metadata, "created_at": f.created_at,
        });
        self.insert_feedback_rows(&[row]).await?;
        self.report(&[Committed { agent_id: f.agent_id, change: Change::Other, count: 1 }]);
        Ok(FeedbackRow {
            id,
            conversation_pk: pk,
            conversation_id,
            sentiment: f.sentiment,
            source: f.source.as_str().to_string(),
            comment: f.comment,
            metadata: f.metadata,
            created_at: f.created_at,
        })
    }

    async fn patch_conversation(
        &self,
        agent_id: i64,
        pk: i64,
        patch: ConversationPatch,
        now: Micros,
    ) -> StoreResult<Option<ConversationRow>> {
        let Some(reg) = registry::patch(&**self.client().await?, agent_id, pk, &patch, now).await? else {
            return Ok(None);
        };
        self.copy(&reg).await?;
        self.report(&[Committed { agent_id, change: Change::Other, count: 1 }]);
        self.complete_one(agent_id, Some(reg)).await
    }
}

impl TrackingReader for ClickHouseEventStore {
    async fn conversation(&self, agent_id: i64, r: ConversationRef) -> StoreResult<Option<ConversationRow>> {
        let reg = {
            let client = self.client().await?;
            match &r {
                ConversationRef::Pk(pk) => registry::by_pk(&**client, agent_id, *pk).await?,
                ConversationRef::Id(cid) => registry::by_id(&**client, agent_id, cid).await?,
            }
        };
        self.complete_one(agent_id, reg).await
    }

    async fn list_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ConversationRow>)> {
        let (where_sql, mut params) = self.list_filter(agent_id, &filter).await?;
        let order = match filter.ordering {
            ConversationOrder::StartedDesc => "started_at DESC, id DESC",
            ConversationOrder::StartedAsc => "started_at ASC, id ASC",
            ConversationOrder::UpdatedDesc => "updated_at DESC, id DESC",
            ConversationOrder::UpdatedAsc => "updated_at ASC, id ASC",
        };
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM event_conversations WHERE {where_sql}"), &refs(&params))
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;
        params.push(Box::new(page.page_size));
        params.push(Box::new((page.page - 1).saturating_mul(page.page_size).max(0)));
        let n = params.len();
        let rows = client
            .query(
                &format!(
                    "SELECT {REG_COLUMNS} FROM event_conversations WHERE {where_sql} ORDER BY {order}
                     LIMIT ${} OFFSET ${n}",
                    n - 1
                ),
                &refs(&params),
            )
            .await
            .map_err(pgerr)?;
        drop(client);
        let regs = rows.iter().map(registry::reg).collect::<StoreResult<Vec<_>>>()?;
        Ok((count, self.complete(agent_id, regs).await?))
    }

    async fn transcript(&self, agent_id: i64, pk: i64) -> StoreResult<Option<Transcript>> {
        let (reg, attachments) = {
            let client = self.client().await?;
            let Some(reg) = registry::by_pk(&**client, agent_id, pk).await? else {
                return Ok(None);
            };
            (reg, registry::attachments_of(&**client, pk).await?)
        };
        let scope = format!("agent_id = {agent_id} AND conversation_pk = {pk}");
        let ch = &self.inner.ch;
        let q_messages = format!(
            "SELECT id, conversation_pk, kind, sender, content, metadata, ts FROM messages WHERE {scope} ORDER BY ts, id"
        );
        let q_actions = format!("SELECT {ACTION_LOG_COLUMNS} FROM action_logs WHERE {scope} ORDER BY ts, id");
        let q_buttons = format!(
            "SELECT id, message_id, conversation_pk, button_event, label, value, metadata, ts
             FROM buttons WHERE {scope} ORDER BY ts, id"
        );
        let q_feedbacks = format!(
            "SELECT id, conversation_pk, sentiment, source, comment, metadata, created_at
             FROM {} WHERE {scope} ORDER BY created_at, id",
            self.feedbacks_now(&scope)
        );
        let (messages, actions, buttons, feedbacks) = tokio::try_join!(
            ch.rows::<ChMessage>(&q_messages),
            ch.rows::<ChAction>(&q_actions),
            ch.rows::<ChButton>(&q_buttons),
            ch.rows::<ChFeedback>(&q_feedbacks),
        )?;
        let mut conversation = reg.row;
        conversation.message_count = messages.iter().filter(|m| m.kind == 0).count() as i64;
        conversation.ended_at = conversation.ended_at.or(messages.iter().map(|m| m.ts).max());
        let conversation_id = conversation.conversation_id.clone();
        let mut messages: Vec<MessageRow> = messages
            .into_iter()
            .map(|m| MessageRow {
                id: m.id,
                conversation_pk: m.conversation_pk,
                kind: kind_from(m.kind),
                sender: m.sender,
                content: m.content,
                metadata: m.metadata,
                ts: m.ts,
            })
            .collect();
        // Metadata replaced since (dataplane.rs).
        self.overlay_metadata(&[pk], &mut messages).await?;
        Ok(Some(Transcript {
            conversation,
            messages,
            actions: actions.into_iter().map(ChAction::row).collect(),
            buttons: buttons
                .into_iter()
                .map(|b| ButtonRow {
                    id: b.id,
                    message_id: b.message_id,
                    conversation_pk: b.conversation_pk,
                    button_event: b.button_event,
                    label: b.label,
                    value: b.value,
                    metadata: b.metadata,
                    ts: b.ts,
                })
                .collect(),
            attachments,
            feedbacks: feedbacks
                .into_iter()
                .map(|f| FeedbackRow {
                    id: f.id,
                    conversation_pk: f.conversation_pk,
                    conversation_id: conversation_id.clone(),
                    sentiment: f.sentiment,
                    source: f.source,
                    comment: f.comment,
                    metadata: f.metadata,
                    created_at: f.created_at,
                })
                .collect(),
        }))
    }

    async fn attachment(&self, agent_id: i64, id: i64) -> StoreResult<Option<AttachmentRow>> {
        registry::attachment(&**self.client().await?, agent_id, id).await
    }
}
