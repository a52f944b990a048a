//! [`DataPlane`]: the 0.1.x data plane (B5) with the embedded store's semantics. What may be
//! changed after it is stored lives where a change reads back exactly, on every node, as soon
//! as it is acknowledged:
//!
//! * **Message votes and agent feedback** — PostgreSQL (`event_votes`). One vote per message,
//!   a repeat updating it while keeping omitted fields, needs a unique index and an atomic
//!   read-modify-write (`INSERT … ON CONFLICT DO UPDATE`); nothing in ClickHouse reads them
//!   (they never count as a conversation's explicit feedback), and there is at most one per
//!   message.
//! * **Conversation feedback** — versioned rows in ClickHouse (`feedbacks`, a
//!   `ReplacingMergeTree(version)`): the SDK's feedback is inserted there through the batcher
//!   (version 0) and read there by the listing filters, the export and the metrics, next to the
//!   events. A change or a delete (a row with `is_deleted` = 1) writes the next version while
//!   holding the record's row lock in PostgreSQL (`event_feedback_versions`, which hands out
//!   the version), so changes of one record from two nodes apply one after the other and the
//!   later one starts from the earlier's result. Readers take the current rows with `FINAL`,
//!   filtering on `is_deleted` (and any changeable column) outside it ([`feedbacks_now`]).
//!   The insert is synchronous on every shard, so the new version is read right after.
//! * **Action definitions** — PostgreSQL (`event_actions`): unique names per agent, checked
//!   atomically on create and rename; few rows. The log counts come from ClickHouse.
//! * **Message metadata** — PostgreSQL (`event_message_metadata`), an overlay of the replaced
//!   metadata by message id: a message row in ClickHouse is never rewritten (that would make
//!   `messages`, the largest table, a `ReplacingMergeTree` read with `FINAL` everywhere, or need
//!   an asynchronous mutation). Every reader of message metadata applies it (the transcript,
//!   [`DataPlane::message`], the export's entries, the message metadata keys).
//!
//! [`feedbacks_now`]: ClickHouseEventStore::feedbacks_now

use std::collections::{BTreeSet, HashMap};

use agentsight_core::dataplane::{ActionDef, FeedbackChange, NewVote, VoteTarget};
use agentsight_core::time::Micros;
use agentsight_store::{
    ActionFilter, ActionLogItem, ActionRow, AttachmentRow, ButtonRow, Change, Committed, DataPlane,
    FeedbackFilter, FeedbackItem, MessageDetail, MessageKind, MessageRow, PageRequest, StoreError,
    StoreResult,
};
use agentsight_store_postgres::pgerr;
use serde::Deserialize;
use serde_json::json;
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::http::{Http, int_list, quote};
use crate::registry::{self, ATTACHMENT_COLUMNS};
use crate::tracking::{ACTION_LOG_COLUMNS, ChAction, like_contains};
use crate::{ClickHouseEventStore, bad_row};

/// Metadata keys answered at most (as SQLite).
const MAX_KEYS: usize = 1000;
/// Replaced messages' ids left out of the message metadata keys' ClickHouse queries at most.
const MAX_EXCLUDED: usize = 10_000;
/// Distinct nested metadata texts the message metadata keys parse at most.
const MAX_NESTED_TEXTS: usize = 10_000;

/// What the data plane needs to know of the layout.
pub(crate) struct State {
    /// The ClickHouse database, for subqueries (18.16 resolves an unqualified table in a
    /// subquery to `default`).
    db: String,
    /// Tables are `<t>_local` plus a `Distributed` `<t>`.
    cluster: bool,
}

impl State {
    pub(crate) fn new(http: &Http, cluster: bool) -> State {
        State { db: http.database(), cluster }
    }
}

/// Text of a top-level key of a JSON object as written in flat metadata (the regular
/// expression's group is the key's escaped text).
const KEY_PATTERN: &str = r#""((?:[^"\\]|\\.)*)"\s*:"#;

#[derive(Deserialize)]
struct ChFeedback {
    id: i64,
    conversation_pk: i64,
    sentiment: String,
    source: String,
    comment: Option<String>,
    metadata: String,
    created_at: i64,
    updated_at: Option<i64>,
}

const FEEDBACK_FIELDS: &str =
    "agent_id, conversation_pk, id, sentiment, source, comment, metadata, created_at, updated_at";
const FEEDBACK_READ: &str =
    "id, conversation_pk, sentiment, source, comment, metadata, created_at, updated_at";

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

const MESSAGE_READ: &str = "id, conversation_pk, kind, sender, content, metadata, ts";

pub(crate) fn kind_of(code: u8) -> MessageKind {
    match code {
        1 => MessageKind::Action,
        2 => MessageKind::Button,
        _ => MessageKind::Message,
    }
}

impl ChMessage {
    fn row(self) -> MessageRow {
        MessageRow {
            id: self.id,
            conversation_pk: self.conversation_pk,
            kind: kind_of(self.kind),
            sender: self.sender,
            content: self.content,
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

const VOTE_SELECT: &str = "SELECT v.id, v.kind, v.agent_id, v.conversation_pk, c.conversation_id, v.message_id,
    v.sentiment, v.source, v.comment, v.topic, v.reason, coalesce(v.environment, c.environment) AS environment,
    v.created_at, v.updated_at
    FROM event_votes v LEFT JOIN event_conversations c ON c.id = v.conversation_pk";

fn vote_item(r: &Row) -> StoreResult<FeedbackItem> {
    let g = |e| pgerr(e);
    Ok(FeedbackItem {
        id: r.try_get("id").map_err(g)?,
        kind: r.try_get("kind").map_err(g)?,
        agent_id: r.try_get("agent_id").map_err(g)?,
        conversation_pk: r.try_get("conversation_pk").map_err(g)?,
        conversation_id: r.try_get("conversation_id").map_err(g)?,
        message_id: r.try_get("message_id").map_err(g)?,
        sentiment: r.try_get("sentiment").map_err(g)?,
        source: r.try_get("source").map_err(g)?,
        comment: r.try_get("comment").map_err(g)?,
        topic: r.try_get("topic").map_err(g)?,
        reason: r.try_get("reason").map_err(g)?,
        environment: r.try_get("environment").map_err(g)?,
        metadata: "{}".into(),
        created_at: r.try_get("created_at").map_err(g)?,
        updated_at: r.try_get("updated_at").map_err(g)?,
    })
}

const ACTION_COLUMNS: &str = "id, name, display_name, description, created_at, updated_at";

fn action_row(r: &Row) -> StoreResult<ActionRow> {
    let g = |e| pgerr(e);
    Ok(ActionRow {
        id: r.try_get("id").map_err(g)?,
        name: r.try_get("name").map_err(g)?,
        display_name: r.try_get("display_name").map_err(g)?,
        description: r.try_get("description").map_err(g)?,
        log_count: 0,
        created_at: r.try_get("created_at").map_err(g)?,
        updated_at: r.try_get("updated_at").map_err(g)?,
    })
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict { field: "name", message: format!("An action named '{name}' exists.") }
}

/// A unique violation of an action's name is a conflict on `name`.
fn action_err(e: tokio_postgres::Error, name: &str) -> StoreError {
    if e.as_db_error().and_then(|d| d.constraint()) == Some("event_actions_name_unique") {
        return name_taken(name);
    }
    pgerr(e)
}

type Param = Box<dyn ToSql + Sync + Send>;

fn refs(p: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}

fn bind(params: &mut Vec<Param>, p: Param) -> String {
    params.push(p);
    format!("${}", params.len())
}

/// The two queries of a message read by id: its conversation from `message_ids` (sorted by
/// agent and id), then the row within that conversation of `messages` (sorted by agent and
/// conversation), so neither reads more than a few granules however many messages the agent has.
fn message_by_id_sql(agent_id: i64, id: i64) -> (String, impl Fn(i64) -> String) {
    let q_pk =
        format!("SELECT conversation_pk FROM message_ids WHERE agent_id = {agent_id} AND id = {id} LIMIT 1");
    let q_row = move |pk: i64| {
        format!(
            "SELECT {MESSAGE_READ} FROM messages WHERE agent_id = {agent_id} AND conversation_pk = {pk} AND id = {id} LIMIT 1"
        )
    };
    (q_pk, q_row)
}

/// The two ClickHouse queries of the message metadata keys, each with a `LIMIT`: the keys of
/// flat objects (no `{` after the first character: every key the pattern finds is a top-level
/// key), and the distinct texts of nested ones (parsed by the node). `replaced` (the ids whose
/// metadata was replaced) is left out when it holds at most [`MAX_EXCLUDED`] ids.
fn message_keys_sql(agent_id: i64, replaced: &[i64]) -> (String, String) {
    let mut scope = format!("agent_id = {agent_id} AND kind = 0");
    if !replaced.is_empty() && replaced.len() <= MAX_EXCLUDED {
        scope.push_str(&format!(" AND id NOT IN ({})", int_list(replaced)));
    }
    let flat = format!(
        "SELECT DISTINCT arrayJoin(extractAll(metadata, {})) AS k FROM messages
         WHERE {scope} AND position(substring(metadata, 2), '{{') = 0 ORDER BY k LIMIT {MAX_KEYS}",
        quote(KEY_PATTERN)
    );
    let nested = format!(
        "SELECT DISTINCT metadata FROM messages WHERE {scope} AND position(substring(metadata, 2), '{{') > 0
         LIMIT {MAX_NESTED_TEXTS}"
    );
    (flat, nested)
}

/// The top-level keys of a JSON object text (none for anything else).
fn object_keys(text: &str, into: &mut BTreeSet<String>) {
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(text) {
        into.extend(m.into_iter().map(|(k, _)| k));
    }
}

/// A key as extracted by [`KEY_PATTERN`] (JSON-escaped) unescaped.
fn unescape_key(raw: &str) -> Option<String> {
    serde_json::from_str(&format!("\"{raw}\"")).ok()
}

impl ClickHouseEventStore {
    fn state(&self) -> &State {
        &self.inner.dp
    }

    /// `db.t`, or on a cluster `db.t_local`: the table to name in an `IN` subquery of a query
    /// over a `Distributed` table (tables are sharded alike, so each shard's subquery sees the
    /// conversations whose rows it holds).
    pub(crate) fn local_table(&self, t: &str) -> String {
        let s = self.state();
        if s.cluster { format!("{}.{t}_local", s.db) } else { format!("{}.{t}", s.db) }
    }

    /// The current conversation feedback rows (latest version, not deleted) among those of
    /// `key_cond`, as a subquery to select from: `key_cond` may use only the columns every
    /// version shares (`agent_id`, `conversation_pk`, `id`, `created_at`), since it is applied
    /// before the versions are merged; conditions on anything else go outside.
    pub(crate) fn feedbacks_now(&self, key_cond: &str) -> String {
        format!(
            "(SELECT {FEEDBACK_FIELDS} FROM (SELECT {FEEDBACK_FIELDS}, is_deleted FROM {}.feedbacks FINAL
              WHERE {key_cond}) WHERE is_deleted = 0)",
            self.state().db
        )
    }

    /// Each conversation's client id and environment, from the registry.
    async fn conversation_info(&self, pks: &[i64]) -> StoreResult<HashMap<i64, (String, Option<String>)>> {
        if pks.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, conversation_id, environment FROM event_conversations WHERE id = ANY($1)",
                &[&pks],
            )
            .await
            .map_err(pgerr)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).map_err(pgerr)?,
                    (r.try_get(1).map_err(pgerr)?, r.try_get(2).map_err(pgerr)?),
                ))
            })
            .collect()
    }

    /// Conversation feedback rows as items (client id and environment from the registry).
    async fn conversation_items(
        &self,
        agent_id: i64,
        rows: Vec<ChFeedback>,
    ) -> StoreResult<Vec<FeedbackItem>> {
        let pks: Vec<i64> = rows.iter().map(|r| r.conversation_pk).collect();
        let info = self.conversation_info(&pks).await?;
        Ok(rows
            .into_iter()
            .map(|f| {
                let (cid, env) = info.get(&f.conversation_pk).cloned().unzip();
                FeedbackItem {
                    id: f.id,
                    kind: "conversation".into(),
                    agent_id,
                    conversation_pk: Some(f.conversation_pk),
                    conversation_id: cid,
                    message_id: None,
                    sentiment: f.sentiment,
                    source: f.source,
                    comment: f.comment,
                    topic: None,
                    reason: None,
                    environment: env.flatten(),
                    metadata: f.metadata,
                    created_at: f.created_at,
                    updated_at: f.updated_at.unwrap_or(f.created_at),
                }
            })
            .collect())
    }

    /// The current version of a conversation feedback record of the agent.
    async fn current_feedback(&self, agent_id: i64, id: i64) -> StoreResult<Option<ChFeedback>> {
        let rows: Vec<ChFeedback> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT {FEEDBACK_READ} FROM {} LIMIT 1",
                self.feedbacks_now(&format!("agent_id = {agent_id} AND id = {id}"))
            ))
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn vote(
        &self,
        c: &impl GenericClient,
        agent_id: i64,
        id: i64,
    ) -> StoreResult<Option<FeedbackItem>> {
        let r = c
            .query_opt(&format!("{VOTE_SELECT} WHERE v.id = $1 AND v.agent_id = $2"), &[&id, &agent_id])
            .await
            .map_err(pgerr)?;
        r.as_ref().map(vote_item).transpose()
    }

    /// Writes the next version of a conversation feedback record: `change` applied, or deleted
    /// when `None`; answers the new version (`None` when the agent has no such record). Holds
    /// the record's row lock in PostgreSQL from reading the current version until ClickHouse
    /// took the next.
    async fn next_feedback_version(
        &self,
        agent_id: i64,
        id: i64,
        change: Option<&FeedbackChange>,
    ) -> StoreResult<Option<ChFeedback>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let version: i64 = tx
            .query_one(
                "INSERT INTO event_feedback_versions (id, version) VALUES ($1, 1)
                 ON CONFLICT (id) DO UPDATE SET version = event_feedback_versions.version + 1 RETURNING version",
                &[&id],
            )
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;
        let Some(mut f) = self.current_feedback(agent_id, id).await? else {
            return Ok(None);
        };
        if let Some(c) = change {
            if let Some(s) = &c.sentiment {
                f.sentiment = s.clone();
            }
            if let Some(s) = &c.comment {
                f.comment = Some(s.clone());
            }
            f.updated_at = Some(c.now);
        }
        let row = json!({
            "agent_id": agent_id, "conversation_pk": f.conversation_pk, "id": f.id, "sentiment": f.sentiment,
            "source": f.source, "comment": f.comment, "metadata": f.metadata, "created_at": f.created_at,
            "updated_at": f.updated_at, "is_deleted": u8::from(change.is_none()), "version": version,
        });
        self.inner.batcher.insert("feedbacks", &[row]).await?;
        tx.commit().await.map_err(pgerr)?;
        Ok(Some(f))
    }

    /// Creates the action definition `(agent, name)` the first time a name is tracked (B5.5),
    /// as SQLite does. Not cached: a rename on another node must make the old name new again.
    pub(crate) async fn ensure_action(&self, agent_id: i64, name: &str, now: Micros) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "INSERT INTO event_actions (agent_id, name, display_name, created_at, updated_at)
                 VALUES ($1, $2, $2, $3, $3) ON CONFLICT (agent_id, name) DO NOTHING",
                &[&agent_id, &name, &now],
            )
            .await
            .map_err(pgerr)?;
        Ok(())
    }

    /// Fills in the log counts of action definitions.
    async fn with_counts(&self, agent_id: i64, mut rows: Vec<ActionRow>) -> StoreResult<Vec<ActionRow>> {
        if rows.is_empty() {
            return Ok(rows);
        }
        #[derive(Deserialize)]
        struct N {
            action_name: String,
            n: i64,
        }
        let names = rows.iter().map(|r| quote(&r.name)).collect::<Vec<_>>().join(", ");
        let counts: Vec<N> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT action_name, toInt64(count()) AS n FROM action_logs
                 WHERE agent_id = {agent_id} AND action_name IN ({names}) GROUP BY action_name"
            ))
            .await?;
        let counts: HashMap<String, i64> = counts.into_iter().map(|c| (c.action_name, c.n)).collect();
        for r in &mut rows {
            r.log_count = counts.get(&r.name).copied().unwrap_or(0);
        }
        Ok(rows)
    }

    async fn action_def(&self, agent_id: i64, id: i64) -> StoreResult<Option<ActionRow>> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {ACTION_COLUMNS} FROM event_actions WHERE id = $1 AND agent_id = $2"),
                &[&id, &agent_id],
            )
            .await
            .map_err(pgerr)?;
        r.as_ref().map(action_row).transpose()
    }

    /// The message `id` of the agent as stored in ClickHouse (metadata not yet replaced): its
    /// conversation from `message_ids`, then that conversation's rows (both through the
    /// primary key; see [`message_by_id_sql`]).
    async fn message_row(&self, agent_id: i64, id: i64) -> StoreResult<Option<MessageRow>> {
        #[derive(Deserialize)]
        struct Pk {
            conversation_pk: i64,
        }
        let (q_pk, q_row) = message_by_id_sql(agent_id, id);
        let pk: Vec<Pk> = self.inner.ch.rows(&q_pk).await?;
        let Some(pk) = pk.first() else { return Ok(None) };
        let rows: Vec<ChMessage> = self.inner.ch.rows(&q_row(pk.conversation_pk)).await?;
        Ok(rows.into_iter().next().map(ChMessage::row))
    }

    /// Replaces the metadata of messages whose metadata was set since (the overlay in
    /// PostgreSQL), for messages of these conversations.
    pub(crate) async fn overlay_metadata(&self, pks: &[i64], rows: &mut [MessageRow]) -> StoreResult<()> {
        if pks.is_empty() || rows.is_empty() {
            return Ok(());
        }
        let found = self
            .client()
            .await?
            .query(
                "SELECT message_id, metadata FROM event_message_metadata WHERE conversation_pk = ANY($1)",
                &[&pks],
            )
            .await
            .map_err(pgerr)?;
        if found.is_empty() {
            return Ok(());
        }
        let mut set: HashMap<i64, String> = HashMap::with_capacity(found.len());
        for r in &found {
            set.insert(r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?);
        }
        for m in rows.iter_mut() {
            if let Some(meta) = set.remove(&m.id) {
                m.metadata = meta;
            }
        }
        Ok(())
    }

    /// `message` of the agent with everything about it.
    async fn message_detail(
        &self,
        agent_id: i64,
        mut message: MessageRow,
    ) -> StoreResult<Option<MessageDetail>> {
        let (id, pk) = (message.id, message.conversation_pk);
        self.overlay_metadata(&[pk], std::slice::from_mut(&mut message)).await?;
        let scope = format!("agent_id = {agent_id} AND conversation_pk = {pk} AND message_id = {id}");
        let ch = &self.inner.ch;
        let q_log = format!("SELECT {ACTION_LOG_COLUMNS} FROM action_logs WHERE {scope} LIMIT 1");
        let q_button = format!(
            "SELECT id, message_id, conversation_pk, button_event, label, value, metadata, ts FROM buttons
             WHERE {scope} LIMIT 1"
        );
        let (logs, buttons) = tokio::try_join!(ch.rows::<ChAction>(&q_log), ch.rows::<ChButton>(&q_button))?;
        let client = self.client().await?;
        let Some(conversation) = registry::by_pk(&**client, agent_id, pk).await? else {
            return Ok(None);
        };
        let vote = client
            .query_opt(&format!("{VOTE_SELECT} WHERE v.kind = 'message' AND v.message_id = $1"), &[&id])
            .await
            .map_err(pgerr)?;
        let vote = vote.as_ref().map(vote_item).transpose()?;
        let attachments = client
            .query(
                &format!(
                    "SELECT {ATTACHMENT_COLUMNS} FROM event_attachments WHERE conversation_pk = $1 AND message_id = $2
                     ORDER BY ts, id"
                ),
                &[&pk, &id],
            )
            .await
            .map_err(pgerr)?
            .iter()
            .map(registry::attachment_row)
            .collect::<StoreResult<Vec<AttachmentRow>>>()?;
        Ok(Some(MessageDetail {
            message,
            conversation_id: conversation.row.conversation_id,
            attachments,
            action: logs.into_iter().next().map(ChAction::row),
            button: buttons.into_iter().next().map(|b| ButtonRow {
                id: b.id,
                message_id: b.message_id,
                conversation_pk: b.conversation_pk,
                button_event: b.button_event,
                label: b.label,
                value: b.value,
                metadata: b.metadata,
                ts: b.ts,
            }),
            vote,
        }))
    }

    /// Top-level keys of the agent's messages' metadata (kind 0), replaced metadata included.
    /// Every read is bounded ([`message_keys_sql`]): the replaced metadata's keys come from
    /// PostgreSQL's `jsonb` (at most [`MAX_KEYS`]), the ids of replaced messages (excluded from
    /// ClickHouse's side) are read up to [`MAX_EXCLUDED`] (beyond, the original keys of the
    /// replaced messages may be listed too), flat objects' keys are extracted in ClickHouse (at
    /// most [`MAX_KEYS`]), and nested objects' texts are parsed here, at most
    /// [`MAX_NESTED_TEXTS`] distinct ones (beyond, keys found only in the others are missed).
    async fn message_metadata_keys(&self, agent_id: i64) -> StoreResult<Vec<String>> {
        let client = self.client().await?;
        let overlay_keys = client
            .query(
                &format!(
                    "SELECT k FROM (SELECT DISTINCT k FROM event_message_metadata,
                        jsonb_object_keys(CASE WHEN jsonb_typeof(metadata::jsonb) = 'object' THEN metadata::jsonb
                                          ELSE '{{}}'::jsonb END) AS k
                        WHERE agent_id = $1 AND kind = 0) d
                     ORDER BY k COLLATE \"C\" LIMIT {MAX_KEYS}"
                ),
                &[&agent_id],
            )
            .await
            .map_err(pgerr)?;
        let replaced = client
            .query(
                &format!(
                    "SELECT message_id FROM event_message_metadata WHERE agent_id = $1 AND kind = 0 LIMIT {}",
                    MAX_EXCLUDED + 1
                ),
                &[&agent_id],
            )
            .await
            .map_err(pgerr)?
            .iter()
            .map(|r| r.try_get::<_, i64>(0).map_err(pgerr))
            .collect::<StoreResult<Vec<i64>>>()?;
        drop(client);
        let mut keys = BTreeSet::new();
        for r in &overlay_keys {
            keys.insert(r.try_get::<_, String>(0).map_err(pgerr)?);
        }
        #[derive(Deserialize)]
        struct K {
            k: String,
        }
        #[derive(Deserialize)]
        struct M {
            metadata: String,
        }
        let (flat, nested) = message_keys_sql(agent_id, &replaced);
        let ch = &self.inner.ch;
        let (flat, nested) = tokio::try_join!(ch.rows::<K>(&flat), ch.rows::<M>(&nested))?;
        keys.extend(flat.into_iter().filter_map(|k| unescape_key(&k.k)));
        for m in &nested {
            object_keys(&m.metadata, &mut keys);
        }
        Ok(keys.into_iter().take(MAX_KEYS).collect())
    }

    fn changed(&self, agent_id: i64) {
        self.report(&[Committed { agent_id, change: Change::Other, count: 1 }]);
    }
}

impl DataPlane for ClickHouseEventStore {
    async fn insert_vote(&self, v: NewVote) -> StoreResult<(FeedbackItem, bool)> {
        let (kind, conversation_pk, message_id) = match v.target {
            VoteTarget::Message(mid) => match self.message_row(v.agent_id, mid).await? {
                Some(m) => ("message", Some(m.conversation_pk), Some(mid)),
                None => {
                    return Err(StoreError::UnknownReference { field: "message", value: mid.to_string() });
                }
            },
            VoteTarget::Agent => ("agent", None, None),
        };
        let id = self.ids(1).await?[0];
        let client = self.client().await?;
        let conflict = if kind == "message" {
            "ON CONFLICT (message_id) WHERE kind = 'message' DO UPDATE SET sentiment = EXCLUDED.sentiment,
                comment = COALESCE(EXCLUDED.comment, v.comment), topic = COALESCE(EXCLUDED.topic, v.topic),
                reason = COALESCE(EXCLUDED.reason, v.reason), updated_at = EXCLUDED.updated_at"
        } else {
            ""
        };
        let r = client
            .query_one(
                &format!(
                    "INSERT INTO event_votes AS v (id, agent_id, kind, conversation_pk, message_id, sentiment, source,
                        comment, topic, reason, environment, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) {conflict}
                     RETURNING v.id, (xmax = 0) AS created"
                ),
                &[
                    &id,
                    &v.agent_id,
                    &kind,
                    &conversation_pk,
                    &message_id,
                    &v.sentiment,
                    &v.source.as_str(),
                    &v.comment,
                    &v.topic,
                    &v.reason,
                    &v.environment,
                    &v.now,
                ],
            )
            .await
            .map_err(pgerr)?;
        let (id, created): (i64, bool) = (r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?);
        let item = self.vote(&**client, v.agent_id, id).await?.ok_or_else(|| bad_row("vote vanished"))?;
        drop(client);
        self.changed(v.agent_id);
        Ok((item, created))
    }

    async fn list_feedback(
        &self,
        agent_id: i64,
        f: FeedbackFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<FeedbackItem>)> {
        let offset = (page.page - 1).saturating_mul(page.page_size).max(0);
        let window = offset.saturating_add(page.page_size.max(0));
        let kind = f.kind.as_deref();
        let from_conversations = kind.is_none_or(|k| k == "conversation")
            && f.message.is_none()
            && f.topic.is_none()
            && f.reason.is_none();
        let from_votes = kind.is_none_or(|k| k == "message" || k == "agent");
        let mut pk = f.conversation;
        if let Some(cid) = &f.conversation_id {
            match registry::find_pk(&**self.client().await?, agent_id, cid).await? {
                Some(found) if pk.is_none_or(|p| p == found) => pk = Some(found),
                _ => return Ok((0, Vec::new())),
            }
        }
        let desc = !f.ascending;
        let order = if desc { "DESC" } else { "ASC" };

        let mut total = 0i64;
        let mut items: Vec<FeedbackItem> = Vec::new();
        if from_conversations {
            let mut key = vec![format!("agent_id = {agent_id}")];
            if let Some(p) = pk {
                key.push(format!("conversation_pk = {p}"));
            }
            if let Some(t) = f.created_at_after {
                key.push(format!("created_at >= {t}"));
            }
            if let Some(t) = f.created_at_before {
                key.push(format!("created_at <= {t}"));
            }
            if let Some(e) = &f.environment {
                key.push(format!(
                    "conversation_pk IN (SELECT conversation_pk FROM (SELECT conversation_pk, environment
                     FROM {} FINAL WHERE agent_id = {agent_id}) WHERE environment = {})",
                    self.local_table("conversations"),
                    quote(e)
                ));
            }
            let mut outer = vec!["1".to_string()];
            if let Some(s) = &f.sentiment {
                outer.push(format!("sentiment = {}", quote(s)));
            }
            match f.has_comment {
                Some(true) => outer.push("ifNull(comment, '') != ''".into()),
                Some(false) => outer.push("ifNull(comment, '') = ''".into()),
                None => {}
            }
            if let Some(c) = &f.comment_contains {
                outer.push(format!("positionCaseInsensitive(ifNull(comment, ''), {}) > 0", quote(c)));
            }
            let from = self.feedbacks_now(&key.join(" AND "));
            let outer = outer.join(" AND ");
            #[derive(Deserialize)]
            struct N {
                n: i64,
            }
            let q_count = format!("SELECT toInt64(count()) AS n FROM {from} WHERE {outer}");
            let q_rows = format!(
                "SELECT {FEEDBACK_READ} FROM {from} WHERE {outer} ORDER BY created_at {order}, id {order} LIMIT {window}"
            );
            let ch = &self.inner.ch;
            let (n, rows) = tokio::try_join!(ch.rows::<N>(&q_count), ch.rows::<ChFeedback>(&q_rows))?;
            total += n.first().map_or(0, |n| n.n);
            items.extend(self.conversation_items(agent_id, rows).await?);
        }
        if from_votes {
            let mut params: Vec<Param> = Vec::new();
            let a = bind(&mut params, Box::new(agent_id));
            let mut clauses = vec![format!("v.agent_id = {a}")];
            for (col, v) in [
                ("v.kind", &f.kind),
                ("v.sentiment", &f.sentiment),
                ("v.topic", &f.topic),
                ("v.reason", &f.reason),
                ("coalesce(v.environment, c.environment)", &f.environment),
            ] {
                if let Some(v) = v {
                    let p = bind(&mut params, Box::new(v.clone()));
                    clauses.push(format!("{col} = {p}"));
                }
            }
            for (col, v) in [("v.conversation_pk", pk), ("v.message_id", f.message)] {
                if let Some(v) = v {
                    let p = bind(&mut params, Box::new(v));
                    clauses.push(format!("{col} = {p}"));
                }
            }
            if let Some(t) = f.created_at_after {
                let p = bind(&mut params, Box::new(t));
                clauses.push(format!("v.created_at >= {p}"));
            }
            if let Some(t) = f.created_at_before {
                let p = bind(&mut params, Box::new(t));
                clauses.push(format!("v.created_at <= {p}"));
            }
            match f.has_comment {
                Some(true) => clauses.push("coalesce(v.comment, '') <> ''".into()),
                Some(false) => clauses.push("coalesce(v.comment, '') = ''".into()),
                None => {}
            }
            if let Some(c) = &f.comment_contains {
                let p = bind(&mut params, Box::new(like_contains(c)));
                clauses.push(format!("v.comment ILIKE {p}"));
            }
            let w = clauses.join(" AND ");
            let client = self.client().await?;
            let n: i64 = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM event_votes v LEFT JOIN event_conversations c ON c.id = v.conversation_pk
                         WHERE {w}"
                    ),
                    &refs(&params),
                )
                .await
                .map_err(pgerr)?
                .try_get(0)
                .map_err(pgerr)?;
            total += n;
            let l = bind(&mut params, Box::new(window));
            let rows = client
                .query(
                    &format!("{VOTE_SELECT} WHERE {w} ORDER BY v.created_at {order}, v.id {order} LIMIT {l}"),
                    &refs(&params),
                )
                .await
                .map_err(pgerr)?;
            for r in &rows {
                items.push(vote_item(r)?);
            }
        }
        items.sort_by_key(|i| (i.created_at, i.id));
        if desc {
            items.reverse();
        }
        let page_items = items
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(page.page_size.max(0) as usize);
        Ok((total, page_items.collect()))
    }

    async fn feedback(&self, agent_id: i64, id: i64) -> StoreResult<Option<FeedbackItem>> {
        if let Some(v) = self.vote(&**self.client().await?, agent_id, id).await? {
            return Ok(Some(v));
        }
        match self.current_feedback(agent_id, id).await? {
            Some(f) => Ok(self.conversation_items(agent_id, vec![f]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn update_feedback(
        &self,
        agent_id: i64,
        id: i64,
        c: FeedbackChange,
    ) -> StoreResult<Option<FeedbackItem>> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE event_votes SET sentiment = COALESCE($3, sentiment), comment = COALESCE($4, comment),
                    topic = COALESCE($5, topic), reason = COALESCE($6, reason), updated_at = $7
                 WHERE id = $1 AND agent_id = $2",
                &[&id, &agent_id, &c.sentiment, &c.comment, &c.topic, &c.reason, &c.now],
            )
            .await
            .map_err(pgerr)?;
        if n > 0 {
            let item = self.vote(&**client, agent_id, id).await?;
            drop(client);
            self.changed(agent_id);
            return Ok(item);
        }
        drop(client);
        if c.topic.is_some() || c.reason.is_some() {
            return Err(StoreError::Conflict {
                field: "topic",
                message: "Only message feedback has a topic or reason.".into(),
            });
        }
        match self.next_feedback_version(agent_id, id, Some(&c)).await? {
            Some(f) => {
                self.changed(agent_id);
                Ok(self.conversation_items(agent_id, vec![f]).await?.pop())
            }
            None => Ok(None),
        }
    }

    async fn delete_feedback(&self, agent_id: i64, id: i64) -> StoreResult<bool> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM event_votes WHERE id = $1 AND agent_id = $2", &[&id, &agent_id])
            .await
            .map_err(pgerr)?;
        let deleted = n == 1 || self.next_feedback_version(agent_id, id, None).await?.is_some();
        if deleted {
            self.changed(agent_id);
        }
        Ok(deleted)
    }

    async fn create_action(&self, agent_id: i64, d: ActionDef, now: Micros) -> StoreResult<ActionRow> {
        let name = d.name.clone().unwrap_or_default();
        let display = d.display_name.clone().unwrap_or_else(|| name.clone());
        let r = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "INSERT INTO event_actions (agent_id, name, display_name, description, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (agent_id, name) DO NOTHING RETURNING {ACTION_COLUMNS}"
                ),
                &[&agent_id, &name, &display, &d.description, &now],
            )
            .await
            .map_err(pgerr)?;
        let Some(r) = r else { return Err(name_taken(&name)) };
        let row = self
            .with_counts(agent_id, vec![action_row(&r)?])
            .await?
            .pop()
            .ok_or_else(|| bad_row("action"))?;
        self.changed(agent_id);
        Ok(row)
    }

    async fn list_actions(
        &self,
        agent_id: i64,
        f: ActionFilter,
        page: PageRequest,
    ) -> StoreResult<(i64, Vec<ActionRow>)> {
        let mut params: Vec<Param> = Vec::new();
        let a = bind(&mut params, Box::new(agent_id));
        let mut clauses = vec![format!("agent_id = {a}")];
        if let Some(n) = &f.name {
            let p = bind(&mut params, Box::new(n.clone()));
            clauses.push(format!("name = {p}"));
        }
        if let Some(n) = &f.display_name {
            let p = bind(&mut params, Box::new(n.clone()));
            clauses.push(format!("display_name = {p}"));
        }
        if let Some(n) = &f.name_contains {
            let p = bind(&mut params, Box::new(like_contains(n)));
            clauses.push(format!("name ILIKE {p}"));
        }
        if let Some(n) = &f.search {
            let p = bind(&mut params, Box::new(like_contains(n)));
            clauses.push(format!("(name ILIKE {p} OR display_name ILIKE {p})"));
        }
        let w = clauses.join(" AND ");
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&format!("SELECT count(*) FROM event_actions WHERE {w}"), &refs(&params))
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;
        let l = bind(&mut params, Box::new(page.page_size));
        let o = bind(&mut params, Box::new((page.page - 1).saturating_mul(page.page_size).max(0)));
        let rows = client
            .query(
                &format!(
                    "SELECT {ACTION_COLUMNS} FROM event_actions WHERE {w} ORDER BY name COLLATE \"C\", id
                     LIMIT {l} OFFSET {o}"
                ),
                &refs(&params),
            )
            .await
            .map_err(pgerr)?;
        drop(client);
        let rows = rows.iter().map(action_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((count, self.with_counts(agent_id, rows).await?))
    }

    async fn action(&self, agent_id: i64, id: i64) -> StoreResult<Option<ActionRow>> {
        match self.action_def(agent_id, id).await? {
            Some(a) => Ok(self.with_counts(agent_id, vec![a]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn update_action(
        &self,
        agent_id: i64,
        id: i64,
        d: ActionDef,
        now: Micros,
    ) -> StoreResult<Option<ActionRow>> {
        let r = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE event_actions SET name = COALESCE($3, name), display_name = COALESCE($4, display_name),
                        description = COALESCE($5, description), updated_at = $6
                     WHERE id = $1 AND agent_id = $2 RETURNING {ACTION_COLUMNS}"
                ),
                &[&id, &agent_id, &d.name, &d.display_name, &d.description, &now],
            )
            .await
            .map_err(|e| action_err(e, d.name.as_deref().unwrap_or_default()))?;
        let Some(r) = r else { return Ok(None) };
        self.changed(agent_id);
        Ok(self.with_counts(agent_id, vec![action_row(&r)?]).await?.pop())
    }

    async fn action_logs(
        &self,
        agent_id: i64,
        id: i64,
        limit: i64,
    ) -> StoreResult<Option<Vec<ActionLogItem>>> {
        let Some(a) = self.action_def(agent_id, id).await? else { return Ok(None) };
        let logs: Vec<ChAction> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT {ACTION_LOG_COLUMNS} FROM action_logs WHERE agent_id = {agent_id} AND action_name = {}
                 ORDER BY ts DESC, id DESC LIMIT {}",
                quote(&a.name),
                limit.max(0)
            ))
            .await?;
        let pks: Vec<i64> = logs.iter().map(|l| l.conversation_pk).collect();
        let info = self.conversation_info(&pks).await?;
        Ok(Some(
            logs.into_iter()
                .map(|l| ActionLogItem {
                    conversation_id: info.get(&l.conversation_pk).map(|i| i.0.clone()).unwrap_or_default(),
                    log: l.row(),
                })
                .collect(),
        ))
    }

    async fn message(&self, agent_id: i64, id: i64) -> StoreResult<Option<MessageDetail>> {
        match self.message_row(agent_id, id).await? {
            Some(m) => self.message_detail(agent_id, m).await,
            None => Ok(None),
        }
    }

    async fn set_message_metadata(
        &self,
        agent_id: i64,
        id: i64,
        metadata: String,
    ) -> StoreResult<Option<MessageDetail>> {
        let Some(mut m) = self.message_row(agent_id, id).await? else { return Ok(None) };
        let kind: i16 = match m.kind {
            MessageKind::Message => 0,
            MessageKind::Action => 1,
            MessageKind::Button => 2,
        };
        let now = agentsight_core::time::now_micros();
        self.client()
            .await?
            .execute(
                "INSERT INTO event_message_metadata (message_id, agent_id, conversation_pk, kind, metadata, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (message_id) DO UPDATE SET metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at",
                &[&id, &agent_id, &m.conversation_pk, &kind, &metadata, &now],
            )
            .await
            .map_err(pgerr)?;
        self.changed(agent_id);
        m.metadata = metadata;
        self.message_detail(agent_id, m).await
    }

    async fn metadata_keys(&self, agent_id: i64, messages: bool) -> StoreResult<Vec<String>> {
        if messages {
            return self.message_metadata_keys(agent_id).await;
        }
        let rows = self
            .client()
            .await?
            .query(
                "SELECT k FROM (SELECT DISTINCT k FROM event_conversations,
                    jsonb_object_keys(CASE WHEN jsonb_typeof(metadata::jsonb) = 'object' THEN metadata::jsonb
                                      ELSE '{}'::jsonb END) AS k
                    WHERE agent_id = $1 AND NOT is_deleted AND metadata IS NOT NULL) d
                 ORDER BY k COLLATE \"C\" LIMIT 1000",
                &[&agent_id],
            )
            .await
            .map_err(pgerr)?;
        rows.iter().map(|r| r.try_get(0).map_err(pgerr)).collect()
    }

    async fn metadata_values(&self, agent_id: i64, key: String, limit: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT v FROM (SELECT DISTINCT (metadata::jsonb -> $2)::text AS v FROM event_conversations
                     WHERE agent_id = $1 AND NOT is_deleted AND metadata IS NOT NULL
                       AND jsonb_typeof(metadata::jsonb) = 'object' AND metadata::jsonb ? $2) d
                 ORDER BY v COLLATE \"C\" LIMIT $3",
                &[&agent_id, &key, &limit.max(0)],
            )
            .await
            .map_err(pgerr)?;
        // PostgreSQL prints objects and arrays with spaces; SQLite's JSON texts have none.
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(0).map_err(pgerr)?;
                Ok(match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => v.to_string(),
                    _ => text,
                })
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Both queries of a read by id name a prefix of their table's sort key: `(agent_id, id)`
    /// of `message_ids`, `(agent_id, conversation_pk)` of `messages`.
    #[test]
    fn a_message_by_id_is_read_through_the_sort_keys() {
        let (q_pk, q_row) = message_by_id_sql(7, 9);
        assert!(q_pk.contains("FROM message_ids WHERE agent_id = 7 AND id = 9 LIMIT 1"), "{q_pk}");
        let q_row = q_row(3);
        assert!(
            q_row.contains("FROM messages WHERE agent_id = 7 AND conversation_pk = 3 AND id = 9"),
            "{q_row}"
        );
    }

    /// The metadata keys' queries are bounded: both have a `LIMIT`, and an overlay larger than
    /// `MAX_EXCLUDED` is not sent as an id list.
    #[test]
    fn message_metadata_key_queries_are_bounded() {
        let (flat, nested) = message_keys_sql(7, &[1, 2]);
        assert!(flat.contains(&format!("LIMIT {MAX_KEYS}")) && flat.contains("id NOT IN (1,2)"), "{flat}");
        assert!(nested.contains(&format!("LIMIT {MAX_NESTED_TEXTS}")), "{nested}");
        let many: Vec<i64> = (0..=MAX_EXCLUDED as i64).collect();
        let (flat, nested) = message_keys_sql(7, &many);
        assert!(!flat.contains("NOT IN") && !nested.contains("NOT IN"));
        assert!(flat.len() < 1000 && nested.len() < 1000);
    }

    #[test]
    fn keys_unescape_and_objects_list_top_level_keys() {
        assert_eq!(unescape_key(r#"a\"b"#).as_deref(), Some("a\"b"));
        assert_eq!(unescape_key(r"\u00e9").as_deref(), Some("é"));
        let mut keys = BTreeSet::new();
        object_keys(r#"{"a": {"inner": 1}, "b": [ {"x": 2} ]}"#, &mut keys);
        object_keys("[1, 2]", &mut keys);
        object_keys("not json", &mut keys);
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}
