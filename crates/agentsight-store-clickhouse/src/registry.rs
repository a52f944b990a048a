//! The PostgreSQL half: the conversation registry (unique `(agent, conversation id)` → pk and
//! the row's mutable fields, each change bumping `version`), the event id allocator and the
//! attachment rows.

use agentsight_core::time::Micros;
use agentsight_core::tracking::{ConversationPatch, ConversationUpsert};
use agentsight_store::{AttachmentRow, ConversationRow, StoreResult};
use agentsight_store_postgres::pgerr;
use serde_json::{Value, json};
use tokio_postgres::GenericClient;
use tokio_postgres::Row;

/// A registry row: the conversation without what the events say (its last entry, its count of
/// messages).
#[derive(Debug, Clone)]
pub(crate) struct Reg {
    pub row: ConversationRow,
    pub version: i64,
}

pub(crate) const REG_COLUMNS: &str = "id, agent_id, conversation_id, name, customer_id, customer_ip_address,
    country, region, city, latitude, longitude, device, source, language, environment, metadata,
    is_used, is_marked, is_deleted, deleted_at, started_at, ended_at, created_at, updated_at, version";

pub(crate) fn reg(r: &Row) -> StoreResult<Reg> {
    let g = |e| pgerr(e);
    Ok(Reg {
        row: ConversationRow {
            id: r.try_get("id").map_err(g)?,
            agent_id: r.try_get("agent_id").map_err(g)?,
            conversation_id: r.try_get("conversation_id").map_err(g)?,
            name: r.try_get("name").map_err(g)?,
            customer_id: r.try_get("customer_id").map_err(g)?,
            customer_ip_address: r.try_get("customer_ip_address").map_err(g)?,
            country: r.try_get("country").map_err(g)?,
            region: r.try_get("region").map_err(g)?,
            city: r.try_get("city").map_err(g)?,
            latitude: r.try_get("latitude").map_err(g)?,
            longitude: r.try_get("longitude").map_err(g)?,
            device: r.try_get("device").map_err(g)?,
            source: r.try_get("source").map_err(g)?,
            language: r.try_get("language").map_err(g)?,
            environment: r.try_get("environment").map_err(g)?,
            metadata: r.try_get("metadata").map_err(g)?,
            is_used: r.try_get("is_used").map_err(g)?,
            is_marked: r.try_get("is_marked").map_err(g)?,
            is_deleted: r.try_get("is_deleted").map_err(g)?,
            deleted_at: r.try_get("deleted_at").map_err(g)?,
            started_at: r.try_get("started_at").map_err(g)?,
            ended_at: r.try_get("ended_at").map_err(g)?,
            message_count: 0,
            created_at: r.try_get("created_at").map_err(g)?,
            updated_at: r.try_get("updated_at").map_err(g)?,
        },
        version: r.try_get("version").map_err(g)?,
    })
}

impl Reg {
    /// This version of the row as a row of ClickHouse's `conversations`.
    pub(crate) fn clickhouse_row(&self) -> Value {
        let c = &self.row;
        let mut row = json!({
            "conversation_pk": c.id, "agent_id": c.agent_id, "conversation_id": c.conversation_id,
            "name": c.name, "customer_id": c.customer_id, "customer_ip_address": c.customer_ip_address,
            "country": c.country, "region": c.region, "city": c.city, "latitude": c.latitude,
            "longitude": c.longitude, "device": c.device, "source": c.source, "language": c.language,
            "environment": c.environment, "metadata": c.metadata, "is_used": u8::from(c.is_used),
            "is_marked": u8::from(c.is_marked), "is_deleted": u8::from(c.is_deleted),
            "deleted_at": c.deleted_at, "started_at": c.started_at, "ended_at": c.ended_at,
            "created_at": c.created_at, "updated_at": c.updated_at, "version": self.version,
        });
        crate::metrics::add_metric_columns(&mut row, c.metadata.as_deref());
        row
    }
}

/// The upsert with the merge rules of `TrackingWriter::upsert_conversation`, in one statement
/// (two nodes racing agree on one row); answers the row and whether this call created it.
pub(crate) async fn upsert(c: &impl GenericClient, u: &ConversationUpsert) -> StoreResult<(Reg, bool)> {
    upsert_lowering(c, u, None).await
}

/// [`upsert`], moving an existing row's `started_at` back to `lower_to` when that is earlier
/// (a span block: its earliest event).
pub(crate) async fn upsert_lowering(
    c: &impl GenericClient,
    u: &ConversationUpsert,
    lower_to: Option<Micros>,
) -> StoreResult<(Reg, bool)> {
    let f = &u.fields;
    let loc = f.location.as_ref();
    let row = c
        .query_one(
            &format!(
                "INSERT INTO event_conversations AS t (agent_id, conversation_id, name, customer_id,
                    customer_ip_address, device, source, language, environment, metadata, is_used,
                    started_at, created_at, updated_at, country, region, city, latitude, longitude)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (agent_id, conversation_id) DO UPDATE SET
                    name = COALESCE(EXCLUDED.name, t.name),
                    customer_id = COALESCE(EXCLUDED.customer_id, t.customer_id),
                    customer_ip_address = COALESCE(EXCLUDED.customer_ip_address, t.customer_ip_address),
                    device = COALESCE(EXCLUDED.device, t.device),
                    source = COALESCE(EXCLUDED.source, t.source),
                    language = COALESCE(EXCLUDED.language, t.language),
                    environment = COALESCE(EXCLUDED.environment, t.environment),
                    metadata = COALESCE(EXCLUDED.metadata, t.metadata),
                    is_used = t.is_used OR EXCLUDED.is_used,
                    updated_at = EXCLUDED.updated_at,
                    country = COALESCE(EXCLUDED.country, t.country),
                    region = CASE WHEN EXCLUDED.country IS NULL THEN t.region ELSE EXCLUDED.region END,
                    city = CASE WHEN EXCLUDED.country IS NULL THEN t.city ELSE EXCLUDED.city END,
                    latitude = CASE WHEN EXCLUDED.country IS NULL THEN t.latitude ELSE EXCLUDED.latitude END,
                    longitude = CASE WHEN EXCLUDED.country IS NULL THEN t.longitude ELSE EXCLUDED.longitude END,
                    started_at = CASE WHEN $19::BIGINT < t.started_at THEN $19 ELSE t.started_at END,
                    version = t.version + 1
                 RETURNING {REG_COLUMNS}, (xmax = 0) AS created"
            ),
            &[
                &u.agent_id,
                &u.conversation_id,
                &f.name,
                &f.customer_id,
                &f.customer_ip_address,
                &f.device,
                &f.source,
                &f.language,
                &f.environment,
                &f.metadata,
                &u.is_used,
                &u.event_time,
                &u.received_at,
                &loc.map(|l| &l.country),
                &loc.and_then(|l| l.region.as_ref()),
                &loc.and_then(|l| l.city.as_ref()),
                &loc.and_then(|l| l.latitude),
                &loc.and_then(|l| l.longitude),
                &lower_to,
            ],
        )
        .await
        .map_err(pgerr)?;
    let created: bool = row.try_get("created").map_err(pgerr)?;
    Ok((reg(&row)?, created))
}

/// The pk of `(agent, conversation_id)`, creating it used and started at `started_at` when
/// missing; answers the row when this call created it.
pub(crate) async fn get_or_create(
    c: &impl GenericClient,
    agent_id: i64,
    conversation_id: &str,
    started_at: Micros,
    now: Micros,
) -> StoreResult<(i64, Option<Reg>)> {
    let created = c
        .query_opt(
            &format!(
                "INSERT INTO event_conversations (agent_id, conversation_id, is_used, started_at,
                    created_at, updated_at) VALUES ($1, $2, true, $3, $4, $4)
                 ON CONFLICT (agent_id, conversation_id) DO NOTHING RETURNING {REG_COLUMNS}"
            ),
            &[&agent_id, &conversation_id, &started_at, &now],
        )
        .await
        .map_err(pgerr)?;
    if let Some(r) = created {
        let r = reg(&r)?;
        return Ok((r.row.id, Some(r)));
    }
    let pk = find_pk(c, agent_id, conversation_id)
        .await?
        .ok_or_else(|| agentsight_store::StoreError::internal("a conversation vanished after a conflict"))?;
    Ok((pk, None))
}

/// The pk of `(agent, conversation_id)`.
pub(crate) async fn find_pk(
    c: &impl GenericClient,
    agent_id: i64,
    conversation_id: &str,
) -> StoreResult<Option<i64>> {
    let r = c
        .query_opt(
            "SELECT id FROM event_conversations WHERE agent_id = $1 AND conversation_id = $2",
            &[&agent_id, &conversation_id],
        )
        .await
        .map_err(pgerr)?;
    r.map(|r| r.try_get(0).map_err(pgerr)).transpose()
}

/// The agent owning conversation `pk`.
pub(crate) async fn owner(c: &impl GenericClient, pk: i64) -> StoreResult<Option<i64>> {
    let r =
        c.query_opt("SELECT agent_id FROM event_conversations WHERE id = $1", &[&pk]).await.map_err(pgerr)?;
    r.map(|r| r.try_get(0).map_err(pgerr)).transpose()
}

/// Marks the conversation used; answers the new version when it was not.
pub(crate) async fn mark_used(c: &impl GenericClient, pk: i64, now: Micros) -> StoreResult<Option<Reg>> {
    let r = c
        .query_opt(
            &format!(
                "UPDATE event_conversations SET is_used = true, updated_at = $2, version = version + 1
                 WHERE id = $1 AND NOT is_used RETURNING {REG_COLUMNS}"
            ),
            &[&pk, &now],
        )
        .await
        .map_err(pgerr)?;
    r.as_ref().map(reg).transpose()
}

/// Applies an operator change; `None` when the conversation is not the agent's.
pub(crate) async fn patch(
    c: &impl GenericClient,
    agent_id: i64,
    pk: i64,
    p: &ConversationPatch,
    now: Micros,
) -> StoreResult<Option<Reg>> {
    let r = c
        .query_opt(
            &format!(
                "UPDATE event_conversations SET
                    name = COALESCE($3, name), is_marked = COALESCE($4, is_marked),
                    customer_id = COALESCE($5, customer_id), device = COALESCE($6, device),
                    language = COALESCE($7, language), source = COALESCE($8, source),
                    metadata = COALESCE($9, metadata),
                    is_deleted = is_deleted OR $10,
                    deleted_at = CASE WHEN $10 AND deleted_at IS NULL THEN $11 ELSE deleted_at END,
                    updated_at = $11, version = version + 1
                 WHERE id = $1 AND agent_id = $2 RETURNING {REG_COLUMNS}"
            ),
            &[
                &pk,
                &agent_id,
                &p.name,
                &p.is_marked,
                &p.customer_id,
                &p.device,
                &p.language,
                &p.source,
                &p.metadata,
                &p.delete,
                &now,
            ],
        )
        .await
        .map_err(pgerr)?;
    r.as_ref().map(reg).transpose()
}

/// One registry row by pk, scoped to the agent.
pub(crate) async fn by_pk(c: &impl GenericClient, agent_id: i64, pk: i64) -> StoreResult<Option<Reg>> {
    let r = c
        .query_opt(
            &format!("SELECT {REG_COLUMNS} FROM event_conversations WHERE id = $1 AND agent_id = $2"),
            &[&pk, &agent_id],
        )
        .await
        .map_err(pgerr)?;
    r.as_ref().map(reg).transpose()
}

/// One registry row by the client's id.
pub(crate) async fn by_id(
    c: &impl GenericClient,
    agent_id: i64,
    conversation_id: &str,
) -> StoreResult<Option<Reg>> {
    let r = c
        .query_opt(
            &format!(
                "SELECT {REG_COLUMNS} FROM event_conversations WHERE agent_id = $1 AND conversation_id = $2"
            ),
            &[&agent_id, &conversation_id],
        )
        .await
        .map_err(pgerr)?;
    r.as_ref().map(reg).transpose()
}

/// Takes the next block of event ids.
pub(crate) async fn next_id_block(c: &impl GenericClient) -> StoreResult<i64> {
    let r = c.query_one("SELECT nextval('event_id_blocks')", &[]).await.map_err(pgerr)?;
    r.try_get(0).map_err(pgerr)
}

pub(crate) const ATTACHMENT_COLUMNS: &str =
    "id, conversation_pk, message_id, sender, filename, mime_type, size_bytes, storage_key, metadata, ts";

pub(crate) fn attachment_row(r: &Row) -> StoreResult<AttachmentRow> {
    let g = |e| pgerr(e);
    Ok(AttachmentRow {
        id: r.try_get("id").map_err(g)?,
        conversation_pk: r.try_get("conversation_pk").map_err(g)?,
        message_id: r.try_get("message_id").map_err(g)?,
        sender: r.try_get("sender").map_err(g)?,
        filename: r.try_get("filename").map_err(g)?,
        mime_type: r.try_get("mime_type").map_err(g)?,
        size_bytes: r.try_get("size_bytes").map_err(g)?,
        storage_key: r.try_get("storage_key").map_err(g)?,
        metadata: r.try_get("metadata").map_err(g)?,
        ts: r.try_get("ts").map_err(g)?,
    })
}

/// Inserts one attachment row.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_attachment(
    c: &impl GenericClient,
    agent_id: i64,
    pk: i64,
    message_id: Option<i64>,
    sender: &Option<String>,
    f: &agentsight_store::StoredFile,
    metadata: &str,
    ts: Micros,
) -> StoreResult<AttachmentRow> {
    let r = c
        .query_one(
            &format!(
                "INSERT INTO event_attachments (agent_id, conversation_pk, message_id, sender, filename,
                    mime_type, size_bytes, storage_key, metadata, ts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {ATTACHMENT_COLUMNS}"
            ),
            &[
                &agent_id,
                &pk,
                &message_id,
                sender,
                &f.filename,
                &f.mime_type,
                &f.size_bytes,
                &f.storage_key,
                &metadata,
                &ts,
            ],
        )
        .await
        .map_err(pgerr)?;
    attachment_row(&r)
}

/// The conversation's attachments, by time then id.
pub(crate) async fn attachments_of(c: &impl GenericClient, pk: i64) -> StoreResult<Vec<AttachmentRow>> {
    let rows = c
        .query(
            &format!("SELECT {ATTACHMENT_COLUMNS} FROM event_attachments WHERE conversation_pk = $1 ORDER BY ts, id"),
            &[&pk],
        )
        .await
        .map_err(pgerr)?;
    rows.iter().map(attachment_row).collect()
}

/// One attachment of the agent.
pub(crate) async fn attachment(
    c: &impl GenericClient,
    agent_id: i64,
    id: i64,
) -> StoreResult<Option<AttachmentRow>> {
    let r = c
        .query_opt(
            &format!("SELECT {ATTACHMENT_COLUMNS} FROM event_attachments WHERE id = $1 AND agent_id = $2"),
            &[&id, &agent_id],
        )
        .await
        .map_err(pgerr)?;
    r.as_ref().map(attachment_row).transpose()
}
