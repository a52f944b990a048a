//! Retention and erase on ClickHouse + PostgreSQL ([`Erasure`]).
//!
//! A step removes at most [`MAX_ERASE_STEP`] conversations. First ClickHouse: on every node,
//! one mutation per table (`ALTER TABLE <t> DELETE WHERE agent_id = … AND conversation_pk IN
//! (…)`, on a cluster on each node's `<t>_local`: a mutation of a `Distributed` table does not
//! reach the shards), and the step waits until `system.mutations` of every node reports them
//! done, so the metrics no longer count them when it returns. Then PostgreSQL, in one
//! transaction: the registry rows, token usage, span keys, votes, replaced message metadata and
//! attachment rows. In that order, a step cut short is finished by the next run (the finder
//! reads the registry, which goes last).
//!
//! Not yet: the node that removes empties its cache of conversation pks, other nodes are not
//! told; a node that cached an erased conversation's pk and receives a new entry for the same
//! conversation id within its cache's life writes it under the old pk, which no registry row
//! names any more (the entry is then invisible). A mutation rewrites every part holding a
//! removed row, so retention over a large table costs I/O in proportion to its parts.

use std::time::{Duration, Instant};

use agentsight_store::{
    Change, Committed, EraseSelector, Erased, Erasure, MAX_ERASE_STEP, StoreError, StoreResult,
};
use agentsight_store_postgres::pgerr;
use serde::Deserialize;

use crate::ClickHouseEventStore;
use crate::http::{int_list, quote};

/// The ClickHouse tables that hold a conversation's rows (all have `agent_id` and
/// `conversation_pk`).
const TABLES: &[&str] =
    &["messages", "message_ids", "action_logs", "buttons", "feedbacks", "conversations", "spans"];

/// How long a step waits for its mutations before it answers `Unavailable` (the mutations go on;
/// the next run of the same removal finds the conversations still registered and removes them).
const MUTATION_WAIT: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
struct Pk {
    conversation_pk: i64,
}

#[derive(Deserialize)]
struct Count {
    n: u64,
}

impl ClickHouseEventStore {
    /// The registry's pks of the agent among `pks`, with their conversation ids.
    async fn owned(&self, agent_id: i64, pks: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, conversation_id FROM event_conversations WHERE agent_id = $1 AND id = ANY($2)
                 ORDER BY id",
                &[&agent_id, &pks],
            )
            .await
            .map_err(pgerr)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Deletes the rows of `pks` from every table on every node and waits for the mutations.
    async fn mutate_out(&self, agent_id: i64, pks: &[i64]) -> StoreResult<()> {
        let list = int_list(pks);
        for host in &self.inner.servers {
            for t in TABLES {
                host.execute(&format!(
                    "ALTER TABLE {} DELETE WHERE agent_id = {agent_id} AND conversation_pk IN ({list})",
                    self.local_table(t)
                ))
                .await?;
            }
        }
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        for host in &self.inner.servers {
            loop {
                let left: Vec<Count> = host
                    .rows(&format!(
                        "SELECT count() AS n FROM system.mutations WHERE database = {} AND is_done = 0",
                        quote(&host.database())
                    ))
                    .await?;
                if left.first().is_none_or(|c| c.n == 0) {
                    break;
                }
                if started.elapsed() > MUTATION_WAIT {
                    return Err(StoreError::unavailable(format!(
                        "ClickHouse has not finished removing conversations after {} s",
                        MUTATION_WAIT.as_secs()
                    )));
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
        Ok(())
    }
}

impl Erasure for ClickHouseEventStore {
    async fn conversations_to_erase(
        &self,
        agent_id: i64,
        which: EraseSelector,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        let limit = limit.min(MAX_ERASE_STEP) as i64;
        let client = self.client().await?;
        match which {
            EraseSelector::Customer(customer) => {
                let rows = client
                    .query(
                        "SELECT id FROM event_conversations WHERE agent_id = $1 AND customer_id = $2 AND id > $3
                         ORDER BY id LIMIT $4",
                        &[&agent_id, &customer, &after, &limit],
                    )
                    .await
                    .map_err(pgerr)?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            }
            // Candidates by the registry's start and explicit end, then without those with an
            // entry at or after the cut-off in ClickHouse. A page whose candidates all stay is
            // passed over, so an empty answer means there is nothing more.
            EraseSelector::LastEventBefore(before) => {
                let mut after = after;
                loop {
                    let rows = client
                        .query(
                            "SELECT id FROM event_conversations
                             WHERE agent_id = $1 AND id > $2 AND started_at < $3 AND coalesce(ended_at, 0) < $3
                             ORDER BY id LIMIT $4",
                            &[&agent_id, &after, &before, &limit],
                        )
                        .await
                        .map_err(pgerr)?;
                    let candidates: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                    let Some(last) = candidates.last().copied() else { return Ok(Vec::new()) };
                    let recent: Vec<Pk> = self
                        .inner
                        .ch
                        .rows(&format!(
                            "SELECT DISTINCT conversation_pk FROM messages
                             WHERE agent_id = {agent_id} AND conversation_pk IN ({}) AND ts >= {before}",
                            int_list(&candidates)
                        ))
                        .await?;
                    let recent: std::collections::HashSet<i64> =
                        recent.iter().map(|p| p.conversation_pk).collect();
                    let out: Vec<i64> = candidates.into_iter().filter(|pk| !recent.contains(pk)).collect();
                    if !out.is_empty() {
                        return Ok(out);
                    }
                    after = last;
                }
            }
        }
    }

    async fn erase_conversations(&self, agent_id: i64, pks: Vec<i64>) -> StoreResult<Erased> {
        if pks.len() > MAX_ERASE_STEP {
            return Err(StoreError::internal(format!(
                "an erase step takes at most {MAX_ERASE_STEP} conversations, not {}",
                pks.len()
            )));
        }
        let owned = self.owned(agent_id, &pks).await?;
        if owned.is_empty() {
            return Ok(Erased::default());
        }
        let found: Vec<i64> = owned.iter().map(|(pk, _)| *pk).collect();
        let cids: Vec<String> = owned.into_iter().map(|(_, c)| c).collect();
        let messages: Vec<Count> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT count() AS n FROM messages WHERE agent_id = {agent_id} AND conversation_pk IN ({}) AND kind = 0",
                int_list(&found)
            ))
            .await?;
        let messages = messages.first().map_or(0, |c| c.n);
        self.mutate_out(agent_id, &found).await?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let keys = tx
            .query(
                "DELETE FROM event_attachments WHERE agent_id = $1 AND conversation_pk = ANY($2) RETURNING storage_key, id",
                &[&agent_id, &found],
            )
            .await
            .map_err(pgerr)?;
        let mut keys: Vec<(i64, String)> = keys.iter().map(|r| (r.get(1), r.get(0))).collect();
        keys.sort_unstable();
        // Their bytes when they are in PostgreSQL (blobs.rs; the chunks go with them), in the
        // same transaction as the rows. Files in a shared --attachments-dir are the caller's.
        let blob_ids: Vec<i64> = keys.iter().filter_map(|(_, k)| crate::blobs::blob_id(k).ok()).collect();
        if !blob_ids.is_empty() {
            tx.execute(
                "DELETE FROM event_blobs WHERE agent_id = $1 AND id = ANY($2)",
                &[&agent_id, &blob_ids],
            )
            .await
            .map_err(pgerr)?;
        }
        for (sql, by_id) in [
            ("DELETE FROM event_votes WHERE agent_id = $1 AND conversation_pk = ANY($2)", true),
            ("DELETE FROM event_message_metadata WHERE agent_id = $1 AND conversation_pk = ANY($2)", true),
            ("DELETE FROM event_token_usage WHERE agent_id = $1 AND conversation_pk = ANY($2)", true),
            ("DELETE FROM event_spans WHERE agent_id = $1 AND conversation_id = ANY($2)", false),
            ("DELETE FROM event_conversations WHERE agent_id = $1 AND id = ANY($2)", true),
        ] {
            if by_id {
                tx.execute(sql, &[&agent_id, &found]).await.map_err(pgerr)?;
            } else {
                tx.execute(sql, &[&agent_id, &cids]).await.map_err(pgerr)?;
            }
        }
        // The 0.0.x re-send claims (resend.rs): a later re-send must not be answered with a
        // removed id.
        tx.execute("DELETE FROM event_resends WHERE conversation_pk = ANY($1)", &[&found])
            .await
            .map_err(pgerr)?;
        tx.commit().await.map_err(pgerr)?;
        // This node's cache of (agent, conversation id) → pk would name rows that are gone.
        *self.cache() = crate::Cache::default();
        self.report(&[Committed { agent_id, change: Change::Other, count: 1 }]);
        Ok(Erased {
            conversations: found.len() as u64,
            messages,
            attachment_keys: keys.into_iter().map(|(_, k)| k).collect(),
        })
    }
}
