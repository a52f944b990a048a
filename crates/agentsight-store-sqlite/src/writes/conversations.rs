//! Conversation rows: the upsert (with the span path's lowering of `started_at`), resolving a
//! reference to a pk, and the dashboard's patch.

use agentsight_core::time::Micros;
use agentsight_core::tracking::{ConversationPatch, ConversationRef, ConversationUpsert};
use agentsight_store::{ConversationRow, StoreError, StoreResult, Upserted};
use rusqlite::{OptionalExtension, params};

use super::{exec, one};
use crate::writer::MainContext;
use crate::{reads, sqlerr};

/// Upsert with the merge rules of `TrackingWriter::upsert_conversation`.
pub(crate) fn upsert_conversation(cx: &mut MainContext, c: &ConversationUpsert) -> StoreResult<Upserted> {
    let (id, created) = upsert_conversation_pk(cx, c)?;
    let row = reads::conversation_by_pk(&cx.conn, c.agent_id, id)?
        .ok_or_else(|| StoreError::internal("upserted row vanished"))?;
    Ok(Upserted { row, created })
}

/// The writes of [`upsert_conversation`], answering only the pk and whether it was created (span
/// ingest upserts every block and needs no row back).
pub(crate) fn upsert_conversation_pk(
    cx: &mut MainContext,
    c: &ConversationUpsert,
) -> StoreResult<(i64, bool)> {
    upsert_conversation_lowering(cx, c, None)
}

/// [`upsert_conversation_pk`] that also moves an existing conversation's `started_at` back to
/// `lower_to` when that is earlier, in the same UPDATE (its metrics delta is the upsert's touch).
/// A span batch can bring spans older than the conversation's first payload (children released
/// before their turn, a late exporter): `started_at` is the earliest event seen.
pub(super) fn upsert_conversation_lowering(
    cx: &mut MainContext,
    c: &ConversationUpsert,
    lower_to: Option<Micros>,
) -> StoreResult<(i64, bool)> {
    let f = &c.fields;
    let loc = f.location.as_ref();
    let existing: Option<i64> = match cx.cache.cached_pk(c.agent_id, &c.conversation_id) {
        Some(pk) => Some(pk),
        None => one(
            &cx.conn,
            "SELECT id FROM conversations WHERE agent_id = ?1 AND conversation_id = ?2",
            params![c.agent_id, c.conversation_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlerr)?,
    };
    let fields = lower_to.map(|_| fields_hash(c));
    if let (Some(id), Some(h), Some(low)) = (existing, fields, lower_to)
        && cx.cache.unchanged_since_written(id, h, c.is_used, low)
    {
        // A span block that brings nothing new to the row: only `updated_at` moves (no metric
        // fact changed, so nothing to report either).
        exec(&cx.conn, "UPDATE conversations SET updated_at = ?2 WHERE id = ?1", params![id, c.received_at])
            .map_err(sqlerr)?;
        return Ok((id, false));
    }
    let (id, created) = match existing {
        Some(id) => {
            exec(
                &cx.conn,
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
                &cx.conn,
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
            (cx.conn.last_insert_rowid(), true)
        }
    };
    cx.cache.remember_pk(c.agent_id, &c.conversation_id, id);
    if c.is_used {
        cx.cache.remember_used(id);
    }
    match (fields, lower_to) {
        (Some(h), Some(low)) => cx.cache.remember_written(id, h, c.is_used, low),
        _ => cx.cache.forget_written(id),
    }
    cx.deltas.touch(c.agent_id, id);
    Ok((id, created))
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

/// Resolves a conversation reference; by id, creates a used conversation started at `create_at`.
pub(super) fn resolve(
    cx: &mut MainContext,
    agent_id: i64,
    r: &ConversationRef,
    create_at: Option<(Micros, Micros)>,
) -> StoreResult<i64> {
    match r {
        ConversationRef::Pk(pk) => {
            let owner: Option<i64> = match cx.cache.known_row(*pk) {
                Some(k) => Some(k.agent_id),
                None => {
                    let found: Option<i64> =
                        one(&cx.conn, "SELECT agent_id FROM conversations WHERE id = ?1", [pk], |r| r.get(0))
                            .optional()
                            .map_err(sqlerr)?;
                    if let Some(a) = found {
                        cx.cache.remember_owner(a, *pk);
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
            if let Some(pk) = cx.cache.cached_pk(agent_id, cid) {
                return Ok(pk);
            }
            let found: Option<i64> = one(
                &cx.conn,
                "SELECT id FROM conversations WHERE agent_id = ?1 AND conversation_id = ?2",
                params![agent_id, cid],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlerr)?;
            match (found, create_at) {
                (Some(id), _) => {
                    cx.cache.remember_pk(agent_id, cid, id);
                    Ok(id)
                }
                (None, Some((started_at, now))) => {
                    exec(
                        &cx.conn,
                        "INSERT INTO conversations (agent_id, conversation_id, is_used, started_at,
                            created_at, updated_at) VALUES (?1, ?2, 1, ?3, ?4, ?4)",
                        params![agent_id, cid, started_at, now],
                    )
                    .map_err(sqlerr)?;
                    let pk = cx.conn.last_insert_rowid();
                    cx.cache.remember_pk(agent_id, cid, pk);
                    cx.deltas.touch(agent_id, pk);
                    Ok(pk)
                }
                (None, None) => {
                    Err(StoreError::UnknownReference { field: "conversation_id", value: cid.clone() })
                }
            }
        }
    }
}

pub(crate) fn patch_conversation(
    cx: &mut MainContext,
    agent_id: i64,
    pk: i64,
    p: &ConversationPatch,
    now: Micros,
) -> StoreResult<Option<ConversationRow>> {
    cx.cache.forget_written(pk);
    let n = cx
        .conn
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
    cx.deltas.touch(agent_id, pk);
    reads::conversation_by_pk(&cx.conn, agent_id, pk)
}
