//! Removals: a customer's erase (`DELETE /api/customers/{customer_id}/`, `agentsight erase`)
//! and each agent's retention (a background job of the server, `agentsight agent retention`).
//!
//! The event store removes conversations in bounded steps ([`agentsight_store::erase_all`]);
//! here the attachment files of what it removed are deleted and the audit log written (what,
//! when, by whom: never the customer's id).

use std::sync::Weak;
use std::time::Duration;

use agentsight_core::time::{Micros, now_micros};
use agentsight_store::prelude::*;
use agentsight_store::{
    EraseSelector, Erased, ErasureKind, ErasureRecord, StoreResult, erase_all, retention_cutoff,
};

use crate::app::{Shared, Store};
use agentsight_store::BlobStore;

/// Removes every conversation of the agent that `which` selects, with everything of theirs and
/// their attachment files (in `blobs`, when given: files in a directory; bytes in PostgreSQL
/// go with the rows), and records it in the audit log as `kind` done by `actor`. An erase
/// is recorded even when it found nothing (the request is what is audited); a retention run
/// only when it removed something.
pub async fn erase<C: ConfigStore, E: EventStore>(
    config: &C,
    events: &E,
    blobs: Option<&dyn BlobStore>,
    agent_id: i64,
    which: EraseSelector,
    kind: ErasureKind,
    actor: String,
) -> StoreResult<Erased> {
    let erased = erase_all(events, agent_id, which, |_| ()).await?;
    if let Some(blobs) = blobs
        && let Err(e) = blobs.discard(&erased.attachment_keys).await
    {
        tracing::warn!(error = %e, agent_id, "could not remove the attachment files of erased conversations");
    }
    if kind == ErasureKind::Erase || erased.conversations > 0 {
        config
            .record_erasure(ErasureRecord {
                id: 0,
                at: now_micros(),
                agent_id,
                kind,
                actor,
                conversations: erased.conversations,
                messages: erased.messages,
            })
            .await?;
    }
    Ok(erased)
}

/// One pass of retention at `now`: for every agent with a retention, removes its conversations
/// whose last event is older. Returns (agent, what was removed) for the agents it removed from.
pub async fn retention_pass<C: ConfigStore, E: EventStore>(
    config: &C,
    events: &E,
    blobs: &dyn BlobStore,
    now: Micros,
) -> StoreResult<Vec<(i64, Erased)>> {
    let mut out = Vec::new();
    for (agent_id, days) in config.retentions().await? {
        let which = EraseSelector::LastEventBefore(retention_cutoff(now, days));
        let erased =
            erase(config, events, Some(blobs), agent_id, which, ErasureKind::Retention, "retention".into())
                .await?;
        if erased.conversations > 0 {
            tracing::info!(
                agent_id,
                days,
                conversations = erased.conversations,
                messages = erased.messages,
                attachments = erased.attachment_keys.len(),
                "retention removed conversations"
            );
            out.push((agent_id, erased));
        }
    }
    Ok(out)
}

/// Runs [`retention_pass`] at start and then every `every`, while the server's state lives and
/// until it starts to stop. Holds the state only during a pass, so it never keeps the stores
/// open after the server has let them go.
pub(crate) fn spawn_retention<S: Store>(state: Weak<Shared<S>>, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(st) = state.upgrade() else { break };
            if *st.stopping.borrow() {
                break;
            }
            if let Err(e) = retention_pass(&st.config, &st.events, &*st.blobs, now_micros()).await {
                tracing::warn!(error = %agentsight_store::chain(&e), "retention pass failed; retrying at the next");
            }
        }
    });
}
