//! What a group of writes changed in the metrics' facts, collected while the writer runs the
//! group's jobs (in the writer's [`WriteContext`](crate::writer::WriteContext)) and handed to
//! the metrics index after the commit.
//!
//! Every function in `writes/` that changes a conversation, a message, an action, a button
//! or a feedback record reports it here: entries (messages, actions, buttons, response-time
//! fixes) as [`Delta`]s, and conversations whose row or feedback changed as "touched", whose
//! whole state is read back once at the end of the group, inside its transaction. **A new
//! write to those tables must report here too**, or the index and the database disagree (the
//! property test in `tests/metrics.rs` compares both plans with the reference).

use agentsight_core::metrics::index::{ConvState, Delta};
use rusqlite::{Connection, OptionalExtension, Row};

/// The changes of one group, by agent.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Conversations (agent, pk) to read back.
    pub touched: Vec<(i64, i64)>,
    /// Entries, in write order.
    pub entries: Vec<(i64, Delta)>,
    /// Conversations (agent, pk) removed for good (retention, erase).
    pub removed: Vec<(i64, i64)>,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.touched.is_empty() && self.entries.is_empty() && self.removed.is_empty()
    }

    /// A conversation was removed with everything of it.
    pub(crate) fn remove(&mut self, agent_id: i64, pk: i64) {
        self.removed.push((agent_id, pk));
    }

    /// A conversation's row or feedback changed.
    pub(crate) fn touch(&mut self, agent_id: i64, pk: i64) {
        self.touched.push((agent_id, pk));
    }

    /// An entry was written.
    pub(crate) fn entry(&mut self, agent_id: i64, d: Delta) {
        self.entries.push((agent_id, d));
    }
}

/// The latest explicit feedback of conversation `c` (by the time recorded, then arrival): the
/// one definition every plan uses.
pub(crate) const LATEST_FEEDBACK_SQL: &str =
    "(SELECT f.sentiment FROM feedbacks f WHERE f.conversation_pk = c.id
    ORDER BY f.created_at DESC, f.id DESC LIMIT 1)";

/// Columns of a [`ConvState`] over `conversations c`, as [`conv_state`] reads them (agent first).
pub(crate) fn conv_state_columns() -> String {
    format!(
        "c.agent_id, c.id, c.started_at, c.ended_at, c.customer_id, c.environment, c.source, c.device,
         c.language, c.country, c.city, c.latitude, c.longitude, c.is_used, c.is_deleted, c.metadata,
         {LATEST_FEEDBACK_SQL}"
    )
}

/// Reads a row selected with [`conv_state_columns`].
pub(crate) fn conv_state(r: &Row<'_>) -> rusqlite::Result<(i64, ConvState)> {
    Ok((
        r.get(0)?,
        ConvState {
            pk: r.get(1)?,
            started_at: r.get(2)?,
            ended_at: r.get(3)?,
            customer_id: r.get(4)?,
            environment: r.get(5)?,
            source: r.get(6)?,
            device: r.get(7)?,
            language: r.get(8)?,
            country: r.get(9)?,
            city: r.get(10)?,
            lat: r.get(11)?,
            lon: r.get(12)?,
            is_used: r.get(13)?,
            is_deleted: r.get(14)?,
            metadata: r.get(15)?,
            latest_feedback: r.get(16)?,
        },
    ))
}

/// The states of the touched conversations (each once), read inside the group's transaction.
pub(crate) fn read_states(
    conn: &Connection,
    touched: &[(i64, i64)],
) -> rusqlite::Result<Vec<(i64, ConvState)>> {
    let mut pks: Vec<i64> = touched.iter().map(|(_, pk)| *pk).collect();
    pks.sort_unstable();
    pks.dedup();
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {} FROM conversations c WHERE c.id = ?1", conv_state_columns()))?;
    let mut out = Vec::with_capacity(pks.len());
    for pk in pks {
        if let Some(s) = stmt.query_row([pk], conv_state).optional()? {
            out.push(s);
        }
    }
    Ok(out)
}
