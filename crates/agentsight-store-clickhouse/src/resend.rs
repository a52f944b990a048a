//! 0.0.x re-sends on the scale-out backend: a message, action or button whose client gave its
//! event time is claimed in PostgreSQL (`event_resends`, event migration 6) by (conversation, kind,
//! event time, SHA-256 of its content) in a transaction that spans its ClickHouse insert. The
//! same item sent again (the SDK's retry after a network error) finds the claim and is answered
//! with the stored ids; a concurrent twin waits on the key until the first commits (or rolls
//! back, when its ClickHouse insert failed, and then stores it itself).

use std::future::Future;

use agentsight_core::tracking::{NewAction, NewButton, NewMessage};
use agentsight_store::StoreResult;
use agentsight_store_postgres::pgerr;
use sha2::{Digest, Sha256};

use crate::ClickHouseEventStore;

/// What a re-send claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claimed {
    /// Nothing before: the item was written (and its claim committed).
    Written,
    /// Stored before: its `(entry_id, event_id)`.
    Stored(i64, i64),
}

impl Claimed {
    /// The `(entry_id, event_id)` the item has: the ones given when this call wrote it, else
    /// the stored ones.
    pub(crate) fn ids(&self, entry_id: i64, event_id: i64) -> (i64, i64) {
        match *self {
            Claimed::Written => (entry_id, event_id),
            Claimed::Stored(entry, event) => (entry, event),
        }
    }
}

/// The claim key's content part: every field but the conversation and the event time, each
/// length-prefixed (absent optional fields tagged apart from empty ones).
#[derive(Default)]
pub(crate) struct Content(Sha256);

impl Content {
    fn text(mut self, s: &str) -> Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    fn opt_text(mut self, s: Option<&str>) -> Self {
        match s {
            None => {
                self.0.update([0]);
                self
            }
            Some(s) => {
                self.0.update([1]);
                self.text(s)
            }
        }
    }

    fn opt_int(mut self, v: Option<i64>) -> Self {
        match v {
            None => self.0.update([0]),
            Some(v) => {
                self.0.update([1]);
                self.0.update(v.to_le_bytes());
            }
        }
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

/// The content digest of a message.
pub(crate) fn message_digest(m: &NewMessage) -> Vec<u8> {
    Content::default().text(&m.sender).text(&m.content).text(&m.metadata).finish()
}

/// The content digest of an action.
pub(crate) fn action_digest(a: &NewAction) -> Vec<u8> {
    Content::default()
        .text(&a.action_name)
        .text(&a.metadata)
        .opt_int(a.started_at)
        .opt_int(a.ended_at)
        .opt_int(a.duration_ms)
        .opt_text(a.tools_used.as_deref())
        .opt_text(a.response.as_deref())
        .opt_text(a.error_msg.as_deref())
        .finish()
}

/// The content digest of a button press.
pub(crate) fn button_digest(b: &NewButton) -> Vec<u8> {
    Content::default().text(&b.button_event).text(&b.label).text(&b.value).text(&b.metadata).finish()
}

/// The claim of one timed item.
pub(crate) struct Key {
    pub conversation_pk: i64,
    pub kind: i16,
    pub event_time: i64,
    pub digest: Vec<u8>,
}

impl ClickHouseEventStore {
    /// Writes an item once: claims `key` for `(entry_id, event_id)`, runs `write` (the
    /// ClickHouse insert) and commits the claim after it; or, when the key was claimed before,
    /// answers the stored ids without writing. A failed write rolls the claim back. Without a
    /// key (an item that cannot be told from a resend) it only writes.
    pub(crate) async fn write_once<F>(
        &self,
        key: Option<Key>,
        entry_id: i64,
        event_id: i64,
        write: F,
    ) -> StoreResult<Claimed>
    where
        F: Future<Output = StoreResult<()>>,
    {
        let Some(key) = key else {
            write.await?;
            return Ok(Claimed::Written);
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&key.conversation_pk, &key.kind, &key.event_time, &key.digest];
        let claimed = tx
            .query_opt(
                "INSERT INTO event_resends (conversation_pk, kind, event_time, digest, entry_id, event_id)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING event_id",
                &[params[0], params[1], params[2], params[3], &entry_id, &event_id],
            )
            .await
            .map_err(pgerr)?;
        if claimed.is_none() {
            let row = tx
                .query_one(
                    "SELECT entry_id, event_id FROM event_resends
                     WHERE conversation_pk = $1 AND kind = $2 AND event_time = $3 AND digest = $4",
                    &params,
                )
                .await
                .map_err(pgerr)?;
            return Ok(Claimed::Stored(row.try_get(0).map_err(pgerr)?, row.try_get(1).map_err(pgerr)?));
        }
        write.await?;
        tx.commit().await.map_err(pgerr)?;
        Ok(Claimed::Written)
    }
}

#[cfg(test)]
mod tests {
    use agentsight_core::tracking::ConversationRef;

    use super::*;

    fn action() -> NewAction {
        NewAction {
            agent_id: 1,
            conversation: ConversationRef::Pk(1),
            action_name: "a".into(),
            event_time: 5,
            started_at: None,
            ended_at: None,
            duration_ms: None,
            tools_used: None,
            response: None,
            error_msg: None,
            metadata: "{}".into(),
            received_at: 9,
        }
    }

    /// The digest tells fields apart: an absent field from an empty one, and text that moved
    /// from one field to the next.
    #[test]
    fn digests_tell_fields_apart() {
        let base = action_digest(&action());
        assert_eq!(
            base,
            action_digest(&NewAction { received_at: 99, ..action() }),
            "receipt time is no content"
        );
        assert_ne!(base, action_digest(&NewAction { response: Some(String::new()), ..action() }));
        assert_ne!(
            action_digest(&NewAction { response: Some(String::new()), ..action() }),
            action_digest(&NewAction { error_msg: Some(String::new()), ..action() })
        );
        assert_ne!(base, action_digest(&NewAction { duration_ms: Some(0), ..action() }));
        let button = |label: &str, value: &str| NewButton {
            agent_id: 1,
            conversation: ConversationRef::Pk(1),
            button_event: "click".into(),
            label: label.into(),
            value: value.into(),
            metadata: "{}".into(),
            event_time: 5,
            received_at: 9,
        };
        assert_ne!(button_digest(&button("ab", "c")), button_digest(&button("a", "bc")));
    }
}
