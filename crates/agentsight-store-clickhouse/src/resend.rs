//! 0.0.x re-sends on the scale-out backend: a message, action or button whose client gave its
//! event time is claimed in PostgreSQL (`event_resends`, event migration 6) by (conversation, kind,
//! event time, SHA-256 of its content) in a transaction that spans its ClickHouse insert. The
//! same item sent again (the SDK's retry after a network error) finds the claim and is answered
//! with the stored ids; a concurrent twin waits on the key until the first commits (or rolls
//! back, when its ClickHouse insert failed, and then stores it itself).
//!
//! Claims are batched ([`Claimer`]): the claims of concurrent calls go into one transaction
//! (one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING`, keys in sorted
//! order, so two batches never wait on each other in a cycle), each claimant then writes its
//! rows to ClickHouse and reports back, the claims of failed writes are deleted in the same
//! transaction, and it commits; only then is a claimant answered. A transaction per item held
//! a pooled PostgreSQL connection for the whole ClickHouse insert (tens of milliseconds), so
//! the pool's size over that time bounded a node's timed writes (about 160 a second); a batch
//! holds one connection for all of its items. Twins within one batch: the first claims, the
//! others are claimed again after the batch ended (and then find its claim, or claim
//! themselves when its write failed).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use agentsight_core::tracking::{NewAction, NewButton, NewMessage};
use agentsight_store::{StoreError, StoreResult};
use agentsight_store_postgres::{pgerr, poolerr};
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::ClickHouseEventStore;
use crate::batch::shared;

/// Claims in one batch at most.
const CLAIM_BATCH: usize = 4_000;

/// Claim batches open at once (each holds one pooled PostgreSQL connection while its
/// claimants write to ClickHouse).
const CLAIM_BATCHES: usize = 6;

/// Claims waiting for a batch at most; beyond, callers are answered `Unavailable`.
const CLAIM_QUEUE: usize = 100_000;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub conversation_pk: i64,
    pub kind: i16,
    pub event_time: i64,
    pub digest: Vec<u8>,
}

/// A claim waiting for its batch.
struct Request {
    key: Key,
    entry_id: i64,
    event_id: i64,
    answer: oneshot::Sender<StoreResult<Grant>>,
}

/// What a claim came to.
enum Grant {
    /// Claimed before (committed): its `(entry_id, event_id)`.
    Stored(i64, i64),
    /// Claimed in the batch's open transaction: the claimant writes its rows, says whether
    /// that succeeded on `wrote`, and is done when `committed` answers.
    Claimed { wrote: oneshot::Sender<bool>, committed: oneshot::Receiver<Result<(), Arc<StoreError>>> },
}

/// The batching claimer of one node (see the module docs).
pub(crate) struct Claimer {
    queue: mpsc::Sender<Request>,
}

impl Claimer {
    /// Starts the task that forms batches (needs a Tokio runtime).
    pub(crate) fn start(pool: Pool) -> Claimer {
        let (tx, rx) = mpsc::channel(CLAIM_QUEUE);
        tokio::spawn(run(pool, rx, tx.downgrade()));
        Claimer { queue: tx }
    }

    async fn claim(&self, key: Key, entry_id: i64, event_id: i64) -> StoreResult<Grant> {
        let (answer, granted) = oneshot::channel();
        self.queue.try_send(Request { key, entry_id, event_id, answer }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::unavailable("the re-send claim queue is full"),
            mpsc::error::TrySendError::Closed(_) => StoreError::unavailable("the store is closing"),
        })?;
        granted.await.map_err(|_| StoreError::internal("the re-send claimer stopped"))?
    }
}

/// Forms batches of the claims waiting (all of them, up to [`CLAIM_BATCH`]) whenever one of
/// [`CLAIM_BATCHES`] is free, so batches grow with the load.
async fn run(pool: Pool, mut rx: mpsc::Receiver<Request>, again: mpsc::WeakSender<Request>) {
    let open = Arc::new(Semaphore::new(CLAIM_BATCHES));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = open.clone().acquire_owned().await else { return };
        let mut batch = vec![first];
        while batch.len() < CLAIM_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let (pool, again) = (pool.clone(), again.clone());
        tokio::spawn(async move {
            let twins = claim_batch(&pool, batch).await;
            drop(permit);
            // Claimed again now that the first of their key is committed or rolled back.
            if let Some(queue) = again.upgrade() {
                for t in twins {
                    if let Err(mpsc::error::TrySendError::Full(t) | mpsc::error::TrySendError::Closed(t)) =
                        queue.try_send(t)
                    {
                        let _ =
                            t.answer.send(Err(StoreError::unavailable("the re-send claim queue is full")));
                    }
                }
            }
        });
    }
}

/// One batch: claims, lets the claimants write, drops the claims of failed writes, commits.
/// Answers every request but the twins of an earlier one in the batch, which it returns.
async fn claim_batch(pool: &Pool, batch: Vec<Request>) -> Vec<Request> {
    let mut seen = HashSet::new();
    let (mut firsts, mut twins) = (Vec::new(), Vec::new());
    for r in batch {
        if seen.insert(r.key.clone()) {
            firsts.push(r);
        } else {
            twins.push(r);
        }
    }
    // Keys in one order in every batch: two batches never wait for each other's keys.
    firsts.sort_by(|a, b| a.key.cmp(&b.key));
    if let Err(e) = claim_in(pool, &mut firsts).await {
        let e = Arc::new(e);
        for r in firsts {
            let _ = r.answer.send(Err(shared("re-send claim".into(), e.clone())));
        }
    }
    twins
}

fn columns(reqs: &[Request]) -> (Vec<i64>, Vec<i16>, Vec<i64>, Vec<Vec<u8>>) {
    (
        reqs.iter().map(|r| r.key.conversation_pk).collect(),
        reqs.iter().map(|r| r.key.kind).collect(),
        reqs.iter().map(|r| r.key.event_time).collect(),
        reqs.iter().map(|r| r.key.digest.clone()).collect(),
    )
}

/// The work of [`claim_batch`]; on an error before any claimant was answered, the requests
/// are left in `reqs` for the caller to answer (those answered are taken out).
async fn claim_in(pool: &Pool, reqs: &mut Vec<Request>) -> StoreResult<()> {
    let mut client = pool.get().await.map_err(poolerr)?;
    let tx = client.transaction().await.map_err(pgerr)?;
    let (pks, kinds, times, digests) = columns(reqs);
    let entries: Vec<i64> = reqs.iter().map(|r| r.entry_id).collect();
    let events: Vec<i64> = reqs.iter().map(|r| r.event_id).collect();
    let claimed: HashSet<Key> = tx
        .query(
            "INSERT INTO event_resends (conversation_pk, kind, event_time, digest, entry_id, event_id)
             SELECT * FROM unnest($1::int8[], $2::int2[], $3::int8[], $4::bytea[], $5::int8[], $6::int8[])
             ON CONFLICT DO NOTHING RETURNING conversation_pk, kind, event_time, digest",
            &[&pks, &kinds, &times, &digests, &entries, &events],
        )
        .await
        .map_err(pgerr)?
        .iter()
        .map(|r| {
            Ok(Key {
                conversation_pk: r.try_get(0)?,
                kind: r.try_get(1)?,
                event_time: r.try_get(2)?,
                digest: r.try_get(3)?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(pgerr)?;
    let (mine, before): (Vec<Request>, Vec<Request>) =
        std::mem::take(reqs).into_iter().partition(|r| claimed.contains(&r.key));
    // Claimed before this batch (committed: the insert waited for any open claim of the key).
    if !before.is_empty() {
        let (pks, kinds, times, digests) = columns(&before);
        let stored = tx
            .query(
                "SELECT r.conversation_pk, r.kind, r.event_time, r.digest, r.entry_id, r.event_id
                 FROM event_resends r
                 JOIN unnest($1::int8[], $2::int2[], $3::int8[], $4::bytea[]) AS k(pk, kind, t, d)
                   ON r.conversation_pk = k.pk AND r.kind = k.kind AND r.event_time = k.t AND r.digest = k.d",
                &[&pks, &kinds, &times, &digests],
            )
            .await;
        let stored: HashMap<Key, (i64, i64)> = match stored {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    Ok((
                        Key {
                            conversation_pk: r.try_get(0)?,
                            kind: r.try_get(1)?,
                            event_time: r.try_get(2)?,
                            digest: r.try_get(3)?,
                        },
                        (r.try_get(4)?, r.try_get(5)?),
                    ))
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(pgerr)?,
            Err(e) => {
                *reqs = before.into_iter().chain(mine).collect();
                return Err(pgerr(e));
            }
        };
        for r in before {
            let found = stored.get(&r.key).copied();
            let _ = r.answer.send(match found {
                Some((entry, event)) => Ok(Grant::Stored(entry, event)),
                None => Err(StoreError::internal("a re-send claim found no stored row")),
            });
        }
    }
    // The claimants write; the batch waits for each to say how it went (a claimant that went
    // away counts as failed: its claim is dropped, as its own rolled-back transaction was).
    let mut reports = Vec::with_capacity(mine.len());
    let mut commits = Vec::with_capacity(mine.len());
    for r in mine {
        let (wrote, report) = oneshot::channel();
        let (commit, committed) = oneshot::channel();
        if r.answer.send(Ok(Grant::Claimed { wrote, committed })).is_ok() {
            reports.push((r.key, report));
            commits.push(commit);
        } else {
            reports.push((r.key, oneshot::channel().1));
        }
    }
    let mut failed = Vec::new();
    for (key, report) in reports {
        if report.await != Ok(true) {
            failed.push(key);
        }
    }
    let result = async {
        if !failed.is_empty() {
            let pks: Vec<i64> = failed.iter().map(|k| k.conversation_pk).collect();
            let kinds: Vec<i16> = failed.iter().map(|k| k.kind).collect();
            let times: Vec<i64> = failed.iter().map(|k| k.event_time).collect();
            let digests: Vec<Vec<u8>> = failed.iter().map(|k| k.digest.clone()).collect();
            tx.execute(
                "DELETE FROM event_resends r USING unnest($1::int8[], $2::int2[], $3::int8[], $4::bytea[])
                   AS k(pk, kind, t, d)
                 WHERE r.conversation_pk = k.pk AND r.kind = k.kind AND r.event_time = k.t AND r.digest = k.d",
                &[&pks, &kinds, &times, &digests],
            )
            .await?;
        }
        tx.commit().await
    }
    .await
    .map_err(|e| Arc::new(pgerr(e)));
    for c in commits {
        let _ = c.send(result.clone());
    }
    Ok(())
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
        match self.inner.claims.claim(key, entry_id, event_id).await? {
            Grant::Stored(entry, event) => Ok(Claimed::Stored(entry, event)),
            Grant::Claimed { wrote, committed } => {
                let result = write.await;
                let _ = wrote.send(result.is_ok());
                result?;
                match committed.await {
                    Ok(Ok(())) => Ok(Claimed::Written),
                    Ok(Err(e)) => Err(shared("re-send claim".into(), e)),
                    Err(_) => Err(StoreError::internal("the re-send claimer stopped")),
                }
            }
        }
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
