//! The 0.1.x data plane's writes (B5): votes, feedback changes, action definitions, message
//! metadata.

use agentsight_core::time::Micros;
use agentsight_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::{exec, one};
use crate::sqlerr;
use crate::writer::MainContext;

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
        .ok_or_else(|| StoreError::internal("written vote vanished"))?;
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
    cx: &mut MainContext,
    agent_id: i64,
    id: i64,
    c: &FeedbackChange,
) -> StoreResult<Option<FeedbackItem>> {
    let n = if id > VOTE_ID_BASE {
        exec(
            &cx.conn,
            "UPDATE feedback_votes SET sentiment = COALESCE(?3, sentiment), comment = COALESCE(?4, comment),
                topic = COALESCE(?5, topic), reason = COALESCE(?6, reason), updated_at = ?7
             WHERE id = ?1 AND agent_id = ?2",
            params![id, agent_id, c.sentiment, c.comment, c.topic, c.reason, c.now],
        )
    } else {
        if c.topic.is_some() || c.reason.is_some() {
            return Err(StoreError::Conflict { field: "topic", message: "Only message feedback has a topic or reason.".into() });
        }
        if let Some(pk) = feedback_conversation(&cx.conn, agent_id, id)? {
            cx.deltas.touch(agent_id, pk);
        }
        exec(
            &cx.conn,
            "UPDATE feedbacks SET sentiment = COALESCE(?3, sentiment), comment = COALESCE(?4, comment), updated_at = ?5
             WHERE id = ?1 AND agent_id = ?2",
            params![id, agent_id, c.sentiment, c.comment, c.now],
        )
    }
    .map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    dataplane::feedback(&cx.conn, agent_id, id)
}

/// FEEDBACK ROW WRITE (metrics delta: a conversation feedback record disappears). Hard delete.
pub(crate) fn delete_feedback(cx: &mut MainContext, agent_id: i64, id: i64) -> StoreResult<bool> {
    let sql = if id > VOTE_ID_BASE {
        "DELETE FROM feedback_votes WHERE id = ?1 AND agent_id = ?2"
    } else {
        if let Some(pk) = feedback_conversation(&cx.conn, agent_id, id)? {
            cx.deltas.touch(agent_id, pk);
        }
        "DELETE FROM feedbacks WHERE id = ?1 AND agent_id = ?2"
    };
    Ok(exec(&cx.conn, sql, params![id, agent_id]).map_err(sqlerr)? == 1)
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
    dataplane::action(conn, agent_id, id)?.ok_or_else(|| StoreError::internal("created action vanished"))
}

pub(crate) fn update_action(
    cx: &mut MainContext,
    agent_id: i64,
    id: i64,
    d: &ActionDef,
    now: Micros,
) -> StoreResult<Option<ActionRow>> {
    if let Some(name) = &d.name {
        let taken: bool = one(
            &cx.conn,
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
        &cx.conn,
        "UPDATE actions SET name = COALESCE(?3, name), display_name = COALESCE(?4, display_name),
            description = COALESCE(?5, description), updated_at = ?6 WHERE id = ?1 AND agent_id = ?2",
        params![id, agent_id, d.name, d.display_name, d.description, now],
    )
    .map_err(sqlerr)?;
    cx.cache.forget_actions();
    if n == 0 {
        return Ok(None);
    }
    dataplane::action(&cx.conn, agent_id, id)
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
