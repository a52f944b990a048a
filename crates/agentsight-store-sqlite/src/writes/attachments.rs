//! Attachment rows (the files are written by the server before the rows are committed).

use agentsight_core::tracking::AttachmentTarget;
use agentsight_store::{AttachmentRow, AttachmentsInsert, StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

use super::conversations::resolve;
use super::{exec, one};
use crate::sqlerr;
use crate::writer::MainContext;

pub(crate) fn insert_attachments(
    cx: &mut MainContext,
    a: &AttachmentsInsert,
) -> StoreResult<Vec<AttachmentRow>> {
    let (pk, message_id, sender) = match &a.target {
        AttachmentTarget::Message(mid) => {
            let m: Option<(i64, i64, String)> = one(
                &cx.conn,
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
            (resolve(cx, a.agent_id, r, Some((a.event_time, a.event_time)))?, None, a.sender.clone())
        }
    };
    let mut out = Vec::with_capacity(a.files.len());
    for f in &a.files {
        exec(
            &cx.conn,
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
            id: cx.conn.last_insert_rowid(),
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
